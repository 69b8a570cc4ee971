"""Green-purchasing reports on the web: the page, its CSV (UTF-8 with BOM, headers in the
reader's language) and the API, with the same figures and the same readers."""

import csv
import io
from datetime import date
from decimal import Decimal

from factories import login, make_member, make_org
from proc_ocds_factories import make_category, make_order
from sqlalchemy import event


def _world(db):
    city = make_org(db, kind="agency", name_en="City of Yokohama", name_ja="横浜市")
    other = make_org(db, kind="agency", name_en="Kanto Office", name_ja="関東事務所")
    maker = make_org(db, kind="manufacturer")
    operator = make_org(db, kind="operator")
    benches = make_category(db, code="a-benches")
    stationery = make_category(
        db,
        code="b-stationery",
        name_en="Stationery",
        name_ja="文具類",
        min_post_consumer_pct=None,
        min_total_pct=Decimal("40"),
    )
    make_order(db, city, maker, benches, date(2026, 4, 1), 850, "95", "100", 1_200_000)
    make_order(
        db, city, maker, benches, date(2027, 3, 31), 3_400, "60", "100", 4_000_000, source="tender"
    )
    make_order(db, city, maker, stationery, date(2026, 10, 15), 123, "0", "40.5", 98_000)
    make_order(db, city, maker, benches, date(2027, 4, 1), 500, "100", "100", 700_000)
    members = {
        "officer": make_member(db, city, roles="officer"),
        "other officer": make_member(db, other, roles="officer"),
        "maker": make_member(db, maker, roles="admin trader"),
        "operator": make_member(db, operator, roles="admin"),
    }
    return city, other, members


def test_the_officer_reads_the_fiscal_years_results_on_the_page(client, db):
    city, _other, members = _world(db)
    login(client, members["officer"].email)
    assert 'href="/procurement/reports"' in client.get("/").get_data(as_text=True)
    r = client.get("/procurement/reports?fy=2026")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "City of Yokohama · FY2026" in page
    assert "Orders dated 2026-04-01 to 2027-03-31" in page
    assert "Park benches, picnic tables (plastic)" in page and "Stationery" in page
    assert "¥5,200,000" in page and "¥5,720,000" in page  # benches, tax excluded and included
    assert "4.250" in page and "2.848" in page  # mass and post-consumer tonnes of benches
    assert 'href="/procurement/reports.csv?fy=2026"' in page
    fy2027 = client.get("/procurement/reports?fy=2027").get_data(as_text=True)
    assert "¥700,000" in fy2027 and "Stationery" not in fy2027


def test_the_page_in_japanese_names_the_reiwa_year(client, db):
    _city, _other, members = _world(db)
    login(client, members["officer"].email)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ja"
    members["officer"].locale = "ja"
    db.add(members["officer"])
    db.commit()
    page = client.get("/procurement/reports?fy=2026").get_data(as_text=True)
    assert "横浜市 · 2026年度（令和8年度）" in page
    assert "文具類" in page


def test_bad_fiscal_year_on_the_page_says_so_and_shows_this_year(client, db):
    _city, _other, members = _world(db)
    login(client, members["officer"].email)
    r = client.get("/procurement/reports?fy=nonsense")
    assert r.status_code == 200
    assert "Choose a fiscal year from 2000 to 2099" in r.get_data(as_text=True)
    assert client.get("/procurement/reports.csv?fy=1999").status_code == 400


def test_csv_is_utf8_with_bom_and_has_the_pages_figures(client, db):
    _city, _other, members = _world(db)
    login(client, members["officer"].email)
    r = client.get("/procurement/reports.csv?fy=2026")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert r.headers["Content-Disposition"].startswith(
        'attachment; filename="green-purchasing-FY2026'
    )
    assert r.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0][:7] == [
        "Fiscal year",
        "Agency",
        "Category code",
        "Category",
        "Classification",
        "Procurement route",
        "Orders",
    ]
    lines = {(row[2], row[5]): row for row in rows[1:]}
    benches = lines[("a-benches", "Total")]
    assert benches[6:19] == [
        "2",
        "5200000",
        "5720000",
        "4.250",
        "4.250",
        "100.0",
        "2.848",
        "90",
        "100",
        "1",
        "1",
        "0.850",
        "20.0",
    ]
    assert lines[("a-benches", "Tender orders")][6:8] == ["1", "4000000"]
    grand = lines[("", "Total")]
    assert grand[3] == "All categories" and grand[6:9] == ["3", "5298000", "5827800"]
    assert len(rows) == 1 + 3 + 2 + 3  # header, benches ×3, stationery ×2, totals ×3


def test_csv_headers_are_japanese_in_the_japanese_ui(client, db):
    _city, _other, members = _world(db)
    members["officer"].locale = "ja"
    db.add(members["officer"])
    db.commit()
    login(client, members["officer"].email)
    r = client.get("/procurement/reports.csv?fy=2026")
    text = r.data.decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(text)))
    assert header[0] == "年度" and header[3] == "品目" and header[9] == "総調達量（t）"
    assert "文具類" in text and "横浜市" in text


def test_readers_the_operator_chooses_the_agency_others_get_403_or_404(client, db):
    city, other, members = _world(db)
    login(client, members["operator"].email)
    page = client.get("/procurement/reports?fy=2026").get_data(as_text=True)
    assert "Choose the agency whose report to read." in page
    assert f'<option value="{city.id}"' in page and f'<option value="{other.id}"' in page
    page = client.get(f"/procurement/reports?fy=2026&organization_id={city.id}")
    assert "¥5,298,000" in page.get_data(as_text=True)
    csv_link = f"/procurement/reports.csv?fy=2026&amp;organization_id={city.id}"
    assert csv_link in page.get_data(as_text=True)
    client.post("/logout")

    login(client, members["other officer"].email)
    assert client.get(f"/procurement/reports?fy=2026&organization_id={city.id}").status_code == 404
    assert (
        client.get(f"/procurement/reports.csv?fy=2026&organization_id={city.id}").status_code == 404
    )
    client.post("/logout")

    login(client, members["maker"].email)
    assert 'href="/procurement/reports"' not in client.get("/").get_data(as_text=True)
    assert client.get("/procurement/reports?fy=2026").status_code == 403
    client.post("/logout")
    assert client.get("/procurement/reports?fy=2026").status_code in (302, 401)


def test_the_api_gives_the_same_figures_to_the_same_readers(client, db, api_token):
    city, other, members = _world(db)
    officer = api_token(members["officer"].email)
    r = client.get("/api/v1/procurement/reports?fiscal_year=2026", headers=officer)
    assert r.status_code == 200
    body = r.get_json()
    assert body["organization_id"] == city.id and body["fiscal_year"] == 2026
    assert body["period_start"] == "2026-04-01" and body["period_end"] == "2027-03-31"
    assert body["total"]["value_jpy"] == 5_298_000 and body["total"]["mass_t"] == "4.373"
    assert [c["code"] for c in body["categories"]] == ["a-benches", "b-stationery"]
    assert body["categories"][0]["tender"]["orders"] == 1
    url = f"/api/v1/procurement/reports?fiscal_year=2026&organization_id={city.id}"
    assert client.get(url, headers=api_token(members["other officer"].email)).status_code == 404
    assert client.get(url, headers=api_token(members["maker"].email)).status_code == 403
    operator = api_token(members["operator"].email)
    assert client.get(url, headers=operator).get_json()["total"]["orders"] == 3
    r = client.get("/api/v1/procurement/reports?fiscal_year=2026", headers=operator)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "organization_id"
    assert client.get("/api/v1/procurement/reports?fiscal_year=2026").status_code == 401
    bad = client.get("/api/v1/procurement/reports?fiscal_year=1999", headers=officer)
    assert bad.status_code == 400


def test_the_page_costs_the_same_queries_for_few_or_many_orders(app, client, db):
    city, _other, members = _world(db)
    login(client, members["officer"].email)
    engine = app.extensions["junkan.engine"]

    def count(url: str) -> int:
        statements: list[str] = []

        def _count(conn, cursor, statement, *args) -> None:
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", _count)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", _count)
        return len(statements)

    before = count("/procurement/reports?fy=2026")
    maker = make_org(db, kind="manufacturer")
    extra = make_category(db, code="d-cones", name_en="Traffic cones")
    for day in range(1, 13):
        make_order(db, city, maker, extra, date(2026, 5, day), 100 + day, "10", "50", 10_000)
    after = count("/procurement/reports?fy=2026")
    assert after == before
