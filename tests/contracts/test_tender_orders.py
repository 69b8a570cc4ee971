"""After the standstill period the officer issues the award's contract and purchase order: the
order's quantity, price, tax and number, the reservation turned into the ledger's debit, the
order's invoice, and the tender and award completed — once, and never before the standstill
period ends."""

import json
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from proc_awards_factories import (
    MATERIAL,
    credit,
    make_agency,
    make_bid,
    make_certificate,
    make_supplier,
    make_tender,
)
from sqlmodel import select

from contracts.models import Invoice
from contracts.tender_orders import complete_award, order_quantity
from market.evaluation import AwardIn, award_bid, open_tender, public_award
from market.models import (
    Award,
    Notification,
    OcdsRelease,
    ProcurementContract,
    PurchaseOrder,
    Tender,
    TenderItem,
)
from participants.columns import utcnow
from participants.errors import Conflict, PermissionDenied
from quality.models import CustodyAccount, CustodyEntry

TOKYO = ZoneInfo("Asia/Tokyo")


class World:
    def __init__(self, db, items=((40, "piece"),), price=2_000_000):
        self.db = db
        self.city = make_agency(db)
        self.beta = make_supplier(db, "Beta Plastics")
        credit(db, self.beta, 5_000)
        cert = make_certificate(db, self.beta, level=2)
        self.tender = make_tender(db, self.city, items=items, ended_ago=timedelta(days=20))
        self.bid = make_bid(
            db,
            self.tender,
            self.beta,
            price,
            total="90",
            certificates=(cert,),
            delivery_date=date(2027, 6, 30),
        )
        open_tender(db, self.tender)
        self.awarded_at = utcnow() - timedelta(days=11)
        self.award = award_bid(
            db,
            self.city.actor,
            self.tender.id,
            AwardIn(bid_id=self.bid.id, justification="Best value."),
            now=self.awarded_at,
        )
        db.commit()

    def complete(self, now=None):
        done = complete_award(self.db, self.city.actor, self.tender.id, now=now)
        self.db.commit()
        return done


@pytest.fixture()
def w(db):
    return World(db)


def test_completion_issues_the_contract_the_order_and_its_invoice(w):
    now = utcnow()
    done = w.complete(now)
    w.db.expire_all()
    tender, award = w.db.get(Tender, w.tender.id), w.db.get(Award, w.award.id)
    assert (tender.status, award.status) == ("complete", "active")
    contract = w.db.exec(select(ProcurementContract)).one()
    assert (contract.tender_id, contract.award_id, contract.value_jpy, contract.delivery_due) == (
        tender.id,
        award.id,
        2_000_000,
        date(2027, 6, 30),
    )
    assert (contract.buyer_org_id, contract.supplier_org_id) == (w.city.org.id, w.beta.org.id)
    order = w.db.exec(select(PurchaseOrder)).one()
    ordered_on = now.astimezone(TOKYO).date()
    assert order.number == f"PO-{ordered_on.year}-{order.id:06d}"
    assert (order.source, order.tender_id, order.award_id, order.product_id) == (
        "tender",
        tender.id,
        award.id,
        None,
    )
    assert (order.quantity, order.unit, order.unit_price_jpy) == (40, "piece", 50_000)
    assert (order.subtotal_jpy, order.total_jpy) == (2_000_000, 2_200_000)
    assert (order.material_code, order.product_mass_kg, order.recycled_kg) == (
        MATERIAL,
        2_000,
        1_800,
    )
    assert (str(order.post_consumer_pct), str(order.total_recycled_pct)) == ("90", "90")
    assert (order.delivery_due, order.ordered_on) == (date(2027, 6, 30), ordered_on)
    assert order.description == "再生プラスチック製公園ベンチ / Recycled-plastic park benches"
    invoice = w.db.exec(select(Invoice)).one()
    assert (invoice.purchase_order_id, invoice.subtotal_jpy, invoice.tax_jpy) == (
        order.id,
        2_000_000,
        200_000,
    )
    assert (invoice.total_jpy, invoice.buyer_org_id, invoice.seller_org_id) == (
        2_200_000,
        w.city.org.id,
        w.beta.org.id,
    )
    assert (done.order.id, done.invoice.id, done.contract.id) == (order.id, invoice.id, contract.id)
    assert [r.tag for r in w.db.exec(select(OcdsRelease).order_by(OcdsRelease.id)).all()] == [
        "award",
        "contract",
    ]
    assert public_award(w.db, tender.id).status == "active"
    note = w.db.exec(
        select(Notification).where(Notification.dedupe_key == f"tender:{tender.id}:contract")
    ).one()
    assert json.loads(note.params) == {"tender": tender.id, "order": order.number}


def test_the_reservation_becomes_the_orders_debit(w):
    w.complete()
    account = w.db.exec(select(CustodyAccount)).one()
    assert (account.credited_kg, account.debited_kg, account.reserved_kg) == (5_000, 1_800, 0)
    assert account.available_kg == 3_200
    moves = [
        (e.kind, e.source, e.kg)
        for e in w.db.exec(select(CustodyEntry).order_by(CustodyEntry.id)).all()
    ]
    order_id = w.db.exec(select(PurchaseOrder.id)).one()
    assert moves == [
        ("credit", "delivery", 5_000),
        ("reserve", "award", 1_800),
        ("release", "award", 1_800),
        ("debit", "order", 1_800),
    ]
    debit = w.db.exec(select(CustodyEntry).where(CustodyEntry.kind == "debit")).one()
    assert debit.source_id == order_id


def test_not_before_the_standstill_period_ends(w):
    until = w.awarded_at + timedelta(days=10)
    with pytest.raises(Conflict) as err:
        complete_award(w.db, w.city.actor, w.tender.id, now=until - timedelta(seconds=1))
    local = until.astimezone(TOKYO)
    assert str(err.value) == (
        f"The standstill period ends at {local:%Y-%m-%d %H:%M} JST; the contract and order can "
        "be issued after it."
    )
    w.db.rollback()
    assert w.db.exec(select(PurchaseOrder)).all() == []
    assert w.complete(until).order.quantity == 40


def test_completing_twice_issues_one_order(w):
    w.complete()
    with pytest.raises(Conflict) as err:
        complete_award(w.db, w.city.actor, w.tender.id)
    assert err.value.message == "The contract and order of this tender are already issued."
    w.db.rollback()
    assert len(w.db.exec(select(PurchaseOrder)).all()) == 1
    assert len(w.db.exec(select(Invoice)).all()) == 1


def test_only_the_agencys_officer_completes(w):
    with pytest.raises(PermissionDenied):
        complete_award(w.db, w.beta.actor, w.tender.id)


def test_a_tender_of_several_items_or_an_uneven_price_orders_one_lot(db):
    several = World(db, items=((40, "piece"), (10, "piece")))
    several.complete()
    uneven = World(db, price=1_999_999)
    uneven.complete()
    orders = db.exec(select(PurchaseOrder).order_by(PurchaseOrder.id)).all()
    assert [(o.quantity, o.unit, o.unit_price_jpy, o.subtotal_jpy) for o in orders] == [
        (1, "lot", 2_000_000, 2_000_000),
        (1, "lot", 1_999_999, 1_999_999),
    ]
    assert [o.total_jpy for o in orders] == [2_200_000, 2_199_998]


def test_order_quantity_rule():
    item = TenderItem(
        tender_id=1, position=1, description_en="", description_ja="", quantity=8, unit="set"
    )
    assert order_quantity([item], 800) == (8, "set", 100)
    assert order_quantity([item], 801) == (1, "lot", 801)
    assert order_quantity([], 801) == (1, "lot", 801)
