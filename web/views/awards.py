"""Evaluation and award pages: the officer's evaluation of a tender (bids with scores, ranks
and reasons; the award form; closing as unsuccessful), the officer's award page (standstill
period, cancellation, contract and order), and a bidder's own result.

The views translate input and output only; `market.evaluation` and `contracts.tender_orders`
decide who may do what (PermissionDenied answers 403, NotFound 404, as in the API). Reading a
tender whose tender period has ended opens it if the scheduler has not yet, so the view
commits after reading. The public tender page (`/tenders/<id>`) belongs to the tenders area;
it shows the award through `market.evaluation.public_award`.
"""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField

from contracts.tender_orders import complete_award, issued_order
from market.evaluation import (
    EVALUATE_TENDERS,
    AwardIn,
    ReasonIn,
    award_bid,
    bid_result,
    cancel_award,
    mark_unsuccessful,
    open_tender_now,
    tender_results,
    yen_text,
)
from market.models import AwardStatus, BidStatus, TenderStatus
from participants.columns import utcnow
from quality.custody import tonnes
from web.auth import current_actor
from web.db import get_db
from web.errors import commit_or_flash, save_form
from web.labels import LABELS
from web.validation import validate_form

bp = Blueprint("awards", __name__)

# The names live in web.labels (kinds bid_status, tender_status, award_status).
BID_STATUS_LABELS = {BidStatus(k): v for k, v in LABELS["bid_status"].items()}
TENDER_STATUS_LABELS = {TenderStatus(k): v for k, v in LABELS["tender_status"].items()}
AWARD_STATUS_LABELS = {AwardStatus(k): v for k, v in LABELS["award_status"].items()}


class AwardForm(FlaskForm):
    bid_id = SelectField(_l("Bid to award"), validate_choice=False)
    justification = TextAreaField(_l("Justification of the award"))


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"))


class ActionForm(FlaskForm):
    """CSRF only: the tender and the step are in the URL."""


def reason_text(reason: dict) -> str:
    params = reason.get("params") or {}
    return gettext(reason["message"], **params) if params else gettext(reason["message"])


def _labels() -> dict:
    return {
        "bid_status_labels": {str(k): str(v) for k, v in BID_STATUS_LABELS.items()},
        "tender_status_labels": {str(k): str(v) for k, v in TENDER_STATUS_LABELS.items()},
        "award_status_labels": {str(k): str(v) for k, v in AWARD_STATUS_LABELS.items()},
        "reason_text": reason_text,
        "tonnes_text": tonnes,
    }


def _org_name(org) -> str:
    """An organisation's name in the page's language (the other when it has none)."""
    first, second = (
        (org.name_ja, org.name_en) if str(get_locale()) == "ja" else (org.name_en, org.name_ja)
    )
    return first or second


def _bid_choices(results) -> list[tuple[str, str]]:
    return [("", gettext("Choose a bid"))] + [
        (
            str(v.bid.id),
            gettext(
                "#%(id)s %(name)s: rank %(rank)s, score %(score)s, %(price)s",
                id=v.bid.id,
                name=_org_name(v.organization),
                rank=v.rank,
                score=v.bid.score_total,
                price=yen_text(v.bid.price_jpy),
            ),
        )
        for v in results.awardable
    ]


def _evaluation_page(tender_id: int, award_form=None, reason_form=None, status: int = 200):
    db, actor = get_db(), current_actor()
    results = tender_results(db, actor, tender_id)
    db.commit()  # a closed tender read for the first time has just been opened
    award_form = award_form or AwardForm(formdata=None)
    award_form.bid_id.choices = _bid_choices(results)
    may_act = EVALUATE_TENDERS.allows(actor)
    tender = results.tender
    qualified = [v for v in results.bids if v.bid.status == BidStatus.QUALIFIED]
    return (
        render_template(
            "awards/evaluation.html",
            results=results,
            tender=tender,
            award_form=award_form,
            reason_form=reason_form or ReasonForm(formdata=None),
            may_award=may_act and bool(results.awardable),
            may_close=may_act and tender.status == TenderStatus.EVALUATION and not qualified,
            **_labels(),
        ),
        status,
    )


@bp.get("/tenders/<int:tender_id>/evaluation")
@login_required
def evaluation(tender_id: int):
    return _evaluation_page(tender_id)


@bp.post("/tenders/<int:tender_id>/open")
@login_required
def open_bids(tender_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    db, actor = get_db(), current_actor()
    commit_or_flash(
        lambda: open_tender_now(db, actor, tender_id), gettext("The bids are opened and scored.")
    )
    return redirect(url_for("awards.evaluation", tender_id=tender_id))


@bp.post("/tenders/<int:tender_id>/awards")
@login_required
def award(tender_id: int):
    db, actor = get_db(), current_actor()
    form = AwardForm()
    form.bid_id.choices = []
    if not form.validate_on_submit():
        return _evaluation_page(tender_id, award_form=form, status=422)
    data = validate_form(form, AwardIn)
    if data is None:
        return _evaluation_page(tender_id, award_form=form, status=422)
    done, status = save_form(
        form, lambda: award_bid(db, actor, tender_id, data), refusal_on_form=False
    )
    if done is None:
        return _evaluation_page(tender_id, award_form=form, status=status)
    flash(
        gettext("The bid is awarded; the bidders are told. The standstill period has begun."),
        "success",
    )
    return redirect(url_for("awards.award_page", tender_id=tender_id))


@bp.post("/tenders/<int:tender_id>/unsuccessful")
@login_required
def unsuccessful(tender_id: int):
    db, actor = get_db(), current_actor()
    form = ReasonForm()
    if not form.validate_on_submit():
        return _evaluation_page(tender_id, reason_form=form, status=422)
    data = validate_form(form, ReasonIn)
    if data is None:
        return _evaluation_page(tender_id, reason_form=form, status=422)
    done, status = save_form(
        form, lambda: mark_unsuccessful(db, actor, tender_id, data), refusal_on_form=False
    )
    if done is None:
        return _evaluation_page(tender_id, reason_form=form, status=status)
    flash(gettext("The tender is closed without an award; the bidders are told."), "success")
    return redirect(url_for("awards.evaluation", tender_id=tender_id))


def _award_page(tender_id: int, reason_form=None, status: int = 200):
    db, actor = get_db(), current_actor()
    results = tender_results(db, actor, tender_id)
    db.commit()
    current = results.current_award
    may_act = EVALUATE_TENDERS.allows(actor)
    pending = current is not None and current.award.status == AwardStatus.PENDING
    order = issued_order(db, actor, tender_id) if results.tender.status == "complete" else None
    return (
        render_template(
            "awards/award.html",
            results=results,
            tender=results.tender,
            current=current,
            order=order,
            reason_form=reason_form or ReasonForm(formdata=None),
            action_form=ActionForm(formdata=None),
            may_cancel=may_act and pending,
            may_complete=may_act and pending and utcnow() >= current.award.standstill_until,
            **_labels(),
        ),
        status,
    )


@bp.get("/tenders/<int:tender_id>/award")
@login_required
def award_page(tender_id: int):
    return _award_page(tender_id)


@bp.post("/tenders/<int:tender_id>/awards/<int:award_id>/cancel")
@login_required
def cancel(tender_id: int, award_id: int):
    db, actor = get_db(), current_actor()
    form = ReasonForm()
    if not form.validate_on_submit():
        return _award_page(tender_id, reason_form=form, status=422)
    data = validate_form(form, ReasonIn)
    if data is None:
        return _award_page(tender_id, reason_form=form, status=422)
    done, status = save_form(
        form, lambda: cancel_award(db, actor, tender_id, award_id, data), refusal_on_form=False
    )
    if done is None:
        return _award_page(tender_id, reason_form=form, status=status)
    flash(
        gettext(
            "The award is cancelled; the reservation is released and the bids are open for a new award."
        ),
        "success",
    )
    return redirect(url_for("awards.evaluation", tender_id=tender_id))


@bp.post("/tenders/<int:tender_id>/complete")
@login_required
def complete(tender_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    db, actor = get_db(), current_actor()
    commit_or_flash(
        lambda: complete_award(db, actor, tender_id),
        gettext("The contract and the purchase order are issued, with the order's invoice."),
    )
    return redirect(url_for("awards.award_page", tender_id=tender_id))


@bp.get("/tenders/<int:tender_id>/result")
@login_required
def result(tender_id: int):
    db, actor = get_db(), current_actor()
    view = bid_result(db, actor, tender_id)
    db.commit()  # a closed tender read for the first time has just been opened
    return render_template("awards/result.html", view=view, tender=view.tender, **_labels())
