"""Quality JSON API: catalogue, assessments (stores nothing), assays, certificates."""

from factories import COPPER_ASSAY_JSON, make_member, make_org
from sqlmodel import select

from quality.catalogue import seed_catalogue
from quality.models import Assay, AssayResult, Certificate

AT_LIMITS = [
    {"parameter": "ni_pct", "value": "7.00", "uncertainty": "0.05"},
    {"parameter": "cr_pct", "value": "16.0"},
    {"parameter": "mo_pct", "value": "0.50"},
    {"parameter": "cu_pct", "value": "0.50"},
    {"parameter": "p_pct", "value": "0.045"},
    {"parameter": "s_pct", "value": "0.03"},
]


def _setup(db, api_token, kind="recycler"):
    seed_catalogue(db)
    db.commit()
    org = make_org(db, kind=kind)
    member = make_member(db, org)
    return org, api_token(member.email)


def test_materials_and_standards_are_listed_with_latest_published_version(client, db):
    seed_catalogue(db)
    db.commit()
    materials = client.get("/api/v1/materials").get_json()["items"]
    copper = next(m for m in materials if m["code"] == "copper_scrap")
    assert {k: v for k, v in copper.items() if k != "export_regime"} == {
        "code": "copper_scrap",
        "family": "metal",
        "name_en": "Copper scrap",
        "name_ja": "銅スクラップ",
        "critical": True,
    }
    assert [r["route"] for r in copper["export_regime"]["routes"]] == ["not_waste", "basel_act"]
    items = client.get("/api/v1/standards?material=hdpe").get_json()["items"]
    assert [(s["code"], s["status"], s["latest_published_version"]) for s in items] == [
        ("HDPE-NAT-A", "published", 1),
        ("HDPE-NAT-B", "published", 1),
        ("HDPE-NAT-C", "published", 1),
    ]


def test_a_version_lists_limits_with_units_and_its_source(client, db):
    seed_catalogue(db)
    db.commit()
    body = client.get("/api/v1/standards/RPET-FLAKE-A/versions/1").get_json()
    assert body["source"] == "supplier specifications (several) (approx)"
    assert body["decision_rule"] == "guarded" and body["effective_from"] == "2024-01-01"
    pvc = next(x for x in body["limits"] if x["parameter"] == "pvc_ppm")
    assert (pvc["kind"], pvc["max"], pvc["unit"]) == ("max", "50", "ppm")
    r = client.get("/api/v1/standards/RPET-FLAKE-A/versions/9")
    assert r.status_code == 404
    assert r.get_json()["detail"] == "Grade standard RPET-FLAKE-A has no version 9."


def test_assessment_exactly_at_every_limit_conforms_and_stores_nothing(client, db, api_token):
    _, headers = _setup(db, api_token)
    r = client.post(
        "/api/v1/assessments", headers=headers, json={"standard": "ISRI-18-8", "results": AT_LIMITS}
    )
    assert r.status_code == 200
    body = r.get_json()
    assert body["result"] == "conforms" and body["best_grade"] == "ISRI-18-8"
    assert body["version"] == 1 and body["adjustment_jpy_per_t"] == 0
    assert body["limits"][0] == {
        "parameter": "ni_pct",
        "value": "7.00",
        "passed": True,
        "margin": "0.00",
        "action": None,
        "deduction_jpy_per_t": 0,
    }
    assert db.exec(select(Assay)).all() == []


def test_just_over_a_limit_rejects(client, db, api_token):
    _, headers = _setup(db, api_token)
    results = [*AT_LIMITS[:5], {"parameter": "s_pct", "value": "0.031"}]
    body = client.post(
        "/api/v1/assessments",
        headers=headers,
        json={"standard": "ISRI-18-8", "version": 1, "results": results},
    ).get_json()
    assert body["result"] == "rejected" and body["best_grade"] is None
    assert body["limits"][-1] == {
        "parameter": "s_pct",
        "value": "0.031",
        "passed": False,
        "margin": "-0.001",
        "action": "reject",
        "deduction_jpy_per_t": 0,
    }


def test_uncertainty_counts_under_the_guarded_rule_only(client, db, api_token):
    _, headers = _setup(db, api_token)
    rpet = [
        {"parameter": "iv_dl_g", "value": "0.76", "uncertainty": "0.01"},
        {"parameter": "moisture_pct", "value": "0.5"},
        {"parameter": "pvc_ppm", "value": "48", "uncertainty": "3"},
        {"parameter": "pe_pp_ppm", "value": "10"},
        {"parameter": "metal_ppm", "value": "10"},
        {"parameter": "glue_ppm", "value": "10"},
    ]
    guarded = client.post(
        "/api/v1/assessments", headers=headers, json={"standard": "RPET-FLAKE-A", "results": rpet}
    ).get_json()
    pvc = next(x for x in guarded["limits"] if x["parameter"] == "pvc_ppm")
    assert guarded["result"] == "rejected" and pvc["margin"] == "-1"
    # the same 48 ± 3 ppm under the simple rule of 18-8's kind would pass: simple compares 48
    simple = client.post(
        "/api/v1/assessments",
        headers=headers,
        json={
            "standard": "ISRI-18-8",
            "results": [
                *AT_LIMITS[1:],
                {"parameter": "ni_pct", "value": "7.00", "uncertainty": "3"},
            ],
        },
    ).get_json()
    assert simple["result"] == "conforms"


def test_deductions_are_integer_yen_per_tonne(client, db, api_token):
    _, headers = _setup(db, api_token)
    body = client.post(
        "/api/v1/assessments",
        headers=headers,
        json={
            "standard": "ISRI-BIRCH-CLIFF",
            "results": [{"parameter": "cu_pct", "value": "93.5"}],
            "inspections": [
                {"requirement": c, "passed": True}
                for c in ("no_brass", "no_excess_oil", "no_insulation", "no_burnt_brittle_wire")
            ],
        },
    ).get_json()
    assert body["result"] == "conforms_with_deductions"
    assert body["adjustment_jpy_per_t"] == -7500
    assert body["limits"][0]["action"] == "deduct"


def test_bad_assessment_input_gives_clear_messages(client, db, api_token):
    _, headers = _setup(db, api_token)

    def post(body):
        return client.post("/api/v1/assessments", headers=headers, json=body)

    r = post({"standard": "NOPE", "results": AT_LIMITS})
    assert r.status_code == 404 and r.get_json()["detail"] == "Unknown grade standard NOPE."
    cases = [
        ([{"parameter": "xx_pct", "value": "1"}], "Unknown parameter xx_pct."),
        ([{"parameter": "ni_pct", "value": "-7"}], "The value of ni_pct must be zero or more."),
        (
            [{"parameter": "ni_pct", "value": "7", "unit": "ppm"}],
            "ni_pct is measured in wt %, not ppm.",
        ),
        (
            [{"parameter": "ni_pct", "value": "7"}, {"parameter": "ni_pct", "value": "8"}],
            "Parameter ni_pct is given more than once.",
        ),
    ]
    for results, message in cases:
        r = post({"standard": "ISRI-18-8", "results": results})
        assert r.status_code == 422, results
        assert r.content_type == "application/problem+json"
        assert r.get_json()["errors"][0]["message"] == message
    r = post({"standard": "ISRI-18-8", "results": [{"parameter": "ni_pct", "value": "abc"}]})
    assert r.status_code == 422
    assert r.get_json()["errors"] == [{"field": "results.0.value", "message": "Enter a number."}]
    r = post(
        {
            "standard": "ISRI-18-8",
            "results": AT_LIMITS,
            "inspections": [{"requirement": "no_dragons", "passed": True}],
        }
    )
    assert r.get_json()["detail"] == "Unknown requirement no_dragons."
    assert post({"standard": "ISRI-18-8", "results": []}).status_code == 422
    unauth = client.post(
        "/api/v1/assessments", json={"standard": "ISRI-18-8", "results": AT_LIMITS}
    )
    assert unauth.status_code == 401


def test_an_uncertainty_not_stated_is_null_in_the_api(client, db, api_token):
    org, headers = _setup(db, api_token)
    body = {**COPPER_ASSAY_JSON, "results": [{"parameter": "cu_pct", "value": "96.1"}]}
    assay = client.post("/api/v1/assays", headers=headers, json=body).get_json()
    assert assay["results"] == [{"parameter": "cu_pct", "value": "96.1", "uncertainty": None}]
    again = client.get(f"/api/v1/assays/{assay['id']}", headers=headers).get_json()
    assert again["results"][0]["uncertainty"] is None


def test_assay_by_json_then_certificate_verifies_publicly(client, db, api_token):
    org, headers = _setup(db, api_token)
    r = client.post("/api/v1/assays", headers=headers, json=COPPER_ASSAY_JSON)
    assert r.status_code == 201, r.get_json()
    assay = r.get_json()
    assert assay["tonnes"] == "24.500" and assay["data_quality_level"] == 3
    assert assay["results"] == [{"parameter": "cu_pct", "value": "96.1", "uncertainty": "0.2"}]
    r = client.post(
        "/api/v1/certificates",
        headers=headers,
        json={"assay_id": assay["id"], "standard": "ISRI-BIRCH-CLIFF"},
    )
    assert r.status_code == 201
    cert = r.get_json()
    assert cert["genuine"] and cert["content"]["grade"] == "ISRI-BIRCH-CLIFF"
    public = client.get(f"/api/v1/certificates/{cert['id']}").get_json()
    assert public["genuine"] is True and public["sha256"] == cert["sha256"]
    stored = db.get(Certificate, cert["id"])
    stored.content_json = stored.content_json.replace("ISRI-BIRCH-CLIFF", "EU-EOW-CU")
    db.add(stored)
    db.commit()
    assert client.get(f"/api/v1/certificates/{cert['id']}").get_json()["genuine"] is False
    other = api_token(make_member(db, make_org(db)).email)
    assert client.get(f"/api/v1/assays/{assay['id']}", headers=other).status_code == 404
    r = client.post(
        "/api/v1/certificates",
        headers=other,
        json={"assay_id": assay["id"], "standard": "ISRI-BIRCH-CLIFF"},
    )
    assert r.status_code == 404


def test_assay_csv_with_bad_rows_lists_each_row_and_writes_nothing(client, db, api_token):
    _, headers = _setup(db, api_token)
    body = {
        **COPPER_ASSAY_JSON,
        "results": None,
        "csv": "parameter,value,uncertainty\ncu_pct,abc,\nzz_pct,1,\n",
    }
    body.pop("results")
    r = client.post("/api/v1/assays", headers=headers, json=body)
    assert r.status_code == 422
    assert r.get_json()["errors"] == [
        {"row": 2, "field": "cu_pct", "message": "The value of cu_pct must be a decimal number."},
        {"row": 3, "field": "zz_pct", "message": "Unknown parameter zz_pct."},
    ]
    assert db.exec(select(Assay)).all() == [] and db.exec(select(AssayResult)).all() == []


def test_certificate_for_a_rejected_lot_is_refused(client, db, api_token):
    _, headers = _setup(db, api_token)
    low = {**COPPER_ASSAY_JSON, "results": [{"parameter": "cu_pct", "value": "91"}]}
    assay = client.post("/api/v1/assays", headers=headers, json=low).get_json()
    r = client.post(
        "/api/v1/certificates",
        headers=headers,
        json={"assay_id": assay["id"], "standard": "ISRI-BIRCH-CLIFF"},
    )
    assert r.status_code == 409
    assert r.get_json()["detail"] == (
        "Only a lot that conforms to the grade can be certified (outcome: rejected)."
    )
    assert db.exec(select(Certificate)).all() == []


def test_openapi_documents_the_quality_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/materials",
        "/standards",
        "/standards/{code}/versions/{number}",
        "/assessments",
        "/assays",
        "/certificates",
        "/certificates/{cert_id}",
    ):
        assert path in paths, path


def test_certificates_by_api_need_a_certifying_role_and_a_verified_organisation(
    client, db, api_token
):
    org, headers = _setup(db, api_token)
    assay = client.post("/api/v1/assays", headers=headers, json=COPPER_ASSAY_JSON).get_json()
    body = {"assay_id": assay["id"], "standard": "ISRI-BIRCH-CLIFF"}
    trader = api_token(make_member(db, org, roles="trader").email)
    r = client.post("/api/v1/certificates", headers=trader, json=body)
    assert r.status_code == 403
    assert "inspectors and signatories" in r.get_json()["detail"]
    org.status = "unverified"
    db.add(org)
    db.commit()
    r = client.post("/api/v1/certificates", headers=headers, json=body)
    assert r.status_code == 403 and "verified" in r.get_json()["detail"]
    assert db.exec(select(Certificate)).all() == []
