"""Matching across Japan's border: e-scrap from abroad, delivered CIF a Japanese port (freight in
the price) or loaded FOB a foreign port (the buyer pays the sea freight to Japan from the rate
table and the domestic leg from the port of arrival); a critical cross-border pair is proposed
only when a valid movement record of either party covers it."""

from datetime import date
from decimal import Decimal

import pytest
from factories import as_actor, make_listing, make_member, make_org, make_request
from sqlmodel import select

from market.allocation import (
    SEA_FREIGHT_TO_JAPAN,
    DemandSide,
    SupplySide,
    TransportRates,
    candidate_edges,
    explain_edge,
    great_circle_km,
    nearest_japan_port,
)
from market.matching import candidates_for_request, proposal_out, proposals_for_org
from market.matching import run_market_allocation as run_allocation
from market.models import MovementRecord, Proposal
from participants.actors import SYSTEM
from quality.catalogue import latest_published, seed_catalogue

TODAY = date(2026, 11, 24)
MONTH = date(2027, 1, 1)
LAEM_CHABANG = (13.08, 100.88)
KOBE_PORT = (34.68, 135.20)
SMELTER = (34.45, 133.80)  # Kagawa coast, Seto Inland Sea


def test_the_sea_freight_table_gives_a_country_its_regions_rate_and_others_the_default():
    assert SEA_FREIGHT_TO_JAPAN.to_japan("DE") == 22_000
    assert SEA_FREIGHT_TO_JAPAN.to_japan("TH") == 10_000
    assert SEA_FREIGHT_TO_JAPAN.to_japan("KR") == 5_000
    assert SEA_FREIGHT_TO_JAPAN.to_japan("BR") == 30_000
    assert "indicative" in SEA_FREIGHT_TO_JAPAN.source


def _supply(**changes) -> SupplySide:
    values = dict(
        id=1,
        material="waste_pcb",
        grade_id=7,
        available_t=Decimal("40"),
        minimum_t=Decimal("20"),
        available_from=24324,
        max_term_months=12,
        lat=LAEM_CHABANG[0],
        lon=LAEM_CHABANG[1],
        ask_jpy_per_t=900_000,
        is_port=True,
        import_from="TH",
    )
    return SupplySide(**(values | changes))


DEMAND = DemandSide(
    id=1,
    material="waste_pcb",
    acceptable_grade_ids=frozenset({7}),
    need_t=Decimal("50"),
    start_month=24324,
    term_months=12,
    lat=SMELTER[0],
    lon=SMELTER[1],
    limit_jpy_per_t=1_000_000,
)


def test_a_listing_fob_a_thai_port_costs_the_sea_freight_plus_the_leg_from_the_nearest_port():
    rates = TransportRates()
    port, lat, lon = nearest_japan_port(*SMELTER)
    assert port == "Mizushima"
    km = great_circle_km(lat, lon, *SMELTER)
    domestic, _ = rates.cost_per_t(km)
    edges = candidate_edges([_supply()], [DEMAND], rates=rates)
    assert edges.transport_jpy.tolist() == [10_000 + domestic]
    assert edges.sea_leg().tolist() == [10_000]
    assert edges.unit_surplus_jpy.tolist() == [1_000_000 - 900_000 - 10_000 - domestic]
    assert round(float(edges.distance_km[0]), 3) == round(km, 3)
    # the explanation follows the same rule and names the sea leg
    e = explain_edge(_supply(), DEMAND, rates)
    assert e.transport_jpy_per_t == 10_000 + domestic and e.transport_mode == "sea"
    assert (e.sea_leg.origin_country, e.sea_leg.port, e.sea_leg.jpy_per_t) == (
        "TH",
        "Mizushima",
        10_000,
    )


def test_a_listing_cif_a_japanese_port_carries_no_sea_leg_only_the_road_from_the_port():
    cif_kobe = _supply(lat=KOBE_PORT[0], lon=KOBE_PORT[1], import_from=None)
    edges = candidate_edges([cif_kobe], [DEMAND])
    km = great_circle_km(*KOBE_PORT, *SMELTER)
    assert edges.transport_jpy.tolist() == [TransportRates().cost_per_t(km)[0]]
    assert edges.sea_leg().tolist() == [0]
    assert explain_edge(cif_kobe, DEMAND).sea_leg is None


def test_the_sea_freight_can_make_a_pair_unprofitable():
    # ¥1,000,000 limit, ¥992,000 ask: FOB Laem Chabang the ¥10,000 sea freight eats the
    # spread; the same ask CIF Mizushima (freight paid by the seller) leaves ¥7,788/t
    _, lat, lon = nearest_japan_port(*SMELTER)
    assert len(candidate_edges([_supply(ask_jpy_per_t=992_000)], [DEMAND])) == 0
    cif = _supply(ask_jpy_per_t=992_000, import_from=None, lat=lat, lon=lon)
    assert candidate_edges([cif], [DEMAND]).unit_surplus_jpy.tolist() == [7_788]


# ---------------------------------------------------------------------------------------------
# On the database: the movement record decides whether a cross-border pair is proposed


@pytest.fixture()
def hub(db):
    seed_catalogue(db)
    pcb = latest_published(db, "PCB-HIGH")[1].id
    rhein = make_org(
        db, country="DE", registry_id="Köln HRB 48213", corporate_number=None, prefecture=None
    )
    smelter = make_org(db, kind="manufacturer", prefecture="37", lat=SMELTER[0], lon=SMELTER[1])
    return {
        "db": db,
        "pcb": pcb,
        "rhein": rhein,
        "smelter": smelter,
        "seller": make_member(db, rhein, roles="trader"),
        "buyer": make_member(db, smelter, roles="trader"),
    }


def _record(db, org, **changes) -> MovementRecord:
    values = dict(
        organization_id=org.id,
        direction="import",
        material_code="waste_pcb",
        route="basel_act",
        reference="METI-BA-2026-0417",
        authorities="METI and MOE (JP); Bezirksregierung Köln (DE)",
        country_export="DE",
        countries_transit="NL",
        country_import="JP",
        valid_from=date(2026, 12, 1),
        valid_until=date(2027, 11, 30),
        consented_kg=600_000,
    )
    record = MovementRecord(**(values | changes))
    db.add(record)
    db.commit()
    return record


def _pcb_pair(h, listing_record=None, request_record=None, **listing_fields):
    db = h["db"]
    cif_kobe = dict(
        lat=KOBE_PORT[0],
        lon=KOBE_PORT[1],
        origin_port="Kobe",
        incoterm="CIF",
        incoterm_place="Kobe port",
        delivery_country="JP",
    )
    listing = make_listing(
        db,
        h["rhein"],
        h["pcb"],
        material_code="waste_pcb",
        monthly_kg=50_000,
        min_kg_per_contract=20_000,
        fixed_price_jpy_per_t=900_000,
        movement_record_id=listing_record.id if listing_record else None,
        **(cif_kobe | listing_fields),
    )
    request = make_request(
        db,
        h["smelter"],
        h["pcb"],
        material_code="waste_pcb",
        monthly_kg=40_000,
        start_month=date(2027, 1, 1),
        term_months=6,
        lat=SMELTER[0],
        lon=SMELTER[1],
        delivery_place="Smelter, Kagawa",
        max_price_jpy_per_t=1_000_000,
        movement_record_id=request_record.id if request_record else None,
    )
    return listing, request


def _proposed(db) -> list[tuple[int, int, int]]:
    run_allocation(db, SYSTEM, MONTH, today=TODAY)
    return [
        (p.listing_id, p.request_id, p.monthly_kg)
        for p in db.exec(select(Proposal).where(Proposal.status == "proposed")).all()
    ]


def test_a_cross_border_pcb_pair_without_a_record_is_not_proposed_nor_a_candidate(hub):
    db = hub["db"]
    listing, request = _pcb_pair(hub)
    assert _proposed(db) == []
    found = candidates_for_request(db, as_actor(db, hub["buyer"]), request.id, MONTH, today=TODAY)
    assert found.items == []


def test_the_smelters_import_consent_on_its_request_lets_the_pair_be_proposed(hub):
    db = hub["db"]
    consent = _record(db, hub["smelter"])
    listing, request = _pcb_pair(hub, request_record=consent)
    assert _proposed(db) == [(listing.id, request.id, 40_000)]
    row = proposals_for_org(db, as_actor(db, hub["buyer"]))[0]
    out = proposal_out(row)
    assert out.explanation.transport.sea_leg is None  # CIF Kobe: freight in the price
    assert out.explanation.transport.mode == "road"  # Kobe to the Kagawa coast by road


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"valid_until": date(2027, 3, 31)}, "expires before the overlap ends"),
        ({"consented_kg": 100_000}, "less than 20 t a month for six months"),
        ({"country_export": "FR"}, "covers another route"),
        ({"material_code": "copper_scrap"}, "another material"),
        ({"status": "withdrawn"}, "withdrawn"),
    ],
)
def test_a_record_that_does_not_cover_the_pair_keeps_it_out(hub, changes, why):
    db = hub["db"]
    consent = _record(db, hub["smelter"], **changes)
    _pcb_pair(hub, request_record=consent)
    assert _proposed(db) == [], why


def test_a_record_of_a_third_organisation_does_not_count(hub):
    db = hub["db"]
    stranger = make_org(db, kind="manufacturer")
    consent = _record(db, stranger)
    _pcb_pair(hub, request_record=consent)
    assert _proposed(db) == []


def test_a_listing_fob_hamburg_is_proposed_with_its_sea_leg_shown_to_both_sides(hub):
    db = hub["db"]
    consent = _record(db, hub["rhein"], reference="DE 053 004711")
    listing, request = _pcb_pair(
        hub,
        listing_record=consent,
        incoterm="FOB",
        incoterm_place="Hamburg",
        delivery_country="DE",
        lat=53.54,
        lon=9.98,
        origin_port="Hamburg",
    )
    assert _proposed(db) == [(listing.id, request.id, 40_000)]
    proposal = db.exec(select(Proposal)).one()
    port, lat, lon = nearest_japan_port(*SMELTER)
    domestic = TransportRates().cost_per_t(great_circle_km(lat, lon, *SMELTER))[0]
    assert proposal.transport_jpy_per_t == 22_000 + domestic
    for member in (hub["seller"], hub["buyer"]):
        row = proposals_for_org(db, as_actor(db, member))[0]
        leg = proposal_out(row).explanation.transport.sea_leg
        assert (leg.origin_country, leg.port, leg.jpy_per_t) == ("DE", "Mizushima", 22_000)


def test_a_domestic_pair_of_a_critical_material_needs_no_record(hub):
    db = hub["db"]
    japanese = make_org(db, kind="recycler", prefecture="27")
    listing = make_listing(
        db, japanese, hub["pcb"], material_code="waste_pcb", fixed_price_jpy_per_t=900_000
    )
    request = make_request(
        db,
        hub["smelter"],
        hub["pcb"],
        material_code="waste_pcb",
        start_month=date(2027, 1, 1),
        max_price_jpy_per_t=1_000_000,
    )
    assert _proposed(db) == [(listing.id, request.id, 60_000)]
