"""Chain of custody (mass balance): accepted deliveries credit the buyer's recycled input,
claims debit it, awards reserve it; every move is conditional, so the balance never goes
negative — not even when claims race each other — and a step run twice moves nothing twice."""

import threading
from decimal import Decimal

import pytest
from factories import as_actor, make_member, make_org
from operations_factories import make_copper_assay
from proc_custody_factories import (
    CustodyWorld,
    account,
    credit,
    entries,
    make_certificate,
)
from sqlmodel import Session, func, select

from contracts.deliveries import DisputeIn, accept_delivery, dispute_delivery
from participants.actors import SYSTEM
from participants.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from quality.custody import (
    available_kg,
    certificates_to_cite,
    check_covered,
    citable_certificates,
    claim_kg,
    consume_reservation,
    credit_delivery,
    debit_claim,
    read_ledger,
    recycled_share_pct,
    release_reservation,
    reserve_claim,
    reverse_delivery,
    tonnes,
)
from quality.errors import CustodyNotCovered
from quality.models import CustodyAccount, CustodyEntry


@pytest.fixture()
def w(db):
    return CustodyWorld(db)


def _count(db, model) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model)).one()


# --- rounding -------------------------------------------------------------------------------


def test_a_claim_is_rounded_up_to_the_kilogram_and_tonnes_keep_three_places():
    assert claim_kg(2_000, Decimal("25")) == 500
    assert claim_kg(1_000, Decimal("33.3333")) == 334  # 333.333 kg: never covered by less
    assert claim_kg(Decimal("0.5"), Decimal("0.1")) == 1  # 0.0005 kg still needs a kilogram
    assert claim_kg(1_200, Decimal("0")) == 0
    assert (tonnes(1_250), tonnes(0), tonnes(24_500)) == ("1.250", "0.000", "24.500")


def test_a_credit_rounds_the_recycled_share_down_and_keeps_the_whole_input(db):
    org = make_org(db, kind="manufacturer")
    entry = credit(db, org, 1_001, share="33.3")  # 333.333 kg recycled
    a = account(db, org)
    assert (entry.kg, entry.input_kg, entry.available_after_kg) == (333, 1_001, 333)
    assert (a.credited_kg, a.input_kg, a.available_kg) == (333, 1_001, 333)
    assert recycled_share_pct(a) == Decimal("33.3")


# --- credits ---------------------------------------------------------------------------------


def test_a_delivery_credits_once_however_often_the_step_runs(db):
    org = make_org(db, kind="manufacturer")
    first = credit_delivery(
        db, organization_id=org.id, material_code="hdpe", delivery_id=7, net_kg=20_000
    )
    again = credit_delivery(
        db, organization_id=org.id, material_code="hdpe", delivery_id=7, net_kg=20_000
    )
    db.commit()
    assert again.id == first.id
    assert account(db, org, "hdpe").available_kg == 20_000
    assert _count(db, CustodyEntry) == 1


def test_an_accepted_delivery_credits_the_buyer_with_its_net_mass_and_assay(w):
    delivery = w.record(net_t="24.5")
    accept_delivery(w.db, w.buyer_inspector, delivery.id)
    w.db.commit()

    a = account(w.db, w.buyer, "copper_scrap")  # the material of ISRI-BIRCH-CLIFF
    assert (a.credited_kg, a.input_kg, a.debited_kg, a.reserved_kg, a.available_kg) == (
        24_500,
        24_500,
        0,
        0,
        24_500,
    )
    (entry,) = entries(w.db, w.buyer)
    assert (entry.kind, entry.source, entry.source_id, entry.kg, entry.input_kg) == (
        "credit",
        "delivery",
        delivery.id,
        24_500,
        24_500,
    )
    assert entry.recycled_share_pct == Decimal(100)
    assert (entry.assay_id, entry.member_id) == (delivery.assay_id, w.buyer_inspector.member_id)
    assert entry.note == f"Contract #{w.contract.id}, delivery #{delivery.id}"
    assert entries(w.db, w.seller) == []  # the seller's ledger is not touched


def test_accepting_twice_credits_once(w):
    delivery = w.record()
    accept_delivery(w.db, w.buyer_inspector, delivery.id)
    w.db.commit()
    with pytest.raises(Conflict):
        accept_delivery(w.db, w.buyer_inspector, delivery.id)
    w.db.rollback()
    assert [e.kind for e in entries(w.db, w.buyer)] == ["credit"]
    assert account(w.db, w.buyer).available_kg == 24_500


def test_a_rejected_lot_credits_nothing(w):
    delivery = w.record(cu="91.5")  # more than 2 points below 94 percent Cu: rejected
    accept_delivery(w.db, w.buyer_inspector, delivery.id)
    w.db.commit()
    assert (_count(w.db, CustodyAccount), _count(w.db, CustodyEntry)) == (0, 0)


def test_a_dispute_settled_into_counting_credits_the_buyer(w):
    delivery = w.record(cu="93.5", u="0.2", net_t="12.345")
    buyers = make_copper_assay(w.db, w.buyer, cu_pct="93.3", uncertainty="0.2", lab="Buyer Lab")
    dispute_delivery(
        w.db, w.buyer_inspector, delivery.id, DisputeIn(reason="Low.", buyer_assay_id=buyers.id)
    )
    w.db.commit()  # within the splitting limit: settled at once, at the average
    (entry,) = entries(w.db, w.buyer)
    assert (entry.kind, entry.source_id, entry.kg, entry.assay_id) == (
        "credit",
        delivery.id,
        12_345,
        delivery.assay_id,
    )


def test_a_reversal_withdraws_the_credit_unless_it_was_claimed(db):
    org = make_org(db, kind="manufacturer")
    credit_delivery(db, organization_id=org.id, material_code="hdpe", delivery_id=11, net_kg=5_000)
    credit_delivery(db, organization_id=org.id, material_code="hdpe", delivery_id=12, net_kg=3_000)
    reverse_delivery(db, delivery_id=11)
    db.commit()
    a = account(db, org, "hdpe")
    assert (a.credited_kg, a.input_kg, a.available_kg) == (3_000, 3_000, 3_000)
    assert reverse_delivery(db, delivery_id=999) is None  # never credited
    debit_claim(
        db,
        organization_id=org.id,
        material_code="hdpe",
        kg=2_000,
        source="order",
        source_id=1,
    )
    db.commit()
    with pytest.raises(Conflict) as caught:
        reverse_delivery(db, delivery_id=12)  # 3,000 kg credited, only 1,000 kg left
    assert caught.value.message == (
        "The recycled input of this delivery has already been claimed by sales."
    )
    db.rollback()
    assert account(db, org, "hdpe").available_kg == 1_000


# --- debits and reservations ----------------------------------------------------------------


def test_a_debit_above_the_balance_is_refused_with_the_amounts_and_writes_nothing(db):
    org = make_org(db, kind="manufacturer")
    credit(db, org, 1_000)
    before = _count(db, CustodyEntry)
    with pytest.raises(CustodyNotCovered) as caught:
        debit_claim(
            db,
            organization_id=org.id,
            material_code="copper_scrap",
            kg=1_001,
            source="order",
            source_id=1,
        )
    db.rollback()
    error = caught.value
    assert str(error) == (
        "The recycled-content claim needs 1.001 t of recycled copper_scrap, but your "
        "chain-of-custody balance has 1.000 t available."
    )
    assert (error.status, error.field) == (422, "recycled_content")
    assert _count(db, CustodyEntry) == before
    a = account(db, org)
    assert (a.debited_kg, a.available_kg) == (0, 1_000)
    with pytest.raises(CustodyNotCovered):  # the check alone says the same
        check_covered(db, org.id, "copper_scrap", 1_001)
    assert check_covered(db, org.id, "copper_scrap", 1_000) == 1_000
    with pytest.raises(CustodyNotCovered):  # no account at all: nothing available
        debit_claim(
            db, organization_id=org.id, material_code="hdpe", kg=1, source="order", source_id=2
        )


def test_a_debit_up_to_the_balance_passes_once_per_source(db):
    org = make_org(db, kind="manufacturer")
    credit(db, org, 1_000)
    first = debit_claim(
        db,
        organization_id=org.id,
        material_code="copper_scrap",
        kg=1_000,
        source="order",
        source_id=5,
    )
    again = debit_claim(
        db,
        organization_id=org.id,
        material_code="copper_scrap",
        kg=1_000,
        source="order",
        source_id=5,
    )
    db.commit()
    assert again.id == first.id
    a = account(db, org)
    assert (a.debited_kg, a.available_kg, first.available_after_kg) == (1_000, 0, 0)


def test_reserve_release_and_consume_move_the_balance_once_each(db):
    org = make_org(db, kind="manufacturer")
    credit(db, org, 10_000)
    held = reserve_claim(
        db,
        organization_id=org.id,
        material_code="copper_scrap",
        kg=4_000,
        source="award",
        source_id=1,
    )
    assert (
        reserve_claim(
            db,
            organization_id=org.id,
            material_code="copper_scrap",
            kg=4_000,
            source="award",
            source_id=1,
        ).id
        == held.id
    )
    db.commit()
    a = account(db, org)
    assert (a.reserved_kg, a.available_kg) == (4_000, 6_000)

    release_reservation(db, source="award", source_id=1)
    release_reservation(db, source="award", source_id=1)  # once
    assert release_reservation(db, source="award", source_id=99) is None
    db.commit()
    a = account(db, org)
    assert (a.reserved_kg, a.available_kg) == (0, 10_000)

    reserve_claim(
        db,
        organization_id=org.id,
        material_code="copper_scrap",
        kg=3_000,
        source="award",
        source_id=2,
    )
    sale = consume_reservation(
        db, source="award", source_id=2, debit_source="order", debit_source_id=7
    )
    db.commit()
    a = account(db, org)
    assert (a.credited_kg, a.reserved_kg, a.debited_kg, a.available_kg) == (
        10_000,
        0,
        3_000,
        7_000,
    )
    assert (sale.kind, sale.source, sale.source_id, sale.kg) == ("debit", "order", 7, 3_000)
    assert [(e.kind, e.source, e.source_id, e.available_after_kg) for e in entries(db, org)][
        1:
    ] == [
        ("reserve", "award", 1, 6_000),
        ("release", "award", 1, 10_000),
        ("reserve", "award", 2, 7_000),
        ("release", "award", 2, 10_000),
        ("debit", "order", 7, 7_000),
    ]
    with pytest.raises(NotFound):
        consume_reservation(
            db, source="award", source_id=3, debit_source="order", debit_source_id=8
        )


def test_a_reservation_above_the_balance_is_refused(db):
    org = make_org(db, kind="manufacturer")
    credit(db, org, 5_000)
    with pytest.raises(CustodyNotCovered) as caught:
        reserve_claim(
            db,
            organization_id=org.id,
            material_code="copper_scrap",
            kg=5_001,
            source="award",
            source_id=1,
        )
    db.rollback()
    assert caught.value.params == {
        "needed": "5.001",
        "material": "copper_scrap",
        "available": "5.000",
    }
    assert (account(db, org).reserved_kg, _count(db, CustodyEntry)) == (0, 1)


# --- concurrency -----------------------------------------------------------------------------


def _race(engine, attempts: list, move) -> list[str]:
    """Run `move(session, n)` for each attempt in its own thread, session and connection,
    all released at once; the outcome of each."""
    barrier = threading.Barrier(len(attempts))
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(n) -> None:
        with Session(engine, expire_on_commit=False) as session:
            barrier.wait(timeout=10)
            try:
                move(session, n)
                session.commit()
                result = "ok"
            except CustodyNotCovered:
                session.rollback()
                result = "refused"
            except Exception as exc:  # noqa: BLE001 - reported below
                session.rollback()
                result = f"error: {exc!r}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker, args=(n,)) for n in attempts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def test_two_awards_reserving_at_once_beyond_the_balance_one_wins(app, db):
    org = make_org(db, kind="manufacturer")
    credit(db, org, 10_000)

    def reserve(session, award_id) -> None:
        reserve_claim(
            session,
            organization_id=org.id,
            material_code="copper_scrap",
            kg=6_000,
            source="award",
            source_id=award_id,
        )

    outcomes = _race(app.extensions["junkan.engine"], [1, 2], reserve)
    assert sorted(outcomes) == ["ok", "refused"]
    a = account(db, org)
    assert (a.reserved_kg, a.available_kg) == (6_000, 4_000)
    assert [e.kind for e in entries(db, org)] == ["credit", "reserve"]


def test_many_claims_at_once_never_take_the_balance_below_zero(app, db):
    org = make_org(db, kind="manufacturer")
    credit(db, org, 10_000)

    def debit(session, order_id) -> None:
        debit_claim(
            session,
            organization_id=org.id,
            material_code="copper_scrap",
            kg=3_000,
            source="order",
            source_id=order_id,
        )

    outcomes = _race(app.extensions["junkan.engine"], list(range(1, 7)), debit)
    assert sorted(outcomes) == ["ok"] * 3 + ["refused"] * 3
    a = account(db, org)
    assert (a.debited_kg, a.available_kg) == (9_000, 1_000)
    after = [e.available_after_kg for e in entries(db, org) if e.kind == "debit"]
    assert sorted(after, reverse=True) == [7_000, 4_000, 1_000]


# --- evidence ---------------------------------------------------------------------------------


def test_certificates_an_organisation_may_cite(w):
    lot = make_copper_assay(w.db, w.seller, lab="Seller Lab")
    own_assay = make_copper_assay(w.db, w.buyer, lab="Buyer Lab")
    issued_by_buyer = make_certificate(w.db, lot, w.buyer, w.version)  # the buyer issued it
    of_own_assay = make_certificate(w.db, own_assay, w.seller, w.version)
    received = make_certificate(w.db, lot, w.seller, w.version)  # travels with the lot
    foreign_assay = make_copper_assay(w.db, w.other, lab="Other Lab")
    foreign = make_certificate(w.db, foreign_assay, w.other, w.version)

    with pytest.raises(ValidationFailed) as caught:  # the lot is not delivered to it yet
        citable_certificates(w.db, w.buyer.id, [received])
    assert (caught.value.params, caught.value.field) == ({"id": received}, "certificates")

    credit(w.db, w.buyer, 2_000, assay_id=lot.id)  # an accepted delivery of that lot
    cited = citable_certificates(w.db, w.buyer.id, [issued_by_buyer, of_own_assay, received])
    assert [c.id for c in cited] == [issued_by_buyer, of_own_assay, received]
    assert citable_certificates(w.db, w.buyer.id, []) == []

    with pytest.raises(ValidationFailed) as caught:
        citable_certificates(w.db, w.buyer.id, [received, foreign], field="evidence")
    error = caught.value
    assert (error.status, error.field, error.params) == (422, "evidence", {"id": foreign})
    assert str(error) == (
        f"Certificate {foreign} is not one of your organisation's: cite certificates you "
        "issued, of your own lots, or of lots delivered to you."
    )
    with pytest.raises(ValidationFailed):  # a certificate that does not exist
        citable_certificates(w.db, w.buyer.id, ["JK-NONE"])

    # What the bid form offers: the same three, with their assays (not the other's).
    offered = certificates_to_cite(w.db, w.buyer_inspector)
    assert sorted(c.id for c, _assay in offered) == sorted(
        [issued_by_buyer, of_own_assay, received]
    )
    assert {c.id: a.id for c, a in offered}[received] == lot.id
    assert [c.id for c, _a in certificates_to_cite(w.db, w.other_trader)] == [foreign]


# --- reading ----------------------------------------------------------------------------------


def test_members_read_their_own_ledger_the_operator_any_and_nobody_another(w):
    credit(w.db, w.buyer, 2_500)
    ledger = read_ledger(w.db, w.buyer_inspector)
    assert [(a.material_code, a.available_kg) for a in ledger.accounts] == [("copper_scrap", 2_500)]
    assert ledger.organization.id == w.buyer.id
    assert ledger.materials["copper_scrap"].name_en
    with pytest.raises(NotFound):
        read_ledger(w.db, w.other_trader, w.buyer.id)
    assert read_ledger(w.db, w.other_trader).accounts == []
    operator = make_org(w.db, kind="operator")
    staff = as_actor(w.db, make_member(w.db, operator, roles="admin"))
    assert read_ledger(w.db, staff, w.buyer.id).accounts[0].available_kg == 2_500
    with pytest.raises(NotFound):
        read_ledger(w.db, staff, 10**9)  # no such organisation
    assert read_ledger(w.db, SYSTEM, w.buyer.id).organization.id == w.buyer.id
    with pytest.raises(PermissionDenied):
        read_ledger(w.db, None)
    assert available_kg(w.db, w.buyer.id, "copper_scrap") == 2_500
    assert available_kg(w.db, w.buyer.id, "hdpe") == 0
