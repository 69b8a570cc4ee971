"""Who is asking: server-side sessions (Flask-Login) for pages, bearer tokens for the API.

A page login is a `MemberSession` row: its random id is what Flask-Login keeps in the signed
session cookie (Flask-Login's "alternative token"), so ending the row — logging out, a password
change or reset, removal from the organisation, the member's own "end this session" — logs
that browser out even if the old cookie is replayed. "Remember me" is not offered; if it were,
the remember cookie would carry the same session id and end with it.
"""

from datetime import timedelta

from flask import Flask, current_app, g, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import (
    AnonymousUserMixin,
    LoginManager,
    UserMixin,
    current_user,
    login_user,
)
from sqlmodel import Session

from participants.accounts import (
    member_for_session,
    note_session_seen,
    session_seen_long_ago,
    start_session,
    use_api_token,
)
from participants.actors import Actor, actor_of
from participants.models import ApiToken, Member, MemberSession, Organization, TokenState
from web.db import get_db, get_engine

login_manager = LoginManager()


class SignedIn(UserMixin):
    """The signed-in member with its organisation, for templates and views; a page login
    carries its server-side session, an API caller its token."""

    def __init__(
        self,
        member: Member,
        org: Organization,
        session_id: str | None = None,
        member_session: MemberSession | None = None,
        api_token: ApiToken | None = None,
    ) -> None:
        self.member = member
        self.org = org
        self.actor: Actor = actor_of(member, org)
        self.session_id = session_id
        self.member_session = member_session
        self.api_token = api_token

    def get_id(self) -> str:
        """The server-side session's random id (never the member id)."""
        if self.session_id is None:
            raise AttributeError("an API caller has no login session")
        return self.session_id

    def __getattr__(self, name: str):
        return getattr(self.member, name)


class Anonymous(AnonymousUserMixin):
    member = None
    org = None
    actor = None
    locale = None
    member_session = None

    def has_role(self, role: str) -> bool:
        return False


def session_idle_limit() -> timedelta:
    return timedelta(days=int(current_app.config.get("SESSION_IDLE_DAYS", 14)))


def api_token_lifetime() -> timedelta:
    return timedelta(days=int(current_app.config.get("API_TOKEN_LIFETIME_DAYS", 90)))


def load_session(session_id: str) -> SignedIn | None:
    """The member of a live server-side session, or None (ended, idle too long, unknown)."""
    db = get_db()
    found = member_for_session(db, session_id, session_idle_limit())
    if found is None:
        return None
    member, record, org = found
    return SignedIn(member, org, session_id, record)


def log_in(member: Member) -> None:
    """Start a server-side session for a member who has proved who it is, and put its id into
    the browser's session cookie. The caller commits."""
    db = get_db()
    record, raw = start_session(
        db, member, request.remote_addr or "", request.user_agent.string or ""
    )
    login_user(SignedIn(member, db.get(Organization, member.organization_id), raw, record))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "account.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.anonymous_user = Anonymous
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load(session_id: str) -> SignedIn | None:
        return load_session(session_id) if session_id else None

    @app.before_request
    def _note_session_seen() -> None:
        # "Last seen" is housekeeping: written at most once a minute, in a transaction of its
        # own at the start of the request, so the request's own transaction stays the view's.
        if request.path.startswith(("/api/", "/static/")):
            return
        record = getattr(current_user, "member_session", None)
        if record is not None and session_seen_long_ago(record):
            with Session(get_engine()) as housekeeping:
                note_session_seen(housekeeping, record.id)
                housekeeping.commit()


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip() or None
    return None


def api_member() -> SignedIn | None:
    """The API caller (bearer token), cached for the request. Never commits: the token's
    "last used" is written by the request's commit (the `operation` wrapper's)."""
    if "api_member" not in g:
        raw = bearer_token()
        use = use_api_token(get_db(), raw) if raw else None
        g.api_token_state = use.state if use is not None else None
        g.api_member = (
            SignedIn(use.member, use.organization, api_token=use.token)
            if use is not None and use.state == TokenState.ACTIVE
            else None
        )
    return g.api_member


def unauthenticated_problem():
    """401 problem+json for an API request without a valid token (RFC 6750 challenge)."""
    from web.errors import problem

    if g.get("api_token_state") == TokenState.EXPIRED:
        detail = gettext("The token has expired. Create a new one.")
        challenge = 'Bearer error="invalid_token", error_description="The token has expired"'
    else:
        detail = gettext("Send a valid token as 'Authorization: Bearer <token>'.")
        challenge = "Bearer"
    response = problem(401, gettext("Authentication required"), detail)
    response.headers["WWW-Authenticate"] = challenge
    return response


def current_actor() -> Actor | None:
    """The acting member of this request: the API caller (bearer token) or the page's member."""
    if request.path.startswith("/api/"):
        caller = g.get("caller")
        return caller.actor if caller is not None else None
    return current_user.actor if current_user.is_authenticated else None
