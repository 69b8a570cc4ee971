"""Rules for organisations and members: sign-up, verification, roles, logins, sessions, tokens."""

import hashlib
import math
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, Field
from sqlalchemy import String, bindparam
from sqlmodel import Session, col, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from participants.actors import (
    ADMINISTER_ORGANIZATION,
    OPERATE_MARKETPLACE,
    Actor,
    actor_of,
    permission,
)
from participants.audit import record_audit
from participants.columns import utcnow
from participants.countries import check_country
from participants.errors import (
    N_,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
    Unauthenticated,
    ValidationFailed,
)
from participants.fields import has_forbidden_characters
from participants.geography import BY_CODE
from participants.models import (
    ApiToken,
    LoginAttempt,
    Member,
    MemberSession,
    Organization,
    OrgKind,
    OrgStatus,
    PasswordResetToken,
    Role,
    TokenState,
)
from participants.registration import check_registry_id

SIGN_UP_KINDS = (OrgKind.RECYCLER, OrgKind.MANUFACTURER, OrgKind.AGENCY, OrgKind.STANDARDS_BODY)
LOCALES = ("ja", "en")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200

# Login throttling. Guessing is slowed per (account, client address): after
# LOGIN_FREE_FAILURES failures in a row the next try waits 1 s, then 2 s, 4 s, … up to
# LOGIN_BACKOFF_MAX after the latest failure. A right password from another address is never
# refused because of these failures. Against password spraying (one address, many accounts):
# once an address has SPRAY_FAILURES failures within SPRAY_WINDOW, each try from it waits
# SPRAY_SLOWDOWN after the address's latest failure — except for accounts that have logged in
# successfully from that address within KNOWN_ADDRESS_MEMORY, which are not slowed at all.
LOGIN_FREE_FAILURES = 5
LOGIN_BACKOFF_BASE = timedelta(seconds=1)
LOGIN_BACKOFF_MAX = timedelta(minutes=15)
LOGIN_FAILURE_MEMORY = timedelta(hours=24)  # older failures are forgotten
SPRAY_WINDOW = timedelta(minutes=15)
SPRAY_FAILURES = 20
SPRAY_SLOWDOWN = timedelta(seconds=5)
KNOWN_ADDRESS_MEMORY = timedelta(days=30)

# Sessions and tokens: "last seen" / "last used" are written at most once a minute.
SEEN_RESOLUTION = timedelta(minutes=1)
DEFAULT_SESSION_IDLE = timedelta(days=14)
DEFAULT_TOKEN_LIFETIME = timedelta(days=90)
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


REGISTRATION_NUMBER_FIELD = "qualified_invoice_number"


def check_registration_number(value: str | None) -> str | None:
    """A qualified-invoice issuer's registration number (適格請求書発行事業者登録番号), or None
    for an empty value; else ValidationFailed.

    The number is "T" and 13 digits: a corporation's is T + its corporate number; a sole
    proprietor's (and an association's without a corporate number) is T + a 13-digit number
    the National Tax Agency assigns in the same scheme (never the My Number). Both carry the
    corporate-number check digit as their first digit, which is verified here. Spaces and
    hyphens are ignored and a lower-case or full-width T/digit is accepted (NFKC).
    """
    text = unicodedata.normalize("NFKC", value or "").strip()
    text = re.sub(r"[\s-]", "", text).upper()
    if not text:
        return None
    if not re.fullmatch(r"T\d{13}", text):
        raise ValidationFailed(
            "A registration number is T followed by 13 digits.", field=REGISTRATION_NUMBER_FIELD
        )
    if int(text[1]) != corporate_number_check_digit(text[2:]):
        raise ValidationFailed(
            "The check digit of this registration number is wrong.",
            field=REGISTRATION_NUMBER_FIELD,
        )
    return text


def set_registration_number(session: Session, actor: Actor, value: str | None) -> Organization:
    """An admin sets (or clears, with an empty value) the organisation's qualified-invoice
    registration number; invoices issued afterwards carry it."""
    ADMINISTER_ORGANIZATION.check(actor)
    number = check_registration_number(value)
    org = session.get(Organization, actor.organization_id)
    if org is None:
        raise NotFound("No such organisation.")
    old = org.qualified_invoice_number
    org.qualified_invoice_number = number
    session.add(org)
    record_audit(
        session,
        actor,
        "organization.registration_number_changed",
        "organization",
        org.id,
        {"from": old, "to": number},
    )
    return org


def set_registry_id(session: Session, actor: Actor, value: str | None) -> Organization:
    """An admin of an organisation outside Japan corrects its registration number in its
    country (checked by the country's shape, `participants.registration`); audited. A Japanese
    organisation is identified by its corporate number instead (422)."""
    ADMINISTER_ORGANIZATION.check(actor)
    org = session.get(Organization, actor.organization_id)
    if org is None:
        raise NotFound("No such organisation.")
    if org.country == "JP":
        raise ValidationFailed(
            "A Japanese organisation is identified by its corporate number.", field="registry_id"
        )
    number = check_registry_id(org.country, value)
    old = org.registry_id
    org.registry_id = number
    session.add(org)
    record_audit(
        session,
        actor,
        "organization.registry_id_changed",
        "organization",
        org.id,
        {"from": old, "to": number},
    )
    return org


def normalise_email(value: str, field: str = "email") -> str:
    """Lower-cased, syntax-checked e-mail address (no DNS look-up)."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise ValidationFailed("Enter a valid e-mail address.", field=field) from None


def check_password(value: str, field: str = "password") -> str:
    if len(value) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            "The password needs at least %(n)s characters.", field=field, n=MIN_PASSWORD_LENGTH
        )
    if len(value) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed("The password is too long.", field=field)
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
    """Stripped text of at most `max_len` characters, without control or bidi characters."""
    value = unicodedata.normalize("NFC", (value or "").strip())
    if has_forbidden_characters(value):
        raise ValidationFailed(
            "Remove control or text-direction characters from the text.", field=field
        )
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


class _Problems:
    """Collects every field error of one input instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[ValidationFailed] = []

    def check(self, rule, *args, **kwargs):
        """rule(*args, **kwargs), or None with its ValidationFailed kept."""
        try:
            return rule(*args, **kwargs)
        except ValidationFailed as err:
            self.errors.append(err)
            return None

    def add(self, message: str, field: str, **params) -> None:
        self.errors.append(ValidationFailed(message, field=field, **params))


def _organization(
    session: Session, data: OrganizationInput, problems: _Problems
) -> Organization | None:
    """The unsaved, unverified Organization of `data`, with every field error in `problems`.

    The English legal name is optional for a Japanese company (its Japanese name stands in on
    English pages); organisations elsewhere give it."""
    if data.kind not in {k.value for k in SIGN_UP_KINDS}:
        problems.add(N_("Choose a valid organisation kind."), "kind")
    name_ja = problems.check(_text, data.name_ja, "name_ja", 200)
    country = problems.check(check_country, data.country or "JP")
    japanese = country == "JP" or (country is None and not (data.country or "").strip())
    name_en = problems.check(_text, data.name_en, "name_en", 200, required=not japanese)
    if japanese and not name_en:
        name_en = name_ja
    corporate_number = registry_id = None
    prefecture = (data.prefecture or "").strip() or None
    if country == "JP":
        corporate_number = problems.check(check_corporate_number, data.corporate_number or "")
        exists = select(Organization.id).where(Organization.corporate_number == corporate_number)
        if corporate_number and session.exec(exists).first() is not None:
            problems.add(
                N_("An organisation with this corporate number is already registered."),
                "corporate_number",
            )
        if prefecture not in BY_CODE:
            problems.add(N_("Choose a prefecture."), "prefecture")
    elif country is not None:
        registry_id = problems.check(check_registry_id, country, data.registry_id)
        if prefecture is not None and prefecture not in BY_CODE:
            problems.add(N_("Choose a prefecture."), "prefecture")
    lat, lon = data.lat, data.lon
    if (lat is None) != (lon is None):
        problems.add(N_("Give both latitude and longitude, or neither."), "lat")
    elif lat is not None and not (-90 <= lat <= 90):
        problems.add(N_("Latitude lies between -90 and 90."), "lat")
    elif lon is not None and not (-180 <= lon <= 180):
        problems.add(N_("Longitude lies between -180 and 180."), "lon")
    if lat is None and prefecture in BY_CODE:
        lat, lon = BY_CODE[prefecture].lat, BY_CODE[prefecture].lon
    address = problems.check(_text, data.address, "address", 300, required=False)
    if problems.errors:
        return None
    return Organization(
        kind=data.kind,
        name_ja=name_ja,
        name_en=name_en,
        corporate_number=corporate_number,
        country=country,
        registry_id=registry_id,
        address=address,
        prefecture=prefecture,
        lat=lat,
        lon=lon,
        status=OrgStatus.UNVERIFIED,
    )


def build_organization(session: Session, data: OrganizationInput) -> Organization:
    """Validate organisation data and return an unsaved, unverified Organization (the first
    field error raised; `sign_up_errors` gives them all)."""
    problems = _Problems()
    org = _organization(session, data, problems)
    if problems.errors:
        raise problems.errors[0]
    return org


def sign_up_errors(
    session: Session,
    data: OrganizationInput,
    email: str,
    name: str,
    password: str,
    locale: str = "ja",
) -> list[ValidationFailed]:
    """Every field error of a sign-up at once (organisation, member, e-mail, password)."""
    problems = _Problems()
    _organization(session, data, problems)
    _member_fields(session, problems, email, name, password, locale)
    return problems.errors


def _member_fields(
    session: Session, problems: _Problems, email: str, name: str, password: str, locale: str
) -> tuple:
    address = problems.check(normalise_email, email or "")
    if address is not None:
        problems.check(_check_email_free, session, address)
    return (
        address,
        problems.check(_text, name, "name", 120),
        problems.check(check_password, password or ""),
        problems.check(_check_locale, locale),
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
    """Create an unverified organisation and its first member (admin); flushes, no commit.

    Raises the first field error; `sign_up_errors` lists them all (the page shows each)."""
    problems = _Problems()
    org = _organization(session, data, problems)
    email, name, password, locale = _member_fields(session, problems, email, name, password, locale)
    if problems.errors:
        raise problems.errors[0]
    member = Member(
        email=email,
        name=name,
        password_hash=hash_password(password),
        roles=Role.ADMIN.value,
        locale=locale,
    )
    session.add(org)
    session.flush()
    member.organization_id = org.id
    session.add(member)
    session.flush()
    record_audit(session, actor_of(member, org), "organization.signed_up", "organization", org.id)
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


def invite_member(
    session: Session, actor: Actor, email: str, name: str, roles: Iterable[str], locale: str
) -> tuple[Member, str]:
    """An admin invites a colleague; returns the member and a set-password token to e-mail."""
    ADMINISTER_ORGANIZATION.check(actor)
    org = session.get(Organization, actor.organization_id)
    member = add_member(session, org, email, name, roles, locale)
    raw = _new_reset_token(session, member, INVITE_TOKEN_LIFETIME)
    record_audit(session, actor, "member.invited", "member", member.id, {"email": member.email})
    return member, raw


def _own_member(session: Session, actor: Actor, member_id: int) -> Member:
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


def change_roles(session: Session, actor: Actor, member_id: int, roles: Iterable[str]) -> Member:
    """An admin changes a member's roles; the last admin keeps the admin role."""
    ADMINISTER_ORGANIZATION.check(actor)
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


def remove_member(session: Session, actor: Actor, member_id: int) -> Member:
    """An admin removes a member (deactivated, sessions ended, tokens revoked); never the last
    admin."""
    ADMINISTER_ORGANIZATION.check(actor)
    member = _own_member(session, actor, member_id)
    if member.has_role(Role.ADMIN) and _other_admins(session, member) == 0:
        raise ValidationFailed("The organisation needs at least one administrator.", field="member")
    member.active = False
    session.add(member)
    _end_access(session, member.id)
    record_audit(session, actor, "member.removed", "member", member.id, {"email": member.email})
    return member


def set_organization_status(
    session: Session, operator: Actor, organization_id: int, status: str, reason: str = ""
) -> Organization:
    """The operator verifies, suspends or reinstates an organisation; audited."""
    OPERATE_MARKETPLACE.check(operator)
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


# ---------------------------------------------------------------------------------------------
# Logging in: throttled guessing


def login_backoff(failures: int) -> timedelta:
    """How long to wait after the latest of `failures` failed logins in a row of one account from
    one client address: nothing for the first LOGIN_FREE_FAILURES, then 1 s doubling to 15 min."""
    if failures < LOGIN_FREE_FAILURES:
        return timedelta(0)
    doublings = min(failures - LOGIN_FREE_FAILURES, 20)  # 2**20 s is already far above the cap
    return min(LOGIN_BACKOFF_BASE * 2**doublings, LOGIN_BACKOFF_MAX)


def _too_many_attempts(wait: timedelta) -> TooManyAttempts:
    seconds = max(1, math.ceil(wait.total_seconds()))
    if seconds == 1:
        return TooManyAttempts(
            N_("Too many failed logins. Try again in a second."), retry_after=seconds
        )
    if seconds < 120:
        return TooManyAttempts(
            N_("Too many failed logins. Try again in %(seconds)s seconds."),
            seconds=seconds,
            retry_after=seconds,
        )
    return TooManyAttempts(
        N_("Too many failed logins. Try again in %(minutes)s minutes."),
        minutes=math.ceil(seconds / 60),
        retry_after=seconds,
    )


def _check_login_throttle(session: Session, email: str, address: str, now: datetime) -> None:
    """TooManyAttempts(retry_after=…) while this account may not be tried from this address."""
    pair = (LoginAttempt.email == email, LoginAttempt.remote_addr == address)
    last_success = session.exec(
        select(func.max(LoginAttempt.at)).where(
            *pair,
            LoginAttempt.succeeded == True,  # noqa: E712
            col(LoginAttempt.at) >= now - KNOWN_ADDRESS_MEMORY,
        )
    ).one()
    since = now - LOGIN_FAILURE_MEMORY
    if last_success is not None and last_success > since:
        since = last_success
    failures, last_failure = session.exec(
        select(func.count(), func.max(LoginAttempt.at)).where(
            *pair,
            LoginAttempt.succeeded == False,  # noqa: E712
            col(LoginAttempt.at) > since,
        )
    ).one()
    if failures and last_failure + login_backoff(failures) > now:
        raise _too_many_attempts(last_failure + login_backoff(failures) - now)
    if not address or last_success is not None:
        return  # an account known at this address is not slowed by others' failures
    spraying, latest = session.exec(
        select(func.count(), func.max(LoginAttempt.at)).where(
            LoginAttempt.remote_addr == address,
            LoginAttempt.succeeded == False,  # noqa: E712
            col(LoginAttempt.at) >= now - SPRAY_WINDOW,
        )
    ).one()
    if spraying >= SPRAY_FAILURES and latest + SPRAY_SLOWDOWN > now:
        raise _too_many_attempts(latest + SPRAY_SLOWDOWN - now)


def _verify_password(
    session: Session, email: str, password: str, remote_addr: str
) -> Member | None:
    """The active member if the password is right (throttled; every try is recorded)."""
    email = (email or "").strip().lower()[:254]
    address = (remote_addr or "")[:64]
    now = utcnow()
    _check_login_throttle(session, email, address, now)
    member = session.exec(select(Member).where(Member.email == email)).first()
    ok = bool(member and member.active and check_password_hash(member.password_hash, password))
    session.add(LoginAttempt(email=email, remote_addr=address, succeeded=ok, at=now))
    session.flush()
    return member if ok else None


def authenticate(session: Session, email: str, password: str, remote_addr: str = "") -> Member:
    """Check a login. Guessing is throttled per account and client address (see
    LOGIN_FREE_FAILURES); a failed try is flushed and the caller commits it even on error."""
    member = _verify_password(session, email, password, remote_addr)
    if member is None:
        raise Unauthenticated("Wrong e-mail address or password.", field="password")
    return member


def _sha256(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# The member's own account: sessions, password, language, API tokens

MANAGE_OWN_ACCOUNT = permission(N_("Log in to manage your account."), verified=False)


def _acting_member(session: Session, actor: Actor | None) -> Member:
    """The actor's own active member record (any logged-in member manages its own account)."""
    MANAGE_OWN_ACCOUNT.check(actor)
    member = session.get(Member, actor.member_id) if actor.member_id is not None else None
    if member is None or not member.active:
        raise PermissionDenied(MANAGE_OWN_ACCOUNT.message)
    return member


def _end_access(session: Session, member_id: int, keep_session_id: int | None = None) -> None:
    """End every session of a member (but `keep_session_id`) and revoke all its API tokens."""
    now = utcnow()
    for record in session.exec(
        select(MemberSession).where(
            MemberSession.member_id == member_id,
            MemberSession.revoked_at == None,  # noqa: E711
            MemberSession.id != keep_session_id,
        )
    ).all():
        record.revoked_at = now
        session.add(record)
    for token in session.exec(
        select(ApiToken).where(ApiToken.member_id == member_id, ApiToken.revoked_at == None)  # noqa: E711
    ).all():
        token.revoked_at = now
        session.add(token)
    session.flush()


def start_session(
    session: Session, member: Member, remote_addr: str = "", user_agent: str = ""
) -> tuple[MemberSession, str]:
    """A server-side session for a member who has just proved who it is (login, sign-up).

    Returns the record and its random id, which goes into the signed session cookie; only the
    id's SHA-256 is stored."""
    raw = secrets.token_urlsafe(32)
    record = MemberSession(
        member_id=member.id,
        token_sha256=_sha256(raw),
        user_agent=(user_agent or "")[:200],
        remote_addr=(remote_addr or "")[:64],
    )
    session.add(record)
    session.flush()
    return record, raw


# Built once: these run on every request (the statement, not only its SQL, is reused).
_SESSION_LOOKUP = (
    select(MemberSession, Member, Organization)
    .join(Member, col(Member.id) == MemberSession.member_id)
    .join(Organization, col(Organization.id) == Member.organization_id)
    .where(
        MemberSession.token_sha256 == bindparam("sha256", type_=String),
        MemberSession.revoked_at == None,  # noqa: E711
    )
)
_TOKEN_LOOKUP = (
    select(ApiToken, Member, Organization)
    .outerjoin(Member, col(Member.id) == ApiToken.member_id)
    .outerjoin(Organization, col(Organization.id) == Member.organization_id)
    .where(ApiToken.token_sha256 == bindparam("sha256", type_=String))
)


def member_for_session(
    session: Session, raw: str, idle: timedelta = DEFAULT_SESSION_IDLE
) -> tuple[Member, MemberSession, Organization] | None:
    """The active member of a live session (not ended, seen within `idle`), with the session
    and the member's organisation (one query: it runs on every page request), or None."""
    found = session.exec(_SESSION_LOOKUP, params={"sha256": _sha256(raw)}).first()
    if found is None:
        return None
    record, member, org = found
    if record.last_seen_at <= utcnow() - idle or not member.active:
        return None
    return member, record, org


def session_seen_long_ago(record: MemberSession) -> bool:
    """True when the session's "last seen" is worth writing again (once a minute at most)."""
    return record.last_seen_at <= utcnow() - SEEN_RESOLUTION


def note_session_seen(session: Session, session_id: int) -> None:
    """Mark a session as seen now (housekeeping; flushes)."""
    record = session.get(MemberSession, session_id)
    if record is not None and record.revoked_at is None:
        record.last_seen_at = utcnow()
        session.add(record)
        session.flush()


def sessions_of(
    session: Session, actor: Actor, idle: timedelta = DEFAULT_SESSION_IDLE
) -> list[MemberSession]:
    """The actor's own live sessions, most recently seen first."""
    member = _acting_member(session, actor)
    return list(
        session.exec(
            select(MemberSession)
            .where(
                MemberSession.member_id == member.id,
                MemberSession.revoked_at == None,  # noqa: E711
                col(MemberSession.last_seen_at) > utcnow() - idle,
            )
            .order_by(col(MemberSession.last_seen_at).desc(), col(MemberSession.id).desc())
        ).all()
    )


def _revoke_own(session: Session, actor: Actor, model, record_id: int, missing: str):
    """Revoke one of the actor's own sessions or tokens (idempotent); another's is NotFound."""
    member = _acting_member(session, actor)
    record = session.get(model, record_id)
    if record is None or record.member_id != member.id:
        raise NotFound(missing)
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        session.add(record)
        session.flush()
    return record


def end_session(session: Session, actor: Actor, session_id: int) -> MemberSession:
    """End one of the actor's own sessions (logging out ends the current one)."""
    return _revoke_own(session, actor, MemberSession, session_id, N_("No such session."))


def end_other_sessions(session: Session, actor: Actor, keep_session_id: int | None) -> int:
    """End every session of the actor but the current one; returns how many were ended."""
    member = _acting_member(session, actor)
    records = session.exec(
        select(MemberSession).where(
            MemberSession.member_id == member.id,
            MemberSession.revoked_at == None,  # noqa: E711
            MemberSession.id != keep_session_id,
        )
    ).all()
    now = utcnow()
    for record in records:
        record.revoked_at = now
        session.add(record)
    session.flush()
    return len(records)


class PasswordChange(BaseModel):
    """A logged-in member changes its password: the current one and the new one."""

    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    new_password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)


def change_password(
    session: Session,
    actor: Actor,
    data: PasswordChange,
    keep_session_id: int | None = None,
    remote_addr: str = "",
) -> Member:
    """Change the actor's own password after checking the current one (throttled like a login);
    every other session ends and every API token is revoked. A wrong current password is
    flushed as a failed login: the caller commits it even on error."""
    member = _acting_member(session, actor)
    if _verify_password(session, member.email, data.current_password, remote_addr) is None:
        raise ValidationFailed("The current password is wrong.", field="current_password")
    if data.new_password == data.current_password:
        raise ValidationFailed(
            "Choose a new password different from the current one.", field="new_password"
        )
    member.password_hash = hash_password(check_password(data.new_password, "new_password"))
    session.add(member)
    _end_access(session, member.id, keep_session_id)
    record_audit(session, actor, "member.password_changed", "member", member.id)
    return member


def set_locale(session: Session, actor: Actor, locale: str) -> Member:
    """The actor's own language for pages and e-mails."""
    member = _acting_member(session, actor)
    member.locale = _check_locale(locale)
    session.add(member)
    session.flush()
    return member


def create_api_token(
    session: Session, actor: Actor, name: str, lifetime: timedelta = DEFAULT_TOKEN_LIFETIME
) -> tuple[ApiToken, str]:
    """A new bearer token of the actor, valid for `lifetime`; the raw value is shown once and
    only its hash is stored."""
    member = _acting_member(session, actor)
    if lifetime <= timedelta(0):
        raise ValidationFailed("A token must be valid for at least one day.", field="lifetime")
    raw = "jk_" + secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(
        member_id=member.id,
        name=_text(name, "name", 80),
        token_sha256=_sha256(raw),
        prefix=raw[:10],
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(token)
    session.flush()
    return token, raw


@dataclass(frozen=True)
class TokenUse:
    """What a bearer token is worth now: its state, and for an active one its member and the
    member's organisation."""

    state: TokenState
    member: Member | None = None
    token: ApiToken | None = None
    organization: Organization | None = None


def use_api_token(session: Session, raw: str) -> TokenUse:
    """Check a bearer token: ACTIVE (with its member; "last used" noted, no commit), EXPIRED,
    or REVOKED (also for an unknown token or a removed member). One query (it runs on every
    API request)."""
    found = session.exec(_TOKEN_LOOKUP, params={"sha256": _sha256(raw)}).first()
    if found is None:
        return TokenUse(TokenState.REVOKED)
    token, member, org = found
    state = token.state()
    if state != TokenState.ACTIVE:
        return TokenUse(state, token=token)
    if member is None or not member.active or org is None:
        return TokenUse(TokenState.REVOKED, token=token)
    now = utcnow()
    if token.last_used_at is None or token.last_used_at <= now - SEEN_RESOLUTION:
        token.last_used_at = now
        session.add(token)
    return TokenUse(TokenState.ACTIVE, member, token, org)


def api_tokens_of(session: Session, actor: Actor) -> list[ApiToken]:
    """The actor's own API tokens, newest first."""
    member = _acting_member(session, actor)
    return list(
        session.exec(
            select(ApiToken)
            .where(ApiToken.member_id == member.id)
            .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())
        ).all()
    )


def revoke_api_token(session: Session, actor: Actor, token_id: int) -> ApiToken:
    """Revoke one of the actor's own tokens."""
    return _revoke_own(session, actor, ApiToken, token_id, N_("No such token."))


# ---------------------------------------------------------------------------------------------
# Password reset (by e-mailed link; also how an invited member chooses its first password)


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
    """Use a single-use, unexpired token to set a new password; every session of the member
    ends, every API token is revoked and every other reset link stops working."""
    token = session.exec(
        select(PasswordResetToken).where(PasswordResetToken.token_sha256 == _sha256(raw))
    ).first()
    now = utcnow()
    if token is None or token.used_at is not None or token.expires_at < now:
        raise ValidationFailed("This link is invalid or has expired.", field="token")
    member = session.get(Member, token.member_id)
    if member is None or not member.active:
        raise ValidationFailed("This link is invalid or has expired.", field="token")
    member.password_hash = hash_password(check_password(new_password))
    for unused in session.exec(
        select(PasswordResetToken).where(
            PasswordResetToken.member_id == member.id,
            PasswordResetToken.used_at == None,  # noqa: E711
        )
    ).all():
        unused.used_at = now
        session.add(unused)
    session.add(member)
    _end_access(session, member.id)
    org = session.get(Organization, member.organization_id)
    record_audit(session, actor_of(member, org), "member.password_reset", "member", member.id)
    return member


def members_of(session: Session, actor: Actor) -> list[Member]:
    """The active members of the actor's own organisation, by name."""
    return list(
        session.exec(
            select(Member)
            .where(Member.organization_id == actor.organization_id, Member.active == True)  # noqa: E712
            .order_by(Member.name)
        ).all()
    )


def organizations_for_review(session: Session, actor: Actor, status: str | None = None):
    """The operator's query of organisations (optionally of one status), newest first."""
    OPERATE_MARKETPLACE.check(actor)
    query = select(Organization)
    if status:
        query = query.where(Organization.status == status)
    return query.order_by(col(Organization.created_at).desc(), col(Organization.id).desc())


def member_counts(session: Session, actor: Actor, organization_ids: list[int]) -> dict[int, int]:
    """Active and inactive members per organisation (operator)."""
    OPERATE_MARKETPLACE.check(actor)
    return dict(
        session.exec(
            select(Member.organization_id, func.count())
            .where(col(Member.organization_id).in_(organization_ids))
            .group_by(Member.organization_id)
        ).all()
    )


def verified_organizations(
    kind: str | None = None, prefecture: str | None = None, by_name: bool = False
):
    """The public directory's query: verified organisations, by id (or by kind and English name,
    for people to read); names and places are public, terms are not."""
    query = select(Organization).where(Organization.status == OrgStatus.VERIFIED)
    if kind:
        query = query.where(Organization.kind == kind)
    if prefecture:
        query = query.where(Organization.prefecture == prefecture)
    if by_name:
        return query.order_by(
            col(Organization.kind), col(Organization.name_en), col(Organization.id)
        )
    return query.order_by(col(Organization.id))


def verified_organization_counts(session: Session) -> dict[str, int]:
    """How many verified organisations of each kind there are (public)."""
    return dict(
        session.exec(
            select(Organization.kind, func.count())
            .where(Organization.status == OrgStatus.VERIFIED)
            .group_by(Organization.kind)
        ).all()
    )


def visible_organization(session: Session, actor: Actor, organization_id: int) -> Organization:
    """A verified organisation, or the actor's own in any state; else NotFound."""
    org = session.get(Organization, organization_id)
    if org is None or (org.status != OrgStatus.VERIFIED and not actor.owns(org.id)):
        raise NotFound("No such organisation.")
    return org


def organizations_by_id(session: Session, ids: Iterable[int]) -> dict[int, Organization]:
    """The organisations of `ids` in one query (names beside a page of records)."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.exec(select(Organization).where(col(Organization.id).in_(wanted)))
    return {o.id: o for o in rows}
