"""Market tables: listings, requests, price indices, match runs, proposals, alerts."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Text,
    UniqueConstraint,
    event,
    inspect,
    text,
    update,
)
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, SQLModel, col

from participants.columns import ExactDecimal, UTCDateTime, utcnow
from participants.models import Member, Organization  # noqa: F401  (foreign-key targets)
from quality.models import Certificate  # noqa: F401  (foreign-key target)

# ----------------------------------------------------------------------------------------------
# Trading: listings, requests, price indices, proposals, saved searches, notifications.
# Mass is stored as integer kilograms, money as integer yen (per tonne where named so).
# ----------------------------------------------------------------------------------------------


class ListingStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    EXPIRED = "expired"


class PriceKind(StrEnum):
    FIXED = "fixed"
    INDEX = "index"


class PriceIndex(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name_en: str = Field(max_length=120)
    name_ja: str = Field(max_length=120)
    material_code: str = Field(max_length=40)
    unit: str = Field(default="JPY/t", max_length=20)
    source: str = Field(default="", max_length=300)


class IndexValue(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("index_id", "month"),)
    id: int | None = Field(default=None, primary_key=True)
    index_id: int = Field(foreign_key="priceindex.id", index=True)
    month: date
    value_jpy_per_t: int
    entered_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    entered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# ----------------------------------------------------------------------------------------------
# Critical-scrap export watch: movement records (export / import consents) of critical materials.
# ----------------------------------------------------------------------------------------------


class MovementDirection(StrEnum):
    EXPORT = "export"  # out of Japan
    IMPORT = "import"  # into Japan


class MovementRecordStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


class MovementRecord(SQLModel, table=True):
    """An organisation's export or import record of one critical material: the legal route, the
    notification or consent reference, the competent authorities, the countries of export,
    transit and import, the validity and the consented tonnes.

    Contracts commit their tonnes against it with one conditional UPDATE (`committed_kg` never
    exceeds `consented_kg`, and only within the validity): `market.movements.commit_consent`."""

    __table_args__ = (
        CheckConstraint("consented_kg > 0", name="ck_movement_consented_positive"),
        CheckConstraint(
            "committed_kg >= 0 AND committed_kg <= consented_kg",
            name="ck_movement_committed_within_consent",
        ),
        CheckConstraint("valid_until >= valid_from", name="ck_movement_validity_order"),
    )
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    direction: str = Field(max_length=6, index=True)
    material_code: str = Field(max_length=40, index=True)
    route: str = Field(max_length=12)
    reference: str = Field(max_length=80)  # notification / consent / confirmation number
    authorities: str = Field(default="", max_length=300)  # competent authorities, free text
    country_export: str = Field(max_length=2)
    countries_transit: str = Field(default="", max_length=60)  # space-separated alpha-2 codes
    country_import: str = Field(max_length=2)
    valid_from: date
    valid_until: date  # inclusive
    consented_kg: int = Field(sa_type=BigInteger)
    committed_kg: int = Field(default=0, sa_type=BigInteger)
    certificate_id: str | None = Field(default=None, foreign_key="certificate.id")
    status: str = Field(default=MovementRecordStatus.ACTIVE, max_length=10, index=True)
    note: str = Field(default="", max_length=500)
    created_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def remaining_kg(self) -> int:
        return self.consented_kg - self.committed_kg

    @property
    def transit(self) -> tuple[str, ...]:
        return tuple(c for c in self.countries_transit.split() if c)


# What the search stores for a listing without a price for the month: after every price.
NO_PRICE_KEY = 2**62
# The fields a listing's price for a month is worked out from.
PRICE_FIELDS = (
    "price_kind", "fixed_price_jpy_per_t", "index_id", "index_factor", "premium_jpy_per_t",
    "floor_jpy_per_t", "cap_jpy_per_t",
)  # fmt: skip

# What the search reads of every candidate row (migration 0012): with these columns in one index
# the count and the sorts by price, volume and distance read the index only, not the wide rows.
SEARCH_COLUMNS = {
    "supplylisting": (
        "status", "material_code", "expires_on", "visibility", "organization_id",
        "invited_org_ids", "monthly_kg", "committed_kg", "created_at", "data_quality_level",
        "price_kind", "fixed_price_jpy_per_t", "index_id", "index_factor", "premium_jpy_per_t",
        "floor_jpy_per_t", "cap_jpy_per_t", "origin_prefecture", "available_from",
        "standard_version_id", "lat", "lon",
    ),
    "offtakerequest": (
        "status", "material_code", "expires_on", "organization_id", "monthly_kg", "filled_kg",
        "created_at", "delivery_prefecture", "start_month", "standard_version_id", "lat", "lon",
    ),
}  # fmt: skip


def _search_indexes(table: str) -> tuple[Index, ...]:
    """The search's indexes (migration 0012): open items by material and creation time and by
    creation time (a newest-first page stops after its rows), and the covering index of what
    the filters and sorts read. Listings also by their stored price for the month (migration
    0014): a cheapest-first page stops after its rows."""
    indexes = (
        Index(f"ix_{table}_status_material_created", "status", "material_code", "created_at"),
        Index(f"ix_{table}_status_created", "status", "created_at"),
        Index(f"ix_{table}_search", *SEARCH_COLUMNS[table]),
    )
    # Nearest first: a circle round a place is a latitude band, its longitudes checked in the
    # index before a row is read (`search._nearest_first`; migration 0015, was latitude only).
    indexes += (Index(f"ix_{table}_status_lat_lon", "status", "lat", "lon"),)
    # Largest volume first (migration 0015): the search's whole order, open volume, newest, id,
    # so that a page stops after its rows instead of sorting every match.
    taken = "committed_kg" if table == "supplylisting" else "filled_kg"
    indexes += (
        Index(
            f"ix_{table}_status_open_kg",
            "status",
            text(f"(monthly_kg - {taken}) DESC"),
            text("created_at DESC"),
            "id",
        ),
    )
    if table == "supplylisting":
        indexes += (
            Index("ix_supplylisting_status_price_key", "status", "price_key"),
            Index("ix_supplylisting_status_price_month", "status", "price_month"),
        )
    return indexes


class SupplyListing(SQLModel, table=True):
    __table_args__ = _search_indexes("supplylisting")
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    status: str = Field(default=ListingStatus.DRAFT, max_length=10, index=True)
    title: str = Field(default="", max_length=200)
    material_code: str = Field(max_length=40, index=True)
    standard_version_id: int = Field(foreign_key="standardversion.id")
    monthly_kg: int
    committed_kg: int = 0
    min_kg_per_contract: int
    available_from: date
    max_term_months: int
    origin_prefecture: str | None = Field(default=None, max_length=2, index=True)
    origin_port: str | None = Field(default=None, max_length=80)
    lat: float
    lon: float
    incoterm: str = Field(max_length=3)
    incoterm_place: str = Field(max_length=200)
    price_kind: str = Field(max_length=5)
    fixed_price_jpy_per_t: int | None = None
    index_id: int | None = Field(default=None, foreign_key="priceindex.id")
    index_factor: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    premium_jpy_per_t: int = 0
    floor_jpy_per_t: int | None = None
    cap_jpy_per_t: int | None = None
    assay_id: int | None = Field(default=None, foreign_key="assay.id")
    certificate_id: str | None = Field(default=None, foreign_key="certificate.id")
    data_quality_level: int = 0
    visibility: str = Field(default="public", max_length=10)
    invited_org_ids: str = Field(default="", max_length=500)
    # Where the incoterm place lies (ISO 3166-1 alpha-2): a listing of a critical material
    # whose delivery country differs from its organisation's crosses a border and needs a
    # movement record (export or import consent) before it is published.
    delivery_country: str = Field(default="JP", max_length=2)
    movement_record_id: int | None = Field(default=None, foreign_key="movementrecord.id")
    expires_on: date
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The price for `price_month` as the search works it out, stored so that a cheapest-first
    # search reads an index (`market.indices.refresh_prices`): the price in yen per tonne, or
    # NO_PRICE_KEY when there is none (sorts last). A change to the price fields or to the
    # index's values clears `price_month` (`_stale_prices` below); a listing whose
    # `price_month` is not the searched month is never read by this key.
    price_key: int | None = Field(default=None, sa_type=BigInteger)
    price_month: date | None = None

    @property
    def available_kg(self) -> int:
        return self.monthly_kg - self.committed_kg

    @property
    def fully_committed(self) -> bool:
        """Open, but every tonne a month is committed: nothing left to contract."""
        return self.status == ListingStatus.OPEN and self.available_kg <= 0

    @property
    def below_minimum(self) -> bool:
        """Less left than one contract's minimum (fully committed included): no new contract
        fits, so matching leaves it out unless asked (`candidates_for_request`)."""
        return self.available_kg <= 0 or self.available_kg < self.min_kg_per_contract

    @property
    def invited(self) -> frozenset[int]:
        return frozenset(int(x) for x in self.invited_org_ids.split() if x)


class OfftakeRequest(SQLModel, table=True):
    __table_args__ = _search_indexes("offtakerequest")
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    status: str = Field(default=ListingStatus.DRAFT, max_length=10, index=True)
    title: str = Field(default="", max_length=200)
    material_code: str = Field(max_length=40, index=True)
    standard_version_id: int = Field(foreign_key="standardversion.id")
    accept_stricter: bool = True
    monthly_kg: int
    filled_kg: int = 0
    start_month: date
    term_months: int
    delivery_prefecture: str | None = Field(default=None, max_length=2, index=True)
    delivery_place: str = Field(max_length=200)
    lat: float
    lon: float
    price_kind: str = Field(max_length=5)
    max_price_jpy_per_t: int | None = None
    index_id: int | None = Field(default=None, foreign_key="priceindex.id")
    index_factor: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    premium_jpy_per_t: int = 0
    purpose: str = Field(default="", max_length=1000)
    mandate: str = Field(default="", max_length=60)
    delivery_country: str = Field(default="JP", max_length=2)
    movement_record_id: int | None = Field(default=None, foreign_key="movementrecord.id")
    expires_on: date
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def open_kg(self) -> int:
        return self.monthly_kg - self.filled_kg


class MatchRun(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    run_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    month: date
    n_listings: int = 0
    n_requests: int = 0
    n_edges: int = 0
    n_proposals: int = 0
    # Market-wide yen a month exceed 32 bits (billions): BIGINT (migration 0004).
    surplus_jpy: int = Field(default=0, sa_type=BigInteger)
    lp_bound_jpy: int = Field(default=0, sa_type=BigInteger)
    solver_ms: int = 0
    # How the allocation was solved and what is proven of it (migration 0013; None on older
    # runs): the method ("mcf", "mcf+mip", "mcf+rounding", "lp+…"), the proven relative gap to
    # the best possible surplus (0.001 = 0.1 %) and whether that is within the solver's target.
    solver_method: str | None = Field(default=None, max_length=20)
    mip_gap: float | None = None
    optimal: bool | None = None


class ProposalStatus(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    SUPERSEDED = "superseded"


class Proposal(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(default=None, foreign_key="matchrun.id", index=True)
    listing_id: int = Field(foreign_key="supplylisting.id", index=True)
    request_id: int = Field(foreign_key="offtakerequest.id", index=True)
    monthly_kg: int
    status: str = Field(default=ProposalStatus.PROPOSED, max_length=12, index=True)
    seller_decision: str | None = Field(default=None, max_length=8)
    buyer_decision: str | None = Field(default=None, max_length=8)
    ask_jpy_per_t: int
    limit_jpy_per_t: int
    transport_jpy_per_t: int
    distance_km: float
    by_sea: bool = False
    overlap_months: int
    grade_margin: float = 0.0
    data_quality_level: int = 1
    score: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SavedSearch(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    target: str = Field(max_length=10)  # listings | requests
    name: str = Field(max_length=120)
    query: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Notification(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("member_id", "dedupe_key"),)
    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    message: str = Field(max_length=200)
    params: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    link: str = Field(default="", max_length=300)
    dedupe_key: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# ----------------------------------------------------------------------------------------------
# Public procurement: categories of hard-to-recycle items, the recycled-product catalogue,
# purchase orders, tenders with enquiries, sealed bids and awards, OCDS releases.
# Percentages are exact decimals; product masses are exact decimal kilograms per unit.
# ----------------------------------------------------------------------------------------------


class ProcurementCategory(SQLModel, table=True):
    """A hard-to-recycle item category with its recommended minimum recycled content."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name_en: str = Field(max_length=160)
    name_ja: str = Field(max_length=160)
    material_en: str = Field(default="", max_length=120)  # "plastic", "aluminium", …
    material_ja: str = Field(default="", max_length=120)
    stream: str = Field(default="", max_length=40)  # a hard-to-recycle stream, or ""
    classification_scheme: str = Field(max_length=10)  # UNSPSC | CPV
    classification_id: str = Field(max_length=20)
    classification_description: str = Field(max_length=200)
    unit: str = Field(default="piece", max_length=20)
    min_post_consumer_pct: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    min_total_pct: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    source: str = Field(max_length=300)
    note: str = Field(default="", max_length=300)


class AgencyPolicy(SQLModel, table=True):
    """An agency's procurement settings: the small-value threshold for direct contracts
    (yen, tax included). Without a row the default of `market.purchasing` applies (¥3,000,000:
    Local Autonomy Act Enforcement Order art. 167-2(1)(i), Appended Table 5 as amended from
    1 April 2025, purchase of goods by prefectures and designated cities)."""

    organization_id: int = Field(foreign_key="organization.id", primary_key=True)
    direct_purchase_threshold_jpy: int = Field(sa_type=BigInteger)
    rule_en: str = Field(default="", max_length=300)
    rule_ja: str = Field(default="", max_length=300)
    updated_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ProductStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


class CatalogueProduct(SQLModel, table=True):
    """A recycled-content product a verified manufacturer offers for direct purchase."""

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    category_id: int = Field(foreign_key="procurementcategory.id", index=True)
    status: str = Field(default=ProductStatus.ACTIVE, max_length=10, index=True)
    name_en: str = Field(max_length=200)
    name_ja: str = Field(max_length=200)
    description_en: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    description_ja: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    unit: str = Field(default="piece", max_length=20)
    unit_price_jpy: int = Field(sa_type=BigInteger)  # tax excluded
    lead_time_days: int
    unit_mass_kg: Decimal = Field(sa_type=ExactDecimal)  # mass of one unit
    material_code: str = Field(max_length=40)  # the recycled input the claim draws on
    post_consumer_pct: Decimal = Field(sa_type=ExactDecimal)
    total_recycled_pct: Decimal = Field(sa_type=ExactDecimal)
    created_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ProductEvidence(SQLModel, table=True):
    """A quality certificate that backs a product's recycled-content claim."""

    product_id: int = Field(foreign_key="catalogueproduct.id", primary_key=True)
    certificate_id: str = Field(foreign_key="certificate.id", primary_key=True, max_length=32)


class OrderSource(StrEnum):
    DIRECT = "direct"  # a direct purchase from the catalogue under the agency's threshold
    TENDER = "tender"  # the order of an award, issued after the standstill period


class OrderStatus(StrEnum):
    ORDERED = "ordered"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class PurchaseOrder(SQLModel, table=True):
    """An agency's order of recycled-content goods: what the green-purchasing report counts."""

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=24, unique=True)  # PO-YYYY-NNNNNN
    source: str = Field(max_length=10)
    status: str = Field(default=OrderStatus.ORDERED, max_length=10, index=True)
    buyer_org_id: int = Field(foreign_key="organization.id", index=True)
    supplier_org_id: int = Field(foreign_key="organization.id", index=True)
    category_id: int = Field(foreign_key="procurementcategory.id", index=True)
    product_id: int | None = Field(default=None, foreign_key="catalogueproduct.id")
    tender_id: int | None = Field(default=None, foreign_key="tender.id", unique=True)
    award_id: int | None = Field(default=None, foreign_key="award.id", unique=True)
    description: str = Field(max_length=300)
    quantity: int
    unit: str = Field(max_length=20)
    unit_price_jpy: int = Field(sa_type=BigInteger)  # tax excluded
    subtotal_jpy: int = Field(sa_type=BigInteger)  # tax excluded
    total_jpy: int = Field(sa_type=BigInteger)  # tax included
    material_code: str = Field(max_length=40)
    product_mass_kg: int = Field(sa_type=BigInteger)
    recycled_kg: int = Field(sa_type=BigInteger)  # the recycled-content claim debited
    post_consumer_pct: Decimal = Field(sa_type=ExactDecimal)
    total_recycled_pct: Decimal = Field(sa_type=ExactDecimal)
    delivery_due: date
    ordered_on: date  # Asia/Tokyo: decides the fiscal year of the report
    placed_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TenderStatus(StrEnum):
    PLANNING = "planning"  # a draft only its agency sees
    ACTIVE = "active"  # published: enquiry period, then tender period (sealed bids)
    EVALUATION = "evaluation"  # the tender period has ended; bids are open and scored
    AWARDED = "awarded"  # an award is decided; standstill period for complaints
    COMPLETE = "complete"  # the contract and purchase order are issued
    CANCELLED = "cancelled"
    UNSUCCESSFUL = "unsuccessful"


class Tender(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    created_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    status: str = Field(default=TenderStatus.PLANNING, max_length=12, index=True)
    title_en: str = Field(max_length=200)
    title_ja: str = Field(max_length=200)
    description_en: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    description_ja: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    category_id: int = Field(foreign_key="procurementcategory.id", index=True)
    min_post_consumer_pct: Decimal = Field(default=Decimal(0), sa_type=ExactDecimal)
    min_total_pct: Decimal = Field(default=Decimal(0), sa_type=ExactDecimal)
    requires_certificate: bool = True
    custody_model: str = Field(default="mass_balance", max_length=20)
    weight_price: int = 50
    weight_recycled: int = 40
    weight_evidence: int = 10
    budget_jpy: int = Field(sa_type=BigInteger)  # tax excluded, like the bids
    enquiry_start: datetime = Field(sa_type=UTCDateTime)
    enquiry_end: datetime = Field(sa_type=UTCDateTime)
    tender_start: datetime = Field(sa_type=UTCDateTime)
    tender_end: datetime = Field(sa_type=UTCDateTime)
    standstill_days: int = 10
    standstill_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    amendment_count: int = 0
    closing_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TenderItem(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("tender_id", "position"),)
    id: int | None = Field(default=None, primary_key=True)
    tender_id: int = Field(foreign_key="tender.id", index=True)
    position: int
    description_en: str = Field(max_length=300)
    description_ja: str = Field(max_length=300)
    quantity: int
    unit: str = Field(max_length=20)


class Enquiry(SQLModel, table=True):
    """A supplier's question during the enquiry period and the officer's public answer.
    The asker is kept for the record but never shown."""

    id: int | None = Field(default=None, primary_key=True)
    tender_id: int = Field(foreign_key="tender.id", index=True)
    asked_by_org_id: int = Field(foreign_key="organization.id")
    asked_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    question: str = Field(sa_column=Column(Text, nullable=False))
    answer: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    asked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answered_by_member_id: int | None = Field(default=None, foreign_key="member.id")


class BidStatus(StrEnum):
    SUBMITTED = "submitted"
    NEEDS_CONFIRMATION = "unconfirmed"  # the tender was amended after the bid
    WITHDRAWN = "withdrawn"
    QUALIFIED = "qualified"  # opened and scored
    DISQUALIFIED = "disqualified"  # opened; reasons kept
    AWARDED = "awarded"
    UNSUCCESSFUL = "unsuccessful"


class Bid(SQLModel, table=True):
    """A sealed bid: nobody but its own organisation reads its content before the tender
    period ends. `content_sha256` is the bidder's receipt of what it submitted."""

    __table_args__ = (UniqueConstraint("tender_id", "organization_id"),)
    id: int | None = Field(default=None, primary_key=True)
    tender_id: int = Field(foreign_key="tender.id", index=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    submitted_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    status: str = Field(default=BidStatus.SUBMITTED, max_length=14, index=True)
    price_jpy: int = Field(sa_type=BigInteger)  # tax excluded, the whole tender
    delivery_date: date
    material_code: str = Field(max_length=40)
    product_mass_kg: int = Field(sa_type=BigInteger)  # mass of all goods offered
    post_consumer_pct: Decimal = Field(sa_type=ExactDecimal)
    total_recycled_pct: Decimal = Field(sa_type=ExactDecimal)
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    content_sha256: str = Field(default="", max_length=64)
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    score_price: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    score_recycled: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    score_evidence: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    score_total: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    disqualification_json: str = Field(
        default="[]", sa_column=Column(Text, nullable=False, default="[]")
    )


class BidEvidence(SQLModel, table=True):
    bid_id: int = Field(foreign_key="bid.id", primary_key=True)
    certificate_id: str = Field(foreign_key="certificate.id", primary_key=True, max_length=32)


class AwardStatus(StrEnum):
    PENDING = "pending"  # decided; standstill period running
    ACTIVE = "active"  # standstill over, contract and order issued
    CANCELLED = "cancelled"


class Award(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    tender_id: int = Field(foreign_key="tender.id", index=True)
    bid_id: int = Field(foreign_key="bid.id", unique=True)
    supplier_org_id: int = Field(foreign_key="organization.id", index=True)
    status: str = Field(default=AwardStatus.PENDING, max_length=10)
    value_jpy: int = Field(sa_type=BigInteger)
    justification: str = Field(sa_column=Column(Text, nullable=False))
    reserved_kg: int = Field(default=0, sa_type=BigInteger)
    decided_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    decided_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    standstill_until: datetime = Field(sa_type=UTCDateTime)


class ProcurementContract(SQLModel, table=True):
    """The contract record of an award, issued after the standstill period."""

    id: int | None = Field(default=None, primary_key=True)
    tender_id: int = Field(foreign_key="tender.id", unique=True)
    award_id: int = Field(foreign_key="award.id", unique=True)
    buyer_org_id: int = Field(foreign_key="organization.id", index=True)
    supplier_org_id: int = Field(foreign_key="organization.id", index=True)
    value_jpy: int = Field(sa_type=BigInteger)
    signed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    delivery_due: date


class OcdsRelease(SQLModel, table=True):
    """A published OCDS 1.1.5 release (immutable): tender, tenderUpdate, tenderCancellation,
    award, contract. The release package serves them as stored."""

    id: int | None = Field(default=None, primary_key=True)
    tender_id: int = Field(foreign_key="tender.id", index=True)
    release_id: str = Field(max_length=80, unique=True)
    tag: str = Field(max_length=24)
    date: datetime = Field(sa_type=UTCDateTime)
    release_json: str = Field(sa_column=Column(Text, nullable=False))


@event.listens_for(OrmSession, "before_flush")
def _stale_prices(session: OrmSession, _context, _instances) -> None:
    """A stored price stops counting the moment what it was worked out from changes: a
    listing's price fields (every writer, whatever the path), or a value of its index (all the
    listings on that index). One UPDATE each, in the flush's transaction; it is a statement, not
    an attribute, because `refresh_prices` writes by statement too and a loaded listing may not
    know its stored month. `refresh_prices` stores the prices again; until then the search
    works the price out as it reads."""
    changed = [
        obj.id
        for obj in session.dirty
        if isinstance(obj, SupplyListing)
        and obj.id is not None
        and any(inspect(obj).attrs[name].history.has_changes() for name in PRICE_FIELDS)
    ]
    index_ids = {
        obj.index_id
        for obj in (*session.new, *session.dirty, *session.deleted)
        if isinstance(obj, IndexValue)
    }
    for column, keys in ((SupplyListing.id, changed), (SupplyListing.index_id, index_ids)):
        if keys:
            session.connection().execute(
                update(SupplyListing)
                .where(col(column).in_(sorted(keys)))
                .values(price_month=None)
                .execution_options(synchronize_session=False)
            )
