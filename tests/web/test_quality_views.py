"""Quality pages: browsing with sources, consultation, assays by form and CSV, certificates."""

import html
import io
import json
import re
from datetime import date, timedelta

from factories import login, make_member, make_org
from sqlmodel import select

from quality.catalogue import seed_catalogue
from quality.models import Assay, Certificate, StandardVersion

COPPER_FORM = {
    "lot_ref": "KWG-2026-10-A",
    "material": "copper_scrap",
    "tonnes": "24.5",
    "lab_name": "Japan Assay Centre",
    "lab_accredited": "y",
    "method": "JIS H 1051",
    "sampled_on": "2026-10-01",
    "reported_on": "2026-10-03",
    "composition": "No.2 copper",
    "results-0-parameter": "cu_pct",
    "results-0-value": "93.5",
    "results-0-uncertainty": "0.2",
}
REQUIREMENTS = ("no_brass", "no_excess_oil", "no_insulation", "no_burnt_brittle_wire")


def _seeded(db):
    seed_catalogue(db)
    db.commit()


def _member(db, kind="recycler", roles="admin trader signatory inspector"):
    org = make_org(db, kind=kind)
    return org, make_member(db, org, roles=roles)


def test_materials_and_standards_pages_show_sources_and_filters(client, db):
    _seeded(db)
    assert "Copper scrap" in client.get("/materials").get_data(as_text=True)
    page = client.get("/standards?family=battery").get_data(as_text=True)
    assert "BM-NCM-EU" in page and "ISRI-18-8" not in page
    version = client.get("/standards/ISRI-18-8/v1").get_data(as_text=True)
    assert "ISRI circular" in version and "≤ 0.045" in version and "wt %" in version
    assert client.get("/standards/NOPE").status_code == 404


def test_assay_form_shows_the_same_assessment_as_the_api(client, db, api_token):
    _seeded(db)
    org, member = _member(db)
    login(client, member.email)
    r = client.post("/assays/new", data=COPPER_FORM)
    assert r.status_code == 302, r.get_data(as_text=True)
    assay = db.exec(select(Assay)).one()
    client.post(
        f"/assays/{assay.id}/inspections",
        data={f"req-{c}": "yes" for c in REQUIREMENTS} | {"grade": "ISRI-BIRCH-CLIFF:1"},
    )
    page = client.get(f"/assays/{assay.id}?grade=ISRI-BIRCH-CLIFF:1").get_data(as_text=True)
    api = client.post(
        "/api/v1/assessments",
        headers=api_token(member.email),
        json={
            "standard": "ISRI-BIRCH-CLIFF",
            "version": 1,
            "results": [{"parameter": "cu_pct", "value": "93.5", "uncertainty": "0.2"}],
            "inspections": [{"requirement": c, "passed": True} for c in REQUIREMENTS],
        },
    ).get_json()
    assert f'data-outcome="{api["result"]}"' in page
    assert f'<span id="adjustment">{api["adjustment_jpy_per_t"]}</span>' in page
    assert api["adjustment_jpy_per_t"] == -7500
    assert "Level 3 of 4" in page


def test_assays_are_visible_only_to_their_organisation(client, db):
    _seeded(db)
    _, member = _member(db)
    login(client, member.email)
    client.post("/assays/new", data=COPPER_FORM)
    assay = db.exec(select(Assay)).one()
    client.post("/logout")
    _, stranger = _member(db)
    login(client, stranger.email)
    assert client.get(f"/assays/{assay.id}").status_code == 404
    assert "KWG-2026-10-A" not in client.get("/assays").get_data(as_text=True)


def test_csv_upload_with_bad_rows_lists_each_row_and_saves_nothing(client, db):
    _seeded(db)
    _, member = _member(db)
    login(client, member.email)
    data = {k: v for k, v in COPPER_FORM.items() if not k.startswith("results")}
    data["csv"] = (io.BytesIO(b"parameter,value,unit\ncu_pct,x,\nfe_pct,1,ppm\n"), "a.csv")
    r = client.post("/assays/new", data=data, content_type="multipart/form-data")
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "Row 2: The value of cu_pct must be a decimal number." in page
    assert "Row 3: fe_pct is measured in wt %, not ppm." in page
    assert db.exec(select(Assay)).all() == []


def test_certificate_is_issued_printable_and_verifies_publicly_until_tampered(client, db):
    _seeded(db)
    _, member = _member(db)
    login(client, member.email)
    form = dict(COPPER_FORM, **{"results-0-value": "96.1"})
    client.post("/assays/new", data=form)
    assay = db.exec(select(Assay)).one()
    client.post(f"/assays/{assay.id}/inspections", data={f"req-{c}": "yes" for c in REQUIREMENTS})
    r = client.post(f"/assays/{assay.id}/certify", data={"grade": "ISRI-BIRCH-CLIFF:1"})
    assert r.status_code == 302
    cert = db.exec(select(Certificate)).one()
    assert "Grade certificate" in client.get(f"/certificates/{cert.id}").get_data(as_text=True)
    client.post("/logout")
    page = client.get(f"/verify/{cert.id}").get_data(as_text=True)
    assert "Genuine" in page and "ISRI-BIRCH-CLIFF" in page and "24.500" in page
    assert "yen" not in page.lower()
    assert client.get(f"/certificates/{cert.id}").status_code in (302, 401)
    cert.content_json = cert.content_json.replace('"24.500"', '"99.000"')
    db.add(cert)
    db.commit()
    page = client.get(f"/verify/{cert.id}").get_data(as_text=True)
    assert "Not genuine" in page and "99.000" not in page
    assert client.get("/verify/unknown").status_code == 404


def test_consultation_from_proposal_to_publication_with_tally_by_kind(client, db):
    _seeded(db)
    _, recycler = _member(db)
    login(client, recycler.email)
    page = client.get("/standards/RPET-FLAKE-A/revise").get_data(as_text=True)
    spec = re.search(r'<textarea[^>]*name="spec"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    data = json.loads(html.unescape(spec))
    next(x for x in data["limits"] if x["parameter"] == "pvc_ppm")["max"] = "40"
    spec = json.dumps(data)
    r = client.post(
        "/standards/RPET-FLAKE-A/revise",
        data={
            "decision_rule": "guarded",
            "spec": spec,
            "source": "council",
            "change_note": "PVC 40",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    diff = client.get("/standards/RPET-FLAKE-A/diff?a=1&b=2").get_data(as_text=True)
    assert "pvc_ppm" in diff and "≤ 40 (reject)" in diff and "iv_dl_g" not in diff
    # a recycler may not open the consultation
    assert (
        client.post("/standards/RPET-FLAKE-A/v2/open", data={"ends_on": "2099-01-01"}).status_code
        == 403
    )
    client.post("/logout")
    _, body = _member(db, kind="standards_body", roles="admin")
    login(client, body.email)
    ends = (date.today() + timedelta(days=30)).isoformat()
    assert client.post("/standards/RPET-FLAKE-A/v2/open", data={"ends_on": ends}).status_code == 302
    client.post("/logout")
    for kind, position, comment in [
        ("recycler", "object", "cost"),
        ("manufacturer", "endorse", ""),
        ("agency", "comment", "bale prices?"),
    ]:
        _, m = _member(db, kind=kind, roles="admin")
        login(client, m.email)
        r = client.post(
            "/standards/RPET-FLAKE-A/v2/respond", data={"position": position, "comment": comment}
        )
        assert r.status_code == 302
        client.post("/logout")
    login(client, body.email)
    page = client.get("/standards/RPET-FLAKE-A/v2/consultation").get_data(as_text=True)
    assert "Public agency" in page and "Manufacturer" in page and "cost" in page
    r = client.post(
        "/standards/RPET-FLAKE-A/v2/publish",
        data={"effective_from": "2026-04-01", "justification": "Recall deadline."},
    )
    assert r.status_code == 302
    v2 = db.exec(select(StandardVersion).where(StandardVersion.number == 2)).one()
    db.refresh(v2)
    assert v2.status == "published"


def test_editing_a_published_version_is_refused_with_409(client, db):
    _seeded(db)
    _, member = _member(db)
    login(client, member.email)
    r = client.post(
        "/standards/ISRI-18-8/v1/edit",
        data={"decision_rule": "simple", "spec": '{"limits": []}', "change_note": "x"},
    )
    assert r.status_code == 409
    assert "Version 1 of ISRI-18-8 is published and can no longer be changed." in r.get_data(
        as_text=True
    )
