"""Paying invoices through Stripe, the signed webhooks that settle them, refunds of credit notes
and the settlement ledger.

Money is never charged twice for one invoice. localstripe ignores idempotency keys (and a
network error can hide whether Stripe did something), so the rule lives here, in the database:
- An invoice has at most one `Payment` row (unique `invoice_id`) and that row holds at most one
  live PaymentIntent. Paying first *claims* the invoice: the row is inserted with status
  `claiming` (a placeholder intent id) and committed before Stripe is called, so a second click,
  another thread or another server finds the claim and gets the same payment back — it never
  creates a second PaymentIntent.
- The PaymentIntent is created unconfirmed, its id stored and committed (`pending`), and only
  then confirmed: only an intent whose id is stored is ever charged.
- A declined card makes the payment `failed` (from the webhook). A retry takes the failed row
  back with a conditional UPDATE (one winner), cancels the failed intent at Stripe — so it can
  never be charged later — and creates a new intent in the same row. At any time at most one
  intent of an invoice can be charged.
- A claim left behind by a crash (`claiming` for more than `STALE_CLAIM`) may be taken over by
  the next attempt; an intent it may have created was never confirmed, so it charges nothing.
Because of these steps `pay_invoice` and `refund_credit_note` commit the session themselves
(the one exception to "the caller commits": a charge outside the database must be bracketed by
committed claims). Everything else flushes only.

Invoice state changes only from signature-verified webhooks (`handle_stripe_event`, called by
the web layer after `stripe.Webhook.construct_event`): idempotent by the Stripe event id (the
`StripeEvent` row is inserted first; a replay changes nothing) and by the invoice itself
(`UPDATE invoice SET status='paid' WHERE id=… AND status='issued'`, `UPDATE payment … WHERE
stripe_payment_intent_id=… AND status IN (…)`). An event for an unknown intent, or whose amount
or currency differs from the payment, is recorded and ignored (logged), never an error.

Settlement ledger (signed integer yen, one entry per invoice and kind):
- paid invoice: `seller_payable` (seller) = total − platform fee; `platform_fee` (platform,
  organisation NULL) = the invoice's `fee` lines plus their consumption tax (per tax rate,
  rounded toward zero like the invoice's own tax) — 0 when the invoice has no fee line.
- refunded credit note: `refund` (seller) = −(|total| − fee share); `platform_fee` (platform) =
  −fee share (the credit note's own `fee` lines plus their tax), when there is one.

An invoice bills a contract month or a public purchase order (`purchase_order_id`, no
contract): the same payment, webhook and ledger steps serve both; contract events are appended
only when there is a contract. An order's invoice may instead be settled by a **recorded bank
transfer** (`record_bank_transfer`): the seller records that the total was received on a day
not in the future; the invoice becomes paid with one conditional UPDATE (`issued` → `paid`),
so a second record, or a card payment succeeding at the same moment, changes nothing twice
(409), and the settlement ledger gets its one `seller_payable` entry.

Who may (checked here, whatever the caller):
- pay: an admin, trader or signatory of the verified buyer organisation (`PAY_INVOICES`), or,
  for the invoice of an agency's purchase order, an admin or procurement officer of the
  verified agency (`PAY_ORDER_INVOICES`; `payer_permission` picks the one for the actor); the
  seller's members are refused (403), members of other organisations find nothing (404).
- record a bank transfer received: an admin or signatory of the verified seller
  (`RECORD_BANK_TRANSFERS`); the buyer is refused (403), others find nothing (404).
- refund a credit note: an admin or signatory of the verified seller, or the marketplace
  operator (`REFUND_CREDIT_NOTES`): the refund is the seller's money going back.
- read the ledger: any member sees its own organisation's entries; the operator sees all,
  platform fees included (`SEE_SETTLEMENTS`).
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from contracts.events import append_event
from contracts.invoicing import TOKYO, tokyo_today
from contracts.invoicing import platform_fee_of as invoice_fee_of
from contracts.models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    Refund,
    SettlementEntry,
    StripeEvent,
)
from market.alerts import notify_organization
from participants.actors import Actor, Permission, permission
from participants.audit import record_audit
from participants.columns import utcnow
from participants.errors import (
    N_,
    Conflict,
    DomainError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from participants.fields import Day, Line, Paging, PositiveYen
from participants.models import Organization, OrgKind, Role

log = logging.getLogger(__name__)

CURRENCY = "jpy"  # zero-decimal at Stripe: amounts are whole yen
STALE_CLAIM = timedelta(minutes=2)  # a claim older than this was left by a crashed attempt
DEFAULT_PAYMENT_METHOD = "pm_card_visa"
PAYMENT_NOTICE_ROLES = (Role.ADMIN, Role.SIGNATORY, Role.TRADER, Role.OFFICER)
_OUTBOX = "contracts.notices"  # the session's notices for e-mail (see negotiation.notify_party)

PAY_INVOICES = permission(
    N_("Only the buyer's admins, traders and signatories pay invoices."),
    kinds=[OrgKind.MANUFACTURER],
    roles=[Role.ADMIN, Role.TRADER, Role.SIGNATORY],
)
PAY_ORDER_INVOICES = permission(
    N_("Only the agency's admins and procurement officers pay its orders' invoices."),
    kinds=[OrgKind.AGENCY],
    roles=[Role.ADMIN, Role.OFFICER],
)
RECORD_BANK_TRANSFERS = permission(
    N_("Only the seller's admins and signatories record a bank transfer received."),
    kinds=[OrgKind.MANUFACTURER, OrgKind.RECYCLER],
    roles=[Role.ADMIN, Role.SIGNATORY],
)
REFUND_CREDIT_NOTES = permission(
    N_("Only the seller's admins and signatories, or the operator, refund credit notes."),
    kinds=[OrgKind.RECYCLER, OrgKind.OPERATOR],
    roles=[Role.ADMIN, Role.SIGNATORY],
)
SEE_SETTLEMENTS = permission(N_("Only members see settlements."), verified=False)


def payer_permission(actor: Actor | None) -> Permission:
    """Who may pay, for this actor: an agency pays its purchase orders' invoices
    (`PAY_ORDER_INVOICES`), a company its contracts' (`PAY_INVOICES`)."""
    if actor is not None and actor.organization_kind == OrgKind.AGENCY:
        return PAY_ORDER_INVOICES
    return PAY_INVOICES


SUCCEEDED_EVENT = "payment_intent.succeeded"
FAILED_EVENT = "payment_intent.payment_failed"


class PaymentServiceUnavailable(DomainError):
    """Stripe could not be reached or refused the request; nothing was charged."""

    status = 503
    message = N_("The payment service is not available; nothing was charged. Try again later.")


# ---------------------------------------------------------------------------------------------
# The gateway: what the domain needs from Stripe (the web layer wraps a StripeClient)


class GatewayError(Exception):
    """Stripe could not be reached, or refused a request for a reason other than the card."""


class PaymentGateway(Protocol):
    def create_customer(self, name: str, organization_id: int) -> str:
        """A Stripe customer for an organisation; its id."""

    def create_intent(
        self, amount_jpy: int, customer_id: str, payment_method: str, metadata: dict[str, str]
    ) -> str:
        """An unconfirmed PaymentIntent (nothing charged yet); its id."""

    def confirm_intent(self, intent_id: str) -> str:
        """Confirm (charge) an intent; its status. A declined card is a status, not an error."""

    def cancel_intent(self, intent_id: str) -> str:
        """Cancel an intent that was not charged; its status."""

    def intent_status(self, intent_id: str) -> str: ...

    def refund(self, intent_id: str, amount_jpy: int, metadata: dict[str, str]) -> tuple[str, str]:
        """Refund part or all of a charged intent; (refund id, status)."""


# ---------------------------------------------------------------------------------------------
# Input and output shapes (shared by the pages and the API)


class PayIn(BaseModel):
    """How to pay: a Stripe PaymentMethod id (the demo's test cards: pm_card_visa succeeds,
    pm_card_chargeCustomerFail is declined)."""

    model_config = ConfigDict(extra="forbid")
    payment_method: str = Field(
        default=DEFAULT_PAYMENT_METHOD,
        pattern=r"^pm_[A-Za-z0-9_]{1,60}$",
        description="a Stripe PaymentMethod id, e.g. pm_card_visa",
    )


class PaymentOut(BaseModel):
    """The payment of an invoice; `status` pending until Stripe's webhook decides."""

    invoice_id: int
    invoice_status: str
    status: str = Field(description="claiming, pending, succeeded or failed")
    amount_jpy: int
    stripe_payment_intent_id: str | None
    failure_message: str
    updated_at: datetime


class RefundOut(BaseModel):
    """The refund of a credit note."""

    id: int
    credit_note_id: int
    invoice_id: int = Field(description="the paid invoice the credit note credits")
    amount_jpy: int
    status: str
    stripe_refund_id: str
    created_at: datetime


class SettlementEntryOut(BaseModel):
    """One entry of the settlement ledger (signed yen; organisation null: the platform)."""

    id: int
    invoice_id: int
    invoice_number: str
    kind: str = Field(description="seller_payable, platform_fee or refund")
    organization_id: int | None
    organization_name_ja: str | None
    organization_name_en: str | None
    amount_jpy: int
    created_at: datetime


class SettlementsQuery(Paging):
    """?page=&per_page="""


class SettlementTotals(BaseModel):
    """Sums of the visible entries, by kind, and their net."""

    seller_payable_jpy: int
    refund_jpy: int
    platform_fee_jpy: int | None = Field(description="the operator only")
    net_jpy: int = Field(
        description="what is owed to the organisation (all sellers for the operator)"
    )


def payment_out(invoice: Invoice, payment: Payment | None) -> PaymentOut:
    if payment is None:
        return PaymentOut(
            invoice_id=invoice.id,
            invoice_status=invoice.status,
            status="unpaid",
            amount_jpy=invoice.total_jpy,
            stripe_payment_intent_id=None,
            failure_message="",
            updated_at=invoice.created_at,
        )
    intent = payment.stripe_payment_intent_id
    return PaymentOut(
        invoice_id=invoice.id,
        invoice_status=invoice.status,
        status=payment.status,
        amount_jpy=payment.amount_jpy,
        stripe_payment_intent_id=None if _placeholder(intent) else intent,
        failure_message=payment.failure_message,
        updated_at=payment.updated_at,
    )


def refund_out(refund: Refund, invoice_id: int) -> RefundOut:
    return RefundOut(
        id=refund.id,
        credit_note_id=refund.credit_note_id,
        invoice_id=invoice_id,
        amount_jpy=refund.amount_jpy,
        status=refund.status,
        stripe_refund_id=refund.stripe_refund_id,
        created_at=refund.created_at,
    )


# ---------------------------------------------------------------------------------------------
# Reading an invoice as a party


def _visible_invoice(session: Session, actor: Actor, invoice_id: int) -> Invoice:
    """The invoice when the actor's organisation is a party (or the operator), else NotFound."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or not (
        actor.is_operator or actor.owns(invoice.seller_org_id) or actor.owns(invoice.buyer_org_id)
    ):
        raise NotFound(N_("No such invoice."))
    return invoice


def _payment_of(session: Session, invoice_id: int) -> Payment | None:
    return session.exec(select(Payment).where(Payment.invoice_id == invoice_id)).first()


def read_payment(session: Session, actor: Actor, invoice_id: int) -> PaymentOut:
    """The payment state of an invoice of the actor's organisation."""
    invoice = _visible_invoice(session, actor, invoice_id)
    return payment_out(invoice, _payment_of(session, invoice_id))


# Stripe charges at most ¥99,999,999 in one JPY payment; a larger invoice is paid by bank
# transfer outside Junkan (refused here before anything is claimed or sent to Stripe).
CARD_LIMIT_JPY = 99_999_999
CARD_LIMIT_MESSAGE = N_(
    "Cards take at most ¥99,999,999 in one payment: pay this invoice by bank transfer."
)


@dataclass(frozen=True)
class PaymentBox:
    """What the invoice page shows about paying or refunding it."""

    invoice_id: int
    kind: str
    invoice_status: str
    amount_jpy: int
    status: str  # unpaid | claiming | pending | succeeded | failed | refunded
    failure_message: str
    can_pay: bool
    can_refund: bool
    refund_amount_jpy: int | None
    can_record_transfer: bool = False  # the seller records a bank transfer for an order

    @property
    def over_card_limit(self) -> bool:
        return self.kind == InvoiceKind.INVOICE and self.amount_jpy > CARD_LIMIT_JPY


def payment_box(session: Session, actor: Actor | None, invoice_id: int) -> PaymentBox | None:
    """The payment box of an invoice page, or None when the actor may not see the invoice."""
    if actor is None:
        return None
    try:
        invoice = _visible_invoice(session, actor, invoice_id)
    except NotFound:
        return None
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        refund = session.exec(select(Refund).where(Refund.credit_note_id == invoice.id)).first()
        return PaymentBox(
            invoice.id,
            invoice.kind,
            invoice.status,
            invoice.total_jpy,
            "refunded" if refund else "unpaid",
            "",
            False,
            refund is None
            and invoice.status == InvoiceStatus.ISSUED
            and REFUND_CREDIT_NOTES.allows(actor)
            and (actor.is_operator or actor.owns(invoice.seller_org_id)),
            refund.amount_jpy if refund else None,
        )
    payment = _payment_of(session, invoice.id)
    status = payment.status if payment else "unpaid"
    awaiting = invoice.status == InvoiceStatus.ISSUED and status in ("unpaid", PaymentStatus.FAILED)
    return PaymentBox(
        invoice.id,
        invoice.kind,
        invoice.status,
        invoice.total_jpy,
        status,
        payment.failure_message if payment else "",
        awaiting
        and 0 < invoice.total_jpy <= CARD_LIMIT_JPY
        and payer_permission(actor).allows(actor)
        and actor.owns(invoice.buyer_org_id),
        False,
        None,
        can_record_transfer=awaiting
        and invoice.purchase_order_id is not None
        and RECORD_BANK_TRANSFERS.allows(actor)
        and actor.owns(invoice.seller_org_id),
    )


# ---------------------------------------------------------------------------------------------
# Paying


def _placeholder(intent_id: str) -> bool:
    return intent_id.startswith("claim_")


def _claim_id(invoice_id: int) -> str:
    return f"claim_{invoice_id}_{uuid.uuid4().hex[:16]}"


def _payable_invoice(session: Session, actor: Actor, invoice_id: int) -> Invoice:
    payer_permission(actor).check(actor)
    invoice = _visible_invoice(session, actor, invoice_id)
    if not actor.owns(invoice.buyer_org_id):
        raise PermissionDenied(N_("Only the buyer pays an invoice."))
    if invoice.kind != InvoiceKind.INVOICE:
        raise Conflict(N_("A credit note is not paid; it is refunded."))
    if invoice.status != InvoiceStatus.ISSUED:
        raise Conflict(N_("This invoice is not awaiting payment."))
    if invoice.total_jpy <= 0:
        raise Conflict(N_("There is nothing to pay on this invoice."))
    if invoice.total_jpy > CARD_LIMIT_JPY:
        raise Conflict(CARD_LIMIT_MESSAGE)
    return invoice


def pay_invoice(
    session: Session,
    actor: Actor,
    invoice_id: int,
    gateway: PaymentGateway,
    payment_method: str = DEFAULT_PAYMENT_METHOD,
) -> Payment:
    """Pay an issued invoice by card: claim it, create and confirm its one PaymentIntent.

    Returns the invoice's payment. While a payment is claimed or pending, a second call returns
    that same payment and calls Stripe not at all. Commits (see the module's docstring); the
    webhook decides whether it succeeded."""
    invoice = _payable_invoice(session, actor, invoice_id)
    payment, old_intent = _claim(session, invoice)
    if payment.status != PaymentStatus.CLAIMING or old_intent is None:
        return payment  # someone else's attempt is under way, or already decided
    try:
        if old_intent and not _placeholder(old_intent):
            status = gateway.cancel_intent(old_intent)  # never charged later
            if status != "canceled":
                raise GatewayError(f"the previous intent is {status}")
        customer = _customer_of(session, gateway, invoice.buyer_org_id)
        metadata = {"invoice_id": str(invoice.id), "invoice_number": invoice.number}
        intent = gateway.create_intent(invoice.total_jpy, customer, payment_method, metadata)
    except GatewayError as err:
        log.warning("stripe: paying invoice %s failed before any charge: %s", invoice.id, err)
        _release_claim(session, payment, str(err))
        raise PaymentServiceUnavailable() from err
    moved = session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status == PaymentStatus.CLAIMING)
        .values(
            stripe_payment_intent_id=intent,
            status=PaymentStatus.PENDING,
            amount_jpy=invoice.total_jpy,
            failure_message="",
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if moved.rowcount != 1:  # the claim was taken over meanwhile: never confirm this intent
        gateway.cancel_intent(intent)
        session.refresh(payment)
        return payment
    try:
        gateway.confirm_intent(intent)
    except GatewayError as err:  # maybe charged, maybe not: the webhook tells
        log.warning("stripe: confirming %s for invoice %s: %s", intent, invoice.id, err)
    session.refresh(payment)
    return payment


def _claim(session: Session, invoice: Invoice) -> tuple[Payment, str | None]:
    """Take the invoice's payment row for this attempt (committed), or find another's.

    Returns (payment, previous intent id) when this attempt holds the claim ('' for a new row),
    (payment, None) when another attempt holds it or it is decided."""
    payment = _payment_of(session, invoice.id)
    if payment is None:
        payment = Payment(
            invoice_id=invoice.id,
            stripe_payment_intent_id=_claim_id(invoice.id),
            amount_jpy=invoice.total_jpy,
            status=PaymentStatus.CLAIMING,
        )
        try:
            session.add(payment)
            session.commit()
            return payment, ""
        except IntegrityError:  # another attempt inserted it first
            session.rollback()
            return _payment_of(session, invoice.id), None
    stale = payment.status == PaymentStatus.CLAIMING and payment.updated_at < utcnow() - STALE_CLAIM
    if payment.status != PaymentStatus.FAILED and not stale:
        return payment, None
    previous = payment.stripe_payment_intent_id
    # One winner: the row must still hold the state and intent this attempt read; the claim
    # gets a fresh placeholder, so a second attempt that read the same row matches nothing.
    moved = session.execute(
        update(Payment)
        .where(
            Payment.id == payment.id,
            Payment.status == payment.status,
            Payment.stripe_payment_intent_id == previous,
        )
        .values(
            status=PaymentStatus.CLAIMING,
            stripe_payment_intent_id=_claim_id(invoice.id),
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(payment)
    return payment, (previous if moved.rowcount == 1 else None)


def _release_claim(session: Session, payment: Payment, reason: str) -> None:
    """Stripe failed before charging: the payment is failed, and may be tried again."""
    session.rollback()
    session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status == PaymentStatus.CLAIMING)
        .values(
            status=PaymentStatus.FAILED,
            failure_message=f"Payment service unavailable: {reason}"[:300],
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()


def _customer_of(session: Session, gateway: PaymentGateway, organization_id: int) -> str:
    """The buyer's Stripe customer, created on its first payment (one winner stores its id)."""
    org = session.get(Organization, organization_id)
    if org.stripe_customer_id:
        return org.stripe_customer_id
    created = gateway.create_customer(org.name_en or org.name_ja, org.id)
    session.execute(
        update(Organization)
        .where(Organization.id == org.id, col(Organization.stripe_customer_id).is_(None))
        .values(stripe_customer_id=created)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(org)
    return org.stripe_customer_id


# ---------------------------------------------------------------------------------------------
# Webhooks


def handle_stripe_event(session: Session, event: dict[str, Any]) -> bool:
    """Apply one signature-verified Stripe event; False when this event id was seen before.

    Flushes; the caller commits. Unknown event types, unknown intents and mismatched amounts
    are recorded and ignored."""
    event_id = str(event.get("id") or "")[:64]
    event_type = str(event.get("type") or "")[:60]
    obj = (event.get("data") or {}).get("object") or {}
    if not event_id:
        raise ValueError("an event has an id")
    payment = _payment_of_intent(session, obj) if event_type.startswith("payment_intent.") else None
    try:
        with session.begin_nested():
            session.add(
                StripeEvent(
                    id=event_id,
                    type=event_type,
                    invoice_id=payment.invoice_id if payment else None,
                )
            )
    except IntegrityError:
        return False
    if event_type not in (SUCCEEDED_EVENT, FAILED_EVENT):
        return True
    if payment is None:
        log.warning("stripe: %s %s for an unknown intent %s", event_type, event_id, obj.get("id"))
        return True
    amount, currency = obj.get("amount"), str(obj.get("currency") or "").lower()
    if amount != payment.amount_jpy or currency != CURRENCY:
        log.warning(
            "stripe: %s %s amount %s %s differs from payment %s (%s yen): ignored",
            event_type,
            event_id,
            amount,
            currency,
            payment.id,
            payment.amount_jpy,
        )
        return True
    if event_type == SUCCEEDED_EVENT:
        _record_success(session, payment)
    else:
        _record_failure(session, payment, obj)
    return True


def _payment_of_intent(session: Session, obj: dict) -> Payment | None:
    intent_id = obj.get("id")
    if not isinstance(intent_id, str) or not intent_id:
        return None
    return session.exec(
        select(Payment).where(Payment.stripe_payment_intent_id == intent_id)
    ).first()


def _record_success(session: Session, payment: Payment) -> None:
    now = utcnow()
    session.execute(
        update(Payment)
        .where(
            Payment.id == payment.id,
            Payment.stripe_payment_intent_id == payment.stripe_payment_intent_id,
            col(Payment.status).in_([PaymentStatus.PENDING, PaymentStatus.FAILED]),
        )
        .values(status=PaymentStatus.SUCCEEDED, failure_message="", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    paid = session.execute(
        update(Invoice)
        .where(Invoice.id == payment.invoice_id, Invoice.status == InvoiceStatus.ISSUED)
        .values(status=InvoiceStatus.PAID, paid_at=now)
        .execution_options(synchronize_session=False)
    )
    if paid.rowcount != 1:
        log.warning("stripe: invoice %s was not awaiting payment", payment.invoice_id)
        return
    invoice = session.get(Invoice, payment.invoice_id)
    session.refresh(invoice)
    fee = platform_fee_of(session, invoice.id)
    session.add(
        SettlementEntry(
            invoice_id=invoice.id,
            organization_id=invoice.seller_org_id,
            kind="seller_payable",
            amount_jpy=invoice.total_jpy - fee,
        )
    )
    if fee:
        session.add(
            SettlementEntry(
                invoice_id=invoice.id, organization_id=None, kind="platform_fee", amount_jpy=fee
            )
        )
    if invoice.contract_id is not None:  # an order's invoice has no contract trail
        append_event(
            session,
            invoice.contract_id,
            "invoice_paid",
            None,
            {
                "invoice": invoice.id,
                "number": invoice.number,
                "amount_jpy": invoice.total_jpy,
                "payment_intent": payment.stripe_payment_intent_id,
            },
        )
    _notify(
        session,
        invoice,
        invoice.seller_org_id,
        N_("Invoice %(number)s is paid: %(amount)s yen."),
        "paid",
    )
    session.flush()


def _record_failure(session: Session, payment: Payment, obj: dict) -> None:
    error = obj.get("last_payment_error") or {}
    message = str(error.get("message") or "The card was declined.")[:300]
    failed = session.execute(
        update(Payment)
        .where(
            Payment.id == payment.id,
            Payment.stripe_payment_intent_id == payment.stripe_payment_intent_id,
            Payment.status == PaymentStatus.PENDING,
        )
        .values(status=PaymentStatus.FAILED, failure_message=message, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if failed.rowcount == 1:
        invoice = session.get(Invoice, payment.invoice_id)
        _notify(
            session,
            invoice,
            invoice.buyer_org_id,
            N_("The payment of invoice %(number)s failed; you may pay it again."),
            f"failed:{payment.stripe_payment_intent_id}",
        )
    session.flush()


def _notify(session: Session, invoice: Invoice, org_id: int, message: str, key: str) -> None:
    notes = notify_organization(
        session,
        org_id,
        message,
        {"id": invoice.id, "number": invoice.number, "amount": f"{invoice.total_jpy:,}"},
        f"/invoices/{invoice.id}",
        f"invoice:{invoice.id}:{key}",
        roles=PAYMENT_NOTICE_ROLES,
    )
    session.info.setdefault(_OUTBOX, []).extend(notes)


def platform_fee_of(session: Session, invoice_id: int) -> int:
    """The platform's share of an invoice or credit note, in yen: its `fee` lines plus their
    consumption tax, by the invoice's own rule (`contracts.invoicing.platform_fee_of`; signed:
    negative on a credit note)."""
    lines = session.exec(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id, InvoiceLine.kind == "fee")
    ).all()
    fee, tax = invoice_fee_of(lines)
    return fee + tax


# ---------------------------------------------------------------------------------------------
# Recorded bank transfers (an order's invoice paid outside Stripe)


class BankTransferIn(BaseModel):
    """A bank transfer the seller received for an order's invoice: its whole total, the day
    it arrived (not in the future), the bank's reference if any."""

    model_config = ConfigDict(extra="forbid")
    amount_jpy: PositiveYen = Field(description="yen received: the invoice's total")
    received_on: Day = Field(description="the day the transfer arrived (Tokyo)")
    reference: Line(100) = Field(default="", description="the bank's reference, optional")


def record_bank_transfer(
    session: Session,
    actor: Actor,
    invoice_id: int,
    data: BankTransferIn,
    today: date | None = None,
) -> Invoice:
    """The seller records that an order's invoice was paid by bank transfer: the invoice is
    paid (once) and the settlement ledger owes the seller its total. Flushes."""
    RECORD_BANK_TRANSFERS.check(actor)
    invoice = _visible_invoice(session, actor, invoice_id)
    if not actor.owns(invoice.seller_org_id):
        raise PermissionDenied(N_("Only the seller records a bank transfer received."))
    if invoice.purchase_order_id is None or invoice.kind != InvoiceKind.INVOICE:
        raise Conflict(
            N_(
                "Only the invoice of a purchase order is settled by a recorded bank transfer; "
                "a contract's invoices are paid by card."
            )
        )
    if invoice.status != InvoiceStatus.ISSUED:
        raise Conflict(N_("This invoice is not awaiting payment."))
    payment = _payment_of(session, invoice.id)
    if payment is not None and payment.status in (PaymentStatus.CLAIMING, PaymentStatus.PENDING):
        raise Conflict(N_("A card payment of this invoice is under way."))
    if data.amount_jpy != invoice.total_jpy:
        raise ValidationFailed(
            N_("The transfer must be the invoice's total of %(total)s yen."),
            "amount_jpy",
            total=f"{invoice.total_jpy:,}",
        )
    today = today or tokyo_today()
    if data.received_on > today:
        raise ValidationFailed(N_("The day of receipt cannot lie in the future."), "received_on")
    if data.received_on < invoice.issued_on:
        raise ValidationFailed(
            N_("The day of receipt cannot lie before the invoice was issued (%(day)s)."),
            "received_on",
            day=invoice.issued_on.isoformat(),
        )
    paid_at = datetime.combine(data.received_on, time(0), TOKYO).astimezone(UTC)
    paid = session.execute(
        update(Invoice)
        .where(Invoice.id == invoice.id, Invoice.status == InvoiceStatus.ISSUED)
        .values(status=InvoiceStatus.PAID, paid_at=paid_at)
        .execution_options(synchronize_session=False)
    )
    if paid.rowcount != 1:  # paid by another request a moment ago
        raise Conflict(N_("This invoice is not awaiting payment."))
    session.refresh(invoice)
    fee = platform_fee_of(session, invoice.id)
    session.add(
        SettlementEntry(
            invoice_id=invoice.id,
            organization_id=invoice.seller_org_id,
            kind="seller_payable",
            amount_jpy=invoice.total_jpy - fee,
        )
    )
    if fee:
        session.add(
            SettlementEntry(
                invoice_id=invoice.id, organization_id=None, kind="platform_fee", amount_jpy=fee
            )
        )
    record_audit(
        session,
        actor,
        "invoice.bank_transfer",
        "invoice",
        invoice.id,
        {
            "amount_jpy": data.amount_jpy,
            "received_on": data.received_on.isoformat(),
            "reference": data.reference.strip(),
        },
    )
    _notify(
        session,
        invoice,
        invoice.buyer_org_id,
        N_("Invoice %(number)s is paid: the seller received your bank transfer."),
        "paid",
    )
    session.flush()
    return invoice


# ---------------------------------------------------------------------------------------------
# Refunds of credit notes


def refund_credit_note(
    session: Session, actor: Actor, credit_note_id: int, gateway: PaymentGateway
) -> Refund:
    """Refund a credit note against the paid invoice it credits (|total| yen to the buyer's
    card). One refund per credit note; commits (the refund happens outside the database)."""
    REFUND_CREDIT_NOTES.check(actor)
    note = _visible_invoice(session, actor, credit_note_id)
    if not (actor.is_operator or actor.owns(note.seller_org_id)):
        raise PermissionDenied(N_("Only the seller or the operator refunds a credit note."))
    if note.kind != InvoiceKind.CREDIT_NOTE:
        raise Conflict(N_("Only a credit note is refunded."))
    if note.status != InvoiceStatus.ISSUED:
        raise Conflict(N_("This credit note is already refunded or void."))
    original = session.get(Invoice, note.credits_invoice_id) if note.credits_invoice_id else None
    payment = _payment_of(session, original.id) if original else None
    if (
        original is None
        or original.status != InvoiceStatus.PAID
        or payment is None
        or payment.status != PaymentStatus.SUCCEEDED
    ):
        raise Conflict(
            N_(
                "The credited invoice is not paid: a credit note on an unpaid invoice reduces"
                " what is due and is not refunded."
            )
        )
    amount = abs(note.total_jpy)
    if note.total_jpy >= 0 or amount > payment.amount_jpy:
        raise Conflict(N_("A credit note must be negative and at most the amount paid."))
    # Claim the refund first (one row per credit note, committed), then refund at Stripe: a
    # second click or a concurrent request finds the claim and is refused.
    refund = Refund(
        credit_note_id=note.id,
        payment_id=payment.id,
        stripe_refund_id=_claim_id(note.id),
        amount_jpy=amount,
        status="claiming",
    )
    try:
        session.add(refund)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(N_("This credit note is already refunded or void.")) from None
    try:
        refund_id, status = gateway.refund(
            payment.stripe_payment_intent_id,
            amount,
            {"credit_note_id": str(note.id), "credit_note_number": note.number},
        )
    except GatewayError as err:
        log.warning("stripe: refunding credit note %s failed: %s", note.id, err)
        session.delete(refund)
        session.commit()
        raise PaymentServiceUnavailable(
            N_("The payment service is not available; nothing was refunded. Try again later.")
        ) from err
    refund.stripe_refund_id, refund.status = refund_id, status
    refunded = session.execute(
        update(Invoice)
        .where(Invoice.id == note.id, Invoice.status == InvoiceStatus.ISSUED)
        .values(status=InvoiceStatus.REFUNDED)
        .execution_options(synchronize_session=False)
    )
    if refunded.rowcount != 1:  # voided meanwhile: the money went back all the same
        log.warning("stripe: credit note %s changed state while it was refunded", note.id)
    fee = -platform_fee_of(session, note.id)  # the platform's share given back (positive)
    session.add(
        SettlementEntry(
            invoice_id=note.id,
            organization_id=note.seller_org_id,
            kind="refund",
            amount_jpy=-(amount - fee),
        )
    )
    if fee:
        session.add(
            SettlementEntry(
                invoice_id=note.id, organization_id=None, kind="platform_fee", amount_jpy=-fee
            )
        )
    if note.contract_id is not None:
        append_event(
            session,
            note.contract_id,
            "credit_note_refunded",
            actor,
            {
                "credit_note": note.id,
                "number": note.number,
                "amount_jpy": amount,
                "refund": refund_id,
            },
        )
    _notify(
        session,
        note,
        note.buyer_org_id,
        N_("Credit note %(number)s is refunded to your card."),
        "refunded",
    )
    session.commit()
    session.refresh(refund)
    return refund


def read_refund(session: Session, actor: Actor, credit_note_id: int) -> Refund | None:
    _visible_invoice(session, actor, credit_note_id)
    return session.exec(select(Refund).where(Refund.credit_note_id == credit_note_id)).first()


# ---------------------------------------------------------------------------------------------
# The settlement ledger


def settlements_query(actor: Actor):
    """(entry, invoice number, organisation names ja and en) rows the actor may see, newest first."""
    SEE_SETTLEMENTS.check(actor)
    query = (
        select(SettlementEntry, Invoice.number, Organization.name_ja, Organization.name_en)
        .join(Invoice, Invoice.id == SettlementEntry.invoice_id)
        .outerjoin(Organization, Organization.id == SettlementEntry.organization_id)
    )
    if not actor.is_operator:
        query = query.where(SettlementEntry.organization_id == actor.organization_id)
    return query.order_by(col(SettlementEntry.created_at).desc(), col(SettlementEntry.id).desc())


def settlement_totals(session: Session, actor: Actor) -> SettlementTotals:
    """Sums by kind of what the actor may see (one query)."""
    SEE_SETTLEMENTS.check(actor)
    query = select(SettlementEntry.kind, func.sum(SettlementEntry.amount_jpy)).group_by(
        SettlementEntry.kind
    )
    if not actor.is_operator:
        query = query.where(SettlementEntry.organization_id == actor.organization_id)
    sums = {kind: int(total or 0) for kind, total in session.exec(query).all()}
    payable, refunds = sums.get("seller_payable", 0), sums.get("refund", 0)
    return SettlementTotals(
        seller_payable_jpy=payable,
        refund_jpy=refunds,
        platform_fee_jpy=sums.get("platform_fee", 0) if actor.is_operator else None,
        net_jpy=payable + refunds,
    )


def settlement_out(row: Sequence) -> SettlementEntryOut:
    entry, number, name_ja, name_en = row
    return SettlementEntryOut(
        id=entry.id,
        invoice_id=entry.invoice_id,
        invoice_number=number,
        kind=entry.kind,
        organization_id=entry.organization_id,
        organization_name_ja=name_ja,
        organization_name_en=name_en,
        amount_jpy=entry.amount_jpy,
        created_at=entry.created_at,
    )


def settlement_ledger(
    session: Session, actor: Actor, limit: int = 100
) -> tuple[list[SettlementEntryOut], SettlementTotals]:
    """The newest `limit` entries the actor may see and the totals of all of them."""
    rows = session.exec(settlements_query(actor).limit(limit)).all()
    return [settlement_out(r) for r in rows], settlement_totals(session, actor)
