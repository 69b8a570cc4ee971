"""API: offtake contracts — list and read, counter-offers, the thread, signing, withdrawal, the
audit trail.

Each endpoint translates input and output only: the domain functions (`contracts.negotiation`,
`contracts.signing`) check who may do what, exactly as for the pages. After a step is
committed, the other side's notices are e-mailed.
"""

from flask import g, request
from pydantic import Field

from contracts.negotiation import (
    ChainOut,
    CommentIn,
    ContractDetailOut,
    ContractOut,
    ContractsQuery,
    DiffOut,
    DiffQuery,
    EventOut,
    add_comment,
    chain_out,
    contract_detail,
    contract_detail_out,
    contract_events,
    contract_outs,
    contracts_query,
    diff_out,
    event_out,
    propose_terms,
    withdraw_contract,
)
from contracts.signing import SignatureRefused, SignIn, sign_contract
from contracts.terms import TermsProposalIn
from participants.fields import Paging
from web.api import api_bp
from web.api.openapi import Page, operation
from web.db import get_db
from web.pagination import paginate
from web.views.contracts import send_contract_notices


class EventPage(Page[EventOut]):
    """One page of a contract's audit trail (oldest first) and the whole chain's verification."""

    chain: ChainOut = Field(description="whether every event still verifies")


def _detail(contract_id: int) -> ContractDetailOut:
    actor = g.caller.actor
    return contract_detail_out(contract_detail(get_db(), actor, contract_id), actor)


def _committed(contract_id: int, status: int = 200):
    """Commit the step, e-mail the other side's notices, answer the contract as it is now."""
    db = get_db()
    db.commit()
    send_contract_notices(db)
    return _detail(contract_id), status


@api_bp.get("/contracts")
@operation(
    "My contracts",
    query=ContractsQuery,
    responses={200: Page[ContractOut]},
    tag="contracts",
)
def my_contracts(query: ContractsQuery):
    """The caller's organisation's contracts (as seller or buyer), newest first, with their
    latest terms; `status` filters (draft, active, completed, terminated, withdrawn). Members
    of the two parties, whatever their organisation's state."""
    actor = g.caller.actor
    db = get_db()
    page = paginate(db, contracts_query(actor, query.status), paging=query)
    return page.as_json([c.model_dump(mode="json") for c in contract_outs(db, actor, page.items)])


@api_bp.get("/contracts/<int:contract_id>")
@operation("Read a contract", responses={200: ContractDetailOut}, tag="contracts")
def contract(contract_id: int):
    """One of the caller's organisation's contracts in full: every version of its terms with
    their SHA-256, the signatures, the thread, whether its audit chain is intact, and what the
    caller may do now. Another organisation's contract is not found."""
    return _detail(contract_id)


@api_bp.get("/contracts/<int:contract_id>/diff")
@operation(
    "Compare two versions of a contract's terms",
    query=DiffQuery,
    responses={200: DiffOut},
    tag="contracts",
)
def contract_diff(contract_id: int, query: DiffQuery):
    """The terms that differ from version `a` to version `b` (404 for a version that does not
    exist)."""
    detail = contract_detail(get_db(), g.caller.actor, contract_id)
    return diff_out(query.a, query.b, detail.diff(query.a, query.b))


@api_bp.post("/contracts/<int:contract_id>/terms")
@operation(
    "Propose a new version of the terms (a counter-offer)",
    body=TermsProposalIn,
    responses={201: ContractDetailOut},
    errors=(403, 409),
    tag="contracts",
)
def propose(contract_id: int, body: TermsProposalIn):
    """A signatory or trader of either party proposes a new version of a draft's terms: send
    only the terms that change (the others stay as in the latest version) and an optional
    comment. It becomes the only version that can be signed; earlier signatures are voided.
    The other side is notified in the app and by e-mail. 422: no term changes, or a rule of
    the terms is broken; 409: the contract is no longer a draft."""
    propose_terms(get_db(), g.caller.actor, contract_id, body)
    return _committed(contract_id, 201)


@api_bp.post("/contracts/<int:contract_id>/comments")
@operation(
    "Write in a contract's thread",
    body=CommentIn,
    responses={201: ContractDetailOut},
    errors=(403, 409),
    tag="contracts",
)
def comment(contract_id: int, body: CommentIn):
    """A message to the other side (a signatory or trader of either party; draft or active
    contracts). The other side is notified."""
    add_comment(get_db(), g.caller.actor, contract_id, body)
    return _committed(contract_id, 201)


@api_bp.post("/contracts/<int:contract_id>/sign")
@operation(
    "Sign the latest version of a contract",
    body=SignIn,
    responses={200: ContractDetailOut},
    errors=(403, 409),
    tag="contracts",
)
def sign(contract_id: int, body: SignIn):
    """A signatory of either party signs the latest version (send its `version`, and its
    `terms_sha256` to be sure it is the one read). The signature records the member, the time,
    the client's address and the SHA-256 of the canonical terms; the second signature on the
    same hash makes the contract active and commits its monthly tonnes on the listing.
    403 for a party's member who may not sign (the attempt is recorded in the audit trail);
    409: no longer a draft, not the latest version, already signed, or the listing lacks the
    volume (nothing is written)."""
    db = get_db()
    try:
        sign_contract(db, g.caller.actor, contract_id, body, request.remote_addr or "")
    except SignatureRefused:
        db.commit()  # the refused attempt stays in the contract's audit trail
        raise
    return _committed(contract_id)


@api_bp.post("/contracts/<int:contract_id>/withdraw")
@operation(
    "Withdraw a contract draft",
    responses={200: ContractDetailOut},
    errors=(403, 409),
    tag="contracts",
)
def withdraw(contract_id: int):
    """Either party's signatory or trader gives up a draft (declining a one-sided draft is
    withdrawing it): the volume it holds on its listing and request is released. 409: the
    contract is no longer a draft."""
    withdraw_contract(get_db(), g.caller.actor, contract_id)
    return _committed(contract_id)


@api_bp.get("/contracts/<int:contract_id>/events")
@operation(
    "A contract's audit trail",
    query=Paging,
    responses={200: EventPage},
    tag="contracts",
)
def events(contract_id: int, query: Paging):
    """The contract's events in order, each with the SHA-256 of the one before, and whether the
    whole chain still verifies (for members of the two parties)."""
    db = get_db()
    events_query, report = contract_events(db, g.caller.actor, contract_id)
    page = paginate(db, events_query, paging=query)
    body = page.as_json([event_out(e).model_dump(mode="json") for e in page.items])
    return {**body, "chain": chain_out(report).model_dump(mode="json")}
