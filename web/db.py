"""Engine per app, one SQLModel session per request (rolled back on error)."""

import math
import sqlite3

from flask import Flask, current_app, g
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

ENGINE_KEY = "junkan.engine"


def _ensure_math_functions(dbapi_conn) -> None:
    """The search measures distances in SQL (sin, cos, asin, sqrt, min): a SQLite built without
    its math functions gets Python's, which give the same results."""
    try:
        dbapi_conn.execute("SELECT sin(0), cos(0), asin(0), sqrt(0)").fetchone()
    except sqlite3.OperationalError:
        for name, fn in (
            ("sin", math.sin),
            ("cos", math.cos),
            ("asin", math.asin),
            ("sqrt", math.sqrt),
        ):
            dbapi_conn.create_function(name, 1, fn, deterministic=True)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()
            _ensure_math_functions(dbapi_conn)

        return engine
    # psycopg prepares a statement on the server after its fifth run; PostgreSQL then plans it
    # once for any values (a "generic plan") when that looks as cheap as the last five. For the
    # search that guess is wrong (e.g. "is any open listing's stored price stale?" went from an
    # index probe to reading the table: 1 → 38 ms at 100k), so every run is planned for its
    # own values, still parsed only once.
    return create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"options": "-c plan_cache_mode=force_custom_plan"},
    )


def init_app(app: Flask) -> None:
    app.extensions[ENGINE_KEY] = make_engine(app.config["DATABASE_URL"])

    @app.teardown_appcontext
    def _close_session(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


def get_engine() -> Engine:
    return current_app.extensions[ENGINE_KEY]


def get_db() -> Session:
    """The request's session (created on first use)."""
    if "db" not in g:
        g.db = Session(get_engine(), expire_on_commit=False)
    return g.db
