"""Contracts moving critical scrap across Japan's border: signing needs a valid record for the
whole term and its tonnes (409 saying what is missing), activation commits the term's tonnes on
the consent with one conditional UPDATE — never beyond it, even when two contracts activate at
once — and a party attaches only its own records to a draft."""

import threading
from datetime import date
from decimal import Decimal

import pytest
from movement_factories import black_mass_listing, build, make_record
from sqlmodel import Session, select

from contracts.crossborder import attach_movement_record, contract_movement
from contracts.drafting import DraftFromListingIn, draft_from_listing
from contracts.models import OfftakeContract
from contracts.signing import SignIn, sign_contract
from market.listings import publish_listing
from market.models import MovementRecord
from market.movements import MovementRecordMissing
from participants.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


@pytest.fixture()
def w(db):
    return build(db)


def _published(w, record=None, **fields):
    listing = black_mass_listing(w, movement_record_id=record.id if record else None, **fields)
    publish_listing(w.db, w.actor("seller trader"), listing.id, date(2027, 1, 10))
    w.db.commit()
    return listing


def _draft(w, listing, monthly_t="40", start="2027-02", months=6, who="buyer trader"):
    data = DraftFromListingIn(monthly_t=Decimal(monthly_t), start_month=start, term_months=months)
    contract = draft_from_listing(w.db, w.actor(who), listing.id, data)
    w.db.commit()
    return contract


def _sign(w, who, contract_id, db=None):
    return sign_contract(db or w.db, w.actor(who), contract_id, SignIn(version=1))


def _fresh(w, model, record_id):
    w.db.expire_all()
    return w.db.get(model, record_id)


def test_a_contract_from_japan_to_korea_is_an_export_and_inherits_the_listings_record(w):
    record = make_record(w)
    contract = _draft(w, _published(w, record))
    move = contract_movement(w.db, contract)
    assert (move.direction, move.origin, move.destination) == ("export", "JP", "KR")
    assert contract.movement_record_id == record.id


def test_signing_a_cross_border_contract_without_a_record_is_refused_with_the_reason(w):
    listing = black_mass_listing(w, delivery_country="JP")  # published without a record
    publish_listing(w.db, w.actor("seller trader"), listing.id, date(2027, 1, 10))
    w.db.commit()
    contract = _draft(w, listing)  # the buyer is in Korea: the contract exports
    with pytest.raises(MovementRecordMissing) as err:
        _sign(w, "buyer signatory", contract.id)
    assert err.value.status == 409
    assert "none is attached" in str(err.value)
    w.db.rollback()
    assert _fresh(w, OfftakeContract, contract.id).status == "draft"


def test_activation_commits_the_terms_tonnes_on_the_consent(w):
    record = make_record(w)  # 600 t
    contract = _draft(w, _published(w, record))  # 40 t × 6 months
    _sign(w, "buyer signatory", contract.id)
    assert _sign(w, "seller signatory", contract.id).activated
    w.db.commit()
    assert _fresh(w, MovementRecord, record.id).committed_kg == 240_000
    assert _fresh(w, OfftakeContract, contract.id).consent_committed_kg == 240_000


def test_a_second_contract_over_the_remaining_consent_is_refused(w):
    record = make_record(w, consented_t=Decimal("400"))
    listing = _published(w, record)
    first = _draft(w, listing)
    _sign(w, "buyer signatory", first.id)
    _sign(w, "seller signatory", first.id)
    w.db.commit()
    second = _draft(w, listing)  # another 240 t; 160 t left
    with pytest.raises(MovementRecordMissing) as err:
        _sign(w, "buyer signatory", second.id)
    assert "160.000 t of its consent left" in str(err.value)
    w.db.rollback()
    assert _fresh(w, MovementRecord, record.id).committed_kg == 240_000


def test_a_contract_outliving_the_consent_is_refused(w):
    record = make_record(w, valid_until="2027-05-31")
    contract = _draft(w, _published(w, record))  # runs to 2027-07-31
    with pytest.raises(MovementRecordMissing) as err:
        _sign(w, "buyer signatory", contract.id)
    assert "does not cover 2027-02-01 to 2027-07-31" in str(err.value)


def test_a_party_attaches_only_its_own_active_records_to_a_draft(w):
    listing = black_mass_listing(w, delivery_country="JP")
    publish_listing(w.db, w.actor("seller trader"), listing.id, date(2027, 1, 10))
    w.db.commit()
    contract = _draft(w, listing)
    theirs = make_record(w, who="other trader")
    with pytest.raises(ValidationFailed) as err:
        attach_movement_record(w.db, w.actor("seller trader"), contract.id, theirs.id)
    assert err.value.field == "movement_record_id"
    with pytest.raises(NotFound):  # not a party
        attach_movement_record(w.db, w.actor("other trader"), contract.id, theirs.id)
    with pytest.raises(PermissionDenied):
        attach_movement_record(w.db, w.actor("seller signatory"), contract.id, None)
    w.db.rollback()
    assert _fresh(w, OfftakeContract, contract.id).movement_record_id is None
    mine = make_record(w)
    attach_movement_record(w.db, w.actor("seller trader"), contract.id, mine.id)
    w.db.commit()
    _sign(w, "buyer signatory", contract.id)
    assert _sign(w, "seller signatory", contract.id).activated


def test_two_contracts_activating_at_once_on_a_consent_with_room_for_one(app, w):
    """Two 240 t drafts, each signed by the buyer, on a 300 t consent; the seller's signatory
    signs both at once, each in its own session: one becomes active, the other is refused, and
    the committed tonnes never exceed the consent (on SQLite the two run one after the other)."""
    record = make_record(w, consented_t=Decimal("300"))
    listing = _published(w, record)
    contracts = []
    for _ in range(2):
        contract = _draft(w, listing)
        _sign(w, "buyer signatory", contract.id)
        w.db.commit()
        contracts.append(contract.id)
    engine = app.extensions["junkan.engine"]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()
    seller = w.actor("seller signatory")

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
    assert sorted(outcomes) == ["active", "conflict"], outcomes
    assert _fresh(w, MovementRecord, record.id).committed_kg == 240_000
    active = w.db.exec(select(OfftakeContract).where(OfftakeContract.status == "active")).all()
    assert [c.consent_committed_kg for c in active] == [240_000]
