"""Operator pages: verify and suspend organisations; the audit log."""

import json
from decimal import Decimal

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
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
from web.labels import label
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
            gettext(
                "%(name)s is now %(status)s.",
                name=org.name_ja if str(get_locale()) == "ja" else org.name_en,
                status=label(org.status, "org_status"),
            ),
            "success",
        )
    return redirect(url_for("operator.organizations"))


@bp.get("/audit")
@login_required
def audit():
    db = get_db()
    actor = current_actor()
    page = paginate(db, audit_log(actor))
    actors = audit_actors(db, actor, page.items)
    details = {e.id: audit_details(json.loads(e.detail or "{}")) for e in page.items}
    return render_template(
        "operator/audit.html",
        page=page,
        actors=actors,
        details=details,
        target_url=audit_target_url,
    )


# Targets the operator may open (the others are named, not linked).
TARGET_ENDPOINTS = {
    "tender": ("tenders.tender", "tender_id"),
    "invoice": ("invoices.invoice", "invoice_id"),
    "movement_record": ("movements.record", "record_id"),
}


def audit_target_url(target_type: str, target_id: int | None) -> str | None:
    found = TARGET_ENDPOINTS.get(target_type)
    if found is None or target_id is None:
        return None
    endpoint, arg = found
    return url_for(endpoint, **{arg: target_id})


def audit_details(detail: dict) -> list[tuple[str, str]]:
    """An entry's details as (name, value) in words: states by name, kg as tonnes, yen."""
    shown = []
    for key, value in detail.items():
        if key in ("from", "to") and isinstance(value, str):
            value = label(value, "org_status")
        elif key.endswith("_kg") or key == "kg":
            value = f"{Decimal(value or 0) / 1000:,.3f}".rstrip("0").rstrip(".") + " t"
        elif key.endswith("_jpy") and isinstance(value, int):
            value = f"¥{value:,}" if value >= 0 else f"−¥{-value:,}"
        elif value is None:
            value = "—"
        shown.append((label(key, "audit_detail"), str(value)))
    return shown
