"""The migrations build exactly the tables of the models, and keep the scheduler's job store."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

import web.models  # noqa: F401  (every table module)
from web.migrate import upgrade
from web.scheduler import JOBSTORE_TABLE


# Expression indexes: SQLite's reflection and Alembic's comparison skip them (the next test
# checks them instead).
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_head_has_every_model_table_as_declared_and_the_scheduler_job_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'head.db'}"
    upgrade(url)
    engine = create_engine(url)
    try:
        assert JOBSTORE_TABLE in inspect(engine).get_table_names()
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"include_name": lambda name, kind, _parent: name != JOBSTORE_TABLE},
            )
            assert compare_metadata(context, SQLModel.metadata) == []
    finally:
        engine.dispose()


def test_the_largest_volume_search_reads_its_expression_index_in_order(tmp_path):
    """Alembic cannot compare expression indexes on SQLite (it skips them), so: the migration
    made them, and a largest-volume page reads the listings' one in the search's own order (no
    sort of every match)."""
    from datetime import date

    from factories import as_actor, make_listing, make_member, make_org
    from sqlalchemy import event
    from sqlmodel import Session

    from market.search import SearchFilters, search_listings
    from quality.catalogue import get_version, seed_catalogue

    TODAY = date(2026, 12, 3)

    url = f"sqlite:///{tmp_path / 'head.db'}"
    upgrade(url)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            made = dict(
                connection.exec_driver_sql(
                    "SELECT tbl_name, sql FROM sqlite_master WHERE name LIKE '%status_open_kg'"
                ).all()
            )
        assert (
            "(status, (monthly_kg - filled_kg) DESC, created_at DESC, id)" in made["offtakerequest"]
        )
        assert (
            "(status, (monthly_kg - committed_kg) DESC, created_at DESC, id)"
            in made["supplylisting"]
        )
        seen: list[tuple] = []

        @event.listens_for(engine, "before_cursor_execute")
        def keep(conn, cursor, statement, parameters, context, executemany):
            if "ORDER BY" in statement and "LIMIT" in statement:
                seen.append((statement, parameters))

        with Session(engine) as session:
            seed_catalogue(session)
            _, version = get_version(session, "ISRI-BIRCH-CLIFF", 1)
            seller = make_org(session, kind="recycler", prefecture="11")
            make_listing(session, seller, version.id)
            buyer = make_org(session, kind="manufacturer", prefecture="27")
            actor = as_actor(session, make_member(session, buyer))
            seen.clear()
            found = search_listings(session, actor, SearchFilters(sort="volume"), today=TODAY)
            assert found.total == 1
        event.remove(engine, "before_cursor_execute", keep)
        (statement, parameters), *_ = seen
        with engine.connect() as connection:
            plan = " | ".join(
                row[-1]
                for row in connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {statement}", parameters
                ).all()
            )
        assert "ix_supplylisting_status_open_kg" in plan and "TEMP B-TREE" not in plan, plan
    finally:
        engine.dispose()
