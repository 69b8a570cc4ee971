"""The migrations build exactly the tables of the models, and keep the scheduler's job store."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

import web.models  # noqa: F401  (every table module)
from web.migrate import upgrade
from web.scheduler import JOBSTORE_TABLE


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
