"""Invoicing per contract month: lines from the signed terms and the deliveries that count,
one rounding rule (toward zero), tax once per invoice, numbers, idempotent and concurrent
runs, missing index values, credit notes after a late decision, registration numbers."""

import threading
from datetime import date
from decimal import Decimal

import pytest
from factories import as_actor, make_member, make_org
from operations_factories import copper_version, make_active_contract, make_copper_assay
from sqlmodel import Session, func, select

from contracts.deliveries import (
    DeliveryIn,
    DisputeIn,
    SettleIn,
    accept_delivery,
    dispute_delivery,
    record_delivery,
    settle_delivery,
)
from contracts.events import events_of, verify_chain
from contracts.invoicing import (
    PLATFORM_FEE_PCT,
    CountedDelivery,
    InvoiceQuery,
    LineDraft,
    MonthTerms,
    amount_of,
    invoice_lines,
    invoices_query,
    issue_invoices,
    platform_fee_of,
    read_invoice,
    tax_by_rate,
    totals,
)
from contracts.jobs import JOBS, JobContext
from contracts.models import (
    ContractTerms,
    Delivery,
    DeliveryObligation,
    Invoice,
    InvoiceLine,
)
from contracts.obligations import close_months, open_month
from market.models import IndexValue, PriceIndex
from participants.accounts import (
    check_registration_number,
    corporate_number_check_digit,
    set_registration_number,
)
from participants.actors import SYSTEM
from participants.errors import NotFound, PermissionDenied, ValidationFailed
from quality.catalogue import seed_catalogue

JAN = date(2027, 1, 1)
ISSUE_DAY = date(2027, 2, 1)
PRICE = 1_200_000  # the factory's fixed price, yen per tonne
TERMS = MonthTerms(JAN, 100_000, 105_000, Decimal("80"), Decimal("20"), Decimal("100"))


def registration(seed: int) -> str:
    base = f"{seed:012d}"
    return f"T{corporate_number_check_digit(base)}{base}"


class World:
    def __init__(self, db, registration_number: str | None = None):
        seed_catalogue(db)
        self.db = db
        self.version = copper_version(db)
        number = registration_number if registration_number is not None else registration(7_000_001)
        self.seller = make_org(db, kind="recycler", qualified_invoice_number=number or None)
        self.buyer = make_org(db, kind="manufacturer")
        self.other = make_org(db, kind="manufacturer")
        self.seller_trader = as_actor(db, make_member(db, self.seller, roles="trader"))
        self.seller_admin = as_actor(db, make_member(db, self.seller, roles="admin"))
        self.buyer_inspector = as_actor(db, make_member(db, self.buyer, roles="inspector"))
        self.other_admin = as_actor(db, make_member(db, self.other, roles="admin trader"))
        self.contract = make_active_contract(db, self.seller, self.buyer, self.version)

    def terms(self, **values) -> ContractTerms:
        terms = self.db.exec(
            select(ContractTerms).where(ContractTerms.contract_id == self.contract.id)
        ).one()
        for key, value in values.items():
            setattr(terms, key, value)
        self.db.add(terms)
        self.db.commit()
        return terms

    def open(self) -> None:
        open_month(self.db, SYSTEM, JAN)
        self.db.commit()

    def obligation(self) -> DeliveryObligation:
        self.db.expire_all()
        return self.db.exec(
            select(DeliveryObligation).where(DeliveryObligation.contract_id == self.contract.id)
        ).one()

    def delivered(self, *lots: tuple[int, int], status: str = "accepted") -> None:
        """Counted deliveries written straight in: (net kg, adjustment yen/t) each."""
        ob = self.obligation()
        for n, (kg, adjustment) in enumerate(lots, start=1):
            self.db.add(
                Delivery(
                    contract_id=self.contract.id,
                    obligation_id=ob.id,
                    delivered_on=date(2027, 1, 10 + n),
                    net_kg=kg,
                    status=status,
                    outcome="conforms_with_deductions" if adjustment < 0 else "conforms",
                    adjustment_jpy_per_t=adjustment,
                )
            )
            if status in ("accepted", "settled"):
                ob.delivered_kg += kg
        self.db.add(ob)
        self.db.commit()

    def close_and_invoice(self) -> int:
        close_months(self.db, SYSTEM, ISSUE_DAY)
        issued = issue_invoices(self.db, JAN, today=ISSUE_DAY)
        self.db.commit()
        return issued

    def invoice(self) -> Invoice:
        self.db.expire_all()
        return self.db.exec(select(Invoice).where(Invoice.kind == "invoice")).one()

    def lines(self, invoice: Invoice) -> list[tuple]:
        rows = self.db.exec(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice.id)
            .order_by(InvoiceLine.position)
        ).all()
        return [(r.kind, r.quantity_kg, r.unit_price_jpy_per_t, r.amount_jpy) for r in rows]

    def count(self, model) -> int:
        self.db.expire_all()
        return self.db.exec(select(func.count()).select_from(model)).one()


@pytest.fixture()
def w(db):
    return World(db)


# ----------------------------------------------------------------------------------------------
# Arithmetic


def test_amounts_are_exact_then_rounded_toward_zero():
    assert amount_of(50_121, -7_500) == -375_907  # −375,907.5: the fraction is dropped
    assert amount_of(5_121, 1_200_000) == 6_145_200
    assert amount_of(30_001, 1_200_000, Decimal("20")) == 7_200_240
    assert amount_of(1, 999) == 0 and amount_of(1, -999) == 0


def test_tax_is_computed_once_per_invoice_and_rate_not_per_line():
    lines = [LineDraft("base", "", 1_005), LineDraft("quality", "", 1_005)]
    assert tax_by_rate(lines) == {Decimal("10"): 201}  # 2,010 × 10 %
    per_line = sum(amount_of(1000, line.amount_jpy, Decimal("10")) for line in lines)
    assert per_line == 200  # 100 + 100: what per-line rounding would charge
    assert totals(lines) == (2_010, 201, 2_211)


def test_the_platform_fee_is_half_a_percent_of_the_goods_lines_and_its_tax_is_its_own():
    assert PLATFORM_FEE_PCT == Decimal("0.5")
    lines = invoice_lines(TERMS, PRICE, [CountedDelivery(1, date(2027, 1, 5), 100_000, "", 0)])
    assert [(x.kind, x.amount_jpy) for x in lines] == [("base", 120_000_000), ("fee", 600_000)]
    assert platform_fee_of(lines) == (600_000, 60_000)


# ----------------------------------------------------------------------------------------------
# The worked examples


def test_a_fixed_price_month_with_a_quality_deduction_and_excess_at_full_price(w):
    w.open()
    w.delivered((60_000, 0), (50_121, -7_500))  # 110.121 t: 5.121 t above the 105 t maximum
    assert w.close_and_invoice() == 1

    invoice = w.invoice()
    assert w.lines(invoice) == [
        ("base", 105_000, 1_200_000, 126_000_000),
        ("quality", 50_121, -7_500, -375_907),  # −375,907.5 rounded toward zero
        ("excess", 5_121, 1_200_000, 6_145_200),
        ("fee", None, None, 658_846),  # 0.5 % of ¥131,769,293 = 658,846.465
    ]
    assert (invoice.subtotal_jpy, invoice.tax_jpy, invoice.total_jpy) == (
        132_428_139,
        13_242_813,  # once: 10 % of ¥132,428,139 = 13,242,813.9
        145_670_952,
    )
    # Rounding tax per line would charge ¥13,242,814 (12,600,000 − 37,590 + 614,520 + 65,884).
    per_line = sum(amount_of(1000, a, Decimal("10")) for *_, a in w.lines(invoice))
    assert per_line == 13_242_814 != invoice.tax_jpy
    quality = w.db.exec(select(InvoiceLine).where(InvoiceLine.kind == "quality")).one()
    assert "2027-01-12" in quality.description and "conforms_with_deductions" in quality.description
    assert (invoice.number, invoice.kind, invoice.status) == ("JK-2027-000001", "invoice", "issued")
    assert (invoice.issued_on, invoice.due_on) == (ISSUE_DAY, date(2027, 3, 3))  # 30 days
    assert invoice.seller_registration_number == w.seller.qualified_invoice_number
    assert w.obligation().status == "invoiced"
    kinds = [e.kind for e in events_of(w.db, w.contract.id)]
    assert kinds[-1] == "invoice.issued"
    assert verify_chain(w.db, w.contract.id).intact


def test_excess_at_zero_percent_is_not_bought(w):
    w.terms(excess_price_pct=Decimal("0"))
    w.open()
    w.delivered((110_000, 0))
    w.close_and_invoice()
    assert [line[0] for line in w.lines(w.invoice())] == ["base", "fee"]
    assert w.lines(w.invoice())[0] == ("base", 105_000, 1_200_000, 126_000_000)


def test_a_take_or_pay_shortfall_is_charged_at_its_share_of_the_price(w):
    w.open()
    w.delivered((50_000, 0), (999, 0), status="accepted")
    w.delivered((20_000, 0), status="rejected")  # a rejected lot does not count
    w.close_and_invoice()
    # Minimum 80 t: 29.001 t short × ¥1,200,000 × 20 %.
    assert w.lines(w.invoice()) == [
        ("base", 50_999, 1_200_000, 61_198_800),
        ("shortfall", 29_001, 240_000, 6_960_240),
        ("fee", None, None, 340_795),  # 0.5 % of ¥68,159,040 = 340,795.2
    ]
    invoice = w.invoice()
    assert (invoice.subtotal_jpy, invoice.tax_jpy) == (68_499_835, 6_849_983)


def _index(w, values: dict[date, int]) -> PriceIndex:
    index = PriceIndex(
        code="LME-CU-JPY", name_en="Copper", name_ja="銅", material_code="copper_scrap"
    )
    w.db.add(index)
    w.db.commit()
    for month, value in values.items():
        w.db.add(IndexValue(index_id=index.id, month=month, value_jpy_per_t=value))
    w.db.commit()
    return index


def _index_terms(w, index: PriceIndex, period: str) -> None:
    w.terms(
        price_kind="index",
        fixed_price_jpy_per_t=None,
        index_id=index.id,
        index_factor=Decimal("0.92"),
        premium_jpy_per_t=5_000,
        floor_jpy_per_t=900_000,
        cap_jpy_per_t=1_150_000,
        pricing_period=period,
    )


def test_an_index_price_of_the_delivery_month_is_held_up_by_its_floor(w):
    _index_terms(w, _index(w, {date(2026, 12, 1): 1_300_000, JAN: 900_000}), "delivery")
    w.open()
    w.delivered((100_000, 0))
    w.close_and_invoice()
    # 900,000 × 0.92 + 5,000 = 833,000 → the floor, 900,000.
    assert w.lines(w.invoice())[0] == ("base", 100_000, 900_000, 90_000_000)


def test_previous_month_pricing_uses_the_month_before_capped(w):
    _index_terms(w, _index(w, {date(2026, 12, 1): 1_300_000, JAN: 900_000}), "previous")
    w.open()
    w.delivered((100_000, 0))
    w.close_and_invoice()
    # December: 1,300,000 × 0.92 + 5,000 = 1,201,000 → the cap, 1,150,000.
    assert w.lines(w.invoice())[0] == ("base", 100_000, 1_150_000, 115_000_000)


def test_without_the_months_index_value_the_month_waits_and_a_later_run_invoices_it(w):
    index = _index(w, {date(2026, 12, 1): 1_000_000})  # January's value is not there yet
    _index_terms(w, index, "delivery")
    w.open()
    w.delivered((100_000, 0))
    assert w.close_and_invoice() == 0
    assert (w.obligation().status, w.count(Invoice)) == ("closed", 0)

    w.db.add(IndexValue(index_id=index.id, month=JAN, value_jpy_per_t=1_100_000))
    w.db.commit()
    assert issue_invoices(w.db, JAN, today=ISSUE_DAY) == 1
    w.db.commit()
    assert w.lines(w.invoice())[0] == ("base", 100_000, 1_017_000, 101_700_000)
    assert w.obligation().status == "invoiced"


def test_a_seller_without_a_registration_number_is_invoiced_but_not_qualified(db):
    w = World(db, registration_number="")
    w.open()
    w.delivered((100_000, 0))
    assert w.close_and_invoice() == 1
    invoice = w.invoice()
    assert invoice.seller_registration_number == ""
    assert read_invoice(db, w.buyer_inspector, invoice.id).qualified is False


# ----------------------------------------------------------------------------------------------
# Once only


def test_a_second_run_issues_nothing_and_numbers_follow_on(w):
    second = make_active_contract(w.db, w.seller, w.other, w.version)
    w.open()
    assert w.close_and_invoice() == 2
    assert issue_invoices(w.db, JAN, today=ISSUE_DAY) == 0
    w.db.commit()
    assert w.count(Invoice) == 2
    numbers = sorted(w.db.exec(select(Invoice.number)).all())
    assert numbers == ["JK-2027-000001", "JK-2027-000002"]
    assert [e.kind for e in events_of(w.db, second.id)].count("invoice.issued") == 1


def test_concurrent_runs_issue_one_invoice_per_obligation(app, w):
    """Two runs at once (on SQLite the second waits for the first's write lock)."""
    for _ in range(5):
        make_active_contract(w.db, w.seller, w.buyer, w.version)
    w.open()
    close_months(w.db, SYSTEM, ISSUE_DAY)
    w.db.commit()
    engine = app.extensions["junkan.engine"]
    issued: list[int] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        with Session(engine) as session:
            barrier.wait()
            issued.append(issue_invoices(session, JAN, today=ISSUE_DAY))
            session.commit()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(issued) == 6 and w.count(Invoice) == 6
    per_obligation = w.db.exec(
        select(Invoice.obligation_id, func.count()).group_by(Invoice.obligation_id)
    ).all()
    assert {n for _, n in per_obligation} == {1}
    assert len(set(w.db.exec(select(Invoice.number)).all())) == 6


def test_the_scheduler_job_invoices_the_month_given(w):
    w.open()
    close_months(w.db, SYSTEM, ISSUE_DAY)
    report = JOBS["issue_invoices"].run(w.db, SYSTEM, JobContext(today=ISSUE_DAY, month=JAN))
    w.db.commit()
    assert report.counts == {"month": "2027-01", "issued": 1}
    assert w.count(Invoice) == 1


# ----------------------------------------------------------------------------------------------
# Credit notes


def _record(w, cu: str = "93.5") -> Delivery:
    assay = make_copper_assay(w.db, w.seller, cu_pct=cu, uncertainty="0.2", lab="Seller Lab")
    data = DeliveryIn(
        contract_id=w.contract.id,
        delivered_on=date(2027, 1, 20),
        net_t="24.5",
        vehicle="品川 100 あ 12-34",
        assay_id=assay.id,
    )
    delivery = record_delivery(w.db, w.seller_trader, data, (), date(2027, 1, 25))
    w.db.commit()
    return delivery


def test_a_dispute_settled_after_invoicing_issues_one_credit_note_of_the_difference(w):
    w.open()
    w.delivered((60_000, 0))
    delivery = _record(w)  # 24.5 t graded −¥7,500/t
    dispute_delivery(w.db, w.buyer_inspector, delivery.id, DisputeIn(reason="Our assay is lower."))
    w.db.commit()
    w.close_and_invoice()
    invoice = w.invoice()
    # Billed without the disputed lot: 60 t, 20 t short of the 80 t minimum.
    assert w.lines(invoice) == [
        ("base", 60_000, 1_200_000, 72_000_000),
        ("shortfall", 20_000, 240_000, 4_800_000),
        ("fee", None, None, 384_000),
    ]

    buyers = make_copper_assay(w.db, w.buyer, cu_pct="93.3", uncertainty="0.2", lab="Buyer Lab")
    settle_delivery(w.db, w.buyer_inspector, delivery.id, SettleIn(buyer_assay_id=buyers.id))
    w.db.commit()
    # Settled at 93.4 % Cu: −¥9,000/t; 24.5 t now count (84.5 t: no shortfall).
    note = w.db.exec(select(Invoice).where(Invoice.kind == "credit_note")).one()
    assert (note.credits_invoice_id, note.obligation_id, note.delivery_id) == (
        invoice.id,
        None,
        delivery.id,
    )
    assert w.lines(note) == [
        ("base", 24_500, None, 29_400_000),
        ("quality", 24_500, None, -220_500),
        ("shortfall", -20_000, None, -4_800_000),
        ("fee", None, None, 121_897),  # 0.5 % of ¥101,179,500 = 505,897 − 384,000
    ]
    assert (note.subtotal_jpy, note.tax_jpy, note.total_jpy) == (24_501_397, 2_450_139, 26_951_536)
    assert note.number == "JK-2027-000002" and note.status == "issued"
    assert "credit_note.issued" in [e.kind for e in events_of(w.db, w.contract.id)]
    view = read_invoice(w.db, w.buyer_inspector, invoice.id)
    assert [n.id for n in view.credit_notes] == [note.id]


def test_a_deduction_on_tonnes_above_the_maximum_credits_the_buyer(w):
    w.terms(excess_price_pct=Decimal("0"))
    w.open()
    w.delivered((105_000, 0))  # the month is full: more tonnes are not bought
    delivery = _record(w)
    dispute_delivery(w.db, w.buyer_inspector, delivery.id, DisputeIn(reason="Our assay is lower."))
    w.db.commit()
    w.close_and_invoice()
    buyers = make_copper_assay(w.db, w.buyer, cu_pct="93.3", uncertainty="0.2", lab="Buyer Lab")
    settle_delivery(w.db, w.buyer_inspector, delivery.id, SettleIn(buyer_assay_id=buyers.id))
    w.db.commit()
    note = w.db.exec(select(Invoice).where(Invoice.kind == "credit_note")).one()
    assert w.lines(note) == [
        ("quality", 24_500, None, -220_500),
        ("fee", None, None, -1_103),  # the month's fee now 628,897 (of ¥125,779,500), was 630,000
    ]
    # The tax once on the credit note's lines: 10 % of −¥221,603 = −22,160.3, toward zero.
    assert (note.subtotal_jpy, note.tax_jpy, note.total_jpy) == (-221_603, -22_160, -243_763)


def test_a_late_acceptance_is_corrected_once_and_a_decision_before_invoicing_needs_none(w):
    w.open()
    early, late = _record(w, cu="96.1"), _record(w, cu="96.1")
    accept_delivery(w.db, w.buyer_inspector, early.id)
    w.db.commit()
    assert w.count(Invoice) == 0  # nothing invoiced yet: no credit note
    w.close_and_invoice()
    accept_delivery(w.db, w.buyer_inspector, late.id)
    w.db.commit()
    notes = w.db.exec(select(Invoice).where(Invoice.kind == "credit_note")).all()
    assert [n.delivery_id for n in notes] == [late.id]
    from contracts.invoicing import issue_credit_note

    assert issue_credit_note(w.db, SYSTEM, w.db.get(Delivery, late.id)) is None  # once only
    w.db.commit()
    assert w.count(Invoice) == 2


# ----------------------------------------------------------------------------------------------
# Reading


def test_only_the_parties_and_the_operator_read_an_invoice(w, db):
    w.open()
    w.close_and_invoice()
    invoice = w.invoice()
    assert read_invoice(db, w.seller_trader, invoice.id).invoice.id == invoice.id
    assert read_invoice(db, w.buyer_inspector, invoice.id).seller.id == w.seller.id
    assert read_invoice(db, SYSTEM, invoice.id).invoice.id == invoice.id
    with pytest.raises(NotFound):
        read_invoice(db, w.other_admin, invoice.id)
    assert db.exec(invoices_query(w.other_admin, InvoiceQuery())).all() == []
    mine = db.exec(invoices_query(w.buyer_inspector, InvoiceQuery(status="issued"))).all()
    assert [i.id for i in mine] == [invoice.id]
    assert db.exec(invoices_query(w.buyer_inspector, InvoiceQuery(status="paid"))).all() == []


# ----------------------------------------------------------------------------------------------
# Registration numbers


@pytest.mark.parametrize(
    "raw, expected",
    [
        (registration(7_000_001), registration(7_000_001)),
        (" t" + registration(7_000_001)[1:] + " ", registration(7_000_001)),
        ("Ｔ" + registration(7_000_001)[1:], registration(7_000_001)),  # full width
        ("", None),
    ],
)
def test_registration_numbers_are_t_and_a_13_digit_number_with_its_check_digit(raw, expected):
    assert check_registration_number(raw) == expected


@pytest.mark.parametrize(
    "raw, message",
    [
        ("1234567890123", "A registration number is T followed by 13 digits."),
        ("T123456789012", "A registration number is T followed by 13 digits."),
        ("X" + registration(7_000_001)[1:], "A registration number is T followed by 13 digits."),
        (
            "T" + str((int(registration(7_000_001)[1]) % 9) + 1) + registration(7_000_001)[2:],
            "The check digit of this registration number is wrong.",
        ),
    ],
)
def test_bad_registration_numbers_are_refused(raw, message):
    with pytest.raises(ValidationFailed) as err:
        check_registration_number(raw)
    assert (err.value.message, err.value.field) == (message, "qualified_invoice_number")


def test_an_admin_sets_the_registration_number_that_invoices_then_carry(w):
    with pytest.raises(PermissionDenied):
        set_registration_number(w.db, w.seller_trader, registration(7_000_002))
    set_registration_number(w.db, w.seller_admin, registration(7_000_002))
    w.db.commit()
    w.open()
    w.close_and_invoice()
    assert w.invoice().seller_registration_number == registration(7_000_002)
