"""Participants: organisations, members, API tokens, password-reset tokens, audit log."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from quality.dbtypes import UTCDateTime, utcnow


class OrgKind(StrEnum):
    RECYCLER = "recycler"
    MANUFACTURER = "manufacturer"
    AGENCY = "agency"
    STANDARDS_BODY = "standards_body"
    OPERATOR = "operator"


class OrgStatus(StrEnum):
    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    SUSPENDED = "suspended"


class Role(StrEnum):
    ADMIN = "admin"
    TRADER = "trader"
    SIGNATORY = "signatory"
    INSPECTOR = "inspector"
    OFFICER = "officer"


class Organization(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20, index=True)
    name_ja: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    corporate_number: str | None = Field(default=None, max_length=13, unique=True)
    country: str = Field(default="JP", max_length=2)
    registry_id: str | None = Field(default=None, max_length=64)
    address: str = Field(default="", max_length=300)
    prefecture: str | None = Field(default=None, max_length=2, index=True)
    lat: float | None = None
    lon: float | None = None
    status: str = Field(default=OrgStatus.UNVERIFIED, max_length=12, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def is_verified(self) -> bool:
        return self.status == OrgStatus.VERIFIED


class Member(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(max_length=120)
    password_hash: str = Field(max_length=255)
    roles: str = Field(default="", max_length=120)
    locale: str = Field(default="ja", max_length=5)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split() if r)

    def has_role(self, role: str) -> bool:
        return role in self.role_set


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    name: str = Field(max_length=80)
    token_sha256: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=12)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PasswordResetToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    token_sha256: str = Field(max_length=64, unique=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginAttempt(SQLModel, table=True):
    __table_args__ = (Index("ix_loginattempt_email_at", "email", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254)
    remote_addr: str = Field(default="", max_length=64)
    succeeded: bool = False
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AuditEntry(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor_member_id: int | None = Field(default=None, foreign_key="member.id")
    actor_organization_id: int | None = Field(default=None, foreign_key="organization.id")
    action: str = Field(max_length=60)
    target_type: str = Field(max_length=40)
    target_id: int | None = None
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))

