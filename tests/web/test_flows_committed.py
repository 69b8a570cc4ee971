"""A fully committed listing stays open but is shown as such and leaves search and matching."""

import pytest
from factories import login, make_listing, make_member, make_org, make_request

from quality.catalogue import latest_published, seed_catalogue


@pytest.fixture()
def world(db):
    seed_catalogue(db)
    version = latest_published(db, "HDPE-NAT-B")[1].id
    recycler = make_org(db, kind="recycler")
    maker = make_org(db, kind="manufacturer", lat=35.45, lon=139.64)
    free = make_listing(db, recycler, version, title="Free bales")
    full = make_listing(db, recycler, version, title="Taken bales", committed_kg=100_000)
    req = make_request(db, maker, version, max_price_jpy_per_t=87_654)
    return {
        "free": free,
        "full": full,
        "request": req,
        "seller": make_member(db, recycler, roles="admin signatory trader"),
        "buyer": make_member(db, maker, roles="admin trader signatory"),
    }


def test_search_leaves_out_fully_committed_listings_unless_asked(client, world):
    login(client, world["buyer"].email)
    page = client.get("/listings").get_data(as_text=True)
    assert "Free bales" in page and "Taken bales" not in page
    page = client.get("/listings?include_committed=true").get_data(as_text=True)
    assert "Free bales" in page and "Taken bales" in page
    assert "Fully committed" in page
    assert "Include fully committed listings" in page


def test_search_api_leaves_out_fully_committed_listings_by_default(client, api_token, world):
    headers = api_token(world["buyer"].email)
    ids = [i["id"] for i in client.get("/api/v1/listings", headers=headers).get_json()["items"]]
    assert ids == [world["free"].id]
    r = client.get("/api/v1/listings?include_committed=true", headers=headers)
    assert {i["id"] for i in r.get_json()["items"]} == {world["free"].id, world["full"].id}


def test_fully_committed_listing_page_says_so_and_stays_open(client, world):
    login(client, world["buyer"].email)
    r = client.get(f"/listings/{world['full'].id}")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "Fully committed" in page and "left out of search results" in page
    full_id = world["full"].id
    assert f'action="/listings/{full_id}/draft"' not in page  # nothing left to draft
    assert "Fully committed" not in client.get(f"/listings/{world['free'].id}").get_data(
        as_text=True
    )
    login(client, world["seller"].email)
    assert "Fully committed" in client.get("/listings/mine").get_data(as_text=True)


def test_candidates_leave_out_fully_committed_listings_unless_asked(client, world):
    login(client, world["buyer"].email)
    address = f"/requests/{world['request'].id}/candidates?month=2027-03"
    page = client.get(address).get_data(as_text=True)
    assert "Free bales" in page and "Taken bales" not in page
    assert "Include fully committed listings" in page
    page = client.get(address + "&include_committed=true").get_data(as_text=True)
    assert "Free bales" in page and "Taken bales" in page
    assert page.index("Free bales") < page.index("Taken bales")  # the contractable first
    taken = page[page.index("Taken bales") :]
    assert "Fully committed" in taken and "ask the seller whether more will come" in taken
    # A draft only for the listing with volume left; the seller may be asked about the other.
    assert f'action="/listings/{world["free"].id}/draft"' in page
    assert f'action="/listings/{world["full"].id}/draft"' not in page
    assert f'action="/listings/{world["full"].id}/message"' in page
    bad = client.get(address + "&include_committed=perhaps")
    assert bad.status_code == 200 and "Taken bales" not in bad.get_data(as_text=True)


def test_candidates_api_marks_fully_committed_listings_when_asked(client, api_token, world):
    headers = api_token(world["buyer"].email)
    address = f"/api/v1/requests/{world['request'].id}/candidates?month=2027-03"
    items = client.get(address, headers=headers).get_json()["items"]
    assert [(i["listing_id"], i["committed"]) for i in items] == [(world["free"].id, False)]
    items = client.get(address + "&include_committed=true", headers=headers).get_json()["items"]
    assert [(i["listing_id"], i["committed"], i["available_t"]) for i in items] == [
        (world["free"].id, False, "100.000"),
        (world["full"].id, True, "0.000"),
    ]
    bad = client.get(address + "&include_committed=perhaps", headers=headers)
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"] == "include_committed"
