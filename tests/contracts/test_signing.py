"""Signing on the terms hash and activation with volume (issue 8, points 3 and 4): both
signatories sign the latest version; two signatures on one hash make the contract active and
set its volume through the conditional updates, so no listing is ever oversold."""

import json
import threading
from decimal import Decimal

import pytest
from contract_world import (
    build_world,
    draft_of_listing,
    draft_of_proposal,
    draft_of_request,
)
from factories import as_actor, make_member, make_org
from sqlalchemy import text
from sqlmodel import Session, func, select

from contracts.drafting import DraftFromListingIn, draft_from_listing
from contracts.events import events_of, verify_chain
from contracts.models import ContractEvent, ContractTerms, OfftakeContract, Signature
from contracts.negotiation import pending_notices, propose_terms, withdraw_contract
from contracts.signing import SignatureRefused, SignIn, sign_contract
from contracts.terms import TermsProposalIn
from market.listings import ListingPatch, update_listing
from market.models import OfftakeRequest, SupplyListing
from participants.errors import Conflict, NotFound, PermissionDenied


@pytest.fixture()
def w(db):
    return build_world(db)


def _sign(w, who: str, contract, version: int = 1, sha: str | None = None, addr: str = ""):
    return sign_contract(
        w.db, w.actor(who), contract.id, SignIn(version=version, terms_sha256=sha), addr
    )


def _fresh(w, model, record_id):
    w.db.expire_all()
    return w.db.get(model, record_id)


def _count(db, model) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model)).one()


def _latest_sha(w, contract) -> str:
    return w.db.exec(
        select(ContractTerms.sha256).where(ContractTerms.contract_id == contract.id)
    ).one()


def test_two_signatures_on_the_same_hash_make_a_one_sided_draft_active_and_commit_its_volume(w):
    contract = draft_of_listing(w, "40")
    sha = _latest_sha(w, contract)
    first = _sign(w, "buyer signatory", contract, sha=sha, addr="203.0.113.7")
    w.db.commit()
    assert first.activated is False and _fresh(w, OfftakeContract, contract.id).status == "draft"
    assert _fresh(w, SupplyListing, w.listing.id).committed_kg == 0
    second = _sign(w, "seller signatory", contract, sha=sha)
    w.db.commit()
    assert second.activated is True
    contract = _fresh(w, OfftakeContract, contract.id)
    assert (contract.status, contract.active_version, contract.reserved_kg) == ("active", 1, 40_000)
    assert contract.activated_at is not None and contract.filled_kg == 0  # no request
    assert _fresh(w, SupplyListing, w.listing.id).committed_kg == 40_000
    signature = w.db.exec(select(Signature).where(Signature.organization_id == w.buyer.id)).one()
    assert (signature.member_id, signature.remote_addr, signature.terms_sha256) == (
        w.members["buyer signatory"].id,
        "203.0.113.7",
        sha,
    )
    assert signature.signed_at is not None and signature.voided_at is None
    events = events_of(w.db, contract.id)
    assert [e.kind for e in events] == [
        "contract.drafted",
        "contract.signed",
        "contract.signed",
        "contract.activated",
    ]
    assert json.loads(events[-1].detail) == {
        "version": 1,
        "sha256": sha,
        "monthly_kg": 40_000,
        "held_before": {"listing_kg": 0, "request_kg": 0},
        "moved": {"listing_kg": 40_000, "request_kg": 0},
    }
    assert verify_chain(w.db, contract.id).intact


def test_activation_notifies_both_sides_and_a_first_signature_the_other(w):
    contract = draft_of_listing(w)
    pending_notices(w.db)
    _sign(w, "buyer signatory", contract)
    w.db.commit()
    notes = pending_notices(w.db)
    assert {n.member_id for n in notes} == {
        w.members["seller signatory"].id,
        w.members["seller trader"].id,
    }
    assert notes[0].message.startswith("The other side signed version %(version)s")
    _sign(w, "seller signatory", contract)
    w.db.commit()
    active = pending_notices(w.db)
    assert {n.message for n in active} == {
        "Contract %(id)s is active: both sides signed version %(version)s."
    }
    assert len({n.member_id for n in active}) == 4


def test_a_draft_from_a_request_fills_the_request_and_commits_the_listing_at_activation(w):
    contract = draft_of_request(w, "30")
    _sign(w, "seller signatory", contract)
    _sign(w, "buyer signatory", contract)
    w.db.commit()
    contract = _fresh(w, OfftakeContract, contract.id)
    assert (contract.status, contract.reserved_kg, contract.filled_kg) == ("active", 30_000, 30_000)
    assert _fresh(w, SupplyListing, w.listing.id).committed_kg == 30_000
    assert _fresh(w, OfftakeRequest, w.request.id).filled_kg == 30_000


def test_a_draft_from_a_proposal_already_holds_its_volume_and_moves_nothing_at_activation(w):
    contract = draft_of_proposal(w, 60_000)
    _sign(w, "seller signatory", contract)
    _sign(w, "buyer signatory", contract)
    w.db.commit()
    contract = _fresh(w, OfftakeContract, contract.id)
    assert (contract.status, contract.reserved_kg, contract.filled_kg) == ("active", 60_000, 60_000)
    assert _fresh(w, SupplyListing, w.listing.id).committed_kg == 60_000
    assert _fresh(w, OfftakeRequest, w.request.id).filled_kg == 60_000
    moved = json.loads(events_of(w.db, contract.id)[-1].detail)["moved"]
    assert moved == {"listing_kg": 0, "request_kg": 0}


@pytest.mark.parametrize(
    ("tonnes", "listing_kg", "request_kg"), [("45", 45_000, 45_000), ("60", 60_000, 60_000)]
)
def test_a_signed_version_with_other_tonnes_releases_or_commits_the_difference(
    w, tonnes, listing_kg, request_kg
):
    contract = draft_of_proposal(w, 50_000)
    propose_terms(
        w.db,
        w.actor("buyer trader"),
        contract.id,
        TermsProposalIn.model_validate({"monthly_t": tonnes}),
    )
    w.db.commit()
    assert _fresh(w, SupplyListing, w.listing.id).committed_kg == 50_000  # until activation
    _sign(w, "seller signatory", contract, version=2)
    _sign(w, "buyer signatory", contract, version=2)
    w.db.commit()
    contract = _fresh(w, OfftakeContract, contract.id)
    assert (contract.active_version, contract.reserved_kg, contract.filled_kg) == (
        2,
        listing_kg,
        request_kg,
    )
    assert _fresh(w, SupplyListing, w.listing.id).committed_kg == listing_kg
    assert _fresh(w, OfftakeRequest, w.request.id).filled_kg == request_kg


def test_the_signature_that_would_oversell_the_listing_is_refused_and_writes_nothing(w):
    first, second = draft_of_listing(w, "70"), draft_of_listing(w, "40")
    for contract in (first, second):
        _sign(w, "buyer signatory", contract)
    w.db.commit()
    _sign(w, "seller signatory", first)
    w.db.commit()
    events_before = len(events_of(w.db, second.id))
    with pytest.raises(Conflict) as caught:
        _sign(w, "seller signatory", second)
    w.db.rollback()
    assert caught.value.message.startswith("The listing no longer has %(t)s t a month available")
    assert caught.value.params == {"t": Decimal("40.000")}
    assert _fresh(w, SupplyListing, w.listing.id).committed_kg == 70_000
    assert _fresh(w, OfftakeContract, second.id).status == "draft"
    assert len(events_of(w.db, second.id)) == events_before
    assert (
        w.db.exec(
            select(func.count())
            .select_from(Signature)
            .where(Signature.contract_id == second.id, Signature.organization_id == w.seller.id)
        ).one()
        == 0
    )


def test_a_stale_version_a_wrong_hash_or_a_second_signature_is_a_409_and_writes_nothing(w):
    contract = draft_of_listing(w)
    propose_terms(
        w.db,
        w.actor("seller trader"),
        contract.id,
        TermsProposalIn.model_validate({"monthly_t": "35"}),
    )
    w.db.commit()
    events = len(events_of(w.db, contract.id))
    for version, sha, message in [
        (1, None, "Version %(version)s is not the latest version"),
        (3, None, "Version %(version)s is not the latest version"),
        (2, "0" * 64, "The terms hash does not match version %(version)s."),
    ]:
        with pytest.raises(Conflict) as caught:
            _sign(w, "buyer signatory", contract, version=version, sha=sha)
        w.db.rollback()
        assert caught.value.message.startswith(message)
    _sign(w, "buyer signatory", contract, version=2)
    w.db.commit()
    with pytest.raises(Conflict, match="already signed this version"):
        _sign(w, "buyer signatory", contract, version=2)
    w.db.rollback()
    assert _count(w.db, Signature) == 1
    assert len(events_of(w.db, contract.id)) == events + 1


def test_a_party_member_who_may_not_sign_gets_403_and_the_attempt_is_in_the_audit_trail(w):
    contract = draft_of_listing(w)
    with pytest.raises(SignatureRefused) as caught:
        _sign(w, "seller trader", contract)
    assert caught.value.status == 403
    assert caught.value.message == "Only a signatory of the organisation may sign a contract."
    w.db.commit()  # what the page and the API do: the refusal is kept, nothing else
    event = events_of(w.db, contract.id)[-1]
    assert (event.kind, event.actor_member_id) == (
        "signature.refused",
        w.members["seller trader"].id,
    )
    assert json.loads(event.detail) == {
        "reason": "Only a signatory of the organisation may sign a contract.",
        "roles": ["trader"],
    }
    assert _count(w.db, Signature) == 0
    assert verify_chain(w.db, contract.id).intact


def test_an_outsider_cannot_sign_and_learns_nothing(w):
    contract = draft_of_listing(w)
    with pytest.raises(NotFound, match="No such contract."):
        _sign(w, "outsider", contract)  # a signatory of another organisation
    w.db.rollback()
    stranger = make_member(w.db, make_org(w.db, kind="recycler"), roles="trader")
    with pytest.raises(PermissionDenied) as caught:
        sign_contract(w.db, as_actor(w.db, stranger), contract.id, SignIn(version=1))
    assert not isinstance(caught.value, SignatureRefused)
    w.db.rollback()
    assert [e.kind for e in events_of(w.db, contract.id)] == ["contract.drafted"]
    assert _count(w.db, Signature) == 0


def test_an_unverified_partys_signatory_may_not_sign(w):
    contract = draft_of_listing(w)
    w.buyer.status = "unverified"
    w.db.add(w.buyer)
    w.db.commit()
    with pytest.raises(SignatureRefused, match="verified"):
        _sign(w, "buyer signatory", contract)


def test_terms_changed_behind_the_parties_backs_cannot_be_signed(w):
    contract = draft_of_listing(w)
    w.db.execute(text("UPDATE contractterms SET monthly_kg = 99000"))
    w.db.commit()
    with pytest.raises(Conflict, match="do not match their hash"):
        _sign(w, "buyer signatory", contract)


def test_a_withdrawn_draft_cannot_be_signed(w):
    contract = draft_of_listing(w)
    withdraw_contract(w.db, w.actor("seller trader"), contract.id)
    w.db.commit()
    with pytest.raises(Conflict, match="no longer a draft"):
        _sign(w, "seller signatory", contract)


def test_the_listing_owner_still_cannot_shrink_a_listing_below_what_contracts_hold(w):
    contract = draft_of_listing(w, "40")
    _sign(w, "buyer signatory", contract)
    _sign(w, "seller signatory", contract)
    w.db.commit()
    manager = as_actor(w.db, make_member(w.db, w.seller, roles="trader"))
    with pytest.raises(Conflict, match="cannot drop below"):
        update_listing(
            w.db, manager, w.listing.id, ListingPatch.model_validate({"monthly_t": "39"})
        )
    w.db.rollback()
    update_listing(w.db, manager, w.listing.id, ListingPatch.model_validate({"monthly_t": "40"}))
    w.db.commit()
    assert _fresh(w, SupplyListing, w.listing.id).monthly_kg == 40_000


THREADS = 6


def test_simultaneous_activations_on_one_listing_never_oversell_it(app, w):
    """Six one-sided 30 t drafts on a 100 t listing, each signed by its buyer; the seller's
    signatory signs all six at once, each in its own session: three become active."""
    buyers = []
    contracts = []
    for _ in range(THREADS):
        org = make_org(w.db, kind="manufacturer")
        trader = make_member(w.db, org, roles="trader signatory")
        buyers.append(trader)
        contract = draft_from_listing(
            w.db,
            as_actor(w.db, trader),
            w.listing.id,
            DraftFromListingIn(monthly_t=Decimal(30), start_month="2027-02", term_months=6),
        )
        sign_contract(w.db, as_actor(w.db, trader), contract.id, SignIn(version=1))
        w.db.commit()
        contracts.append(contract.id)
    seller = w.actor("seller signatory")
    engine = app.extensions["junkan.engine"]
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(contract_id: int) -> None:
        with Session(engine, expire_on_commit=False) as session:
            barrier.wait(timeout=10)
            try:
                result = sign_contract(session, seller, contract_id, SignIn(version=1))
                session.commit()
                outcome = "active" if result.activated else "signed"
            except Conflict:
                session.rollback()
                outcome = "conflict"
            except Exception as exc:  # noqa: BLE001 - reported below
                session.rollback()
                outcome = f"error: {exc!r}"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=worker, args=(cid,)) for cid in contracts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert not [o for o in outcomes if o.startswith("error")], outcomes
    assert sorted(outcomes) == ["active"] * 3 + ["conflict"] * 3
    assert _fresh(w, SupplyListing, w.listing.id).committed_kg == 90_000
    w.db.expire_all()
    active = w.db.exec(select(OfftakeContract).where(OfftakeContract.status == "active")).all()
    assert len(active) == 3 and {c.reserved_kg for c in active} == {30_000}
    drafts = w.db.exec(select(OfftakeContract).where(OfftakeContract.status == "draft")).all()
    assert {c.reserved_kg for c in drafts} == {0}
    assert (
        w.db.exec(
            select(func.count())
            .select_from(Signature)
            .where(Signature.organization_id == w.seller.id)
        ).one()
        == 3
    )
    for contract_id in contracts:
        assert verify_chain(w.db, contract_id).intact
    activated = w.db.exec(
        select(func.count())
        .select_from(ContractEvent)
        .where(ContractEvent.kind == "contract.activated")
    ).one()
    assert activated == 3


def test_both_sides_signing_at_once_activate_the_contract_exactly_once(app, w):
    contract = draft_of_listing(w, "40")
    engine = app.extensions["junkan.engine"]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(who: str) -> None:
        actor = w.actor(who)
        with Session(engine, expire_on_commit=False) as session:
            barrier.wait(timeout=10)
            try:
                result = sign_contract(session, actor, contract.id, SignIn(version=1))
                session.commit()
                outcome = "active" if result.activated else "signed"
            except Exception as exc:  # noqa: BLE001 - reported below
                session.rollback()
                outcome = f"error: {exc!r}"
        with lock:
            outcomes.append(outcome)

    threads = [
        threading.Thread(target=worker, args=(who,))
        for who in ("seller signatory", "buyer signatory")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["active", "signed"], outcomes
    contract = _fresh(w, OfftakeContract, contract.id)
    assert (contract.status, contract.reserved_kg) == ("active", 40_000)
    assert _fresh(w, SupplyListing, w.listing.id).committed_kg == 40_000
