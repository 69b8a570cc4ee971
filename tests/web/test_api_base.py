"""JSON API base: tokens, problem details, pagination, OpenAPI."""

import pytest
from factories import PASSWORD, login, make_member, make_org
from sqlmodel import select

from participants.models import ApiToken


def test_token_me_and_revocation(client, db):
    org = make_org(db, name_en="Sai-no-Kuni Metal")
    member = make_member(db, org, roles="admin signatory")
    r = client.post("/api/v1/tokens", json={"email": member.email, "password": PASSWORD})
    assert r.status_code == 201
    headers = {"Authorization": f"Bearer {r.get_json()['token']}"}
    me = client.get("/api/v1/me", headers=headers).get_json()
    assert me["email"] == member.email
    assert me["roles"] == ["admin", "signatory"]
    assert me["organization"]["name_en"] == "Sai-no-Kuni Metal"
    # the member lists and revokes the token in the UI
    login(client, member.email)
    token = db.exec(select(ApiToken)).one()
    assert token.prefix in client.get("/account").get_data(as_text=True)
    client.post(f"/account/tokens/{token.id}/revoke")
    r = client.get("/api/v1/me", headers=headers)
    assert r.status_code == 401
    assert r.content_type == "application/problem+json"


def test_wrong_password_is_a_401_problem_detail(client, db):
    member = make_member(db, make_org(db))
    r = client.post("/api/v1/tokens", json={"email": member.email, "password": "nope"})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    body = r.get_json()
    assert r.content_type == "application/problem+json"
    assert body["errors"] == [{"field": "password", "message": "Wrong e-mail address or password."}]


def test_invalid_token_body_lists_field_errors(client, db):
    r = client.post("/api/v1/tokens", json={"email": "a@b.jp", "extra": 1})
    assert r.status_code == 422
    fields = {e["field"]: e["message"] for e in r.get_json()["errors"]}
    assert fields == {"password": "This field is required.", "extra": "Unknown field."}
    r = client.post("/api/v1/tokens", data="not json", content_type="text/plain")
    assert r.status_code == 422 and r.get_json()["detail"] == "The body is not valid JSON."


def test_problem_details_follow_the_members_language(client, db):
    member = make_member(db, make_org(db), locale="ja")
    r = client.post(
        "/api/v1/tokens",
        json={"email": member.email, "password": "nope"},
        headers={"Accept-Language": "ja"},
    )
    assert r.get_json()["errors"][0]["message"] == "メールアドレスまたはパスワードが違います。"


def test_organizations_lists_verified_only_with_filters_and_pages(client, db, api_token):
    me = make_org(db, kind="manufacturer", prefecture="27")
    member = make_member(db, me)
    for i in range(3):
        make_org(db, kind="recycler", prefecture="11", name_en=f"Saitama {i}")
    make_org(db, kind="recycler", prefecture="40", name_en="Fukuoka")
    hidden = make_org(db, kind="recycler", status="unverified", name_en="Pending")
    headers = api_token(member.email)
    r = client.get("/api/v1/organizations?kind=recycler&prefecture=11&per_page=2", headers=headers)
    body = r.get_json()
    assert body["total"] == 3 and len(body["items"]) == 2 and body["next"].endswith("page=2")
    assert {o["prefecture"] for o in body["items"]} == {"11"}
    all_names = {
        o["name_en"]
        for o in client.get("/api/v1/organizations?per_page=100", headers=headers).get_json()[
            "items"
        ]
    }
    assert "Pending" not in all_names and "Fukuoka" in all_names
    assert client.get(f"/api/v1/organizations/{hidden.id}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/organizations/{me.id}", headers=headers).get_json()["id"] == me.id
    bad = client.get("/api/v1/organizations?kind=wizard&prefecture=99", headers=headers)
    assert bad.status_code == 400
    assert {e["field"] for e in bad.get_json()["errors"]} == {"kind", "prefecture"}
    assert client.get("/api/v1/organizations?page=0", headers=headers).status_code == 400


def test_openapi_document_lists_every_endpoint(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    for path in ["/tokens", "/me", "/organizations", "/organizations/{org_id}"]:
        assert path in doc["paths"], path
    assert "TokenRequest" in doc["components"]["schemas"]
    schemas = doc["components"]["schemas"]
    assert "expires_at" in schemas["TokenResponse"]["required"]
    assert schemas["MeOut"]["properties"]["token"]["$ref"].endswith("/ApiTokenOut")
    assert "expires_at" in schemas["ApiTokenOut"]["required"]
    assert "429" in doc["paths"]["/tokens"]["post"]["responses"]


def test_unknown_api_path_is_problem_json(client):
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.content_type == "application/problem+json"


def test_numbers_too_large_for_the_database_are_client_errors(client, db, api_token):
    headers = api_token(make_member(db, make_org(db)).email)
    huge = 10**30
    assert client.get(f"/api/v1/organizations/{huge}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/organizations?page={huge}", headers=headers).status_code == 400
    r = client.post(
        "/api/v1/certificates",
        headers=headers,
        json={"standard": "ISRI-BIRCH-CLIFF", "assay_id": -huge},
    )
    assert r.status_code in (404, 422) and r.content_type == "application/problem+json"


def test_a_json_body_nested_100000_deep_is_refused_without_a_server_error(client, db):
    deep = "[" * 100_000 + "]" * 100_000
    r = client.post("/api/v1/tokens", data=deep, content_type="application/json")
    assert r.status_code == 422 and r.content_type == "application/problem+json"
    assert r.get_json()["detail"] == "The body is not valid JSON."


def test_get_json_of_a_deeply_nested_body_is_a_bad_request_not_a_crash(app):
    with app.test_request_context(
        "/x", method="POST", data="[" * 100_000 + "]" * 100_000, content_type="application/json"
    ):
        from flask import request
        from werkzeug.exceptions import BadRequest

        with pytest.raises(BadRequest):
            request.get_json()


def test_true_is_not_a_number_and_control_characters_are_refused(client, db):
    member = make_member(db, make_org(db))
    r = client.post(
        "/api/v1/tokens", json={"email": member.email, "password": PASSWORD, "name": True}
    )
    assert r.status_code == 422
    assert r.get_json()["errors"] == [{"field": "name", "message": "Enter text."}]
    for name in ("bad\x00name", "evil\u202etxt.exe", "line\nbreak"):
        r = client.post(
            "/api/v1/tokens", json={"email": member.email, "password": PASSWORD, "name": name}
        )
        assert r.status_code == 422, name
        assert r.get_json()["errors"][0]["field"] == "name"
