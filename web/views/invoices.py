"""Invoice pages: the list of the organisation's invoices and credit notes, an invoice's page
with its lines and tax, and a printable invoice.

The views translate input and output only; `contracts.invoicing` decides who may see what
(another organisation's invoice answers 404, exactly as in the API). The payment box is the
payments slice's partial (`invoices/_payment.html`), included when it exists.
"""

import re
from decimal import Decimal

from flask import Blueprint, flash, render_template, request
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from pydantic import ValidationError

from contracts.invoicing import (
    PLATFORM_FEE_PCT,
    InvoiceQuery,
    invoice_rows,
    invoices_query,
    read_invoice,
)
from market.purchasing import order_visible_to
from web.auth import current_actor
from web.db import get_db
from web.formatting import percent, t, yen, yen_per_t
from web.labels import LABELS, label
from web.pagination import paginate
from web.views.quality import OUTCOME_NAMES

bp = Blueprint("invoices", __name__)

STATUS_LABELS = LABELS["invoice_status"]
KIND_LABELS = LABELS["invoice_kind"]
LINE_LABELS = LABELS["invoice_line"]


# Invoice lines keep the English text they were issued with (the record, also in the API); the
# pages read it back into kind and numbers and say it in the reader's language.
_T = r"-?[\d,]+\.\d{3}"  # tonnes as stored: 58.990
_LINE_TEXTS = [
    (
        re.compile(
            rf"^Deliveries of (?P<month>\d{{4}}-\d{{2}}): (?P<t>{_T}) t at ¥(?P<price>-?[\d,]+)/t$"
        ),
        _l("Deliveries of %(month)s: %(t)s at %(price)s"),
    ),
    (
        re.compile(
            rf"^Quality adjustment, delivery of (?P<day>\d{{4}}-\d{{2}}-\d{{2}}) \((?P<outcome>\w+)\): "
            rf"(?P<t>{_T}) t at ¥(?P<price>-?[\d,]+)/t$"
        ),
        _l("Quality adjustment, delivery of %(day)s (%(outcome)s): %(t)s at %(price)s"),
    ),
    (
        re.compile(
            rf"^Above the month's maximum of (?P<max>{_T}) t: (?P<t>{_T}) t at "
            r"(?P<pct>[\d.]+) percent of the price$"
        ),
        _l("Above the month's maximum of %(max)s: %(t)s at %(pct)s of the price"),
    ),
    (
        re.compile(
            rf"^Take-or-pay shortfall: (?P<t>{_T}) t below (?P<top>[\d.]+) percent of "
            rf"(?P<due>{_T}) t due, at (?P<pct>[\d.]+) percent of the price$"
        ),
        _l("Take-or-pay shortfall: %(t)s below %(top)s of %(due)s due, at %(pct)s of the price"),
    ),
    (
        re.compile(r"^Platform fee: (?P<pct>[\d.]+) percent of ¥(?P<amount>-?[\d,]+)$"),
        _l("Platform fee: %(pct)s of %(amount)s"),
    ),
    (
        re.compile(
            r"^(?P<number>PO-\d{4}-\d{6}) (?P<desc>.*): (?P<qty>\d+) (?P<unit>\w+) × "
            r"¥(?P<uprice>[\d,]+)$"
        ),
        _l("%(number)s %(desc)s: %(qty)s %(unit)s × %(uprice)s"),
    ),
    (
        re.compile(
            r"^Correction of the (?P<kind>\w+) line after the decision on delivery of "
            rf"(?P<day>\d{{4}}-\d{{2}}-\d{{2}})(?:: \+?(?P<t>{_T}) t)?$"
        ),
        None,
    ),
]


def _kg(text: str) -> int:
    return int(Decimal(text.replace(",", "")) * 1000)


def _yen_int(text: str) -> int:
    return int(text.replace(",", ""))


def line_text(description: str) -> str:
    """An invoice line's stored (English) description in the reader's language; a text of
    no known shape is shown as it was stored."""
    for pattern, msgid in _LINE_TEXTS:
        m = pattern.match(description)
        if m is None:
            continue
        g = m.groupdict()
        params: dict[str, str] = {}
        for name, value in g.items():
            if value is None:
                continue
            if name in ("t", "max", "due"):
                params[name] = t(_kg(value))
            elif name == "price":
                params[name] = yen_per_t(_yen_int(value))
            elif name == "amount":
                params[name] = yen(_yen_int(value))
            elif name in ("pct", "top"):
                params[name] = percent(Decimal(value))
            elif name == "outcome":
                params[name] = str(OUTCOME_NAMES.get(value, value))
            elif name == "unit":
                params[name] = label(value, "unit")
            elif name == "qty":
                params[name] = f"{int(value):,}"
            elif name == "uprice":
                params[name] = yen(_yen_int(value))
            elif name == "kind":
                params[name] = label(value, "invoice_line")
            else:
                params[name] = value
        if msgid is None:  # a correction, with or without a change of tonnes
            if "t" in params:
                return gettext(
                    "Correction of the line “%(kind)s” after the decision on the delivery of "
                    "%(day)s: %(t)s",
                    **params,
                )
            return gettext(
                "Correction of the line “%(kind)s” after the decision on the delivery of %(day)s",
                **params,
            )
        return str(msgid) % params
    return description


def _labels() -> dict:
    return {
        "line_text": line_text,
        "fee_pct": format(PLATFORM_FEE_PCT.normalize(), "f"),
        "org_name": _org_name,
        "pct": _pct,
    }


def _pct(value) -> str:
    return format(Decimal(value).normalize(), "f")


def _org_name(org) -> str:
    return org.name_ja if str(get_locale()) == "ja" else org.name_en


def _filters() -> InvoiceQuery:
    """The list's filters from the query string; nonsense is dropped with a message."""
    raw = {k: v for k in ("status", "contract_id") if (v := request.args.get(k))}
    try:
        return InvoiceQuery.model_validate(raw)
    except ValidationError:
        flash(gettext("Choose one of the allowed values."), "error")
        return InvoiceQuery()


@bp.get("/invoices")
@login_required
def invoices():
    db, actor = get_db(), current_actor()
    query = _filters()
    page = paginate(db, invoices_query(actor, query))
    return render_template(
        "invoices/list.html",
        rows=invoice_rows(db, page.items),
        page=page,
        query=query,
        **_labels(),
    )


def _order_link(actor, view) -> bool:
    """Link the purchase order an invoice bills only for those who may read it."""
    return view.order is not None and order_visible_to(actor, view.order)


@bp.get("/invoices/<int:invoice_id>")
@login_required
def invoice(invoice_id: int):
    actor = current_actor()
    view = read_invoice(get_db(), actor, invoice_id)
    return render_template(
        "invoices/detail.html", view=view, order_link=_order_link(actor, view), **_labels()
    )


@bp.get("/invoices/<int:invoice_id>/print")
@login_required
def print_invoice(invoice_id: int):
    actor = current_actor()
    view = read_invoice(get_db(), actor, invoice_id)
    return render_template(
        "invoices/print.html", view=view, order_link=_order_link(actor, view), **_labels()
    )
