"""Operator pages: verify and suspend organisations; the audit log."""

import json

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlmodel import func, select
from wtforms import HiddenField, StringField
from wtforms.validators import AnyOf, Length

from market.errors import MarketError
from market.models import AuditEntry, Member, Organization
from market.participants import set_organization_status
from web.auth import operator_required
from web.db import get_db
from web.i18n import translate_error
from web.pagination import paginate

bp = Blueprint("operator", __name__, url_prefix="/operator")


class StatusForm(FlaskForm):
    status = HiddenField(validators=[AnyOf(["verified", "suspended"])])
    reason = StringField(_l("Reason"), validators=[Length(max=500)])


@bp.get("/organizations")
@operator_required
def organizations():
    db = get_db()
    status = request.args.get("status") or None
    query = select(Organization)
    if status:
        query = query.where(Organization.status == status)
    page = paginate(db, query.order_by(Organization.created_at.desc(), Organization.id.desc()))
    member_counts = dict(
        db.exec(
            select(Member.organization_id, func.count())
            .where(Member.organization_id.in_([o.id for o in page.items]))
            .group_by(Member.organization_id)
        ).all()
    )
    return render_template(
        "operator/organizations.html",
        page=page,
        status=status,
        member_counts=member_counts,
        form=StatusForm(),
    )


@bp.post("/organizations/<int:org_id>/status")
@operator_required
def set_status(org_id: int):
    form = StatusForm()
    db = get_db()
    if not form.validate_on_submit():
        flash(gettext("The input is not valid"), "error")
        return redirect(url_for("operator.organizations"))
    try:
        org = set_organization_status(
            db, current_user.member, org_id, form.status.data, form.reason.data or ""
        )
        db.commit()
        flash(
            gettext("%(name)s is now %(status)s.", name=org.name_en, status=org.status), "success"
        )
    except MarketError as err:
        db.rollback()
        flash(translate_error(err), "error")
    return redirect(url_for("operator.organizations"))


@bp.get("/audit")
@operator_required
def audit():
    db = get_db()
    page = paginate(db, select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()))
    ids = {e.actor_member_id for e in page.items if e.actor_member_id}
    actors = {m.id: m for m in db.exec(select(Member).where(Member.id.in_(ids))).all()}
    details = {e.id: json.loads(e.detail or "{}") for e in page.items}
    return render_template("operator/audit.html", page=page, actors=actors, details=details)
