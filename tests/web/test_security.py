"""CSRF, security headers, session cookies, login/logout, password reset by real SMTP."""

import email
import socket
import time
from email import policy

import pytest
from aiosmtpd.controller import Controller
from factories import PASSWORD, login, make_member, make_org
from flask_wtf.csrf import generate_csrf

from web import create_app


@pytest.fixture()
def csrf_app(app, database_url):
    protected = create_app({**app.config, "WTF_CSRF_ENABLED": True, "DATABASE_URL": database_url})
    return protected


def test_state_changing_forms_need_a_csrf_token(csrf_app, db):
    client = csrf_app.test_client()
    r = client.post("/login", data={"email": "a@b.jp", "password": "x"})
    assert r.status_code == 400
    r = client.post("/language", data={"lang": "en"})
    assert r.status_code == 400


def test_form_with_csrf_token_is_accepted(csrf_app, db):
    member = make_member(db, make_org(db))
    client = csrf_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    r = client.post(
        "/login", data={"email": member.email, "password": PASSWORD, "csrf_token": token}
    )
    assert r.status_code == 302


def test_security_headers(client):
    r = client.get("/")
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"


def test_session_cookie_is_httponly_and_lax(client, db):
    member = make_member(db, make_org(db))
    r = login(client, member.email)
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_logout_ends_the_session(client, db):
    member = make_member(db, make_org(db))
    login(client, member.email)
    assert client.get("/account").status_code == 200
    client.post("/logout")
    assert client.get("/account").status_code == 302


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture()
def smtp_server():
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, inbox
    controller.stop()


def test_password_reset_by_emailed_single_use_token(app, client, db, smtp_server):
    controller, inbox = smtp_server
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)
    member = make_member(db, make_org(db))
    r = client.post("/password/forgot", data={"email": member.email})
    assert r.status_code == 302
    for _ in range(50):
        if inbox.messages:
            break
        time.sleep(0.05)
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == member.email
    body = message.get_body(("plain",)).get_content()
    path = next(w for w in body.split() if "/password/reset/" in w).split("5000", 1)[1]
    assert (
        client.post(path, data={"password": "new-password-42", "confirm": "other"}).status_code
        == 422
    )
    assert (
        client.post(
            path, data={"password": "new-password-42", "confirm": "new-password-42"}
        ).status_code
        == 302
    )
    again = client.post(path, data={"password": "another-pass-43", "confirm": "another-pass-43"})
    assert "invalid or has expired" in again.get_data(as_text=True)
    assert login(client, member.email, "new-password-42").status_code == 302


def test_reset_for_unknown_email_sends_nothing_and_says_the_same(app, client, db, smtp_server):
    controller, inbox = smtp_server
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)
    r = client.post("/password/forgot", data={"email": "nobody@nowhere.jp"}, follow_redirects=True)
    assert "If the address is registered" in r.get_data(as_text=True)
    time.sleep(0.2)
    assert inbox.messages == []


def test_expired_reset_token_is_refused(client, db):
    from datetime import timedelta

    from participants.accounts import request_password_reset
    from participants.models import PasswordResetToken

    member = make_member(db, make_org(db))
    _, raw = request_password_reset(db, member.email)
    token = db.exec(__import__("sqlmodel").select(PasswordResetToken)).one()
    token.expires_at = token.expires_at - timedelta(hours=2)
    db.add(token)
    db.commit()
    r = client.post(
        f"/password/reset/{raw}", data={"password": "new-password-42", "confirm": "new-password-42"}
    )
    assert r.status_code == 422


def test_generate_csrf_is_available_in_templates(app):
    with app.test_request_context():
        assert generate_csrf()


def test_reset_mail_is_in_the_members_language_whatever_the_browser_asks(app, client, db):
    import email as email_lib
    from pathlib import Path

    member = make_member(db, make_org(db), locale="ja")
    client.post("/password/forgot", data={"email": member.email})  # the browser asks for English
    (path,) = Path(app.config["MAIL_OUTBOX"]).glob("*.eml")
    message = email_lib.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["Subject"] == "循環のパスワード再設定"
