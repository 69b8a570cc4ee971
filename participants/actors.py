"""Who is acting, and who may do what.

Every domain entry point that reads confidential data or changes state takes the acting
member as an `Actor` (a small immutable value) and checks a `Permission` itself, so that the
page, the API, the CLI and the scheduler cannot disagree.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session

from participants.errors import N_, PermissionDenied
from participants.models import Member, Organization, OrgKind, OrgStatus, Role


@dataclass(frozen=True)
class Actor:
    """The acting member: member id, organisation id and kind, roles, verification."""

    member_id: int | None
    organization_id: int | None
    organization_kind: str
    roles: frozenset[str]
    verified: bool
    suspended: bool = False

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    @property
    def is_operator(self) -> bool:
        return self.organization_kind == OrgKind.OPERATOR

    def owns(self, organization_id: int | None) -> bool:
        """True when a record of `organization_id` belongs to the actor's organisation."""
        return organization_id is not None and organization_id == self.organization_id


def actor_of(member: Member, organization: Organization) -> Actor:
    """The Actor of a member of an organisation (read at the start of a request or job)."""
    return Actor(
        member_id=member.id,
        organization_id=organization.id,
        organization_kind=organization.kind,
        roles=member.role_set,
        verified=organization.status == OrgStatus.VERIFIED,
        suspended=organization.status == OrgStatus.SUSPENDED,
    )


def load_actor(session: Session, member_id: int) -> Actor | None:
    """The Actor of an active member, or None."""
    member = session.get(Member, member_id)
    if member is None or not member.active:
        return None
    return actor_of(member, session.get(Organization, member.organization_id))


# The scheduler and command-line jobs act for the marketplace itself.
SYSTEM = Actor(
    member_id=None,
    organization_id=None,
    organization_kind=OrgKind.OPERATOR,
    roles=frozenset(r.value for r in Role),
    verified=True,
)

SUSPENDED_MESSAGE = N_(
    "Your organisation is suspended: it may not act on the marketplace "
    "until the operator reinstates it."
)
UNVERIFIED_MESSAGE = N_(
    "Only members of verified organisations may do this; "
    "the marketplace operator verifies organisations after sign-up."
)


@dataclass(frozen=True)
class Permission:
    """Who may do one thing: organisation kinds, roles (any one of them), verification.

    An empty `kinds` or `roles` admits any. A suspended organisation never passes a
    permission that needs verification, nor a drafting one (`drafting`: open to unverified
    organisations, so that work typed before verification is kept as a draft).
    """

    message: str
    kinds: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    verified: bool = True
    kind_message: str | None = None
    drafting: bool = False

    def denial(self, actor: Actor | None) -> str | None:
        """Why the actor may not do this (an untranslated message), or None when it may."""
        if actor is None:
            return self.message
        if (self.verified or self.drafting) and actor.suspended:
            return SUSPENDED_MESSAGE
        if self.verified and not actor.verified:
            return UNVERIFIED_MESSAGE
        if self.kinds and actor.organization_kind not in self.kinds:
            return self.kind_message or self.message
        if self.roles and not actor.roles & self.roles:
            return self.message
        return None

    def allows(self, actor: Actor | None) -> bool:
        return self.denial(actor) is None

    def check(self, actor: Actor | None) -> Actor:
        """The actor, or PermissionDenied with the first reason that stops it."""
        reason = self.denial(actor)
        if reason is not None:
            raise PermissionDenied(reason)
        return actor


def permission(
    message: str,
    kinds: Iterable[str] = (),
    roles: Iterable[str] = (),
    verified: bool = True,
    kind_message: str | None = None,
    drafting: bool = False,
) -> Permission:
    return Permission(
        message,
        frozenset(str(k) for k in kinds),
        frozenset(str(r) for r in roles),
        verified,
        kind_message,
        drafting,
    )


def drafting(of: Permission) -> Permission:
    """The same permission for drafting: unverified organisations pass, suspended ones do not."""
    return Permission(of.message, of.kinds, of.roles, False, of.kind_message, True)


# Permissions of the ground floor; each package declares its own beside its entry points.
VERIFIED_MEMBER = permission(UNVERIFIED_MESSAGE)
ADMINISTER_ORGANIZATION = permission(
    N_("Only an administrator of the organisation may do this."),
    roles=[Role.ADMIN],
    verified=False,
)
OPERATE_MARKETPLACE = permission(
    N_("Only the marketplace operator may do this."), kinds=[OrgKind.OPERATOR], verified=False
)
