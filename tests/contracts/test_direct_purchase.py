"""Direct purchase from the catalogue: amounts, the agency's threshold, the chain-of-custody
debit, the order and its invoice, delivery, payment by card (webhook) and by a recorded bank
transfer, and two officers buying the last covered units at once."""

import threading
from datetime import date, timedelta

import pytest
from factories import as_actor, make_member, make_org
from proc_catalogue_factories import give_custody, make_category, make_product
from sqlmodel import Session, func, select
from stripe_fixtures import FakeGateway

from contracts.models import ContractEvent, Invoice, InvoiceLine, SettlementEntry
from contracts.payments import (
    BankTransferIn,
    handle_stripe_event,
    pay_invoice,
    payment_box,
    record_bank_transfer,
)
from contracts.public_orders import (
    OrderIn,
    buy_direct,
    describe_order,
    max_direct_quantity,
    quote_direct_purchase,
)
from market.models import Notification, PurchaseOrder
from market.purchasing import (
    DEFAULT_RULE_EN,
    DEFAULT_THRESHOLD_JPY,
    PolicyInput,
    mark_delivered,
    orders_query,
    read_order,
    read_policy,
    set_policy,
)
from participants.actors import UNVERIFIED_MESSAGE
from participants.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from participants.models import AuditEntry
from quality.catalogue import seed_catalogue
from quality.custody import available_kg
from quality.errors import CustodyNotCovered
from quality.models import CustodyEntry

TODAY = date(2027, 6, 1)


class World:
    def __init__(self, db) -> None:
        seed_catalogue(db)
        self.db = db
        self.maker = make_org(db, kind="manufacturer", qualified_invoice_number="T1234567890123")
        self.city = make_org(db, kind="agency")
        self.officer_member = make_member(db, self.city, roles="officer")
        self.officer = as_actor(db, self.officer_member)
        self.supplier_member = make_member(db, self.maker, roles="admin trader signatory")
        self.supplier = as_actor(db, self.supplier_member)
        self.category = make_category(db)
        give_custody(db, self.maker, 10)  # 285 files
        self.product = make_product(db, self.maker, self.category)

    def buy(self, quantity: int = 120, actor=None, today: date = TODAY) -> PurchaseOrder:
        order = buy_direct(
            self.db,
            actor or self.officer,
            OrderIn(product_id=self.product.id, quantity=quantity),
            today=today,
        )
        self.db.commit()
        return order

    def count(self, model, *where) -> int:
        self.db.expire_all()
        return self.db.exec(select(func.count()).select_from(model).where(*where)).one()

    def nothing_written(self) -> bool:
        return (
            self.count(PurchaseOrder) == 0
            and self.count(Invoice) == 0
            and self.count(CustodyEntry, CustodyEntry.kind == "debit") == 0
            and available_kg(self.db, self.maker.id, "pp") == 10
        )


@pytest.fixture()
def w(db) -> World:
    return World(db)


def test_an_officer_buys_120_files_at_480_yen(w):
    order = w.buy(120)
    assert (order.subtotal_jpy, order.total_jpy) == (57_600, 63_360)  # + tax ¥5,760
    assert order.number == f"PO-2027-{order.id:06d}" and order.source == "direct"
    assert (order.ordered_on, order.delivery_due) == (TODAY, TODAY + timedelta(days=14))
    assert (order.buyer_org_id, order.supplier_org_id) == (w.city.id, w.maker.id)
    assert (order.quantity, order.unit, order.unit_price_jpy) == (120, "piece", 480)
    # 120 × 0.050 kg = 6 kg of product; 6 kg × 70 % = 4.2 kg, claimed as 5 kg (rounded up).
    assert (order.product_mass_kg, order.recycled_kg, order.material_code) == (6, 5, "pp")
    assert available_kg(w.db, w.maker.id, "pp") == 5
    debit = w.db.exec(select(CustodyEntry).where(CustodyEntry.kind == "debit")).one()
    assert (debit.source, debit.source_id, debit.kg, debit.organization_id) == (
        "order",
        order.id,
        5,
        w.maker.id,
    )
    invoice = w.db.exec(select(Invoice)).one()
    assert (invoice.subtotal_jpy, invoice.tax_jpy, invoice.total_jpy) == (57_600, 5_760, 63_360)
    assert (invoice.purchase_order_id, invoice.contract_id, invoice.status) == (
        order.id,
        None,
        "issued",
    )
    assert (invoice.seller_org_id, invoice.buyer_org_id) == (w.maker.id, w.city.id)
    assert invoice.number == "JK-2027-000001" and invoice.issued_on == TODAY
    assert invoice.due_on == TODAY + timedelta(days=30)
    assert invoice.seller_registration_number == "T1234567890123"
    line = w.db.exec(select(InvoiceLine)).one()
    assert (line.kind, line.amount_jpy) == ("goods", 57_600)
    assert line.description == (
        f"{order.number} 再生PPクリアファイル A4 / Recycled-PP clear file A4: 120 piece × ¥480"
    )
    notes = w.db.exec(select(Notification)).all()
    assert [(n.member_id, n.message, n.link) for n in notes] == [
        (
            w.supplier_member.id,
            "New order %(number)s from the catalogue.",
            f"/catalogue/orders/{order.id}",
        )
    ]
    out = describe_order(w.db, order)
    assert (out.tax_jpy, out.invoice_id, out.invoice_status, out.payment_status) == (
        5_760,
        invoice.id,
        "issued",
        "unpaid",
    )


def test_order_numbers_follow_the_order_ids_and_the_year_of_the_order(w):
    first = w.buy(1)
    second = w.buy(2, today=date(2028, 4, 1))
    assert (first.number, second.number) == ("PO-2027-000001", "PO-2028-000002")


def test_an_order_above_the_threshold_is_refused_and_nothing_is_written(w):
    set_policy(
        w.db,
        w.officer,
        PolicyInput(direct_purchase_threshold_jpy=60_000, rule_en="City rule", rule_ja="市規則"),
    )
    w.db.commit()
    with pytest.raises(ValidationFailed) as err:
        w.buy(120)
    assert str(err.value) == (
        "The order total of 63,360 yen (tax included) is above your agency's direct-purchase "
        "threshold of 60,000 yen: an order of this size must go to a tender."
    )
    assert (err.value.status, err.value.field) == (422, "quantity")
    w.db.rollback()
    assert w.nothing_written()


def test_an_order_exactly_at_the_threshold_is_a_direct_purchase(w):
    set_policy(w.db, w.officer, PolicyInput(direct_purchase_threshold_jpy=63_360, rule_ja="規則"))
    w.db.commit()
    assert w.buy(120).total_jpy == 63_360


def test_the_default_threshold_is_three_million_yen_tax_included(w):
    give_custody(w.db, w.maker, 1_000)
    policy = read_policy(w.db, w.officer)
    assert (policy.direct_purchase_threshold_jpy, policy.is_default) == (3_000_000, True)
    assert policy.rule_en == DEFAULT_RULE_EN and DEFAULT_THRESHOLD_JPY == 3_000_000
    # ¥480 + ¥48 tax a file: 5,681 files cost ¥2,999,568, 5,682 files ¥3,000,096.
    assert max_direct_quantity(480, 3_000_000) == 5_681
    quote = quote_direct_purchase(w.db, w.officer, w.product.id, 5_682)
    assert (quote.total_jpy, quote.direct_allowed, quote.max_direct_quantity) == (
        3_000_096,
        False,
        5_681,
    )
    assert quote_direct_purchase(w.db, w.officer, w.product.id, 5_681).direct_allowed
    with pytest.raises(ValidationFailed):
        w.buy(5_682)
    w.db.rollback()
    assert w.buy(5_681).total_jpy == 2_999_568


def test_an_order_beyond_the_suppliers_balance_is_refused_and_nothing_is_written(w):
    quote = quote_direct_purchase(w.db, w.officer, w.product.id, 286)
    assert (quote.covered_units, quote.covered, quote.claim_kg) == (285, False, 11)
    with pytest.raises(CustodyNotCovered) as err:
        w.buy(286)
    assert str(err.value) == (
        "The supplier's chain-of-custody balance covers the recycled content of 285 units of "
        "this product now, fewer than the 286 ordered."
    )
    assert (err.value.status, err.value.field) == (422, "quantity")
    w.db.rollback()
    assert w.nothing_written()


@pytest.mark.parametrize(
    ("kind", "roles", "status", "message"),
    [
        (
            "manufacturer",
            "admin trader",
            "verified",
            "Only public agencies buy directly from the catalogue.",
        ),
        (
            "recycler",
            "admin trader",
            "verified",
            "Only public agencies buy directly from the catalogue.",
        ),
        (
            "agency",
            "admin",
            "verified",
            "Only procurement officers of a public agency buy from the catalogue.",
        ),
        ("agency", "officer", "unverified", UNVERIFIED_MESSAGE),
    ],
)
def test_only_procurement_officers_of_verified_agencies_buy(w, kind, roles, status, message):
    actor = as_actor(w.db, make_member(w.db, make_org(w.db, kind=kind, status=status), roles=roles))
    with pytest.raises(PermissionDenied) as err:
        w.buy(1, actor=actor)
    assert (str(err.value), err.value.status) == (message, 403)
    w.db.rollback()
    assert w.nothing_written()


def test_a_withdrawn_product_is_not_for_sale(w):
    w.product.status = "withdrawn"
    w.db.add(w.product)
    w.db.commit()
    with pytest.raises(NotFound):
        w.buy(1)
    with pytest.raises(NotFound):
        quote_direct_purchase(w.db, w.officer, w.product.id, 1)


def test_two_officers_buying_the_last_covered_units_at_once_one_wins(app, w):
    """The balance covers 142 files; two officers order 120 each at the same moment."""
    other_officer = as_actor(w.db, make_member(w.db, w.city, roles="officer"))
    debit_to = 5  # leave 5 kg: floor(5 / 0.035) = 142 files
    from quality.custody import debit_claim

    debit_claim(
        w.db,
        organization_id=w.maker.id,
        material_code="pp",
        kg=10 - debit_to,
        source="test",
        source_id=1,
    )
    w.db.commit()
    engine = app.extensions["junkan.engine"]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def officer(actor) -> None:
        with Session(engine, expire_on_commit=False) as session:
            barrier.wait(timeout=10)
            try:
                buy_direct(session, actor, OrderIn(product_id=w.product.id, quantity=120))
                session.commit()
                result = "ok"
            except CustodyNotCovered as err:
                session.rollback()
                result = f"not covered: {err}"
            except Exception as exc:  # noqa: BLE001 - reported below
                session.rollback()
                result = f"error: {exc!r}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=officer, args=(a,)) for a in (w.officer, other_officer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == [
        "not covered: The supplier's chain-of-custody balance covers the recycled content of 0 "
        "units of this product now, fewer than the 120 ordered.",
        "ok",
    ]
    assert (w.count(PurchaseOrder), w.count(Invoice)) == (1, 1)
    assert w.count(CustodyEntry, CustodyEntry.source == "order") == 1
    assert available_kg(w.db, w.maker.id, "pp") == 0


def test_the_buyer_and_the_supplier_read_the_order_others_find_nothing(w):
    order = w.buy(10)
    assert read_order(w.db, w.officer, order.id).id == order.id
    assert read_order(w.db, w.supplier, order.id).id == order.id
    assert [o.id for o in w.db.exec(orders_query(w.supplier)).all()] == [order.id]
    for kind in ("manufacturer", "agency", "operator"):
        stranger = as_actor(w.db, make_member(w.db, make_org(w.db, kind=kind), roles="admin"))
        with pytest.raises(NotFound):
            read_order(w.db, stranger, order.id)
        assert w.db.exec(orders_query(stranger)).all() == []


def test_the_supplier_marks_an_order_delivered_once(w):
    order = w.buy(10)
    with pytest.raises(PermissionDenied) as err:
        mark_delivered(w.db, w.officer, order.id)
    assert str(err.value) == "Only the supplier marks an order delivered."
    inspector = as_actor(w.db, make_member(w.db, w.maker, roles="inspector"))
    with pytest.raises(PermissionDenied):
        mark_delivered(w.db, inspector, order.id)
    other = as_actor(w.db, make_member(w.db, make_org(w.db, kind="manufacturer"), roles="admin"))
    with pytest.raises(NotFound):
        mark_delivered(w.db, other, order.id)
    assert mark_delivered(w.db, w.supplier, order.id).status == "delivered"
    w.db.commit()
    with pytest.raises(Conflict) as err:
        mark_delivered(w.db, w.supplier, order.id)
    assert str(err.value) == "This order is not awaiting delivery."
    note = w.db.exec(
        select(Notification).where(Notification.member_id == w.officer_member.id)
    ).one()
    assert note.message == "Order %(number)s is delivered."


def test_the_agency_pays_the_orders_invoice_by_card_and_the_webhook_settles_it(w):
    order = w.buy(120)
    invoice = w.db.exec(select(Invoice)).one()
    assert payment_box(w.db, w.officer, invoice.id).can_pay
    assert not payment_box(w.db, w.supplier, invoice.id).can_pay
    with pytest.raises(PermissionDenied) as err:
        pay_invoice(w.db, w.supplier, invoice.id, FakeGateway())
    assert str(err.value) == "Only the buyer pays an invoice."
    payment = pay_invoice(w.db, w.officer, invoice.id, FakeGateway())
    assert (payment.status, payment.amount_jpy) == ("pending", 63_360)
    event = {
        "id": "evt_order_1",
        "type": "payment_intent.succeeded",
        "data": {
            "object": {"id": payment.stripe_payment_intent_id, "amount": 63_360, "currency": "jpy"}
        },
    }
    assert handle_stripe_event(w.db, event) is True
    w.db.commit()
    w.db.expire_all()
    assert w.db.get(Invoice, invoice.id).status == "paid"
    entries = w.db.exec(select(SettlementEntry)).all()
    assert [(e.kind, e.organization_id, e.amount_jpy) for e in entries] == [
        ("seller_payable", w.maker.id, 63_360)  # no platform fee on a public body's order
    ]
    assert w.count(ContractEvent) == 0
    assert describe_order(w.db, order).payment_status == "paid"
    paid_note = w.db.exec(
        select(Notification).where(
            Notification.message == "Invoice %(number)s is paid: %(amount)s yen."
        )
    ).one()
    assert paid_note.member_id == w.supplier_member.id


def test_an_agency_admin_may_pay_but_another_agency_finds_nothing(w):
    w.buy(1)
    invoice = w.db.exec(select(Invoice)).one()
    admin = as_actor(w.db, make_member(w.db, w.city, roles="admin"))
    assert payment_box(w.db, admin, invoice.id).can_pay
    stranger = as_actor(w.db, make_member(w.db, make_org(w.db, kind="agency"), roles="officer"))
    with pytest.raises(NotFound):
        pay_invoice(w.db, stranger, invoice.id, FakeGateway())


def _transfer(amount: int = 63_360, day: date = TODAY) -> BankTransferIn:
    return BankTransferIn(amount_jpy=amount, received_on=day, reference="MIZUHO 0001")


def test_the_supplier_records_a_bank_transfer_once(w):
    w.buy(120)
    invoice = w.db.exec(select(Invoice)).one()
    assert payment_box(w.db, w.supplier, invoice.id).can_record_transfer
    assert not payment_box(w.db, w.officer, invoice.id).can_record_transfer
    paid = record_bank_transfer(w.db, w.supplier, invoice.id, _transfer(), today=TODAY)
    w.db.commit()
    assert (paid.status, paid.paid_at.isoformat()) == ("paid", "2027-05-31T15:00:00+00:00")
    entries = w.db.exec(select(SettlementEntry)).all()
    assert [(e.kind, e.organization_id, e.amount_jpy) for e in entries] == [
        ("seller_payable", w.maker.id, 63_360)
    ]
    audit = w.db.exec(select(AuditEntry).where(AuditEntry.action == "invoice.bank_transfer")).one()
    assert audit.target_id == invoice.id and '"reference": "MIZUHO 0001"' in audit.detail
    with pytest.raises(Conflict) as err:
        record_bank_transfer(w.db, w.supplier, invoice.id, _transfer(), today=TODAY)
    assert (str(err.value), err.value.status) == ("This invoice is not awaiting payment.", 409)
    assert w.count(SettlementEntry) == 1
    assert not payment_box(w.db, w.officer, invoice.id).can_pay


@pytest.mark.parametrize(
    ("transfer", "field", "message"),
    [
        (
            _transfer(amount=63_359),
            "amount_jpy",
            "The transfer must be the invoice's total of 63,360 yen.",
        ),
        (
            _transfer(day=TODAY + timedelta(days=1)),
            "received_on",
            "The day of receipt cannot lie in the future.",
        ),
        (
            _transfer(day=TODAY - timedelta(days=1)),
            "received_on",
            "The day of receipt cannot lie before the invoice was issued (2027-06-01).",
        ),
    ],
)
def test_a_bank_transfer_of_another_amount_or_day_is_refused(w, transfer, field, message):
    w.buy(120)
    invoice = w.db.exec(select(Invoice)).one()
    with pytest.raises(ValidationFailed) as err:
        record_bank_transfer(w.db, w.supplier, invoice.id, transfer, today=TODAY)
    assert (str(err.value), err.value.field) == (message, field)
    w.db.rollback()
    assert w.db.get(Invoice, invoice.id).status == "issued" and w.count(SettlementEntry) == 0


def test_only_the_sellers_admins_and_signatories_record_a_bank_transfer(w):
    w.buy(120)
    invoice = w.db.exec(select(Invoice)).one()
    with pytest.raises(PermissionDenied):
        record_bank_transfer(w.db, w.officer, invoice.id, _transfer(), today=TODAY)
    trader = as_actor(w.db, make_member(w.db, w.maker, roles="trader"))
    with pytest.raises(PermissionDenied):
        record_bank_transfer(w.db, trader, invoice.id, _transfer(), today=TODAY)
    other = as_actor(w.db, make_member(w.db, make_org(w.db, kind="manufacturer"), roles="admin"))
    with pytest.raises(NotFound):
        record_bank_transfer(w.db, other, invoice.id, _transfer(), today=TODAY)
    assert w.db.get(Invoice, invoice.id).status == "issued"


def test_a_card_payment_under_way_blocks_a_recorded_transfer(w):
    w.buy(120)
    invoice = w.db.exec(select(Invoice)).one()
    pay_invoice(w.db, w.officer, invoice.id, FakeGateway())
    with pytest.raises(Conflict) as err:
        record_bank_transfer(w.db, w.supplier, invoice.id, _transfer(), today=TODAY)
    assert str(err.value) == "A card payment of this invoice is under way."


def test_the_agencys_admin_or_officer_sets_the_policy(w):
    admin = as_actor(w.db, make_member(w.db, w.city, roles="admin"))
    out = set_policy(
        w.db,
        admin,
        PolicyInput(direct_purchase_threshold_jpy=1_500_000, rule_en="Town rule", rule_ja=""),
    )
    w.db.commit()
    assert (out.direct_purchase_threshold_jpy, out.rule_en, out.is_default) == (
        1_500_000,
        "Town rule",
        False,
    )
    out = set_policy(
        w.db, w.officer, PolicyInput(direct_purchase_threshold_jpy=800_000, rule_ja="町規則")
    )
    w.db.commit()
    assert (out.direct_purchase_threshold_jpy, out.rule_ja, out.rule_en) == (800_000, "町規則", "")
    with pytest.raises(ValidationFailed) as err:
        set_policy(w.db, w.officer, PolicyInput(direct_purchase_threshold_jpy=1))
    assert (str(err.value), err.value.field) == (
        "Name the rule that sets the threshold.",
        "rule_ja",
    )
    with pytest.raises(PermissionDenied) as err:
        set_policy(w.db, w.supplier, PolicyInput(direct_purchase_threshold_jpy=1, rule_ja="x"))
    assert str(err.value) == "Only public agencies have a procurement policy."
    with pytest.raises(PermissionDenied):
        read_policy(w.db, w.supplier)
    inspector = as_actor(w.db, make_member(w.db, w.city, roles="inspector"))
    with pytest.raises(PermissionDenied):
        set_policy(w.db, inspector, PolicyInput(direct_purchase_threshold_jpy=1, rule_ja="x"))
    assert read_policy(w.db, inspector).direct_purchase_threshold_jpy == 800_000
