"""Login throttling slows guessing down without becoming a lock-out weapon; behind a reverse
proxy the client address is the real one (TRUSTED_PROXY_COUNT)."""

from datetime import timedelta

import pytest
from factories import PASSWORD, make_member, make_org
from sqlmodel import select

import participants.accounts
from participants.accounts import login_backoff
from participants.columns import utcnow
from participants.models import LoginAttempt, MemberSession
from web import create_app
from web.config import load_config

ATTACKER = "203.0.113.9"
OWNER = "198.51.100.7"
PROXY = "10.0.0.2"


class Clock:
    """The accounts module's idea of now, moved by the test."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture()
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(participants.accounts, "utcnow", c)
    return c


def attempt(client, email, password, address, **headers):
    return client.post(
        "/login",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
        headers=headers,
    )


def test_backoff_is_free_for_five_failures_then_doubles_from_one_second_to_fifteen_minutes():
    waits = [login_backoff(n).total_seconds() for n in range(17)]
    assert waits == [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
    assert login_backoff(10**9) == timedelta(minutes=15)


def test_wrong_passwords_from_one_address_never_lock_the_owner_out_from_another(client, db):
    owner = make_member(db, make_org(db))
    statuses = [
        attempt(client, owner.email, "wrong-password", ATTACKER).status_code for _ in range(8)
    ]
    assert statuses == [422] * 5 + [429] * 3
    assert attempt(client, owner.email, PASSWORD, OWNER).status_code == 302
    # and the owner's own typo from its address is an ordinary error, not a lock-out
    assert attempt(app_client(client), owner.email, "typo-password", OWNER).status_code == 422


def app_client(client):
    """A fresh client of the same app (no session cookie)."""
    fresh = client.application.test_client()
    fresh.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return fresh


def test_guessing_one_account_from_one_address_backs_off_exponentially(client, db, clock):
    member = make_member(db, make_org(db))
    for _ in range(5):
        assert attempt(client, member.email, "wrong-password", ATTACKER).status_code == 422
    r = attempt(client, member.email, PASSWORD, ATTACKER)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert "Too many failed logins. Try again in a second." in r.get_data(as_text=True)
    clock.advance(1)
    assert attempt(client, member.email, "wrong-password", ATTACKER).status_code == 422
    r = attempt(client, member.email, "wrong-password", ATTACKER)
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    assert "Try again in 2 seconds." in r.get_data(as_text=True)
    clock.advance(2)
    assert attempt(client, member.email, PASSWORD, ATTACKER).status_code == 302
    # a success starts the count again
    assert attempt(app_client(client), member.email, "wrong-again", ATTACKER).status_code == 422


def test_refused_tries_do_not_lengthen_the_wait(client, db, clock):
    member = make_member(db, make_org(db))
    for _ in range(5):
        attempt(client, member.email, "wrong-password", ATTACKER)
    for _ in range(10):
        assert attempt(client, member.email, "wrong-password", ATTACKER).status_code == 429
    assert db.exec(select(LoginAttempt)).all().__len__() == 5
    clock.advance(1)
    assert attempt(client, member.email, PASSWORD, ATTACKER).status_code == 302


def test_the_wait_is_at_most_fifteen_minutes_and_failures_are_forgotten_after_a_day(
    client, db, clock
):
    member = make_member(db, make_org(db))
    for n in range(15):
        clock.advance(login_backoff(n).total_seconds())
        assert attempt(client, member.email, "wrong-password", ATTACKER).status_code == 422
    r = attempt(client, member.email, PASSWORD, ATTACKER)
    assert r.status_code == 429 and r.headers["Retry-After"] == "900"
    assert "Try again in 15 minutes." in r.get_data(as_text=True)
    clock.advance(24 * 3600 + 1)
    assert attempt(client, member.email, "wrong-password", ATTACKER).status_code == 422


def test_spraying_from_one_address_slows_unknown_accounts_by_seconds_and_known_ones_not_at_all(
    client, db, clock
):
    org = make_org(db)
    regular = make_member(db, org)  # has logged in from the shared address before
    newcomer = make_member(db, org)  # never has
    assert attempt(client, regular.email, PASSWORD, ATTACKER).status_code == 302
    sprayer = app_client(client)
    for i in range(20):
        clock.advance(1)
        assert attempt(sprayer, f"guess{i}@example.jp", "Password123", ATTACKER).status_code == 422
    r = attempt(app_client(client), newcomer.email, PASSWORD, ATTACKER)
    assert r.status_code == 429 and r.headers["Retry-After"] == "5"
    assert "Try again in 5 seconds." in r.get_data(as_text=True)
    assert attempt(app_client(client), regular.email, PASSWORD, ATTACKER).status_code == 302
    assert attempt(app_client(client), newcomer.email, PASSWORD, OWNER).status_code == 302
    clock.advance(5)
    assert attempt(app_client(client), newcomer.email, PASSWORD, ATTACKER).status_code == 302


def test_the_token_endpoint_answers_429_problem_json_with_retry_after(client, db, clock):
    member = make_member(db, make_org(db))
    body = {"email": member.email, "password": "wrong-password"}
    for _ in range(5):
        assert client.post("/api/v1/tokens", json=body).status_code == 401
    r = client.post("/api/v1/tokens", json={**body, "password": PASSWORD})
    assert r.status_code == 429 and r.content_type == "application/problem+json"
    assert r.headers["Retry-After"] == "1"
    assert r.get_json()["detail"] == "Too many failed logins. Try again in a second."
    clock.advance(1)
    assert client.post("/api/v1/tokens", json={**body, "password": PASSWORD}).status_code == 201


# --- the client address behind a reverse proxy -----------------------------------------------


@pytest.fixture()
def behind_one_proxy(app, database_url):
    proxied = create_app({**app.config, "DATABASE_URL": database_url, "TRUSTED_PROXY_COUNT": 1})
    yield proxied
    proxied.extensions["junkan.engine"].dispose()


def test_with_one_trusted_proxy_x_forwarded_for_decides_the_client_address(behind_one_proxy, db):
    owner = make_member(db, make_org(db))
    client = behind_one_proxy.test_client()
    for _ in range(6):
        attempt(client, owner.email, "wrong-password", PROXY, **{"X-Forwarded-For": ATTACKER})
    assert (
        attempt(
            client, owner.email, "wrong-password", PROXY, **{"X-Forwarded-For": ATTACKER}
        ).status_code
        == 429
    )
    # the owner behind the same proxy is another address: not refused
    r = attempt(
        behind_one_proxy.test_client(), owner.email, PASSWORD, PROXY, **{"X-Forwarded-For": OWNER}
    )
    assert r.status_code == 302
    assert db.exec(select(MemberSession.remote_addr)).one() == OWNER
    # what the client itself writes in front of the proxy's entry is not believed
    attempt(
        behind_one_proxy.test_client(),
        "x@example.jp",
        "wrong-password",
        PROXY,
        **{"X-Forwarded-For": f"{OWNER}, {ATTACKER}"},
    )
    addresses = db.exec(select(LoginAttempt.remote_addr).order_by(LoginAttempt.id)).all()
    assert set(addresses) == {ATTACKER, OWNER} and addresses[-1] == ATTACKER


def test_without_trusted_proxies_x_forwarded_for_is_ignored(client, db):
    owner = make_member(db, make_org(db))
    r = attempt(client, owner.email, PASSWORD, PROXY, **{"X-Forwarded-For": OWNER})
    assert r.status_code == 302
    assert db.exec(select(LoginAttempt.remote_addr)).one() == PROXY
    assert db.exec(select(MemberSession.remote_addr)).one() == PROXY


def test_security_settings_are_whole_numbers_with_safe_defaults(monkeypatch):
    for name in ("TRUSTED_PROXY_COUNT", "API_TOKEN_LIFETIME_DAYS", "SESSION_IDLE_DAYS"):
        monkeypatch.delenv(name, raising=False)
    config = load_config()
    assert (config["TRUSTED_PROXY_COUNT"], config["API_TOKEN_LIFETIME_DAYS"]) == (0, 90)
    assert config["SESSION_IDLE_DAYS"] == 14
    monkeypatch.setenv("TRUSTED_PROXY_COUNT", "2")
    monkeypatch.setenv("API_TOKEN_LIFETIME_DAYS", "30")
    assert load_config()["TRUSTED_PROXY_COUNT"] == 2
    assert load_config()["API_TOKEN_LIFETIME_DAYS"] == 30
    monkeypatch.setenv("TRUSTED_PROXY_COUNT", "many")
    with pytest.raises(ValueError, match="TRUSTED_PROXY_COUNT must be a whole number"):
        load_config()
    monkeypatch.setenv("TRUSTED_PROXY_COUNT", "1")
    monkeypatch.setenv("API_TOKEN_LIFETIME_DAYS", "0")
    with pytest.raises(ValueError, match="API_TOKEN_LIFETIME_DAYS must be at least 1"):
        load_config()
