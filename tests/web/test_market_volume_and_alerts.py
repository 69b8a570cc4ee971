"""A listing's or request's monthly volume never drops below what is committed (or contracted)
plus what live proposals offer; publishing commits before the alert e-mails go out; odd search
input is a 400, never a 500."""

import pytest
from factories import login, make_listing, make_member, make_org, make_request
from sqlmodel import Session, func, select

from market.listings import commit_volume, fill_request
from market.models import (
    Notification,
    OfftakeRequest,
    Proposal,
    ProposalStatus,
    SavedSearch,
    SupplyListing,
)
from quality.catalogue import latest_published, seed_catalogue


@pytest.fixture()
def world(db):
    seed_catalogue(db)
    version = latest_published(db, "HDPE-NAT-B")[1].id
    recycler = make_org(db, kind="recycler")
    maker = make_org(db, kind="manufacturer", prefecture="27")
    listing = make_listing(
        db,
        recycler,
        version,
        monthly_kg=120_000,
        min_kg_per_contract=10_000,
        origin_prefecture="11",
    )
    request = make_request(
        db,
        maker,
        version,
        monthly_kg=200_000,
        delivery_prefecture="27",
        delivery_place="Osaka",
        lat=34.69,
        lon=135.52,
    )
    return {
        "db": db,
        "version": version,
        "listing": listing,
        "request": request,
        "seller": make_member(db, recycler, roles="trader"),
        "buyer": make_member(db, maker, roles="trader"),
    }


def _proposal(db, w, tonnes: int, status: str = ProposalStatus.PROPOSED) -> None:
    db.add(
        Proposal(
            listing_id=w["listing"].id,
            request_id=w["request"].id,
            monthly_kg=tonnes * 1000,
            status=status,
            ask_jpy_per_t=70_000,
            limit_jpy_per_t=87_654,
            transport_jpy_per_t=9_000,
            distance_km=400.0,
            overlap_months=6,
        )
    )
    db.commit()


def test_listing_volume_cannot_drop_below_committed_plus_live_proposals(
    client, db, api_token, world
):
    listing_id = world["listing"].id
    commit_volume(db, listing_id, 30_000)
    db.commit()
    _proposal(db, world, 50)
    _proposal(db, world, 25, ProposalStatus.DECLINED)  # not live: does not count
    headers = api_token(world["seller"].email)
    r = client.patch(
        f"/api/v1/listings/{listing_id}", json={"monthly_t": "79.999"}, headers=headers
    )
    assert r.status_code == 409
    assert r.get_json()["errors"] == [
        {
            "field": "monthly_t",
            "message": "The monthly volume cannot drop below the 30.000 t committed plus the"
            " 50.000 t offered in open proposals.",
        }
    ]
    db.expire_all()
    stored = db.get(SupplyListing, listing_id)
    assert (stored.monthly_kg, stored.version) == (120_000, 2)  # commit_volume's version only
    r = client.patch(f"/api/v1/listings/{listing_id}", json={"monthly_t": "80"}, headers=headers)
    assert r.status_code == 200 and r.get_json()["available_t"] == "50.000"


def test_the_listing_page_refuses_the_same_volume_with_409(client, db, world):
    listing_id = world["listing"].id
    commit_volume(db, listing_id, 30_000)
    db.commit()
    _proposal(db, world, 50)
    login(client, world["seller"].email)
    form = {
        "material": "hdpe",
        "grade_version_id": str(world["version"]),
        "monthly_t": "70",
        "min_t_per_contract": "10",
        "available_from": "2027-01",
        "max_term_months": "12",
        "origin_prefecture": "11",
        "incoterm": "FCA",
        "incoterm_place": "Saitama yard",
        "price_kind": "fixed",
        "fixed_price_jpy_per_t": "70000",
        "visibility": "public",
    }
    r = client.post(f"/listings/{listing_id}/edit", data=form)
    assert r.status_code == 409
    assert (
        "The monthly volume cannot drop below the 30.000 t committed plus the 50.000 t offered"
        in r.get_data(as_text=True)
    )
    db.expire_all()
    assert db.get(SupplyListing, listing_id).monthly_kg == 120_000


def test_request_volume_cannot_drop_below_contracted_plus_live_proposals(
    client, db, api_token, world
):
    request_id = world["request"].id
    fill_request(db, request_id, 100_000)
    db.commit()
    _proposal(db, world, 50)
    headers = api_token(world["buyer"].email)
    r = client.patch(f"/api/v1/requests/{request_id}", json={"monthly_t": "149"}, headers=headers)
    assert r.status_code == 409
    assert r.get_json()["errors"][0]["message"] == (
        "The monthly volume cannot drop below the 100.000 t contracted plus the 50.000 t"
        " offered in open proposals."
    )
    db.expire_all()
    assert db.get(OfftakeRequest, request_id).monthly_kg == 200_000
    r = client.patch(f"/api/v1/requests/{request_id}", json={"monthly_t": "150"}, headers=headers)
    assert r.status_code == 200 and r.get_json()["open_t"] == "50.000"


def _draft_listing(client, headers, world) -> int:
    body = {
        "material": "hdpe",
        "grade_version_id": world["version"],
        "monthly_t": "40",
        "min_t_per_contract": "10",
        "available_from": "2027-01",
        "max_term_months": 12,
        "origin_prefecture": "27",
        "incoterm_place": "Osaka yard",
        "fixed_price_jpy_per_t": 71_000,
    }
    r = client.post("/api/v1/listings", json=body, headers=headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_a_failing_alert_mail_never_undoes_the_publication(
    app, client, db, api_token, world, monkeypatch
):
    buyer = api_token(world["buyer"].email)
    r = client.post(
        "/api/v1/saved-searches",
        json={"target": "listings", "name": "HDPE", "query": {"material": "hdpe"}},
        headers=buyer,
    )
    assert r.status_code == 201
    seen_at_mail_time: list[str] = []

    def broken_mail(to, subject, body):
        # The publication and the notification are committed before any mail goes out.
        with Session(app.extensions["junkan.engine"]) as other:
            status = other.exec(select(SupplyListing.status).where(SupplyListing.id == lid)).one()
            notes = other.exec(select(func.count()).select_from(Notification)).one()
            seen_at_mail_time.append(f"{status}/{notes}")
        raise OSError("mail server down")

    monkeypatch.setattr("web.alerting.send_mail", broken_mail)
    seller = api_token(world["seller"].email)
    lid = _draft_listing(client, seller, world)
    r = client.post(f"/api/v1/listings/{lid}/publish", headers=seller)
    assert r.status_code == 200 and r.get_json()["status"] == "open"
    assert seen_at_mail_time == ["open/1"]
    db.expire_all()
    assert db.get(SupplyListing, lid).status == "open"
    assert db.exec(select(func.count()).select_from(Notification)).one() == 1

    lid = _draft_listing(client, seller, world)
    login(client, world["seller"].email)
    r = client.post(f"/listings/{lid}/publish")
    assert r.status_code == 302
    assert seen_at_mail_time == ["open/1", "open/2"]
    db.expire_all()
    assert db.get(SupplyListing, lid).status == "open"


def test_notifications_are_listed_and_marked_read_by_their_member_only(
    client, db, api_token, world
):
    buyer = api_token(world["buyer"].email)
    client.post(
        "/api/v1/saved-searches", json={"target": "listings", "name": "HDPE"}, headers=buyer
    )
    seller = api_token(world["seller"].email)
    lid = _draft_listing(client, seller, world)
    client.post(f"/api/v1/listings/{lid}/publish", headers=seller)
    notes = client.get("/api/v1/notifications?unread=true", headers=buyer).get_json()
    assert notes["total"] == 1 and notes["items"][0]["link"] == f"/listings/{lid}"
    note_id = notes["items"][0]["id"]
    assert client.post(f"/api/v1/notifications/{note_id}/read", headers=seller).status_code == 404
    r = client.post(f"/api/v1/notifications/{note_id}/read", headers=buyer)
    assert r.status_code == 200 and r.get_json()["read"] is True
    assert client.get("/api/v1/notifications?unread=1", headers=buyer).get_json()["total"] == 0
    search_id = db.exec(select(SavedSearch.id)).one()
    r = client.delete(f"/api/v1/saved-searches/{search_id}", headers=seller)
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("min_monthly_t=NaN", "min_monthly_t"),
        ("min_monthly_t=Infinity", "min_monthly_t"),
        ("near=27&radius_km=NaN", "radius_km"),
        ("near=27&radius_km=inf", "radius_km"),
        ("radius_km=1e999&near=27", "radius_km"),
        ("max_price=true", "max_price"),
        ("min_dq=1.5", "min_dq"),
        ("start_by=9999-12", "start_by"),
        ("material=%00", "material"),
        ("page=0", "page"),
    ],
)
@pytest.mark.parametrize("target", ["listings", "requests"])
def test_odd_search_input_is_a_400_not_a_500(client, db, api_token, world, target, query, field):
    r = client.get(f"/api/v1/{target}?{query}", headers=api_token(world["buyer"].email))
    assert r.status_code == 400, r.get_data(as_text=True)
    assert r.content_type == "application/problem+json"
    assert [e["field"] for e in r.get_json()["errors"]] == [field]
    message = r.get_json()["errors"][0]["message"]
    login(client, world["buyer"].email)
    page = client.get(f"/{target}?{query}")
    assert page.status_code == 400 and message in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("start_by=", "start_by", "Enter a month as YYYY-MM."),
        ("colour=red", "colour", "Unknown parameter."),
        ("min_monthly_t=1.0005", "min_monthly_t", "At most 3 decimals."),
        ("mine=perhaps", "mine", "Choose yes or no."),
    ],
)
def test_the_api_takes_its_query_string_as_declared(
    client, api_token, world, query, field, message
):
    r = client.get(f"/api/v1/listings?{query}", headers=api_token(world["buyer"].email))
    assert r.status_code == 400
    assert r.get_json()["errors"] == [{"field": field, "message": message}]


def test_a_saved_search_keeps_volumes_as_decimal_strings(client, api_token, world):
    headers = api_token(world["buyer"].email)
    body = {"target": "listings", "name": "Big", "query": {"min_monthly_t": 100}}
    r = client.post("/api/v1/saved-searches", json=body, headers=headers)
    assert r.status_code == 422
    assert r.get_json()["errors"] == [
        {
            "field": "query.min_monthly_t",
            "message": 'Send the tonnes as a decimal string, e.g. "120.5".',
        }
    ]
    body["query"] = {"min_monthly_t": "100.5", "near": "27", "radius_km": 300}
    r = client.post("/api/v1/saved-searches", json=body, headers=headers)
    assert r.status_code == 201
    assert (r.get_json()["query"]["min_monthly_t"], r.get_json()["query"]["radius_km"]) == (
        "100.5",
        300.0,
    )
    body["query"] = {"radius_km": 300}
    r = client.post("/api/v1/saved-searches", json=body, headers=headers)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "query.near"


@pytest.mark.parametrize("query", ["radius_km=50", "sort=distance"])
def test_a_distance_without_a_place_is_a_business_rule_422(client, api_token, world, query):
    r = client.get(f"/api/v1/listings?{query}", headers=api_token(world["buyer"].email))
    assert r.status_code == 422
    assert r.get_json()["errors"] == [
        {"field": "near", "message": "Choose the place to measure the distance from."}
    ]
    login(client, world["buyer"].email)
    page = client.get(f"/requests?{query}")
    assert page.status_code == 400
    assert "Choose the place to measure the distance from." in page.get_data(as_text=True)


def test_the_search_parameters_are_declared_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/listings", "/requests"):
        params = {p["name"]: p for p in paths[path]["get"]["parameters"]}
        assert {
            "material",
            "grade",
            "prefecture",
            "near",
            "radius_km",
            "min_monthly_t",
            "max_price",
            "price_month",
            "min_dq",
            "start_by",
            "sort",
            "mine",
            "page",
            "per_page",
        } <= set(params)
        assert params["radius_km"]["schema"]["maximum"] == 20_000
        assert set(paths[path]["get"]["responses"]) == {"200", "400", "401", "422"}
    assert set(paths["/listings/{listing_id}"]["patch"]["responses"]) == {
        "200",
        "401",
        "403",
        "404",
        "409",
        "413",
        "422",
    }
