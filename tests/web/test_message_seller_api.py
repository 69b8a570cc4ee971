"""POST /api/v1/listings/{id}/messages: the listing page's "Message the seller", in the API."""

from pathlib import Path

from factories import make_listing, make_member, make_org
from sqlmodel import select

from market.models import Notification
from quality.catalogue import latest_published, seed_catalogue

MESSAGE = {"message": "Can you deliver 20 t in March?"}


def _world(db):
    seed_catalogue(db)
    version = latest_published(db, "HDPE-NAT-B")[1].id
    seller_org = make_org(db, kind="recycler")
    seller = make_member(db, seller_org, roles="trader", locale="ja")
    inspector = make_member(db, seller_org, roles="inspector")
    buyer = make_member(db, make_org(db, kind="manufacturer"), roles="trader")
    newcomer = make_member(db, make_org(db, kind="manufacturer", status="unverified"))
    listing = make_listing(db, seller_org, version)
    return seller, inspector, buyer, newcomer, listing


def _notes(db) -> list[Notification]:
    db.expire_all()
    return list(db.exec(select(Notification)).all())


def test_a_buyer_messages_the_seller_who_is_notified_and_e_mailed(client, db, app, api_token):
    seller, _inspector, buyer, _newcomer, listing = _world(db)
    r = client.post(
        f"/api/v1/listings/{listing.id}/messages", json=MESSAGE, headers=api_token(buyer.email)
    )
    assert r.status_code == 201
    assert r.get_json() == {"listing_id": listing.id, "notified_members": 1}
    [note] = _notes(db)
    assert note.member_id == seller.id and note.link == f"/listings/{listing.id}"
    assert "Can you deliver 20 t in March?" in note.params and buyer.email in note.params
    mails = list(Path(app.config["MAIL_OUTBOX"]).glob("*.eml"))
    assert len(mails) == 1 and seller.email in mails[0].read_text()


def test_an_unverified_organisation_is_refused_and_nothing_is_written(client, db, api_token):
    _seller, _inspector, _buyer, newcomer, listing = _world(db)
    r = client.post(
        f"/api/v1/listings/{listing.id}/messages", json=MESSAGE, headers=api_token(newcomer.email)
    )
    assert r.status_code == 403 and r.content_type == "application/problem+json"
    assert r.get_json()["detail"].startswith("Only members of verified organisations")
    assert _notes(db) == []


def test_an_own_listing_is_not_found_and_an_empty_message_is_a_field_error(client, db, api_token):
    seller, _inspector, buyer, _newcomer, listing = _world(db)
    r = client.post(
        f"/api/v1/listings/{listing.id}/messages", json=MESSAGE, headers=api_token(seller.email)
    )
    assert r.status_code == 404
    r = client.post(
        f"/api/v1/listings/{listing.id}/messages",
        json={"message": "   "},
        headers=api_token(buyer.email),
    )
    assert r.status_code == 422
    assert r.get_json()["errors"][0]["field"] == "message"
    r = client.post(
        f"/api/v1/listings/{listing.id}/messages",
        json=MESSAGE | {"to": "x"},
        headers=api_token(buyer.email),
    )
    assert r.status_code == 422
    assert _notes(db) == []


def test_the_endpoint_is_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    post = doc["paths"]["/listings/{listing_id}/messages"]["post"]
    assert post["summary"] == "Message the seller of a listing"
    assert {"201", "401", "403", "404", "422"} <= set(post["responses"])
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "SellerMessageIn"
    )
