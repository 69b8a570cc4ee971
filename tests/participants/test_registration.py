"""Foreign organisations: an ISO 3166-1 country and a registration number checked by its shape
per country (python-stdnum where it knows the number) in place of the corporate number."""

import pytest
from factories import login, make_member, make_org
from sqlmodel import func, select

from participants.accounts import OrganizationInput, sign_up
from participants.errors import ValidationFailed
from participants.models import Organization
from participants.registration import SCHEMES, check_registry_id, registry_label

VALID = [
    ("DE", "Köln HRB 48213", "Köln HRB 48213"),
    ("DE", "Berlin (Charlottenburg) HRB 12345", "Berlin (Charlottenburg) HRB 12345"),
    ("US", "043012345", "04-3012345"),
    ("SG", "00192200M", "00192200M"),
    ("TH", "0-20-5-558-00422-1", "0205558004221"),
    ("VN", "0100233488", "0100233488"),
    ("ID", "013121660091000", "01.312.166.0-091.000"),
    ("KR", "1348672683", "134-86-72683"),
    ("CN", "91110000600037341L", "91110000600037341L"),
    ("FR", "732829320", "732 829 320"),
    ("GB", "SC123456", "SC123456"),
    ("GB", "01234567", "01234567"),
    ("NL", "1234.5678", "12345678"),
    ("MY", "201901012345", "201901012345"),
    # no known scheme: free text as written in the register
    ("AU", "ACN 004 085 616", "ACN 004 085 616"),
]

INVALID = [
    ("DE", "HRB 48213"),  # no register court
    ("DE", "Atlantis HRB 48213"),  # no such court
    ("US", "07-1234567"),  # 07 is no EIN prefix
    ("SG", "52816524B"),  # wrong check letter
    ("TH", "0205558004222"),  # wrong check digit
    ("VN", "0100233489"),
    ("ID", "01.312.166"),
    ("KR", "12345"),
    ("CN", "91110000600037341M"),
    ("FR", "732829321"),
    ("GB", "1234567X"),
    ("NL", "1234567"),
    ("MY", "201907012345"),  # entity type 07 does not exist
]


@pytest.mark.parametrize(("country", "value", "stored"), VALID)
def test_valid_registration_numbers_are_kept_in_their_usual_form(country, value, stored):
    assert check_registry_id(country, value) == stored


@pytest.mark.parametrize(("country", "value"), INVALID)
def test_a_number_of_the_wrong_shape_is_refused_with_the_countrys_example(country, value):
    with pytest.raises(ValidationFailed) as err:
        check_registry_id(country, value)
    assert err.value.field == "registry_id"
    assert err.value.params["example"] == SCHEMES[country].example
    assert err.value.params["label"] == registry_label(country)


def test_every_schemes_example_is_valid():
    for scheme in SCHEMES.values():
        assert scheme.validate(scheme.example)


@pytest.mark.parametrize("value", ["", "   ", "a" * 65, "HRB\u202e 1", "x\x00y"])
def test_free_text_numbers_are_required_short_and_without_control_characters(value):
    with pytest.raises(ValidationFailed) as err:
        check_registry_id("AU", value)
    assert err.value.field == "registry_id"


def _input(**changes) -> OrganizationInput:
    data = OrganizationInput(
        kind="recycler",
        name_ja="サイアム・イースクラップ",
        name_en="Siam E-Scrap Co., Ltd.",
        country="TH",
        registry_id="0205558004221",
    )
    for key, value in changes.items():
        setattr(data, key, value)
    return data


def test_a_thai_recycler_signs_up_with_its_dbd_number(db):
    member = sign_up(db, _input(country="th"), "a@siam.example", "Somchai", "long-enough-pw")
    org = db.get(Organization, member.organization_id)
    assert (org.country, org.registry_id, org.corporate_number) == ("TH", "0205558004221", None)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"country": "XX"}, "country"),
        ({"country": "THA"}, "country"),
        ({"registry_id": "0205558004222"}, "registry_id"),
        ({"registry_id": ""}, "registry_id"),
    ],
)
def test_an_unknown_country_or_a_bad_number_writes_nothing(db, changes, field):
    with pytest.raises(ValidationFailed) as err:
        sign_up(db, _input(**changes), "a@siam.example", "Somchai", "long-enough-pw")
    assert err.value.field == field
    assert db.exec(select(func.count()).select_from(Organization)).one() == 0


def test_a_japanese_organisation_still_needs_its_corporate_number(db):
    data = _input(country="JP", prefecture="11", registry_id="Köln HRB 48213")
    with pytest.raises(ValidationFailed) as err:
        sign_up(db, data, "a@siam.example", "Somchai", "long-enough-pw")
    assert err.value.field == "corporate_number"


SIGNUP = {
    "kind": "recycler",
    "name_ja": "ライン・リサイクリング",
    "name_en": "Rhein Test GmbH",
    "country": "DE",
    "registry_id": "Köln HRB 48213",
    "address": "Industriestraße 12, 50735 Köln",
    "name": "Jonas",
    "email": "jonas@rhein.example",
    "password": "long-enough-password",
    "locale": "en",
}


def test_the_signup_page_answers_an_unknown_country_with_422_and_writes_nothing(client, db):
    r = client.post("/signup", data=SIGNUP | {"country": "XX"})
    assert r.status_code == 422
    assert "XX is not an ISO 3166-1 alpha-2 country code" in r.get_data(as_text=True)
    assert db.exec(select(func.count()).select_from(Organization)).one() == 0


def test_the_signup_page_names_the_number_and_its_example_when_the_shape_is_wrong(client, db):
    r = client.post("/signup", data=SIGNUP | {"registry_id": "HRB 48213"})
    assert r.status_code == 422
    text = r.get_data(as_text=True)
    assert "HRB 48213 is not a valid Handelsregisternummer" in text
    assert "Köln HRB 48213" in text  # the example
    assert db.exec(select(func.count()).select_from(Organization)).one() == 0


def test_a_german_recycler_signs_up_and_its_page_shows_country_and_number(client, db):
    r = client.post("/signup", data=SIGNUP)
    assert r.status_code == 302
    page = client.get("/organization/").get_data(as_text=True)
    assert "Germany (DE)" in page
    assert "Handelsregisternummer (court, register and number)" in page
    assert "Köln HRB 48213" in page


def test_the_directory_and_the_api_show_country_name_and_registration_number(client, db, api_token):
    org = make_org(
        db, kind="recycler", country="TH", registry_id="0205558004221", corporate_number=None
    )
    member = make_member(db, org)
    login(client, member.email)
    page = client.get("/organizations").get_data(as_text=True)
    assert "Thailand" in page and "0205558004221" in page
    body = client.get(f"/api/v1/organizations/{org.id}", headers=api_token(member.email)).get_json()
    assert body["country"] == "TH" and body["country_name"] == "Thailand"
    assert body["registry_id"] == "0205558004221"
    assert body["registry_label"].startswith("Juristic person registration number")


def test_an_admin_abroad_corrects_its_number_by_page_and_api_and_a_bad_one_writes_nothing(
    client, db, api_token
):
    org = make_org(db, country="US", registry_id="04-3012345", corporate_number=None)
    admin = make_member(db, org, roles="admin")
    login(client, admin.email)
    page = client.get("/organization/").get_data(as_text=True)
    assert "EIN (Employer Identification Number)" in page and 'id="registry-form"' in page
    r = client.post("/organization/registry-id", data={"registry-registry_id": "07-1234567"})
    assert r.status_code == 422 and "07-1234567 is not a valid EIN" in r.get_data(as_text=True)
    db.expire_all()
    assert db.get(Organization, org.id).registry_id == "04-3012345"
    r = client.post("/organization/registry-id", data={"registry-registry_id": "123456789"})
    assert r.status_code == 302
    db.expire_all()
    assert db.get(Organization, org.id).registry_id == "12-3456789"
    headers = api_token(admin.email)
    r = client.put("/api/v1/organization/registry-id", json={"registry_id": "x"}, headers=headers)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "registry_id"
    r = client.put(
        "/api/v1/organization/registry-id", json={"registry_id": "043012345"}, headers=headers
    )
    assert r.status_code == 200 and r.get_json()["registry_id"] == "04-3012345"


def test_a_japanese_organisation_keeps_its_corporate_number_and_has_no_registry_id(
    client, db, api_token
):
    org = make_org(db)
    admin = make_member(db, org, roles="admin")
    r = client.put(
        "/api/v1/organization/registry-id",
        json={"registry_id": "Köln HRB 48213"},
        headers=api_token(admin.email),
    )
    assert r.status_code == 422
    db.expire_all()
    assert db.get(Organization, org.id).registry_id is None
    login(client, admin.email)
    assert 'id="registry-form"' not in client.get("/organization/").get_data(as_text=True)
