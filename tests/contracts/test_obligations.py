"""Monthly delivery obligations: opened for every active contract in term with the band its
tolerance allows, closed when the month is over — each exactly once, however often and however
concurrently the scheduler runs, with one event on each contract's chain."""

import json
import threading
from datetime import date
from decimal import Decimal

import pytest
from factories import make_org
from operations_factories import copper_version, make_active_contract
from sqlmodel import Session, func, select

import contracts.batches
from contracts.batches import NewEvent, append_events
from contracts.events import append_event, events_of, verify_chain
from contracts.models import ContractEvent, ContractTerms, DeliveryObligation
from contracts.obligations import close_months, in_term, monthly_band, open_month
from participants.actors import SYSTEM
from participants.errors import PermissionDenied
from quality.catalogue import seed_catalogue

JAN, FEB, MAR = date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)


def test_the_band_is_due_plus_or_minus_the_tolerance_half_up_to_whole_kilograms():
    assert monthly_band(100_000, Decimal("5")) == (95_000, 105_000)
    assert monthly_band(33_333, Decimal("2.5")) == (32_500, 34_166)  # 833.325 kg → 833
    assert monthly_band(1_000, Decimal("0.05")) == (999, 1_001)  # 0.5 kg rounds up
    assert monthly_band(10_000, Decimal("0")) == (10_000, 10_000)
    assert monthly_band(10_000, Decimal("150")) == (0, 25_000)  # never below zero


def test_a_term_covers_its_start_month_and_the_months_after_it():
    assert in_term(JAN, 12, JAN) and in_term(JAN, 12, date(2027, 12, 1))
    assert not in_term(JAN, 12, date(2028, 1, 1)) and not in_term(FEB, 3, JAN)


@pytest.fixture()
def parties(db):
    seed_catalogue(db)
    version = copper_version(db)
    return version, make_org(db, kind="recycler"), make_org(db, kind="manufacturer")


def _obligations(db) -> list[DeliveryObligation]:
    db.expire_all()
    return list(
        db.exec(
            select(DeliveryObligation).order_by(
                DeliveryObligation.contract_id, DeliveryObligation.month
            )
        )
    )


def _events(db, kind: str) -> list[ContractEvent]:
    return list(db.exec(select(ContractEvent).where(ContractEvent.kind == kind)))


def test_opening_a_month_opens_one_obligation_per_active_contract_in_its_term(db, parties):
    version, seller, buyer = parties
    plain = make_active_contract(db, seller, buyer, version)
    odd = make_active_contract(
        db, seller, buyer, version, monthly_kg=33_333, tolerance_pct=Decimal("2.5")
    )
    make_active_contract(db, seller, buyer, version, status="draft")
    make_active_contract(db, seller, buyer, version, status="terminated")
    make_active_contract(db, seller, buyer, version, start=MAR)  # not started yet
    make_active_contract(db, seller, buyer, version, start=date(2026, 1, 1), term_months=12)
    # A second signed version with other monthly tonnes: the signed one (2) is what is due.
    renegotiated = make_active_contract(db, seller, buyer, version)
    db.add(
        ContractTerms(
            contract_id=renegotiated.id,
            version=2,
            start_month=JAN,
            term_months=12,
            monthly_kg=80_000,
            tolerance_pct=Decimal("10"),
            incoterm="FCA",
            incoterm_place="Yard",
            standard_version_id=version,
            price_kind="fixed",
            fixed_price_jpy_per_t=1_200_000,
        )
    )
    renegotiated.active_version = 2
    db.add(renegotiated)
    db.commit()

    result = open_month(db, SYSTEM, date(2027, 1, 17))
    db.commit()

    assert (result.month, result.opened, result.events) == (JAN, 3, 3)
    rows = _obligations(db)
    assert [(o.contract_id, o.due_kg, o.min_kg, o.max_kg) for o in rows] == [
        (plain.id, 100_000, 95_000, 105_000),
        (odd.id, 33_333, 32_500, 34_166),
        (renegotiated.id, 80_000, 72_000, 88_000),
    ]
    assert {(o.month, o.due_on, o.status, o.delivered_kg) for o in rows} == {
        (JAN, date(2027, 1, 31), "open", 0)
    }
    assert (
        rows[2].terms_id
        == db.exec(
            select(ContractTerms.id).where(
                ContractTerms.contract_id == renegotiated.id, ContractTerms.version == 2
            )
        ).one()
    )
    event = events_of(db, plain.id)[0]
    assert (event.kind, event.actor_member_id, json.loads(event.detail)) == (
        "obligation.opened",
        None,
        {
            "obligation": rows[0].id,
            "month": "2027-01",
            "due_kg": 100_000,
            "min_kg": 95_000,
            "max_kg": 105_000,
        },
    )
    for contract in (plain, odd, renegotiated):
        assert verify_chain(db, contract.id).intact


def test_february_has_its_last_day_as_due_date_in_a_leap_year(db, parties):
    version, seller, buyer = parties
    make_active_contract(db, seller, buyer, version, start=date(2028, 1, 1))
    open_month(db, SYSTEM, date(2028, 2, 1))
    db.commit()
    assert _obligations(db)[0].due_on == date(2028, 2, 29)


def test_only_the_operator_opens_or_closes_months(db, parties):
    from factories import as_actor, make_member

    version, seller, buyer = parties
    make_active_contract(db, seller, buyer, version)
    trader = as_actor(db, make_member(db, seller, roles="admin trader signatory inspector"))
    with pytest.raises(PermissionDenied):
        open_month(db, trader, JAN)
    with pytest.raises(PermissionDenied):
        close_months(db, trader, FEB)
    assert _obligations(db) == []


def test_opening_again_or_after_a_crash_creates_nothing_twice(app, db, parties):
    version, seller, buyer = parties
    contracts = [make_active_contract(db, seller, buyer, version) for _ in range(4)]
    engine = app.extensions["junkan.engine"]
    # A run that crashes before it commits leaves nothing behind.
    with Session(engine) as crashed:
        assert open_month(crashed, SYSTEM, JAN).opened == 4
        crashed.rollback()
    assert _obligations(db) == []
    # An earlier run opened one contract's month (and chained its event).
    first = open_month(db, SYSTEM, JAN)
    db.commit()
    again = open_month(db, SYSTEM, JAN)
    db.commit()
    assert (first.opened, again.opened, again.events) == (4, 0, 0)
    assert len(_obligations(db)) == 4
    assert len(_events(db, "obligation.opened")) == 4
    for contract in contracts:
        assert [e.kind for e in events_of(db, contract.id)] == ["obligation.opened"]


def test_two_runs_at_once_open_each_contract_month_once(app, db, parties):
    version, seller, buyer = parties
    contracts = [make_active_contract(db, seller, buyer, version) for _ in range(30)]
    engine = app.extensions["junkan.engine"]
    opened: list[int] = []
    errors: list[Exception] = []

    def run() -> None:
        try:
            with Session(engine) as session:
                opened.append(open_month(session, SYSTEM, JAN).opened)
                session.commit()
        except Exception as err:  # noqa: BLE001 (reported below)
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(opened) == 30
    assert len(_obligations(db)) == 30
    assert len(_events(db, "obligation.opened")) == 30
    for contract in contracts:
        assert verify_chain(db, contract.id).intact


def test_a_chain_moved_by_someone_else_meanwhile_gets_its_event_after_theirs(
    app, db, parties, monkeypatch
):
    # Between reading the heads and moving them, another request appends to contract A:
    # A's head no longer matches, so its event is appended after the other one (retrying).
    version, seller, buyer = parties
    a = make_active_contract(db, seller, buyer, version)
    b = make_active_contract(db, seller, buyer, version)
    engine = app.extensions["junkan.engine"]
    original = contracts.batches.event_content
    raced = []

    def racing_event_content(contract_id, *args):
        if not raced:
            raced.append(contract_id)
            with Session(engine) as other:
                append_event(other, a.id, "comment.added", None, {"n": 1})
                other.commit()
        return original(contract_id, *args)

    monkeypatch.setattr(contracts.batches, "event_content", racing_event_content)
    with Session(engine) as session:
        appended = append_events(
            session,
            [NewEvent(a.id, "obligation.opened", {}), NewEvent(b.id, "obligation.opened", {})],
            SYSTEM,
        )
        session.commit()
    assert appended == 2
    db.expire_all()
    assert [e.kind for e in events_of(db, a.id)] == ["comment.added", "obligation.opened"]
    assert [e.kind for e in events_of(db, b.id)] == ["obligation.opened"]
    assert verify_chain(db, a.id).intact and verify_chain(db, b.id).intact


def test_closing_closes_only_months_that_are_over_and_each_once(db, parties):
    version, seller, buyer = parties
    contract = make_active_contract(db, seller, buyer, version)
    open_month(db, SYSTEM, JAN)
    open_month(db, SYSTEM, FEB)
    db.commit()

    mid_february = close_months(db, SYSTEM, date(2027, 2, 15))
    db.commit()
    again = close_months(db, SYSTEM, date(2027, 2, 28))
    db.commit()

    assert (mid_february.months, mid_february.closed, mid_february.events) == ([JAN], 1, 1)
    assert (again.closed, again.events) == (0, 0)
    january, february = _obligations(db)
    assert (january.status, january.closed_at is not None) == ("closed", True)
    assert (february.status, february.closed_at) == ("open", None)
    assert close_months(db, SYSTEM, MAR).months == [FEB]
    db.commit()
    kinds = [(e.kind, json.loads(e.detail)["month"]) for e in events_of(db, contract.id)]
    assert kinds == [
        ("obligation.opened", "2027-01"),
        ("obligation.opened", "2027-02"),
        ("obligation.closed", "2027-01"),
        ("obligation.closed", "2027-02"),
    ]
    assert verify_chain(db, contract.id).intact


def test_two_closing_runs_at_once_close_each_month_once(app, db, parties):
    version, seller, buyer = parties
    contracts = [make_active_contract(db, seller, buyer, version) for _ in range(20)]
    open_month(db, SYSTEM, JAN)
    db.commit()
    engine = app.extensions["junkan.engine"]
    closed: list[int] = []
    errors: list[Exception] = []

    def run() -> None:
        try:
            with Session(engine) as session:
                closed.append(close_months(session, SYSTEM, FEB).closed)
                session.commit()
        except Exception as err:  # noqa: BLE001 (reported below)
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(closed) == 20
    assert (
        db.exec(
            select(func.count())
            .select_from(ContractEvent)
            .where(ContractEvent.kind == "obligation.closed")
        ).one()
        == 20
    )
    for contract in contracts:
        assert verify_chain(db, contract.id).intact
