"""Landing page, language switch, public organisation directory."""

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlmodel import func, select

from market.models import Organization, OrgStatus
from market.participants import set_locale
from web.db import get_db
from web.i18n import LANGUAGES

bp = Blueprint("public", __name__)


@bp.get("/")
def index():
    db = get_db()
    rows = db.exec(
        select(Organization.kind, func.count())
        .where(Organization.status == OrgStatus.VERIFIED)
        .group_by(Organization.kind)
    ).all()
    return render_template("public/index.html", counts=dict(rows))


@bp.get("/organizations")
def organizations():
    """Directory of verified organisations (names and places are public; terms are not)."""
    db = get_db()
    kind = request.args.get("kind") or None
    query = select(Organization).where(Organization.status == OrgStatus.VERIFIED)
    if kind:
        query = query.where(Organization.kind == kind)
    orgs = db.exec(query.order_by(Organization.kind, Organization.name_en)).all()
    return render_template("public/organizations.html", orgs=orgs, kind=kind)


@bp.post("/language")
def language():
    lang = request.form.get("lang", "")
    if lang in LANGUAGES:
        session["lang"] = lang
        if current_user.is_authenticated:
            set_locale(get_db(), current_user.member, lang)
            get_db().commit()
    target = request.form.get("next") or url_for("public.index")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("public.index")
    return redirect(target)
