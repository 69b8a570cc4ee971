"""Contract drafts: from an accepted proposal, or started directly from a listing or request.

A draft from a proposal both sides accepted holds its monthly volume from the start: the
proposal's acceptance commits it on the listing and fills the request with the atomic
conditional UPDATEs of ``market.listings`` (``reserved_kg`` / ``filled_kg`` record what the
draft holds), so no listing is ever oversold. A one-sided draft, started straight from a
listing or a request, holds nothing: it commits its volume when both sides have signed
(``contracts.signing``). When volume is missing, ``Conflict`` is raised and the caller rolls
back: nothing of the attempt is kept.

Every draft gets version 1 of its terms, sealed with the SHA-256 of the canonical terms
(``contracts.terms``), the first event of its audit trail (``contract.drafted``) and a notice
to the other side, which can agree (sign), counter (a new version) or decline (withdraw).

Who may (checked here, whatever the caller):
- accept or decline a proposal: `market.matching.DECIDE_PROPOSALS` (a signatory or trader of a
  verified organisation that is one side of it);
- start a draft from a listing: a signatory or trader of a verified manufacturer
  (`DRAFT_FROM_LISTING`); from a request: of a verified recycler, with one of its own listings
  (`DRAFT_FROM_REQUEST`);
- read contracts: members of the two parties only, in any state of their organisation
  (`SEE_CONTRACTS`, `contracts.negotiation`); for anyone else a contract does not exist.
Functions flush, never commit: the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from contracts.crossborder import inherited_record
from contracts.events import append_event
from contracts.models import ContractStatus, ContractTerms, OfftakeContract
from contracts.negotiation import (  # noqa: F401  (reading contracts: re-exported)
    SEE_CONTRACTS,
    contracts_query,
    drafts_for_org,
    latest_terms,
    notify_party,
    other_party,
    own_contract,
    with_terms,
)
from contracts.terms import seal_terms
from market.allocation import tonnes_to_kg
from market.listings import add_months, commit_volume, fill_request, kg_to_tonnes
from market.matching import (
    DECIDE_PROPOSALS,
    ProposalOut,
    ProposalRow,
    decide,
    first_of_month,
    grade_acceptance,
    month_number,
    proposal_out,
)
from market.models import ListingStatus, OfftakeRequest, SupplyListing
from market.visibility import can_see_listing
from participants.actors import Actor, permission
from participants.audit import record_audit
from participants.errors import N_, Conflict, NotFound, ValidationFailed
from participants.fields import Id, Month, Months, Tonnes
from participants.models import OrgKind, Role

DEFAULT_TOLERANCE_PCT = Decimal("5")
DEFAULT_TAKE_OR_PAY_PCT = Decimal("80")
DEFAULT_PAYMENT_DAYS = 30

_SIDE_MESSAGE = N_("Your organisation cannot take this side of a contract.")
DRAFT_FROM_LISTING = permission(
    N_("Only a signatory or trader may do this."),
    kinds=[OrgKind.MANUFACTURER],
    roles=[Role.SIGNATORY, Role.TRADER],
    kind_message=_SIDE_MESSAGE,
)
DRAFT_FROM_REQUEST = permission(
    N_("Only a signatory or trader may do this."),
    kinds=[OrgKind.RECYCLER],
    roles=[Role.SIGNATORY, Role.TRADER],
    kind_message=_SIDE_MESSAGE,
)


# ----------------------------------------------------------------------------------------------
# Input and output shapes (shared by the pages and the API)
# ----------------------------------------------------------------------------------------------


class DraftFromListingIn(BaseModel):
    """A draft straight from a listing: tonnes a month and a period inside the listing's."""

    model_config = ConfigDict(extra="forbid")
    monthly_t: Tonnes = Field(description="tonnes a month, at least the listing's minimum")
    start_month: Month = Field(description="YYYY-MM, not before the listing's first month")
    term_months: Months = Field(description="months, ending inside the listing's term")


class DraftFromRequestIn(BaseModel):
    """A draft answering a request from one of the caller's own open listings.

    Without a start month the draft starts where the two periods overlap; without a term it
    runs to the end of the overlap.
    """

    model_config = ConfigDict(extra="forbid")
    listing_id: Id = Field(description="one of the caller's own open listings")
    monthly_t: Tonnes = Field(description="tonnes a month, at most what the request still needs")
    start_month: Month | None = Field(default=None, description="YYYY-MM; default: the overlap")
    term_months: Months | None = Field(default=None, description="default: to the overlap's end")


class DecisionOut(BaseModel):
    """The proposal after the caller's decision, and the draft when both sides accepted."""

    proposal: ProposalOut
    contract_id: int | None = Field(description="the new contract draft, once both accepted")


# ----------------------------------------------------------------------------------------------
# Writing a draft
# ----------------------------------------------------------------------------------------------


def _create(
    session: Session,
    actor: Actor,
    listing: SupplyListing,
    request: OfftakeRequest | None,
    buyer_org_id: int,
    monthly_kg: int,
    start: date,
    term_months: int,
    proposal_id: int | None = None,
) -> OfftakeContract:
    """A draft with version 1 of its terms (the listing's grade, price and Incoterms), sealed.

    A draft from an accepted proposal holds `monthly_kg` already (its caller committed it);
    a one-sided draft holds nothing yet.
    """
    held = monthly_kg if proposal_id is not None else 0
    contract = OfftakeContract(
        status=ContractStatus.DRAFT,
        seller_org_id=listing.organization_id,
        buyer_org_id=buyer_org_id,
        listing_id=listing.id,
        request_id=request.id if request else None,
        proposal_id=proposal_id,
        material_code=listing.material_code,
        created_by_member_id=actor.member_id,
        reserved_kg=held,
        filled_kg=held if request is not None else 0,
        movement_record_id=inherited_record(listing, request),
    )
    session.add(contract)
    session.flush()
    terms = ContractTerms(
        contract_id=contract.id,
        version=1,
        start_month=start,
        term_months=term_months,
        monthly_kg=monthly_kg,
        tolerance_pct=DEFAULT_TOLERANCE_PCT,
        take_or_pay_pct=DEFAULT_TAKE_OR_PAY_PCT,
        incoterm=listing.incoterm,
        incoterm_place=listing.incoterm_place,
        standard_version_id=listing.standard_version_id,
        price_kind=listing.price_kind,
        fixed_price_jpy_per_t=listing.fixed_price_jpy_per_t,
        index_id=listing.index_id,
        index_factor=listing.index_factor,
        premium_jpy_per_t=listing.premium_jpy_per_t,
        floor_jpy_per_t=listing.floor_jpy_per_t,
        cap_jpy_per_t=listing.cap_jpy_per_t,
        payment_days=DEFAULT_PAYMENT_DAYS,
        proposed_by_org_id=actor.organization_id,
        proposed_by_member_id=actor.member_id,
    )
    seal_terms(contract, terms)
    session.add(terms)
    session.flush()
    record_audit(
        session,
        actor,
        "contract.drafted",
        "offtakecontract",
        contract.id,
        {"listing": listing.id, "request": request.id if request else None, "kg": monthly_kg},
    )
    append_event(
        session,
        contract.id,
        "contract.drafted",
        actor,
        {
            "listing": listing.id,
            "request": request.id if request else None,
            "proposal": proposal_id,
            "version": 1,
            "sha256": terms.sha256,
            "monthly_kg": monthly_kg,
            "held_kg": held,
        },
    )
    notify_party(
        session,
        contract,
        other_party(contract, actor),
        N_(
            "Contract draft %(id)s was started with your organisation: sign it to agree,"
            " propose a new version, or withdraw it to decline."
        ),
        "drafted",
    )
    return contract


@dataclass
class ProposalDecision:
    """A side's decision on a proposal; `contract` is the draft once both sides accepted."""

    row: ProposalRow
    contract: OfftakeContract | None


def decision_out(result: ProposalDecision) -> DecisionOut:
    return DecisionOut(
        proposal=proposal_out(result.row),
        contract_id=result.contract.id if result.contract is not None else None,
    )


def accept_proposal(session: Session, actor: Actor, proposal_id: int) -> ProposalDecision:
    """Record the actor's organisation's acceptance; a draft contract once both sides accept.

    `DECIDE_PROPOSALS`; another organisation's proposal is NotFound. On a ``Conflict`` (volume
    no longer available) the caller rolls back: nothing is written.
    """
    DECIDE_PROPOSALS.check(actor)
    decision = decide(session, actor, proposal_id, accept=True)
    record_audit(session, actor, "proposal.accepted", "proposal", proposal_id, {})
    if not decision.completed:
        return ProposalDecision(decision.row, None)
    proposal = decision.proposal
    listing, request = decision.row.listing, decision.row.request
    try:
        commit_volume(session, listing.id, proposal.monthly_kg)
        fill_request(session, request.id, proposal.monthly_kg)
    except Conflict:
        raise Conflict(
            "This proposal can no longer be honoured: the volume is not available any more."
        ) from None
    start = max(first_of_month(listing.available_from), first_of_month(request.start_month))
    contract = _create(
        session,
        actor,
        listing,
        request,
        request.organization_id,
        proposal.monthly_kg,
        start,
        proposal.overlap_months,
        proposal_id=proposal.id,
    )
    return ProposalDecision(decision.row, contract)


def decline_proposal(session: Session, actor: Actor, proposal_id: int) -> ProposalDecision:
    """The actor's organisation declines; the proposal is declined for both sides."""
    DECIDE_PROPOSALS.check(actor)
    decision = decide(session, actor, proposal_id, accept=False)
    record_audit(session, actor, "proposal.declined", "proposal", proposal_id, {})
    return ProposalDecision(decision.row, None)


def _period(start: date, term: int, lo: date, hi: date) -> tuple[date, int]:
    """Start month and term, the whole contract inside ``[lo, hi)``."""
    start = first_of_month(start)
    if start < first_of_month(lo) or term < 1 or add_months(start, term) > hi:
        raise ValidationFailed(
            "The contract period lies outside the listing's or request's period.",
            field="start_month",
        )
    return start, term


def _monthly_kg(tonnes: Decimal, listing: SupplyListing) -> int:
    kg = tonnes_to_kg(tonnes)
    if kg <= 0:
        raise ValidationFailed("The volume must be more than zero.", field="monthly_t")
    if kg < listing.min_kg_per_contract:
        raise ValidationFailed(
            "The listing's minimum per contract is %(t)s t a month.",
            field="monthly_t",
            t=kg_to_tonnes(listing.min_kg_per_contract),
        )
    return kg


def draft_from_listing(
    session: Session, actor: Actor, listing_id: int, data: DraftFromListingIn
) -> OfftakeContract:
    """A manufacturer starts a draft straight from a visible open listing (`DRAFT_FROM_LISTING`).

    A one-sided draft reserves nothing: the volume must be available now, and it is committed
    only when both sides have agreed (accepted proposal, or signed contract).
    """
    DRAFT_FROM_LISTING.check(actor)
    listing = session.get(SupplyListing, listing_id)
    if (
        listing is None
        or not can_see_listing(listing, actor.organization_id)
        or actor.owns(listing.organization_id)
    ):
        raise NotFound("No such listing.")
    if listing.status != ListingStatus.OPEN:
        raise Conflict("The listing is not open.")
    kg = _monthly_kg(data.monthly_t, listing)
    listing_start = first_of_month(listing.available_from)
    start, term = _period(
        data.start_month,
        data.term_months,
        listing_start,
        add_months(listing_start, listing.max_term_months),
    )
    _check_available(listing, kg)
    return _create(session, actor, listing, None, actor.organization_id, kg, start, term)


def draft_from_request(
    session: Session, actor: Actor, request_id: int, data: DraftFromRequestIn
) -> OfftakeContract:
    """A recycler answers an open request from one of its own open listings
    (`DRAFT_FROM_REQUEST`).

    The terms carry the listing's grade and price formula (the buyer's limit stays private);
    the grade must be acceptable to the request. Without a start/term the draft covers the
    overlap of the two periods. Reserves nothing until both sides have agreed.
    """
    DRAFT_FROM_REQUEST.check(actor)
    request = session.get(OfftakeRequest, request_id)
    if request is None or request.status != ListingStatus.OPEN:
        raise NotFound("No such request.")
    listing = session.get(SupplyListing, data.listing_id)
    if listing is None or not actor.owns(listing.organization_id):
        raise NotFound("No such listing.", field="listing_id")
    if listing.status != ListingStatus.OPEN:
        raise Conflict("The listing is not open.", field="listing_id")
    if listing.material_code != request.material_code or (
        listing.standard_version_id not in grade_acceptance(session, [request])[request.id]
    ):
        raise ValidationFailed(
            "The listing's grade is not acceptable to the request.", field="listing_id"
        )
    kg = _monthly_kg(data.monthly_t, listing)
    listing_start = first_of_month(listing.available_from)
    request_start = first_of_month(request.start_month)
    lo = max(listing_start, request_start)
    hi = min(
        add_months(listing_start, listing.max_term_months),
        add_months(request_start, request.term_months),
    )
    if hi <= lo:
        raise ValidationFailed(
            "The listing's and the request's periods do not overlap.", field="listing_id"
        )
    start = first_of_month(data.start_month) if data.start_month is not None else lo
    term = data.term_months or month_number(hi) - month_number(start)
    start, term = _period(start, term, lo, hi)
    _check_available(listing, kg)
    if kg > request.open_kg:
        raise Conflict("The request does not need that much volume any more.", field="monthly_t")
    return _create(session, actor, listing, request, request.organization_id, kg, start, term)


def _check_available(listing: SupplyListing, kg: int) -> None:
    if kg > listing.available_kg:
        raise Conflict("Not enough volume is available on this listing.", field="monthly_t")
