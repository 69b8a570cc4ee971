"""Rules for organisations and members: sign-up, verification, roles, logins, tokens, audit."""

import hashlib
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, col, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from market.errors import N_, NotFound, PermissionDenied, TooManyAttempts, ValidationFailed
from market.geography import BY_CODE
from market.models import (
    ApiToken,
    AuditEntry,
    LoginAttempt,
    Member,
    Organization,
    OrgKind,
    OrgStatus,
    PasswordResetToken,
    Role,
)
from quality.dbtypes import utcnow

SIGN_UP_KINDS = (OrgKind.RECYCLER, OrgKind.MANUFACTURER, OrgKind.AGENCY, OrgKind.STANDARDS_BODY)
LOCALES = ("ja", "en")
MIN_PASSWORD_LENGTH = 10
LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILED_LOGINS = 5  # per e-mail address
MAX_FAILED_LOGINS_PER_ADDRESS = 20  # per client IP address, whatever e-mail it tries
RESET_TOKEN_LIFETIME = timedelta(hours=1)
INVITE_TOKEN_LIFETIME = timedelta(days=7)
# Werkzeug's default is scrypt (a memory-hard KDF); tests may set a cheaper method.
PASSWORD_METHOD = "scrypt"


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_METHOD)


def corporate_number_check_digit(base12: str) -> int:
    """Check digit of a 法人番号 from its 12-digit base (National Tax Agency rule)."""
    total = sum(int(d) * (1 if n % 2 == 1 else 2) for n, d in enumerate(reversed(base12), start=1))
    return 9 - total % 9


def check_corporate_number(value: str) -> str:
    """Return the 13-digit corporate number or raise ValidationFailed."""
    value = value.strip()
    if not re.fullmatch(r"\d{13}", value):
        raise ValidationFailed(
            "A corporate number has exactly 13 digits.", field="corporate_number"
        )
    if int(value[0]) != corporate_number_check_digit(value[1:]):
        raise ValidationFailed(
            "The check digit of this corporate number is wrong.", field="corporate_number"
        )
    return value


def normalise_email(value: str, field: str = "email") -> str:
    """Lower-cased, syntax-checked e-mail address (no DNS look-up)."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise ValidationFailed("Enter a valid e-mail address.", field=field) from None


def check_password(value: str) -> str:
    if len(value) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            "The password needs at least %(n)s characters.", field="password", n=MIN_PASSWORD_LENGTH
        )
    if len(value) > 200:
        raise ValidationFailed("The password is too long.", field="password")
    return value


def check_roles(roles: Iterable[str]) -> str:
    """Validated roles as the stored space-separated string."""
    chosen = sorted(set(roles))
    allowed = {r.value for r in Role}
    if not chosen:
        raise ValidationFailed("Choose at least one role.", field="roles")
    for r in chosen:
        if r not in allowed:
            raise ValidationFailed("Unknown role: %(role)s.", field="roles", role=r)
    return " ".join(chosen)


def _text(value: str, field: str, max_len: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed("This field is required.", field=field)
    if len(value) > max_len:
        raise ValidationFailed("At most %(n)s characters.", field=field, n=max_len)
    return value


@dataclass
class OrganizationInput:
    kind: str
    name_ja: str
    name_en: str
    corporate_number: str = ""
    country: str = "JP"
    registry_id: str = ""
    address: str = ""
    prefecture: str = ""
    lat: float | None = None
    lon: float | None = None


def build_organization(session: Session, data: OrganizationInput) -> Organization:
    """Validate organisation data and return an unsaved, unverified Organization."""
    if data.kind not in {k.value for k in SIGN_UP_KINDS}:
        raise ValidationFailed("Choose a valid organisation kind.", field="kind")
    name_ja = _text(data.name_ja, "name_ja", 200)
    name_en = _text(data.name_en, "name_en", 200)
    country = (data.country or "JP").strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise ValidationFailed("Use a two-letter ISO country code.", field="country")
    corporate_number = registry_id = None
    prefecture = (data.prefecture or "").strip() or None
    if country == "JP":
        corporate_number = check_corporate_number(data.corporate_number or "")
        exists = select(Organization.id).where(Organization.corporate_number == corporate_number)
        if session.exec(exists).first() is not None:
            raise ValidationFailed(
                "An organisation with this corporate number is already registered.",
                field="corporate_number",
            )
        if prefecture not in BY_CODE:
            raise ValidationFailed("Choose a prefecture.", field="prefecture")
    else:
        registry_id = _text(data.registry_id, "registry_id", 64)
        if prefecture is not None and prefecture not in BY_CODE:
            raise ValidationFailed("Choose a prefecture.", field="prefecture")
    lat, lon = data.lat, data.lon
    if (lat is None) != (lon is None):
        raise ValidationFailed("Give both latitude and longitude, or neither.", field="lat")
    if lat is not None and not (-90 <= lat <= 90):
        raise ValidationFailed("Latitude lies between -90 and 90.", field="lat")
    if lon is not None and not (-180 <= lon <= 180):
        raise ValidationFailed("Longitude lies between -180 and 180.", field="lon")
    if lat is None and prefecture:
        lat, lon = BY_CODE[prefecture].lat, BY_CODE[prefecture].lon
    return Organization(
        kind=data.kind,
        name_ja=name_ja,
        name_en=name_en,
        corporate_number=corporate_number,
        country=country,
        registry_id=registry_id,
        address=_text(data.address, "address", 300, required=False),
        prefecture=prefecture,
        lat=lat,
        lon=lon,
        status=OrgStatus.UNVERIFIED,
    )


def _check_email_free(session: Session, email: str) -> None:
    if session.exec(select(Member.id).where(Member.email == email)).first() is not None:
        raise ValidationFailed("This e-mail address is already registered.", field="email")


def _check_locale(locale: str) -> str:
    if locale not in LOCALES:
        raise ValidationFailed("Choose Japanese or English.", field="locale")
    return locale


def sign_up(
    session: Session,
    data: OrganizationInput,
    email: str,
    name: str,
    password: str,
    locale: str = "ja",
) -> Member:
    """Create an unverified organisation and its first member (admin); flushes, no commit."""
    org = build_organization(session, data)
    email = normalise_email(email)
    _check_email_free(session, email)
    member = Member(
        email=email,
        name=_text(name, "name", 120),
        password_hash=hash_password(check_password(password)),
        roles=Role.ADMIN.value,
        locale=_check_locale(locale),
    )
    session.add(org)
    session.flush()
    member.organization_id = org.id
    session.add(member)
    session.flush()
    record_audit(session, member, "organization.signed_up", "organization", org.id)
    return member


def add_member(
    session: Session,
    organization: Organization,
    email: str,
    name: str,
    roles: Iterable[str],
    locale: str = "ja",
    password: str | None = None,
) -> Member:
    """Create a member of an organisation (a random password unless one is given)."""
    email = normalise_email(email)
    _check_email_free(session, email)
    member = Member(
        organization_id=organization.id,
        email=email,
        name=_text(name, "name", 120),
        password_hash=hash_password(
            check_password(password) if password else secrets.token_urlsafe(32)
        ),
        roles=check_roles(roles),
        locale=_check_locale(locale),
    )
    session.add(member)
    session.flush()
    return member


# Who may do what, beyond the organisation's verification (one home for the page and the API).
LISTING_ROLES = (Role.TRADER.value, Role.ADMIN.value)
CERTIFY_ROLES = (Role.ADMIN.value, Role.INSPECTOR.value, Role.SIGNATORY.value)


def require_role(member: Member, roles: Iterable[str], message: str) -> None:
    """PermissionDenied(message) unless the member holds one of the roles."""
    if not any(member.has_role(r) for r in roles):
        raise PermissionDenied(message)


def require_lister(member: Member) -> None:
    """Only traders and administrators manage listings and requests."""
    require_role(
        member, LISTING_ROLES, N_("Only traders and administrators manage listings and requests.")
    )


def require_certifier(session: Session, member: Member) -> Organization:
    """A verified organisation's admin, inspector or signatory issues certificates."""
    org = session.get(Organization, member.organization_id)
    require_verified(org)
    require_role(
        member,
        CERTIFY_ROLES,
        N_("Only administrators, inspectors and signatories issue certificates."),
    )
    return org


def require_admin(actor: Member) -> None:
    if not actor.has_role(Role.ADMIN):
        raise PermissionDenied("Only an administrator of the organisation may do this.")


def require_operator(session: Session, actor: Member) -> Organization:
    org = session.get(Organization, actor.organization_id)
    if org is None or org.kind != OrgKind.OPERATOR:
        raise PermissionDenied("Only the marketplace operator may do this.")
    return org


def require_verified(organization: Organization) -> None:
    """The one check before an organisation publishes or signs anything."""
    if organization.status == OrgStatus.SUSPENDED:
        raise PermissionDenied("This organisation is suspended and may not publish or sign.")
    if organization.status != OrgStatus.VERIFIED:
        raise PermissionDenied("Only verified organisations may publish or sign.")


def invite_member(
    session: Session, actor: Member, email: str, name: str, roles: Iterable[str], locale: str
) -> tuple[Member, str]:
    """An admin invites a colleague; returns the member and a set-password token to e-mail."""
    require_admin(actor)
    org = session.get(Organization, actor.organization_id)
    member = add_member(session, org, email, name, roles, locale)
    raw = _new_reset_token(session, member, INVITE_TOKEN_LIFETIME)
    record_audit(session, actor, "member.invited", "member", member.id, {"email": member.email})
    return member, raw


def _own_member(session: Session, actor: Member, member_id: int) -> Member:
    member = session.get(Member, member_id)
    if member is None or member.organization_id != actor.organization_id or not member.active:
        raise NotFound("No such member in your organisation.")
    return member


def _other_admins(session: Session, member: Member) -> int:
    others = session.exec(
        select(Member).where(
            Member.organization_id == member.organization_id,
            Member.id != member.id,
            Member.active == True,  # noqa: E712
        )
    ).all()
    return sum(1 for m in others if m.has_role(Role.ADMIN))


def change_roles(session: Session, actor: Member, member_id: int, roles: Iterable[str]) -> Member:
    """An admin changes a member's roles; the last admin keeps the admin role."""
    require_admin(actor)
    member = _own_member(session, actor, member_id)
    new_roles = check_roles(roles)
    if member.has_role(Role.ADMIN) and "admin" not in new_roles.split():
        if _other_admins(session, member) == 0:
            raise ValidationFailed(
                "The organisation needs at least one administrator.", field="roles"
            )
    old = member.roles
    member.roles = new_roles
    session.add(member)
    record_audit(
        session, actor, "member.roles_changed", "member", member.id, {"from": old, "to": new_roles}
    )
    return member


def remove_member(session: Session, actor: Member, member_id: int) -> Member:
    """An admin removes a member (deactivated, tokens revoked); never the last admin."""
    require_admin(actor)
    member = _own_member(session, actor, member_id)
    if member.has_role(Role.ADMIN) and _other_admins(session, member) == 0:
        raise ValidationFailed("The organisation needs at least one administrator.", field="member")
    member.active = False
    session.add(member)
    for token in session.exec(
        select(ApiToken).where(ApiToken.member_id == member.id, ApiToken.revoked_at == None)  # noqa: E711
    ):
        token.revoked_at = utcnow()
        session.add(token)
    record_audit(session, actor, "member.removed", "member", member.id, {"email": member.email})
    return member


def set_organization_status(
    session: Session, operator: Member, organization_id: int, status: str, reason: str = ""
) -> Organization:
    """The operator verifies, suspends or reinstates an organisation; audited."""
    require_operator(session, operator)
    if status not in (OrgStatus.VERIFIED, OrgStatus.SUSPENDED):
        raise ValidationFailed("Unknown organisation status.", field="status")
    org = session.get(Organization, organization_id)
    if org is None:
        raise NotFound("No such organisation.")
    if org.kind == OrgKind.OPERATOR:
        raise PermissionDenied("The operator organisation cannot be changed here.")
    reason = _text(reason, "reason", 500, required=status == OrgStatus.SUSPENDED)
    old = org.status
    org.status = status
    if status == OrgStatus.VERIFIED and org.verified_at is None:
        org.verified_at = utcnow()
    session.add(org)
    record_audit(
        session,
        operator,
        f"organization.{status}",
        "organization",
        org.id,
        {"from": old, "to": status, "reason": reason},
    )
    return org


def record_audit(
    session: Session,
    actor: Member | None,
    action: str,
    target_type: str,
    target_id: int | None,
    detail: dict | None = None,
) -> AuditEntry:
    """Append one audit-log entry."""
    entry = AuditEntry(
        actor_member_id=actor.id if actor else None,
        actor_organization_id=actor.organization_id if actor else None,
        action=action,
        target_type=target_type,
        target_id=target_id,
        detail=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True),
    )
    session.add(entry)
    return entry


def authenticate(session: Session, email: str, password: str, remote_addr: str = "") -> Member:
    """Check a login; throttled per e-mail address and per client address in a 15-minute window."""
    email = (email or "").strip().lower()
    since = utcnow() - LOGIN_WINDOW
    failures = session.exec(
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            LoginAttempt.email == email,
            LoginAttempt.succeeded == False,  # noqa: E712
            col(LoginAttempt.at) >= since,
        )
    ).one()
    if failures >= MAX_FAILED_LOGINS:
        raise TooManyAttempts("Too many failed logins. Try again in 15 minutes.")
    if remote_addr:
        from_address = session.exec(
            select(func.count())
            .select_from(LoginAttempt)
            .where(
                LoginAttempt.remote_addr == remote_addr[:64],
                LoginAttempt.succeeded == False,  # noqa: E712
                col(LoginAttempt.at) >= since,
            )
        ).one()
        if from_address >= MAX_FAILED_LOGINS_PER_ADDRESS:
            raise TooManyAttempts("Too many failed logins. Try again in 15 minutes.")
    member = session.exec(select(Member).where(Member.email == email)).first()
    ok = bool(member and member.active and check_password_hash(member.password_hash, password))
    session.add(LoginAttempt(email=email[:254], remote_addr=remote_addr[:64], succeeded=ok))
    if not ok:
        raise ValidationFailed("Wrong e-mail address or password.", field="password")
    return member


def _sha256(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_api_token(session: Session, member: Member, name: str) -> tuple[ApiToken, str]:
    """A new bearer token; the raw value is shown once and only its hash is stored."""
    raw = "jk_" + secrets.token_urlsafe(32)
    token = ApiToken(
        member_id=member.id,
        name=_text(name, "name", 80),
        token_sha256=_sha256(raw),
        prefix=raw[:10],
    )
    session.add(token)
    session.flush()
    return token, raw


def member_for_token(session: Session, raw: str) -> Member | None:
    """The active member a bearer token belongs to, or None."""
    token = session.exec(
        select(ApiToken).where(ApiToken.token_sha256 == _sha256(raw), ApiToken.revoked_at == None)  # noqa: E711
    ).first()
    if token is None:
        return None
    member = session.get(Member, token.member_id)
    if member is None or not member.active:
        return None
    token.last_used_at = utcnow()
    session.add(token)
    return member


def revoke_api_token(session: Session, member: Member, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.member_id != member.id:
        raise NotFound("No such token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
    return token


def _new_reset_token(session: Session, member: Member, lifetime: timedelta) -> str:
    raw = secrets.token_urlsafe(32)
    session.add(
        PasswordResetToken(
            member_id=member.id, token_sha256=_sha256(raw), expires_at=utcnow() + lifetime
        )
    )
    session.flush()
    return raw


def request_password_reset(session: Session, email: str) -> tuple[Member, str] | None:
    """A reset token for an active member, or None (the caller says the same either way)."""
    member = session.exec(select(Member).where(Member.email == email.strip().lower())).first()
    if member is None or not member.active:
        return None
    return member, _new_reset_token(session, member, RESET_TOKEN_LIFETIME)


def reset_password(session: Session, raw: str, new_password: str) -> Member:
    """Use a single-use, unexpired token to set a new password."""
    token = session.exec(
        select(PasswordResetToken).where(PasswordResetToken.token_sha256 == _sha256(raw))
    ).first()
    if token is None or token.used_at is not None or token.expires_at < utcnow():
        raise ValidationFailed("This link is invalid or has expired.", field="token")
    member = session.get(Member, token.member_id)
    member.password_hash = hash_password(check_password(new_password))
    token.used_at = utcnow()
    session.add_all([member, token])
    return member


def set_locale(session: Session, member: Member, locale: str) -> None:
    member.locale = _check_locale(locale)
    session.add(member)
