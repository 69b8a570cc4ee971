"""The demo story in a test database, fast: `load_demo_rows(engine, gateway=None)`."""

from sqlalchemy import Integer, text
from sqlmodel import Session, SQLModel

import web.models  # noqa: F401  (every table)

# The demo story's rows, per (paid through localstripe?, day in Tokyo), once loaded in this
# worker: later loads copy them instead of running the story again (about 0.3 s, not 7 s).
_DEMO_ROWS: dict[tuple, list[tuple[object, list[dict]]]] = {}


def load_demo_rows(engine, gateway=None) -> None:
    """Put the demo story into the (empty) test database: the first time in this worker by
    running `demo.load_demo` (through the domain, as `junkan demo load` does), afterwards by
    inserting the rows that run wrote. The story depends only on the day (and on whether its
    past invoices are paid through this session's localstripe, whose objects the copied rows
    name), so a copy is the same story."""
    from demo import load_demo
    from participants.columns import tokyo_today

    key = (gateway is not None, tokyo_today())
    rows = _DEMO_ROWS.get(key)
    if rows is None:
        with Session(engine, expire_on_commit=False) as session:
            load_demo(session, echo=lambda _line: None, gateway=gateway)
            session.commit()
        with engine.connect() as conn:
            _DEMO_ROWS[key] = [
                (table, [dict(r) for r in conn.execute(table.select()).mappings()])
                for table in SQLModel.metadata.sorted_tables
            ]
        return
    with engine.begin() as conn:
        for table, table_rows in rows:
            if table_rows:
                conn.execute(table.insert(), table_rows)
        if engine.dialect.name == "postgresql":
            for table, table_rows in rows:
                if table_rows and "id" in table.c and isinstance(table.c.id.type, Integer):
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT max(id) FROM {table.name}))"
                        )
                    )
