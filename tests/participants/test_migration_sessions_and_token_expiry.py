"""Migration 0006 adds server-side sessions, gives existing API tokens an expiry and keeps the
login attempts, now indexed by (e-mail, client address, time)."""

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import create_engine, inspect, text

from participants.columns import UTCDateTime
from web.migrate import upgrade


def _at(engine, value: str) -> str:
    """A timestamp literal as each engine stores it (SQLite: naive UTC text)."""
    return value if engine.dialect.name == "sqlite" else value + "+00"


def test_upgrade_gives_existing_tokens_an_expiry_ninety_days_after_creation(empty_database_url):
    upgrade(empty_database_url, "0005")
    engine = create_engine(empty_database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organization (id, kind, name_ja, name_en, country, address, status,"
                " created_at) VALUES (1, 'recycler', '彩の国', 'Sainokuni', 'JP', '', 'verified',"
                " :now)"
            ),
            {"now": _at(engine, "2026-11-01 00:00:00")},
        )
        conn.execute(
            text(
                "INSERT INTO member (id, organization_id, email, name, password_hash, roles,"
                " locale, active, created_at) VALUES (1, 1, 'a@b.jp', 'A', 'x', 'admin', 'ja',"
                " true, :now)"
            ),
            {"now": _at(engine, "2026-11-01 00:00:00")},
        )
        conn.execute(
            text(
                "INSERT INTO apitoken (id, member_id, name, token_sha256, prefix, created_at,"
                " revoked_at) VALUES (1, 1, 'ERP', :h1, 'jk_aaaaaaa', :c1, NULL),"
                " (2, 1, 'Old', :h2, 'jk_bbbbbbb', :c2, :c2)"
            ),
            {
                "h1": "1" * 64,
                "h2": "2" * 64,
                "c1": _at(engine, "2026-10-15 09:30:00.250000"),
                "c2": _at(engine, "2026-01-02 03:04:05"),
            },
        )
        conn.execute(
            text(
                "INSERT INTO loginattempt (email, remote_addr, succeeded, at)"
                " VALUES ('a@b.jp', '203.0.113.9', false, :at)"
            ),
            {"at": _at(engine, "2026-11-01 00:00:00")},
        )
    engine.dispose()

    upgrade(empty_database_url)

    engine = create_engine(empty_database_url)
    tokens = sa.table(
        "apitoken",
        sa.column("id", sa.Integer()),
        sa.column("created_at", UTCDateTime()),
        sa.column("expires_at", UTCDateTime()),
        sa.column("revoked_at", UTCDateTime()),
    )
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(tokens.c.id, tokens.c.expires_at, tokens.c.revoked_at).order_by(tokens.c.id)
        ).all()
        assert [(r.id, r.expires_at) for r in rows] == [
            (1, datetime(2027, 1, 13, 9, 30, 0, 250000, tzinfo=UTC)),
            (2, datetime(2026, 4, 2, 3, 4, 5, tzinfo=UTC)),
        ]
        assert rows[1].revoked_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        assert conn.execute(text("SELECT email, remote_addr FROM loginattempt")).one() == (
            "a@b.jp",
            "203.0.113.9",
        )
    inspector = inspect(engine)
    columns = {c["name"]: c for c in inspector.get_columns("apitoken")}
    assert columns["expires_at"]["nullable"] is False
    indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes("loginattempt")}
    assert indexes["ix_loginattempt_email_remote_addr_at"] == ["email", "remote_addr", "at"]
    assert "ix_loginattempt_email_at" not in indexes
    assert {c["name"] for c in inspector.get_columns("membersession")} == {
        "id",
        "member_id",
        "token_sha256",
        "created_at",
        "last_seen_at",
        "revoked_at",
        "user_agent",
        "remote_addr",
    }
    engine.dispose()
