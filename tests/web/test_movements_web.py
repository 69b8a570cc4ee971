"""Movement-record pages and API, delivery countries and records on listings, requests and
contracts: bad input answered 4xx with nothing written, another organisation's record not
found, publishing and signing without a valid record refused with the reason on the page and
in the problem detail."""

from datetime import date

import pytest
from factories import login
from movement_factories import black_mass_listing, build, make_record
from sqlmodel import func, select

from contracts.drafting import DraftFromListingIn, draft_from_listing
from market.listings import publish_listing
from market.models import MovementRecord, SupplyListing

BODY = {
    "direction": "export",
    "material": "li_ion_black_mass",
    "route": "basel_act",
    "reference": "METI-BA-2027-0100",
    "country_export": "JP",
    "country_import": "KR",
    "countries_transit": ["CN"],
    "valid_from": "2027-01-01",
    "valid_until": "2027-12-31",
    "consented_t": "600",
}


@pytest.fixture()
def w(db):
    return build(db)


def _count(w) -> int:
    w.db.expire_all()
    return w.db.exec(select(func.count()).select_from(MovementRecord)).one()


def test_api_creates_reads_changes_and_withdraws_a_record(client, w, api_token):
    headers = api_token(w.members["seller trader"].email)
    r = client.post("/api/v1/movement-records", json=BODY, headers=headers)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["consented_t"], body["committed_t"], body["countries_transit"]) == (
        "600.000",
        "0.000",
        ["CN"],
    )
    rid = body["id"]
    r = client.put(
        f"/api/v1/movement-records/{rid}", json=BODY | {"consented_t": "700"}, headers=headers
    )
    assert r.get_json()["consented_t"] == "700.000"
    r = client.post(f"/api/v1/movement-records/{rid}/withdraw", headers=headers)
    assert r.get_json()["status"] == "withdrawn"
    listed = client.get("/api/v1/movement-records", headers=headers).get_json()
    assert [i["id"] for i in listed["items"]] == [rid]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"consented_t": "0"}, "consented_t"),
        ({"consented_t": "-1"}, "consented_t"),
        ({"valid_until": "2026-06-30"}, "valid_until"),
        ({"country_import": "XX"}, "country_import"),
        ({"countries_transit": ["XX"]}, "countries_transit.0"),
        ({"route": "not_waste"}, "route"),
        ({"material": "copper_scrap", "route": "not_waste"}, "certificate_id"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(
    client, w, api_token, change, field
):
    headers = api_token(w.members["seller trader"].email)
    r = client.post("/api/v1/movement-records", json=BODY | change, headers=headers)
    assert r.status_code == 422, r.get_json()
    assert r.content_type == "application/problem+json"
    assert r.get_json()["errors"][0]["field"] == field
    assert _count(w) == 0


def test_another_organisations_record_is_not_found_and_the_operator_sees_all(client, w, api_token):
    record = make_record(w)
    other = api_token(w.members["other trader"].email)
    assert client.get(f"/api/v1/movement-records/{record.id}", headers=other).status_code == 404
    r = client.put(f"/api/v1/movement-records/{record.id}", json=BODY, headers=other)
    assert r.status_code == 404
    assert client.get("/api/v1/movement-records", headers=other).get_json()["items"] == []
    operator = api_token(w.members["operator"].email)
    assert client.get(f"/api/v1/movement-records/{record.id}", headers=operator).status_code == 200
    items = client.get("/api/v1/movement-records", headers=operator).get_json()["items"]
    assert [i["id"] for i in items] == [record.id]


def test_the_record_pages_show_the_consent_and_its_contracts(client, w):
    record = make_record(w)
    login(client, w.members["seller trader"].email)
    page = client.get("/movements").get_data(as_text=True)
    assert "METI-BA-2027-0042" in page
    page = client.get(f"/movements/{record.id}").get_data(as_text=True)
    assert "Korea, Republic of (KR)" in page or "South Korea (KR)" in page
    assert "Basel Act approval" in page and "600.000 t" in page.replace(",", "")
    form = {k: v for k, v in BODY.items() if k != "countries_transit"} | {"reference": "R-2"}
    r = client.post("/movements/new", data=form)
    assert r.status_code == 302
    r = client.post("/movements/new", data=form | {"valid_until": "2026-01-01"})
    assert r.status_code == 422
    assert "The end of validity comes before its start." in r.get_data(as_text=True)
    assert _count(w) == 2
    login(client, w.members["other trader"].email)
    assert client.get(f"/movements/{record.id}").status_code == 404


def test_publishing_black_mass_to_a_foreign_port_without_a_record_shows_the_reason(
    client, w, api_token
):
    listing = black_mass_listing(w)
    headers = api_token(w.members["seller trader"].email)
    r = client.post(f"/api/v1/listings/{listing.id}/publish", headers=headers)
    assert r.status_code == 409
    assert "crosses Japan's border" in r.get_json()["detail"]
    assert r.get_json()["errors"][0]["field"] == "movement_record_id"
    login(client, w.members["seller trader"].email)
    r = client.post(f"/listings/{listing.id}/publish", follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "it needs a valid export record" in page
    assert "No export or import record is attached" in page
    w.db.expire_all()
    assert w.db.get(SupplyListing, listing.id).status == "draft"
    record = make_record(w)
    r = client.post(
        f"/listings/{listing.id}/edit",
        data={
            "material": "li_ion_black_mass",
            "grade_version_id": str(w.bm_version),
            "monthly_t": "100",
            "min_t_per_contract": "20",
            "available_from": "2027-02",
            "max_term_months": "12",
            "origin_prefecture": "11",
            "incoterm": "CIF",
            "incoterm_place": "Busan",
            "price_kind": "fixed",
            "fixed_price_jpy_per_t": "900000",
            "delivery_country": "KR",
            "movement_record_id": str(record.id),
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    r = client.post(f"/listings/{listing.id}/publish", follow_redirects=True)
    w.db.expire_all()
    assert w.db.get(SupplyListing, listing.id).status == "open"
    assert "Runs under record" in client.get(f"/listings/{listing.id}").get_data(as_text=True)


def test_the_listing_shows_its_delivery_country_to_all_and_its_record_to_its_owner(
    client, w, api_token
):
    record = make_record(w)
    listing = black_mass_listing(w, movement_record_id=record.id)
    publish_listing(w.db, w.actor("seller trader"), listing.id, date(2027, 1, 10))
    w.db.commit()
    own = client.get(
        f"/api/v1/listings/{listing.id}", headers=api_token(w.members["seller trader"].email)
    ).get_json()
    assert (own["delivery_country"], own["movement_record_id"]) == ("KR", record.id)
    theirs = client.get(
        f"/api/v1/listings/{listing.id}", headers=api_token(w.members["jp buyer"].email)
    ).get_json()
    assert (theirs["delivery_country"], theirs["movement_record_id"]) == ("KR", None)


def test_a_listing_with_an_unknown_delivery_country_is_a_422(client, w, api_token):
    headers = api_token(w.members["seller trader"].email)
    listing = black_mass_listing(w)
    r = client.patch(
        f"/api/v1/listings/{listing.id}", json={"delivery_country": "XX"}, headers=headers
    )
    assert r.status_code == 422
    w.db.expire_all()
    assert w.db.get(SupplyListing, listing.id).delivery_country == "KR"


def test_the_contract_page_shows_the_movement_and_signing_without_a_record_says_why(
    client, w, api_token
):
    listing = black_mass_listing(w, delivery_country="JP")
    publish_listing(w.db, w.actor("seller trader"), listing.id, date(2027, 1, 10))
    data = DraftFromListingIn(monthly_t="40", start_month="2027-02", term_months=6)
    contract = draft_from_listing(w.db, w.actor("buyer trader"), listing.id, data)
    w.db.commit()
    login(client, w.members["buyer signatory"].email)
    page = client.get(f"/contracts/{contract.id}").get_data(as_text=True)
    assert "Movement across Japan&#39;s border" in page or "Movement across Japan's border" in page
    assert "(JP) → " in page
    r = client.post(f"/contracts/{contract.id}/sign", data={"version": "1"}, follow_redirects=True)
    assert "it needs a valid export record" in r.get_data(as_text=True)
    # attach through the API (a party's trader), then the page shows it
    record = make_record(w)
    r = client.put(
        f"/api/v1/contracts/{contract.id}/movement-record",
        json={"movement_record_id": record.id},
        headers=api_token(w.members["seller trader"].email),
    )
    assert r.status_code == 200, r.get_json()
    page = client.get(f"/contracts/{contract.id}").get_data(as_text=True)
    assert "METI-BA-2027-0042" in page
    r = client.put(
        f"/api/v1/contracts/{contract.id}/movement-record",
        json={"movement_record_id": make_record(w, who="other trader").id},
        headers=api_token(w.members["seller trader"].email),
    )
    assert r.status_code == 422


def test_materials_show_their_export_regime(client, w):
    page = client.get("/materials").get_data(as_text=True)
    assert "Basel Convention Annex VIII A1160" in page
    items = client.get("/api/v1/materials?per_page=100").get_json()["items"]
    regimes = {m["code"]: m["export_regime"] for m in items}
    assert [r["route"] for r in regimes["copper_scrap"]["routes"]] == ["not_waste", "basel_act"]
    assert regimes["hdpe"] is None
