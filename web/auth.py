"""Who is asking: Flask-Login sessions for pages, bearer tokens for the API."""

from collections.abc import Callable
from functools import wraps

from flask import Flask, abort, g, request
from flask_babel import lazy_gettext as _l
from flask_login import AnonymousUserMixin, LoginManager, UserMixin, current_user, login_required

from market.models import Member, Organization, OrgKind
from web.db import get_db

login_manager = LoginManager()


class SignedIn(UserMixin):
    """The signed-in member with its organisation, for templates and views."""

    def __init__(self, member: Member, org: Organization) -> None:
        self.member = member
        self.org = org

    def get_id(self) -> str:
        return str(self.member.id)

    def __getattr__(self, name: str):
        return getattr(self.member, name)

    @property
    def is_operator(self) -> bool:
        return self.org.kind == OrgKind.OPERATOR


class Anonymous(AnonymousUserMixin):
    is_operator = False
    member = None
    org = None
    locale = None

    def has_role(self, role: str) -> bool:
        return False


def load_member(member_id: int) -> SignedIn | None:
    db = get_db()
    member = db.get(Member, member_id)
    if member is None or not member.active:
        return None
    return SignedIn(member, db.get(Organization, member.organization_id))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "account.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.anonymous_user = Anonymous
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load(user_id: str) -> SignedIn | None:
        return load_member(int(user_id)) if user_id.isdigit() else None


def role_required(*roles: str) -> Callable:
    """A page for members holding one of the roles (operators pass everywhere they need)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not any(current_user.has_role(r) for r in roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def operator_required(view: Callable) -> Callable:
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_operator:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip() or None
    return None


def api_member() -> SignedIn | None:
    """The API caller (bearer token), cached for the request."""
    if "api_member" not in g:
        from market.participants import member_for_token

        raw = bearer_token()
        member = member_for_token(get_db(), raw) if raw else None
        g.api_member = (
            SignedIn(member, get_db().get(Organization, member.organization_id)) if member else None
        )
        if member is not None:
            get_db().commit()
    return g.api_member
