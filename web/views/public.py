"""Landing page, language switch, public organisation directory."""

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_login import current_user

from contracts.negotiation import may_open_contract as contract_link_allowed
from market.visibility import listing_visible_to, request_visible_to
from participants.accounts import set_locale, verified_organization_counts, verified_organizations
from web.auth import current_actor
from web.db import get_db
from web.i18n import LANGUAGES

bp = Blueprint("public", __name__)


@bp.app_template_global()
def may_open_contract(record) -> bool:
    """Whether the viewer may open the contract of `record` (a contract or an invoice of one):
    pages link to it only then."""
    return contract_link_allowed(current_actor(), record)


@bp.app_template_global()
def may_open_listing(listing) -> bool:
    """Whether the viewer may open a listing's page (a closed one is its owner's only)."""
    return listing_visible_to(current_actor(), listing)


@bp.app_template_global()
def may_open_request(offtake_request) -> bool:
    """Whether the viewer may open a request's page (a closed one is its owner's only)."""
    return request_visible_to(current_actor(), offtake_request)


@bp.get("/")
def index():
    return render_template("public/index.html", counts=verified_organization_counts(get_db()))


@bp.get("/organizations")
def organizations():
    """Directory of verified organisations (names and places are public; terms are not)."""
    kind = request.args.get("kind") or None
    orgs = get_db().exec(verified_organizations(kind, by_name=True)).all()
    return render_template("public/organizations.html", orgs=orgs, kind=kind)


@bp.post("/language")
def language():
    lang = request.form.get("lang", "")
    if lang in LANGUAGES:
        session["lang"] = lang
        if current_user.is_authenticated:
            set_locale(get_db(), current_actor(), lang)
            get_db().commit()
    target = request.form.get("next") or url_for("public.index")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("public.index")
    return redirect(target)


@bp.get("/favicon.ico")
def favicon():
    """The site icon (an SVG) where browsers look for it when a page names none."""
    return send_from_directory(
        current_app.static_folder, "favicon.svg", mimetype="image/svg+xml", max_age=86400
    )
