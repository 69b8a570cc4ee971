"""API: a tender's evaluation, award, cancellation of the award, completion (contract, order
and invoice), closing as unsuccessful, and a bidder's own result.

The same domain functions as the pages (`market.evaluation`, `contracts.tender_orders`), the
same rules: the agency's procurement officers act on its tenders (another organisation's
tender: 404); a bidder reads its own bid's result. Reading a tender whose tender period has
ended opens it, if the scheduler has not yet.
"""

from flask import g
from flask_babel import gettext

from contracts.tender_orders import CompletionOut, complete_award, completion_out
from market.evaluation import (
    AwardIn,
    AwardOut,
    BidResultOut,
    ReasonIn,
    TenderEvaluationOut,
    TenderStateOut,
    award_bid,
    award_out,
    bid_result,
    bid_result_out,
    cancel_award,
    evaluation_out,
    mark_unsuccessful,
    open_tender_now,
    tender_results,
    tender_state_out,
)
from web.api import api_bp
from web.api.openapi import operation
from web.db import get_db


def translate(message: str, params: dict) -> str:
    return gettext(message, **params) if params else gettext(message)


def _evaluation(tender_id: int) -> TenderEvaluationOut:
    return evaluation_out(tender_results(get_db(), g.caller.actor, tender_id), translate)


def _award(tender_id: int, award_id: int) -> AwardOut:
    results = tender_results(get_db(), g.caller.actor, tender_id)
    return award_out(next(a for a in results.awards if a.award.id == award_id))


@api_bp.get("/tenders/<int:tender_id>/evaluation")
@operation(
    "Read a tender's evaluation",
    responses={200: TenderEvaluationOut},
    errors=(403,),
    tag="awards",
)
def tender_evaluation_api(tender_id: int):
    """The agency's procurement officers: every bid (withdrawn ones left out) with its
    scores, rank and disqualification reasons, and the tender's awards — once the tender
    period has ended (`opened` false and no bids before: the bids are sealed). Scores:
    price = weight × lowest qualified price / price; recycled = weight × claimed total share /
    highest claimed total share; evidence = weight × data-quality level / 4 (2 decimals each)."""
    return _evaluation(tender_id)


@api_bp.post("/tenders/<int:tender_id>/open")
@operation(
    "Open a tender's bids",
    responses={200: TenderEvaluationOut},
    errors=(403, 409),
    tag="awards",
)
def open_tender_api(tender_id: int):
    """Open the bids of a tender whose tender period has ended (the scheduler does it every
    five minutes; reading the evaluation does it too). Opened already: nothing changes.
    Still in its tender period: 409."""
    open_tender_now(get_db(), g.caller.actor, tender_id)
    return _evaluation(tender_id)


@api_bp.post("/tenders/<int:tender_id>/awards")
@operation(
    "Award a bid",
    body=AwardIn,
    responses={201: AwardOut},
    errors=(403, 409),
    tag="awards",
)
def create_award_api(tender_id: int, body: AwardIn):
    """Award one qualified bid with a written justification (required; a bid not ranked
    first may be awarded, and its rank is recorded). The winner's recycled-content claim is
    reserved in its chain-of-custody ledger: not covered any more → 422. A disqualified or
    withdrawn bid, a tender not in evaluation → 409; a bid of another tender → 422. The
    tender becomes `awarded` with its standstill period; the other qualified bids
    `unsuccessful`."""
    award = award_bid(get_db(), g.caller.actor, tender_id, body)
    return _award(tender_id, award.id), 201


@api_bp.post("/tenders/<int:tender_id>/awards/<int:award_id>/cancel")
@operation(
    "Cancel an award",
    body=ReasonIn,
    responses={200: AwardOut},
    errors=(403, 409),
    tag="awards",
)
def cancel_award_api(tender_id: int, award_id: int, body: ReasonIn):
    """Cancel a pending award (before its contract is issued) with a reason: the reservation
    is released, the tender returns to evaluation and its bids to qualified. Not pending: 409."""
    cancel_award(get_db(), g.caller.actor, tender_id, award_id, body)
    return _award(tender_id, award_id)


@api_bp.post("/tenders/<int:tender_id>/complete")
@operation(
    "Issue the contract and order of an award",
    responses={200: CompletionOut},
    errors=(403, 409),
    tag="awards",
)
def complete_award_api(tender_id: int):
    """After the standstill period: the contract record, the purchase order (PO-YYYY-NNNNNN;
    the reserved claim becomes the ledger's debit) and its invoice (payable through Stripe).
    Before the standstill period ends, or done already: 409."""
    return completion_out(complete_award(get_db(), g.caller.actor, tender_id))


@api_bp.post("/tenders/<int:tender_id>/unsuccessful")
@operation(
    "Close a tender as unsuccessful",
    body=ReasonIn,
    responses={200: TenderStateOut},
    errors=(403, 409),
    tag="awards",
)
def unsuccessful_tender_api(tender_id: int, body: ReasonIn):
    """Close an opened tender without an award, with a reason, when no bid qualified (or none
    came). With a qualified bid, or before the opening: 409."""
    return tender_state_out(mark_unsuccessful(get_db(), g.caller.actor, tender_id, body))


@api_bp.get("/tenders/<int:tender_id>/result")
@operation(
    "Read your bid's result",
    responses={200: BidResultOut},
    tag="awards",
)
def bid_result_api(tender_id: int):
    """The caller's organisation's bid on the tender: before the tender period ends its state
    only; after, its scores, rank and disqualification reasons, and the award once decided.
    No bid of the caller's organisation: 404."""
    return bid_result_out(bid_result(get_db(), g.caller.actor, tender_id), translate)
