"""The contracts API (issue 8, point 10): list mine with `status`, read, propose terms, write in
the thread, sign, withdraw, compare versions, the audit trail with its verification."""

import email
from decimal import Decimal
from email import policy
from pathlib import Path

import pytest
from factories import as_actor, make_listing, make_member, make_org, make_request
from sqlalchemy import text
from sqlmodel import func, select

from contracts.drafting import DraftFromListingIn, draft_from_listing
from contracts.models import ContractEvent, ContractTerms, OfftakeContract, Signature
from market.models import PriceIndex, SupplyListing
from quality.catalogue import latest_published, seed_catalogue


@pytest.fixture()
def world(db):
    seed_catalogue(db)
    version = latest_published(db, "HDPE-NAT-B")[1].id
    seller = make_org(db, kind="recycler", name_en="Saitama Recycling", name_ja="埼玉リサイクル")
    buyer = make_org(db, kind="manufacturer", name_en="Kanagawa Crates", name_ja="神奈川クレート")
    other = make_org(db, kind="manufacturer")
    db.add(PriceIndex(code="HDPE-JP", name_en="HDPE", name_ja="HDPE", material_code="hdpe"))
    db.commit()
    listing = make_listing(db, seller, version)
    make_request(db, buyer, version)
    members = {
        "seller signatory": make_member(db, seller, roles="signatory"),
        "seller trader": make_member(db, seller, roles="trader"),
        "buyer signatory": make_member(db, buyer, roles="signatory", locale="ja"),
        "buyer trader": make_member(db, buyer, roles="trader"),
        "buyer inspector": make_member(db, buyer, roles="inspector"),
        "outsider": make_member(db, other, roles="admin trader signatory"),
    }
    contract = draft_from_listing(
        db,
        as_actor(db, members["buyer trader"]),
        listing.id,
        DraftFromListingIn(monthly_t=Decimal(40), start_month="2027-02", term_months=6),
    )
    db.commit()
    return {"db": db, "listing": listing, "contract": contract, "members": members}


@pytest.fixture()
def token(api_token, world):
    return lambda who: api_token(world["members"][who].email)


def _outbox(app) -> list:
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(Path(app.config["MAIL_OUTBOX"]).glob("*.eml"))
    ]


def test_a_party_reads_its_contract_with_names_terms_versions_and_what_it_may_do(
    client, token, world
):
    cid = world["contract"].id
    r = client.get(f"/api/v1/contracts/{cid}", headers=token("buyer signatory"))
    assert r.status_code == 200
    body = r.get_json()
    assert (body["status"], body["side"], body["latest_version"], body["active_version"]) == (
        "draft",
        "buyer",
        1,
        None,
    )
    assert body["seller"]["name_en"] == "Saitama Recycling"
    assert body["buyer"]["name_ja"] == "神奈川クレート"
    assert (body["material"], body["listing_id"], body["request_id"]) == (
        "hdpe",
        world["listing"].id,
        None,
    )
    terms = body["terms"]
    assert (terms["monthly_t"], terms["start_month"], terms["term_months"]) == (
        "40.000",
        "2027-02",
        6,
    )
    assert (terms["grade_code"], terms["price_kind"], terms["fixed_price_jpy_per_t"]) == (
        "HDPE-NAT-B",
        "fixed",
        70_000,
    )
    assert (terms["tolerance_pct"], terms["take_or_pay_pct"], terms["governing_language"]) == (
        "5",
        "80",
        "ja",
    )
    assert len(terms["sha256"]) == 64 and [v["version"] for v in body["versions"]] == [1]
    assert body["chain"] == {"intact": True, "events": 1, "broken_at": None, "reason": ""}
    assert body["actions"] == ["comment", "propose", "sign", "withdraw"]
    trader = client.get(f"/api/v1/contracts/{cid}", headers=token("buyer trader")).get_json()
    assert trader["actions"] == ["comment", "propose", "withdraw"]
    inspector = client.get(f"/api/v1/contracts/{cid}", headers=token("buyer inspector"))
    assert inspector.get_json()["actions"] == []
    assert client.get(f"/api/v1/contracts/{cid}", headers=token("outsider")).status_code == 404


def test_the_list_is_mine_and_filters_by_state(client, token, world):
    cid = world["contract"].id
    page = client.get("/api/v1/contracts", headers=token("seller trader")).get_json()
    assert [c["id"] for c in page["items"]] == [cid] and page["items"][0]["side"] == "seller"
    r = client.get("/api/v1/contracts?status=active", headers=token("seller trader"))
    assert r.get_json()["items"] == []
    assert client.get("/api/v1/contracts", headers=token("outsider")).get_json()["items"] == []
    r = client.get("/api/v1/contracts?status=open", headers=token("seller trader"))
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "status"


def test_a_counter_offer_by_the_api_reaches_the_other_side_in_the_app_and_by_mail(
    app, client, token, world
):
    cid = world["contract"].id
    for path in _outbox_paths(app):
        path.unlink()
    r = client.post(
        f"/api/v1/contracts/{cid}/terms",
        json={"monthly_t": "35", "premium_jpy_per_t": 0, "comment": "35 t, please"},
        headers=token("seller trader"),
    )
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["latest_version"], body["terms"]["monthly_t"], body["terms"]["comment"]) == (
        2,
        "35.000",
        "35 t, please",
    )
    assert [(c["version"], c["side"], c["body"]) for c in body["comments"]] == [
        (2, "seller", "35 t, please")
    ]
    mails = _outbox(app)
    assert sorted(m["To"] for m in mails) == sorted(
        [world["members"]["buyer signatory"].email, world["members"]["buyer trader"].email]
    )
    japanese = next(m for m in mails if m["To"] == world["members"]["buyer signatory"].email)
    assert f"/contracts/{cid}" in japanese.get_body(("plain",)).get_content()
    diff = client.get(f"/api/v1/contracts/{cid}/diff?a=1&b=2", headers=token("buyer trader"))
    assert diff.get_json() == {
        "a": 1,
        "b": 2,
        "changes": [{"term": "monthly_t", "label": "Tonnes per month", "old": "40", "new": "35"}],
    }
    r = client.get(f"/api/v1/contracts/{cid}/diff?a=1&b=9", headers=token("buyer trader"))
    assert r.status_code == 404


def _outbox_paths(app):
    return list(Path(app.config["MAIL_OUTBOX"]).glob("*.eml"))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tolerance_pct": 101}, "tolerance_pct"),
        ({"tolerance_pct": "5.001"}, "tolerance_pct"),
        ({"payment_days": "30"}, "payment_days"),
        ({"governing_language": "de"}, "governing_language"),
        ({"monthly_t": True}, "monthly_t"),
        ({"start_month": "2027-13"}, "start_month"),
        ({"comment": "x" * 2001}, "comment"),
        ({"price": 1}, "price"),
        ({"monthly_t": "40.000"}, None),  # changes nothing
    ],
)
def test_odd_counter_offers_are_a_422_and_write_nothing(client, token, world, body, field):
    cid = world["contract"].id
    r = client.post(f"/api/v1/contracts/{cid}/terms", json=body, headers=token("buyer trader"))
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["errors"][0]["field"] == field
    db = world["db"]
    assert db.exec(select(func.count()).select_from(ContractTerms)).one() == 1


def test_who_may_propose_sign_comment_and_withdraw(client, token, world):
    cid = world["contract"].id
    url = f"/api/v1/contracts/{cid}"
    inspector, outsider = token("buyer inspector"), token("outsider")
    for path, body in (("/terms", {"monthly_t": "30"}), ("/comments", {"body": "Hi"})):
        assert client.post(url + path, json=body, headers=inspector).status_code == 403
        assert client.post(url + path, json=body, headers=outsider).status_code == 404
    assert client.post(url + "/withdraw", headers=inspector).status_code == 403
    assert client.post(url + "/withdraw", headers=outsider).status_code == 404
    r = client.post(url + "/sign", json={"version": 1}, headers=outsider)
    assert r.status_code == 404 and r.content_type == "application/problem+json"


def test_signing_by_the_api_makes_the_contract_active_and_commits_the_listing(client, token, world):
    cid = world["contract"].id
    sha = client.get(f"/api/v1/contracts/{cid}", headers=token("buyer signatory")).get_json()
    sha = sha["terms"]["sha256"]
    r = client.post(
        f"/api/v1/contracts/{cid}/sign",
        json={"version": 1, "terms_sha256": sha},
        headers=token("buyer signatory"),
    )
    assert r.status_code == 200 and r.get_json()["status"] == "draft"
    assert r.get_json()["actions"] == ["comment", "propose", "withdraw"]  # signed already
    r = client.post(
        f"/api/v1/contracts/{cid}/sign", json={"version": 1}, headers=token("seller signatory")
    )
    body = r.get_json()
    assert (r.status_code, body["status"], body["active_version"], body["reserved_t"]) == (
        200,
        "active",
        1,
        "40.000",
    )
    assert [(s["side"], s["terms_sha256"]) for s in body["signatures"]] == [
        ("buyer", sha),
        ("seller", sha),
    ]
    db = world["db"]
    db.expire_all()
    assert db.get(SupplyListing, world["listing"].id).committed_kg == 40_000
    assert db.exec(select(Signature.remote_addr)).all() == ["127.0.0.1", "127.0.0.1"]
    r = client.get("/api/v1/contracts?status=active", headers=token("seller trader"))
    assert [c["id"] for c in r.get_json()["items"]] == [cid]
    r = client.post(
        f"/api/v1/contracts/{cid}/terms", json={"monthly_t": "30"}, headers=token("buyer trader")
    )
    assert r.status_code == 409


def test_a_stale_or_odd_signature_is_refused_and_a_non_signatory_leaves_an_audit_event(
    client, token, world
):
    cid = world["contract"].id
    client.post(
        f"/api/v1/contracts/{cid}/terms", json={"monthly_t": "30"}, headers=token("buyer trader")
    )
    r = client.post(
        f"/api/v1/contracts/{cid}/sign", json={"version": 1}, headers=token("seller signatory")
    )
    assert r.status_code == 409
    assert r.get_json()["detail"] == (
        "Version 1 is not the latest version of these terms: only version 2 can be signed."
    )
    for body in ({"version": True}, {"version": "2"}, {"version": 2, "terms_sha256": "abc"}, {}):
        r = client.post(
            f"/api/v1/contracts/{cid}/sign", json=body, headers=token("seller signatory")
        )
        assert r.status_code == 422, body
    r = client.post(
        f"/api/v1/contracts/{cid}/sign", json={"version": 2}, headers=token("seller trader")
    )
    assert r.status_code == 403
    assert r.get_json()["detail"] == "Only a signatory of the organisation may sign a contract."
    db = world["db"]
    assert db.exec(select(func.count()).select_from(Signature)).one() == 0
    events = client.get(f"/api/v1/contracts/{cid}/events", headers=token("buyer inspector"))
    body = events.get_json()
    assert [e["kind"] for e in body["items"]] == [
        "contract.drafted",
        "terms.proposed",
        "signature.refused",
    ]
    assert body["chain"]["intact"] is True and body["total"] == 3
    assert body["items"][2]["actor_member_id"] == world["members"]["seller trader"].id
    assert body["items"][1]["prev_sha256"] == body["items"][0]["sha256"]


def test_withdrawing_and_the_thread_by_the_api(client, token, world):
    cid = world["contract"].id
    r = client.post(
        f"/api/v1/contracts/{cid}/comments",
        json={"body": "Can you deliver CPT?"},
        headers=token("seller trader"),
    )
    assert r.status_code == 201
    assert r.get_json()["comments"][0]["body"] == "Can you deliver CPT?"
    for body in ({"body": ""}, {"body": "a\u202eb"}, {"body": 3}, {"text": "x"}):
        r = client.post(
            f"/api/v1/contracts/{cid}/comments", json=body, headers=token("seller trader")
        )
        assert r.status_code == 422, body
    r = client.post(f"/api/v1/contracts/{cid}/withdraw", headers=token("seller trader"))
    assert r.status_code == 200 and r.get_json()["status"] == "withdrawn"
    assert r.get_json()["actions"] == []
    r = client.post(f"/api/v1/contracts/{cid}/withdraw", headers=token("buyer trader"))
    assert r.status_code == 409


def test_the_events_show_a_broken_chain(client, token, world):
    cid = world["contract"].id
    db = world["db"]
    db.execute(text("UPDATE contractevent SET kind = 'contract.forged'"))
    db.commit()
    body = client.get(f"/api/v1/contracts/{cid}/events", headers=token("buyer trader")).get_json()
    assert body["chain"] == {
        "intact": False,
        "events": 1,
        "broken_at": 1,
        "reason": "an event was changed",
    }
    r = client.get(f"/api/v1/contracts/{cid}/events", headers=token("outsider"))
    assert r.status_code == 404
    assert db.exec(select(func.count()).select_from(ContractEvent)).one() == 1


def test_drafts_started_by_the_api_notify_the_other_side(client, token, world):
    db = world["db"]
    r = client.post(
        f"/api/v1/listings/{world['listing'].id}/drafts",
        json={"monthly_t": "25", "start_month": "2027-02", "term_months": 6},
        headers=token("buyer trader"),
    )
    assert r.status_code == 201
    body = r.get_json()
    assert (body["status"], body["side"], body["seller"]["name_en"]) == (
        "draft",
        "buyer",
        "Saitama Recycling",
    )
    assert db.get(OfftakeContract, body["id"]).reserved_kg == 0
    notes = client.get("/api/v1/notifications", headers=token("seller signatory")).get_json()
    links = [n["link"] for n in notes["items"]]
    assert f"/contracts/{body['id']}" in links


def test_openapi_declares_the_contract_operations(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path, method in [
        ("/contracts", "get"),
        ("/contracts/{contract_id}", "get"),
        ("/contracts/{contract_id}/terms", "post"),
        ("/contracts/{contract_id}/comments", "post"),
        ("/contracts/{contract_id}/sign", "post"),
        ("/contracts/{contract_id}/withdraw", "post"),
        ("/contracts/{contract_id}/events", "get"),
        ("/contracts/{contract_id}/diff", "get"),
    ]:
        assert method in paths[path], path
    sign = paths["/contracts/{contract_id}/sign"]["post"]
    assert set(sign["responses"]) == {"200", "401", "403", "404", "409", "413", "422"}
