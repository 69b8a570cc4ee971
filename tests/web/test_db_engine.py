"""Each database connection is set up for its engine as `web.db.make_engine` promises."""


def test_each_connection_is_set_up_for_its_database(app):
    engine = app.extensions["junkan.engine"]
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            # Planned for its own values every run: a prepared search statement must not fall
            # back to one plan for any values (a stale-price probe read the table: 1 → 38 ms).
            assert conn.exec_driver_sql("SHOW plan_cache_mode").scalar() == "force_custom_plan"
        else:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
