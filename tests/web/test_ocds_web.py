"""OCDS publication on the web: /ocds/releases.json and /ocds/tenders/<id>.json, and the same
packages in the API, public (no login, no token), JSON, valid against the official schemas."""

import json
from datetime import timedelta

from factories import make_org
from proc_ocds_factories import T0, make_category, make_tender, schema_errors

from market.ocds import ocid, record_release


def _published(db):
    make_org(db, kind="operator", name_en="Junkan Market Operations K.K.")
    city = make_org(db, kind="agency", name_en="City of Yokohama", name_ja="横浜市")
    category = make_category(db)
    tender = make_tender(db, city, category)
    draft = make_tender(db, city, category, status="planning")
    record_release(db, tender, "tender", now=T0)
    tender.status = "cancelled"
    tender.closing_reason = "Postponed."
    db.add(tender)
    record_release(db, tender, "tenderCancellation", now=T0 + timedelta(days=3))
    db.commit()
    return tender, draft


def test_the_release_package_is_public_json_and_valid(client, db):
    tender, draft = _published(db)
    r = client.get("/ocds/releases.json")
    assert r.status_code == 200
    assert r.mimetype == "application/json"
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    package = r.get_json()
    assert schema_errors(package, package=True) == []
    assert package["uri"] == "http://localhost/ocds/releases.json"
    assert package["publisher"]["name"] == "Junkan Market Operations K.K."
    assert package["publisher"]["uri"] == "http://localhost/"
    assert [(x["ocid"], x["tag"]) for x in package["releases"]] == [
        (ocid(tender.id), ["tender"]),
        (ocid(tender.id), ["tenderCancellation"]),
    ]
    assert ocid(draft.id) not in r.get_data(as_text=True)
    # Unchanged data answers 304 to a client that has it.
    again = client.get("/ocds/releases.json", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304


def test_one_tenders_package_and_404_for_planning_or_unknown_tenders(client, db):
    tender, draft = _published(db)
    r = client.get(f"/ocds/tenders/{tender.id}.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    package = r.get_json()
    assert schema_errors(package, package=True) == []
    assert package["uri"] == f"http://localhost/ocds/tenders/{tender.id}.json"
    assert len(package["releases"]) == 2
    for missing in (draft.id, 999_999):
        r = client.get(f"/ocds/tenders/{missing}.json")
        assert r.status_code == 404
        assert r.mimetype == "application/problem+json"
        assert r.get_json()["detail"] == "No such tender."


def test_the_api_serves_the_same_packages_without_a_token(client, db):
    tender, _draft = _published(db)
    page = client.get("/ocds/releases.json").get_json()
    r = client.get("/api/v1/ocds/releases")
    assert r.status_code == 200 and r.mimetype == "application/json"
    api = r.get_json()
    assert schema_errors(api, package=True) == []
    assert api["uri"] == "http://localhost/api/v1/ocds/releases"
    assert api["releases"] == page["releases"]
    one = client.get(f"/api/v1/ocds/tenders/{tender.id}").get_json()
    assert one["releases"] == page["releases"]
    assert client.get("/api/v1/ocds/tenders/999999").status_code == 404


def test_nothing_published_yet_is_a_404_not_an_invalid_empty_package(client):
    for url in ("/ocds/releases.json", "/api/v1/ocds/releases"):
        r = client.get(url)
        assert r.status_code == 404
        assert r.get_json()["detail"] == "No OCDS releases have been published yet."


def test_the_stored_release_is_served_byte_for_byte(client, db):
    tender, _draft = _published(db)
    from sqlmodel import select

    from market.models import OcdsRelease

    stored = db.exec(select(OcdsRelease.release_json).order_by(OcdsRelease.id)).all()
    body = client.get(f"/ocds/tenders/{tender.id}.json").get_data(as_text=True)
    assert body.endswith('"releases":[' + ",".join(stored) + "]}")
    assert json.loads(stored[0])["tender"]["title_ja"] == "再生プラスチック製公園ベンチ"
