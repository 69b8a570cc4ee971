"""Offtake contracts and their versioned terms (the negotiation lifecycle comes later)."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from quality.dbtypes import ExactDecimal, UTCDateTime, utcnow


class ContractStatus(StrEnum):
    DRAFT = "draft"


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


class ContractTerms(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("contract_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="offtakecontract.id", index=True)
    version: int = 1
    start_month: date
    term_months: int
    monthly_kg: int
    tolerance_pct: Decimal = Field(default=Decimal("5"), sa_type=ExactDecimal)
    take_or_pay_pct: Decimal = Field(default=Decimal("80"), sa_type=ExactDecimal)
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
    payment_days: int = 30
    proposed_by_org_id: int | None = Field(default=None, foreign_key="organization.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
