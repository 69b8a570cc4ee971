"""JSON API of listings, requests, indices, saved searches and notifications."""

from datetime import date
from pathlib import Path

import pytest
from factories import login, make_member, make_org
from sqlmodel import func, select

from market.models import IndexValue, Notification, OfftakeRequest, PriceIndex, SupplyListing
from participants.actors import UNVERIFIED_MESSAGE
from quality.catalogue import get_version, seed_catalogue


@pytest.fixture()
def market(db):
    """Catalogue, a copper index, a Saitama recycler, an Osaka manufacturer, an operator."""
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
    operator = make_org(db, kind="operator", prefecture="13", name_en="Junkan Ops")
    _, birch = get_version(db, "ISRI-BIRCH-CLIFF", 1)
    _, heavy = get_version(db, "JP-FE-H2", 1)
    return {
        "recycler": make_member(db, recycler),
        "maker": make_member(db, maker),
        "operator": make_member(db, operator),
        "recycler_org": recycler,
        "maker_org": maker,
        "birch": birch.id,
        "ferrous_grade": heavy.id,
    }


def listing_body(m: dict, **changes) -> dict:
    body = {
        "material": "copper_scrap",
        "grade_version_id": m["birch"],
        "monthly_t": "120",
        "min_t_per_contract": "20",
        "available_from": "2026-12",
        "max_term_months": 24,
        "origin_prefecture": "11",
        "incoterm": "FCA",
        "incoterm_place": "Saitama yard",
        "price_kind": "index",
        "index": "CU-SCRAP-JP",
        "index_factor": "0.92",
        "premium_jpy_per_t": 5000,
        "floor_jpy_per_t": 900000,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def request_body(m: dict, **changes) -> dict:
    body = {
        "material": "copper_scrap",
        "grade_version_id": m["birch"],
        "monthly_t": "300",
        "start_month": "2027-01",
        "term_months": 36,
        "delivery_prefecture": "27",
        "delivery_place": "Osaka plant",
        "price_kind": "fixed",
        "max_price_jpy_per_t": 1_000_000,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


PRICE_FIELDS = (
    "price_kind",
    "fixed_price_jpy_per_t",
    "index",
    "index_factor",
    "premium_jpy_per_t",
    "floor_jpy_per_t",
    "cap_jpy_per_t",
)
CEILING_FIELDS = (
    "price_kind",
    "max_price_jpy_per_t",
    "index",
    "index_factor",
    "premium_jpy_per_t",
)


def count(db, model) -> int:
    return db.exec(select(func.count()).select_from(model)).one()


def test_recycler_creates_publishes_and_closes_a_listing(client, db, api_token, market):
    headers = api_token(market["recycler"].email)
    r = client.post("/api/v1/listings", json=listing_body(market), headers=headers)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["status"] == "draft"
    assert body["monthly_t"] == "120.000" and body["min_t_per_contract"] == "20.000"
    assert body["available_from"] == "2026-12"
    assert (body["grade_code"], body["grade_version"]) == ("ISRI-BIRCH-CLIFF", 1)
    assert body["grade_version_id"] == market["birch"]
    price = {k: body[k] for k in PRICE_FIELDS}
    assert price == {
        "price_kind": "index",
        "fixed_price_jpy_per_t": None,
        "index": "CU-SCRAP-JP",
        "index_factor": "0.92",
        "premium_jpy_per_t": 5000,
        "floor_jpy_per_t": 900000,
        "cap_jpy_per_t": None,
    }
    listing_id = body["id"]
    maker_headers = api_token(market["maker"].email)
    assert client.get(f"/api/v1/listings/{listing_id}", headers=maker_headers).status_code == 404

    r = client.post(f"/api/v1/listings/{listing_id}/publish", headers=headers)
    assert r.status_code == 200 and r.get_json()["status"] == "open"
    seen = client.get(f"/api/v1/listings/{listing_id}", headers=maker_headers).get_json()
    assert seen["status"] == "open" and seen["invited_org_ids"] is None

    r = client.patch(f"/api/v1/listings/{listing_id}", json={"monthly_t": "150.5"}, headers=headers)
    assert r.status_code == 200 and r.get_json()["monthly_t"] == "150.500"
    assert r.get_json()["index"] == "CU-SCRAP-JP"  # untouched fields are kept
    assert r.get_json()["version"] == 3  # created 1, published 2, changed 3

    assert client.post(f"/api/v1/listings/{listing_id}/close", headers=headers).status_code == 200
    r = client.patch(f"/api/v1/listings/{listing_id}", json={"monthly_t": "10"}, headers=headers)
    assert r.status_code == 409
    assert r.get_json()["errors"][0]["message"] == "A closed or expired listing cannot be edited."
    db.expire_all()
    assert db.get(SupplyListing, listing_id).monthly_kg == 150_500


BAD_LISTINGS = [
    ({"monthly_t": "0"}, "monthly_t", "The volume must be more than zero."),
    ({"monthly_t": "-5"}, "monthly_t", "The value must be at least 0."),
    ({"min_t_per_contract": "-1"}, "min_t_per_contract", "The value must be at least 0."),
    ({"min_t_per_contract": "0"}, "min_t_per_contract", "The volume must be more than zero."),
    ({"monthly_t": "abc"}, "monthly_t", "Enter a number."),
    (
        {"grade_version_id": 999999},
        "grade_version_id",
        "Unknown grade, or not a published version.",
    ),
    ("ferrous", "grade_version_id", "This grade belongs to another material."),
    (
        {"floor_jpy_per_t": 950000, "cap_jpy_per_t": 900000},
        "floor_jpy_per_t",
        "The floor lies above the cap.",
    ),
    ({"index": ...}, "index", "An index formula needs a price index."),
    ({"available_from": "next month"}, "available_from", "Enter a month as YYYY-MM."),
    ({"incoterm": "XYZ"}, "incoterm", "Choose one of the allowed values."),
    ({"available_from": "9999-12"}, "available_from", "Enter a month as YYYY-MM."),
    ({"premium_jpy_per_t": 10**19}, "premium_jpy_per_t", "The value must be at most 100000000."),
    ({"fixed_price_jpy_per_t": True}, "fixed_price_jpy_per_t", "Enter a whole number."),
    ({"max_term_months": True}, "max_term_months", "Enter a whole number."),
    ({"grade_version_id": True}, "grade_version_id", "Enter a whole number."),
    ({"max_term_months": "24"}, "max_term_months", "Enter a whole number."),
    ({"lat": True, "lon": 139.6}, "lat", "Enter a whole number."),
    (
        {"title": "No.2 copper\u0000"},
        "title",
        "Remove control or text-direction characters from the text.",
    ),
    (
        {"title": "Copper \u202eparcs"},
        "title",
        "Remove control or text-direction characters from the text.",
    ),
    (
        {"incoterm_place": "Yard\u0007"},
        "incoterm_place",
        "Remove control or text-direction characters from the text.",
    ),
    ({"colour": "red"}, "colour", "Unknown field."),
]


@pytest.mark.parametrize(("changes", "field", "message"), BAD_LISTINGS)
def test_bad_listing_is_refused_with_its_field_and_nothing_written(
    client, db, api_token, market, changes, field, message
):
    if changes == "ferrous":
        changes = {"grade_version_id": market["ferrous_grade"]}
    headers = api_token(market["recycler"].email)
    r = client.post("/api/v1/listings", json=listing_body(market, **changes), headers=headers)
    assert r.status_code == 422
    assert r.content_type == "application/problem+json"
    assert {"field": field, "message": message} in r.get_json()["errors"]
    assert count(db, SupplyListing) == 0


def test_bad_patch_changes_nothing(client, db, api_token, market):
    headers = api_token(market["recycler"].email)
    listing_id = client.post(
        "/api/v1/listings", json=listing_body(market), headers=headers
    ).get_json()["id"]
    r = client.patch(f"/api/v1/listings/{listing_id}", json={"monthly_t": "0"}, headers=headers)
    assert r.status_code == 422
    assert r.get_json()["errors"] == [
        {"field": "monthly_t", "message": "The volume must be more than zero."}
    ]
    r = client.patch(
        f"/api/v1/listings/{listing_id}",
        json={"monthly_t": "1", "title": "\u202e"},
        headers=headers,
    )
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "title"
    r = client.patch(f"/api/v1/listings/{listing_id}", json={"monthly_t": None}, headers=headers)
    assert r.get_json()["errors"] == [{"field": "monthly_t", "message": "This field is required."}]
    db.expire_all()
    listing = db.get(SupplyListing, listing_id)
    assert listing.monthly_kg == 120_000 and listing.version == 1


def test_only_verified_recyclers_list_supply(client, db, api_token, market):
    # An unverified recycler drafts (nothing typed is lost) but does not publish.
    pending = api_token(make_member(db, make_org(db, kind="recycler", status="unverified")).email)
    r = client.post("/api/v1/listings", json=listing_body(market), headers=pending)
    assert r.status_code == 201 and r.get_json()["status"] == "draft"
    r = client.post(f"/api/v1/listings/{r.get_json()['id']}/publish", headers=pending)
    assert r.status_code == 403
    assert r.get_json()["errors"][0]["message"] == UNVERIFIED_MESSAGE
    r = client.post(
        "/api/v1/listings", json=listing_body(market), headers=api_token(market["maker"].email)
    )
    assert r.status_code == 403
    assert r.get_json()["errors"][0]["message"] == "Only recyclers publish supply listings."
    assert [s.status for s in db.exec(select(SupplyListing)).all()] == ["draft"]


def test_another_organisation_cannot_edit_publish_or_close(client, db, api_token, market):
    headers = api_token(market["recycler"].email)
    listing_id = client.post(
        "/api/v1/listings", json=listing_body(market), headers=headers
    ).get_json()["id"]
    rival = api_token(make_member(db, make_org(db, kind="recycler")).email)
    assert (
        client.patch(
            f"/api/v1/listings/{listing_id}", json={"monthly_t": "1"}, headers=rival
        ).status_code
        == 404
    )
    assert client.post(f"/api/v1/listings/{listing_id}/publish", headers=rival).status_code == 404
    assert client.post(f"/api/v1/listings/{listing_id}/close", headers=rival).status_code == 404
    db.expire_all()
    assert db.get(SupplyListing, listing_id).status == "draft"


def test_invited_only_listing_is_invisible_to_others(client, db, api_token, market):
    headers = api_token(market["recycler"].email)
    outsider = api_token(make_member(db, make_org(db, kind="manufacturer")).email)
    invited = api_token(market["maker"].email)
    body = listing_body(market, visibility="invited", invited_org_ids=[market["maker_org"].id])
    listing_id = client.post("/api/v1/listings", json=body, headers=headers).get_json()["id"]
    client.post(f"/api/v1/listings/{listing_id}/publish", headers=headers)
    assert client.get(f"/api/v1/listings/{listing_id}", headers=outsider).status_code == 404
    assert client.get("/api/v1/listings", headers=outsider).get_json()["total"] == 0
    assert client.get(f"/api/v1/listings/{listing_id}", headers=invited).status_code == 200
    assert [
        i["id"] for i in client.get("/api/v1/listings", headers=invited).get_json()["items"]
    ] == [listing_id]
    own = client.get(f"/api/v1/listings/{listing_id}", headers=headers).get_json()
    assert own["invited_org_ids"] == [market["maker_org"].id]


def test_request_ceiling_is_shown_only_to_its_owner(client, db, api_token, market):
    headers = api_token(market["maker"].email)
    r = client.post("/api/v1/requests", json=request_body(market), headers=headers)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["monthly_t"] == "300.000" and body["term_months"] == 36
    assert body["max_price_jpy_per_t"] == 1_000_000 and body["price_kind"] == "fixed"
    request_id = body["id"]
    client.post(f"/api/v1/requests/{request_id}/publish", headers=headers)
    seller = api_token(market["recycler"].email)
    seen = client.get(f"/api/v1/requests/{request_id}", headers=seller)
    assert seen.status_code == 200
    assert {k: seen.get_json()[k] for k in CEILING_FIELDS} == dict.fromkeys(CEILING_FIELDS)
    assert "1000000" not in seen.get_data(as_text=True)
    listed = client.get("/api/v1/requests", headers=seller).get_json()
    assert listed["total"] == 1 and listed["items"][0]["max_price_jpy_per_t"] is None
    mine = client.get("/api/v1/requests?mine=1", headers=headers).get_json()
    assert mine["items"][0]["max_price_jpy_per_t"] == 1_000_000


BAD_REQUESTS = [
    ({"end_month": "2026-12", "term_months": ...}, "end_month", "The start lies after the end."),
    ({"end_month": "2027-01", "term_months": ...}, "end_month", "The start lies after the end."),
    ({"monthly_t": "0"}, "monthly_t", "The volume must be more than zero."),
    (
        {"price_kind": "index", "max_price_jpy_per_t": ...},
        "index",
        "An index formula needs a price index.",
    ),
    ({"mandate": "MOON-2050"}, "mandate", "Choose one of the allowed values."),
    ({"term_months": ...}, "term_months", "This field is required."),
    ({"start_month": "9999-12"}, "start_month", "Enter a month as YYYY-MM."),
    ({"max_price_jpy_per_t": True}, "max_price_jpy_per_t", "Enter a whole number."),
    (
        {"delivery_place": "Osaka\u2066plant"},
        "delivery_place",
        "Remove control or text-direction characters from the text.",
    ),
    ("ferrous", "grade_version_id", "This grade belongs to another material."),
]


@pytest.mark.parametrize(("changes", "field", "message"), BAD_REQUESTS)
def test_bad_request_is_refused_and_nothing_written(
    client, db, api_token, market, changes, field, message
):
    if changes == "ferrous":
        changes = {"grade_version_id": market["ferrous_grade"]}
    headers = api_token(market["maker"].email)
    r = client.post("/api/v1/requests", json=request_body(market, **changes), headers=headers)
    assert r.status_code == 422
    assert {"field": field, "message": message} in r.get_json()["errors"]
    assert count(db, OfftakeRequest) == 0


def test_request_with_end_month_and_recyclers_may_not_post_requests(client, db, api_token, market):
    headers = api_token(market["maker"].email)
    body = request_body(market, term_months=..., end_month="2029-01")
    r = client.post("/api/v1/requests", json=body, headers=headers)
    assert r.status_code == 201 and r.get_json()["term_months"] == 24
    r = client.post(
        "/api/v1/requests", json=request_body(market), headers=api_token(market["recycler"].email)
    )
    assert r.status_code == 403
    assert r.get_json()["errors"][0]["message"] == "Only manufacturers publish offtake requests."


def _publish_listing(client, headers, market, **changes) -> int:
    r = client.post("/api/v1/listings", json=listing_body(market, **changes), headers=headers)
    assert r.status_code == 201, r.get_json()
    listing_id = r.get_json()["id"]
    assert client.post(f"/api/v1/listings/{listing_id}/publish", headers=headers).status_code == 200
    return listing_id


def test_listing_search_filters_sorts_and_pages(client, db, api_token, market):
    headers = api_token(market["recycler"].email)
    fixed = {
        "price_kind": "fixed",
        "index": ...,
        "index_factor": ...,
        "premium_jpy_per_t": ...,
        "floor_jpy_per_t": ...,
    }
    cheap = _publish_listing(client, headers, market, fixed_price_jpy_per_t=800_000, **fixed)
    dear = _publish_listing(client, headers, market, fixed_price_jpy_per_t=1_200_000, **fixed)
    indexed = _publish_listing(client, headers, market, monthly_t="500")  # 0.92 × 1,000,000 + 5,000
    viewer = api_token(market["maker"].email)
    r = client.get("/api/v1/listings?sort=price&per_page=2", headers=viewer).get_json()
    assert [i["id"] for i in r["items"]] == [cheap, indexed]
    assert [i["price_jpy_per_t"] for i in r["items"]] == [800_000, 925_000]
    assert r["total"] == 3 and "page=2" in r["next"]
    page2 = client.get("/api/v1/listings?sort=price&per_page=2&page=2", headers=viewer).get_json()
    assert [i["id"] for i in page2["items"]] == [dear]
    by_volume = client.get("/api/v1/listings?sort=volume", headers=viewer).get_json()
    assert by_volume["items"][0]["id"] == indexed
    capped = client.get("/api/v1/listings?max_price=1000000", headers=viewer).get_json()
    assert {i["id"] for i in capped["items"]} == {cheap, indexed}
    assert client.get("/api/v1/listings?material=pet", headers=viewer).get_json()["total"] == 0
    bad = client.get("/api/v1/listings?sort=cheapest&prefecture=99", headers=viewer)
    assert bad.status_code == 400
    assert {e["field"] for e in bad.get_json()["errors"]} == {"prefecture", "sort"}
    assert client.get("/api/v1/listings?per_page=500", headers=viewer).status_code == 400


def test_a_search_past_the_count_cap_says_more_than_and_still_pages(
    client, db, api_token, market, monkeypatch
):
    """Past COUNT_CAP matches the total is a lower bound (`total_exact` false, "more than" on
    the page) and every page is still served; a page past the cap is counted exactly."""
    import market.search as search

    headers = api_token(market["recycler"].email)
    ids = [_publish_listing(client, headers, market, monthly_t=f"{100 + i}") for i in range(5)]
    monkeypatch.setattr(search, "COUNT_CAP", 2)
    viewer = api_token(market["maker"].email)
    first = client.get("/api/v1/listings?sort=volume&per_page=2", headers=viewer).get_json()
    assert (first["total"], first["total_exact"]) == (2, False)
    assert [i["id"] for i in first["items"]] == ids[::-1][:2] and "page=2" in first["next"]
    deep = client.get("/api/v1/listings?sort=volume&per_page=2&page=2", headers=viewer).get_json()
    assert (deep["total"], deep["total_exact"]) == (5, True)  # past the cap: counted exactly
    assert [i["id"] for i in deep["items"]] == ids[::-1][2:4] and "page=3" in deep["next"]
    few = client.get("/api/v1/listings?max_price=100", headers=viewer).get_json()
    assert (few["total"], few["total_exact"], few["next"]) == (0, True, None)
    login(client, market["maker"].email)
    html = client.get("/listings?per_page=1").get_data(as_text=True)
    assert "More than 2 listings found" in html and "Page 1 of more than 2" in html
    client.post("/language", data={"lang": "ja"})
    ja = client.get("/listings?per_page=1").get_data(as_text=True)
    assert "2件を超える出品が見つかりました" in ja and "2ページ超中1ページ" in ja


def test_indices_are_listed_and_only_the_operator_enters_values(client, db, api_token, market):
    viewer = api_token(market["maker"].email)
    body = client.get("/api/v1/indices", headers=viewer).get_json()
    assert body["items"][0]["code"] == "CU-SCRAP-JP"
    assert body["items"][0]["latest_jpy_per_t"] == 1_000_000
    value = {"month": "2026-10", "value_jpy_per_t": 1_234_567}
    r = client.post("/api/v1/indices/CU-SCRAP-JP/values", json=value, headers=viewer)
    assert r.status_code == 403
    operator = api_token(market["operator"].email)
    r = client.post("/api/v1/indices/CU-SCRAP-JP/values", json=value, headers=operator)
    assert r.status_code == 201 and r.get_json() == value
    bad = client.post(
        "/api/v1/indices/CU-SCRAP-JP/values",
        json={"month": "October", "value_jpy_per_t": 5},
        headers=operator,
    )
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "month"
    values = client.get("/api/v1/indices/CU-SCRAP-JP/values", headers=viewer).get_json()["values"]
    assert values == [
        {"month": "2026-01", "value_jpy_per_t": 1_000_000},
        {"month": "2026-10", "value_jpy_per_t": 1_234_567},
    ]
    assert client.get("/api/v1/indices/NOPE/values", headers=viewer).status_code == 404


def test_saved_search_alerts_the_buyer_when_a_matching_listing_is_published(
    app, client, db, api_token, market
):
    buyer = api_token(market["maker"].email)
    r = client.post(
        "/api/v1/saved-searches",
        json={
            "target": "listings",
            "name": "Birch near Osaka",
            "query": {"grade": "ISRI-BIRCH-CLIFF"},
        },
        headers=buyer,
    )
    assert r.status_code == 201, r.get_json()
    search_id = r.get_json()["id"]
    saved = client.get("/api/v1/saved-searches", headers=buyer).get_json()["items"]
    assert (
        saved[0]["query"]["grade"] == "ISRI-BIRCH-CLIFF" and saved[0]["query"]["sort"] == "newest"
    )
    bad = client.post(
        "/api/v1/saved-searches", json={"target": "auctions", "name": "x"}, headers=buyer
    )
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "target"

    listing_id = _publish_listing(client, api_token(market["recycler"].email), market)
    notes = client.get("/api/v1/notifications", headers=buyer).get_json()["items"]
    [message] = [n["message"] for n in notes]
    assert message.startswith(f"Supply listing #{listing_id}")
    assert message.endswith("matches your saved search “Birch near Osaka”.")
    assert notes[0]["link"] == f"/listings/{listing_id}" and notes[0]["read"] is False
    mails = [p.read_text() for p in Path(app.config["MAIL_OUTBOX"]).glob("*.eml")]
    assert len(mails) == 1 and market["maker"].email in mails[0]
    assert f"/listings/{listing_id}" in mails[0]

    assert client.delete(f"/api/v1/saved-searches/{search_id}", headers=buyer).status_code == 204
    assert client.delete(f"/api/v1/saved-searches/{search_id}", headers=buyer).status_code == 404
    assert count(db, Notification) == 1


def test_openapi_document_describes_the_market_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/listings",
        "/listings/{listing_id}",
        "/listings/{listing_id}/publish",
        "/requests/{request_id}",
        "/indices/{code}/values",
        "/saved-searches/{search_id}",
        "/notifications",
    ):
        assert path in paths
    assert set(paths["/indices/{code}/values"]) == {"get", "post"}
