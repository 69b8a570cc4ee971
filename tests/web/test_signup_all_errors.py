"""Sign-up reports every field error at once; the English legal name is optional in Japan."""

from forms_html import field_errors, form_values
from sqlmodel import func, select
from test_participants import SIGNUP

from participants.accounts import OrganizationInput, sign_up_errors
from participants.models import Member, Organization


def count(db, model) -> int:
    return db.exec(select(func.count()).select_from(model)).one()


def test_several_wrong_fields_are_reported_together_with_the_check_digit(client, db):
    wrong = {
        **SIGNUP,
        "corporate_number": "7000012050003",  # wrong check digit
        "name_ja": "",
        "email": "not-an-email",
        "password": "short",
        "prefecture": "",
        "name": "",
    }
    r = client.post("/signup", data=wrong)
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    errors = field_errors(html)
    assert errors["corporate_number"] == ["The check digit of this corporate number is wrong."]
    assert errors["name_ja"] == ["This field is required."]
    assert errors["name"] == ["This field is required."]
    assert errors["email"] == ["Invalid email address."]
    assert errors["password"] == ["Field must be between 10 and 200 characters long."]
    assert errors["prefecture"] == ["Choose a prefecture."]
    assert count(db, Organization) == 0 and count(db, Member) == 0
    # What was typed stays (the password is never sent back to the browser).
    kept = form_values(html)
    for name in ("kind", "name_en", "country", "corporate_number", "address", "email", "locale"):
        assert kept[name] == [wrong[name]], name
    assert kept["password"] == [""]


def test_a_foreign_registration_number_error_comes_with_the_other_errors(client, db):
    r = client.post(
        "/signup",
        data={**SIGNUP, "country": "DE", "registry_id": "", "name_en": "", "email": "x"},
    )
    errors = field_errors(r.get_data(as_text=True))
    assert errors["registry_id"] == [
        "Give your organisation&#39;s registration number in its country."
    ]
    assert errors["name_en"] == ["This field is required."]
    assert errors["email"] == ["Invalid email address."]


def test_a_japanese_company_signs_up_without_an_english_name(client, db):
    r = client.post("/signup", data={**SIGNUP, "name_en": ""})
    assert r.status_code == 302
    org = db.exec(select(Organization)).one()
    assert (org.name_ja, org.name_en) == ("川口金属株式会社", "川口金属株式会社")


def test_sign_up_errors_lists_every_field_of_the_domain(db):
    data = OrganizationInput(
        kind="operator",
        name_ja="",
        name_en="",
        country="JP",
        corporate_number="123",
        prefecture="",
        lat=95.0,
        lon=None,
    )
    problems = sign_up_errors(db, data, "bad", "", "short", "fr")
    assert [(p.field, str(p)) for p in problems] == [
        ("kind", "Choose a valid organisation kind."),
        ("name_ja", "This field is required."),
        ("corporate_number", "A corporate number has exactly 13 digits."),
        ("prefecture", "Choose a prefecture."),
        ("lat", "Give both latitude and longitude, or neither."),
        ("email", "Enter a valid e-mail address."),
        ("name", "This field is required."),
        ("password", "The password needs at least 10 characters."),
        ("locale", "Choose Japanese or English."),
    ]
