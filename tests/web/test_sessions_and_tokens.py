"""Sessions and tokens that end: logout, password change and reset, removal, idle sessions,
expiring API tokens — each ends access on the server, not only in the browser."""

import email
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
from factories import PASSWORD, as_actor, login, make_member, make_org
from sqlmodel import select

from participants.accounts import (
    PasswordChange,
    api_tokens_of,
    change_password,
    create_api_token,
    end_session,
    request_password_reset,
    revoke_api_token,
    sessions_of,
    set_locale,
)
from participants.actors import SYSTEM
from participants.columns import utcnow
from participants.errors import NotFound, PermissionDenied, ValidationFailed
from participants.models import ApiToken, Member, MemberSession

NEW_PASSWORD = "a-brand-new-password"


def logged_in_client(app, member, user_agent="Browser A"):
    """A client of its own (its own cookie jar) logged in as the member."""
    c = app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    c.environ_base["HTTP_USER_AGENT"] = user_agent
    assert login(c, member.email).status_code == 302
    return c


def is_logged_in(c) -> bool:
    r = c.get("/account")
    assert r.status_code in (200, 302)
    return r.status_code == 200


def bearer(client, member, password=PASSWORD) -> dict:
    r = client.post("/api/v1/tokens", json={"email": member.email, "password": password})
    assert r.status_code == 201, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


def outbox(app) -> list:
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(Path(app.config["MAIL_OUTBOX"]).glob("*.eml"))
    ]


# --- logout ----------------------------------------------------------------------------------


def test_a_session_cookie_replayed_after_logout_answers_as_logged_out(app, db):
    member = make_member(db, make_org(db))
    c = logged_in_client(app, member)
    stolen = c.get_cookie("session").value
    assert is_logged_in(c)
    c.post("/logout")
    c.set_cookie("session", stolen)
    r = c.get("/account")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    record = db.exec(select(MemberSession)).one()
    assert record.member_id == member.id and record.revoked_at is not None


def test_the_session_cookie_holds_a_random_session_id_not_the_member_id(app, db):
    member = make_member(db, make_org(db))
    c = logged_in_client(app, member)
    with app.test_request_context():
        data = app.session_interface.get_signing_serializer(app).loads(
            c.get_cookie("session").value
        )
    assert data["_user_id"] != str(member.id) and len(data["_user_id"]) >= 40
    assert db.exec(select(MemberSession.token_sha256)).one() != data["_user_id"]  # only a hash


def test_session_protection_still_drops_a_cookie_used_by_another_browser(app, db):
    member = make_member(db, make_org(db))
    c = logged_in_client(app, member, user_agent="Browser A")
    c.environ_base["HTTP_USER_AGENT"] = "Some other browser"
    assert not is_logged_in(c)


def test_a_session_unused_for_longer_than_the_idle_limit_ends(app, db):
    app.config["SESSION_IDLE_DAYS"] = 14
    member = make_member(db, make_org(db))
    c = logged_in_client(app, member)
    record = db.exec(select(MemberSession)).one()
    record.last_seen_at = utcnow() - timedelta(days=13, hours=23)
    db.add(record)
    db.commit()
    assert is_logged_in(c)  # seen within 14 days: alive, and seen again now
    db.refresh(record)
    assert record.last_seen_at > utcnow() - timedelta(minutes=1)
    record.last_seen_at = utcnow() - timedelta(days=14, minutes=1)
    db.add(record)
    db.commit()
    assert not is_logged_in(c)


def test_last_seen_is_written_at_most_once_a_minute(app, db):
    member = make_member(db, make_org(db))
    c = logged_in_client(app, member)
    record = db.exec(select(MemberSession)).one()
    first_seen = record.last_seen_at
    assert is_logged_in(c)
    db.refresh(record)
    assert record.last_seen_at == first_seen  # just logged in: not written again
    record.last_seen_at = first_seen - timedelta(minutes=2)
    db.add(record)
    db.commit()
    assert is_logged_in(c)
    db.refresh(record)
    assert record.last_seen_at > first_seen


# --- password change -------------------------------------------------------------------------


def change(c, current=PASSWORD, new=NEW_PASSWORD, confirm=None):
    return c.post(
        "/account/password",
        data={
            "password-current_password": current,
            "password-new_password": new,
            "password-confirm": new if confirm is None else confirm,
        },
    )


def test_password_change_ends_other_sessions_and_revokes_tokens_but_keeps_this_one(app, client, db):
    member = make_member(db, make_org(db), locale="ja")
    here = logged_in_client(app, member, "Browser A")
    elsewhere = logged_in_client(app, member, "Browser B")
    headers = bearer(client, member)
    assert client.get("/api/v1/me", headers=headers).status_code == 200

    r = change(here)
    assert r.status_code == 302 and r.headers["Location"].endswith("/account")
    assert is_logged_in(here)
    assert not is_logged_in(elsewhere)
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert [t.revoked_at is not None for t in db.exec(select(ApiToken)).all()] == [True]
    assert login(app.test_client(), member.email, PASSWORD).status_code == 422
    assert login(app.test_client(), member.email, NEW_PASSWORD).status_code == 302
    # the owner is told, in its own language
    (notice,) = outbox(app)
    assert notice["To"] == member.email
    assert notice["Subject"] == "循環のパスワードが変更されました"
    assert "/password/forgot" in notice.get_body(("plain",)).get_content()


def test_password_change_page_is_on_the_account_page_and_says_what_it_ends(app, db):
    member = make_member(db, make_org(db))
    page = logged_in_client(app, member).get("/account").get_data(as_text=True)
    assert 'name="password-current_password"' in page
    assert 'name="password-new_password"' in page and 'name="password-confirm"' in page
    assert "Changing the password ends your other sessions" in page


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("wrong-password-1", NEW_PASSWORD, None, "The current password is wrong."),
        (PASSWORD, NEW_PASSWORD, "something-else-1", "The passwords differ."),
        (PASSWORD, "short", None, "Field must be between 10 and 200 characters long."),
        (PASSWORD, PASSWORD, None, "Choose a new password different from the current one."),
    ],
)
def test_a_refused_password_change_changes_nothing(app, client, db, current, new, confirm, message):
    member = make_member(db, make_org(db))
    headers = bearer(client, member)
    here = logged_in_client(app, member, "Browser A")
    elsewhere = logged_in_client(app, member, "Browser B")
    r = change(here, current, new, confirm)
    assert r.status_code == 422
    assert message in r.get_data(as_text=True)
    assert is_logged_in(elsewhere)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert login(app.test_client(), member.email, PASSWORD).status_code == 302
    assert outbox(app) == []


def test_guessing_the_current_password_is_throttled_like_a_login(app, db):
    member = make_member(db, make_org(db))
    here = logged_in_client(app, member)
    for _ in range(5):
        assert change(here, current="wrong-password-1").status_code == 422
    r = change(here)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert "Too many failed logins. Try again in a second." in r.get_data(as_text=True)


# --- password reset, removal -----------------------------------------------------------------


def test_password_reset_ends_every_session_and_revokes_every_api_token(app, client, db):
    member = make_member(db, make_org(db))
    browser = logged_in_client(app, member)
    headers = bearer(client, member)
    _, raw = request_password_reset(db, member.email)
    _, other_link = request_password_reset(db, member.email)
    db.commit()
    r = app.test_client().post(
        f"/password/reset/{raw}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert r.status_code == 302
    assert not is_logged_in(browser)
    r = client.get("/api/v1/me", headers=headers)
    assert r.status_code == 401 and r.content_type == "application/problem+json"
    # the other link mailed earlier no longer works either
    again = app.test_client().post(
        f"/password/reset/{other_link}", data={"password": "third-password-3", "confirm": "x"}
    )
    assert again.status_code == 422
    assert [m["Subject"] for m in outbox(app)] == ["Your Junkan password was changed"]


def test_removing_a_member_ends_its_sessions_and_revokes_its_tokens(app, client, db):
    org = make_org(db)
    admin = make_member(db, org, roles="admin")
    trader = make_member(db, org, roles="trader")
    trader_browser = logged_in_client(app, trader)
    headers = bearer(client, trader)
    admin_browser = logged_in_client(app, admin)
    assert admin_browser.post(f"/organization/members/{trader.id}/remove").status_code == 302
    assert not is_logged_in(trader_browser)
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    sessions = db.exec(select(MemberSession).where(MemberSession.member_id == trader.id)).all()
    assert [s.revoked_at is not None for s in sessions] == [True]


# --- the member's own sessions ---------------------------------------------------------------


def test_a_member_sees_its_sessions_and_ends_another_one(app, db):
    member = make_member(db, make_org(db))
    here = logged_in_client(app, member, "Browser A")
    there = logged_in_client(app, member, "Browser B")
    page = here.get("/account").get_data(as_text=True)
    assert "Browser A" in page and "Browser B" in page and "This session" in page
    other = db.exec(select(MemberSession).where(MemberSession.user_agent == "Browser B")).one()
    r = here.post(f"/account/sessions/{other.id}/end", follow_redirects=True)
    assert "The session is ended." in r.get_data(as_text=True)
    assert not is_logged_in(there) and is_logged_in(here)
    assert "Browser B" not in here.get("/account").get_data(as_text=True)


def test_end_all_other_sessions(app, db):
    member = make_member(db, make_org(db))
    here = logged_in_client(app, member, "Browser A")
    others = [logged_in_client(app, member, f"Browser {n}") for n in "BC"]
    assert here.post("/account/sessions/end-others").status_code == 302
    assert is_logged_in(here) and not any(is_logged_in(o) for o in others)


def test_a_member_cannot_end_someone_elses_session(app, db):
    org = make_org(db)
    mine = make_member(db, org)
    theirs = make_member(db, org)
    victim = logged_in_client(app, theirs, "Victim")
    record = db.exec(select(MemberSession).where(MemberSession.member_id == theirs.id)).one()
    assert logged_in_client(app, mine).post(f"/account/sessions/{record.id}/end").status_code == 404
    assert is_logged_in(victim)


def test_account_functions_act_only_on_the_actors_own_account(db):
    org = make_org(db)
    me, colleague = make_member(db, org), make_member(db, org)
    token, _ = create_api_token(db, as_actor(db, colleague), "ERP")
    db.commit()
    with pytest.raises(NotFound):
        revoke_api_token(db, as_actor(db, me), token.id)
    assert api_tokens_of(db, as_actor(db, me)) == []
    for call in (
        lambda: set_locale(db, SYSTEM, "en"),
        lambda: create_api_token(db, SYSTEM, "x"),
        lambda: sessions_of(db, None),
        lambda: end_session(db, SYSTEM, 1),
        lambda: change_password(
            db, SYSTEM, PasswordChange(current_password="x" * 10, new_password="y" * 10)
        ),
    ):
        with pytest.raises(PermissionDenied, match="Log in to manage your account."):
            call()
    with pytest.raises(ValidationFailed, match="Choose Japanese or English."):
        set_locale(db, as_actor(db, me), "de")


def test_language_switch_saves_the_members_own_language(app, db):
    member = make_member(db, make_org(db), locale="en")
    c = logged_in_client(app, member)
    assert c.post("/language", data={"lang": "ja"}).status_code == 302
    db.refresh(member)
    assert db.get(Member, member.id).locale == "ja"


# --- API tokens expire -----------------------------------------------------------------------


def test_an_api_token_carries_its_expiry_in_the_answer_and_in_me(app, client, db):
    app.config["API_TOKEN_LIFETIME_DAYS"] = 30
    member = make_member(db, make_org(db))
    r = client.post("/api/v1/tokens", json={"email": member.email, "password": PASSWORD})
    body = r.get_json()
    token = db.get(ApiToken, body["id"])
    assert token.expires_at - token.created_at == timedelta(days=30)
    assert body["expires_at"] == token.expires_at.isoformat().replace("+00:00", "Z")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"}).get_json()
    assert me["token"]["id"] == token.id and me["token"]["expires_at"] == body["expires_at"]
    assert me["token"]["prefix"] == body["token"][:10]


def test_tokens_last_for_ninety_days_by_default(client, db):
    member = make_member(db, make_org(db))
    client.post("/api/v1/tokens", json={"email": member.email, "password": PASSWORD})
    token = db.exec(select(ApiToken)).one()
    assert token.expires_at - token.created_at == timedelta(days=90)


def test_an_expired_token_answers_401_problem_json_and_says_it_expired(client, db):
    member = make_member(db, make_org(db))
    headers = bearer(client, member)
    token = db.exec(select(ApiToken)).one()
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.add(token)
    db.commit()
    r = client.get("/api/v1/me", headers=headers)
    assert r.status_code == 401 and r.content_type == "application/problem+json"
    assert r.get_json()["detail"] == "The token has expired. Create a new one."
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    unknown = client.get("/api/v1/me", headers={"Authorization": "Bearer jk_nothing"})
    assert unknown.status_code == 401 and unknown.headers["WWW-Authenticate"] == "Bearer"


def test_the_tokens_page_shows_expiry_and_an_expired_token_as_expired(app, client, db):
    member = make_member(db, make_org(db))
    bearer(client, member)
    token = db.exec(select(ApiToken)).one()
    c = logged_in_client(app, member)
    page = c.get("/account").get_data(as_text=True)
    assert "Expires" in page and "A new token works for 90 days" in page
    assert "Revoke" in page
    token.expires_at = utcnow() - timedelta(days=1)
    db.add(token)
    db.commit()
    page = c.get("/account").get_data(as_text=True)
    assert ">Expired<" in page and "Revoke</button>" not in page


def test_a_token_created_on_the_account_page_expires_too(app, db):
    app.config["API_TOKEN_LIFETIME_DAYS"] = 7
    member = make_member(db, make_org(db))
    c = logged_in_client(app, member)
    r = c.post("/account", data={"token-name": "ERP"})
    assert r.status_code == 200 and 'id="new-token"' in r.get_data(as_text=True)
    token = db.exec(select(ApiToken)).one()
    assert token.expires_at - token.created_at == timedelta(days=7)


def test_checking_a_token_notes_last_use_without_committing(app, client, db):
    from flask import g

    from web.auth import api_member
    from web.db import get_db

    member = make_member(db, make_org(db))
    headers = bearer(client, member)
    with app.test_request_context("/api/v1/me", headers=headers):
        assert api_member().member.id == member.id
        assert db.exec(select(ApiToken.last_used_at)).one() is None  # nothing committed
        get_db().commit()  # the caller's (the operation wrapper's) commit writes it
        assert g.api_member.api_token.last_used_at is not None
    db.expire_all()
    assert db.exec(select(ApiToken.last_used_at)).one() is not None
