"""The chain-of-custody page and API: an organisation's balances per material and its latest
entries, for its own members (the operator may name any organisation); another organisation's
ledger answers 404 on both doors; the page's queries do not grow with the rows."""

import pytest
from factories import login, make_member, make_org
from proc_custody_factories import CustodyWorld, credit
from sqlalchemy import event

from contracts.deliveries import accept_delivery
from quality.custody import debit_claim, reserve_claim


@pytest.fixture()
def w(db):
    world = CustodyWorld(db)
    delivery = world.record(net_t="24.5")
    accept_delivery(db, world.buyer_inspector, delivery.id)
    db.commit()
    reserve_claim(
        db,
        organization_id=world.buyer.id,
        material_code="copper_scrap",
        kg=4_000,
        source="award",
        source_id=3,
    )
    debit_claim(
        db,
        organization_id=world.buyer.id,
        material_code="copper_scrap",
        kg=1_250,
        source="order",
        source_id=8,
    )
    db.commit()
    world.delivery = delivery
    world.buyer_member = make_member(db, world.buyer, roles="admin")
    world.other_member = make_member(db, world.other, roles="admin")
    return world


def test_the_api_answers_the_callers_balances_and_entries(w, client, api_token):
    body = client.get("/api/v1/custody", headers=api_token(w.buyer_member.email)).get_json()
    assert body["organization_id"] == w.buyer.id
    (a,) = body["accounts"]
    assert {k: v for k, v in a.items() if k != "updated_at"} == {
        "material_code": "copper_scrap",
        "credited_t": "24.500",
        "debited_t": "1.250",
        "reserved_t": "4.000",
        "available_t": "19.250",
        "input_t": "24.500",
        "recycled_share_pct": "100.0",
    }
    assert [
        (e["kind"], e["source"], e["source_id"], e["t"], e["available_after_t"])
        for e in body["entries"]
    ] == [
        ("debit", "order", 8, "1.250", "19.250"),
        ("reserve", "award", 3, "4.000", "20.500"),
        ("credit", "delivery", w.delivery.id, "24.500", "24.500"),
    ]
    credit_entry = body["entries"][-1]
    assert (credit_entry["input_t"], credit_entry["assay_id"], credit_entry["note"]) == (
        "24.500",
        w.delivery.assay_id,
        f"Contract #{w.contract.id}, delivery #{w.delivery.id}",
    )
    limited = client.get("/api/v1/custody?limit=1", headers=api_token(w.buyer_member.email))
    assert [e["kind"] for e in limited.get_json()["entries"]] == ["debit"]


def test_another_organisations_ledger_is_not_found_on_both_doors(w, client, api_token):
    headers = api_token(w.other_member.email)
    r = client.get(f"/api/v1/custody?organization_id={w.buyer.id}", headers=headers)
    assert r.status_code == 404
    own = client.get("/api/v1/custody", headers=headers).get_json()
    assert (own["organization_id"], own["accounts"], own["entries"]) == (w.other.id, [], [])
    login(client, w.other_member.email)
    assert client.get(f"/custody?organization_id={w.buyer.id}").status_code == 404
    assert client.get("/custody?organization_id=abc").status_code == 404
    page = client.get("/custody").get_data(as_text=True)
    assert "19.250" not in page and "No recycled input yet" in page


def test_bad_queries_and_anonymous_callers_are_refused(w, client, api_token):
    headers = api_token(w.buyer_member.email)
    assert client.get("/api/v1/custody").status_code == 401
    assert client.get("/api/v1/custody?limit=0", headers=headers).status_code == 400
    assert client.get("/api/v1/custody?limit=201", headers=headers).status_code == 400
    assert client.get("/api/v1/custody?organization_id=0", headers=headers).status_code == 400
    assert client.get("/api/v1/custody?material=x", headers=headers).status_code == 400
    r = client.get("/custody")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_the_operator_reads_any_organisations_ledger(w, client, api_token, db):
    staff = make_member(db, make_org(db, kind="operator"), roles="admin")
    r = client.get(f"/api/v1/custody?organization_id={w.buyer.id}", headers=api_token(staff.email))
    assert r.get_json()["accounts"][0]["available_t"] == "19.250"
    r = client.get("/api/v1/custody?organization_id=2000000000", headers=api_token(staff.email))
    assert r.status_code == 404
    login(client, staff.email)
    page = client.get(f"/custody?organization_id={w.buyer.id}").get_data(as_text=True)
    assert w.buyer.name_en in page and "19.250" in page
    assert f'href="/deliveries/{w.delivery.id}"' not in page  # not the operator's delivery


def test_the_page_shows_balances_and_entries_in_both_languages(w, client):
    login(client, w.buyer_member.email)
    page = client.get("/custody").get_data(as_text=True)
    assert "Chain of custody (mass balance)" in page and page.count("<h1") == 1
    assert client.get("/custody?organization_id=").status_code == 200  # empty: one's own
    for figure in ("24.500", "1.250", "4.000", "19.250", "100.0%"):
        assert figure in page
    assert f'href="/deliveries/{w.delivery.id}"' in page
    assert "Copper" in page  # the material's name, not its code
    client.post("/language", data={"lang": "ja"})
    page = client.get("/custody").get_data(as_text=True)
    assert '<html lang="ja">' in page and "19.250" in page


def test_the_page_costs_the_same_queries_whatever_its_rows(w, client, db, app):
    login(client, w.buyer_member.email)
    engine = app.extensions["junkan.engine"]
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get("/custody").status_code == 200
        before = len(statements)
        for material in ("hdpe", "pp", "copper_scrap", "copper_scrap"):
            credit(db, w.buyer, 1_000, material=material)
        statements.clear()
        page = client.get("/custody").get_data(as_text=True)
        assert page.count('id="account-') == 3 and page.count('id="entry-') == 7
        assert len(statements) == before
    finally:
        event.remove(engine, "before_cursor_execute", count)
