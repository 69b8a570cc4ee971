"""Deliveries: recorded by the seller on an open month, graded from its assay against the
contract's grade; accepted (counted once) or disputed by the buyer; a dispute settled by the
split-assay rule (average within the splitting limit, else the umpire) regrades the lot."""

import hashlib
import json
import threading
from datetime import date
from decimal import Decimal

import pytest
from factories import as_actor, make_member, make_org
from operations_factories import copper_version, make_active_contract, make_copper_assay
from sqlmodel import Session, func, select

import contracts.deliveries as deliveries_module
from contracts.deliveries import (
    DeliveryIn,
    DisputeIn,
    DocumentFile,
    SettleIn,
    accept_delivery,
    add_document,
    clean_filename,
    dispute_delivery,
    read_delivery,
    read_document,
    record_delivery,
    settle_delivery,
    settle_parameters,
    splitting_limit,
)
from contracts.events import events_of, verify_chain
from contracts.models import ContractEvent, Delivery, DeliveryDocument, DeliveryObligation
from contracts.obligations import close_months, open_month
from market.models import Notification
from participants.actors import SYSTEM
from participants.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from quality.catalogue import seed_catalogue
from quality.grading import Measurement
from quality.pricing import FeePayer

TODAY = date(2027, 1, 25)
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


class World:
    def __init__(self, db):
        seed_catalogue(db)
        self.db = db
        self.version = copper_version(db)
        self.seller = make_org(db, kind="recycler")
        self.buyer = make_org(db, kind="manufacturer")
        self.other = make_org(db, kind="recycler")
        self.seller_trader = as_actor(db, make_member(db, self.seller, roles="trader"))
        self.seller_admin = as_actor(db, make_member(db, self.seller, roles="admin"))
        self.buyer_inspector = as_actor(db, make_member(db, self.buyer, roles="inspector"))
        self.buyer_admin = as_actor(db, make_member(db, self.buyer, roles="admin"))
        self.other_trader = as_actor(db, make_member(db, self.other, roles="trader"))
        self.contract = make_active_contract(db, self.seller, self.buyer, self.version)
        open_month(db, SYSTEM, date(2027, 1, 1))
        db.commit()

    def assay(self, org, cu: str, u: str = "0.2", lab: str = "Seller Lab", **kw):
        return make_copper_assay(self.db, org, cu_pct=cu, uncertainty=u, lab=lab, **kw)

    def record(self, cu: str = "93.5", u: str = "0.2", net_t: str = "24.5", **kw) -> Delivery:
        assay = self.assay(self.seller, cu, u)
        data = DeliveryIn(
            contract_id=self.contract.id,
            delivered_on=kw.pop("delivered_on", date(2027, 1, 20)),
            net_t=net_t,
            vehicle="品川 100 あ 12-34",
            assay_id=assay.id,
        )
        delivery = record_delivery(
            self.db,
            kw.pop("actor", self.seller_trader),
            data,
            kw.pop("documents", ()),
            kw.pop("today", TODAY),
        )
        self.db.commit()
        return delivery

    def obligation(self) -> DeliveryObligation:
        self.db.expire_all()
        return self.db.exec(
            select(DeliveryObligation).where(DeliveryObligation.month == date(2027, 1, 1))
        ).one()

    def count(self, model) -> int:
        self.db.expire_all()
        return self.db.exec(select(func.count()).select_from(model)).one()

    def kinds(self) -> list[str]:
        self.db.expire_all()
        return [e.kind for e in events_of(self.db, self.contract.id)]


@pytest.fixture()
def w(db):
    return World(db)


def test_a_recorded_delivery_is_graded_against_the_contracts_grade_version(w):
    delivery = w.record(cu="93.5")  # ISRI Birch/Cliff: min 94 % Cu, ¥15,000/t a point below

    assert (delivery.status, delivery.net_kg, delivery.vehicle) == (
        "recorded",
        24_500,
        "品川 100 あ 12-34",
    )
    assert (delivery.outcome, delivery.adjustment_jpy_per_t) == ("conforms_with_deductions", -7_500)
    assert w.obligation().delivered_kg == 0  # counted only once the buyer accepts
    event = events_of(w.db, w.contract.id)[-1]
    assert event.kind == "delivery.recorded"
    assert json.loads(event.detail) == {
        "delivery": delivery.id,
        "month": "2027-01",
        "delivered_on": "2027-01-20",
        "net_kg": 24_500,
        "assay": delivery.assay_id,
        "grade": "ISRI-BIRCH-CLIFF:1",
        "outcome": "conforms_with_deductions",
        "adjustment_jpy_per_t": -7_500,
        "documents": [],
    }
    note = w.db.exec(
        select(Notification).where(Notification.member_id == w.buyer_inspector.member_id)
    ).one()
    assert (note.link, json.loads(note.params)) == (
        f"/deliveries/{delivery.id}",
        {"tonnes": "24.500", "contract": w.contract.id},
    )


def test_documents_are_kept_with_their_type_from_the_content_size_and_hash(w):
    delivery = w.record(
        documents=[
            DocumentFile("weighbridge_ticket", "weighbridge_ticket", "C:\\scans\\ticket.pdf", PDF),
            DocumentFile("assay_report", "assay_report", "report.PNG", PNG),
        ]
    )
    docs = w.db.exec(select(DeliveryDocument).order_by(DeliveryDocument.id)).all()
    assert [(d.kind, d.filename, d.content_type, d.size_bytes) for d in docs] == [
        ("weighbridge_ticket", "ticket.pdf", "application/pdf", len(PDF)),
        ("assay_report", "report.PNG", "image/png", len(PNG)),
    ]
    assert docs[0].sha256 == hashlib.sha256(PDF).hexdigest()
    assert read_document(w.db, w.buyer_inspector, delivery.id, docs[0].id).data == PDF
    with pytest.raises(NotFound):
        read_document(w.db, w.other_trader, delivery.id, docs[0].id)
    with pytest.raises(NotFound):  # a document of this delivery only
        read_document(w.db, w.seller_trader, delivery.id + 1, docs[0].id)


def test_either_party_adds_documents_to_a_delivery_and_the_chain_records_them(w):
    delivery = w.record()
    document = add_document(
        w.db,
        w.buyer_inspector,
        delivery.id,
        DocumentFile("file", "other", "photo.jpg", b"\xff\xd8\xff\xe0rest"),
    )
    w.db.commit()
    assert (document.content_type, document.uploaded_by_member_id) == (
        "image/jpeg",
        w.buyer_inspector.member_id,
    )
    assert w.kinds()[-1] == "delivery.document_added"
    with pytest.raises(NotFound):
        add_document(w.db, w.other_trader, delivery.id, DocumentFile("file", "other", "x.pdf", PDF))
    with pytest.raises(PermissionDenied):
        add_document(w.db, w.seller_admin, delivery.id, DocumentFile("file", "other", "x.pdf", PDF))


def test_file_names_keep_only_the_name_without_control_characters():
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("a\u202eb\x00c.pdf") == "abc.pdf"
    assert clean_filename("   ") == "document"
    assert clean_filename("x" * 300 + ".pdf") == "x" * 196 + ".pdf"


BIG = b"%PDF-" + b"0" * (5 * 1024 * 1024)


@pytest.mark.parametrize(
    ("change", "error", "message", "field"),
    [
        ({"net_t": "0"}, ValidationFailed, "The net weight must be more than zero.", "net_t"),
        (
            {"delivered_on": date(2027, 1, 26)},
            ValidationFailed,
            "The delivery date cannot be in the future.",
            "delivered_on",
        ),
        (
            {"delivered_on": date(2026, 12, 31)},
            ValidationFailed,
            "%(month)s is outside the contract's term.",
            "delivered_on",
        ),
        (
            {"documents": [DocumentFile("weighbridge_ticket", "weighbridge_ticket", "t.pdf", BIG)]},
            ValidationFailed,
            "A file may be at most 5 MB.",
            "weighbridge_ticket",
        ),
        (
            {"documents": [DocumentFile("other", "other", "t.gif", b"GIF89a....")]},
            ValidationFailed,
            "Upload a PDF, PNG or JPEG file.",
            "other",
        ),
        (
            {"documents": [DocumentFile("other", "other", "t.pdf", b"")]},
            ValidationFailed,
            "The file is empty.",
            "other",
        ),
    ],
)
def test_bad_deliveries_are_refused_and_write_nothing(w, change, error, message, field):
    before = (w.count(Delivery), w.count(DeliveryDocument), w.count(ContractEvent))
    with pytest.raises(error) as caught:
        w.record(**change)
    w.db.rollback()
    assert (caught.value.message, caught.value.field) == (message, field)
    assert (w.count(Delivery), w.count(DeliveryDocument), w.count(ContractEvent)) == before


def test_a_negative_weight_never_reaches_the_domain():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        DeliveryIn(contract_id=1, delivered_on="2027-01-20", net_t="-1", assay_id=1)


def test_a_delivery_on_a_closed_month_or_a_month_not_open_yet_is_a_conflict(w):
    close_months(w.db, SYSTEM, date(2027, 2, 1))
    w.db.commit()
    with pytest.raises(Conflict) as closed:
        w.record(delivered_on=date(2027, 1, 20))
    w.db.rollback()
    with pytest.raises(Conflict) as not_yet:
        w.record(delivered_on=date(2027, 2, 3), today=date(2027, 2, 3))
    assert (closed.value.message, closed.value.params) == (
        "The delivery month %(month)s is closed.",
        {"month": "2027-01"},
    )
    assert not_yet.value.message == "The delivery month %(month)s is not open yet."


def test_a_month_closed_while_the_delivery_is_being_recorded_refuses_it(app, w, monkeypatch):
    # The month is read open, then the closing job commits before the delivery is written.
    engine = app.extensions["junkan.engine"]
    original = deliveries_module.assess_assay

    def closing_meanwhile(*args):
        with Session(engine) as job:
            close_months(job, SYSTEM, date(2027, 2, 1))
            job.commit()
        return original(*args)

    monkeypatch.setattr(deliveries_module, "assess_assay", closing_meanwhile)
    with pytest.raises(Conflict):
        w.record()
    w.db.rollback()
    assert w.count(Delivery) == 0


def test_only_the_sellers_traders_signatories_and_inspectors_record_and_only_on_its_contracts(w):
    with pytest.raises(PermissionDenied):
        w.record(actor=w.seller_admin)
    w.db.rollback()
    with pytest.raises(PermissionDenied):
        w.record(actor=w.buyer_inspector)
    w.db.rollback()
    with pytest.raises(NotFound) as caught:
        w.record(actor=w.other_trader)
    assert caught.value.message == "No such contract."


def test_the_assay_must_be_the_sellers_own_and_of_the_contracts_material(w):
    buyers = w.assay(w.buyer, "96")
    data = DeliveryIn(
        contract_id=w.contract.id, delivered_on="2027-01-20", net_t="10", assay_id=buyers.id
    )
    with pytest.raises(NotFound) as caught:
        record_delivery(w.db, w.seller_trader, data, (), TODAY)
    assert caught.value.field == "assay_id"
    plastic = w.assay(w.seller, "96", material="hdpe")
    data = data.model_copy(update={"assay_id": plastic.id})
    with pytest.raises(ValidationFailed) as caught:
        record_delivery(w.db, w.seller_trader, data, (), TODAY)
    assert caught.value.message == "The assay is of another material than the contract's."


def test_accepting_counts_the_lot_toward_the_month_once(w):
    delivery = w.record()
    accept_delivery(w.db, w.buyer_inspector, delivery.id)
    w.db.commit()
    with pytest.raises(Conflict) as caught:
        accept_delivery(w.db, w.buyer_inspector, delivery.id)
    w.db.rollback()
    assert caught.value.message == "The delivery has already been decided."
    w.db.expire_all()
    assert w.db.get(Delivery, delivery.id).status == "accepted"
    assert w.obligation().delivered_kg == 24_500
    assert w.kinds()[-1] == "delivery.accepted"
    with pytest.raises(PermissionDenied):
        accept_delivery(w.db, w.seller_trader, delivery.id)
    with pytest.raises(PermissionDenied):
        accept_delivery(w.db, w.buyer_admin, delivery.id)


def test_buyers_accepting_at_once_count_the_lot_once(app, w):
    delivery = w.record()
    engine = app.extensions["junkan.engine"]
    outcomes: list[str] = []

    def accept() -> None:
        with Session(engine) as session:
            try:
                accept_delivery(session, w.buyer_inspector, delivery.id)
                session.commit()
                outcomes.append("accepted")
            except Conflict:
                session.rollback()
                outcomes.append("conflict")

    threads = [threading.Thread(target=accept) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["accepted"] + ["conflict"] * 5
    assert w.obligation().delivered_kg == 24_500


def test_accepting_a_lot_its_grade_rejects_does_not_count_it(w):
    delivery = w.record(cu="91.5")  # more than 2 points below 94 %: rejected
    assert delivery.outcome == "rejected"
    accept_delivery(w.db, w.buyer_inspector, delivery.id)
    w.db.commit()
    w.db.expire_all()
    assert w.db.get(Delivery, delivery.id).status == "rejected"
    assert w.obligation().delivered_kg == 0
    assert w.kinds()[-1] == "delivery.rejected"


def test_the_splitting_limit_is_the_combined_uncertainty_rounded_up():
    s = Measurement("cu_pct", Decimal("93.5"), Decimal("0.2"))
    b = Measurement("cu_pct", Decimal("93.3"), Decimal("0.2"))
    assert splitting_limit(s, b) == Decimal("0.3")  # √0.08 = 0.283 → 0.3
    exact = Measurement("cu_pct", Decimal("93.50"), Decimal("0.00"))
    assert splitting_limit(exact, exact) == Decimal("0.00")


def test_parameters_the_buyer_did_not_measure_keep_the_sellers_value():
    s = {"cu_pct": Measurement("cu_pct", Decimal("95"), Decimal("0.1"))}
    (line,) = settle_parameters(["cu_pct"], s, {})
    assert (line.basis, line.settled) == ("seller", s["cu_pct"])


def test_a_dispute_within_the_splitting_limit_settles_at_the_average(w):
    delivery = w.record(cu="93.5", u="0.2")
    buyers = w.assay(w.buyer, "93.3", "0.2", lab="Buyer Lab")
    dispute_delivery(
        w.db,
        w.buyer_inspector,
        delivery.id,
        DisputeIn(reason="Our assay reads lower.", buyer_assay_id=buyers.id),
    )
    w.db.commit()
    w.db.expire_all()
    settled = w.db.get(Delivery, delivery.id)
    # 93.4 % Cu: 0.6 points below 94 at ¥15,000 a point.
    assert (settled.status, settled.outcome, settled.adjustment_jpy_per_t) == (
        "settled",
        "conforms_with_deductions",
        -9_000,
    )
    assert (settled.dispute_reason, settled.buyer_assay_id) == ("Our assay reads lower.", buyers.id)
    assert w.obligation().delivered_kg == 24_500
    assert w.kinds()[-2:] == ["delivery.disputed", "delivery.settled"]
    detail = json.loads(events_of(w.db, w.contract.id)[-1].detail)
    assert detail["parameters"] == {
        "cu_pct": {
            "seller": "93.5",
            "buyer": "93.3",
            "limit": "0.3",
            "umpire": None,
            "settled": "93.4",
            "basis": "average",
        }
    }
    assert (detail["previous"], detail["umpire_fee_payer"]) == (
        {"outcome": "conforms_with_deductions", "adjustment_jpy_per_t": -7_500},
        None,
    )
    assert verify_chain(w.db, w.contract.id).intact


def test_a_dispute_beyond_the_limit_waits_for_the_umpire_whose_assay_settles_it(w):
    delivery = w.record(cu="93.5", u="0.1")
    dispute_delivery(w.db, w.buyer_inspector, delivery.id, DisputeIn(reason="Low copper."))
    w.db.commit()
    buyers = w.assay(w.buyer, "92.9", "0.1", lab="Buyer Lab")
    settle_delivery(w.db, w.buyer_inspector, delivery.id, SettleIn(buyer_assay_id=buyers.id))
    w.db.commit()
    view = read_delivery(w.db, w.seller_trader, delivery.id)
    assert (view.delivery.status, view.umpire_required) == ("disputed", True)
    (line,) = view.settlement
    assert (line.difference, line.splitting_limit, line.basis) == (
        Decimal("0.6"),
        Decimal("0.2"),
        "pending",
    )
    assert w.count(Notification) >= 2  # both sides are told an umpire is needed

    umpire = w.assay(w.seller, "93.1", "0.05", lab="Independent Umpire Lab")
    settle_delivery(w.db, w.seller_trader, delivery.id, SettleIn(umpire_assay_id=umpire.id))
    w.db.commit()
    w.db.expire_all()
    settled = w.db.get(Delivery, delivery.id)
    assert (settled.status, settled.adjustment_jpy_per_t, settled.umpire_assay_id) == (
        "settled",
        -13_500,  # 93.1 %: 0.9 points below 94
        umpire.id,
    )
    detail = json.loads(events_of(w.db, w.contract.id)[-1].detail)
    assert detail["umpire_fee_payer"] == FeePayer.SELLER  # 0.4 from the umpire against 0.2
    assert w.kinds()[-3:] == ["delivery.disputed", "delivery.umpire_required", "delivery.settled"]
    assert w.obligation().delivered_kg == 24_500


def test_a_settlement_that_rejects_the_lot_does_not_count_it(w):
    delivery = w.record(cu="93.5", u="0.1")
    buyers = w.assay(w.buyer, "91.0", "0.1", lab="Buyer Lab")
    dispute_delivery(
        w.db, w.buyer_inspector, delivery.id, DisputeIn(reason="Low.", buyer_assay_id=buyers.id)
    )
    umpire = w.assay(w.buyer, "91.8", "0.1", lab="Umpire Lab")
    settle_delivery(w.db, w.buyer_inspector, delivery.id, SettleIn(umpire_assay_id=umpire.id))
    w.db.commit()
    w.db.expire_all()
    assert (w.db.get(Delivery, delivery.id).status, w.db.get(Delivery, delivery.id).outcome) == (
        "rejected",
        "rejected",
    )
    assert w.obligation().delivered_kg == 0


def test_the_umpire_is_a_third_laboratory_measuring_the_graded_parameters(w):
    delivery = w.record(cu="93.5", u="0.1")
    buyers = w.assay(w.buyer, "92.9", "0.1", lab="Buyer Lab")
    dispute_delivery(
        w.db, w.buyer_inspector, delivery.id, DisputeIn(reason="Low.", buyer_assay_id=buyers.id)
    )
    w.db.commit()
    same_lab = w.assay(w.seller, "93.2", lab=" seller lab ")
    with pytest.raises(ValidationFailed) as caught:
        settle_delivery(w.db, w.seller_trader, delivery.id, SettleIn(umpire_assay_id=same_lab.id))
    assert caught.value.field == "umpire_assay_id"
    w.db.rollback()
    from quality.models import AssayResult

    no_copper = w.assay(w.seller, "93.2", lab="Umpire Lab")
    w.db.exec(
        select(AssayResult).where(AssayResult.assay_id == no_copper.id)
    ).one().parameter = "moisture_pct"
    w.db.commit()
    with pytest.raises(ValidationFailed) as caught:
        settle_delivery(w.db, w.seller_trader, delivery.id, SettleIn(umpire_assay_id=no_copper.id))
    assert (caught.value.message, caught.value.params) == (
        "The umpire's assay does not measure %(parameter)s.",
        {"parameter": "cu_pct"},
    )


def test_only_the_buyer_attaches_its_own_assay_and_only_to_a_disputed_delivery(w):
    delivery = w.record()
    sellers_second = w.assay(w.seller, "93.4")
    with pytest.raises(Conflict) as caught:
        settle_delivery(
            w.db, w.seller_trader, delivery.id, SettleIn(buyer_assay_id=sellers_second.id)
        )
    assert caught.value.message == "Only a disputed delivery can be settled."
    dispute_delivery(w.db, w.buyer_inspector, delivery.id, DisputeIn(reason="Wet."))
    w.db.commit()
    with pytest.raises(PermissionDenied):
        settle_delivery(
            w.db, w.seller_trader, delivery.id, SettleIn(buyer_assay_id=sellers_second.id)
        )
    with pytest.raises(Conflict) as caught:
        umpire = w.assay(w.buyer, "93", lab="Umpire")
        settle_delivery(w.db, w.buyer_inspector, delivery.id, SettleIn(umpire_assay_id=umpire.id))
    assert caught.value.message == "The buyer's own assay comes first."
    with pytest.raises(ValidationFailed) as caught:
        settle_delivery(w.db, w.buyer_inspector, delivery.id, SettleIn())
    assert caught.value.message == "Give the buyer's assay or the umpire's."
    with pytest.raises(NotFound):
        settle_delivery(w.db, w.other_trader, delivery.id, SettleIn(umpire_assay_id=umpire.id))


def test_a_dispute_needs_a_reason_and_a_decided_delivery_cannot_be_disputed(w):
    delivery = w.record()
    with pytest.raises(ValidationFailed) as caught:
        dispute_delivery(w.db, w.buyer_inspector, delivery.id, DisputeIn(reason="  "))
    assert caught.value.field == "reason"
    accept_delivery(w.db, w.buyer_inspector, delivery.id)
    w.db.commit()
    with pytest.raises(Conflict):
        dispute_delivery(w.db, w.buyer_inspector, delivery.id, DisputeIn(reason="Too late."))
