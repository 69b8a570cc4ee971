"""Identity tables: organisations, members, sessions, API tokens, password-reset tokens, logins,
audit log.

The ground floor: every other package may import this; it imports none of them.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from participants.columns import UTCDateTime, utcnow


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
    # Japan's qualified invoice system: a seller's registration number, "T" + 13 digits.
    qualified_invoice_number: str | None = Field(default=None, max_length=14)
    stripe_customer_id: str | None = Field(default=None, max_length=64)

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


class TokenState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    name: str = Field(max_length=80)
    token_sha256: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=12)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    def state(self, now: datetime | None = None) -> TokenState:
        """Revoked, expired (at `expires_at` and after) or active."""
        if self.revoked_at is not None:
            return TokenState.REVOKED
        if self.expires_at <= (now or utcnow()):
            return TokenState.EXPIRED
        return TokenState.ACTIVE


class MemberSession(SQLModel, table=True):
    """A logged-in browser: its random id is in the signed session cookie, only its SHA-256
    here, so that logging out, a password change or reset, or the member's own "end this
    session" ends it on the server (a replayed cookie no longer works)."""

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    token_sha256: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    user_agent: str = Field(default="", max_length=200)
    remote_addr: str = Field(default="", max_length=64)


class PasswordResetToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    token_sha256: str = Field(max_length=64, unique=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginAttempt(SQLModel, table=True):
    __table_args__ = (
        Index("ix_loginattempt_email_remote_addr_at", "email", "remote_addr", "at"),
        Index("ix_loginattempt_remote_addr_at", "remote_addr", "at"),
    )
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
