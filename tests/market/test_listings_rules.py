"""Listings and requests: validation, lifecycle, committed volume, index prices, search, alerts."""

from datetime import date
from decimal import Decimal

import pytest
from factories import make_member, make_org
from sqlmodel import func, select

from market.alerts import alert_matching_searches, save_search
from market.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from market.indices import CsvRowsInvalid, import_index_csv, price_for_month, set_index_value
from market.listings import (
    ListingInput,
    PriceInput,
    RequestInput,
    close_listing,
    commit_volume,
    create_listing,
    create_request,
    publish_listing,
    update_listing,
)
from market.models import IndexValue, Notification, PriceIndex, SupplyListing
from market.search import parse_listing_filters, search_listings
from quality.catalogue import latest_published, seed_catalogue

TODAY = date(2026, 11, 24)


@pytest.fixture()
def market(db):
    seed_catalogue(db)
    recycler = make_org(db, kind="recycler", prefecture="11")
    maker = make_org(db, kind="manufacturer", prefecture="27", lat=34.69, lon=135.52)
    operator = make_member(db, make_org(db, kind="operator"), roles="admin")
    index = PriceIndex(
        code="CU-SCRAP-JP",
        name_en="Copper scrap",
        name_ja="銅スクラップ",
        material_code="copper_scrap",
    )
    db.add(index)
    db.commit()
    _, birch = latest_published(db, "ISRI-BIRCH-CLIFF")
    _, eu_cu = latest_published(db, "EU-EOW-CU")
    _, alu = latest_published(db, "ISRI-TAINT-TABOR")
    return {
        "recycler": recycler,
        "maker": maker,
        "operator": operator,
        "index": index,
        "birch": birch,
        "eu_cu": eu_cu,
        "alu": alu,
    }


def listing_input(m, **changes) -> ListingInput:
    values = dict(
        material="copper_scrap",
        grade_version_id=m["birch"].id,
        monthly_t="120",
        min_t_per_contract="40",
        available_from="2027-01",
        max_term_months=24,
        origin_prefecture="11",
        incoterm="FCA",
        incoterm_place="Kawaguchi yard",
        price=PriceInput(
            kind="index",
            index_code="CU-SCRAP-JP",
            factor="0.92",
            premium_jpy_per_t=5000,
            floor_jpy_per_t=900000,
        ),
    )
    values.update(changes)
    return ListingInput(**values)


def count(db, model) -> int:
    return db.exec(select(func.count()).select_from(model)).one()


def test_listing_is_created_as_draft_with_kg_and_formula(db, market):
    listing = create_listing(db, market["recycler"].id, listing_input(market), TODAY)
    assert listing.status == "draft"
    assert (listing.monthly_kg, listing.min_kg_per_contract) == (120_000, 40_000)
    assert listing.index_factor == Decimal("0.92") and listing.floor_jpy_per_t == 900000
    assert listing.available_from == date(2027, 1, 1)
    assert listing.data_quality_level == 1  # declared composition only


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"monthly_t": "0"}, "monthly_t", "more than zero"),
        ({"monthly_t": "-5"}, "monthly_t", "more than zero"),
        ({"monthly_t": "12.0005"}, "monthly_t", "three decimals"),
        ({"monthly_t": "lots"}, "monthly_t", "number of tonnes"),
        ({"min_t_per_contract": "200"}, "min_t_per_contract", "exceeds the monthly volume"),
        ({"max_term_months": 0}, "max_term_months", "between 1 and 120"),
        ({"incoterm": "FOO"}, "incoterm", "Incoterms 2020"),
        ({"material": "gold"}, "material", "Unknown material"),
        ({"grade_version_id": 999999}, "grade", "Unknown grade"),
    ],
)
def test_bad_listing_input_is_refused_and_nothing_written(db, market, changes, field, message):
    with pytest.raises(ValidationFailed) as err:
        create_listing(db, market["recycler"].id, listing_input(market, **changes), TODAY)
    assert err.value.field == field and message in str(err.value)
    db.rollback()
    assert count(db, SupplyListing) == 0


def test_grade_of_another_material_is_refused(db, market):
    with pytest.raises(ValidationFailed, match="another material"):
        create_listing(
            db,
            market["recycler"].id,
            listing_input(market, grade_version_id=market["alu"].id),
            TODAY,
        )


@pytest.mark.parametrize(
    ("price", "field", "message"),
    [
        (PriceInput(kind="index", index_code="", factor="0.9"), "index", "needs a price index"),
        (
            PriceInput(
                kind="index",
                index_code="CU-SCRAP-JP",
                factor="0.9",
                floor_jpy_per_t=900000,
                cap_jpy_per_t=800000,
            ),
            "floor",
            "floor lies above the cap",
        ),
        (PriceInput(kind="fixed", fixed_jpy_per_t="-1"), "fixed_price", "more than zero"),
        (PriceInput(kind="index", index_code="NOPE", factor="0.9"), "index", "Unknown price index"),
    ],
)
def test_bad_price_formulas_are_refused(db, market, price, field, message):
    with pytest.raises(ValidationFailed) as err:
        create_listing(db, market["recycler"].id, listing_input(market, price=price), TODAY)
    assert err.value.field == field and message in str(err.value)


def test_only_verified_recyclers_list_supply(db, market):
    pending = make_org(db, kind="recycler", status="unverified")
    with pytest.raises(PermissionDenied, match="verified"):
        create_listing(db, pending.id, listing_input(market), TODAY)
    with pytest.raises(PermissionDenied, match="Only recyclers"):
        create_listing(db, market["maker"].id, listing_input(market), TODAY)


def test_closed_listing_cannot_be_edited_or_reopened(db, market):
    listing = create_listing(db, market["recycler"].id, listing_input(market), TODAY)
    publish_listing(db, market["recycler"].id, listing.id)
    close_listing(db, market["recycler"].id, listing.id)
    with pytest.raises(Conflict, match="cannot be edited"):
        update_listing(db, market["recycler"].id, listing.id, listing_input(market), TODAY)
    with pytest.raises(Conflict, match="Cannot move from closed to open"):
        publish_listing(db, market["recycler"].id, listing.id)
    with pytest.raises(NotFound):
        close_listing(db, market["maker"].id, listing.id)


def test_committed_volume_never_exceeds_the_listing(db, market):
    listing = create_listing(db, market["recycler"].id, listing_input(market), TODAY)
    publish_listing(db, market["recycler"].id, listing.id)
    db.commit()
    commit_volume(db, listing.id, 80_000)
    with pytest.raises(Conflict, match="Not enough volume"):
        commit_volume(db, listing.id, 40_001)
    commit_volume(db, listing.id, 40_000)
    db.commit()
    db.refresh(listing)
    assert listing.committed_kg == 120_000 and listing.available_kg == 0
    with pytest.raises(ValidationFailed, match="below the committed 120.000 t"):
        update_listing(
            db, market["recycler"].id, listing.id, listing_input(market, monthly_t="100"), TODAY
        )


def test_index_linked_price_uses_factor_premium_floor_and_latest_value(db, market):
    listing = create_listing(db, market["recycler"].id, listing_input(market), TODAY)
    set_index_value(db, market["operator"], "CU-SCRAP-JP", date(2026, 9, 1), 1_200_000)
    set_index_value(db, market["operator"], "CU-SCRAP-JP", date(2026, 10, 1), 950_000)
    assert price_for_month(db, listing, date(2026, 9, 1)) == 1_109_000  # 1.2M × 0.92 + 5,000
    assert price_for_month(db, listing, date(2026, 10, 1)) == 900_000  # 879,000 → floor
    assert price_for_month(db, listing, date(2026, 12, 1)) == 900_000  # latest value (Oct)
    assert price_for_month(db, listing, date(2026, 8, 1)) is None


def test_index_csv_import_is_all_or_nothing_with_row_errors(db, market):
    bad = "month,value\n2026-01,1000000\n2026-13,5\n2026-02,-3\n2026-01,1\n"
    with pytest.raises(CsvRowsInvalid) as err:
        import_index_csv(db, market["operator"], "CU-SCRAP-JP", bad)
    assert [(r["row"], r["field"]) for r in err.value.rows] == [
        (3, "month"),
        (4, "value"),
        (5, "month"),
    ]
    db.rollback()
    assert count(db, IndexValue) == 0
    saved = import_index_csv(
        db,
        market["operator"],
        "CU-SCRAP-JP",
        "2026-01,1000000\n2026-02,1,010,000\n".replace("1,010,000", '"1,010,000"'),
    )
    assert saved == 2
    non_operator = make_member(db, market["recycler"])
    with pytest.raises(PermissionDenied):
        import_index_csv(db, non_operator, "CU-SCRAP-JP", "2026-03,1")


def test_request_start_after_end_is_refused(db, market):
    data = RequestInput(
        material="copper_scrap",
        grade_version_id=market["birch"].id,
        monthly_t="300",
        start_month="2027-04",
        end_month="2027-01",
        delivery_prefecture="27",
        delivery_place="DAP Sakai works",
        price=PriceInput(kind="fixed", fixed_jpy_per_t=1_250_000),
    )
    with pytest.raises(ValidationFailed, match="start lies after the end"):
        create_request(db, market["maker"].id, data, TODAY)


def test_search_filters_sort_and_visibility(db, market):
    rid = market["recycler"].id
    a = create_listing(db, rid, listing_input(market, monthly_t="120"), TODAY)
    b = create_listing(
        db,
        rid,
        listing_input(
            market,
            monthly_t="300",
            origin_prefecture="40",
            price=PriceInput(kind="fixed", fixed_jpy_per_t=1_000_000),
        ),
        TODAY,
    )
    hidden = create_listing(
        db,
        rid,
        listing_input(market, visibility="invited", invited_org_ids=[market["recycler"].id]),
        TODAY,
    )
    for listing in (a, b, hidden):
        publish_listing(db, rid, listing.id)
    set_index_value(db, market["operator"], "CU-SCRAP-JP", date(2026, 11, 1), 1_200_000)
    db.commit()
    viewer = market["maker"].id
    page = search_listings(db, viewer, parse_listing_filters({"sort": "volume"}), today=TODAY)
    assert [r.listing.id for r in page.items] == [b.id, a.id]  # invited-only one is hidden
    page = search_listings(db, viewer, parse_listing_filters({"max_price": "1050000"}), today=TODAY)
    assert [r.listing.id for r in page.items] == [b.id]  # a costs 1,109,000 this month
    page = search_listings(
        db, viewer, parse_listing_filters({"near": "11", "radius_km": "100"}), today=TODAY
    )
    assert [r.listing.id for r in page.items] == [a.id]
    with pytest.raises(ValidationFailed, match="YYYY-MM"):
        parse_listing_filters({"price_month": "soon"})
    with pytest.raises(ValidationFailed):
        parse_listing_filters({"min_dq": "7"})


def test_saved_search_alerts_once_on_a_matching_new_listing(db, market):
    buyer = make_member(db, market["maker"])
    save_search(
        db,
        buyer,
        "listings",
        "Copper near Saitama",
        {"material": "copper_scrap", "near": "11", "radius_km": "150"},
    )
    save_search(db, buyer, "listings", "Aluminium", {"material": "aluminium_scrap"})
    listing = create_listing(db, market["recycler"].id, listing_input(market), TODAY)
    publish_listing(db, market["recycler"].id, listing.id)
    notes = alert_matching_searches(db, listing, today=TODAY)
    assert [n.member_id for n in notes] == [buyer.id]
    assert "Copper near Saitama" in notes[0].params
    assert alert_matching_searches(db, listing, today=TODAY) == []  # idempotent
    db.commit()
    assert count(db, Notification) == 1
