"""Listings and requests: typed input, lifecycle, committed volume, index prices, search, alerts,
and who may do what (checked by the domain with the acting member)."""

from datetime import date
from decimal import Decimal

import pytest
from factories import as_actor, make_member, make_org
from pydantic import ValidationError
from sqlmodel import func, select

from market.alerts import SavedSearchInput, alert_matching_searches, save_search
from market.indices import (
    CsvRowsInvalid,
    IndexValueInput,
    import_index_csv,
    price_for_month,
    set_index_value,
)
from market.listings import (
    ListingInput,
    ListingPatch,
    RequestInput,
    close_listing,
    commit_volume,
    create_listing,
    create_request,
    publish_listing,
    read_listing,
    update_listing,
)
from market.models import IndexValue, Notification, PriceIndex, SupplyListing
from market.search import SearchFilters, search_listings
from participants.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
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
        "seller": as_actor(db, make_member(db, recycler, roles="trader")),
        "maker": maker,
        "buyer": as_actor(db, make_member(db, maker, roles="trader")),
        "operator": as_actor(db, operator),
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
        price_kind="index",
        index="CU-SCRAP-JP",
        index_factor="0.92",
        premium_jpy_per_t=5000,
        floor_jpy_per_t=900000,
    )
    values.update(changes)
    return ListingInput.model_validate(values)


def count(db, model) -> int:
    return db.exec(select(func.count()).select_from(model)).one()


def test_listing_is_created_as_draft_with_kg_and_formula(db, market):
    listing = create_listing(db, market["seller"], listing_input(market), TODAY)
    assert listing.status == "draft"
    assert (listing.monthly_kg, listing.min_kg_per_contract) == (120_000, 40_000)
    assert listing.index_factor == Decimal("0.92") and listing.floor_jpy_per_t == 900000
    assert listing.available_from == date(2027, 1, 1)
    assert listing.expires_on == date(2027, 2, 1)  # by default the month three months on
    assert listing.data_quality_level == 1  # declared composition only


@pytest.mark.parametrize(
    ("changes", "field", "kind"),
    [
        ({"monthly_t": "-5"}, "monthly_t", "greater_than_equal"),
        ({"monthly_t": "12.0005"}, "monthly_t", "decimal_max_places"),
        ({"monthly_t": "lots"}, "monthly_t", "decimal_parsing"),
        ({"monthly_t": "NaN"}, "monthly_t", "decimal_parsing"),
        ({"max_term_months": 0}, "max_term_months", "greater_than_equal"),
        ({"incoterm": "FOO"}, "incoterm", "literal_error"),
        ({"available_from": "9999-12"}, "available_from", "month"),
        ({"premium_jpy_per_t": 10**19}, "premium_jpy_per_t", "less_than_equal"),
        ({"title": "Copper\x00"}, "title", "text_characters"),
        ({"title": "Copper \u202eparcs"}, "title", "text_characters"),
        ({"incoterm_place": "Yard\x07"}, "incoterm_place", "text_characters"),
        ({"lat": 91}, "lat", "less_than_equal"),
    ],
)
def test_odd_listing_input_is_refused_by_its_type(market, changes, field, kind):
    with pytest.raises(ValidationError) as err:
        listing_input(market, **changes)
    assert [(e["loc"][0], e["type"]) for e in err.value.errors()] == [(field, kind)]


@pytest.mark.parametrize("field", ["fixed_price_jpy_per_t", "grade_version_id", "lat"])
def test_true_is_not_the_number_one_in_json(market, field):
    body = listing_input(market).model_dump(mode="json")
    body[field] = True
    with pytest.raises(ValidationError) as err:
        ListingInput.model_validate(body, strict=True)
    assert err.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"monthly_t": "0"}, "monthly_t", "more than zero"),
        ({"min_t_per_contract": "200"}, "min_t_per_contract", "exceeds the monthly volume"),
        ({"material": "gold"}, "material", "Unknown material"),
        ({"grade_version_id": 999999}, "grade_version_id", "Unknown grade"),
        ({"origin_prefecture": None}, "origin_prefecture", "a prefecture or coordinates"),
        ({"lat": 35.0}, "lon", "both coordinates"),
    ],
)
def test_bad_listing_input_is_refused_and_nothing_written(db, market, changes, field, message):
    with pytest.raises(ValidationFailed) as err:
        create_listing(db, market["seller"], listing_input(market, **changes), TODAY)
    assert err.value.field == field and message in str(err.value)
    db.rollback()
    assert count(db, SupplyListing) == 0


def test_grade_of_another_material_is_refused(db, market):
    with pytest.raises(ValidationFailed, match="another material"):
        create_listing(
            db, market["seller"], listing_input(market, grade_version_id=market["alu"].id), TODAY
        )


@pytest.mark.parametrize(
    ("price", "field", "message"),
    [
        ({"index": None}, "index", "needs a price index"),
        (
            {"floor_jpy_per_t": 900000, "cap_jpy_per_t": 800000},
            "floor_jpy_per_t",
            "floor lies above the cap",
        ),
        ({"price_kind": "fixed"}, "fixed_price_jpy_per_t", "required"),
        ({"index": "NOPE"}, "index", "Unknown price index"),
        ({"index_factor": None}, "index_factor", "index factor"),
    ],
)
def test_bad_price_formulas_are_refused(db, market, price, field, message):
    with pytest.raises(ValidationFailed) as err:
        create_listing(db, market["seller"], listing_input(market, **price), TODAY)
    assert err.value.field == field and message in str(err.value)


def test_only_traders_and_admins_of_verified_recyclers_list_supply(db, market):
    # An unverified recycler drafts (its work is kept) but does not publish.
    pending = as_actor(db, make_member(db, make_org(db, kind="recycler", status="unverified")))
    draft = create_listing(db, pending, listing_input(market), TODAY)
    assert draft.status == "draft"
    with pytest.raises(PermissionDenied, match="Only members of verified organisations"):
        publish_listing(db, pending, draft.id, TODAY)
    db.rollback()
    suspended = as_actor(db, make_member(db, make_org(db, kind="recycler", status="suspended")))
    with pytest.raises(PermissionDenied, match="suspended"):
        create_listing(db, suspended, listing_input(market), TODAY)
    with pytest.raises(PermissionDenied, match="Only recyclers"):
        create_listing(db, market["buyer"], listing_input(market), TODAY)
    inspector = as_actor(db, make_member(db, market["recycler"], roles="inspector"))
    with pytest.raises(PermissionDenied, match="Only traders and administrators"):
        create_listing(db, inspector, listing_input(market), TODAY)
    assert count(db, SupplyListing) == 0


def test_closed_listing_cannot_be_edited_or_reopened(db, market):
    seller = market["seller"]
    listing = create_listing(db, seller, listing_input(market), TODAY)
    publish_listing(db, seller, listing.id, TODAY)
    close_listing(db, seller, listing.id)
    with pytest.raises(Conflict, match="cannot be edited"):
        update_listing(db, seller, listing.id, ListingPatch(title="x"), TODAY)
    with pytest.raises(Conflict, match="Cannot move from closed to open"):
        publish_listing(db, seller, listing.id, TODAY)
    rival = as_actor(db, make_member(db, make_org(db, kind="recycler")))
    with pytest.raises(NotFound):
        close_listing(db, rival, listing.id)


def test_patch_changes_only_the_fields_sent(db, market):
    seller = market["seller"]
    listing = create_listing(db, seller, listing_input(market, title="Birch"), TODAY)
    update_listing(db, seller, listing.id, ListingPatch(monthly_t="150.5"), TODAY)
    assert listing.monthly_kg == 150_500 and listing.version == 2
    assert (listing.title, listing.index_factor, listing.floor_jpy_per_t) == (
        "Birch",
        Decimal("0.92"),
        900000,
    )
    update_listing(
        db, seller, listing.id, ListingPatch(price_kind="fixed", fixed_price_jpy_per_t=990_000)
    )
    assert (listing.price_kind, listing.fixed_price_jpy_per_t, listing.index_id) == (
        "fixed",
        990_000,
        None,
    )
    with pytest.raises(ValidationFailed) as err:
        update_listing(db, seller, listing.id, ListingPatch(monthly_t=None), TODAY)
    assert (err.value.field, err.value.message) == ("monthly_t", "This field is required.")


def test_committed_volume_never_exceeds_the_listing(db, market):
    seller = market["seller"]
    listing = create_listing(db, seller, listing_input(market), TODAY)
    publish_listing(db, seller, listing.id, TODAY)
    db.commit()
    commit_volume(db, listing.id, 80_000)
    with pytest.raises(Conflict, match="Not enough volume"):
        commit_volume(db, listing.id, 40_001)
    commit_volume(db, listing.id, 40_000)
    db.commit()
    db.refresh(listing)
    assert listing.committed_kg == 120_000 and listing.available_kg == 0
    with pytest.raises(Conflict) as err:
        update_listing(db, seller, listing.id, ListingPatch(monthly_t="100"), TODAY)
    assert str(err.value) == (
        "The monthly volume cannot drop below the 120.000 t committed plus the 0.000 t"
        " offered in open proposals."
    )


def test_index_linked_price_uses_factor_premium_floor_and_latest_value(db, market):
    listing = create_listing(db, market["seller"], listing_input(market), TODAY)
    operator = market["operator"]
    for month, value in (("2026-09", 1_200_000), ("2026-10", 950_000)):
        set_index_value(
            db,
            operator,
            "CU-SCRAP-JP",
            IndexValueInput(month=month, value_jpy_per_t=value),
        )
    assert price_for_month(db, listing, date(2026, 9, 1)) == 1_109_000  # 1.2M × 0.92 + 5,000
    assert price_for_month(db, listing, date(2026, 10, 1)) == 900_000  # 879,000 → floor
    assert price_for_month(db, listing, date(2026, 12, 1)) == 900_000  # latest value (Oct)
    assert price_for_month(db, listing, date(2026, 8, 1)) is None


def test_index_csv_import_is_all_or_nothing_with_row_errors(db, market):
    operator = market["operator"]
    bad = "month,value\n2026-01,1000000\n2026-13,5\n2026-02,-3\n2026-01,1\n9999-12,5\n"
    with pytest.raises(CsvRowsInvalid) as err:
        import_index_csv(db, operator, "CU-SCRAP-JP", bad)
    assert [(r["row"], r["field"]) for r in err.value.rows] == [
        (3, "month"),
        (4, "value"),
        (5, "month"),
        (6, "month"),
    ]
    db.rollback()
    assert count(db, IndexValue) == 0
    saved = import_index_csv(db, operator, "CU-SCRAP-JP", '2026-01,1000000\n2026-02,"1,010,000"\n')
    assert saved == 2
    with pytest.raises(PermissionDenied, match="operator"):
        import_index_csv(db, market["seller"], "CU-SCRAP-JP", "2026-03,1")


def test_request_start_after_end_is_refused(db, market):
    data = RequestInput.model_validate(
        dict(
            material="copper_scrap",
            grade_version_id=market["birch"].id,
            monthly_t="300",
            start_month="2027-04",
            end_month="2027-01",
            delivery_prefecture="27",
            delivery_place="DAP Sakai works",
            max_price_jpy_per_t=1_250_000,
        )
    )
    with pytest.raises(ValidationFailed, match="start lies after the end"):
        create_request(db, market["buyer"], data, TODAY)


def _open(db, m, **changes) -> SupplyListing:
    listing = create_listing(db, m["seller"], listing_input(m, **changes), TODAY)
    publish_listing(db, m["seller"], listing.id, TODAY)
    return listing


def test_search_filters_sort_and_visibility(db, market):
    a = _open(db, market, monthly_t="120")
    b = _open(
        db,
        market,
        monthly_t="300",
        origin_prefecture="40",
        price_kind="fixed",
        fixed_price_jpy_per_t=1_000_000,
    )
    hidden = _open(db, market, visibility="invited", invited_org_ids=[market["recycler"].id])
    set_index_value(
        db,
        market["operator"],
        "CU-SCRAP-JP",
        IndexValueInput(month="2026-11", value_jpy_per_t=1_200_000),
    )
    db.commit()
    buyer = market["buyer"]

    def found(**filters) -> list[int]:
        page = search_listings(db, buyer, SearchFilters.model_validate(filters), today=TODAY)
        return [r.listing.id for r in page.items]

    assert found(sort="volume") == [b.id, a.id]  # the invited-only one is hidden
    assert found(max_price="1050000") == [b.id]  # a costs 1,109,000 this month
    assert found(near="11", radius_km="100") == [a.id]
    assert hidden.id in [
        r.listing.id
        for r in search_listings(db, market["seller"], SearchFilters(), today=TODAY).items
    ]
    for bad in ({"price_month": "soon"}, {"min_dq": "7"}, {"radius_km": "NaN", "near": "11"}):
        with pytest.raises(ValidationError):
            SearchFilters.model_validate(bad)
    with pytest.raises(ValidationFailed) as err:
        search_listings(db, buyer, SearchFilters(radius_km=50), today=TODAY)
    assert (err.value.field, err.value.message) == (
        "near",
        "Choose the place to measure the distance from.",
    )


def test_unverified_organisations_read_only_their_own_listings(db, market):
    listing = _open(db, market)
    db.commit()
    for status in ("unverified", "suspended"):
        outsider = as_actor(db, make_member(db, make_org(db, kind="manufacturer", status=status)))
        assert search_listings(db, outsider, SearchFilters(), today=TODAY).items == []
        with pytest.raises(NotFound):
            read_listing(db, outsider, listing.id)
    assert read_listing(db, market["buyer"], listing.id) is listing
    # the owner reads its own in any state, even once no longer verified
    market["recycler"].status = "unverified"
    db.add(market["recycler"])
    db.commit()
    demoted = as_actor(db, make_member(db, market["recycler"]))
    assert read_listing(db, demoted, listing.id) is listing
    assert [
        r.listing.id for r in search_listings(db, demoted, SearchFilters(), today=TODAY).items
    ] == [listing.id]


def test_saved_search_alerts_once_on_a_matching_new_listing(db, market):
    buyer = market["buyer"]
    save_search(
        db,
        buyer,
        SavedSearchInput.model_validate(
            {
                "target": "listings",
                "name": "Copper near Saitama",
                "query": {"material": "copper_scrap", "near": "11", "radius_km": "150"},
            }
        ),
    )
    save_search(
        db,
        buyer,
        SavedSearchInput(
            target="listings", name="Aluminium", query=SearchFilters(material="aluminium_scrap")
        ),
    )
    pending = as_actor(db, make_member(db, make_org(db, kind="manufacturer", status="unverified")))
    with pytest.raises(PermissionDenied, match="Only members of verified organisations"):
        save_search(db, pending, SavedSearchInput(target="listings", name="All"))
    listing = create_listing(db, market["seller"], listing_input(market), TODAY)
    publication = publish_listing(db, market["seller"], listing.id, TODAY)
    notes = publication.notifications
    assert [n.member_id for n in notes] == [buyer.member_id]
    assert "Copper near Saitama" in notes[0].params
    assert alert_matching_searches(db, listing, today=TODAY) == []  # idempotent
    db.commit()
    assert count(db, Notification) == 1


def test_a_member_of_an_organisation_no_longer_verified_gets_no_alert(db, market):
    buyer = market["buyer"]
    save_search(db, buyer, SavedSearchInput(target="listings", name="All copper"))
    market["maker"].status = "suspended"
    db.add(market["maker"])
    db.commit()
    listing = create_listing(db, market["seller"], listing_input(market), TODAY)
    assert publish_listing(db, market["seller"], listing.id, TODAY).notifications == []
