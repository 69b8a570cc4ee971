"""The contract part of the demo story: a year of copper deliveries, black mass, a draft."""

from datetime import date

import pytest
from sqlmodel import Session, col, func, select

from contracts.events import verify_chain
from contracts.models import (
    ContractComment,
    ContractEvent,
    ContractTerms,
    Delivery,
    DeliveryDocument,
    DeliveryObligation,
    Invoice,
    InvoiceLine,
    OfftakeContract,
    Payment,
    SettlementEntry,
    StripeEvent,
)
from demo import DEMO_PASSWORD, load_demo
from demo.contracts import COPPER_LISTING_TITLE, weighbridge_ticket_pdf
from market.models import Notification, SupplyListing
from participants.models import Member, Organization
from tests.factories import login
from web.stripe_gateway import local_gateway

CLOSED = ("closed", "invoiced")  # invoiced once contracts.invoicing exists


@pytest.fixture(scope="module")
def engine(demo_app):
    return demo_app.extensions["junkan.engine"]


@pytest.fixture()
def db(engine):
    with Session(engine, expire_on_commit=False) as session:
        yield session


def _org(db: Session, email: str) -> int:
    return db.exec(select(Member.organization_id).where(Member.email == email)).one()


def _contract(db: Session, seller: str, buyer: str, status: str) -> OfftakeContract:
    return db.exec(
        select(OfftakeContract).where(
            OfftakeContract.seller_org_id == _org(db, seller),
            OfftakeContract.buyer_org_id == _org(db, buyer),
            OfftakeContract.status == status,
        )
    ).one()


def _months(db: Session, contract: OfftakeContract) -> list[DeliveryObligation]:
    return list(
        db.exec(
            select(DeliveryObligation)
            .where(DeliveryObligation.contract_id == contract.id)
            .order_by(DeliveryObligation.month)
        ).all()
    )


def test_copper_contract_has_a_year_of_closed_months_and_an_open_one(db):
    copper = _contract(db, "recycler@demo.junkan.jp", "manufacturer@demo.junkan.jp", "active")
    months = _months(db, copper)
    assert [m.status for m in months[:-1]] == [m.status for m in months[:-1] if m.status in CLOSED]
    assert len(months) == 12 and len(months[:-1]) >= 11
    assert months[-1].month == date.today().replace(day=1) and months[-1].status == "open"
    deliveries = db.exec(select(Delivery).where(Delivery.contract_id == copper.id)).all()
    by_status = {
        s: [d for d in deliveries if d.status == s] for s in {d.status for d in deliveries}
    }
    assert len(by_status["settled"]) == 1 and len(by_status["rejected"]) == 1
    settled = by_status["settled"][0]
    assert settled.umpire_assay_id and settled.buyer_assay_id
    assert settled.adjustment_jpy_per_t == -6000
    assert by_status["rejected"][0].outcome == "rejected"
    current = [d for d in deliveries if d.obligation_id == months[-1].id]
    assert [d.status for d in current] == ["recorded"]
    # accepted and settled lots count toward their month; the rejected one does not
    for month in months:
        counted = sum(
            d.net_kg
            for d in deliveries
            if d.obligation_id == month.id and d.status in ("accepted", "settled")
        )
        assert month.delivered_kg == counted
    tickets = db.exec(
        select(func.count())
        .select_from(DeliveryDocument)
        .join(Delivery, Delivery.id == DeliveryDocument.delivery_id)
        .where(Delivery.contract_id == copper.id, DeliveryDocument.kind == "weighbridge_ticket")
    ).one()
    assert tickets == len(deliveries)
    versions = db.exec(select(ContractTerms).where(ContractTerms.contract_id == copper.id)).all()
    assert copper.active_version == 2 and len(versions) == 2
    signed = next(v for v in versions if v.version == 2)
    assert signed.cap_jpy_per_t and signed.floor_jpy_per_t and signed.price_kind == "index"


def test_black_mass_offtake_runs_for_half_a_year_with_metal_assays(db):
    bm = _contract(db, "blackmass@demo.junkan.jp", "cathode@demo.junkan.jp", "active")
    months = _months(db, bm)
    assert len(months) == 6 and sum(m.status in CLOSED for m in months) == 5
    deductions = db.exec(
        select(Delivery.adjustment_jpy_per_t).where(
            Delivery.contract_id == bm.id, Delivery.adjustment_jpy_per_t < 0
        )
    ).all()
    assert deductions == [-25000]  # Cu 2.6 % against a 2 % limit (guarded, 0.2 % free band)


def test_draft_waits_for_the_wire_makers_answer_with_two_versions(db):
    draft = _contract(db, "recycler@demo.junkan.jp", "manufacturer@demo.junkan.jp", "draft")
    versions = db.exec(
        select(ContractTerms)
        .where(ContractTerms.contract_id == draft.id)
        .order_by(ContractTerms.version)
    ).all()
    assert [v.version for v in versions] == [1, 2]
    assert versions[-1].proposed_by_org_id == draft.seller_org_id
    comments = db.exec(select(ContractComment).where(ContractComment.contract_id == draft.id))
    assert len(comments.all()) == 2
    manufacturer = db.exec(
        select(Member.id).where(Member.email == "manufacturer@demo.junkan.jp")
    ).one()
    unread = db.exec(
        select(Notification.link).where(
            Notification.member_id == manufacturer, Notification.read_at.is_(None)
        )
    ).all()
    assert f"/contracts/{draft.id}" in unread  # the new version
    assert sum(link.startswith("/deliveries/") for link in unread) == 1  # this month's lot


def test_every_demo_contract_chain_verifies(db):
    ids = db.exec(select(OfftakeContract.id)).all()
    assert len(ids) >= 3
    for contract_id in ids:
        assert verify_chain(db, contract_id).intact


def _invoices(db: Session, contract: OfftakeContract) -> list[tuple[Invoice, date]]:
    return list(
        db.exec(
            select(Invoice, DeliveryObligation.month)
            .join(DeliveryObligation, DeliveryObligation.id == Invoice.obligation_id)
            .where(Invoice.contract_id == contract.id)
            .order_by(DeliveryObligation.month)
        ).all()
    )


def test_every_closed_month_is_invoiced_and_paid_but_the_latest_copper_one(db):
    copper = _contract(db, "recycler@demo.junkan.jp", "manufacturer@demo.junkan.jp", "active")
    bm = _contract(db, "blackmass@demo.junkan.jp", "cathode@demo.junkan.jp", "active")
    for contract, n in ((copper, 11), (bm, 5)):
        invoices = _invoices(db, contract)
        closed = [m.month for m in _months(db, contract) if m.status in CLOSED]
        assert [month for _, month in invoices] == closed and len(closed) == n
        seller = db.get(Organization, contract.seller_org_id)
        assert seller.qualified_invoice_number == f"T{seller.corporate_number}"
        for invoice, _ in invoices:
            assert invoice.seller_registration_number == seller.qualified_invoice_number
            assert invoice.tax_jpy == invoice.subtotal_jpy // 10
    copper_invoices = [i for i, _ in _invoices(db, copper)]
    assert [i.status for i in copper_invoices] == ["paid"] * 10 + ["issued"]
    assert all(i.status == "paid" for i, _ in _invoices(db, bm))
    # about 60 t of copper at ¥1.2–1.4 million a tonne (under the card limit), 30 t of black
    # mass at ~¥0.4 million
    assert all(60_000_000 < i.total_jpy <= 99_999_999 for i in copper_invoices)
    assert all(10_000_000 < i.total_jpy < 15_000_000 for i, _ in _invoices(db, bm))
    lines = db.exec(
        select(InvoiceLine.kind, InvoiceLine.amount_jpy).where(
            InvoiceLine.kind == "quality",
            col(InvoiceLine.invoice_id).in_([i.id for i in copper_invoices]),
        )
    ).all()
    assert [amount for _, amount in lines] and all(amount < 0 for _, amount in lines)
    # the latest copper invoice waits for the wire maker, unclaimed
    assert (
        db.exec(select(Payment).where(Payment.invoice_id == copper_invoices[-1].id)).first() is None
    )


def test_the_settlement_ledger_holds_what_was_paid(db):
    paid = db.exec(select(Invoice).where(Invoice.status == "paid")).all()
    # 15 contract months by card; the city's clear files by a recorded bank transfer
    assert len([i for i in paid if i.contract_id]) == 15
    assert len([i for i in paid if i.purchase_order_id]) == 1
    entries = db.exec(select(SettlementEntry)).all()
    assert {e.invoice_id for e in entries} == {i.id for i in paid}
    assert sum(e.amount_jpy for e in entries) == sum(i.total_jpy for i in paid)
    for invoice in paid:
        payable = [e for e in entries if e.invoice_id == invoice.id and e.kind == "seller_payable"]
        assert len(payable) == 1 and payable[0].organization_id == invoice.seller_org_id
    payments = db.exec(select(Payment)).all()
    assert sorted(p.status for p in payments) == ["succeeded"] * 15
    assert db.exec(select(func.count()).select_from(StripeEvent)).one() == 15
    # the load's Stripe customers lived in its own local Stripe: forgotten
    assert not db.exec(
        select(Organization.id).where(Organization.stripe_customer_id.is_not(None))
    ).all()


def test_loading_twice_creates_nothing_new(db, local_stripe):
    def counts():
        return [
            db.exec(select(func.count()).select_from(m)).one()
            for m in (
                OfftakeContract,
                Delivery,
                ContractEvent,
                SupplyListing,
                Organization,
                Invoice,
                Payment,
                SettlementEntry,
                StripeEvent,
            )
        ]

    before = counts()
    gateway = local_gateway(local_stripe)
    intents = len(gateway.client.v1.payment_intents.list(params={"limit": 100}).data)
    assert load_demo(db, echo=lambda _line: None, gateway=gateway) is False
    assert len(gateway.client.v1.payment_intents.list(params={"limit": 100}).data) == intents
    db.commit()
    assert counts() == before
    assert (
        db.exec(
            select(func.count())
            .select_from(SupplyListing)
            .where(SupplyListing.title == COPPER_LISTING_TITLE)
        ).one()
        == 1
    )


def test_the_manufacturer_clicks_through_the_contract_pages(demo_app, db):
    copper = _contract(db, "recycler@demo.junkan.jp", "manufacturer@demo.junkan.jp", "active")
    pending = db.exec(
        select(Delivery).where(Delivery.contract_id == copper.id, Delivery.status == "recorded")
    ).one()
    client = demo_app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(client, "manufacturer@demo.junkan.jp", DEMO_PASSWORD)
    latest = db.exec(
        select(Invoice.id).where(Invoice.contract_id == copper.id, Invoice.status == "issued")
    ).one()
    for path in (
        "/invoices",
        f"/invoices/{latest}",
        f"/invoices/{latest}/pay",
        "/settlements",
        "/contracts",
        f"/contracts/{copper.id}",
        f"/contracts/{copper.id}/deliveries",
        f"/contracts/{copper.id}/performance",
        f"/deliveries/{pending.id}",
    ):
        assert client.get(path).status_code == 200, path
    ticket = db.exec(
        select(DeliveryDocument).where(DeliveryDocument.delivery_id == pending.id)
    ).one()
    download = client.get(f"/deliveries/{pending.id}/documents/{ticket.id}")
    assert download.status_code == 200 and download.data.startswith(b"%PDF-")


def test_weighbridge_ticket_is_a_well_formed_pdf():
    pdf = weighbridge_ticket_pdf(["WEIGHBRIDGE TICKET WB-1", "Net: 27,340 kg (verified)"])
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    xref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert pdf[xref:].startswith(b"xref")
    assert b"(Net: 27,340 kg [verified]) '" in pdf
