"""The scheduled jobs: each produces its effect once, whether it runs twice, twice at once,
or again after a crash — by the unique keys of what it writes."""

import json
import threading
from datetime import date

import pytest
from factories import make_listing, make_member, make_org, make_request
from operations_factories import copper_version, make_active_contract
from sqlmodel import Session, func, select

from contracts.events import events_of, verify_chain
from contracts.jobs import (
    JOBS,
    JobContext,
    contract_end,
    expiry_threshold,
)
from contracts.models import ContractEvent, DeliveryObligation, Invoice, JobClaim
from contracts.obligations import open_month
from market.models import MatchRun, Notification, OfftakeRequest, SupplyListing
from participants.actors import SYSTEM
from quality.catalogue import latest_published, seed_catalogue


@pytest.fixture()
def parties(db):
    seed_catalogue(db)
    seller, buyer = make_org(db, kind="recycler"), make_org(db, kind="manufacturer")
    members = {
        "seller trader": make_member(db, seller, roles="trader"),
        "seller inspector": make_member(db, seller, roles="inspector"),
        "buyer signatory": make_member(db, buyer, roles="signatory"),
        "buyer admin": make_member(db, buyer, roles="admin"),
    }
    return copper_version(db), seller, buyer, members


def run(db, name: str, today: date, month: date | None = None):
    report = JOBS[name].run(db, SYSTEM, JobContext(today=today, month=month))
    db.commit()
    return report


def _count(db, model, *where) -> int:
    db.expire_all()
    query = select(func.count()).select_from(model)
    for clause in where:
        query = query.where(clause)
    return db.exec(query).one()


def _notes(db, member) -> list[Notification]:
    db.expire_all()
    return list(db.exec(select(Notification).where(Notification.member_id == member.id)))


def test_the_job_names_are_the_scheduler_s():
    assert list(JOBS) == [
        "close_months",
        "open_obligations",
        "issue_invoices",
        "remind_late_deliveries",
        "remind_overdue_invoices",
        "notify_contract_expiry",
        "remind_consent_expiry",
        "expire_listings",
        "nightly_matching",
        "open_due_tenders",
    ]


def test_opening_obligations_uses_the_day_s_month_or_the_month_given(db, parties):
    version, seller, buyer, _ = parties
    make_active_contract(db, seller, buyer, version)
    report = run(db, "open_obligations", date(2027, 3, 14))
    assert report.counts == {"month": "2027-03", "opened": 1, "events": 1}
    assert run(db, "open_obligations", date(2027, 3, 14)).counts["opened"] == 0
    assert run(db, "open_obligations", date(2027, 3, 14), date(2027, 2, 1)).counts == {
        "month": "2027-02",
        "opened": 1,
        "events": 1,
    }
    assert _count(db, DeliveryObligation) == 2


def test_closing_with_a_month_closes_the_months_up_to_it(db, parties):
    version, seller, buyer, _ = parties
    make_active_contract(db, seller, buyer, version)
    for month in (1, 2, 3):
        open_month(db, SYSTEM, date(2027, month, 1))
    db.commit()
    report = run(db, "close_months", date(2027, 3, 20), date(2027, 1, 1))
    assert report.counts == {"closed": 1, "months": "2027-01", "events": 1}
    report = run(db, "close_months", date(2027, 3, 20))
    assert report.counts == {"closed": 1, "months": "2027-02", "events": 1}


def test_late_deliveries_are_reminded_to_both_parties_once_per_month(db, parties):
    version, seller, buyer, members = parties
    contract = make_active_contract(db, seller, buyer, version)
    open_month(db, SYSTEM, date(2027, 1, 1))
    open_month(db, SYSTEM, date(2027, 2, 1))
    db.commit()
    january = db.exec(
        select(DeliveryObligation).where(DeliveryObligation.month == date(2027, 1, 1))
    ).one()
    january.delivered_kg = 60_000  # below the 95 t minimum
    db.add(january)
    db.commit()

    first = run(db, "remind_late_deliveries", date(2027, 2, 2))
    again = run(db, "remind_late_deliveries", date(2027, 2, 3))

    # Traders, signatories and administrators hear of it; the inspector does not.
    assert first.counts == {"late": 1, "notified": 3}
    assert again.counts == {"late": 1, "notified": 0}
    (note,) = _notes(db, members["seller trader"])
    assert (note.message.startswith("Contract #%(contract)s"), json.loads(note.params)) == (
        True,
        {"contract": contract.id, "month": "2027-01", "delivered": "60", "minimum": "95"},
    )
    assert note.link == f"/contracts/{contract.id}/deliveries"
    assert _notes(db, members["seller inspector"]) == []
    assert len(_notes(db, members["buyer signatory"])) == 1
    # A month still running, or one that met its minimum, is not late.
    assert run(db, "remind_late_deliveries", date(2027, 2, 20)).counts["late"] == 1


def _invoice(db, contract, number: str, due: date, status: str = "issued") -> Invoice:
    invoice = Invoice(
        number=number,
        contract_id=contract.id,
        seller_org_id=contract.seller_org_id,
        buyer_org_id=contract.buyer_org_id,
        issued_on=date(2027, 2, 1),
        due_on=due,
        subtotal_jpy=1_000_000,
        tax_jpy=100_000,
        total_jpy=1_100_000,
        status=status,
    )
    db.add(invoice)
    db.commit()
    return invoice


def test_overdue_invoices_are_reminded_to_the_buyer_once(db, parties):
    version, seller, buyer, members = parties
    contract = make_active_contract(db, seller, buyer, version)
    overdue = _invoice(db, contract, "JK-2027-000001", date(2027, 3, 3))
    _invoice(db, contract, "JK-2027-000002", date(2027, 3, 3), status="paid")
    _invoice(db, contract, "JK-2027-000003", date(2027, 3, 10))

    first = run(db, "remind_overdue_invoices", date(2027, 3, 5))
    again = run(db, "remind_overdue_invoices", date(2027, 3, 6))

    assert first.counts == {"overdue": 1, "notified": 2}
    assert again.counts == {"overdue": 1, "notified": 0}
    (note,) = _notes(db, members["buyer admin"])
    assert json.loads(note.params) == {
        "number": "JK-2027-000001",
        "amount": "¥1,100,000",
        "due": "2027-03-03",
    }
    assert note.link == f"/invoices/{overdue.id}"
    assert _notes(db, members["seller trader"]) == []


def test_a_contract_ends_on_the_last_day_of_its_last_month():
    assert contract_end(date(2027, 1, 1), 12) == date(2027, 12, 31)
    assert contract_end(date(2027, 3, 1), 1) == date(2027, 3, 31)
    assert [expiry_threshold(d) for d in (120, 91, 90, 31, 30, 0, -1)] == [
        None,
        None,
        90,
        90,
        30,
        30,
        None,
    ]


def test_expiry_is_noticed_90_and_30_days_ahead_once_each(db, parties):
    version, seller, buyer, members = parties
    contract = make_active_contract(db, seller, buyer, version)  # ends 2027-12-31

    assert run(db, "notify_contract_expiry", date(2027, 9, 30)).counts["notices"] == 0
    ninety = run(db, "notify_contract_expiry", date(2027, 10, 2))  # 90 days to go
    again = run(db, "notify_contract_expiry", date(2027, 10, 20))
    thirty = run(db, "notify_contract_expiry", date(2027, 12, 1))  # 30 days to go
    after = run(db, "notify_contract_expiry", date(2028, 1, 1))

    assert [r.counts["notices"] for r in (ninety, again, thirty, after)] == [1, 0, 1, 0]
    notes = _notes(db, members["buyer signatory"])
    assert sorted(json.loads(n.params)["days"] for n in notes) == [30, 90]
    db.expire_all()
    notices = [json.loads(e.detail) for e in events_of(db, contract.id)]
    assert notices == [
        {"days": 90, "ends_on": "2027-12-31"},
        {"days": 30, "ends_on": "2027-12-31"},
    ]
    assert verify_chain(db, contract.id).intact


def test_a_contract_first_seen_inside_30_days_gets_only_the_30_day_notice(db, parties):
    version, seller, buyer, _ = parties
    contract = make_active_contract(db, seller, buyer, version)
    run(db, "notify_contract_expiry", date(2027, 12, 15))
    run(db, "notify_contract_expiry", date(2027, 12, 16))
    db.expire_all()
    assert [json.loads(e.detail)["days"] for e in events_of(db, contract.id)] == [30]


def test_expiry_notices_at_once_or_after_a_crash_are_given_once(app, db, parties):
    version, seller, buyer, members = parties
    contracts = [make_active_contract(db, seller, buyer, version) for _ in range(5)]
    engine = app.extensions["junkan.engine"]
    with Session(engine) as crashed:  # the run dies before its commit
        JOBS["notify_contract_expiry"].run(crashed, SYSTEM, JobContext(date(2027, 10, 2)))
        crashed.rollback()
    errors: list[Exception] = []

    def once() -> None:
        try:
            with Session(engine) as session:
                JOBS["notify_contract_expiry"].run(session, SYSTEM, JobContext(date(2027, 10, 2)))
                session.commit()
        except Exception as err:  # noqa: BLE001 (reported below)
            errors.append(err)

    threads = [threading.Thread(target=once) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _count(db, ContractEvent, ContractEvent.kind == "contract.expiry_notice") == 5
    assert _count(db, JobClaim) == 5
    assert len(_notes(db, members["buyer admin"])) == 5
    for contract in contracts:
        assert verify_chain(db, contract.id).intact


def test_listings_and_requests_expire_once_a_day(db, parties):
    _, seller, buyer, _ = parties
    hdpe = latest_published(db, "HDPE-NAT-B")[1].id
    listing = make_listing(db, seller, hdpe, expires_on=date(2027, 1, 10))
    request = make_request(db, buyer, hdpe, expires_on=date(2027, 1, 10))
    fresh = make_listing(db, seller, hdpe, expires_on=date(2027, 6, 1))

    listings = db.exec(select(func.count()).select_from(SupplyListing)).one()
    first = run(db, "expire_listings", date(2027, 1, 11)).counts
    assert first == {"expired": 2, "prices": listings}
    # Every listing holds its price for the month: the search's sort key.
    assert set(db.exec(select(SupplyListing.price_month)).all()) == {date(2027, 1, 1)}
    again = run(db, "expire_listings", date(2027, 1, 11)).counts
    assert again == {"skipped": "already run today", "prices": listings}
    db.expire_all()
    assert (
        db.get(SupplyListing, listing.id).status,
        db.get(OfftakeRequest, request.id).status,
    ) == (
        "expired",
        "expired",
    )
    assert db.get(SupplyListing, fresh.id).status == "open"


def test_the_nightly_matching_runs_once_a_day_even_when_started_twice_at_once(app, db, parties):
    _, seller, buyer, _ = parties
    hdpe = latest_published(db, "HDPE-NAT-B")[1].id
    make_listing(db, seller, hdpe)
    make_request(db, buyer, hdpe)
    engine = app.extensions["junkan.engine"]
    reports: list[dict] = []
    errors: list[Exception] = []

    def nightly() -> None:
        try:
            with Session(engine) as session:
                ctx = JobContext(date(2027, 3, 1))
                reports.append(JOBS["nightly_matching"].run(session, SYSTEM, ctx).counts)
                session.commit()
        except Exception as err:  # noqa: BLE001 (reported below)
            errors.append(err)

    threads = [threading.Thread(target=nightly) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _count(db, MatchRun) == 1
    assert sorted(r.get("skipped", "ran") for r in reports) == ["already run today", "ran"]
    ran = next(r for r in reports if "run" in r)
    assert (ran["month"], ran["proposals"]) == ("2027-03", 1)
    stored = db.exec(select(MatchRun)).one()  # with what the solver proved (a plain flow)
    assert (stored.solver_method, stored.mip_gap, stored.optimal) == ("mcf", 0.0, True)
    assert run(db, "nightly_matching", date(2027, 3, 2)).counts["month"] == "2027-03"
    assert _count(db, MatchRun) == 2  # the next day runs again
