"""The audit trail of a contract is an unbroken hash chain; tampering shows where."""

import threading

import pytest
from factories import as_actor, make_listing, make_member, make_org, make_request
from sqlalchemy import text
from sqlmodel import Session, select

from contracts.events import append_event, events_of, verify_chain
from contracts.models import ContractEvent, OfftakeContract
from quality.catalogue import latest_published, seed_catalogue


@pytest.fixture()
def contract(db):
    seed_catalogue(db)
    version = latest_published(db, "HDPE-NAT-B")[1].id
    seller, buyer = make_org(db, kind="recycler"), make_org(db, kind="manufacturer")
    listing = make_listing(db, seller, version)
    request = make_request(db, buyer, version)
    contract = OfftakeContract(
        seller_org_id=seller.id,
        buyer_org_id=buyer.id,
        listing_id=listing.id,
        request_id=request.id,
        material_code="hdpe",
    )
    db.add(contract)
    db.commit()
    return contract


def test_events_chain_each_to_the_one_before(db, contract):
    actor = as_actor(db, make_member(db, make_org(db)))
    first = append_event(db, contract.id, "contract.proposed", actor, {"version": 1})
    second = append_event(db, contract.id, "contract.signed", actor, {"sha": "ab"})
    db.commit()
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_sha256 == "" and second.prev_sha256 == first.sha256
    db.refresh(contract)
    assert (contract.last_event_seq, contract.last_event_sha256) == (2, second.sha256)
    report = verify_chain(db, contract.id)
    assert (report.intact, report.events) == (True, 2)


def test_a_changed_detail_a_removed_event_or_a_cut_tail_is_found(db, contract):
    for n in range(3):
        append_event(db, contract.id, "note", None, {"n": n})
    db.commit()
    db.execute(text("UPDATE contractevent SET detail = :d WHERE seq = 2"), {"d": '{"n":7}'})
    db.commit()
    report = verify_chain(db, contract.id)
    assert (report.intact, report.broken_at, report.reason) == (False, 2, "an event was changed")
    db.execute(text("DELETE FROM contractevent WHERE seq = 2"))
    db.commit()
    assert verify_chain(db, contract.id).reason == "an event is missing"
    db.execute(text("DELETE FROM contractevent WHERE seq = 3"))
    db.commit()
    report = verify_chain(db, contract.id)
    assert (report.intact, report.broken_at, report.reason) == (
        False,
        2,
        "the last events are missing",
    )


def test_events_appended_at_once_never_share_a_place(app, contract):
    engine = app.extensions["junkan.engine"]
    errors: list[Exception] = []

    def add(n: int) -> None:
        try:
            with Session(engine) as session:
                append_event(session, contract.id, "note", None, {"n": n})
                session.commit()
        except Exception as err:  # noqa: BLE001 (reported below)
            errors.append(err)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Session(engine) as session:
        events = events_of(session, contract.id)
        assert [e.seq for e in events] == list(range(1, 9))
        assert sorted(int(e.detail[5:-1]) for e in events) == list(range(8))
        assert verify_chain(session, contract.id).intact
        assert len(session.exec(select(ContractEvent)).all()) == 8
