"""Publishing a standard version while its consultation is open or an objection stands needs a
justification (page and API alike); /standards lists the open consultations."""

from datetime import UTC, date, datetime, timedelta

import pytest
from factories import login, make_member, make_org
from sqlmodel import select

from participants.models import AuditEntry
from quality.catalogue import get_standard, seed_catalogue
from quality.models import ConsultationResponse, StandardVersion


@pytest.fixture()
def world(db):
    seed_catalogue(db)
    std = get_standard(db, "RPET-FLAKE-A")
    v1 = db.exec(select(StandardVersion).where(StandardVersion.standard_id == std.id)).first()
    objector = make_org(db, kind="recycler")
    v2 = StandardVersion(
        standard_id=std.id,
        number=2,
        status="consultation",
        spec_json=v1.spec_json,
        consultation_ends_at=datetime.now(UTC) + timedelta(days=10),
    )
    db.add(v2)
    db.commit()
    body = make_member(db, make_org(db, kind="standards_body"), roles="admin")
    return {"db": db, "v2": v2, "body": body, "objector": objector}


def _close(db, v2) -> None:
    v2.consultation_ends_at = datetime.now(UTC) - timedelta(days=1)
    db.add(v2)
    db.commit()


def _object(db, v2, org) -> None:
    db.add(
        ConsultationResponse(
            version_id=v2.id,
            organization_id=org.id,
            organization_kind="recycler",
            position="object",
            comment="Too strict",
        )
    )
    db.commit()


URL = "/standards/RPET-FLAKE-A/v2/publish"
API = "/api/v1/standards/RPET-FLAKE-A/versions/2/publish"


def test_publishing_during_an_open_consultation_without_justification_is_a_field_error(
    client, world
):
    db, v2 = world["db"], world["v2"]
    login(client, world["body"].email)
    page = client.get("/standards/RPET-FLAKE-A/v2/consultation").get_data(as_text=True)
    assert "Publishing now needs a justification:" in page and 'name="justification"' in page
    r = client.post(URL, data={"effective_from": "2027-01-01"})
    assert r.status_code == 422
    text = r.get_data(as_text=True)
    assert "give the justification for publishing now" in text
    db.refresh(v2)
    assert (v2.status, v2.published_at, v2.publish_justification) == ("consultation", None, "")
    assert db.exec(select(AuditEntry)).all() == []


def test_justification_is_recorded_shown_on_the_version_and_in_the_audit_log(client, world):
    db, v2 = world["db"], world["v2"]
    _object(db, v2, world["objector"])
    _close(db, v2)  # closed, but an objection stands
    login(client, world["body"].email)
    r = client.post(URL, data={"effective_from": "2027-01-01"})
    assert r.status_code == 422
    r = client.post(
        URL, data={"effective_from": "2027-01-01", "justification": "Recall deadline: EU 2027."}
    )
    assert r.status_code == 302
    db.refresh(v2)
    assert v2.status == "published" and v2.publish_justification == "Recall deadline: EU 2027."
    page = client.get("/standards/RPET-FLAKE-A/v2").get_data(as_text=True)
    assert "Recall deadline: EU 2027." in page
    [entry] = db.exec(select(AuditEntry)).all()
    assert entry.action == "standard_version.published" and entry.target_id == v2.id
    assert "Recall deadline: EU 2027." in entry.detail and '"objections": 1' in entry.detail


def test_a_closed_consultation_without_objection_publishes_without_justification(client, world):
    db, v2 = world["db"], world["v2"]
    _close(db, v2)
    login(client, world["body"].email)
    page = client.get("/standards/RPET-FLAKE-A/v2/consultation").get_data(as_text=True)
    assert "Publishing now needs a justification:" not in page
    assert client.post(URL, data={"effective_from": "2027-01-01"}).status_code == 302
    db.refresh(v2)
    assert v2.status == "published" and v2.effective_from == date(2027, 1, 1)


def test_api_publish_names_the_missing_justification(client, api_token, world):
    db, v2 = world["db"], world["v2"]
    headers = api_token(world["body"].email)
    r = client.post(API, json={"effective_from": "2027-01-01"}, headers=headers)
    assert r.status_code == 422 and r.content_type == "application/problem+json"
    assert [e["field"] for e in r.get_json()["errors"]] == ["justification"]
    db.refresh(v2)
    assert v2.status == "consultation"
    r = client.post(
        API, json={"effective_from": "2027-01-01", "justification": "Urgent."}, headers=headers
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "published"
    assert r.get_json()["publish_justification"] == "Urgent."


def test_standards_page_lists_open_consultations_with_their_closing_dates(client, world):
    page = client.get("/standards").get_data(as_text=True)
    assert "Open consultations" in page
    assert "/standards/RPET-FLAKE-A/v2/consultation" in page
    _close(world["db"], world["v2"])
    page = client.get("/standards").get_data(as_text=True)
    assert "/standards/RPET-FLAKE-A/v2/consultation" not in page
    assert "No consultation is open right now." in page
