"""Each candidate of a request offers a next step: a contract draft, a message to the seller."""

import pytest
from factories import login, make_listing, make_member, make_org, make_request
from sqlmodel import select

from contracts.models import OfftakeContract
from market.models import Notification
from quality.catalogue import latest_published, seed_catalogue


@pytest.fixture()
def world(db):
    seed_catalogue(db)
    version = latest_published(db, "HDPE-NAT-B")[1].id
    recycler = make_org(db, kind="recycler")
    maker = make_org(db, kind="manufacturer", lat=35.45, lon=139.64)
    listing = make_listing(db, recycler, version)
    req = make_request(db, maker, version, max_price_jpy_per_t=87_654)
    return {
        "db": db,
        "listing": listing,
        "request": req,
        "seller": make_member(db, recycler, roles="admin signatory"),
        "seller_inspector": make_member(db, recycler, roles="inspector"),
        "buyer": make_member(db, maker, roles="admin trader signatory"),
        "buyer_inspector": make_member(db, maker, roles="inspector"),
    }


def _candidates(client, w) -> str:
    r = client.get(f"/requests/{w['request'].id}/candidates?month=2027-03")
    assert r.status_code == 200
    return r.get_data(as_text=True)


def test_candidate_offers_a_prefilled_draft_and_a_message_form(client, world):
    login(client, world["buyer"].email)
    page = _candidates(client, world)
    lid = world["listing"].id
    assert f'action="/listings/{lid}/draft"' in page
    assert f'action="/listings/{lid}/message"' in page
    # the request needs 60 t a month from 2027-03 for 6 months; the listing runs 2027-01 + 12
    assert 'name="monthly_t" required inputmode="decimal" value="60"' in page
    assert (
        'value="2027-03"' in page
        and 'name="term_months" required inputmode="numeric" value="6"' in page
    )


def test_the_prefilled_draft_starts_a_contract_draft(client, world):
    login(client, world["buyer"].email)
    r = client.post(
        f"/listings/{world['listing'].id}/draft",
        data={"monthly_t": "60", "start_month": "2027-03", "term_months": "6"},
    )
    assert r.status_code == 302 and "/contracts/" in r.headers["Location"]
    contract = world["db"].exec(select(OfftakeContract)).one()
    assert contract.status == "draft"


def test_inspector_sees_no_action_it_may_not_take(client, world):
    login(client, world["buyer_inspector"].email)
    page = _candidates(client, world)
    assert "/draft" not in page and "/message" not in page


def test_message_reaches_the_sellers_deciding_members_with_the_senders_address(client, world):
    db = world["db"]
    login(client, world["buyer"].email)
    back = f"/requests/{world['request'].id}/candidates?month=2027-03"
    r = client.post(
        f"/listings/{world['listing'].id}/message",
        data={"message": "Can you deliver 60 t from March?", "next": back},
    )
    assert r.status_code == 302 and r.headers["Location"].endswith(back)
    notes = db.exec(select(Notification)).all()
    assert [n.member_id for n in notes] == [world["seller"].id]
    assert notes[0].link == f"/listings/{world['listing'].id}"
    client.post("/logout")
    login(client, world["seller"].email)
    page = client.get("/notifications").get_data(as_text=True)
    assert "Can you deliver 60 t from March?" in page and world["buyer"].email in page


def test_empty_message_is_refused_and_sends_nothing(client, world):
    login(client, world["buyer"].email)
    r = client.post(f"/listings/{world['listing'].id}/message", data={"message": "  "})
    assert r.status_code == 302
    assert world["db"].exec(select(Notification)).all() == []
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Your message: This field is required." in page


def test_messages_need_a_deciding_role_and_a_listing_of_someone_else(client, world):
    login(client, world["buyer_inspector"].email)
    url = f"/listings/{world['listing'].id}/message"
    assert client.post(url, data={"message": "hi"}).status_code == 403
    client.post("/logout")
    login(client, world["seller"].email)
    assert client.post(url, data={"message": "hi"}).status_code == 404
    assert client.post("/listings/999999/message", data={"message": "hi"}).status_code == 404
    assert world["db"].exec(select(Notification)).all() == []
