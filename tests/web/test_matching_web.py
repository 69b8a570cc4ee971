"""Matching pages and API: own requests and proposals only, operator-only runs, decisions."""

import re

import pytest
from factories import login, make_listing, make_member, make_org, make_request
from sqlmodel import func, select

from contracts.models import OfftakeContract
from market.models import MatchRun, Proposal
from participants.models import Organization
from quality.catalogue import latest_published, seed_catalogue

LIMIT = 87_654


@pytest.fixture()
def world(db):
    seed_catalogue(db)
    version = latest_published(db, "HDPE-NAT-B")[1].id
    recycler = make_org(db, kind="recycler")
    maker = make_org(db, kind="manufacturer", lat=35.45, lon=139.64)
    other = make_org(db, kind="manufacturer")
    operator = make_org(db, kind="operator")
    listing = make_listing(db, recycler, version)
    req = make_request(db, maker, version, max_price_jpy_per_t=LIMIT)
    return {
        "db": db,
        "listing": listing,
        "request": req,
        "seller": make_member(db, recycler, roles="admin signatory"),
        "buyer": make_member(db, maker, roles="admin trader"),
        "other": make_member(db, other, roles="admin signatory"),
        "operator": make_member(db, operator, roles="admin"),
    }


def _run(client, api_token, w) -> int:
    r = client.post(
        "/api/v1/matching/runs", json={"month": "2027-01"}, headers=api_token(w["operator"].email)
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_only_the_operator_runs_the_matching(client, api_token, world):
    r = client.post(
        "/api/v1/matching/runs", json={"month": "2027-01"}, headers=api_token(world["buyer"].email)
    )
    assert r.status_code == 403
    assert r.content_type == "application/problem+json"
    r = client.post(
        "/api/v1/matching/runs", json={"month": "Jan"}, headers=api_token(world["operator"].email)
    )
    assert r.status_code == 422
    r = client.post(
        "/api/v1/matching/runs",
        json={"month": "2027-01"},
        headers=api_token(world["operator"].email),
    )
    body = r.get_json()
    assert r.status_code == 201
    assert (body["month"], body["n_listings"], body["n_requests"], body["n_proposals"]) == (
        "2027-01",
        1,
        1,
        1,
    )
    assert body["surplus_jpy"] > 0
    # One listing, one request, no short flow: the min-cost flow is the proven optimum.
    assert (body["solver_method"], body["mip_gap"], body["optimal"]) == ("mcf", 0.0, True)


def test_candidates_api_is_for_the_requests_own_organisation(client, api_token, world):
    url = f"/api/v1/requests/{world['request'].id}/candidates?month=2027-01"
    r = client.get(url, headers=api_token(world["buyer"].email))
    assert r.status_code == 200
    [item] = r.get_json()["items"]
    assert item["listing_id"] == world["listing"].id and item["price_ok"] is True
    assert item["explanation"]["limit_jpy_per_t"] == LIMIT
    assert client.get(url, headers=api_token(world["other"].email)).status_code == 404
    assert client.get(url, headers=api_token(world["seller"].email)).status_code == 404
    bad = client.get(url.replace("2027-01", "soon"), headers=api_token(world["buyer"].email))
    assert bad.status_code == 400  # a query string is validated as such (web.api.openapi)
    assert bad.get_json()["errors"] == [{"field": "month", "message": "Enter a month as YYYY-MM."}]


def test_proposal_api_views_accept_flow_and_contract_draft(client, api_token, world):
    _run(client, api_token, world)
    seller, buyer = api_token(world["seller"].email), api_token(world["buyer"].email)
    other = api_token(world["other"].email)
    r = client.get("/api/v1/proposals", headers=seller)
    [mine] = r.get_json()["items"]
    assert mine["side"] == "seller" and str(LIMIT) not in r.get_data(as_text=True)
    assert client.get("/api/v1/proposals", headers=other).get_json()["items"] == []
    pid = mine["id"]
    assert client.post(f"/api/v1/proposals/{pid}/accept", headers=other).status_code == 404

    r = client.post(f"/api/v1/proposals/{pid}/accept", headers=seller)
    assert r.status_code == 200 and r.get_json()["contract_id"] is None
    assert r.get_json()["proposal"]["my_decision"] == "accept"
    assert client.post(f"/api/v1/proposals/{pid}/accept", headers=seller).status_code == 409
    r = client.post(f"/api/v1/proposals/{pid}/accept", headers=buyer)
    assert r.status_code == 200
    contract_id = r.get_json()["contract_id"]
    assert contract_id and r.get_json()["proposal"]["status"] == "accepted"

    [draft] = client.get("/api/v1/contracts", headers=buyer).get_json()["items"]
    assert draft["id"] == contract_id and draft["side"] == "buyer"
    assert draft["terms"]["monthly_t"] == "60.000" and draft["terms"]["start_month"] == "2027-03"
    # a draft from an accepted proposal holds its volume from the start
    assert (draft["status"], draft["reserved_t"], draft["terms"]["version"]) == (
        "draft",
        "60.000",
        1,
    )
    assert draft["seller"]["id"] == world["seller"].organization_id
    assert client.get("/api/v1/contracts", headers=other).get_json()["items"] == []
    assert len(client.get("/api/v1/contracts", headers=seller).get_json()["items"]) == 1


def test_decline_api(client, api_token, world):
    _run(client, api_token, world)
    buyer = api_token(world["buyer"].email)
    pid = client.get("/api/v1/proposals", headers=buyer).get_json()["items"][0]["id"]
    r = client.post(f"/api/v1/proposals/{pid}/decline", headers=buyer)
    assert r.status_code == 200 and r.get_json()["proposal"]["status"] == "declined"
    r = client.post(f"/api/v1/proposals/{pid}/accept", headers=api_token(world["seller"].email))
    assert r.status_code == 409


def test_openapi_lists_the_matching_paths(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/requests/{request_id}/candidates",
        "/proposals",
        "/proposals/{proposal_id}/accept",
        "/matching/runs",
        "/contracts",
    ):
        assert path in paths


def test_pages_candidates_proposals_and_contracts(client, world):
    db = world["db"]
    login(client, world["other"].email)
    assert client.get(f"/requests/{world['request'].id}/candidates").status_code == 404
    assert client.get("/operator/matching").status_code == 403
    client.post("/logout")

    login(client, world["operator"].email)
    assert client.get("/operator/matching").status_code == 200
    r = client.post("/operator/matching", data={"month": "2027-01"})
    assert r.status_code == 302
    assert db.exec(select(func.count()).select_from(MatchRun)).one() == 1
    assert "2027-01" in client.get("/operator/matching").get_data(as_text=True)
    client.post("/logout")

    login(client, world["buyer"].email)
    page = client.get(f"/requests/{world['request'].id}/candidates?month=2027-01")
    assert page.status_code == 200 and "HDPE bales" in page.get_data(as_text=True)
    text = client.get("/proposals").get_data(as_text=True)
    pid = db.exec(select(Proposal.id)).one()
    assert f"/proposals/{pid}/accept" in text
    assert client.post(f"/proposals/{pid}/accept").status_code == 302
    client.post("/logout")

    login(client, world["seller"].email)
    text = client.get("/proposals").get_data(as_text=True)
    assert str(LIMIT) not in text and f"{LIMIT:,}" not in text
    r = client.post(f"/proposals/{pid}/accept")
    contract = db.exec(select(OfftakeContract)).one()
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/contracts/{contract.id}")
    assert "60 t" in client.get("/contracts").get_data(as_text=True)
    detail = client.get(f"/contracts/{contract.id}")
    assert detail.status_code == 200 and "Sign version 1" in detail.get_data(as_text=True)
    client.post("/logout")

    login(client, world["other"].email)
    assert client.get(f"/contracts/{contract.id}").status_code == 404
    # not one of its proposals: 404 as in the API (no longer a flashed error)
    assert client.post(f"/proposals/{pid}/decline").status_code == 404
    assert db.get(Proposal, pid).status == "accepted"


def test_manufacturer_starts_a_draft_from_a_listing_page_and_nothing_is_reserved(client, world):
    db = world["db"]
    login(client, world["buyer"].email)
    page = client.get(f"/listings/{world['listing'].id}").get_data(as_text=True)
    assert "Start a contract draft" in page
    r = client.post(
        f"/listings/{world['listing'].id}/draft",
        data={"monthly_t": "25", "start_month": "2027-02", "term_months": "6"},
    )
    assert r.status_code == 302 and "/contracts/" in r.headers["Location"]
    contract = db.exec(select(OfftakeContract)).one()
    assert (contract.buyer_org_id, contract.listing_id) == (
        world["buyer"].organization_id,
        world["listing"].id,
    )
    db.refresh(world["listing"])
    assert world["listing"].committed_kg == 0
    r = client.post(
        f"/listings/{world['listing'].id}/draft",
        data={"monthly_t": "5", "start_month": "2027-02", "term_months": "6"},
        follow_redirects=True,
    )
    assert "minimum" in r.get_data(as_text=True)
    assert db.exec(select(func.count()).select_from(OfftakeContract)).one() == 1


def test_recycler_offers_an_own_listing_to_a_request_through_the_api(client, api_token, world):
    headers = api_token(world["seller"].email)
    body = {"listing_id": world["listing"].id, "monthly_t": "30"}
    r = client.post(f"/api/v1/requests/{world['request'].id}/drafts", json=body, headers=headers)
    assert r.status_code == 201, r.get_json()
    draft = r.get_json()
    assert draft["terms"]["monthly_t"] == "30.000"
    assert str(LIMIT) not in r.get_data(as_text=True)  # the buyer's ceiling stays private
    r = client.post(
        f"/api/v1/requests/{world['request'].id}/drafts",
        json={**body, "monthly_t": "61"},
        headers=headers,
    )
    assert r.status_code == 409  # the request needs 60 t
    other = api_token(world["other"].email)  # a manufacturer cannot answer a request
    r = client.post(f"/api/v1/requests/{world['request'].id}/drafts", json=body, headers=other)
    assert r.status_code == 403
    r = client.post(
        f"/api/v1/listings/{world['listing'].id}/drafts",
        json={"monthly_t": "25", "start_month": "2027-02", "term_months": 6, "price": 1},
        headers=api_token(world["buyer"].email),
    )
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "price"


def test_transport_rate_setting_prices_the_candidates(app, client, api_token, world):
    headers = api_token(world["buyer"].email)
    url = f"/api/v1/requests/{world['request'].id}/candidates?month=2027-03"
    default = client.get(url, headers=headers).get_json()["items"][0]["explanation"]
    app.config["TRANSPORT_ROAD_JPY_PER_T_KM"] = "100"
    dearer = client.get(url, headers=headers).get_json()["items"][0]["explanation"]
    km = default["transport"]["km"]
    # km is shown to 0.1 km, the cost is computed from the exact distance
    assert abs(default["transport"]["jpy_per_t"] - km * 25) <= 25 * 0.05 + 1
    assert abs(dearer["transport"]["jpy_per_t"] - km * 100) <= 100 * 0.05 + 1


# --- who may read and decide (issue 7) ---------------------------------------------------------


def _set_status(db, member, status: str) -> None:
    org = db.get(Organization, member.organization_id)
    org.status = status
    db.add(org)
    db.commit()


@pytest.mark.parametrize("status", ["unverified", "suspended"])
def test_an_unverified_or_suspended_organisation_sees_no_candidates_or_proposals(
    client, api_token, world, status
):
    db = world["db"]
    _run(client, api_token, world)
    headers = api_token(world["buyer"].email)
    _set_status(db, world["buyer"], status)
    candidates = f"/api/v1/requests/{world['request'].id}/candidates?month=2027-01"
    for url in (candidates, "/api/v1/proposals"):
        r = client.get(url, headers=headers)
        assert r.status_code == 403, url
        assert r.content_type == "application/problem+json"
    login(client, world["buyer"].email)
    assert client.get(f"/requests/{world['request'].id}/candidates").status_code == 403
    proposals = client.get("/proposals")
    if status == "unverified":  # the page says what verification needs, and lists nothing
        text = proposals.get_data(as_text=True)
        assert proposals.status_code == 200
        assert "Your organisation is not verified yet" in text and "No proposals yet." in text
        assert "proposal-" not in text
    else:
        assert proposals.status_code == 403
    # its own contracts stay readable in any state
    assert client.get("/contracts").status_code == 200
    assert client.get("/api/v1/contracts", headers=headers).status_code == 200


def test_a_member_who_may_not_decide_sees_proposals_without_the_decision_buttons(
    client, api_token, world
):
    _run(client, api_token, world)
    inspector = make_member(
        world["db"],
        world["db"].get(Organization, world["buyer"].organization_id),
        roles="inspector",
    )
    login(client, inspector.email)
    page = client.get("/proposals").get_data(as_text=True)
    pid = world["db"].exec(select(Proposal.id)).one()
    assert f"#{pid}" in page
    assert f"/proposals/{pid}/accept" not in page and f"/proposals/{pid}/decline" not in page
    assert client.post(f"/proposals/{pid}/accept").status_code == 403


def test_the_operator_page_runs_for_the_operator_only_and_shows_a_bad_month_under_its_field(
    client, world
):
    db = world["db"]
    login(client, world["buyer"].email)
    assert client.post("/operator/matching", data={"month": "2027-01"}).status_code == 403
    client.post("/logout")
    login(client, world["operator"].email)
    r = client.post("/operator/matching", data={"month": "9999-12"})
    assert r.status_code == 200
    assert 'id="month-error">Enter a month as YYYY-MM.' in r.get_data(as_text=True)
    assert db.exec(select(func.count()).select_from(MatchRun)).one() == 0


def test_a_run_records_the_operator_in_the_audit_log(client, api_token, world):
    from participants.models import AuditEntry

    run_id = _run(client, api_token, world)
    [entry] = world["db"].exec(select(AuditEntry).where(AuditEntry.action == "matching.run")).all()
    assert (entry.actor_member_id, entry.target_type, entry.target_id) == (
        world["operator"].id,
        "matchrun",
        run_id,
    )
    assert world["db"].get(MatchRun, run_id).run_by_member_id == world["operator"].id


def test_the_operator_page_says_what_is_proven_of_each_run_in_english_and_japanese(client, world):
    from datetime import date

    db = world["db"]
    runs = [
        MatchRun(month=date(2026, 10, 1)),  # before the verdict was kept: NULL
        MatchRun(month=date(2026, 11, 1), solver_method="mcf", mip_gap=0.0, optimal=True),
        MatchRun(month=date(2026, 12, 1), solver_method="mcf+mip", mip_gap=4e-5, optimal=True),
        # A gap too small for three decimals is still a gap: shown rounded up, not "optimal".
        MatchRun(month=date(2026, 12, 1), solver_method="mcf+mip", mip_gap=2e-7, optimal=True),
        MatchRun(
            month=date(2027, 1, 1), solver_method="mcf+rounding", mip_gap=0.00098, optimal=False
        ),
    ]
    db.add_all(runs)
    db.commit()
    login(client, world["operator"].email)

    def cells(page: str, run: MatchRun) -> str:
        """The run's last two cells: the solution method and what is proven."""
        row = page.split(f"<tr><td>{run.id}</td>", 1)[1].split("</tr>", 1)[0]
        return " | ".join(re.findall(r"<td>(.*?)</td>", row)[-2:])

    page = client.get("/operator/matching").get_data(as_text=True)
    assert [cells(page, r) for r in runs] == [
        "— | —",
        "Min-cost flow | Proven optimal",
        "Min-cost flow + exact model | Proven optimal: within 0.004 % of the best possible",
        "Min-cost flow + exact model | Proven optimal: within 0.001 % of the best possible",
        "Min-cost flow + rounding heuristic | "
        "Best found, not proven optimal: within 0.098 % of the best possible",
    ]
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ja"
    client.post("/language", data={"lang": "ja"})
    page = client.get("/operator/matching").get_data(as_text=True)
    assert [cells(page, r) for r in runs] == [
        "— | —",
        "最小費用流 | 最適性を証明済み",
        "最小費用流 + 厳密モデル | 最適性を証明済み：理論上の最良値との差は0.004 %以内",
        "最小費用流 + 厳密モデル | 最適性を証明済み：理論上の最良値との差は0.001 %以内",
        "最小費用流 + 丸めヒューリスティック | "
        "探索した最良解（最適性は未証明）：理論上の最良値との差は0.098 %以内（証明済み）",
    ]
    assert "解法" in page and "最適性" in page


def test_a_run_started_on_the_operator_page_records_and_shows_its_verdict(client, world):
    login(client, world["operator"].email)
    client.post("/operator/matching", data={"month": "2027-01"})
    run = world["db"].exec(select(MatchRun)).one()
    assert (run.solver_method, run.mip_gap, run.optimal) == ("mcf", 0.0, True)
    page = client.get("/operator/matching").get_data(as_text=True)
    assert "<td>Min-cost flow</td><td>Proven optimal</td>" in page


# --- odd input (issue 7): a 4xx with a field message, nothing written ---------------------------

GOOD_DRAFT = {"monthly_t": "25", "start_month": "2027-02", "term_months": 6}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"start_month": "9999-12"}, "start_month", "Enter a month as YYYY-MM."),
        ({"start_month": "2027-13"}, "start_month", "Enter a month as YYYY-MM."),
        ({"term_months": True}, "term_months", "Enter a whole number."),
        ({"term_months": 121}, "term_months", "The value must be at most 120."),
        ({"term_months": "6"}, "term_months", "Enter a whole number."),
        ({"monthly_t": True}, "monthly_t", "Enter a number."),
        ({"monthly_t": "NaN"}, "monthly_t", "Enter a number."),
        ({"monthly_t": "1000001"}, "monthly_t", "The value must be at most 1000000."),
        ({"monthly_t": 1e300}, "monthly_t", "The value must be at most 1000000."),
        ({"monthly_t": "25.0001"}, "monthly_t", "At most 3 decimals."),
        ({"monthly_t": "0"}, "monthly_t", "The volume must be more than zero."),
    ],
)
def test_odd_draft_input_is_a_422_with_a_field_message_and_writes_nothing(
    client, api_token, world, change, field, message
):
    r = client.post(
        f"/api/v1/listings/{world['listing'].id}/drafts",
        json={**GOOD_DRAFT, **change},
        headers=api_token(world["buyer"].email),
    )
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["errors"] == [{"field": field, "message": message}]
    assert world["db"].exec(select(func.count()).select_from(OfftakeContract)).one() == 0


def test_a_json_nan_or_an_out_of_range_listing_id_is_a_422(client, api_token, world):
    headers = {**api_token(world["seller"].email), "Content-Type": "application/json"}
    url = f"/api/v1/requests/{world['request'].id}/drafts"
    r = client.post(
        url, data=f'{{"listing_id": {world["listing"].id}, "monthly_t": NaN}}', headers=headers
    )
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "monthly_t"
    for listing_id in (True, 2**31, 0):
        r = client.post(url, json={"listing_id": listing_id, "monthly_t": "30"}, headers=headers)
        assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "listing_id"
    assert world["db"].exec(select(func.count()).select_from(OfftakeContract)).one() == 0


def test_the_draft_page_shows_the_field_message_of_odd_input_and_writes_nothing(client, world):
    login(client, world["buyer"].email)
    r = client.post(
        f"/listings/{world['listing'].id}/draft",
        data={"monthly_t": "25", "start_month": "9999-12", "term_months": "6"},
        follow_redirects=True,
    )
    assert "Start month (YYYY-MM): Enter a month as YYYY-MM." in r.get_data(as_text=True)
    assert world["db"].exec(select(func.count()).select_from(OfftakeContract)).one() == 0


def test_an_odd_month_for_the_run_or_the_candidates_is_refused(client, api_token, world):
    operator = api_token(world["operator"].email)
    for month in ("9999-12", True, "2027-1"):
        r = client.post("/api/v1/matching/runs", json={"month": month}, headers=operator)
        assert r.status_code == 422
        assert r.get_json()["errors"] == [
            {"field": "month", "message": "Enter a month as YYYY-MM."}
        ]
    assert world["db"].exec(select(func.count()).select_from(MatchRun)).one() == 0
    r = client.post("/api/v1/matching/runs", json={}, headers=operator)
    assert r.status_code == 201  # this month
    buyer = api_token(world["buyer"].email)
    url = f"/api/v1/requests/{world['request'].id}/candidates?month=9999-12"
    r = client.get(url, headers=buyer)
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "month"


def test_one_contract_by_the_api_for_its_two_parties_only(client, api_token, world):
    body = {"listing_id": world["listing"].id, "monthly_t": "30"}
    seller = api_token(world["seller"].email)
    r = client.post(f"/api/v1/requests/{world['request'].id}/drafts", json=body, headers=seller)
    contract_id = r.get_json()["id"]
    r = client.get(f"/api/v1/contracts/{contract_id}", headers=seller)
    assert r.status_code == 200
    assert (r.get_json()["side"], r.get_json()["terms"]["monthly_t"]) == ("seller", "30.000")
    buyer = client.get(f"/api/v1/contracts/{contract_id}", headers=api_token(world["buyer"].email))
    assert buyer.status_code == 200 and buyer.get_json()["side"] == "buyer"
    other = api_token(world["other"].email)
    assert client.get(f"/api/v1/contracts/{contract_id}", headers=other).status_code == 404
    assert client.get("/api/v1/contracts/999999", headers=seller).status_code == 404
    page = client.get("/api/v1/contracts?per_page=1", headers=seller).get_json()
    assert (page["total"], page["page"], [c["id"] for c in page["items"]]) == (1, 1, [contract_id])
