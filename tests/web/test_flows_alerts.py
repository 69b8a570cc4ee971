"""Saved-search alerts name the search and the item; /saved-searches shows the criteria."""

import pytest
from factories import login, make_listing, make_member, make_org

from market.alerts import alert_matching_searches
from market.models import Notification
from quality.catalogue import latest_published, seed_catalogue


@pytest.fixture()
def world(db):
    seed_catalogue(db)
    version = latest_published(db, "HDPE-NAT-B")[1].id
    recycler = make_org(db, kind="recycler")
    maker = make_org(db, kind="manufacturer")
    return {
        "db": db,
        "version": version,
        "recycler": recycler,
        "buyer": make_member(db, maker, roles="admin trader"),
    }


def _save(client, name: str, query: str) -> None:
    r = client.post("/saved-searches", data={"target": "listings", "query": query, "name": name})
    assert r.status_code == 302


def test_each_alert_names_its_saved_search_and_the_listing_with_a_link(client, world):
    db = world["db"]
    login(client, world["buyer"].email)
    _save(client, "HDPE near Saitama", "material=hdpe&prefecture=11")
    _save(client, "Cheap plastics", "max_price=80000")
    listing = make_listing(db, world["recycler"], world["version"], origin_prefecture="11")
    notes = alert_matching_searches(db, listing)
    db.commit()
    assert len(notes) == 2
    page = client.get("/notifications").get_data(as_text=True)
    expected = f"Supply listing #{listing.id} “HDPE bales” matches your saved search"
    assert f"{expected} “HDPE near Saitama”." in page
    assert f"{expected} “Cheap plastics”." in page
    assert f'<a href="/listings/{listing.id}">' in page


def test_alert_of_an_untitled_listing_names_its_number(client, world):
    db = world["db"]
    login(client, world["buyer"].email)
    _save(client, "All", "")
    listing = make_listing(db, world["recycler"], world["version"], title="")
    alert_matching_searches(db, listing)
    db.commit()
    note = db.query(Notification).one()
    assert "“%(title)s”" not in note.message
    page = client.get("/notifications").get_data(as_text=True)
    assert f"Supply listing #{listing.id} matches your saved search “All”." in page


def test_saved_searches_page_shows_each_searchs_criteria_in_words(client, world):
    login(client, world["buyer"].email)
    _save(
        client,
        "Precise",
        "material=hdpe&grade=HDPE-NAT-B&prefecture=11&min_monthly_t=20&max_price=80000"
        "&price_month=2027-01&min_dq=2&start_by=2027-03&near=13&radius_km=150&sort=price",
    )
    _save(client, "Anything", "")
    page = client.get("/saved-searches").get_data(as_text=True)
    for phrase in (
        "Material: HDPE",
        "Grade: HDPE-NAT-B",
        "In Saitama",
        "Within 150 km of Tokyo",
        "At least 20 t a month",
        "Price at most ¥80,000/t",
        "Prices of 2027-01",
        "Data quality at least 2",
        "Starting by 2027-03",
        "Sorted: Lowest price",
        "Everything open",
    ):
        assert phrase in page, phrase
