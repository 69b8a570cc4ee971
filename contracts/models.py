"""Tables of offtake contracts, from draft to payment.

Mass is integer kilograms, money integer yen (JPY has no minor unit), percentages exact
decimals, times aware UTC, a contract month the first day of a calendar month in Asia/Tokyo.

Sections (each owned by the module named in its heading):
- lifecycle (contracts.negotiation, contracts.signing): the contract, its terms versions,
  signatures and comments;
- audit trail (contracts.events): the append-only, hash-chained contract events;
- operations (contracts.obligations, contracts.deliveries, contracts.jobs): monthly delivery
  obligations, deliveries and their documents, the once-only effects of scheduled jobs;
- money (contracts.invoicing, contracts.payments): invoices and credit notes with their lines,
  Stripe payments, refunds and events, the settlement ledger.
"""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from market.models import PurchaseOrder  # noqa: F401  (foreign-key target)
from participants.columns import ExactDecimal, UTCDateTime, utcnow

# ---------------------------------------------------------------------------------------------
# Lifecycle


class ContractStatus(StrEnum):
    DRAFT = "draft"  # negotiating: terms versions, comments, signatures on the latest one
    ACTIVE = "active"  # both sides signed the same terms hash
    COMPLETED = "completed"  # the term has run out
    TERMINATED = "terminated"  # ended early (notice given)
    WITHDRAWN = "withdrawn"  # a draft given up by either side; reserved volume released


class PricingPeriod(StrEnum):
    DELIVERY_MONTH = "delivery"  # the index value of the month delivered
    PREVIOUS_MONTH = "previous"  # the index value of the month before


class OfftakeContract(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default=ContractStatus.DRAFT, max_length=12, index=True)
    seller_org_id: int = Field(foreign_key="organization.id", index=True)
    buyer_org_id: int = Field(foreign_key="organization.id", index=True)
    listing_id: int | None = Field(default=None, foreign_key="supplylisting.id")
    request_id: int | None = Field(default=None, foreign_key="offtakerequest.id")
    proposal_id: int | None = Field(default=None, foreign_key="proposal.id", unique=True)
    material_code: str = Field(max_length=40)
    created_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Monthly kg this contract holds on its listing (committed) and records on its request
    # (filled): set when both sides accept a proposal, or at activation; changed at activation
    # of a version with other monthly tonnes; released when a draft is withdrawn.
    reserved_kg: int = 0
    filled_kg: int = 0
    # A critical material crossing Japan's border: the movement record (export or import
    # consent) the contract runs under, and the kilograms it committed on it at activation.
    movement_record_id: int | None = Field(default=None, foreign_key="movementrecord.id")
    consent_committed_kg: int = Field(default=0, sa_type=BigInteger)
    active_version: int | None = None  # the terms version both sides signed
    activated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Head of the audit chain: appending an event moves it with one conditional UPDATE.
    last_event_seq: int = 0
    last_event_sha256: str = Field(default="", max_length=64)


class ContractTerms(SQLModel, table=True):
    """One version of a contract's terms; only the latest version of a draft can be signed."""

    __table_args__ = (UniqueConstraint("contract_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="offtakecontract.id", index=True)
    version: int = 1
    start_month: date
    term_months: int
    monthly_kg: int
    tolerance_pct: Decimal = Field(default=Decimal("5"), sa_type=ExactDecimal)  # ± per month
    annual_tolerance_pct: Decimal = Field(default=Decimal("5"), sa_type=ExactDecimal)  # ± a year
    take_or_pay_pct: Decimal = Field(default=Decimal("80"), sa_type=ExactDecimal)
    # Tonnes short of the take-or-pay minimum are charged at this share of the month's price.
    shortfall_price_pct: Decimal = Field(default=Decimal("20"), sa_type=ExactDecimal)
    # Tonnes above the month's maximum are bought at this share of the price (0: not bought).
    excess_price_pct: Decimal = Field(default=Decimal("100"), sa_type=ExactDecimal)
    incoterm: str = Field(max_length=3)
    incoterm_place: str = Field(max_length=200)
    standard_version_id: int = Field(foreign_key="standardversion.id")
    price_kind: str = Field(max_length=5)
    fixed_price_jpy_per_t: int | None = None
    index_id: int | None = Field(default=None, foreign_key="priceindex.id")
    index_factor: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    premium_jpy_per_t: int = 0
    floor_jpy_per_t: int | None = None
    cap_jpy_per_t: int | None = None
    pricing_period: str = Field(default=PricingPeriod.DELIVERY_MONTH, max_length=10)
    payment_days: int = 30
    renewal_months: int = 0  # 0: no automatic renewal
    termination_notice_days: int = 90
    governing_language: str = Field(default="ja", max_length=2)
    comment: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    sha256: str = Field(default="", max_length=64)  # of the canonical terms
    proposed_by_org_id: int | None = Field(default=None, foreign_key="organization.id")
    proposed_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Signature(SQLModel, table=True):
    """A signatory's signature of one terms version (its canonical SHA-256)."""

    __table_args__ = (UniqueConstraint("terms_id", "organization_id"),)
    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="offtakecontract.id", index=True)
    terms_id: int = Field(foreign_key="contractterms.id")
    organization_id: int = Field(foreign_key="organization.id")
    member_id: int = Field(foreign_key="member.id")
    terms_sha256: str = Field(max_length=64)
    signed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    remote_addr: str = Field(default="", max_length=64)
    voided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ContractComment(SQLModel, table=True):
    """The negotiation thread of a contract (a counter-offer's comment, or a plain message)."""

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="offtakecontract.id", index=True)
    terms_id: int | None = Field(default=None, foreign_key="contractterms.id")
    organization_id: int = Field(foreign_key="organization.id")
    member_id: int | None = Field(default=None, foreign_key="member.id")
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# ---------------------------------------------------------------------------------------------
# Audit trail


class ContractEvent(SQLModel, table=True):
    """Append-only: each event carries the SHA-256 of the previous one of its contract."""

    __table_args__ = (UniqueConstraint("contract_id", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="offtakecontract.id", index=True)
    seq: int
    kind: str = Field(max_length=40)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor_member_id: int | None = Field(default=None, foreign_key="member.id")
    actor_organization_id: int | None = Field(default=None, foreign_key="organization.id")
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    prev_sha256: str = Field(default="", max_length=64)
    sha256: str = Field(max_length=64)


# ---------------------------------------------------------------------------------------------
# Operations


class ObligationStatus(StrEnum):
    OPEN = "open"  # deliveries are recorded against it
    CLOSED = "closed"  # the month is over; no more deliveries
    INVOICED = "invoiced"  # its invoice is issued


class DeliveryObligation(SQLModel, table=True):
    """A contract month: what is due, and the band the tolerance allows."""

    __table_args__ = (
        UniqueConstraint("contract_id", "month"),
        Index("ix_deliveryobligation_month_status", "month", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="offtakecontract.id", index=True)
    terms_id: int = Field(foreign_key="contractterms.id")
    month: date
    due_on: date
    due_kg: int
    min_kg: int
    max_kg: int
    delivered_kg: int = 0  # accepted deliveries (rejected lots do not count)
    status: str = Field(default=ObligationStatus.OPEN, max_length=10)
    opened_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeliveryStatus(StrEnum):
    RECORDED = "recorded"  # by the seller; the buyer accepts or disputes
    ACCEPTED = "accepted"
    DISPUTED = "disputed"  # the umpire-assay flow is open
    SETTLED = "settled"  # a dispute settled by the split-assay rule
    REJECTED = "rejected"  # does not count toward volume


# The deliveries that count toward a month's volume and are invoiced.
COUNTED = (DeliveryStatus.ACCEPTED, DeliveryStatus.SETTLED)


class Delivery(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="offtakecontract.id", index=True)
    obligation_id: int = Field(foreign_key="deliveryobligation.id", index=True)
    delivered_on: date
    net_kg: int
    vehicle: str = Field(default="", max_length=80)
    status: str = Field(default=DeliveryStatus.RECORDED, max_length=10, index=True)
    assay_id: int | None = Field(default=None, foreign_key="assay.id")
    outcome: str = Field(default="", max_length=30)  # the quality module's assessment outcome
    adjustment_jpy_per_t: int = 0  # negative: a deduction
    buyer_assay_id: int | None = Field(default=None, foreign_key="assay.id")
    umpire_assay_id: int | None = Field(default=None, foreign_key="assay.id")
    dispute_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    recorded_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeliveryDocument(SQLModel, table=True):
    """A file of a delivery (weighbridge ticket, assay report, …), kept in the database."""

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="delivery.id", index=True)
    kind: str = Field(max_length=20)
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    size_bytes: int
    sha256: str = Field(max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    uploaded_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    uploaded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class JobClaim(SQLModel, table=True):
    """An effect of a scheduled job that must happen once (a day's market-wide matching, a
    contract's 90-day expiry notice): the job inserts its (job, key) in the same transaction
    as the work, so a second run, a concurrent one or one after a crash finds it and skips."""

    __table_args__ = (UniqueConstraint("job", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=40)
    key: str = Field(max_length=80)
    claimed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# ---------------------------------------------------------------------------------------------
# Money


class InvoiceKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceStatus(StrEnum):
    ISSUED = "issued"  # awaiting payment (an invoice) or refund (a credit note)
    PAID = "paid"  # an invoice paid (Stripe webhook)
    REFUNDED = "refunded"  # a credit note refunded
    VOID = "void"


class Invoice(SQLModel, table=True):
    """An invoice of a contract month, or a credit note against an invoice (JPY, tax
    computed once per invoice and rate)."""

    __table_args__ = (UniqueConstraint("obligation_id", "kind"),)
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=24, unique=True)
    kind: str = Field(default=InvoiceKind.INVOICE, max_length=12)
    # An invoice bills a contract month (contract_id) or a public purchase order (order_id).
    contract_id: int | None = Field(default=None, foreign_key="offtakecontract.id", index=True)
    purchase_order_id: int | None = Field(default=None, foreign_key="purchaseorder.id", unique=True)
    obligation_id: int | None = Field(default=None, foreign_key="deliveryobligation.id")
    credits_invoice_id: int | None = Field(default=None, foreign_key="invoice.id")
    # A credit note's cause: the delivery whose late decision it corrects (one per delivery).
    delivery_id: int | None = Field(default=None, foreign_key="delivery.id", unique=True)
    seller_org_id: int = Field(foreign_key="organization.id", index=True)
    buyer_org_id: int = Field(foreign_key="organization.id", index=True)
    seller_registration_number: str = Field(default="", max_length=14)  # T + 13 digits
    issued_on: date
    due_on: date
    subtotal_jpy: int = Field(default=0, sa_type=BigInteger)
    tax_jpy: int = Field(default=0, sa_type=BigInteger)
    total_jpy: int = Field(default=0, sa_type=BigInteger)
    status: str = Field(default=InvoiceStatus.ISSUED, max_length=10, index=True)
    paid_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class InvoiceNumberCounter(SQLModel, table=True):
    """The last invoice number of a year (JK-YYYY-NNNNNN): a run takes a block of numbers with
    one conditional UPDATE of this row, so concurrent runs never take the same number."""

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_seq: int = 0


class InvoiceLine(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    position: int
    kind: str = Field(max_length=20)  # base | quality | excess | shortfall | fee | credit
    description: str = Field(max_length=300)
    quantity_kg: int | None = None
    unit_price_jpy_per_t: int | None = None
    amount_jpy: int = Field(sa_type=BigInteger)
    tax_rate_pct: Decimal = Field(default=Decimal("10"), sa_type=ExactDecimal)
    delivery_id: int | None = Field(default=None, foreign_key="delivery.id")


class PaymentStatus(StrEnum):
    CLAIMING = "claiming"  # an attempt holds the invoice; its PaymentIntent is being created
    PENDING = "pending"  # a PaymentIntent exists; the webhook decides
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Payment(SQLModel, table=True):
    """The one Stripe PaymentIntent of an invoice (never a second charge for an invoice)."""

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", unique=True)
    stripe_payment_intent_id: str = Field(max_length=64, unique=True)
    amount_jpy: int = Field(sa_type=BigInteger)
    status: str = Field(default=PaymentStatus.PENDING, max_length=10)
    failure_message: str = Field(default="", max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Refund(SQLModel, table=True):
    """The Stripe refund of a credit note against a paid invoice."""

    id: int | None = Field(default=None, primary_key=True)
    credit_note_id: int = Field(foreign_key="invoice.id", unique=True)
    payment_id: int = Field(foreign_key="payment.id")
    stripe_refund_id: str = Field(max_length=64, unique=True)
    amount_jpy: int = Field(sa_type=BigInteger)
    status: str = Field(max_length=10)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class StripeEvent(SQLModel, table=True):
    """A processed Stripe webhook event: a replay of the same id changes nothing."""

    id: str = Field(primary_key=True, max_length=64)
    type: str = Field(max_length=60)
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id")
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SettlementEntry(SQLModel, table=True):
    """The settlement ledger: what each seller is owed and the platform's fee, per invoice.

    `organization_id` None is the platform. Amounts are signed integer yen; one entry per
    invoice (or credit note) and kind, so recording a payment twice changes nothing.
    """

    __table_args__ = (UniqueConstraint("invoice_id", "kind"),)
    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    organization_id: int | None = Field(default=None, foreign_key="organization.id")
    kind: str = Field(max_length=20)  # seller_payable | platform_fee | refund
    amount_jpy: int = Field(sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
