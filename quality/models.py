"""Tables of the quality package: catalogue, grade standards and versions, assays, certificates.

Organisations and members are the ground floor's (participants): real foreign keys.
"""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from participants.columns import ExactDecimal, UTCDateTime, utcnow
from participants.models import Member, Organization  # noqa: F401  (foreign-key targets)


class VersionStatus(StrEnum):
    DRAFT = "draft"
    CONSULTATION = "consultation"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"
    RETIRED = "retired"


class Position(StrEnum):
    ENDORSE = "endorse"
    OBJECT = "object"
    COMMENT = "comment"


class Material(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    family: str = Field(max_length=12, index=True)
    name_en: str = Field(max_length=120)
    name_ja: str = Field(max_length=120)
    critical: bool = False


class Parameter(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name_en: str = Field(max_length=120)
    name_ja: str = Field(max_length=120)
    unit: str = Field(max_length=20)
    basis: str = Field(default="", max_length=120)
    derived_from: str = Field(default="", max_length=200)  # space-separated codes summed


class GradeStandard(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    material_code: str = Field(max_length=40, index=True)
    name_en: str = Field(max_length=200)
    name_ja: str = Field(max_length=200)
    rank: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class StandardVersion(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("standard_id", "number", name="uq_standardversion_number"),)
    id: int | None = Field(default=None, primary_key=True)
    standard_id: int = Field(foreign_key="gradestandard.id", index=True)
    number: int
    status: str = Field(default=VersionStatus.DRAFT, max_length=14, index=True)
    decision_rule: str = Field(default="simple", max_length=10)
    spec_json: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(default="", max_length=300)
    change_note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    proposed_by_org_id: int | None = Field(default=None, foreign_key="organization.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    consultation_ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    effective_from: date | None = None
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Why it was published while its consultation was open or an objection stood ("" if not).
    publish_justification: str = Field(
        default="", sa_column=Column(Text, nullable=False, default="", server_default="")
    )


class ConsultationResponse(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("version_id", "organization_id", name="uq_consultation_org"),
    )
    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="standardversion.id", index=True)
    organization_id: int = Field(foreign_key="organization.id")
    organization_kind: str = Field(max_length=20)
    member_id: int | None = Field(default=None, foreign_key="member.id")
    position: str = Field(max_length=10)
    comment: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Assay(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    lot_ref: str = Field(max_length=80)
    material_code: str = Field(max_length=40)
    lab_name: str = Field(max_length=200)
    lab_accredited: bool = False
    method: str = Field(default="", max_length=200)
    sampled_on: date
    reported_on: date
    evidence_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    tonnes_kg: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AssayResult(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("assay_id", "parameter", name="uq_assayresult_parameter"),)
    id: int | None = Field(default=None, primary_key=True)
    assay_id: int = Field(foreign_key="assay.id", index=True)
    parameter: str = Field(max_length=40)
    value: Decimal = Field(sa_type=ExactDecimal)
    # The expanded uncertainty U (±) the laboratory stated; None when it stated none (a stated
    # 0 is taken as none: no measurement is exact). Grading counts None as 0 (migration 0016).
    uncertainty: Decimal | None = Field(default=None, sa_type=ExactDecimal, nullable=True)


class Certificate(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=32)
    assay_id: int = Field(foreign_key="assay.id", index=True)
    version_id: int = Field(foreign_key="standardversion.id")
    issuer_org_id: int = Field(foreign_key="organization.id", index=True)
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    content_json: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str = Field(max_length=64)


# ----------------------------------------------------------------------------------------------
# Chain of custody (mass balance): an organisation's recycled-input balance per material.
# ----------------------------------------------------------------------------------------------


class CustodyKind(StrEnum):
    CREDIT = "credit"  # recycled input received (an accepted delivery of an offtake contract)
    DEBIT = "debit"  # a recycled-content claim sold (a direct purchase, an issued award order)
    RESERVE = "reserve"  # held for an award until its order is issued
    RELEASE = "release"  # a reservation given back (award cancelled) or turned into a debit
    REVERSAL = "reversal"  # a credit withdrawn (the delivery it came from stopped counting)


class CustodyAccount(SQLModel, table=True):
    """An organisation's recycled-input balance of one material, in kilograms.

    `available_kg` = credited − debited − reserved (− reversed) and only changes through one
    conditional UPDATE that keeps it at or above zero: the ledger never goes negative, even
    when two awards or purchases draw on it at once."""

    __table_args__ = (
        UniqueConstraint("organization_id", "material_code", name="uq_custody_account"),
        CheckConstraint("available_kg >= 0", name="ck_custody_available_not_negative"),
    )
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    material_code: str = Field(max_length=40)
    input_kg: int = Field(default=0, sa_type=BigInteger)  # all input received, recycled or not
    credited_kg: int = Field(default=0, sa_type=BigInteger)  # recycled mass received
    debited_kg: int = Field(default=0, sa_type=BigInteger)  # recycled mass claimed by sales
    reserved_kg: int = Field(default=0, sa_type=BigInteger)  # held for awards
    available_kg: int = Field(default=0, sa_type=BigInteger)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CustodyEntry(SQLModel, table=True):
    """One movement of a custody account (append-only). (kind, source, source_id) is unique:
    a delivery credits once, an order debits once, an award reserves once, however often the
    step runs."""

    __table_args__ = (
        UniqueConstraint("kind", "source", "source_id", name="uq_custody_entry_source"),
    )
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="custodyaccount.id", index=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    material_code: str = Field(max_length=40)
    kind: str = Field(max_length=10)
    kg: int = Field(sa_type=BigInteger)  # recycled kilograms moved (positive)
    input_kg: int = Field(default=0, sa_type=BigInteger)  # credits: the input's whole mass
    recycled_share_pct: Decimal = Field(default=Decimal(100), sa_type=ExactDecimal)
    source: str = Field(max_length=20)  # delivery | order | award
    source_id: int
    # Credits: the assay of the delivered lot, so its certificates can back the claims made
    # from this input (the certificate travels with the material down the chain).
    assay_id: int | None = Field(default=None, foreign_key="assay.id")
    note: str = Field(default="", max_length=300)
    available_after_kg: int = Field(sa_type=BigInteger)
    member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
