"""API: paying invoices through Stripe, Stripe's webhook, refunds of credit notes, the
settlement ledger. The same domain functions as the pages (`contracts.payments`)."""

import json
import logging

import stripe
from flask import current_app, g, request
from flask_babel import gettext
from pydantic import BaseModel, Field

from contracts.models import Invoice
from contracts.payments import (
    PayIn,
    PaymentOut,
    RefundOut,
    SettlementEntryOut,
    SettlementsQuery,
    SettlementTotals,
    handle_stripe_event,
    pay_invoice,
    payment_out,
    read_payment,
    refund_credit_note,
    refund_out,
    settlement_out,
    settlement_totals,
    settlements_query,
)
from web.api import api_bp
from web.api.openapi import operation
from web.db import get_db
from web.errors import problem
from web.pagination import paginate
from web.stripe_gateway import payment_gateway

log = logging.getLogger(__name__)
SIGNATURE_TOLERANCE_S = 300  # Stripe's default: an older signed event is refused


class WebhookAck(BaseModel):
    """The event was verified: `processed` false when its id was seen before (a replay)."""

    received: bool = True
    processed: bool


class SettlementsPage(BaseModel):
    """One page of the settlement ledger and the totals of all entries visible to the caller."""

    items: list[SettlementEntryOut]
    page: int
    per_page: int
    total: int
    next: str | None = Field(description="URL of the next page")
    prev: str | None = Field(description="URL of the previous page")
    totals: SettlementTotals


@api_bp.post("/invoices/<int:invoice_id>/pay")
@operation(
    "Pay an invoice",
    body=PayIn,
    responses={202: PaymentOut},
    errors=(403, 409, 503),
    tag="payments",
)
def pay(invoice_id: int, body: PayIn):
    """The buyer's admin, trader or signatory pays an issued invoice by card through Stripe
    (one PaymentIntent per invoice). Answers 202 with the payment: `pending` until Stripe's
    webhook makes it `succeeded` (the invoice is then `paid`) or `failed` (pay again). A second
    call while a payment is pending answers the same payment and charges nothing more."""
    db = get_db()
    payment = pay_invoice(db, g.caller.actor, invoice_id, payment_gateway(), body.payment_method)
    return payment_out(db.get(Invoice, invoice_id), payment), 202


@api_bp.get("/invoices/<int:invoice_id>/payment")
@operation("Read an invoice's payment", responses={200: PaymentOut}, tag="payments")
def get_payment(invoice_id: int):
    """The payment state of an invoice of the caller's organisation (`unpaid` before any)."""
    return read_payment(get_db(), g.caller.actor, invoice_id)


@api_bp.post("/credit-notes/<int:credit_note_id>/refund")
@operation(
    "Refund a credit note",
    responses={201: RefundOut},
    errors=(403, 409, 503),
    tag="payments",
)
def refund(credit_note_id: int):
    """The seller's admin or signatory, or the operator, refunds a credit note to the buyer's
    card (|total| yen of the paid invoice it credits). Once per credit note (409 after); a
    credit note on an unpaid invoice is not refunded (409)."""
    db = get_db()
    done = refund_credit_note(db, g.caller.actor, credit_note_id, payment_gateway())
    note = db.get(Invoice, credit_note_id)
    return refund_out(done, note.credits_invoice_id), 201


@api_bp.get("/settlements")
@operation(
    "The settlement ledger",
    query=SettlementsQuery,
    responses={200: SettlementsPage},
    tag="payments",
)
def settlements(query: SettlementsQuery):
    """What the caller's organisation is owed for paid invoices (seller_payable) less refunds,
    newest first, with totals; the operator sees every organisation and the platform fees."""
    db, actor = get_db(), g.caller.actor
    page = paginate(db, settlements_query(actor), paging=query)
    body = page.as_json([settlement_out(row).model_dump(mode="json") for row in page.items])
    return {**body, "totals": settlement_totals(db, actor).model_dump(mode="json")}


@api_bp.post("/stripe/webhook")
@operation(
    "Stripe webhook",
    responses={200: WebhookAck},
    errors=(400,),
    auth=False,
    tag="payments",
)
def stripe_webhook():
    """Stripe's events, signed with STRIPE_WEBHOOK_SECRET (`Stripe-Signature` header). A bad
    or missing signature or a malformed body: 400, nothing written. An event already received
    (same id) answers 200 and changes nothing. Only `payment_intent.succeeded` and
    `payment_intent.payment_failed` change payments and invoices."""
    payload = request.get_data(cache=False)
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET") or ""
    header = request.headers.get("Stripe-Signature", "")
    try:
        text = payload.decode("utf-8")
        if not secret:
            raise stripe.SignatureVerificationError("no webhook secret is configured", header)
        stripe.WebhookSignature.verify_header(text, header, secret, SIGNATURE_TOLERANCE_S)
        event = json.loads(text)
        if not isinstance(event, dict) or not isinstance(event.get("id"), str):
            raise ValueError("not an event")
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as err:
        log.warning("stripe webhook refused: %s", err)
        return problem(400, gettext("Bad request"), gettext("The Stripe event is not valid."))
    processed = handle_stripe_event(get_db(), event)
    return WebhookAck(processed=processed)
