"""The procurement part of the demo story: plastics supply feeding the chain of custody, the
recycled-product catalogue and direct purchases, the bench tender (one bid disqualified because
the molder's balance no longer covers its claim, an award, a contract and an order), an open
delineator tender with a sealed bid, OCDS releases that validate, the city's green-purchasing
report."""

import json

import pytest
from proc_ocds_factories import schema_errors
from sqlmodel import Session, func, select

from contracts.models import Invoice
from demo import DEMO_PASSWORD, load_demo
from demo.procurement import BENCH_TENDER_EN, DELINEATOR_TENDER_EN
from market.models import (
    Award,
    Bid,
    CatalogueProduct,
    Enquiry,
    OcdsRelease,
    ProcurementContract,
    PurchaseOrder,
    Tender,
)
from market.reports import fiscal_year_of, green_purchasing_report
from participants.actors import actor_of
from participants.models import Member, Organization
from quality.custody import available_kg
from quality.models import CustodyEntry
from tests.factories import login


@pytest.fixture(scope="module")
def engine(demo_app):
    return demo_app.extensions["junkan.engine"]


@pytest.fixture()
def db(engine):
    with Session(engine, expire_on_commit=False) as session:
        yield session


def _org(db: Session, email: str) -> int:
    return db.exec(select(Member.organization_id).where(Member.email == email)).one()


def _tender(db: Session, title: str) -> Tender:
    return db.exec(select(Tender).where(Tender.title_en == title)).one()


def test_accepted_plastics_deliveries_credit_the_makers_ledgers(db):
    bench, molder = _org(db, "bench@demo.junkan.jp"), _org(db, "molding@demo.junkan.jp")
    credits = db.exec(
        select(CustodyEntry.organization_id, func.sum(CustodyEntry.kg))
        .where(CustodyEntry.kind == "credit", CustodyEntry.material_code == "hdpe")
        .group_by(CustodyEntry.organization_id)
    ).all()
    credited = dict(credits)
    assert credited[molder] == 3_000  # a tonne a month for three months
    assert 59_000 <= credited[bench] <= 61_000
    # the molder sold 141 stakes of 14 kg (100 percent recycled) after bidding
    assert available_kg(db, molder, "hdpe") == 3_000 - 141 * 14


def test_the_catalogue_and_the_direct_purchases(db):
    assert db.exec(select(func.count()).select_from(CatalogueProduct)).one() == 6
    city = _org(db, "officer@demo.junkan.jp")
    orders = db.exec(
        select(PurchaseOrder)
        .where(PurchaseOrder.buyer_org_id == city, PurchaseOrder.source == "direct")
        .order_by(PurchaseOrder.id)
    ).all()
    assert [(o.quantity, o.subtotal_jpy, o.total_jpy) for o in orders] == [
        (300, 144_000, 158_400),  # clear files at ¥480
        (30, 384_000, 422_400),  # timbers at ¥12,800
    ]
    invoices = {
        i.purchase_order_id: i
        for i in db.exec(select(Invoice).where(Invoice.purchase_order_id.is_not(None))).all()
    }
    assert invoices[orders[0].id].status == "paid"  # by a recorded bank transfer
    assert invoices[orders[1].id].status == "issued"  # for the officer to pay by card


def test_the_bench_tender_disqualifies_the_uncovered_claim_and_is_under_contract(db):
    tender = _tender(db, BENCH_TENDER_EN)
    assert tender.status == "complete"
    bids = {b.organization_id: b for b in db.exec(select(Bid).where(Bid.tender_id == tender.id))}
    molder = bids[_org(db, "molding@demo.junkan.jp")]
    winner = bids[_org(db, "bench@demo.junkan.jp")]
    assert molder.status == "disqualified"
    reasons = json.loads(molder.disqualification_json)
    assert [r["code"] for r in reasons] == ["claim_not_covered"]
    assert reasons[0]["params"]["claim_t"] == "1.710"
    assert reasons[0]["params"]["available_t"] == "1.026"
    assert winner.status == "awarded" and winner.score_total is not None
    award = db.exec(select(Award).where(Award.tender_id == tender.id)).one()
    assert (award.status, award.value_jpy) == ("active", winner.price_jpy)
    contract = db.exec(
        select(ProcurementContract).where(ProcurementContract.tender_id == tender.id)
    ).one()
    order = db.exec(select(PurchaseOrder).where(PurchaseOrder.tender_id == tender.id)).one()
    assert (contract.value_jpy, order.subtotal_jpy) == (winner.price_jpy, winner.price_jpy)
    assert order.total_jpy == winner.price_jpy * 11 // 10
    assert order.recycled_kg == award.reserved_kg == 40 * 48 * 95 // 100
    assert db.exec(select(Enquiry).where(Enquiry.tender_id == tender.id)).one().answer


def test_the_open_tender_keeps_its_bid_sealed(demo_app, db):
    tender = _tender(db, DELINEATOR_TENDER_EN)
    assert tender.status == "active"
    client = demo_app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = client.get(f"/tenders/{tender.id}").get_data(as_text=True)
    assert "1,640,000" not in page  # the bench maker's sealed price
    login(client, "officer@demo.junkan.jp", DEMO_PASSWORD)
    assert "1,640,000" not in client.get(f"/tenders/{tender.id}").get_data(as_text=True)
    api = client.get(f"/api/v1/tenders/{tender.id}").get_json()
    assert api["number_of_bids"] is None


def test_every_published_release_validates_and_the_package_is_public(demo_app, db):
    releases = db.exec(select(OcdsRelease).order_by(OcdsRelease.id)).all()
    assert [r.tag for r in releases] == ["tender", "award", "contract", "tender"]
    for release in releases:
        assert schema_errors(json.loads(release.release_json)) == []
    package = demo_app.test_client().get("/ocds/releases.json")
    assert package.status_code == 200
    assert schema_errors(package.get_json(), package=True) == []


def test_the_citys_green_purchasing_report_counts_every_order(db):
    member = db.exec(select(Member).where(Member.email == "officer@demo.junkan.jp")).one()
    actor = actor_of(member, db.get(Organization, member.organization_id))
    orders = db.exec(
        select(PurchaseOrder).where(PurchaseOrder.buyer_org_id == member.organization_id)
    ).all()
    years = {fiscal_year_of(o.ordered_on) for o in orders}
    report = green_purchasing_report(db, actor, max(years)).out()
    counted = [o for o in orders if fiscal_year_of(o.ordered_on) == max(years)]
    assert report.total.orders == len(counted)
    assert report.total.value_jpy == sum(o.subtotal_jpy for o in counted)
    assert report.tender.orders == sum(o.source == "tender" for o in counted)
    benches = next(c for c in report.categories if c.code == "park-bench-plastic")
    # 95 percent total content: below the EPA's recommended 100 percent total recovered
    assert (benches.total.orders, benches.total.met_orders, benches.total.unmet_orders) == (
        1,
        0,
        1,
    )


def test_loading_twice_adds_no_procurement(db, engine):
    def counts():
        return [
            db.exec(select(func.count()).select_from(model)).one()
            for model in (Tender, Bid, PurchaseOrder, CatalogueProduct, OcdsRelease, CustodyEntry)
        ]

    before = counts()
    with Session(engine, expire_on_commit=False) as session:
        load_demo(session, echo=lambda _line: None)
        session.commit()
    db.expire_all()
    assert counts() == before
