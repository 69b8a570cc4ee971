"""Matching pages: candidates for a request, proposals, the operator's run, starting drafts.

The contracts themselves have their own pages (`web.views.contracts`).

The views translate input and output only; the domain functions decide who may do what
(PermissionDenied answers 403, NotFound 404, exactly as in the API).
"""

from decimal import ROUND_CEILING, Decimal

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
from flask_login import login_required
from flask_wtf import FlaskForm
from pydantic import ValidationError
from wtforms import StringField, TextAreaField

from contracts.drafting import (
    DRAFT_FROM_LISTING,
    DraftFromListingIn,
    DraftFromRequestIn,
    accept_proposal,
    decline_proposal,
    draft_from_listing,
    draft_from_request,
)
from market.alerts import MESSAGE_SELLERS, SellerMessageIn, message_seller
from market.allocation import SCORE_WEIGHTS
from market.listings import kg_to_tonnes
from market.matching import (
    DECIDE_PROPOSALS,
    SEE_MATCHES,
    CandidatesQuery,
    MatchRunIn,
    candidates_for_request,
    current_month,
    draft_defaults,
    latest_runs,
    proposal_out,
    proposal_rows,
    proposals_query,
    run_market_allocation,
)
from web.alerting import send_seller_message_mails
from web.auth import current_actor
from web.config import transport_rates
from web.db import get_db
from web.errors import awaits_verification, commit_or_flash
from web.formatting import DASH, percent
from web.labels import LABELS
from web.pagination import Page, paginate
from web.sparklines import index_sparklines, listing_sparklines
from web.validation import input_errors, validate_form
from web.views.contracts import send_contract_notices

bp = Blueprint("matching", __name__)

PART_LABELS = {
    "price_spread": _l("Price spread"),
    "transport": _l("Transport"),
    "grade_margin": _l("Grade margin"),
    "data_quality": _l("Data quality"),
    "term_fit": _l("Term fit"),
}
BAND_LABELS = {"narrow": _l("narrow"), "medium": _l("medium"), "wide": _l("wide")}
SIDE_LABELS = LABELS["side"]
PROPOSAL_STATUS_LABELS = LABELS["proposal_status"]
DECISION_LABELS = LABELS["proposal_decision"]


class DecisionForm(FlaskForm):
    """CSRF only: the proposal and the decision are in the URL."""


# The form fields are named like the fields of the domain's input models, which validate them.
class DraftFromListingForm(FlaskForm):
    monthly_t = StringField(_l("Tonnes per month"))
    start_month = StringField(_l("Start month (YYYY-MM)"))
    term_months = StringField(_l("Term in months"))


class DraftFromRequestForm(FlaskForm):
    listing_id = StringField(_l("From my listing"))
    monthly_t = StringField(_l("Tonnes per month"))


class RunForm(FlaskForm):
    month = StringField(_l("Month (YYYY-MM)"))


class MessageSellerForm(FlaskForm):
    message = TextAreaField(_l("Your message"))


def _labels() -> dict:
    return {
        "part_labels": {k: str(v) for k, v in PART_LABELS.items()},
        "band_labels": {k: str(v) for k, v in BAND_LABELS.items()},
        "weights": SCORE_WEIGHTS,
        "tonnes": kg_to_tonnes,
    }


@bp.get("/requests/<int:request_id>/candidates")
@login_required
def candidates(request_id: int):
    error = None
    month = None
    include_committed = False
    asked = {k: request.args[k] for k in ("month", "include_committed") if request.args.get(k)}
    try:
        query = CandidatesQuery.model_validate(asked)
        month, include_committed = query.month, query.include_committed
    except ValidationError as exc:
        error = input_errors(exc)[0]["message"]
    found = candidates_for_request(
        get_db(),
        current_actor(),
        request_id,
        month,
        rates=transport_rates(current_app.config),
        include_committed=include_committed,
    )
    if error:
        flash(error, "error")  # and show this month's prices
    actor = current_actor()
    return render_template(
        "matching/candidates.html",
        req=found.request,
        items=found.items,
        month=found.month,
        include_committed=include_committed,
        drafts=draft_defaults(get_db(), found.request, found.items),
        can_draft=DRAFT_FROM_LISTING.allows(actor),
        can_message=MESSAGE_SELLERS.allows(actor),
        sparks=listing_sparklines(get_db(), [c.listing_id for c in found.items], found.month),
        **_labels(),
    )


@bp.post("/listings/<int:listing_id>/message")
@login_required
def message_seller_view(listing_id: int):
    """Send the seller of a listing a message (a notification, and an e-mail)."""
    form = MessageSellerForm()
    target = request.form.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("market.listing", listing_id=listing_id)
    data = validate_form(form, SellerMessageIn) if form.validate_on_submit() else None
    if data is None:
        _flash_form_errors(form)
        return redirect(target)
    db = get_db()
    notes = commit_or_flash(lambda: message_seller(db, current_actor(), listing_id, data))
    if notes is not None:
        send_seller_message_mails(db, notes)
        flash(gettext("Your message is sent to the seller."), "success")
    return redirect(target)


@bp.get("/proposals")
@login_required
def proposals():
    actor = current_actor()
    if awaits_verification(SEE_MATCHES, actor):
        # Proposals come after verification: the page says what it needs, not a bare 403.
        return render_template(
            "matching/proposals.html", views=[], page=Page([], 1, 20, 0), can_decide=False
        )
    page = paginate(get_db(), proposals_query(actor))
    views = [(row, proposal_out(row)) for row in proposal_rows(actor, page.items)]
    return render_template(
        "matching/proposals.html",
        views=views,
        page=page,
        sparks=index_sparklines(
            get_db(), [row.listing.index_id for row, _v in views], current_month()
        ),
        form=DecisionForm(),
        can_decide=DECIDE_PROPOSALS.allows(actor),
        **_labels(),
    )


@bp.post("/proposals/<int:proposal_id>/<any(accept, decline):decision>")
@login_required
def decide(proposal_id: int, decision: str):
    if not DecisionForm().validate_on_submit():
        abort(400)
    db, actor = get_db(), current_actor()
    if decision == "accept":
        result = commit_or_flash(lambda: accept_proposal(db, actor, proposal_id))
        if result is not None:
            send_contract_notices(db)  # the new draft's notice to the other side
        if result is not None and result.contract is not None:
            flash(
                gettext(
                    "Both sides accepted: contract draft %(id)s created.", id=result.contract.id
                ),
                "success",
            )
            return redirect(url_for("contracts.contract", contract_id=result.contract.id))
        if result is not None:
            flash(gettext("Accepted. Waiting for the other side."), "success")
    else:
        commit_or_flash(
            lambda: decline_proposal(db, actor, proposal_id), gettext("Proposal declined.")
        )
    return redirect(url_for("matching.proposals"))


@bp.route("/operator/matching", methods=["GET", "POST"])
@login_required
def operator_matching():
    db, actor = get_db(), current_actor()
    form = RunForm()
    if request.method == "POST":
        if not form.validate_on_submit():  # the CSRF token only
            flash(gettext("The form has expired. Please submit it again."), "error")
        else:
            data = validate_form(form, MatchRunIn)
            run = data and commit_or_flash(
                lambda: run_market_allocation(
                    db, actor, data.month, rates=transport_rates(current_app.config)
                )
            )
            if run:
                flash(
                    gettext(
                        "Matching run %(id)s wrote %(n)s proposals.", id=run.id, n=run.n_proposals
                    ),
                    "success",
                )
                return redirect(url_for("matching.operator_matching"))
    elif not form.month.data:
        form.month.data = current_month().strftime("%Y-%m")
    # latest_runs is the operator's: everyone else gets 403, for GET and POST alike.
    return render_template(
        "matching/operator.html",
        form=form,
        runs=latest_runs(db, actor),
        optimality=run_optimality,
    )


def run_optimality(run) -> str:
    """What is proven of a run's allocation, in the reader's language; — when nothing is (runs
    recorded before migration 0013 kept the solver's verdict)."""
    if run.mip_gap is None:
        return DASH
    # The gap in percent, rounded up to 0.001: "within" stays true of the number shown.
    shown = (Decimal(repr(run.mip_gap)) * 100).quantize(Decimal("0.001"), ROUND_CEILING)
    gap = percent(shown, 3)
    if run.optimal and run.mip_gap == 0:
        return gettext("Proven optimal")
    if run.optimal:
        return gettext("Proven optimal: within %(gap)s of the best possible", gap=gap)
    return gettext("Best found, not proven optimal: within %(gap)s of the best possible", gap=gap)


def _flash_form_errors(form: FlaskForm) -> None:
    """The first input error, with its field's label (the forms live on other pages)."""
    for name, field in form._fields.items():
        if field.errors and name != "csrf_token":
            flash(f"{field.label.text}: {field.errors[0]}", "error")
            return
    message = form.form_errors[0] if form.form_errors else None
    flash(message or gettext("The form has expired. Please submit it again."), "error")


@bp.post("/listings/<int:listing_id>/draft")
@login_required
def draft_from_listing_view(listing_id: int):
    """A manufacturer starts a contract draft from a listing (nothing is reserved yet)."""
    form = DraftFromListingForm()
    back = redirect(url_for("market.listing", listing_id=listing_id))
    data = validate_form(form, DraftFromListingIn) if form.validate_on_submit() else None
    if data is None:
        _flash_form_errors(form)
        return back
    contract = commit_or_flash(
        lambda: draft_from_listing(get_db(), current_actor(), listing_id, data)
    )
    return _to_draft(contract) or back


@bp.post("/requests/<int:request_id>/draft")
@login_required
def draft_from_request_view(request_id: int):
    """A recycler answers a request from one of its own listings (nothing is reserved yet)."""
    form = DraftFromRequestForm()
    back = redirect(url_for("market.request_detail", request_id=request_id))
    data = validate_form(form, DraftFromRequestIn) if form.validate_on_submit() else None
    if data is None:
        _flash_form_errors(form)
        return back
    contract = commit_or_flash(
        lambda: draft_from_request(get_db(), current_actor(), request_id, data)
    )
    return _to_draft(contract) or back


def _to_draft(contract):
    """Redirect to a new draft (with a message), or None when none was made."""
    if contract is None:
        return None
    send_contract_notices(get_db())  # the other side hears of the draft
    flash(gettext("Contract draft %(id)s created.", id=contract.id), "success")
    return redirect(url_for("contracts.contract", contract_id=contract.id))
