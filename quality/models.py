"""Tables of the quality package: catalogue, grade standards and versions, assays, certificates.

Organisations and members are the ground floor's (participants): real foreign keys.
"""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Column, Text, UniqueConstraint
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
    uncertainty: Decimal = Field(default=Decimal(0), sa_type=ExactDecimal)


class Certificate(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=32)
    assay_id: int = Field(foreign_key="assay.id", index=True)
    version_id: int = Field(foreign_key="standardversion.id")
    issuer_org_id: int = Field(foreign_key="organization.id", index=True)
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    content_json: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str = Field(max_length=64)
