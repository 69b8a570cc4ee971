"""Contracts that move a critical material across Japan's border: which movement record they run
under, the check at signing and the consented tonnes committed at activation.

The rule is `market.movements`'s; here it meets the contract: the movement goes from the
seller's country to the buyer's (to the delivery country when both are in one country); the
record is either party's. A draft takes its listing's (or request's) record when it is written;
a party may attach another of its records while the contract is a draft (`ATTACH`). Signing a
contract that needs a record and lacks a valid one — for the whole term and the term's tonnes —
is refused (409) with what is missing; activation commits the term's tonnes on the record with
one conditional UPDATE (`market.movements.commit_consent`), so two contracts activating at once
cannot both take the last tonnes of a consent.
"""

from datetime import date, timedelta

from pydantic import BaseModel
from sqlmodel import Session, col, select

from contracts.events import append_event
from contracts.models import ContractTerms, OfftakeContract
from contracts.negotiation import lock_contract, party_contract, require_draft
from market.listings import add_months
from market.models import MovementRecord, MovementRecordStatus, OfftakeRequest, SupplyListing
from market.movements import (
    MANAGE_MOVEMENTS,
    Movement,
    commit_consent,
    is_critical,
    movement,
    read_record,
    require_record,
)
from participants.actors import Actor
from participants.errors import ValidationFailed
from participants.models import Organization


def delivery_country(session: Session, contract: OfftakeContract) -> str:
    """The country of the contract's delivery place: its listing's, else its request's, else
    the seller's."""
    if contract.listing_id:
        return session.get(SupplyListing, contract.listing_id).delivery_country
    if contract.request_id:
        return session.get(OfftakeRequest, contract.request_id).delivery_country
    return session.get(Organization, contract.seller_org_id).country


def contract_movement(session: Session, contract: OfftakeContract) -> Movement | None:
    """The movement across Japan's border a contract of a critical material makes, or None."""
    if not is_critical(session, contract.material_code):
        return None
    seller = session.get(Organization, contract.seller_org_id)
    buyer = session.get(Organization, contract.buyer_org_id)
    if seller.country != buyer.country:
        return movement(seller.country, buyer.country)
    return movement(seller.country, delivery_country(session, contract))


def term_days(terms: ContractTerms) -> tuple[date, date]:
    """First and last day (inclusive) of a contract term."""
    return terms.start_month, add_months(terms.start_month, terms.term_months) - timedelta(days=1)


def term_kg(terms: ContractTerms) -> int:
    return terms.monthly_kg * terms.term_months


def inherited_record(listing: SupplyListing | None, request: OfftakeRequest | None) -> int | None:
    """The record a new draft starts with: its listing's, else its request's."""
    if listing is not None and listing.movement_record_id:
        return listing.movement_record_id
    if request is not None and request.movement_record_id:
        return request.movement_record_id
    return None


def check_before_signing(
    session: Session, contract: OfftakeContract, terms: ContractTerms
) -> MovementRecord | None:
    """The valid record the contract runs under (None when it needs none); 409 saying what is
    missing otherwise (the whole term, the term's tonnes)."""
    move = contract_movement(session, contract)
    if move is None:
        return None
    first, last = term_days(terms)
    return require_record(
        session,
        contract.movement_record_id,
        {contract.seller_org_id, contract.buyer_org_id},
        contract.material_code,
        move,
        first,
        last,
        term_kg(terms),
    )


def commit_on_activation(session: Session, contract: OfftakeContract, terms: ContractTerms) -> int:
    """Both sides signed: commit the term's tonnes on the record (conditional UPDATE); the kg
    committed (0 when the contract needs no record)."""
    record = check_before_signing(session, contract, terms)
    if record is None:
        return 0
    first, last = term_days(terms)
    kg = term_kg(terms)
    commit_consent(session, record.id, kg, first, last)
    contract.consent_committed_kg = kg
    session.add(contract)
    return kg


def attach_movement_record(
    session: Session, actor: Actor, contract_id: int, record_id: int | None
) -> OfftakeContract:
    """A party attaches one of its organisation's records to a draft (or detaches with None).

    404: not a party's contract; 422: a record of another organisation; 409: not a draft."""
    MANAGE_MOVEMENTS.check(actor)
    contract = lock_contract(session, party_contract(session, actor, contract_id).id)
    require_draft(contract)
    if record_id is not None:
        record = session.get(MovementRecord, record_id)
        if record is None or not actor.owns(record.organization_id):
            raise ValidationFailed(
                "Choose one of your organisation's movement records.", field="movement_record_id"
            )
        if record.status != MovementRecordStatus.ACTIVE:
            raise ValidationFailed(
                "This movement record is withdrawn: choose an active one.",
                field="movement_record_id",
            )
    before = contract.movement_record_id
    contract.movement_record_id = record_id
    session.add(contract)
    session.flush()
    append_event(
        session,
        contract.id,
        "contract.movement_record",
        actor,
        {"before": before, "after": record_id},
    )
    return contract


class ContractUnderRecordOut(BaseModel):
    """A contract running under a movement record, with the tonnes it committed on it."""

    id: int
    status: str
    seller_org_id: int
    buyer_org_id: int
    consent_committed_t: str


def contracts_under(session: Session, actor: Actor, record_id: int) -> list[OfftakeContract]:
    """The contracts (draft or later) naming the record: for the record's organisation (of
    those, the ones it is a party to) and the operator; 404 for anyone else."""
    read_record(session, actor, record_id)
    query = select(OfftakeContract).where(OfftakeContract.movement_record_id == record_id)
    if not actor.is_operator:
        org = actor.organization_id or -1
        query = query.where(
            (OfftakeContract.seller_org_id == org) | (OfftakeContract.buyer_org_id == org)
        )
    return list(session.exec(query.order_by(col(OfftakeContract.id))))


def contract_under_out(contract: OfftakeContract) -> ContractUnderRecordOut:
    return ContractUnderRecordOut(
        id=contract.id,
        status=contract.status,
        seller_org_id=contract.seller_org_id,
        buyer_org_id=contract.buyer_org_id,
        consent_committed_t=f"{contract.consent_committed_kg / 1000:.3f}",
    )
