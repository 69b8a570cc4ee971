"""Odd input to the quality pages and API answers 4xx with a field message and writes nothing:
numbers out of bounds (1e99999), `true` for a number, control and bidi characters in text."""

import io

import pytest
from factories import login, make_member, make_org
from sqlmodel import select

from quality.catalogue import seed_catalogue
from quality.models import Assay, AssayResult, Certificate, GradeStandard

ASSAY = {
    "lot_ref": "KWG-2026-10-A",
    "material": "copper_scrap",
    "lab_name": "Japan Assay Centre",
    "sampled_on": "2026-10-01",
    "reported_on": "2026-10-03",
    "results": [{"parameter": "cu_pct", "value": "96.1", "uncertainty": "0.2"}],
}
FORM = {
    "lot_ref": "KWG-2026-10-A",
    "material": "copper_scrap",
    "lab_name": "Japan Assay Centre",
    "sampled_on": "2026-10-01",
    "reported_on": "2026-10-03",
    "results-0-parameter": "cu_pct",
    "results-0-value": "96.1",
}


@pytest.fixture()
def member(db):
    seed_catalogue(db)
    db.commit()
    return make_member(db, make_org(db), roles="admin inspector")


@pytest.fixture()
def headers(member, api_token):
    return api_token(member.email)


def _nothing_written(db):
    db.expire_all()
    assert db.exec(select(Assay)).all() == [] and db.exec(select(AssayResult)).all() == []


def _result(value, uncertainty="0.2"):
    return {
        **ASSAY,
        "results": [{"parameter": "cu_pct", "value": value, "uncertainty": uncertainty}],
    }


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (_result("1e99999"), "results.0.value", "Enter a number."),
        (_result(1e300), "results.0.value", "The value must be at most 1000000000."),
        (_result(True), "results.0.value", "Enter a number."),
        (_result("96.1", True), "results.0.uncertainty", "Enter a number."),
        (_result("NaN"), "results.0.value", "Enter a number."),
        (_result("0.0000000000001"), "results.0.value", "At most 12 decimals."),
        ({**ASSAY, "tonnes": True}, "tonnes", "Enter a number."),
        ({**ASSAY, "tonnes": "1e99999"}, "tonnes", "Enter a number."),
        ({**ASSAY, "lab_accredited": "yes"}, "lab_accredited", "Choose yes or no."),
        (
            {**ASSAY, "lot_ref": "KWG\u202e1"},
            "lot_ref",
            "Remove control or text-direction characters from the text.",
        ),
        (
            {**ASSAY, "lab_name": "Lab\x00"},
            "lab_name",
            "Remove control or text-direction characters from the text.",
        ),
        ({**ASSAY, "method": "m" * 201}, "method", "At most 200 characters."),
        ({**ASSAY, "lot_ref": ""}, "lot_ref", "This field is required."),
        ({**ASSAY, "sampled_on": "2026-13-01"}, "sampled_on", "Enter a date as YYYY-MM-DD."),
        (
            {**ASSAY, "evidence": {"declared": {"colour": "red\u2066"}}},
            "evidence.declared.colour",
            "Remove control or text-direction characters from the text.",
        ),
        ({**ASSAY, "evidence": {"declared": {"smell": "odd"}}}, "evidence.declared.smell", None),
        (
            {**ASSAY, "evidence": {"inspections": {"no_brass": "yes"}}},
            "evidence.inspections.no_brass",
            "Choose yes or no.",
        ),
        ({**ASSAY, "csv": "parameter,value\ncu_pct,1\u202e\n"}, "csv", None),
    ],
)
def test_odd_assay_input_by_api_is_a_field_error_and_writes_nothing(
    client, db, headers, body, field, message
):
    r = client.post("/api/v1/assays", headers=headers, json=body)
    assert r.status_code == 422, r.get_json()
    assert r.content_type == "application/problem+json"
    error = r.get_json()["errors"][0]
    assert error["field"] == field
    if message:
        assert error["message"] == message
    _nothing_written(db)


def test_a_json_number_too_large_for_a_float_is_refused(client, db, headers):
    raw = (
        '{"lot_ref": "L", "material": "copper_scrap", "lab_name": "Lab",'
        ' "sampled_on": "2026-10-01", "reported_on": "2026-10-03",'
        ' "results": [{"parameter": "cu_pct", "value": 1e99999}]}'
    )
    r = client.post("/api/v1/assays", headers=headers, data=raw, content_type="application/json")
    assert r.status_code == 422
    assert r.get_json()["errors"][0] == {"field": "results.0.value", "message": "Enter a number."}
    _nothing_written(db)


def test_a_csv_with_one_bad_value_among_good_rows_writes_no_row(client, db, headers):
    body = {
        **ASSAY,
        "csv": "parameter,value,uncertainty\ncu_pct,96.1,0.2\nfe_pct,1e99999,\npb_pct,true,\n",
    }
    body.pop("results")
    r = client.post("/api/v1/assays", headers=headers, json=body)
    assert r.status_code == 422
    assert r.get_json()["errors"] == [
        {"row": 3, "field": "fe_pct", "message": "The value of fe_pct must be a decimal number."},
        {"row": 4, "field": "pb_pct", "message": "The value of pb_pct must be a decimal number."},
    ]
    _nothing_written(db)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/assessments", {"standard": "ISRI-18-8", "results": [{"parameter": "ni_pct", "value": "1e99999"}]}, "results.0.value"),
        ("/api/v1/assessments", {"standard": "ISRI-18-8", "version": True, "results": [{"parameter": "ni_pct", "value": "7"}]}, "version"),
        ("/api/v1/assessments", {"standard": "ISRI\u202e", "results": [{"parameter": "ni_pct", "value": "7"}]}, "standard"),
        ("/api/v1/certificates", {"assay_id": True, "standard": "ISRI-BIRCH-CLIFF"}, "assay_id"),
        ("/api/v1/certificates", {"assay_id": 1, "standard": "ISRI-BIRCH-CLIFF", "tonnes": "1e99999"}, "tonnes"),
        ("/api/v1/certificates", {"assay_id": 1, "standard": "X\x00"}, "standard"),
        ("/api/v1/assay-settlements", {"parameter": "cu_pct", "seller": True, "buyer": "1", "splitting_limit": "0.1"}, "seller"),
        ("/api/v1/assay-settlements", {"parameter": "cu_pct", "seller": "1", "buyer": "1e99999", "splitting_limit": "0.1"}, "buyer"),
        ("/api/v1/assay-settlements", {"parameter": "cu\u202e", "seller": "1", "buyer": "1", "splitting_limit": "0.1"}, "parameter"),
    ],
)  # fmt: skip
def test_odd_numbers_and_text_in_other_quality_bodies_are_field_errors(
    client, db, headers, path, body, field
):
    r = client.post(path, headers=headers, json=body)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["errors"][0]["field"] == field
    assert db.exec(select(Certificate)).all() == []


@pytest.mark.parametrize(
    ("query", "status"),
    [("family=gold", 400), ("per_page=1000", 400), ("page=0", 400), ("family=metal", 200)],
)
def test_material_list_query_is_validated(client, db, query, status):
    seed_catalogue(db)
    db.commit()
    assert client.get(f"/api/v1/materials?{query}").status_code == status


def test_standard_list_filters_by_status_in_the_database(client, db):
    seed_catalogue(db)
    db.add(GradeStandard(code="DRAFT-ONLY", material_code="pp", name_en="D", name_ja="D"))
    db.commit()
    assert client.get("/api/v1/standards?status=nonsense").status_code == 400
    body = client.get("/api/v1/standards?status=published&per_page=100").get_json()
    assert body["total"] == 25 and all(s["status"] == "published" for s in body["items"])
    assert client.get("/api/v1/standards?status=draft").get_json()["total"] == 0


# --- pages ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"results-0-value": "1e99999"}, "Row 1: The value of cu_pct must be a decimal number."),
        ({"results-0-value": "true"}, "Row 1: The value of cu_pct must be a decimal number."),
        (
            {"results-0-value": "10000000000"},
            "Row 1: The value of cu_pct is out of range (at most 10^9, twelve decimals).",
        ),
        ({"lot_ref": "KWG\u202e1"}, "Remove control or text-direction characters from the text."),
        ({"lab_name": "L" * 201}, "At most 200 characters."),
        ({"tonnes": "1e99999"}, "Enter a number."),
        ({"tonnes": "0"}, "Tonnes must be a positive number."),
        ({"colour": "red\x07"}, "Remove control or text-direction characters from the text."),
    ],
)
def test_odd_input_in_the_assay_form_is_shown_and_nothing_is_written(
    client, db, member, changes, message
):
    login(client, member.email)
    r = client.post("/assays/new", data={**FORM, **changes})
    assert r.status_code == 422
    assert message in r.get_data(as_text=True)
    _nothing_written(db)


def test_a_csv_upload_with_bidi_characters_or_not_utf8_is_refused(client, db, member):
    login(client, member.email)
    data = {k: v for k, v in FORM.items() if not k.startswith("results")}
    bidi = "parameter,value\ncu_pct,96\u202e1\n".encode()
    r = client.post(
        "/assays/new",
        data={**data, "csv": (io.BytesIO(bidi), "a.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422
    assert "Remove control or text-direction characters" in r.get_data(as_text=True)
    r = client.post(
        "/assays/new",
        data={**data, "csv": (io.BytesIO(b"parameter,value\ncu_pct,\xff\n"), "a.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422
    assert "The CSV file must be UTF-8 text." in r.get_data(as_text=True)
    _nothing_written(db)


def test_odd_inspection_and_grade_values_posted_to_an_assay_are_client_errors(
    client, db, member, headers
):
    assay = client.post("/api/v1/assays", headers=headers, json=ASSAY).get_json()
    login(client, member.email)
    long_code = {f"req-{'x' * 100}": "yes"}
    assert client.post(f"/assays/{assay['id']}/inspections", data=long_code).status_code == 422
    bidi = {"req-no_brass\u202e": "yes"}
    assert client.post(f"/assays/{assay['id']}/inspections", data=bidi).status_code == 422
    for grade in ("nonsense", "ISRI-BIRCH-CLIFF:99999999999999999999", ":1"):
        r = client.post(f"/assays/{assay['id']}/certify", data={"grade": grade})
        assert r.status_code == 400, grade
    r = client.get(f"/assays/{assay['id']}?grade=ISRI-BIRCH-CLIFF:x")
    assert r.status_code == 404
    assert db.exec(select(Certificate)).all() == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name_en": "evil\u202etxt"}, "Remove control or text-direction characters"),
        ({"code": "NEW-\x00"}, "Remove control or text-direction characters"),
        ({"spec": "{oops"}, "The specification is not valid JSON."),
        ({"spec": '{"limits": [{"parameter": "pvc_ppm", "kind": "max", "max": "1e99999"}]}'}, "Enter a number."),
        ({"spec": '{"limits": [{"parameter": "pvc_ppm", "kind": "max", "max": true}]}'}, "Enter a number."),
        ({"rank": "1e99999"}, "Not a valid integer value."),
        ({"change_note": "bidi \u2066 isolate"}, "Remove control or text-direction characters"),
    ],
)  # fmt: skip
def test_odd_input_in_a_standard_proposal_is_shown_and_nothing_is_written(
    client, db, member, changes, message
):
    login(client, member.email)
    form = {
        "code": "NEW-GRADE",
        "material": "pet",
        "name_en": "New",
        "name_ja": "新",
        "rank": "3",
        "decision_rule": "simple",
        "spec": '{"limits": [{"parameter": "pvc_ppm", "kind": "max", "max": "30"}]}',
        **changes,
    }
    r = client.post("/standards/new", data=form)
    assert r.status_code == 422
    assert message in r.get_data(as_text=True)
    assert db.exec(select(GradeStandard).where(GradeStandard.code == "NEW-GRADE")).all() == []


def test_a_consultation_comment_with_bidi_characters_is_refused(client, db, member):
    from datetime import date, timedelta

    from factories import as_actor

    from quality.standards import ConsultationOpening, StandardRevision, open_consultation
    from quality.standards import propose_revision as revise

    actor = as_actor(db, member)
    body = as_actor(db, make_member(db, make_org(db, kind="standards_body")))
    version = revise(
        db,
        actor,
        "ISRI-18-8",
        StandardRevision(
            spec={"limits": [{"parameter": "ni_pct", "kind": "min", "min": "8"}]},
            change_note="more nickel",
        ),
    )
    ends = ConsultationOpening(ends_on=date.today() + timedelta(days=10))
    open_consultation(db, body, version, ends)
    db.commit()
    login(client, member.email)
    r = client.post(
        "/standards/ISRI-18-8/v2/respond", data={"position": "object", "comment": "a\u202eb"}
    )
    assert r.status_code == 422
    assert "Remove control or text-direction characters" in r.get_data(as_text=True)
    r = client.post("/standards/ISRI-18-8/v2/respond", data={"position": "object", "comment": ""})
    assert r.status_code == 422 and "Give your reasons in a comment." in r.get_data(as_text=True)
