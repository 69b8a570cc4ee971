"""List pages cost the same number of queries whatever number of rows they show (no N+1)."""

from contextlib import contextmanager

from sqlalchemy import event

from quality.catalogue import seed_catalogue
from quality.models import GradeStandard, StandardVersion


@contextmanager
def counted(engine):
    statements: list[str] = []

    def _count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _count)


def _add_standards(db, n: int) -> None:
    for i in range(n):
        standard = GradeStandard(
            code=f"TEST-{i}", material_code="pp", name_en=f"T{i}", name_ja=f"T{i}", rank=10 + i
        )
        db.add(standard)
        db.flush()
        db.add(
            StandardVersion(
                standard_id=standard.id,
                number=1,
                status="published",
                spec_json='{"limits": [], "requirements": [], "derived": []}',
            )
        )
    db.commit()


def test_standards_page_and_api_do_not_query_per_standard(app, client, db):
    seed_catalogue(db)
    db.commit()
    engine = app.extensions["junkan.engine"]
    with counted(engine) as before_page:
        assert client.get("/standards").status_code == 200
    with counted(engine) as before_api:
        assert client.get("/api/v1/standards?per_page=100").status_code == 200
    _add_standards(db, 12)
    with counted(engine) as after_page:
        page = client.get("/standards").get_data(as_text=True)
    with counted(engine) as after_api:
        body = client.get("/api/v1/standards?per_page=100").get_json()
    assert "TEST-11" in page and any(s["code"] == "TEST-11" for s in body["items"])
    assert len(after_page) == len(before_page)
    assert len(after_api) == len(before_api)
