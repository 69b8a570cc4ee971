"""API: candidates for a request, matching proposals, the operator's allocation run, starting
contract drafts (the contracts themselves: `web.api.contracts`).

Each endpoint translates input and output only: the domain functions check who may do what.
Each side sees its own view of a proposal: a seller never sees the buyer's limit price.
"""

from flask import current_app, g
from pydantic import Field

from contracts.drafting import (
    DecisionOut,
    DraftFromListingIn,
    DraftFromRequestIn,
    accept_proposal,
    decision_out,
    decline_proposal,
    draft_from_listing,
    draft_from_request,
)
from contracts.negotiation import ContractOut, contract_outs
from market.alerts import SellerMessageIn, SellerMessageOut, message_seller
from market.matching import (
    CandidateOut,
    CandidatesQuery,
    MatchRunIn,
    MatchRunOut,
    ProposalOut,
    candidates_for_request,
    match_run_out,
    proposal_out,
    proposal_rows,
    proposals_query,
    run_market_allocation,
)
from participants.fields import Paging
from web.alerting import send_seller_message_mails
from web.api import api_bp
from web.api.openapi import Page, operation
from web.config import transport_rates
from web.db import get_db
from web.pagination import Page as ResultPage
from web.pagination import paginate
from web.views.contracts import send_contract_notices


class CandidatePage(Page[CandidateOut]):
    """One page of candidates, best score first, with the month their prices are for."""

    month: str = Field(description="YYYY-MM: the month the prices are for")


@api_bp.get("/requests/<int:request_id>/candidates")
@operation(
    "Candidates for my request",
    query=CandidatesQuery,
    responses={200: CandidatePage},
    errors=(403,),
    tag="matching",
)
def request_candidates(request_id: int, query: CandidatesQuery):
    """Compatible listings for one of the caller's own requests, best score first.

    Members of verified organisations only; another organisation's request is not found.
    """
    found = candidates_for_request(
        get_db(),
        g.caller.actor,
        request_id,
        query.month,
        rates=transport_rates(current_app.config),
        include_committed=query.include_committed,
    )
    start = (query.page - 1) * query.per_page
    page = ResultPage(
        found.items[start : start + query.per_page], query.page, query.per_page, len(found.items)
    )
    items = [c.model_dump(mode="json") for c in page.items]
    return {**page.as_json(items), "month": found.month.strftime("%Y-%m")}


@api_bp.get("/proposals")
@operation(
    "My proposals",
    query=Paging,
    responses={200: Page[ProposalOut]},
    errors=(403,),
    tag="matching",
)
def my_proposals(query: Paging):
    """The caller's organisation's proposals as seller or buyer, newest first (superseded ones
    left out). Members of verified organisations only."""
    actor = g.caller.actor
    page = paginate(get_db(), proposals_query(actor), paging=query)
    rows = proposal_rows(actor, page.items)
    return page.as_json([proposal_out(r).model_dump(mode="json") for r in rows])


@api_bp.post("/proposals/<int:proposal_id>/accept")
@operation(
    "Accept a proposal",
    responses={200: DecisionOut},
    errors=(403, 409),
    tag="matching",
)
def accept(proposal_id: int):
    """Accept for the caller's organisation; a contract draft once both sides accepted.

    A signatory or trader of a verified organisation that is one side of the proposal.
    409: already decided, no longer open, or the volume is no longer available.
    """
    db = get_db()
    result = accept_proposal(db, g.caller.actor, proposal_id)
    db.commit()
    send_contract_notices(db)  # a new draft's notice to the other side
    return decision_out(result)


@api_bp.post("/proposals/<int:proposal_id>/decline")
@operation(
    "Decline a proposal",
    responses={200: DecisionOut},
    errors=(403, 409),
    tag="matching",
)
def decline(proposal_id: int):
    """Decline for the caller's organisation (declines the proposal for both sides)."""
    return decision_out(decline_proposal(get_db(), g.caller.actor, proposal_id))


@api_bp.post("/matching/runs")
@operation(
    "Run the matching",
    body=MatchRunIn,
    responses={201: MatchRunOut},
    errors=(403,),
    tag="matching",
)
def create_run(body: MatchRunIn):
    """Run the market-wide allocation for a month (the marketplace operator only).

    Send `{}` for this month (Asia/Tokyo).
    """
    run = run_market_allocation(
        get_db(), g.caller.actor, body.month, rates=transport_rates(current_app.config)
    )
    return match_run_out(run), 201


def _created(contract):
    """Commit the new draft, e-mail the other side's notice, answer the draft."""
    db = get_db()
    db.commit()
    send_contract_notices(db)
    return contract_outs(db, g.caller.actor, [contract])[0], 201


@api_bp.post("/listings/<int:listing_id>/drafts")
@operation(
    "Start a contract draft from a listing",
    body=DraftFromListingIn,
    responses={201: ContractOut},
    errors=(403, 409),
    tag="contracts",
)
def draft_from_listing_api(listing_id: int, body: DraftFromListingIn):
    """A manufacturer's signatory or trader starts a contract draft straight from a visible
    open listing (reserves nothing). 409: the listing is not open or lacks the volume."""
    return _created(draft_from_listing(get_db(), g.caller.actor, listing_id, body))


@api_bp.post("/requests/<int:request_id>/drafts")
@operation(
    "Start a contract draft from a request",
    body=DraftFromRequestIn,
    responses={201: ContractOut},
    errors=(403, 409),
    tag="contracts",
)
def draft_from_request_api(request_id: int, body: DraftFromRequestIn):
    """A recycler's signatory or trader answers an open request from one of its own open
    listings (reserves nothing). 404: no such open request or own listing; 409: the listing is
    not open, lacks the volume, or the request needs less."""
    return _created(draft_from_request(get_db(), g.caller.actor, request_id, body))


@api_bp.post("/listings/<int:listing_id>/messages")
@operation(
    "Message the seller of a listing",
    body=SellerMessageIn,
    responses={201: SellerMessageOut},
    errors=(403,),
    tag="listings",
)
def message_seller_api(listing_id: int, body: SellerMessageIn):
    """Send the seller organisation of an open listing the caller may read a message: an
    in-app notification and an e-mail to its administrators, traders and signatories, naming
    the sender and the address to reply to (as the listing page's "Message the seller").

    An administrator, trader or signatory of a verified organisation; a listing that is not
    open, not visible to the caller or the caller's own is not found.
    """
    db = get_db()
    notes = message_seller(db, g.caller.actor, listing_id, body)
    db.commit()
    send_seller_message_mails(db, notes)
    return SellerMessageOut(listing_id=listing_id, notified_members=len(notes)), 201
