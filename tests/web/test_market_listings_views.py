"""HTML pages of supply listings, offtake requests, search, saved searches and alerts."""

from datetime import date

import pytest
from factories import as_actor, login, make_member, make_org
from sqlalchemy import event
from sqlmodel import func, select

from market.listings import ListingInput, create_listing, publish_listing
from market.models import (
    IndexValue,
    Notification,
    OfftakeRequest,
    PriceIndex,
    SavedSearch,
    SupplyListing,
)
from quality.catalogue import get_version, seed_catalogue


@pytest.fixture()
def market(db):
    seed_catalogue(db)
    index = PriceIndex(
        code="CU-SCRAP-JP",
        name_en="Copper scrap",
        name_ja="銅スクラップ",
        material_code="copper_scrap",
    )
    db.add(index)
    db.commit()
    db.add(IndexValue(index_id=index.id, month=date(2026, 1, 1), value_jpy_per_t=1_000_000))
    db.commit()
    recycler = make_org(db, kind="recycler", prefecture="11", name_en="Sai Copper")
    maker = make_org(db, kind="manufacturer", prefecture="27", name_en="Osaka Wire")
    _, birch = get_version(db, "ISRI-BIRCH-CLIFF", 1)
    _, heavy = get_version(db, "JP-FE-H2", 1)
    return {
        "recycler": make_member(db, recycler),
        "maker": make_member(db, maker),
        "recycler_org": recycler,
        "maker_org": maker,
        "birch": birch.id,
        "ferrous_grade": heavy.id,
    }


def listing_form(m: dict, **changes) -> dict:
    form = {
        "title": "No.2 copper, Birch/Cliff",
        "material": "copper_scrap",
        "grade_version_id": str(m["birch"]),
        "monthly_t": "120",
        "min_t_per_contract": "20",
        "available_from": "2026-12",
        "max_term_months": "24",
        "origin_prefecture": "11",
        "incoterm": "FCA",
        "incoterm_place": "Saitama yard",
        "price_kind": "index",
        "index": "CU-SCRAP-JP",
        "index_factor": "0.92",
        "premium_jpy_per_t": "5000",
        "floor_jpy_per_t": "900000",
        "cap_jpy_per_t": "",
        "visibility": "public",
    }
    form.update(changes)
    return form


def request_form(m: dict, **changes) -> dict:
    form = {
        "material": "copper_scrap",
        "grade_version_id": str(m["birch"]),
        "accept_stricter": "y",
        "monthly_t": "300",
        "start_month": "2027-01",
        "term_months": "36",
        "delivery_prefecture": "27",
        "delivery_place": "Osaka plant",
        "price_kind": "fixed",
        "max_price_jpy_per_t": "1234567",
        "mandate": "",
    }
    form.update(changes)
    return form


def count(db, model) -> int:
    return db.exec(select(func.count()).select_from(model)).one()


FIXED = {"price_kind": "fixed", "fixed_price_jpy_per_t": 1_000_000}


def open_listing(db, m: dict, seller=None, **changes) -> SupplyListing:
    data = ListingInput.model_validate(
        {
            "material": "copper_scrap",
            "grade_version_id": m["birch"],
            "monthly_t": "100",
            "min_t_per_contract": "10",
            "available_from": "2026-12",
            "max_term_months": 12,
            "origin_prefecture": "11",
            "incoterm": "FCA",
            "incoterm_place": "Yard",
            **FIXED,
            **changes,
        }
    )
    actor = as_actor(db, seller or m["recycler"])
    listing = create_listing(db, actor, data, date.today())
    publish_listing(db, actor, listing.id)
    db.commit()
    return listing


def test_recycler_creates_publishes_and_closes_a_listing_through_the_pages(client, db, market):
    login(client, market["recycler"].email)
    page = client.get("/listings/new")
    assert page.status_code == 200 and '<optgroup label="Copper scrap">' in page.get_data(
        as_text=True
    )
    r = client.post("/listings/new", data=listing_form(market))
    assert r.status_code == 302, r.get_data(as_text=True)
    listing = db.exec(select(SupplyListing)).one()
    assert listing.monthly_kg == 120_000 and listing.status == "draft"
    detail = client.get(f"/listings/{listing.id}").get_data(as_text=True)
    assert "CU-SCRAP-JP × 0.92 + ¥5,000/t, floor ¥900,000/t" in detail
    assert "¥925,000" in detail  # 0.92 × ¥1,000,000 + ¥5,000 for this month
    client.post(f"/listings/{listing.id}/publish")
    db.refresh(listing)
    assert listing.status == "open"
    edit = client.get(f"/listings/{listing.id}/edit").get_data(as_text=True)
    assert 'value="120.000"' in edit
    r = client.post(f"/listings/{listing.id}/edit", data=listing_form(market, monthly_t="130.5"))
    assert r.status_code == 302
    db.refresh(listing)
    assert listing.monthly_kg == 130_500
    client.post(f"/listings/{listing.id}/close")
    db.refresh(listing)
    assert listing.status == "closed"
    mine = client.get("/listings/mine").get_data(as_text=True)
    assert "Closed" in mine and "130.5" in mine


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"monthly_t": "0"}, "The volume must be more than zero."),
        ({"monthly_t": "-3"}, "The value must be at least 0."),
        ({"monthly_t": "NaN"}, "Enter a number."),
        (
            {"grade_version_id": "ferrous"},
            "This grade is a grade of Ferrous scrap. Choose a grade of Copper scrap.",
        ),
        ({"floor_jpy_per_t": "950000", "cap_jpy_per_t": "900000"}, "The floor lies above the cap."),
        ({"premium_jpy_per_t": "10000000000000000000"}, "The value must be at most 100000000."),
        ({"available_from": "9999-12"}, "Enter a month as YYYY-MM."),
        ({"title": "Copper\u202e"}, "Remove control or text-direction characters from the text."),
        ({"index": ""}, "An index formula needs a price index."),
        ({"available_from": ""}, "This field is required."),
    ],
)
def test_bad_listing_form_shows_the_error_and_writes_nothing(client, db, market, changes, message):
    if changes.get("grade_version_id") == "ferrous":
        changes = {"grade_version_id": str(market["ferrous_grade"])}
    login(client, market["recycler"].email)
    r = client.post("/listings/new", data=listing_form(market, **changes))
    assert r.status_code == 422
    assert message in r.get_data(as_text=True)
    assert count(db, SupplyListing) == 0


def test_manufacturer_cannot_create_a_listing(client, db, market):
    login(client, market["maker"].email)
    r = client.post("/listings/new", data=listing_form(market))
    assert r.status_code == 403
    assert "Only recyclers publish supply listings." in r.get_data(as_text=True)
    assert count(db, SupplyListing) == 0


def test_another_organisation_cannot_edit_or_close_a_listing(client, db, market):
    listing = open_listing(db, market)
    rival = make_member(db, make_org(db, kind="recycler"))
    login(client, rival.email)
    assert client.get(f"/listings/{listing.id}/edit").status_code == 404
    assert client.post(f"/listings/{listing.id}/edit", data=listing_form(market)).status_code == 404
    assert client.post(f"/listings/{listing.id}/close").status_code == 404
    assert client.post(f"/listings/{listing.id}/publish").status_code == 404
    db.refresh(listing)
    assert listing.status == "open" and listing.monthly_kg == 100_000


def test_invited_only_listing_is_hidden_from_organisations_not_invited(client, db, market):
    listing = open_listing(
        db,
        market,
        visibility="invited",
        invited_org_ids=[market["maker_org"].id],
        title="Secret lot",
    )
    outsider = make_member(db, make_org(db, kind="manufacturer"))
    login(client, outsider.email)
    assert client.get(f"/listings/{listing.id}").status_code == 404
    assert "Secret lot" not in client.get("/listings").get_data(as_text=True)
    client.post("/logout")
    login(client, market["maker"].email)
    assert client.get(f"/listings/{listing.id}").status_code == 200
    assert "Secret lot" in client.get("/listings").get_data(as_text=True)


def test_request_pages_hide_the_ceiling_from_other_organisations(client, db, market):
    login(client, market["maker"].email)
    r = client.post("/requests/new", data=request_form(market))
    assert r.status_code == 302, r.get_data(as_text=True)
    item = db.exec(select(OfftakeRequest)).one()
    assert item.monthly_kg == 300_000 and item.max_price_jpy_per_t == 1_234_567
    client.post(f"/requests/{item.id}/publish")
    assert "¥1,234,567" in client.get(f"/requests/{item.id}").get_data(as_text=True)
    client.post("/logout")
    login(client, market["recycler"].email)
    detail = client.get(f"/requests/{item.id}")
    assert detail.status_code == 200 and "1,234,567" not in detail.get_data(as_text=True)
    search = client.get("/requests").get_data(as_text=True)
    assert "Osaka plant" in search and "1,234,567" not in search


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"monthly_t": "0"}, "The volume must be more than zero."),
        ({"start_month": "2027-13"}, "Enter a month as YYYY-MM."),
        ({"term_months": "0"}, "The value must be at least 1."),
        (
            {"price_kind": "index", "max_price_jpy_per_t": ""},
            "An index formula needs a price index.",
        ),
        (
            {"delivery_place": "Osaka\x00"},
            "Remove control or text-direction characters from the text.",
        ),
    ],
)
def test_bad_request_form_shows_the_error_and_writes_nothing(client, db, market, changes, message):
    login(client, market["maker"].email)
    r = client.post("/requests/new", data=request_form(market, **changes))
    assert r.status_code == 422
    assert message in r.get_data(as_text=True)
    assert count(db, OfftakeRequest) == 0


def test_search_page_filters_sorts_and_pages(client, db, market):
    for price, tonnes in ((1_100_000, "50"), (800_000, "70"), (950_000, "90")):
        open_listing(db, market, monthly_t=tonnes, fixed_price_jpy_per_t=price)
    osaka_seller = make_member(db, make_org(db, kind="recycler", prefecture="27"))
    open_listing(db, market, seller=osaka_seller, origin_prefecture="27", monthly_t="10")
    login(client, market["maker"].email)
    page = client.get("/listings?sort=price&per_page=2").get_data(as_text=True)
    assert page.index("¥800,000") < page.index("¥950,000")
    assert "¥1,100,000" not in page and "Page 1 of 2" in page
    page2 = client.get("/listings?sort=price&per_page=2&page=2").get_data(as_text=True)
    assert "¥1,100,000" in page2
    saitama = client.get("/listings?prefecture=11").get_data(as_text=True)
    assert "3 listings found." in saitama
    near = client.get("/listings?near=27&radius_km=50&sort=distance").get_data(as_text=True)
    assert "1 listings found." in near
    bad = client.get("/listings?near=27&radius_km=-1")
    assert bad.status_code == 400 and "The value must be at least 0." in bad.get_data(as_text=True)


def test_saved_search_from_the_search_page_alerts_in_the_nav(client, db, market):
    login(client, market["maker"].email)
    r = client.post(
        "/saved-searches",
        data={"target": "listings", "query": "grade=ISRI-BIRCH-CLIFF", "name": "Birch"},
    )
    assert r.status_code == 302
    saved = db.exec(select(SavedSearch)).one()
    assert saved.name == "Birch"
    assert "Birch" in client.get("/saved-searches").get_data(as_text=True)
    client.post("/logout")
    login(client, market["recycler"].email)
    r = client.post("/listings/new", data=listing_form(market))
    listing = db.exec(select(SupplyListing)).one()
    client.post(f"/listings/{listing.id}/publish")
    assert count(db, Notification) == 1
    client.post("/logout")
    login(client, market["maker"].email)
    home = client.get("/notifications").get_data(as_text=True)
    assert f"Supply listing #{listing.id}" in home
    assert "matches your saved search “Birch”." in home
    assert '<span class="badge">1</span>' in home
    note = db.exec(select(Notification)).one()
    r = client.post(f"/notifications/{note.id}/read")
    assert r.headers["Location"].endswith(f"/listings/{listing.id}")
    assert 'class="badge"' not in client.get("/notifications").get_data(as_text=True)
    client.post(f"/saved-searches/{saved.id}/delete")
    assert count(db, SavedSearch) == 0


def test_search_page_in_japanese(client, db, market):
    open_listing(db, market)
    market["maker"].locale = "ja"
    db.add(market["maker"])
    db.commit()
    login(client, market["maker"].email)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ja"
    page = client.get("/listings").get_data(as_text=True)
    assert "供給リスティング" in page and "銅スクラップ" in page


def _statements_for(client, app, url: str) -> int:
    engine = app.extensions["junkan.engine"]
    seen: list[str] = []

    def _count(conn, cursor, statement, *args) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", _count)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", _count)
    return len(seen)


def test_search_page_query_count_does_not_grow_with_rows(app, client, db, market):
    index_price = {"price_kind": "index", "index": "CU-SCRAP-JP", "index_factor": "0.9"}
    fixed_price = {"price_kind": "fixed", "fixed_price_jpy_per_t": 900_000}
    for i in range(3):
        open_listing(db, market, **(index_price if i % 2 else fixed_price))
    login(client, market["maker"].email)
    few = _statements_for(client, app, "/listings?per_page=50")
    for i in range(27):
        open_listing(db, market, **(index_price if i % 2 else fixed_price))
    many = _statements_for(client, app, "/listings?per_page=50")
    assert count(db, SupplyListing) == 30
    assert few == many
    few_mine = None
    client.post("/logout")
    login(client, market["recycler"].email)
    few_mine = _statements_for(client, app, "/listings/mine?per_page=5")
    assert few_mine == _statements_for(client, app, "/listings/mine?per_page=50")


def test_the_edit_page_changes_only_the_fields_it_shows(client, db, api_token, market):
    headers = api_token(market["recycler"].email)
    body = {
        "material": "copper_scrap",
        "grade_version_id": market["birch"],
        "monthly_t": "120",
        "min_t_per_contract": "20",
        "available_from": "2026-12",
        "max_term_months": 24,
        "origin_prefecture": "11",
        "lat": 35.80,
        "lon": 139.72,
        "incoterm_place": "Saitama yard",
        "fixed_price_jpy_per_t": 1_000_000,
    }
    r = client.post("/api/v1/listings", json=body, headers=headers)
    assert r.status_code == 201, r.get_json()
    listing_id = r.get_json()["id"]
    login(client, market["recycler"].email)
    form = listing_form(market, price_kind="fixed", fixed_price_jpy_per_t="990000", index="")
    r = client.post(f"/listings/{listing_id}/edit", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)
    db.expire_all()
    listing = db.get(SupplyListing, listing_id)
    assert (listing.lat, listing.lon) == (35.80, 139.72)  # the page has no coordinates
    assert (listing.fixed_price_jpy_per_t, listing.title) == (990_000, "No.2 copper, Birch/Cliff")
