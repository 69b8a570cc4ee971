"""Page and API of each quality operation allow and deny the same members.

Every case runs as a member of a verified, unverified or suspended organisation, with one
role, on its own organisation's record or another's; the page and the API must agree and
write nothing when they refuse.
"""

import pytest
from factories import COPPER_ASSAY_FORM, COPPER_ASSAY_JSON, login, make_member, make_org
from sqlmodel import select

from participants.models import Organization
from quality.catalogue import seed_catalogue
from quality.models import Assay, Certificate

ROLES = ("admin", "trader", "signatory", "inspector", "officer")
STATUSES = ("verified", "unverified", "suspended")


@pytest.fixture()
def seeded(db):
    seed_catalogue(db)
    db.commit()
    return db


def _member(db, status="verified", roles="admin", org=None):
    kind = "agency" if roles == "officer" else "recycler"
    org = org or make_org(db, kind=kind, status=status)
    return org, make_member(db, org, roles=roles)


def _set_status(db, org: Organization, status: str) -> None:
    org.status = status
    db.add(org)
    db.commit()


def _count(db, model) -> int:
    db.expire_all()
    return len(db.exec(select(model)).all())


def _page_as(client, member):
    client.post("/logout")
    login(client, member.email)
    return client


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("roles", ROLES)
def test_recording_an_assay_page_and_api_agree(client, seeded, api_token, status, roles):
    org, member = _member(seeded, roles=roles)
    headers = api_token(member.email)
    _set_status(seeded, org, status)
    assayer = roles in ("admin", "trader", "inspector")
    allowed = status == "verified" and assayer
    # Waiting for verification, an assayer sees the form and its banner; recording is refused.
    waiting = status == "unverified" and assayer
    api = client.post("/api/v1/assays", headers=headers, json=COPPER_ASSAY_JSON)
    page_form = _page_as(client, member).get("/assays/new")
    page = client.post("/assays/new", data=COPPER_ASSAY_FORM)
    assert (api.status_code, page_form.status_code, page.status_code) == (
        (201, 200, 302) if allowed else (403, 200, 403) if waiting else (403, 403, 403)
    )
    assert _count(seeded, Assay) == (2 if allowed else 0)


def test_an_unverified_organisations_procurement_officer_records_no_assay_by_api_or_page(
    client, seeded, api_token
):
    """The drift of issue 7: the API answered 201 where the page answered 403."""
    org, officer = _member(seeded, status="unverified", roles="officer")
    api = client.post("/api/v1/assays", headers=api_token(officer.email), json=COPPER_ASSAY_JSON)
    assert api.status_code == 403
    assert api.get_json()["detail"] == (
        "Only members of verified organisations may do this; "
        "the marketplace operator verifies organisations after sign-up."
    )
    login(client, officer.email)
    assert client.post("/assays/new", data=COPPER_ASSAY_FORM).status_code == 403
    assert _count(seeded, Assay) == 0


def _recorded_assay(client, db, api_token, org=None):
    """An assay of a verified recycler (recorded through the API by its admin)."""
    org, admin = _member(db, org=org)
    r = client.post("/api/v1/assays", headers=api_token(admin.email), json=COPPER_ASSAY_JSON)
    assert r.status_code == 201, r.get_json()
    return org, r.get_json()["id"]


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("roles", ROLES)
@pytest.mark.parametrize("owner", ["own", "other"])
def test_issuing_a_certificate_page_and_api_agree(client, seeded, api_token, status, roles, owner):
    org, assay_id = _recorded_assay(client, seeded, api_token)
    actor_org = org if owner == "own" else make_org(seeded, status="verified")
    _, member = _member(seeded, roles=roles, org=actor_org)
    headers = api_token(member.email)
    _set_status(seeded, actor_org, status)
    may_certify = status == "verified" and roles in ("admin", "inspector", "signatory")
    expected = (201, 302) if may_certify and owner == "own" else (404, 404)
    if not may_certify:
        expected = (403, 403)
    api = client.post(
        "/api/v1/certificates",
        headers=headers,
        json={"assay_id": assay_id, "standard": "ISRI-BIRCH-CLIFF", "version": 1},
    )
    page = _page_as(client, member).post(
        f"/assays/{assay_id}/certify", data={"grade": "ISRI-BIRCH-CLIFF:1"}
    )
    assert (api.status_code, page.status_code) == expected
    assert _count(seeded, Certificate) == (2 if expected[0] == 201 else 0)


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("owner", ["own", "other"])
def test_reading_an_assay_page_and_api_agree_own_organisation_in_any_state(
    client, seeded, api_token, status, owner
):
    org, assay_id = _recorded_assay(client, seeded, api_token)
    reader_org = org if owner == "own" else make_org(seeded)
    _, member = _member(seeded, roles="officer", org=reader_org)
    headers = api_token(member.email)
    _set_status(seeded, reader_org, status)
    api = client.get(f"/api/v1/assays/{assay_id}", headers=headers)
    page = _page_as(client, member).get(f"/assays/{assay_id}")
    listing = client.get("/assays").get_data(as_text=True)
    expected = 200 if owner == "own" else 404
    assert (api.status_code, page.status_code) == (expected, expected)
    assert ("KWG-2026-10-A" in listing) == (owner == "own")
    if owner == "other":
        assert api.get_json()["detail"] == "No such assay."


@pytest.mark.parametrize(
    ("status", "roles", "owner", "expected"),
    [
        ("verified", "inspector", "own", 302),
        ("verified", "trader", "own", 302),
        ("verified", "signatory", "own", 403),
        ("unverified", "inspector", "own", 403),
        ("verified", "inspector", "other", 404),
    ],
)
def test_saving_inspections_needs_an_assaying_role_of_the_verified_owner(
    client, seeded, api_token, status, roles, owner, expected
):
    org, assay_id = _recorded_assay(client, seeded, api_token)
    actor_org = org if owner == "own" else make_org(seeded)
    _, member = _member(seeded, roles=roles, org=actor_org)
    _set_status(seeded, actor_org, status)
    r = _page_as(client, member).post(
        f"/assays/{assay_id}/inspections", data={"req-no_brass": "no"}
    )
    assert r.status_code == expected
    seeded.expire_all()
    evidence = seeded.get(Assay, assay_id).evidence_json
    assert ('"no_brass": false' in evidence) == (expected == 302)


def test_reading_a_certificate_page_is_for_the_issuer_while_verification_is_public(
    client, seeded, api_token
):
    org, assay_id = _recorded_assay(client, seeded, api_token)
    _, admin = _member(seeded, org=org)
    r = client.post(
        "/api/v1/certificates",
        headers=api_token(admin.email),
        json={"assay_id": assay_id, "standard": "ISRI-BIRCH-CLIFF"},
    )
    cert_id = r.get_json()["id"]
    _, colleague = _member(seeded, roles="officer", org=org)
    assert _page_as(client, colleague).get(f"/certificates/{cert_id}").status_code == 200
    _, stranger = _member(seeded)
    assert _page_as(client, stranger).get(f"/certificates/{cert_id}").status_code == 404
    client.post("/logout")
    assert client.get(f"/verify/{cert_id}").status_code == 200
    assert client.get(f"/api/v1/certificates/{cert_id}").get_json()["genuine"] is True


# --- standard-setting pages -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind", "allowed"),
    [
        ("verified", "recycler", True),
        ("verified", "agency", True),
        ("unverified", "recycler", False),
        ("suspended", "manufacturer", False),
    ],
)
def test_proposal_forms_are_for_verified_organisations_even_when_only_shown(
    client, seeded, status, kind, allowed
):
    org = make_org(seeded, kind=kind, status=status)
    login(client, make_member(seeded, org, roles="trader").email)
    # Waiting for verification, the forms show with the banner saying why proposing waits.
    expected = 200 if allowed or status == "unverified" else 403
    for url in ("/standards/new", "/standards/RPET-FLAKE-A/revise"):
        r = client.get(url)
        assert r.status_code == expected
        banner = "Your organisation is not verified yet" in r.get_data(as_text=True)
        assert banner == (status == "unverified")
    page = client.get("/standards").get_data(as_text=True)
    assert ("Propose a new standard" in page) == allowed


def test_an_unverified_organisation_cannot_post_a_proposal_and_nothing_is_written(client, seeded):
    from quality.models import StandardVersion

    org = make_org(seeded, status="unverified")
    login(client, make_member(seeded, org).email)
    r = client.post(
        "/standards/RPET-FLAKE-A/revise",
        data={"decision_rule": "simple", "spec": '{"limits": []}', "change_note": "x"},
    )
    assert r.status_code == 403
    assert _count(seeded, StandardVersion) == len(
        seeded.exec(select(StandardVersion).where(StandardVersion.number == 1)).all()
    )


def test_only_the_proposer_opens_the_edit_form_of_its_draft(client, seeded):
    _, proposer = _member(seeded, roles="trader")
    login(client, proposer.email)
    page = client.get("/standards/RPET-FLAKE-A/revise").get_data(as_text=True)
    import html
    import re

    spec = html.unescape(re.search(r'name="spec"[^>]*>(.*?)</textarea>', page, re.S).group(1))
    r = client.post(
        "/standards/RPET-FLAKE-A/revise",
        data={"decision_rule": "guarded", "spec": spec, "change_note": "tighter PVC"},
    )
    assert r.status_code == 302
    assert client.get("/standards/RPET-FLAKE-A/v2/edit").status_code == 200
    assert "Edit the draft" in client.get("/standards/RPET-FLAKE-A/v2").get_data(as_text=True)
    _, stranger = _member(seeded)
    _page_as(client, stranger)
    assert client.get("/standards/RPET-FLAKE-A/v2/edit").status_code == 403
    assert "Edit the draft" not in client.get("/standards/RPET-FLAKE-A/v2").get_data(as_text=True)
    r = client.post(
        "/standards/RPET-FLAKE-A/v2/edit",
        data={"decision_rule": "simple", "spec": spec, "change_note": "mine now"},
    )
    assert r.status_code == 403
    assert client.post("/standards/RPET-FLAKE-A/v2/withdraw").status_code == 403


def test_consultation_page_shows_each_member_only_the_forms_it_may_use(client, seeded):
    _, proposer = _member(seeded, roles="trader")
    login(client, proposer.email)
    page = client.get("/standards/RPET-FLAKE-A/revise").get_data(as_text=True)
    import html
    import re

    spec = html.unescape(re.search(r'name="spec"[^>]*>(.*?)</textarea>', page, re.S).group(1))
    client.post(
        "/standards/RPET-FLAKE-A/revise",
        data={"decision_rule": "guarded", "spec": spec, "change_note": "tighter PVC"},
    )
    page = client.get("/standards/RPET-FLAKE-A/v2/consultation").get_data(as_text=True)
    assert "Withdraw this version" in page and "Open the consultation" not in page
    _, body = _member(seeded, roles="admin")
    body_org = seeded.get(Organization, body.organization_id)
    body_org.kind = "standards_body"
    seeded.add(body_org)
    seeded.commit()
    page = _page_as(client, body).get("/standards/RPET-FLAKE-A/v2/consultation")
    assert "Open the consultation" in page.get_data(as_text=True)
    _, unverified_body = _member(seeded, status="unverified")
    other = seeded.get(Organization, unverified_body.organization_id)
    other.kind = "standards_body"
    seeded.add(other)
    seeded.commit()
    page = _page_as(client, unverified_body).get("/standards/RPET-FLAKE-A/v2/consultation")
    assert "Open the consultation" not in page.get_data(as_text=True)
    r = client.post("/standards/RPET-FLAKE-A/v2/open", data={"ends_on": "2099-01-01"})
    assert r.status_code == 403
