"""Contract drafts: from an accepted proposal, or started directly from a listing or request.

Every draft commits its monthly volume on the listing (and fills the request) with the atomic
conditional UPDATEs of ``market.listings``, so no listing is ever oversold. When volume is
missing, ``Conflict`` is raised and the caller rolls back: nothing of the attempt is kept.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlmodel import Session, col, or_, select

from contracts.models import ContractStatus, ContractTerms, OfftakeContract
from market.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from market.listings import (
    add_months,
    can_see_listing,
    commit_volume,
    fill_request,
    kg_to_tonnes,
    parse_month,
    parse_term,
    tonnes_to_kg,
)
from market.matching import decide, first_of_month, grade_acceptance, month_number
from market.models import (
    ListingStatus,
    Member,
    OfftakeRequest,
    Organization,
    OrgKind,
    Proposal,
    Role,
    SupplyListing,
)
from market.participants import record_audit, require_verified

DEFAULT_TOLERANCE_PCT = Decimal("5")
DEFAULT_TAKE_OR_PAY_PCT = Decimal("80")
DEFAULT_PAYMENT_DAYS = 30


def _require_dealer(session: Session, member: Member, kind: str | None = None) -> Organization:
    """A signatory or trader of a verified organisation (of the given kind)."""
    org = session.get(Organization, member.organization_id)
    if org is None:
        raise NotFound("No such organisation.")
    require_verified(org)
    if not (member.has_role(Role.SIGNATORY) or member.has_role(Role.TRADER)):
        raise PermissionDenied("Only a signatory or trader may do this.")
    if kind is not None and org.kind != kind:
        raise PermissionDenied("Your organisation cannot take this side of a contract.")
    return org


def _create(
    session: Session,
    member: Member,
    listing: SupplyListing,
    request: OfftakeRequest | None,
    buyer_org_id: int,
    monthly_kg: int,
    start: date,
    term_months: int,
    proposal_id: int | None = None,
) -> OfftakeContract:
    contract = OfftakeContract(
        status=ContractStatus.DRAFT,
        seller_org_id=listing.organization_id,
        buyer_org_id=buyer_org_id,
        listing_id=listing.id,
        request_id=request.id if request else None,
        proposal_id=proposal_id,
        material_code=listing.material_code,
        created_by_member_id=member.id,
    )
    session.add(contract)
    session.flush()
    session.add(
        ContractTerms(
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
            proposed_by_org_id=member.organization_id,
        )
    )
    session.flush()
    record_audit(
        session,
        member,
        "contract.drafted",
        "offtakecontract",
        contract.id,
        {"listing": listing.id, "request": request.id if request else None, "kg": monthly_kg},
    )
    return contract


def accept_proposal(session: Session, member: Member, proposal_id: int) -> OfftakeContract | None:
    """Record the member's organisation's acceptance; a draft contract once both sides accept.

    Returns the contract when this acceptance completed the proposal, else None. On a
    ``Conflict`` (volume no longer available) the caller rolls back: nothing is written.
    """
    _require_dealer(session, member)
    decision = decide(session, member.organization_id, proposal_id, accept=True)
    record_audit(session, member, "proposal.accepted", "proposal", proposal_id, {})
    if not decision.completed:
        return None
    proposal: Proposal = decision.proposal
    listing = session.get(SupplyListing, proposal.listing_id)
    request = session.get(OfftakeRequest, proposal.request_id)
    try:
        commit_volume(session, listing.id, proposal.monthly_kg)
        fill_request(session, request.id, proposal.monthly_kg)
    except Conflict:
        raise Conflict(
            "This proposal can no longer be honoured: the volume is not available any more."
        ) from None
    start = max(first_of_month(listing.available_from), first_of_month(request.start_month))
    return _create(
        session,
        member,
        listing,
        request,
        request.organization_id,
        proposal.monthly_kg,
        start,
        proposal.overlap_months,
        proposal_id=proposal.id,
    )


def decline_proposal(session: Session, member: Member, proposal_id: int) -> Proposal:
    """The member's organisation declines; the proposal is declined for both sides."""
    _require_dealer(session, member)
    decision = decide(session, member.organization_id, proposal_id, accept=False)
    record_audit(session, member, "proposal.declined", "proposal", proposal_id, {})
    return decision.proposal


def _period(
    start_value: object, term_value: object, from_month: date, until: date
) -> tuple[date, int]:
    """Start month and term inside ``[from_month, until)``."""
    start = parse_month(start_value, "start_month")
    term = parse_term(term_value, "term_months")
    if start < first_of_month(from_month) or add_months(start, term) > until:
        raise ValidationFailed(
            "The contract period lies outside the listing's or request's period.",
            field="start_month",
        )
    return start, term


def _monthly(value: object, listing: SupplyListing) -> int:
    kg = tonnes_to_kg(value, "monthly_t")
    if kg < listing.min_kg_per_contract:
        raise ValidationFailed(
            "The listing's minimum per contract is %(t)s t a month.",
            field="monthly_t",
            t=kg_to_tonnes(listing.min_kg_per_contract),
        )
    return kg


def draft_from_listing(
    session: Session,
    member: Member,
    listing_id: int,
    monthly_t: object,
    start_month: object,
    term_months: object,
) -> OfftakeContract:
    """A manufacturer starts a draft straight from a visible open listing.

    A one-sided draft reserves nothing: the volume must be available now, and it is committed
    only when both sides have agreed (accepted proposal, or signed contract).
    """
    org = _require_dealer(session, member, OrgKind.MANUFACTURER)
    listing = session.get(SupplyListing, listing_id)
    if listing is None or not can_see_listing(listing, org.id) or listing.organization_id == org.id:
        raise NotFound("No such listing.")
    if listing.status != ListingStatus.OPEN:
        raise Conflict("The listing is not open.")
    kg = _monthly(monthly_t, listing)
    start, term = _period(
        start_month,
        term_months,
        listing.available_from,
        add_months(first_of_month(listing.available_from), listing.max_term_months),
    )
    _check_available(listing, kg)
    return _create(session, member, listing, None, org.id, kg, start, term)


def draft_from_request(
    session: Session,
    member: Member,
    request_id: int,
    listing_id: int,
    monthly_t: object,
    start_month: object = None,
    term_months: object = None,
) -> OfftakeContract:
    """A recycler answers an open request from one of its own open listings.

    The terms carry the listing's grade and price formula (the buyer's limit stays private);
    the grade must be acceptable to the request. Without a start/term the draft covers the
    overlap of the two periods. Reserves nothing until both sides have agreed.
    """
    org = _require_dealer(session, member, OrgKind.RECYCLER)
    request = session.get(OfftakeRequest, request_id)
    if request is None or request.status != ListingStatus.OPEN:
        raise NotFound("No such request.")
    listing = session.get(SupplyListing, listing_id)
    if listing is None or listing.organization_id != org.id:
        raise NotFound("No such listing.")
    if listing.status != ListingStatus.OPEN:
        raise Conflict("The listing is not open.")
    if listing.material_code != request.material_code or (
        listing.standard_version_id not in grade_acceptance(session, [request])[request.id]
    ):
        raise ValidationFailed(
            "The listing's grade is not acceptable to the request.", field="listing_id"
        )
    kg = _monthly(monthly_t, listing)
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
    if start_month in (None, "") and term_months in (None, ""):
        start, term = lo, month_number(hi) - month_number(lo)
    else:
        start, term = _period(start_month, term_months, lo, hi)
    _check_available(listing, kg)
    if kg > request.open_kg:
        raise Conflict("The request does not need that much volume any more.", field="monthly_t")
    return _create(session, member, listing, request, request.organization_id, kg, start, term)


def _check_available(listing: SupplyListing, kg: int) -> None:
    if kg > listing.available_kg:
        raise Conflict("Not enough volume is available on this listing.", field="monthly_t")


def drafts_for_org(session: Session, org_id: int) -> list[tuple[OfftakeContract, ContractTerms]]:
    """The organisation's contract drafts (as seller or buyer) with their latest terms."""
    contracts = session.exec(
        select(OfftakeContract)
        .where(or_(OfftakeContract.seller_org_id == org_id, OfftakeContract.buyer_org_id == org_id))
        .order_by(col(OfftakeContract.id).desc())
    ).all()
    terms = latest_terms(session, [c.id for c in contracts])
    return [(c, terms[c.id]) for c in contracts if c.id in terms]


def latest_terms(session: Session, contract_ids: list[int]) -> dict[int, ContractTerms]:
    out: dict[int, ContractTerms] = {}
    if not contract_ids:
        return out
    for t in session.exec(
        select(ContractTerms)
        .where(col(ContractTerms.contract_id).in_(contract_ids))
        .order_by(ContractTerms.contract_id, ContractTerms.version)
    ):
        out[t.contract_id] = t
    return out


def own_contract(
    session: Session, org_id: int, contract_id: int
) -> tuple[OfftakeContract, ContractTerms]:
    contract = session.get(OfftakeContract, contract_id)
    if contract is None or org_id not in (contract.seller_org_id, contract.buyer_org_id):
        raise NotFound("No such contract.")
    return contract, latest_terms(session, [contract.id])[contract.id]
