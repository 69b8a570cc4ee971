"""Price index pages: values table, server-rendered SVG chart, operator entry and CSV import."""

import io
import re
from datetime import date

import pytest
from factories import login, make_member, make_org
from sqlmodel import select
from svg_pictures import path_of, pictures, texts

from market.models import IndexValue, PriceIndex


@pytest.fixture()
def copper(db):
    index = PriceIndex(
        code="CU-SCRAP-JP",
        name_en="Copper scrap",
        name_ja="銅スクラップ",
        material_code="copper_scrap",
    )
    db.add(index)
    db.commit()
    for month, value in ((1, 1_000_000), (2, 1_050_000), (3, 980_000)):
        db.add(IndexValue(index_id=index.id, month=date(2026, month, 1), value_jpy_per_t=value))
    db.commit()
    return index


@pytest.fixture()
def operator(db):
    return make_member(db, make_org(db, kind="operator", prefecture="13"))


def values(db, index) -> dict[str, int]:
    db.expire_all()
    rows = db.exec(select(IndexValue).where(IndexValue.index_id == index.id)).all()
    return {r.month.strftime("%Y-%m"): r.value_jpy_per_t for r in rows}


def test_index_list_shows_the_latest_value(client, copper):
    page = client.get("/indices").get_data(as_text=True)
    assert "CU-SCRAP-JP" in page and "¥980,000" in page


def test_index_page_draws_the_values_with_round_ticks_labelled_months_and_a_text(client, copper):
    r = client.get("/indices/CU-SCRAP-JP")
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    [(_cls, alt, svg)] = pictures(page)
    assert alt == (
        "Chart of the monthly values of CU-SCRAP-JP, 2026-01 to 2026-03: ¥1,000,000 → "
        "¥980,000 per tonne (low ¥980,000, high ¥1,050,000). The table below has every value."
    )
    words = texts(svg)
    assert ["2026-01", "2026-02", "2026-03"] == [w for w in words if w.startswith("2026-")]
    ticks = [int(w[1:].replace(",", "")) for w in words if w.startswith("¥")]
    assert ticks == [980_000, 1_000_000, 1_020_000, 1_040_000, 1_060_000]
    points = path_of(svg, "index-values")
    assert len(points) == 3
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    assert xs == sorted(xs)  # months left to right
    assert ys[1] < ys[0] < ys[2]  # February highest (smallest y), March lowest
    assert "2026-02" in page and "¥1,050,000" in page  # the table of figures
    assert "style=" not in page and "<script" not in page and "<svg" not in page
    assert "Enter a value" not in page  # operator-only forms


def test_index_page_without_values_has_no_chart(client, db):
    db.add(PriceIndex(code="PET-JP", name_en="PET", name_ja="PET", material_code="pet"))
    db.commit()
    page = client.get("/indices/PET-JP").get_data(as_text=True)
    assert "<svg" not in page and "No values yet." in page
    assert client.get("/indices/NOPE").status_code == 404


def test_operator_enters_a_value(client, db, copper, operator):
    login(client, operator.email)
    assert "Enter a value" in client.get("/indices/CU-SCRAP-JP").get_data(as_text=True)
    r = client.post(
        "/indices/CU-SCRAP-JP/values", data={"month": "2026-04", "value_jpy_per_t": "1010000"}
    )
    assert r.status_code == 302
    assert values(db, copper)["2026-04"] == 1_010_000
    r = client.post(
        "/indices/CU-SCRAP-JP/values", data={"month": "2026-05", "value_jpy_per_t": "-5"}
    )
    assert r.status_code == 422
    assert "The value must be at least 1." in r.get_data(as_text=True)
    assert "2026-05" not in values(db, copper)
    r = client.post(
        "/indices/CU-SCRAP-JP/values", data={"month": "9999-12", "value_jpy_per_t": "5"}
    )
    assert r.status_code == 422 and "Enter a month as YYYY-MM." in r.get_data(as_text=True)


def test_other_members_cannot_enter_values(client, db, copper):
    member = make_member(db, make_org(db, kind="recycler"))
    login(client, member.email)
    r = client.post(
        "/indices/CU-SCRAP-JP/values", data={"month": "2026-04", "value_jpy_per_t": "1"}
    )
    assert r.status_code == 403
    assert "2026-04" not in values(db, copper)


def _upload(client, text: str):
    return client.post(
        "/indices/CU-SCRAP-JP/import",
        data={"file": (io.BytesIO(text.encode()), "values.csv")},
        content_type="multipart/form-data",
    )


def test_csv_import_with_errors_lists_each_row_and_saves_nothing(client, db, copper, operator):
    login(client, operator.email)
    r = _upload(client, "month,value\n2026-04,1020000\n2026-13,5\n2026-06,abc\n2026-04,1\n")
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "The file has errors in 3 rows; nothing was saved." in page
    rows = re.findall(
        r"<tr><td>(\d+)</td><td>(\w*)</td><td class=\"error\">([^<]+)</td></tr>", page
    )
    assert rows == [
        ("3", "month", "Enter a month as YYYY-MM."),
        ("4", "value", "Enter a positive whole number of yen."),
        ("5", "month", "This month appears twice."),
    ]
    assert set(values(db, copper)) == {"2026-01", "2026-02", "2026-03"}


def test_csv_import_saves_every_row(client, db, copper, operator):
    login(client, operator.email)
    r = _upload(client, 'month,value\n2026-04,1020000\n2026-05,"1,030,000"\n')
    assert r.status_code == 302
    assert values(db, copper)["2026-05"] == 1_030_000
    [(_cls, _alt, svg)] = pictures(client.get("/indices/CU-SCRAP-JP").get_data(as_text=True))
    assert len(path_of(svg, "index-values")) == 5
    assert _upload(client, "").status_code == 422


def test_operator_creates_an_index_and_bad_codes_are_refused(client, db, operator, api_token):
    from quality.catalogue import seed_catalogue

    seed_catalogue(db)
    db.commit()
    login(client, operator.email)
    page = client.get("/indices").get_data(as_text=True)
    assert "New price index" in page
    r = client.post(
        "/indices",
        data={
            "code": "pp-regrind-jp",
            "name_en": "PP regrind",
            "name_ja": "PP粉砕品",
            "material": "pp",
            "source": "dealers",
        },
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/indices/PP-REGRIND-JP")
    bad = client.post(
        "/indices", data={"code": "PP REGRIND!", "name_en": "x", "name_ja": "x", "material": "pp"}
    )
    assert bad.status_code == 422
    assert "capital letters, digits and hyphens" in bad.get_data(as_text=True)
    headers = api_token(operator.email)
    again = client.post(
        "/api/v1/indices",
        headers=headers,
        json={"code": "PP-REGRIND-JP", "name_en": "x", "name_ja": "x", "material": "pp"},
    )
    assert again.status_code == 422 and again.get_json()["errors"][0]["field"] == "code"
    assert len(db.exec(select(PriceIndex).where(PriceIndex.material_code == "pp")).all()) == 1


def test_only_the_operator_creates_indices(client, db, api_token):
    member = make_member(db, make_org(db, kind="recycler"))
    r = client.post(
        "/api/v1/indices",
        headers=api_token(member.email),
        json={"code": "X-1", "name_en": "x", "name_ja": "x", "material": "pp"},
    )
    assert r.status_code == 403
    login(client, member.email)
    assert "New price index" not in client.get("/indices").get_data(as_text=True)
    assert client.post("/indices", data={"code": "X-1"}).status_code == 403


def test_entering_or_importing_a_value_stores_the_prices_of_the_listings_on_the_index(
    client, db, copper, operator
):
    """The search's sort key follows the operator's entries: the listings on the index hold
    their price for this month as soon as a value is entered or imported, worked out as
    `evaluate` does (factor, premium, floor, cap); listings on other indices are not touched."""
    from decimal import Decimal

    from factories import make_listing

    from market.indices import evaluate, formula_of
    from market.models import SupplyListing
    from quality.catalogue import latest_published, seed_catalogue

    seed_catalogue(db)
    db.commit()
    version = latest_published(db, "HDPE-NAT-B")[1].id
    seller = make_org(db, kind="recycler")
    on_copper = make_listing(
        db,
        seller,
        version,
        price_kind="index",
        fixed_price_jpy_per_t=None,
        index_id=copper.id,
        index_factor=Decimal("0.925"),
        premium_jpy_per_t=-15_000,
        cap_jpy_per_t=1_000_000,
    )
    fixed = make_listing(db, seller, version)
    month = date.today().replace(day=1)

    def stored(listing) -> tuple:
        row = db.exec(
            select(SupplyListing.price_key, SupplyListing.price_month).where(
                SupplyListing.id == listing.id
            )
        ).one()
        return tuple(row)

    assert stored(on_copper) == (None, None) and stored(fixed) == (None, None)
    login(client, operator.email)
    entered = {"month": f"{month:%Y-%m}", "value_jpy_per_t": "1010001"}
    assert client.post("/indices/CU-SCRAP-JP/values", data=entered).status_code == 302
    assert stored(on_copper) == (evaluate(formula_of(on_copper), 1_010_001), month)
    assert stored(on_copper)[0] == 919_251  # round-half-up(1,010,001 × 0.925) − 15,000
    assert stored(fixed) == (None, None)
    assert _upload(client, f"month,value\n{month:%Y-%m},1200000\n").status_code == 302
    assert stored(on_copper) == (1_000_000, month)  # 1,095,000 held down by the cap
