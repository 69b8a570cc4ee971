"""Payment pages: paying an invoice by card (test cards in the demo), refunding a credit note,
the settlement ledger — and `payment_box(invoice_id)`, the Jinja global the invoice page's
partial `invoices/_payment.html` calls to show the payment state and the buttons.

The views translate input and output only; `contracts.payments` decides who may do what
(PermissionDenied answers 403, NotFound 404, exactly as in the API). The invoice pages belong
to the invoicing slice: they are linked by URL (/invoices/<id>) only.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import RadioField

from contracts.payments import (
    PayIn,
    pay_invoice,
    payer_permission,
    payment_box,
    refund_credit_note,
    settlement_out,
    settlement_totals,
    settlements_query,
)
from participants.errors import Conflict, NotFound
from web.auth import current_actor
from web.db import get_db
from web.errors import commit_or_flash
from web.labels import LABELS, label
from web.pagination import paginate
from web.stripe_gateway import demo_mode, payment_gateway

bp = Blueprint("payments", __name__)

# The demo's test cards (localstripe's PaymentMethods).
TEST_CARDS = [
    ("pm_card_visa", _l("Visa 4242 (succeeds)")),
    ("pm_card_chargeCustomerFail", _l("Card declined")),
]
STATUS_LABELS = LABELS["payment_status"]
KIND_LABELS = LABELS["settlement_kind"]


class PayForm(FlaskForm):
    payment_method = RadioField(_l("Card"), choices=TEST_CARDS, default="pm_card_visa")


class RefundForm(FlaskForm):
    """CSRF only: the credit note is in the URL."""


def _invoice_url(invoice_id: int) -> str:
    return f"/invoices/{invoice_id}"  # the invoicing slice's page


@bp.app_template_global("payment_box")
def _payment_box(invoice_id: int):
    """The payment state and buttons of an invoice for the current member (None: not visible)."""
    return payment_box(get_db(), current_actor(), invoice_id)


@bp.app_template_global("payment_status_label")
def _payment_status_label(status: str) -> str:
    return label(status, "payment_status")


@bp.app_context_processor
def _payment_forms() -> dict:
    return {"payment_refund_form": RefundForm}


@bp.route("/invoices/<int:invoice_id>/pay", methods=["GET", "POST"])
@login_required
def pay(invoice_id: int):
    db, actor = get_db(), current_actor()
    payer_permission(actor).check(actor)
    box = payment_box(db, actor, invoice_id)
    if box is None:
        raise NotFound(gettext("No such invoice."))
    form = PayForm()
    if not demo_mode():
        del form.payment_method  # a real card needs Stripe.js: the default method only
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        method = form.payment_method.data if "payment_method" in form else None
        data = PayIn(payment_method=method) if method else PayIn()
        gateway = payment_gateway()
        payment = commit_or_flash(
            lambda: pay_invoice(db, actor, invoice_id, gateway, data.payment_method)
        )
        if payment is not None:
            flash(gettext("Payment pending — waiting for Stripe."), "success")
            return redirect(_invoice_url(invoice_id))
        return redirect(request.path)
    if not box.can_pay:
        if box.kind != "invoice" or box.invoice_status != "issued":
            raise Conflict(gettext("This invoice is not awaiting payment."))
    return render_template(
        "invoices/pay.html",
        box=box,
        form=form,
        demo=demo_mode(),
        status_label=label(box.status, "payment_status"),
        invoice_url=_invoice_url(invoice_id),
    )


@bp.post("/credit-notes/<int:credit_note_id>/refund")
@login_required
def refund(credit_note_id: int):
    if not RefundForm().validate_on_submit():
        abort(400)
    db, actor = get_db(), current_actor()
    gateway = payment_gateway()
    commit_or_flash(
        lambda: refund_credit_note(db, actor, credit_note_id, gateway),
        gettext("The credit note is refunded to the buyer's card."),
    )
    return redirect(_invoice_url(credit_note_id))


@bp.get("/settlements")
@login_required
def settlements():
    db, actor = get_db(), current_actor()
    page = paginate(db, settlements_query(actor))
    return render_template(
        "payments/settlements.html",
        entries=[settlement_out(row) for row in page.items],
        page=page,
        totals=settlement_totals(db, actor),
        operator=actor.is_operator,
    )
