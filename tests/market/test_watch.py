"""The operator's export watch: anomalies on crafted data (a material declared as one thing
whose assay shows another; a critical listing far below its grade's market), flows leaving and
entering Japan, consents expiring, and the idempotent consent-expiry reminder job."""

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from factories import make_listing
from movement_factories import black_mass_listing, build, make_record
from sqlmodel import func, select

from contracts.drafting import DraftFromListingIn, draft_from_listing
from contracts.jobs import JOBS, JobContext
from contracts.models import Delivery, DeliveryObligation
from contracts.obligations import open_month
from contracts.signing import SignIn, sign_contract
from contracts.watch import anomalies as contract_anomalies
from contracts.watch import flows
from market.listings import publish_listing
from market.models import IndexValue, Notification, PriceIndex
from market.watch import anomalies, expiring_records
from participants.actors import SYSTEM
from participants.errors import PermissionDenied
from quality.models import Assay, AssayResult, GradeStandard, StandardVersion

TODAY = date(2027, 1, 10)


@pytest.fixture()
def w(db):
    return build(db)


def _assay(w, material: str, parameters: dict[str, str]) -> Assay:
    assay = Assay(
        organization_id=w.seller.id,
        lot_ref="LOT-1",
        material_code=material,
        lab_name="Lab",
        sampled_on=date(2026, 12, 1),
        reported_on=date(2026, 12, 3),
    )
    w.db.add(assay)
    w.db.flush()
    for code, value in parameters.items():
        w.db.add(AssayResult(assay_id=assay.id, parameter=code, value=Decimal(value)))
    w.db.commit()
    return assay


def _copper_listing(w, assay: Assay, **fields):
    return make_listing(
        w.db,
        w.seller,
        w.cu_version,
        material_code="copper_scrap",
        assay_id=assay.id,
        fixed_price_jpy_per_t=1_200_000,
        **fields,
    )


def _pcb_standard(w) -> None:
    """A published waste-PCB grade limiting precious metals (the catalogue ships none)."""
    standard = GradeStandard(
        code="PCB-TEST", material_code="waste_pcb", name_en="PCB", name_ja="基板"
    )
    w.db.add(standard)
    w.db.flush()
    spec = {
        "limits": [
            {"parameter": p, "kind": "min", "min": "100", "max": None, "action": "reject"}
            for p in ("au_gpt", "ag_gpt", "pd_gpt")
        ]
        + [{"parameter": "cu_pct", "kind": "min", "min": "10", "action": "reject"}],
        "requirements": [],
        "derived": [],
    }
    w.db.add(
        StandardVersion(
            standard_id=standard.id, number=1, status="published", spec_json=json.dumps(spec)
        )
    )
    w.db.commit()


def test_copper_scrap_whose_assay_carries_circuit_board_parameters_is_an_anomaly(w):
    _pcb_standard(w)
    assay = _assay(w, "copper_scrap", {"cu_pct": "30", "au_gpt": "250", "ag_gpt": "900"})
    listing = _copper_listing(w, assay)
    found = anomalies(w.db, w.actor("operator"), TODAY)
    assert [(a.kind, a.subject_id, a.declared, a.shown) for a in found] == [
        ("material_mismatch", listing.id, "copper_scrap", "waste_pcb")
    ]
    assert found[0].figures["parameters"] == ["ag_gpt", "au_gpt"]  # cu_pct is copper's own
    assert found[0].organization_id == w.seller.id


def test_copper_scrap_whose_assay_reports_cobalt_and_lithium_shows_black_mass(w):
    assay = _assay(w, "copper_scrap", {"cu_pct": "20", "co_pct": "8", "li_pct": "4"})
    _copper_listing(w, assay)
    found = anomalies(w.db, w.actor("operator"), TODAY)
    assert [(a.shown, a.figures["parameters"]) for a in found] == [
        ("li_ion_black_mass", ["co_pct", "li_pct"])
    ]


def test_an_assay_of_another_material_is_an_anomaly_and_a_clean_one_is_not(w):
    _copper_listing(w, _assay(w, "copper_scrap", {"cu_pct": "96"}))
    wrong = _copper_listing(w, _assay(w, "waste_pcb", {"cu_pct": "20"}))
    found = anomalies(w.db, w.actor("operator"), TODAY)
    assert [(a.subject_id, a.shown) for a in found] == [(wrong.id, "waste_pcb")]


def test_a_black_mass_listing_far_below_its_grades_market_is_flagged(w):
    for price in (900_000, 880_000, 920_000):
        black_mass_listing(w, status="open", delivery_country="JP", fixed_price_jpy_per_t=price)
    cheap = black_mass_listing(
        w, status="open", delivery_country="JP", fixed_price_jpy_per_t=500_000
    )
    found = anomalies(w.db, w.actor("operator"), TODAY)
    assert [(a.kind, a.subject_id) for a in found] == [("price_below_market", cheap.id)]
    assert found[0].figures["reference_jpy_per_t"] == 900_000  # median of the other three
    assert found[0].figures["share_pct"] == "55.6"
    # 55.6 percent of the market passes a 50 percent floor
    assert anomalies(w.db, w.actor("operator"), TODAY, floor_pct=50) == []


def test_alone_in_its_grade_a_listing_is_compared_with_its_materials_index(w):
    index = PriceIndex(code="BM-JP", name_en="BM", name_ja="BM", material_code="li_ion_black_mass")
    w.db.add(index)
    w.db.flush()
    w.db.add(IndexValue(index_id=index.id, month=date(2027, 1, 1), value_jpy_per_t=1_000_000))
    w.db.commit()
    alone = black_mass_listing(
        w, status="open", delivery_country="JP", fixed_price_jpy_per_t=690_000
    )
    found = anomalies(w.db, w.actor("operator"), TODAY)
    assert [(a.subject_id, a.figures["basis"]) for a in found] == [(alone.id, "index")]


def test_only_the_operator_runs_the_watch(w):
    for who in ("seller trader", "buyer trader"):
        with pytest.raises(PermissionDenied):
            anomalies(w.db, w.actor(who), TODAY)
        with pytest.raises(PermissionDenied):
            expiring_records(w.db, w.actor(who), TODAY, 90)
        with pytest.raises(PermissionDenied):
            flows(w.db, w.actor(who))


def _export_contract(w):
    record = make_record(w)
    listing = black_mass_listing(w, movement_record_id=record.id)
    publish_listing(w.db, w.actor("seller trader"), listing.id, TODAY)
    data = DraftFromListingIn(monthly_t=Decimal(40), start_month="2027-02", term_months=3)
    contract = draft_from_listing(w.db, w.actor("buyer trader"), listing.id, data)
    sign_contract(w.db, w.actor("buyer signatory"), contract.id, SignIn(version=1))
    sign_contract(w.db, w.actor("seller signatory"), contract.id, SignIn(version=1))
    w.db.commit()
    return contract


def test_flows_count_contracted_and_delivered_tonnes_by_material_country_and_month(w):
    contract = _export_contract(w)
    open_month(w.db, SYSTEM, date(2027, 2, 1))
    obligation = w.db.exec(select(DeliveryObligation)).one()
    for kg, status in ((25_000, "accepted"), (10_000, "settled"), (9_000, "rejected")):
        w.db.add(
            Delivery(
                contract_id=contract.id,
                obligation_id=obligation.id,
                delivered_on=date(2027, 2, 14),
                net_kg=kg,
                status=status,
            )
        )
    w.db.commit()
    rows = [
        (f.direction, f.material, f.country, f.month, f.contracted_kg, f.delivered_kg)
        for f in flows(w.db, w.actor("operator"))
    ]
    assert rows == [
        ("export", "li_ion_black_mass", "KR", date(2027, 2, 1), 40_000, 35_000),
        ("export", "li_ion_black_mass", "KR", date(2027, 3, 1), 40_000, 0),
        ("export", "li_ion_black_mass", "KR", date(2027, 4, 1), 40_000, 0),
    ]
    # the contract's price joins the market reference of its grade
    assert contract_anomalies(w.db, w.actor("operator"), TODAY) == []


def test_consents_expiring_within_30_and_90_days(w):
    soon = make_record(w, reference="SOON", valid_until=str(TODAY + timedelta(days=20)))
    later = make_record(w, reference="LATER", valid_until=str(TODAY + timedelta(days=60)))
    make_record(w, reference="FAR", valid_until=str(TODAY + timedelta(days=120)))
    operator = w.actor("operator")
    assert [r.id for r in expiring_records(w.db, operator, TODAY, 30)] == [soon.id]
    assert [r.id for r in expiring_records(w.db, operator, TODAY, 90)] == [soon.id, later.id]


def _notes(w) -> list[Notification]:
    w.db.expire_all()
    return list(w.db.exec(select(Notification).order_by(Notification.id)))


def _run(w, today: date):
    report = JOBS["remind_consent_expiry"].run(w.db, SYSTEM, JobContext(today=today))
    w.db.commit()
    return report


def test_the_reminder_job_notifies_at_90_and_30_days_once_each(w):
    record = make_record(w, valid_until="2027-06-30")
    day90 = date(2027, 6, 30) - timedelta(days=85)
    first = _run(w, day90)
    # the holder's trader (admins and traders) and the operator's member
    assert first.counts == {"notified": 2}
    notes = _notes(w)
    assert {n.member_id for n in notes} == {
        w.members["seller trader"].id,
        w.members["operator"].id,
    }
    assert {n.dedupe_key for n in notes} == {f"consent-expiry:{record.id}:90"}
    assert json.loads(notes[0].params)["days"] == 85
    assert _run(w, day90).counts == {"notified": 0}  # the same day again
    assert _run(w, day90 + timedelta(days=1)).counts == {"notified": 0}  # the next day
    thirty = _run(w, date(2027, 6, 30) - timedelta(days=30))
    assert thirty.counts == {"notified": 2}
    assert len(_notes(w)) == 4
    assert _run(w, date(2027, 7, 1)).counts == {"notified": 0}  # over


def test_the_reminder_job_skips_withdrawn_and_far_records(w):
    make_record(w, valid_until="2027-12-31")
    assert _run(w, date(2027, 6, 1)).counts == {"notified": 0}
    assert w.db.exec(select(func.count()).select_from(Notification)).one() == 0
