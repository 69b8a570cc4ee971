"""Signing a contract: each party's signatory signs the latest version's canonical terms; two
signatures on the same SHA-256 make the contract active.

A signature records the member, the time, the client's address and the SHA-256 of the terms
it signs (`ContractTerms.sha256`, recomputed before signing so that a stored version changed
behind the parties' backs cannot be signed). Only the latest version of a draft can be signed;
a counter-offer voids earlier signatures (`contracts.negotiation.propose_terms`).

Activation sets the contract's volume to the signed version's monthly tonnes, through the
conditional updates of `market.listings` (`contracts.negotiation.hold_volume`): a one-sided
draft commits its tonnes on the listing (and fills the request) now; a draft from an accepted
proposal already holds its tonnes and moves only the difference of a version with other
tonnes. When the listing lacks the volume (or the request needs less), the signature that
would activate the contract is refused (409) and nothing is written, so a listing is never
oversold, even when several contracts on it become active at once.

Who may sign: a signatory of a verified organisation that is one of the two parties
(`contracts.negotiation.SIGN_CONTRACTS`). A party's member who may not sign gets 403 and the
attempt is recorded in the contract's audit trail (`signature.refused`; the caller commits it,
see `SignatureRefused`); for anyone else the contract does not exist (404 for a signatory of
another organisation, 403 for one who could sign nothing anyway).
"""

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from contracts.crossborder import check_before_signing, commit_on_activation
from contracts.events import append_event
from contracts.models import ContractStatus, ContractTerms, OfftakeContract, Signature
from contracts.negotiation import (
    SEE_CONTRACTS,
    SIGN_CONTRACTS,
    hold_volume,
    latest_terms,
    live_signatures,
    lock_contract,
    notify_party,
    other_party,
    party_contract,
    transition,
)
from contracts.terms import terms_sha256
from participants.actors import Actor
from participants.columns import utcnow
from participants.errors import N_, Conflict, NotFound, PermissionDenied
from participants.fields import Id

Sha256 = Annotated[str, Field(pattern="^[0-9a-f]{64}$", description="lower-case hex SHA-256")]


class SignIn(BaseModel):
    """The version the signatory read and signs: it must still be the latest version, and its
    SHA-256 (when sent) the one of that version's canonical terms."""

    model_config = ConfigDict(extra="forbid")
    version: Id = Field(description="the terms version signed (the latest)")
    terms_sha256: Sha256 | None = None


class SignatureRefused(PermissionDenied):
    """A member of one of the parties who may not sign tried to: 403, and the attempt is in
    the contract's audit trail (event `signature.refused`, flushed) — the caller commits it
    before answering, nothing else having been written."""


@dataclass
class Signed:
    contract: OfftakeContract
    signature: Signature
    activated: bool


def _refuse(session: Session, actor: Actor, contract_id: int, reason: str) -> None:
    """403 for an actor who may not sign; the attempt is recorded when it is a party's member."""
    try:
        contract = party_contract(session, actor, contract_id) if actor.member_id else None
    except NotFound:
        contract = None
    if contract is None:
        raise PermissionDenied(reason)
    append_event(
        session,
        contract.id,
        "signature.refused",
        actor,
        {"reason": reason, "roles": sorted(actor.roles)},
    )
    raise SignatureRefused(reason)


def sign_contract(
    session: Session, actor: Actor, contract_id: int, data: SignIn, remote_addr: str = ""
) -> Signed:
    """The actor's organisation signs the latest version of a draft (`SIGN_CONTRACTS`).

    409: the contract is no longer a draft, the version is not the latest (or its hash does
    not match), the organisation already signed it, or — when this signature completes the
    pair — the listing lacks the volume; nothing is written then. The other side is notified;
    both are when the contract becomes active.
    """
    reason = SIGN_CONTRACTS.denial(actor)
    if reason is not None:
        SEE_CONTRACTS.check(actor)
        _refuse(session, actor, contract_id, reason)
    contract = lock_contract(session, party_contract(session, actor, contract_id).id)
    if contract.status != ContractStatus.DRAFT:
        raise Conflict("This contract is no longer a draft: there is nothing to sign.")
    latest = latest_terms(session, [contract.id])[contract.id]
    if data.version != latest.version:
        raise Conflict(
            "Version %(version)s is not the latest version of these terms: only version"
            " %(latest)s can be signed.",
            field="version",
            version=data.version,
            latest=latest.version,
        )
    if data.terms_sha256 is not None and data.terms_sha256 != latest.sha256:
        raise Conflict(
            "The terms hash does not match version %(version)s.",
            field="terms_sha256",
            version=latest.version,
        )
    if terms_sha256(contract, latest) != latest.sha256:
        raise Conflict("The stored terms do not match their hash; they cannot be signed.")
    signatures = live_signatures(session, latest.id)
    if any(s.organization_id == actor.organization_id for s in signatures):
        raise Conflict("Your organisation has already signed this version.")
    check_before_signing(session, contract, latest)  # critical scrap across the border
    signature = Signature(
        contract_id=contract.id,
        terms_id=latest.id,
        organization_id=actor.organization_id,
        member_id=actor.member_id,
        terms_sha256=latest.sha256,
        remote_addr=(remote_addr or "")[:64],
    )
    session.add(signature)
    session.flush()
    side = "seller" if actor.owns(contract.seller_org_id) else "buyer"
    append_event(
        session,
        contract.id,
        "contract.signed",
        actor,
        {"version": latest.version, "sha256": latest.sha256, "side": side},
    )
    other = other_party(contract, actor)
    if any(s.organization_id == other and s.terms_sha256 == latest.sha256 for s in signatures):
        _activate(session, actor, contract, latest)
        return Signed(contract, signature, True)
    notify_party(
        session,
        contract,
        other,
        N_(
            "The other side signed version %(version)s of contract %(id)s: your signature"
            " makes it active."
        ),
        f"signed:{latest.version}:{actor.organization_id}",
        version=latest.version,
    )
    return Signed(contract, signature, False)


def _activate(
    session: Session, actor: Actor, contract: OfftakeContract, terms: ContractTerms
) -> None:
    """Both sides signed `terms`: the contract holds its monthly tonnes and becomes active."""
    before = {"listing_kg": contract.reserved_kg, "request_kg": contract.filled_kg}
    moved = hold_volume(session, contract, terms.monthly_kg)
    consent_kg = commit_on_activation(session, contract, terms)
    transition(contract, ContractStatus.ACTIVE)
    contract.active_version = terms.version
    contract.activated_at = utcnow()
    session.add(contract)
    session.flush()
    append_event(
        session,
        contract.id,
        "contract.activated",
        actor,
        {
            "version": terms.version,
            "sha256": terms.sha256,
            "monthly_kg": terms.monthly_kg,
            "held_before": before,
            "moved": moved,
        }
        | (
            {"movement_record_id": contract.movement_record_id, "consent_committed_kg": consent_kg}
            if consent_kg
            else {}
        ),
    )
    for org_id in (contract.seller_org_id, contract.buyer_org_id):
        notify_party(
            session,
            contract,
            org_id,
            N_("Contract %(id)s is active: both sides signed version %(version)s."),
            "active",
            version=terms.version,
        )
