"""Who reads what in the market, page and API alike: others' open listings and requests are for
members of verified organisations; an unverified or suspended organisation sees only its own;
what a caller may not read answers 404. Who may manage listings, requests and indices."""

import pytest
from factories import login, make_listing, make_member, make_org, make_request
from sqlmodel import func, select

from market.models import OfftakeRequest, PriceIndex, SavedSearch, SupplyListing
from participants.actors import UNVERIFIED_MESSAGE
from quality.catalogue import latest_published, seed_catalogue


@pytest.fixture()
def world(db):
    seed_catalogue(db)
    version = latest_published(db, "HDPE-NAT-B")[1].id
    recycler = make_org(db, kind="recycler")
    maker = make_org(db, kind="manufacturer", prefecture="27")
    listing = make_listing(db, recycler, version)
    request = make_request(db, maker, version)
    return {
        "listing": listing,
        "request": request,
        "seller": make_member(db, recycler, roles="trader"),
        "buyer": make_member(db, maker, roles="trader"),
        "recycler": recycler,
        "maker": maker,
    }


@pytest.mark.parametrize("status", ["unverified", "suspended"])
def test_unverified_or_suspended_organisations_do_not_read_others_listings_or_requests(
    client, db, api_token, world, status
):
    outsider = make_member(db, make_org(db, kind="manufacturer", status=status))
    headers = api_token(outsider.email)
    listing_id, request_id = world["listing"].id, world["request"].id
    for path in ("/api/v1/listings", "/api/v1/requests"):
        r = client.get(path, headers=headers)
        assert r.status_code == 200 and r.get_json()["total"] == 0
    assert client.get(f"/api/v1/listings/{listing_id}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/requests/{request_id}", headers=headers).status_code == 404
    login(client, outsider.email)
    assert "0 listings found." in client.get("/listings").get_data(as_text=True)
    assert "0 requests found." in client.get("/requests").get_data(as_text=True)
    assert "HDPE bales" not in client.get("/listings").get_data(as_text=True)
    assert client.get(f"/listings/{listing_id}").status_code == 404
    assert client.get(f"/requests/{request_id}").status_code == 404


def test_verified_members_read_others_open_listings_and_requests(client, db, api_token, world):
    other = make_member(db, make_org(db, kind="recycler"))
    headers = api_token(other.email)
    assert client.get("/api/v1/listings", headers=headers).get_json()["total"] == 1
    assert client.get("/api/v1/requests", headers=headers).get_json()["total"] == 1
    r = client.get(f"/api/v1/requests/{world['request'].id}", headers=headers)
    assert r.status_code == 200 and r.get_json()["max_price_jpy_per_t"] is None
    login(client, other.email)
    assert client.get(f"/listings/{world['listing'].id}").status_code == 200


def test_an_organisation_no_longer_verified_still_reads_its_own(client, db, api_token, world):
    world["recycler"].status = "unverified"
    db.add(world["recycler"])
    db.commit()
    headers = api_token(world["seller"].email)
    listed = client.get("/api/v1/listings", headers=headers).get_json()
    assert [i["id"] for i in listed["items"]] == [world["listing"].id]
    assert client.get("/api/v1/requests", headers=headers).get_json()["total"] == 0
    r = client.get(f"/api/v1/listings/{world['listing'].id}", headers=headers)
    assert r.status_code == 200 and r.get_json()["invited_org_ids"] == []
    login(client, world["seller"].email)
    assert client.get(f"/listings/{world['listing'].id}").status_code == 200
    # …but it may no longer change it
    r = client.patch(
        f"/api/v1/listings/{world['listing'].id}", json={"title": "x"}, headers=headers
    )
    assert r.status_code == 403
    assert r.get_json()["errors"][0]["message"] == UNVERIFIED_MESSAGE
    assert client.post(f"/listings/{world['listing'].id}/close").status_code == 403


def test_an_unverified_member_cannot_keep_a_saved_search(client, db, api_token, world):
    outsider = make_member(db, make_org(db, kind="manufacturer", status="unverified"))
    body = {"target": "listings", "name": "Everything"}
    r = client.post("/api/v1/saved-searches", json=body, headers=api_token(outsider.email))
    assert r.status_code == 403
    login(client, outsider.email)
    r = client.post("/saved-searches", data={**body, "query": "material=hdpe"})
    assert r.status_code == 403
    assert db.exec(select(func.count()).select_from(SavedSearch)).one() == 0


VALID = {
    "/listings": {
        "material": "hdpe",
        "monthly_t": "50",
        "min_t_per_contract": "10",
        "available_from": "2027-01",
        "max_term_months": 12,
        "origin_prefecture": "11",
        "incoterm_place": "Yard",
        "fixed_price_jpy_per_t": 70_000,
    },
    "/requests": {
        "material": "hdpe",
        "monthly_t": "50",
        "start_month": "2027-01",
        "term_months": 12,
        "delivery_prefecture": "27",
        "delivery_place": "Plant",
        "max_price_jpy_per_t": 90_000,
    },
}


@pytest.mark.parametrize(
    ("kind", "roles", "path", "message"),
    [
        (
            "recycler",
            "inspector signatory",
            "/listings",
            "Only traders and administrators manage listings and requests.",
        ),
        ("manufacturer", "trader", "/listings", "Only recyclers publish supply listings."),
        ("recycler", "trader", "/requests", "Only manufacturers publish offtake requests."),
        ("operator", "admin", "/requests", "Only manufacturers publish offtake requests."),
    ],
)
def test_page_and_api_refuse_the_same_people_to_create(
    client, db, api_token, world, kind, roles, path, message
):
    member = make_member(db, make_org(db, kind=kind), roles=roles)
    body = VALID[path] | {"grade_version_id": world["listing"].standard_version_id}
    r = client.post(f"/api/v1{path}", json=body, headers=api_token(member.email))
    assert r.status_code == 403 and r.get_json()["errors"][0]["message"] == message
    login(client, member.email)
    page = client.get(f"{path}/new")
    assert page.status_code == 403 and message in page.get_data(as_text=True)
    page = client.post(f"{path}/new", data=body)
    assert page.status_code == 403 and message in page.get_data(as_text=True)
    assert db.exec(select(func.count()).select_from(SupplyListing)).one() == 1
    assert db.exec(select(func.count()).select_from(OfftakeRequest)).one() == 1


def test_the_forms_ask_the_domain_so_an_unauthorised_get_is_a_403(client, db, world):
    inspector = make_member(db, world["recycler"], roles="inspector")
    login(client, inspector.email)
    assert client.get("/listings/new").status_code == 403
    assert client.get(f"/listings/{world['listing'].id}/edit").status_code == 403
    assert client.get(f"/listings/{world['listing'].id}").status_code == 200  # reading is fine


def test_only_the_operator_changes_indices_page_and_api(client, db, api_token):
    db.add(PriceIndex(code="PET-JP", name_en="PET", name_ja="PET", material_code="pet"))
    db.commit()
    member = make_member(db, make_org(db, kind="recycler"))
    headers = api_token(member.email)
    value = {"month": "2026-10", "value_jpy_per_t": 100_000}
    assert (
        client.post("/api/v1/indices/PET-JP/values", json=value, headers=headers).status_code == 403
    )
    login(client, member.email)
    assert client.post("/indices/PET-JP/values", data=value).status_code == 403
    assert client.post("/indices/PET-JP/import", data={}).status_code == 403
    assert client.post("/indices/NOPE/values", data=value).status_code == 403
    operator = make_member(db, make_org(db, kind="operator"), roles="admin")
    headers = api_token(operator.email)
    assert (
        client.post("/api/v1/indices/NOPE/values", json=value, headers=headers).status_code == 404
    )
    r = client.get("/api/v1/indices?per_page=1", headers=headers).get_json()
    assert (r["total"], r["items"][0]["code"], r["next"]) == (1, "PET-JP", None)
