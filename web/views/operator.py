"""Operator pages: verify and suspend organisations; the audit log."""

import json

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import AnyOf, Length

from participants.accounts import member_counts, organizations_for_review, set_organization_status
from participants.audit import audit_actors, audit_log
from web.auth import current_actor
from web.db import get_db
from web.errors import commit_or_flash
from web.pagination import paginate

bp = Blueprint("operator", __name__, url_prefix="/operator")


class StatusForm(FlaskForm):
    status = HiddenField(validators=[AnyOf(["verified", "suspended"])])
    reason = StringField(_l("Reason"), validators=[Length(max=500)])


@bp.get("/organizations")
@login_required
def organizations():
    db = get_db()
    actor = current_actor()
    status = request.args.get("status") or None
    page = paginate(db, organizations_for_review(db, actor, status))
    return render_template(
        "operator/organizations.html",
        page=page,
        status=status,
        member_counts=member_counts(db, actor, [o.id for o in page.items]),
        form=StatusForm(),
    )


@bp.post("/organizations/<int:org_id>/status")
@login_required
def set_status(org_id: int):
    form = StatusForm()
    db = get_db()
    if not form.validate_on_submit():
        flash(gettext("The input is not valid"), "error")
        return redirect(url_for("operator.organizations"))
    org = commit_or_flash(
        lambda: set_organization_status(
            db, current_actor(), org_id, form.status.data, form.reason.data or ""
        )
    )
    if org is not None:
        flash(
            gettext("%(name)s is now %(status)s.", name=org.name_en, status=org.status), "success"
        )
    return redirect(url_for("operator.organizations"))


@bp.get("/audit")
@login_required
def audit():
    db = get_db()
    actor = current_actor()
    page = paginate(db, audit_log(actor))
    actors = audit_actors(db, actor, page.items)
    details = {e.id: json.loads(e.detail or "{}") for e in page.items}
    return render_template("operator/audit.html", page=page, actors=actors, details=details)
