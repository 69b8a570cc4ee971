"""Invoice pages: the list of the organisation's invoices and credit notes, an invoice's page
with its lines and tax, and a printable invoice.

The views translate input and output only; `contracts.invoicing` decides who may see what
(another organisation's invoice answers 404, exactly as in the API). The payment box is the
payments slice's partial (`invoices/_payment.html`), included when it exists.
"""

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
from web.pagination import paginate

bp = Blueprint("invoices", __name__)

STATUS_LABELS = {
    "issued": _l("Issued"),
    "paid": _l("Paid"),
    "refunded": _l("Refunded"),
    "void": _l("Void"),
}
KIND_LABELS = {"invoice": _l("Invoice"), "credit_note": _l("Credit note")}
LINE_LABELS = {
    "base": _l("Deliveries at the month's price"),
    "quality": _l("Quality adjustment"),
    "excess": _l("Above the month's maximum"),
    "shortfall": _l("Take-or-pay shortfall"),
    "fee": _l("Platform fee"),
    "goods": _l("Goods"),
}


def _labels() -> dict:
    return {
        "status_names": {k: str(v) for k, v in STATUS_LABELS.items()},
        "kind_names": {k: str(v) for k, v in KIND_LABELS.items()},
        "line_names": {k: str(v) for k, v in LINE_LABELS.items()},
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
