"""Organisations and members: sign-up rules, verification, roles, the shared verified check."""

import pytest
from factories import as_actor, login, make_member, make_org
from sqlmodel import func, select

from participants.accounts import (
    OrganizationInput,
    change_roles,
    check_corporate_number,
    remove_member,
    set_organization_status,
    sign_up,
)
from participants.actors import VERIFIED_MEMBER
from participants.errors import PermissionDenied, ValidationFailed
from participants.models import AuditEntry, Member, Organization

SIGNUP = {
    "kind": "recycler",
    "name_ja": "川口金属株式会社",
    "name_en": "Kawaguchi Metals Co., Ltd.",
    "country": "JP",
    "corporate_number": "7000012050002",  # National Tax Agency's own number
    "prefecture": "11",
    "address": "埼玉県川口市",
    "name": "Misaki",
    "email": "misaki@kawaguchi-metals.jp",
    "password": "long-enough-password",
    "locale": "en",
}


def count(db, model) -> int:
    return db.exec(select(func.count()).select_from(model)).one()


@pytest.mark.parametrize("number", ["7000012050002", "1180301018771", "5010401067252"])
def test_real_corporate_numbers_pass_the_check_digit(number):
    assert check_corporate_number(number) == number


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("8000012050002", "check digit"),
        ("700001205000", "exactly 13 digits"),
        ("70000120500AB", "exactly 13 digits"),
    ],
)
def test_wrong_corporate_numbers_are_rejected_with_a_message(number, message):
    with pytest.raises(ValidationFailed) as err:
        check_corporate_number(number)
    assert message in str(err.value)
    assert err.value.field == "corporate_number"


def test_sign_up_creates_unverified_org_and_admin(db):
    member = sign_up(
        db,
        OrganizationInput(
            kind="manufacturer",
            name_ja="浪速電線",
            name_en="Naniwa Wire",
            corporate_number="1180301018771",
            prefecture="27",
        ),
        "Buyer@Naniwa.jp",
        "Daisuke",
        "long-enough-password",
        "ja",
    )
    db.commit()
    org = db.get(Organization, member.organization_id)
    assert org.status == "unverified"
    assert member.roles == "admin" and member.email == "buyer@naniwa.jp"
    assert (org.lat, org.lon) == (34.6863, 135.52)  # Osaka's capital by default
    with pytest.raises(PermissionDenied, match="Only members of verified organisations"):
        VERIFIED_MEMBER.check(as_actor(db, member))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name_en", "Naniwa\u202eeriW"),  # right-to-left override disguises the name
        ("name_ja", "浪速\x00電線"),
        ("address", "Osaka\x07"),
        ("name", "Dai\u2066suke"),
    ],
)
def test_sign_up_refuses_control_and_text_direction_characters(client, db, field, value):
    form = {
        "kind": "manufacturer",
        "name_ja": "浪速電線",
        "name_en": "Naniwa Wire",
        "country": "JP",
        "corporate_number": "1180301018771",
        "prefecture": "27",
        "name": "Daisuke",
        "email": "buyer@naniwa.jp",
        "password": "long-enough-password",
        "locale": "en",
    } | {field: value}
    r = client.post("/signup", data=form)
    assert r.status_code == 422
    assert "Remove control or text-direction characters from the text." in r.get_data(as_text=True)
    assert db.exec(select(Organization)).all() == []


def test_foreign_organisation_needs_registry_id_not_corporate_number(db):
    data = OrganizationInput(kind="recycler", name_ja="ライン", name_en="Rhein GmbH", country="DE")
    with pytest.raises(ValidationFailed) as err:
        sign_up(db, data, "a@rhein.de", "Jonas", "long-enough-password")
    assert err.value.field == "registry_id"
    data.registry_id = "HRB 48213"  # no register court: not a Handelsregisternummer
    with pytest.raises(ValidationFailed) as err:
        sign_up(db, data, "a@rhein.de", "Jonas", "long-enough-password")
    assert err.value.field == "registry_id"
    data.registry_id = "Köln HRB 48213"
    member = sign_up(db, data, "a@rhein.de", "Jonas", "long-enough-password")
    org = db.get(Organization, member.organization_id)
    assert (org.corporate_number, org.registry_id) == (None, "Köln HRB 48213")


def test_signup_form_creates_and_logs_in(client, db):
    r = client.post("/signup", data=SIGNUP)
    assert r.status_code == 302
    assert count(db, Organization) == 1
    page = client.get("/organization/")
    assert "Kawaguchi" in page.get_data(as_text=True) or "川口金属" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("corporate_number", "7000012050003", "check digit of this corporate number is wrong"),
        ("corporate_number", "", "exactly 13 digits"),
        ("email", "not-an-email", "Invalid email address"),
        ("password", "short", "Field must be between 10 and 200 characters long"),
        ("prefecture", "99", "Not a valid choice"),
        ("kind", "operator", "Not a valid choice"),
        ("name_en", "x" * 201, "Field cannot be longer than 200 characters"),
        ("lat", "95", "Number must be between -90 and 90"),
        ("name_ja", "", "This field is required"),
    ],
)
def test_signup_form_errors_write_nothing(client, db, field, value, message):
    r = client.post("/signup", data={**SIGNUP, field: value})
    assert r.status_code == 422
    assert message in r.get_data(as_text=True)
    assert count(db, Organization) == 0 and count(db, Member) == 0


def test_duplicate_email_and_corporate_number_are_refused(client, db):
    assert client.post("/signup", data=SIGNUP).status_code == 302
    client.post("/logout")
    again = client.post("/signup", data={**SIGNUP, "email": "other@x.jp"})
    assert "already registered" in again.get_data(as_text=True)
    assert count(db, Organization) == 1


def test_operator_verifies_and_suspends_with_audit(client, db):
    operator_org = make_org(db, kind="operator")
    operator = make_member(db, operator_org, roles="admin")
    org = make_org(db, status="unverified")
    login(client, operator.email)
    r = client.post(f"/operator/organizations/{org.id}/status", data={"status": "verified"})
    assert r.status_code == 302
    db.refresh(org)
    assert org.status == "verified" and org.verified_at is not None
    client.post(
        f"/operator/organizations/{org.id}/status", data={"status": "suspended", "reason": ""}
    )
    db.refresh(org)
    assert org.status == "verified"  # a suspension needs a reason
    client.post(
        f"/operator/organizations/{org.id}/status",
        data={"status": "suspended", "reason": "documents expired"},
    )
    db.refresh(org)
    assert org.status == "suspended"
    actions = db.exec(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["organization.verified", "organization.suspended"]
    audit = client.get("/operator/audit").get_data(as_text=True)
    assert "documents expired" in audit and operator.email in audit
    with pytest.raises(PermissionDenied, match="suspended"):
        VERIFIED_MEMBER.check(as_actor(db, make_member(db, org)))


def test_non_operator_cannot_reach_operator_pages(client, db):
    org = make_org(db)
    member = make_member(db, org)
    login(client, member.email)
    assert client.get("/operator/organizations").status_code == 403
    assert (
        client.post(
            f"/operator/organizations/{org.id}/status", data={"status": "verified"}
        ).status_code
        == 403
    )
    with pytest.raises(PermissionDenied):
        set_organization_status(db, as_actor(db, member), org.id, "verified")


def test_admin_invites_member_who_sets_password_from_email(client, db, app):
    org = make_org(db)
    admin = make_member(db, org, roles="admin")
    login(client, admin.email)
    r = client.post(
        "/organization/members",
        data={
            "invite-name": "Ken",
            "invite-email": "ken@yard.jp",
            "invite-roles": ["inspector"],
            "invite-locale": "ja",
        },
    )
    assert r.status_code == 302
    invited = db.exec(select(Member).where(Member.email == "ken@yard.jp")).one()
    assert invited.roles == "inspector"
    from pathlib import Path

    mails = list(Path(app.config["MAIL_OUTBOX"]).glob("*.eml"))
    assert len(mails) == 1
    import email
    from email import policy

    invitation = email.message_from_bytes(mails[0].read_bytes(), policy=policy.default)
    assert invitation["Subject"] == "循環への招待"  # in the invited member's language
    body = invitation.get_body(("plain",)).get_content()
    link = next(word for word in body.split() if "/password/reset/" in word)
    client.post("/logout")
    path = link.split("127.0.0.1:5000", 1)[1]
    r = client.post(path, data={"password": "inspector-pass-1", "confirm": "inspector-pass-1"})
    assert r.status_code == 302
    assert login(client, "ken@yard.jp", "inspector-pass-1").status_code == 302


def test_roles_changes_keep_one_admin_and_stay_inside_the_org(db):
    org = make_org(db)
    admin = make_member(db, org, roles="admin")
    trader = make_member(db, org, roles="trader")
    other = make_member(db, make_org(db), roles="trader")
    admin, trader_actor = as_actor(db, admin), as_actor(db, trader)
    with pytest.raises(ValidationFailed, match="at least one administrator"):
        change_roles(db, admin, admin.member_id, ["trader"])
    with pytest.raises(PermissionDenied):
        change_roles(db, trader_actor, trader.id, ["admin"])
    with pytest.raises(ValidationFailed, match="Unknown role"):
        change_roles(db, admin, trader.id, ["boss"])
    from participants.errors import NotFound

    with pytest.raises(NotFound):
        change_roles(db, admin, other.id, ["signatory"])
    change_roles(db, admin, trader.id, ["trader", "signatory"])
    assert trader.roles == "signatory trader"
    with pytest.raises(ValidationFailed):
        remove_member(db, admin, admin.member_id)
    remove_member(db, admin, trader.id)
    assert trader.active is False


def test_member_pages_show_only_own_organisation(client, db):
    a = make_org(db, name_en="Alpha Scrap")
    b = make_org(db, name_en="Beta Wire")
    make_member(db, b, email="beta@x.jp")
    member = make_member(db, a)
    login(client, member.email)
    page = client.get("/organization/").get_data(as_text=True)
    assert "Alpha Scrap" in page and "beta@x.jp" not in page


def test_only_administrators_see_the_member_controls(client, db):
    org = make_org(db)
    admin = make_member(db, org, roles="admin")
    trader = make_member(db, org, roles="trader")
    login(client, trader.email)
    page = client.get("/organization/").get_data(as_text=True)
    assert "Invite a member" not in page and "Save roles" not in page
    assert client.post(f"/organization/members/{admin.id}/remove").status_code == 403
    client.post("/logout")
    login(client, admin.email)
    page = client.get("/organization/").get_data(as_text=True)
    assert "Invite a member" in page and "Save roles" in page


def test_public_directory_lists_verified_organisations_by_kind_and_name(client, db):
    make_org(db, kind="recycler", name_en="Zeta Recycling")
    make_org(db, kind="recycler", name_en="Alpha Recycling")
    make_org(db, kind="manufacturer", name_en="Mid Wire")
    make_org(db, kind="recycler", status="unverified", name_en="Pending Scrap")
    page = client.get("/organizations").get_data(as_text=True)
    assert "Pending Scrap" not in page
    assert page.index("Mid Wire") < page.index("Alpha Recycling") < page.index("Zeta Recycling")
    only = client.get("/organizations?kind=manufacturer").get_data(as_text=True)
    assert "Mid Wire" in only and "Alpha Recycling" not in only
