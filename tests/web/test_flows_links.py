"""Pages link to a contract, listing or request only when the viewer may open it."""

import json

import pytest
from factories import login, make_member, make_org
from payments_factories import copper_version, make_contract, make_invoice
from sqlmodel import select

from market.models import Notification, OfftakeRequest, SupplyListing


@pytest.fixture()
def world(db):
    from quality.catalogue import seed_catalogue

    seed_catalogue(db)
    db.commit()
    seller = make_org(db, kind="recycler")
    buyer = make_org(db, kind="manufacturer")
    contract = make_contract(db, seller, buyer)
    invoice = make_invoice(db, contract)
    db.commit()
    return {
        "db": db,
        "contract": contract,
        "invoice": invoice,
        "seller": make_member(db, seller, roles="admin signatory"),
        "buyer": make_member(db, buyer, roles="admin signatory"),
        "operator": make_member(db, make_org(db, kind="operator"), roles="admin"),
    }


def _hrefs_to(page: str, path: str) -> int:
    return page.count(f'href="{path}"')


def test_operator_reads_invoices_without_links_to_contracts_it_may_not_open(client, world):
    cid, iid = world["contract"].id, world["invoice"].id
    login(client, world["operator"].email)
    for url in ("/invoices", f"/invoices/{iid}", f"/invoices/{iid}/print"):
        r = client.get(url)
        assert r.status_code == 200, url
        page = r.get_data(as_text=True)
        assert _hrefs_to(page, f"/contracts/{cid}") == 0, url
        assert f"#{cid}" in page, url
    assert client.get(f"/contracts/{cid}").status_code == 404


def test_a_party_still_gets_the_link_to_its_contract(client, world):
    cid, iid = world["contract"].id, world["invoice"].id
    login(client, world["buyer"].email)
    assert _hrefs_to(client.get("/invoices").get_data(as_text=True), f"/contracts/{cid}") == 1
    assert _hrefs_to(client.get(f"/invoices/{iid}").get_data(as_text=True), f"/contracts/{cid}")
    assert client.get(f"/contracts/{cid}").status_code == 200


def test_contract_page_links_the_other_sides_listing_only_while_it_is_open(client, world):
    db, contract = world["db"], world["contract"]
    login(client, world["buyer"].email)
    listing_url = f"/listings/{contract.listing_id}"
    page = client.get(f"/contracts/{contract.id}").get_data(as_text=True)
    assert _hrefs_to(page, listing_url) == 1
    listing = db.get(SupplyListing, contract.listing_id)
    listing.status = "closed"
    db.add(listing)
    db.commit()
    assert client.get(listing_url).status_code == 404
    page = client.get(f"/contracts/{contract.id}").get_data(as_text=True)
    assert _hrefs_to(page, listing_url) == 0 and "no longer listed" in page
    # the seller still opens its own closed listing; the buyer's closed request it may not
    request = db.get(OfftakeRequest, contract.request_id)
    request.status = "closed"
    db.add(request)
    db.commit()
    client.post("/logout")
    login(client, world["seller"].email)
    page = client.get(f"/contracts/{contract.id}").get_data(as_text=True)
    assert _hrefs_to(page, listing_url) == 1
    assert _hrefs_to(page, f"/requests/{contract.request_id}") == 0


def test_notification_about_a_closed_listing_no_longer_links_to_it(client, world):
    db, contract = world["db"], world["contract"]
    listing = db.get(SupplyListing, contract.listing_id)
    listing.status = "closed"
    note = Notification(
        member_id=world["buyer"].id,
        message="Supply listing #%(id)s matches your saved search “%(name)s”.",
        params=json.dumps({"id": listing.id, "name": "Copper"}),
        link=f"/listings/{listing.id}",
        dedupe_key="t",
    )
    db.add_all([listing, note])
    db.commit()
    login(client, world["buyer"].email)
    page = client.get("/notifications").get_data(as_text=True)
    assert f"Supply listing #{listing.id} matches" in page
    assert _hrefs_to(page, f"/listings/{listing.id}") == 0
    r = client.post(f"/notifications/{note.id}/read")
    assert r.headers["Location"].endswith("/notifications")
    page = client.get("/notifications").get_data(as_text=True)
    assert "no longer available to you" in page
    db.expire_all()
    assert db.exec(select(Notification)).one().read_at is not None


def test_copper_version_helper_is_published(world):
    assert copper_version(world["db"])
