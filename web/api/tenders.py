"""API: tenders, their enquiries, and the caller's own sealed bid.

Published tenders and answered questions are public (no token); with a token an agency also
reads its own drafts. A draft is replaced with PUT; a published tender is changed only by
`POST /tenders/{id}/amend` (PUT answers 409 then). Nothing of the bids is shown before the
tender period ends, not even their number; `/tenders/{id}/bid` is the caller's own bid only.
Every rule lives in `market.tenders` and `market.bids`; these views translate.
"""

from flask import g
from flask_babel import gettext
from pydantic import BaseModel

from market.bids import (
    BidIn,
    BidOut,
    ConfirmIn,
    bid_out,
    confirm_bid,
    modify_bid,
    read_own_bid,
    submit_bid,
    withdraw_bid,
)
from market.tenders import (
    AnswerIn,
    CancelIn,
    EnquiryIn,
    EnquiryOut,
    TenderAmendmentIn,
    TenderIn,
    TenderOut,
    TenderQuery,
    TenderSummaryOut,
    amend_tender,
    answer_question,
    ask_question,
    cancel_tender,
    create_tender,
    enquiries_of,
    enquiry_out,
    publish_tender,
    tender_detail,
    tender_out,
    tender_summary_out,
    tenders_query,
    update_tender,
)
from participants.columns import utcnow
from web.alerting import send_notice_mails
from web.api import api_bp
from web.api.openapi import Page, operation
from web.db import get_db
from web.pagination import paginate
from web.views.tenders import NOTICE_REASON, NOTICE_SUBJECT


class EnquiriesOut(BaseModel):
    """A tender's questions the caller may read, oldest first (the asker is never named)."""

    items: list[EnquiryOut]


def _optional_actor():
    """The caller of a public endpoint: the token's member when a valid token is sent."""
    from web.auth import api_member

    caller = api_member()
    return caller.actor if caller is not None else None


def _actor():
    return g.caller.actor


def _tender(tender_id: int, actor=None) -> TenderOut:
    return tender_out(tender_detail(get_db(), actor, tender_id))


def _mailed(notes) -> None:
    """Commit the step and its notifications first; then the e-mails go out."""
    db = get_db()
    db.commit()
    send_notice_mails(db, notes, NOTICE_SUBJECT, NOTICE_REASON)


# ---------------------------------------------------------------------------------------------
# Tenders


@api_bp.get("/tenders")
@operation(
    "List tenders",
    query=TenderQuery,
    responses={200: Page[TenderSummaryOut]},
    auth=False,
    tag="tenders",
)
def list_tenders(query: TenderQuery):
    """Published tenders, open ones first (closing soonest first), then past ones; with a
    token, an agency also sees its own drafts (`mine=true`: only its own). No token needed."""
    db, now = get_db(), utcnow()
    page = paginate(db, tenders_query(_optional_actor(), query), paging=query)
    return page.as_json(
        [
            tender_summary_out(t, category, agency, now).model_dump(mode="json")
            for t, category, agency in page.items
        ]
    )


@api_bp.post("/tenders")
@operation(
    "Create a tender",
    body=TenderIn,
    responses={201: TenderOut},
    errors=(403,),
    tag="tenders",
)
def post_tender(body: TenderIn):
    """Draft a tender (status planning, seen only by the agency). Procurement officers of
    verified agencies only. Times: Asia/Tokyo unless an offset is given."""
    tender = create_tender(get_db(), _actor(), body)
    return _tender(tender.id, _actor()), 201


@api_bp.get("/tenders/<int:tender_id>")
@operation("Read a tender", responses={200: TenderOut}, auth=False, tag="tenders")
def get_tender(tender_id: int):
    """A published tender (no token needed), or the caller's agency's draft; answered
    questions included. `number_of_bids` is null while the bids are sealed."""
    return _tender(tender_id, _optional_actor())


@api_bp.put("/tenders/<int:tender_id>")
@operation(
    "Replace a draft tender",
    body=TenderIn,
    responses={200: TenderOut},
    errors=(403, 409),
    tag="tenders",
)
def put_tender(tender_id: int, body: TenderIn):
    """Replace a draft's content (planning only: a published tender answers 409 — amend it
    with POST /tenders/{id}/amend)."""
    update_tender(get_db(), _actor(), tender_id, body)
    return _tender(tender_id, _actor())


@api_bp.post("/tenders/<int:tender_id>/publish")
@operation("Publish a tender", responses={200: TenderOut}, errors=(403, 409, 422), tag="tenders")
def post_publish(tender_id: int):
    """Publish a draft (planning → active); its tender period must start in the future."""
    publish_tender(get_db(), _actor(), tender_id)
    return _tender(tender_id, _actor())


@api_bp.post("/tenders/<int:tender_id>/amend")
@operation(
    "Amend a published tender",
    body=TenderAmendmentIn,
    responses={200: TenderOut},
    errors=(403, 409),
    tag="tenders",
)
def post_amend(tender_id: int, body: TenderAmendmentIn):
    """Change the description, items, minimum content or periods (only extended) of an active
    tender before its tender period ends. Every live bid becomes `unconfirmed`; its bidder is
    notified and confirms or modifies it."""
    amendment = amend_tender(get_db(), _actor(), tender_id, body)
    _mailed(amendment.notifications)
    return _tender(tender_id, _actor())


@api_bp.post("/tenders/<int:tender_id>/cancel")
@operation(
    "Cancel a tender",
    body=CancelIn,
    responses={200: TenderOut},
    errors=(403, 409),
    tag="tenders",
)
def post_cancel(tender_id: int, body: CancelIn):
    """Cancel a tender in any open state, with the reason (published)."""
    cancellation = cancel_tender(get_db(), _actor(), tender_id, body)
    _mailed(cancellation.notifications)
    return _tender(tender_id, _actor())


# ---------------------------------------------------------------------------------------------
# Enquiries


@api_bp.get("/tenders/<int:tender_id>/enquiries")
@operation("List a tender's questions", responses={200: EnquiriesOut}, auth=False, tag="tenders")
def list_enquiries(tender_id: int):
    """Answered questions (no token needed); the buying agency also sees unanswered ones,
    an asking organisation its own. The asker is never named."""
    items = enquiries_of(get_db(), _optional_actor(), tender_id)
    return EnquiriesOut(items=[enquiry_out(e) for e in items])


@api_bp.post("/tenders/<int:tender_id>/enquiries")
@operation(
    "Ask a question",
    body=EnquiryIn,
    responses={201: EnquiryOut},
    errors=(403, 409),
    tag="tenders",
)
def post_enquiry(tender_id: int, body: EnquiryIn):
    """Ask during the enquiry period (members of verified recyclers and manufacturers);
    outside it: 409. Your organisation is never named."""
    return enquiry_out(ask_question(get_db(), _actor(), tender_id, body)), 201


@api_bp.post("/tenders/<int:tender_id>/enquiries/<int:enquiry_id>/answer")
@operation(
    "Answer a question",
    body=AnswerIn,
    responses={200: EnquiryOut},
    errors=(403, 409),
    tag="tenders",
)
def post_answer(tender_id: int, enquiry_id: int, body: AnswerIn):
    """Answer publicly (the buying agency's officers; once; until the tender period ends)."""
    return enquiry_out(answer_question(get_db(), _actor(), tender_id, enquiry_id, body))


# ---------------------------------------------------------------------------------------------
# The caller's own bid


def _bid_out(bid) -> BidOut:
    return bid_out(get_db(), bid, translate=gettext)


@api_bp.get("/tenders/<int:tender_id>/bid")
@operation("Read your bid", responses={200: BidOut}, errors=(403,), tag="bids")
def get_bid(tender_id: int):
    """Your organisation's bid on the tender, with its receipt (`content_sha256`), its claim
    and your available balance of the material. Nobody else reads it before the tender period
    ends."""
    return _bid_out(read_own_bid(get_db(), _actor(), tender_id))


@api_bp.post("/tenders/<int:tender_id>/bid")
@operation(
    "Submit a bid",
    body=BidIn,
    responses={201: BidOut},
    errors=(403, 409),
    tag="bids",
)
def post_bid(tender_id: int, body: BidIn):
    """Submit during the tender period (409 before it opens or after it closed). The claim
    (mass × total share) must be covered by your chain-of-custody balance (422
    otherwise); certificates must be your own. Traders and administrators of verified
    recyclers and manufacturers."""
    return _bid_out(submit_bid(get_db(), _actor(), tender_id, body)), 201


@api_bp.put("/tenders/<int:tender_id>/bid")
@operation(
    "Modify your bid",
    body=BidIn,
    responses={200: BidOut},
    errors=(403, 409),
    tag="bids",
)
def put_bid(tender_id: int, body: BidIn):
    """Replace your bid's content until the tender period ends (also confirms it)."""
    return _bid_out(modify_bid(get_db(), _actor(), tender_id, body))


@api_bp.post("/tenders/<int:tender_id>/bid/withdraw")
@operation("Withdraw your bid", responses={200: BidOut}, errors=(403, 409), tag="bids")
def post_withdraw(tender_id: int):
    """Withdraw your bid until the tender period ends."""
    return _bid_out(withdraw_bid(get_db(), _actor(), tender_id))


@api_bp.post("/tenders/<int:tender_id>/bid/confirm")
@operation(
    "Confirm your bid",
    body=ConfirmIn,
    responses={200: BidOut},
    errors=(403, 409),
    tag="bids",
)
def post_confirm(tender_id: int, body: ConfirmIn):
    """Confirm an unconfirmed bid (after an amendment) as it stands: send its current
    receipt. It is checked again against the amended tender."""
    return _bid_out(confirm_bid(get_db(), _actor(), tender_id, body))
