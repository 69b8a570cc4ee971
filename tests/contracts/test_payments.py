"""Paying invoices through Stripe (localstripe), webhooks, refunds and the settlement ledger,
at the domain level: events are fetched from localstripe and handed to the domain as the web
layer does after verifying their signature."""

import threading
from dataclasses import dataclass

import pytest
from factories import as_actor, make_member, make_org
from payments_factories import make_contract, make_credit_note, make_invoice
from sqlmodel import Session, func, select
from stripe_fixtures import event_of, intents_of_invoice

from contracts.events import verify_chain
from contracts.models import (
    ContractEvent,
    Invoice,
    Payment,
    Refund,
    SettlementEntry,
    StripeEvent,
)
from contracts.payments import (
    handle_stripe_event,
    pay_invoice,
    payment_box,
    platform_fee_of,
    refund_credit_note,
    settlement_ledger,
)
from market.models import Notification
from participants.errors import Conflict, NotFound, PermissionDenied
from participants.models import Organization
from quality.catalogue import seed_catalogue

SUCCEEDED, FAILED = "payment_intent.succeeded", "payment_intent.payment_failed"
DECLINED = "pm_card_chargeCustomerFail"


@dataclass
class Money:
    db: Session
    seller: Organization
    buyer: Organization
    invoice: Invoice
    members: dict

    def actor(self, who: str):
        return as_actor(self.db, self.members[who])


@pytest.fixture()
def money(db) -> Money:
    seed_catalogue(db)
    seller = make_org(db, kind="recycler", name_en="Saitama Metals")
    buyer = make_org(db, kind="manufacturer", name_en="Osaka Wire")
    other = make_org(db, kind="manufacturer", name_en="Kobe Cable")
    unverified = make_org(db, kind="manufacturer", status="unverified")
    operator = make_org(db, kind="operator")
    members = {
        "buyer trader": make_member(db, buyer, roles="trader"),
        "buyer inspector": make_member(db, buyer, roles="inspector"),
        "seller signatory": make_member(db, seller, roles="signatory"),
        "seller trader": make_member(db, seller, roles="trader"),
        "other buyer": make_member(db, other, roles="admin trader signatory"),
        "unverified buyer": make_member(db, unverified, roles="admin trader signatory"),
        "operator": make_member(db, operator, roles="admin"),
    }
    invoice = make_invoice(db, make_contract(db, seller, buyer))
    return Money(db, seller, buyer, invoice, members)


def _count(db: Session, model) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model)).one()


def _ledger(db: Session, invoice_id: int) -> dict[str, int]:
    rows = db.exec(select(SettlementEntry).where(SettlementEntry.invoice_id == invoice_id)).all()
    return {r.kind: r.amount_jpy for r in rows}


def _pay_and_settle(m: Money, gateway, method: str = "pm_card_visa", kind: str = SUCCEEDED):
    payment = pay_invoice(m.db, m.actor("buyer trader"), m.invoice.id, gateway, method)
    event = event_of(gateway, payment.stripe_payment_intent_id, kind)
    assert handle_stripe_event(m.db, event) is True
    m.db.commit()
    m.db.refresh(payment)
    return payment, event


def test_a_paid_invoice_settles_the_seller_and_the_platform_fee(money, stripe_gateway):
    m = money
    assert m.invoice.total_jpy == 1_105_500
    assert platform_fee_of(m.db, m.invoice.id) == 5_500  # fee ¥5,000 + its 10 % tax
    payment = pay_invoice(m.db, m.actor("buyer trader"), m.invoice.id, stripe_gateway)
    assert payment.status == "pending" and payment.amount_jpy == 1_105_500
    intent = stripe_gateway.client.v1.payment_intents.retrieve(payment.stripe_payment_intent_id)
    assert (intent.amount, intent.currency, intent.status) == (1_105_500, "jpy", "succeeded")
    assert intent.metadata["invoice_number"] == m.invoice.number
    m.db.refresh(m.buyer)
    assert intent.customer == m.buyer.stripe_customer_id  # created on the first payment
    m.db.refresh(m.invoice)
    assert m.invoice.status == "issued"  # only the webhook pays it

    handle_stripe_event(m.db, event_of(stripe_gateway, intent.id, SUCCEEDED))
    m.db.commit()
    m.db.refresh(m.invoice)
    m.db.refresh(payment)
    assert (m.invoice.status, payment.status) == ("paid", "succeeded")
    assert m.invoice.paid_at is not None
    assert _ledger(m.db, m.invoice.id) == {"seller_payable": 1_100_000, "platform_fee": 5_500}
    entries = m.db.exec(select(SettlementEntry)).all()
    assert {e.kind: e.organization_id for e in entries} == {
        "seller_payable": m.seller.id,
        "platform_fee": None,
    }
    kinds = [e.kind for e in m.db.exec(select(ContractEvent)).all()]
    assert kinds[-1] == "invoice_paid"
    assert verify_chain(m.db, m.invoice.contract_id).intact
    seller_notes = m.db.exec(
        select(Notification).where(Notification.member_id == m.members["seller signatory"].id)
    ).all()
    assert [n.link for n in seller_notes] == [f"/invoices/{m.invoice.id}"]


def test_a_declined_card_fails_and_a_retry_succeeds_with_one_live_intent(money, stripe_gateway):
    m = money
    first, _ = _pay_and_settle(m, stripe_gateway, DECLINED, FAILED)
    failed_intent = first.stripe_payment_intent_id
    assert first.status == "failed" and "declined" in first.failure_message
    m.db.refresh(m.invoice)
    assert m.invoice.status == "issued"
    buyer_notes = m.db.exec(
        select(Notification).where(Notification.member_id == m.members["buyer trader"].id)
    ).all()
    assert len(buyer_notes) == 1
    assert payment_box(m.db, m.actor("buyer trader"), m.invoice.id).can_pay

    second, _ = _pay_and_settle(m, stripe_gateway)
    assert second.id == first.id  # one payment row per invoice
    assert second.status == "succeeded" and second.stripe_payment_intent_id != failed_intent
    statuses = sorted(i.status for i in intents_of_invoice(stripe_gateway, m.invoice.id))
    assert statuses == ["canceled", "succeeded"]  # the failed intent can never be charged
    m.db.refresh(m.invoice)
    assert m.invoice.status == "paid"


def test_a_second_click_returns_the_same_payment_and_creates_no_second_intent(
    money, stripe_gateway
):
    m = money
    first = pay_invoice(m.db, m.actor("buyer trader"), m.invoice.id, stripe_gateway)
    again = pay_invoice(m.db, m.actor("buyer trader"), m.invoice.id, stripe_gateway)
    assert again.id == first.id
    assert again.stripe_payment_intent_id == first.stripe_payment_intent_id
    assert len(intents_of_invoice(stripe_gateway, m.invoice.id)) == 1


def test_an_invoice_above_the_card_limit_is_refused_before_stripe_is_called(money, stripe_gateway):
    m = money
    # ¥90,904,545 of goods + ¥5,000 fee + 10 % tax = ¥100,000,500: above ¥99,999,999
    big = make_invoice(m.db, make_contract(m.db, m.seller, m.buyer), goods_jpy=90_904_545)
    m.db.commit()
    assert big.total_jpy == 100_000_500
    with pytest.raises(Conflict, match="at most ¥99,999,999"):
        pay_invoice(m.db, m.actor("buyer trader"), big.id, stripe_gateway)
    assert _count(m.db, Payment) == 0
    assert intents_of_invoice(stripe_gateway, big.id) == []
    box = payment_box(m.db, m.actor("buyer trader"), big.id)
    assert (box.can_pay, box.over_card_limit) == (False, True)
    # the same buyer's ordinary invoice is still payable by card
    assert payment_box(m.db, m.actor("buyer trader"), m.invoice.id).can_pay


def test_two_clicks_at_once_create_one_payment_intent(app, money, stripe_gateway):
    m = money
    engine = app.extensions["junkan.engine"]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def click() -> None:
        with Session(engine, expire_on_commit=False) as session:
            actor = as_actor(session, m.members["buyer trader"])
            barrier.wait()
            try:
                results.append(pay_invoice(session, actor, m.invoice.id, stripe_gateway).id)
            except Exception as err:  # noqa: BLE001 (reported below)
                errors.append(err)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    # SQLite may refuse the loser's write outright ("database is locked"): still one charge.
    assert results, errors
    assert len(set(results)) == 1
    assert len(intents_of_invoice(stripe_gateway, m.invoice.id)) == 1
    assert _count(m.db, Payment) == 1


def test_a_replayed_event_changes_nothing(money, stripe_gateway):
    m = money
    _, event = _pay_and_settle(m, stripe_gateway)
    before = (_ledger(m.db, m.invoice.id), _count(m.db, StripeEvent), _count(m.db, ContractEvent))
    assert handle_stripe_event(m.db, event) is False
    m.db.commit()
    after = (_ledger(m.db, m.invoice.id), _count(m.db, StripeEvent), _count(m.db, ContractEvent))
    assert after == before
    # The same payment reported again under another event id: the invoice is paid once.
    assert handle_stripe_event(m.db, {**event, "id": "evt_other"}) is True
    m.db.commit()
    assert _ledger(m.db, m.invoice.id) == before[0]
    assert _count(m.db, ContractEvent) == before[2]


def test_an_event_of_an_unknown_intent_or_another_amount_is_recorded_and_ignored(money):
    m = money
    unknown = {"id": "evt_1", "type": SUCCEEDED, "data": {"object": {"id": "pi_nobody"}}}
    assert handle_stripe_event(m.db, unknown) is True
    m.db.add(
        Payment(invoice_id=m.invoice.id, stripe_payment_intent_id="pi_ours", amount_jpy=1_105_500)
    )
    m.db.commit()
    cheaper = {"id": "pi_ours", "amount": 1_000, "currency": "jpy"}
    assert handle_stripe_event(
        m.db, {"id": "evt_2", "type": SUCCEEDED, "data": {"object": cheaper}}
    )
    m.db.commit()
    m.db.refresh(m.invoice)
    assert m.invoice.status == "issued"
    assert _count(m.db, StripeEvent) == 2 and _count(m.db, SettlementEntry) == 0


@pytest.mark.parametrize(
    ("who", "error"),
    [
        ("other buyer", NotFound),
        ("seller signatory", PermissionDenied),
        ("buyer inspector", PermissionDenied),
        ("unverified buyer", PermissionDenied),
        ("operator", PermissionDenied),
    ],
)
def test_only_the_buyers_paying_members_pay(money, who, error):
    m = money
    with pytest.raises(error):
        pay_invoice(m.db, m.actor(who), m.invoice.id, gateway=None)
    assert _count(m.db, Payment) == 0


def test_a_paid_invoice_or_a_credit_note_is_not_paid(money):
    m = money
    note = make_credit_note(m.db, m.invoice)
    with pytest.raises(Conflict):
        pay_invoice(m.db, m.actor("buyer trader"), note.id, gateway=None)
    m.invoice.status = "paid"
    m.db.commit()
    with pytest.raises(Conflict):
        pay_invoice(m.db, m.actor("buyer trader"), m.invoice.id, gateway=None)


def test_a_credit_note_on_a_paid_invoice_is_refunded_once(money, stripe_gateway):
    m = money
    payment, _ = _pay_and_settle(m, stripe_gateway)
    note = make_credit_note(m.db, m.invoice)
    assert note.total_jpy == -110_550
    with pytest.raises(PermissionDenied):
        refund_credit_note(m.db, m.actor("buyer trader"), note.id, stripe_gateway)
    with pytest.raises(PermissionDenied):
        refund_credit_note(m.db, m.actor("seller trader"), note.id, stripe_gateway)
    refund = refund_credit_note(m.db, m.actor("seller signatory"), note.id, stripe_gateway)
    assert (refund.amount_jpy, refund.status, refund.payment_id) == (
        110_550,
        "succeeded",
        payment.id,
    )
    at_stripe = stripe_gateway.client.v1.refunds.retrieve(refund.stripe_refund_id)
    assert (at_stripe.amount, at_stripe.payment_intent) == (
        110_550,
        payment.stripe_payment_intent_id,
    )
    m.db.refresh(note)
    assert note.status == "refunded"
    assert _ledger(m.db, note.id) == {"refund": -110_000, "platform_fee": -550}
    with pytest.raises(Conflict):
        refund_credit_note(m.db, m.actor("operator"), note.id, stripe_gateway)
    assert _count(m.db, Refund) == 1

    entries, totals = settlement_ledger(m.db, m.actor("seller signatory"))
    assert [e.kind for e in entries] == ["refund", "seller_payable"]
    assert (totals.seller_payable_jpy, totals.refund_jpy, totals.net_jpy) == (
        1_100_000,
        -110_000,
        990_000,
    )
    assert totals.platform_fee_jpy is None
    entries, totals = settlement_ledger(m.db, m.actor("operator"))
    assert len(entries) == 4 and totals.platform_fee_jpy == 5_500 - 550
    entries, totals = settlement_ledger(m.db, m.actor("other buyer"))
    assert entries == [] and totals.net_jpy == 0


def test_a_credit_note_on_an_unpaid_invoice_is_not_refunded(money, stripe_gateway):
    m = money
    note = make_credit_note(m.db, m.invoice)
    with pytest.raises(Conflict, match="reduces what is due"):
        refund_credit_note(m.db, m.actor("seller signatory"), note.id, stripe_gateway)
    assert _count(m.db, Refund) == 0
