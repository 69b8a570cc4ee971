"""Test fixtures: a migrated database per run (SQLite file or PostgreSQL), emptied after each test.

TEST_DATABASE_URL=postgresql+psycopg://127.0.0.1:5432/test runs the suite on PostgreSQL: a fresh
database is created beside `test` for the run and dropped at its end.
"""

import os
import tempfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel
from werkzeug.routing.rules import Rule

import participants.accounts
import web.models  # noqa: F401
from web import create_app
from web.config import normalise_database_url
from web.migrate import upgrade

participants.accounts.PASSWORD_METHOD = "pbkdf2:sha256:1000"  # fast hashes in tests


def _cache_url_builders() -> None:
    """Every test builds a fresh app, and werkzeug compiles two URL builders per rule (Python
    source generated and `compile`d: about 0.25 s for our ~170 rules, most of `create_app`).
    A builder depends only on the rule's text, its parsed parts and defaults, and takes the
    rule itself as its first argument, so the tests reuse the compiled function per rule."""
    compiled: dict[tuple, object] = {}
    original = Rule._compile_builder

    def cached(self, append_unknown: bool = True):
        defaults = tuple(sorted((k, repr(v)) for k, v in (self.defaults or {}).items()))
        key = (self.rule, tuple(self._trace), defaults, append_unknown)
        if key not in compiled:
            compiled[key] = original(self, append_unknown)
        return compiled[key]

    Rule._compile_builder = cached


_cache_url_builders()
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def database_url():
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        folder = tempfile.mkdtemp(prefix="junkan-test-")
        url = f"sqlite:///{Path(folder) / 'test.db'}"
        upgrade(url)
        yield url
        return
    base = normalise_database_url(base)
    name = f"junkan_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        # A throwaway database: commits need not wait for the disk (about a third faster).
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture()
def empty_database_url(tmp_path):
    """A database of the test's own with no tables (for migration tests), on either engine."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    base = normalise_database_url(base)
    name = f"junkan_m_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(base).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_tables(engine) -> None:
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as conn:
        # DELETE, children first: on a few rows far cheaper than TRUNCATE (which swaps every
        # table's files: 0.24 s a test on PostgreSQL); then ids start at 1 again.
        for name in tables:
            conn.execute(text(f"DELETE FROM {name}"))
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "SELECT setval(s.oid, 1, false) FROM pg_class s "
                    "JOIN pg_namespace n ON n.oid = s.relnamespace "
                    "WHERE s.relkind = 'S' AND n.nspname = current_schema()"
                )
            )


def _test_config(database_url: str, outbox) -> dict:
    return {
        "DATABASE_URL": database_url,
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "SECRET_KEY": "test-secret",
        "MAIL_SERVER": "",
        "MAIL_OUTBOX": str(outbox),
        "LOG_JSON": False,
    }


@pytest.fixture()
def app(database_url, tmp_path):
    application = create_app(_test_config(database_url, tmp_path / "outbox"))
    engine = application.extensions["junkan.engine"]
    yield application
    _empty_tables(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def demo_app(database_url, tmp_path_factory, local_stripe):  # noqa: F811
    """An app over the demo story (loaded once for the test module; emptied after it); the
    past invoices are paid through the session's localstripe."""
    from web.stripe_gateway import local_gateway

    application = create_app(_test_config(database_url, tmp_path_factory.mktemp("outbox")))
    engine = application.extensions["junkan.engine"]
    load_demo_rows(engine, gateway=local_gateway(local_stripe))
    yield application
    _empty_tables(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def demo_story_app(database_url, tmp_path_factory):
    """An app over the demo story as the `demo` fixture loads it (no localstripe: the same rows,
    copied after the first load in this worker), once for the test module; emptied after it."""
    application = create_app(_test_config(database_url, tmp_path_factory.mktemp("outbox")))
    engine = application.extensions["junkan.engine"]
    load_demo_rows(engine)
    yield application
    _empty_tables(engine)
    engine.dispose()


@pytest.fixture()
def db(app):
    """A session of the test's own (no app context is kept pushed: requests get their own)."""
    with Session(app.extensions["junkan.engine"], expire_on_commit=False) as session:
        yield session


@pytest.fixture()
def client(app):
    """A test client whose browser asks for English (Japanese is the site default)."""
    test_client = app.test_client()
    test_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return test_client


@pytest.fixture()
def api_token(client):
    """Returns a function that gets a bearer header for an e-mail."""

    def _token(email: str, password: str = PASSWORD) -> dict:
        r = client.post("/api/v1/tokens", json={"email": email, "password": password})
        assert r.status_code == 201, r.get_json()
        return {"Authorization": f"Bearer {r.get_json()['token']}"}

    return _token


# Stripe: one localstripe per test session, started by the first test that asks for it.
from demo_rows import load_demo_rows  # noqa: E402
from stripe_fixtures import live_server, local_stripe, stripe_app, stripe_gateway  # noqa: E402,F401
