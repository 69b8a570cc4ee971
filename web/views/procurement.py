"""Procurement pages: the public categories of hard-to-recycle items with their recommended
recycled content, and an organisation's chain-of-custody (mass-balance) ledger.

The views decide nothing: `market.categories` reads the public categories and
`quality.custody.read_ledger` checks who may read a ledger (another organisation's answers
404, exactly like the API).
"""

from decimal import Decimal

from flask import Blueprint, abort, render_template, request
from flask_babel import get_locale, gettext
from flask_login import login_required

from market.categories import STREAMS, UNITS, get_category, list_categories
from quality.custody import ledger_out, read_ledger
from web.auth import current_actor
from web.db import get_db
from web.labels import LABELS

bp = Blueprint("procurement", __name__)

# The names live in web.labels (kinds custody_entry, custody_source).
ENTRY_KINDS = LABELS["custody_entry"]
ENTRY_SOURCES = LABELS["custody_source"]
PAGE_ENTRIES = 50


def _is_ja() -> bool:
    return str(get_locale()) == "ja"


def category_pct(value: Decimal | None) -> str:
    """A recommended minimum for people: "90%", a dash where the source gives none."""
    return "—" if value is None else f"{format(Decimal(value).normalize(), 'f')}%"


@bp.app_context_processor
def _procurement_helpers() -> dict:
    return {
        "stream_names": lambda: {k: gettext(v) for k, v in STREAMS.items()},
        "category_pct": category_pct,
    }


def _unit_names() -> dict[str, str]:
    return {k: gettext(v) for k, v in UNITS.items()}


@bp.get("/procurement/categories")
def categories():
    return render_template(
        "procurement/categories.html",
        categories=list_categories(get_db()),
        ja=_is_ja(),
        units=_unit_names(),
    )


@bp.get("/procurement/categories/<int:category_id>")
def category(category_id: int):
    return render_template(
        "procurement/category.html",
        c=get_category(get_db(), category_id),
        ja=_is_ja(),
        units=_unit_names(),
    )


@bp.get("/custody")
@login_required
def custody():
    raw = request.args.get("organization_id") or None
    if raw is not None and not (raw.isascii() and raw.isdigit()):
        abort(404)
    organization_id = int(raw) if raw is not None else None
    ledger = read_ledger(get_db(), current_actor(), organization_id, PAGE_ENTRIES)
    return render_template(
        "procurement/custody.html",
        ledger=ledger,
        out=ledger_out(ledger),
        ja=_is_ja(),
        kinds={k: str(v) for k, v in ENTRY_KINDS.items()},
        sources={k: str(v) for k, v in ENTRY_SOURCES.items()},
    )
