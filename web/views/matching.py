"""Matching pages: candidates for a request, proposals, the operator's run, contract drafts."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlmodel import col, select
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from contracts.drafting import (
    accept_proposal,
    decline_proposal,
    draft_from_listing,
    draft_from_request,
    drafts_for_org,
    own_contract,
)
from market.allocation import SCORE_WEIGHTS
from market.errors import MarketError
from market.listings import kg_to_tonnes, own_request
from market.matching import (
    candidates_for_request,
    current_month,
    latest_runs,
    parse_month,
    proposal_view,
    proposals_for_org,
    run_market_allocation,
)
from market.models import Organization
from market.participants import record_audit
from web.auth import operator_required
from web.config import transport_rates
from web.db import get_db
from web.errors import commit_or_flash
from web.i18n import translate_error

bp = Blueprint("matching", __name__)

PART_LABELS = {
    "price_spread": _l("Price spread"),
    "transport": _l("Transport"),
    "grade_margin": _l("Grade margin"),
    "data_quality": _l("Data quality"),
    "term_fit": _l("Term fit"),
}
BAND_LABELS = {"narrow": _l("narrow"), "medium": _l("medium"), "wide": _l("wide")}
SIDE_LABELS = {"seller": _l("Seller"), "buyer": _l("Buyer")}
PROPOSAL_STATUS_LABELS = {
    "proposed": _l("Proposed"),
    "accepted": _l("Accepted"),
    "declined": _l("Declined"),
    "superseded": _l("Superseded"),
}
DECISION_LABELS = {"accept": _l("Accepted"), "decline": _l("Declined"), None: _l("Open")}


class DecisionForm(FlaskForm):
    """CSRF only: the proposal and the decision are in the URL."""


class DraftFromListingForm(FlaskForm):
    monthly_t = StringField(_l("Tonnes per month"), validators=[DataRequired(), Length(max=20)])
    start_month = StringField(
        _l("Start month (YYYY-MM)"),
        validators=[
            DataRequired(),
            Regexp(r"^\d{4}-\d{2}$", message=_l("Enter a month as YYYY-MM.")),
        ],
    )
    term_months = IntegerField(
        _l("Term in months"), validators=[DataRequired(), NumberRange(min=1, max=120)]
    )


class DraftFromRequestForm(FlaskForm):
    listing_id = IntegerField(_l("From my listing"), validators=[DataRequired()])
    monthly_t = StringField(_l("Tonnes per month"), validators=[DataRequired(), Length(max=20)])


class RunForm(FlaskForm):
    month = StringField(
        _l("Month (YYYY-MM)"),
        validators=[Optional(), Regexp(r"^\d{4}-\d{2}$", message=_l("Enter a month as YYYY-MM."))],
    )


def _labels() -> dict:
    return {
        "part_labels": {k: str(v) for k, v in PART_LABELS.items()},
        "band_labels": {k: str(v) for k, v in BAND_LABELS.items()},
        "side_labels": {k: str(v) for k, v in SIDE_LABELS.items()},
        "proposal_status_labels": {k: str(v) for k, v in PROPOSAL_STATUS_LABELS.items()},
        "decision_labels": {k: str(v) for k, v in DECISION_LABELS.items()},
        "weights": SCORE_WEIGHTS,
        "tonnes": kg_to_tonnes,
    }


@bp.get("/requests/<int:request_id>/candidates")
@login_required
def candidates(request_id: int):
    db = get_db()
    req = own_request(db, current_user.org.id, request_id)  # NotFound for other organisations
    try:
        month = parse_month(request.args.get("month"))
    except MarketError as err:
        flash(translate_error(err), "error")
        month = current_month()
    items = candidates_for_request(
        db, request_id, current_user.org.id, month, rates=transport_rates(current_app.config)
    )
    return render_template(
        "matching/candidates.html", req=req, items=items, month=month, **_labels()
    )


@bp.get("/proposals")
@login_required
def proposals():
    rows = proposals_for_org(get_db(), current_user.org.id)
    views = [(row, proposal_view(row.proposal, row.side, row.request.term_months)) for row in rows]
    org_ids = {r.listing.organization_id for r in rows} | {r.request.organization_id for r in rows}
    orgs = {
        o.id: o
        for o in get_db().exec(select(Organization).where(col(Organization.id).in_(org_ids)))
    }
    return render_template(
        "matching/proposals.html", views=views, orgs=orgs, form=DecisionForm(), **_labels()
    )


@bp.post("/proposals/<int:proposal_id>/<any(accept, decline):decision>")
@login_required
def decide(proposal_id: int, decision: str):
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    db = get_db()
    try:
        if decision == "accept":
            contract = accept_proposal(db, current_user.member, proposal_id)
            db.commit()
            if contract is not None:
                flash(
                    gettext("Both sides accepted: contract draft %(id)s created.", id=contract.id),
                    "success",
                )
                return redirect(url_for("matching.contract", contract_id=contract.id))
            flash(gettext("Accepted. Waiting for the other side."), "success")
        else:
            decline_proposal(db, current_user.member, proposal_id)
            db.commit()
            flash(gettext("Proposal declined."), "success")
    except MarketError as err:
        db.rollback()
        flash(translate_error(err), "error")
    return redirect(url_for("matching.proposals"))


@bp.route("/operator/matching", methods=["GET", "POST"])
@operator_required
def operator_matching():
    db = get_db()
    form = RunForm()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                run = run_market_allocation(
                    db,
                    parse_month(form.month.data),
                    run_by_member_id=current_user.member.id,
                    rates=transport_rates(current_app.config),
                )
                record_audit(
                    db,
                    current_user.member,
                    "matching.run",
                    "matchrun",
                    run.id,
                    {"month": run.month.isoformat(), "proposals": run.n_proposals},
                )
                db.commit()
                flash(
                    gettext(
                        "Matching run %(id)s wrote %(n)s proposals.", id=run.id, n=run.n_proposals
                    ),
                    "success",
                )
                return redirect(url_for("matching.operator_matching"))
            except MarketError as err:
                db.rollback()
                flash(translate_error(err), "error")
        else:
            flash(gettext("The input is not valid"), "error")
    elif not form.month.data:
        form.month.data = current_month().strftime("%Y-%m")
    return render_template("matching/operator.html", form=form, runs=latest_runs(db))


@bp.get("/contracts")
@login_required
def contracts():
    drafts = drafts_for_org(get_db(), current_user.org.id)
    return render_template("matching/contracts.html", drafts=drafts, **_labels())


@bp.get("/contracts/<int:contract_id>")
@login_required
def contract(contract_id: int):
    c, terms = own_contract(get_db(), current_user.org.id, contract_id)
    return render_template("matching/contract.html", c=c, terms=terms, **_labels())


def _form_error(form: FlaskForm) -> str:
    field, messages = next(iter(form.errors.items()))
    label = getattr(form, field).label.text if hasattr(form, field) else field
    return f"{label}: {messages[0]}"


@bp.post("/listings/<int:listing_id>/draft")
@login_required
def draft_from_listing_view(listing_id: int):
    """A manufacturer starts a contract draft from a listing (nothing is reserved yet)."""
    form = DraftFromListingForm()
    back = redirect(url_for("market.listing", listing_id=listing_id))
    if not form.validate_on_submit():
        flash(_form_error(form), "error")
        return back
    contract = commit_or_flash(
        lambda: draft_from_listing(
            get_db(),
            current_user.member,
            listing_id,
            form.monthly_t.data,
            form.start_month.data,
            form.term_months.data,
        )
    )
    return _to_draft(contract) or back


@bp.post("/requests/<int:request_id>/draft")
@login_required
def draft_from_request_view(request_id: int):
    """A recycler answers a request from one of its own listings (nothing is reserved yet)."""
    form = DraftFromRequestForm()
    back = redirect(url_for("market.request_detail", request_id=request_id))
    if not form.validate_on_submit():
        flash(_form_error(form), "error")
        return back
    contract = commit_or_flash(
        lambda: draft_from_request(
            get_db(), current_user.member, request_id, form.listing_id.data, form.monthly_t.data
        )
    )
    return _to_draft(contract) or back


def _to_draft(contract):
    """Redirect to a new draft (with a message), or None when none was made."""
    if contract is None:
        return None
    flash(gettext("Contract draft %(id)s created.", id=contract.id), "success")
    return redirect(url_for("matching.contract", contract_id=contract.id))
