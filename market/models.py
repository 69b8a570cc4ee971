"""Market tables: listings, requests, price indices, match runs, proposals, alerts."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from participants.columns import ExactDecimal, UTCDateTime, utcnow

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


class SupplyListing(SQLModel, table=True):
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
    expires_on: date
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def available_kg(self) -> int:
        return self.monthly_kg - self.committed_kg

    @property
    def invited(self) -> frozenset[int]:
        return frozenset(int(x) for x in self.invited_org_ids.split() if x)


class OfftakeRequest(SQLModel, table=True):
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
