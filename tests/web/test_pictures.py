"""Pictures (issue 11): index sparklines beside prices, the listing's formula chart, bars and
badges; each picture is an SVG drawn on the server with a text alternative, and a page costs
the same number of queries whatever its number of rows."""

import itertools
import re
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from factories import login, make_listing, make_member, make_org, make_request
from svg_pictures import path_of, pictures, texts
from test_query_counts import counted

from market.indices import Formula
from market.matching import current_month
from market.models import IndexValue, PriceIndex
from quality.catalogue import latest_published, seed_catalogue
from web.charts import sparkline
from web.sparklines import formula_points

# 2024-01 … 2030-12: ¥800,000 rising by ¥5,000 a month (pages default to this month).
MONTHS = [date(2024 + i // 12, i % 12 + 1, 1) for i in range(84)]
VALUES = [800_000 + 5_000 * i for i in range(len(MONTHS))]


def _alt(last: date) -> str:
    """The text alternative of the sparkline of the 12 months up to `last`."""
    end = MONTHS.index(last.replace(day=1))
    start, high = VALUES[end - 11], VALUES[end]
    first = MONTHS[end - 11].strftime("%Y-%m")
    return (
        f"HDPE-JP, {first} to {last:%Y-%m}: ¥{start:,} → ¥{high:,} per tonne "
        f"(low ¥{start:,}, high ¥{high:,})"
    )


INDEX_PRICED = dict(
    price_kind="index",
    fixed_price_jpy_per_t=None,
    index_factor=Decimal("0.9"),
    premium_jpy_per_t=-20_000,
    floor_jpy_per_t=900_000,
    cap_jpy_per_t=1_000_000,
)


def _index(db, code: str, shift: int = 0) -> PriceIndex:
    index = PriceIndex(code=code, name_en=code, name_ja=code, material_code="hdpe")
    db.add(index)
    db.commit()
    for month, value in zip(MONTHS, VALUES, strict=True):
        db.add(IndexValue(index_id=index.id, month=month, value_jpy_per_t=value + shift))
    db.commit()
    return index


@pytest.fixture()
def market(db):
    seed_catalogue(db)
    version = latest_published(db, "HDPE-NAT-B")[1].id
    recycler = make_org(db, kind="recycler")
    maker = make_org(db, kind="manufacturer", lat=35.45, lon=139.64)
    index = _index(db, "HDPE-JP")
    listing = make_listing(db, recycler, version, index_id=index.id, **INDEX_PRICED)
    req = make_request(db, maker, version, max_price_jpy_per_t=2_000_000)
    return {
        "db": db,
        "version": version,
        "recycler": recycler,
        "index": index,
        "listing": listing,
        "request": req,
        "buyer": make_member(db, maker, roles="admin trader"),
        "operator": make_member(db, make_org(db, kind="operator"), roles="admin"),
    }


ALT_12 = _alt(date(2027, 1, 1))


def test_formula_points_are_the_ends_and_where_the_formula_meets_floor_and_cap():
    formula = Formula("index", None, 1, Decimal("0.9"), -20_000, 900_000, 1_000_000)
    assert formula_points(formula, 800_000, 1_300_000) == [
        (800_000, 900_000),  # 0.9 × 800,000 − 20,000 = 700,000: held up by the floor
        (1_022_222, 900_000),
        (1_133_333, 1_000_000),
        (1_300_000, 1_000_000),  # 1,150,000: held down by the cap
    ]
    no_bounds = Formula("index", None, 1, Decimal("0.9"), -20_000)
    assert formula_points(no_bounds, 800_000, 1_300_000) == [
        (800_000, 700_000),
        (1_300_000, 1_150_000),
    ]


def test_the_listings_page_shows_the_index_of_the_last_12_months_beside_the_price(client, market):
    login(client, market["buyer"].email)
    page = client.get("/listings?price_month=2027-01").get_data(as_text=True)
    [(cls, alt, svg)] = pictures(page, client)
    assert cls == "spark" and alt == ALT_12
    points = path_of(svg, "sparkline")
    assert len(points) == 12  # 2026-02 … 2027-01, not the months before
    assert [y for _x, y in points] == sorted((y for _x, y in points), reverse=True)  # rising
    assert texts(svg) == []  # no axes, no labels: a word-sized picture
    assert "signs.css" in page and "style=" not in page and "<script" not in page


def test_the_listing_page_plots_the_formula_against_the_index_with_floor_cap_and_today(
    client, market
):
    login(client, market["buyer"].email)
    page = client.get(f"/listings/{market['listing'].id}").get_data(as_text=True)
    (spark_cls, spark_alt, _spark), (cls, alt, svg) = pictures(page, client)
    assert spark_cls == "spark"
    assert cls == "chart"
    assert spark_alt == _alt(current_month())
    index_now = VALUES[MONTHS.index(current_month())]
    price_now = min(max(index_now * 9 // 10 - 20_000, 900_000), 1_000_000)
    assert "Never below the floor of ¥900,000." in alt
    assert "Never above the cap of ¥1,000,000." in alt
    assert f"At the current index of ¥{index_now:,} the price is ¥{price_now:,}." in alt
    floor_part, rise_start, rise_end, cap_part = path_of(svg, "formula")
    assert floor_part[1] == rise_start[1]  # flat at the floor
    assert rise_end[1] == cap_part[1]  # flat at the cap
    assert rise_end[1] < rise_start[1]  # the cap above the floor (SVG y grows down)
    assert floor_part[0] < rise_start[0] < rise_end[0] < cap_part[0]
    floor_line, cap_line = path_of(svg, "floor"), path_of(svg, "cap")
    assert floor_line[0][1] == pytest.approx(floor_part[1], abs=0.01)
    assert cap_line[0][1] == pytest.approx(cap_part[1], abs=0.01)
    assert '<g id="current">' in svg
    assert {"Floor ¥900,000", "Cap ¥1,000,000", "Index (¥/t)", "Price (¥/t)"} <= set(texts(svg))
    ticks = [int(w[1:].replace(",", "")) for w in texts(svg) if re.fullmatch(r"¥[\d,]+", w)]
    restart = next(i for i in range(1, len(ticks)) if ticks[i] < ticks[i - 1])
    for axis in (ticks[:restart], ticks[restart:]):  # x then y, each rising
        assert len(axis) >= 3
        assert all(_is_round_step(b - a) for a, b in itertools.pairwise(axis)), axis


def _is_round_step(step: int) -> bool:
    """1, 2, 2.5 or 5 × 10^k."""
    while step >= 100 and step % 10 == 0:
        step //= 10
    return step in (1, 2, 5, 10, 20, 25, 50)


def test_a_fixed_price_listing_has_no_index_pictures(client, market):
    listing = make_listing(market["db"], market["recycler"], market["version"])
    login(client, market["buyer"].email)
    page = client.get(f"/listings/{listing.id}").get_data(as_text=True)
    assert pictures(page) == []


def test_candidates_and_proposals_show_the_sparkline_score_bars_and_status_badges(client, market):
    login(client, market["operator"].email)
    assert client.post("/operator/matching", data={"month": "2027-01"}).status_code == 302
    client.post("/logout")
    login(client, market["buyer"].email)
    page = client.get(f"/requests/{market['request'].id}/candidates?month=2027-01")
    text = page.get_data(as_text=True)
    [(cls, alt, _svg)] = pictures(text)
    assert cls == "spark" and alt == ALT_12
    score = re.search(r'<meter class="bar" min="0" max="100" value="(\d+)"', text)
    assert score is not None and f"score {score.group(1)}" in text  # the number beside the bar
    assert text.count('<meter class="bar" min="0" max="1"') == 5  # one per part of the score

    text = client.get("/proposals").get_data(as_text=True)
    assert [alt for _c, alt, _s in pictures(text)] == [_alt(current_month())]
    assert '<span class="badge badge-wait">Proposed</span>' in text  # colour and word


def _contrast(fore: str, back: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(fore), luminance(back)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_every_badge_reads_at_a_contrast_of_at_least_4_5_to_1():
    css = (Path(__file__).parents[2] / "web" / "static" / "signs.css").read_text()
    badges = re.findall(r"\.badge-(\w+) \{ color: (#[0-9a-f]{6}); background: (#[0-9a-f]{6});", css)
    assert {name for name, _f, _b in badges} == {"go", "wait", "stop", "done", "info"}
    for name, fore, back in badges:
        assert _contrast(fore, back) >= 4.5, name


def test_a_sparkline_is_drawn_once_per_series():
    series = tuple(range(1_000_000, 1_240_000, 20_000))
    sparkline.cache_clear()
    start = time.perf_counter()
    first = sparkline(series)
    drawn = time.perf_counter() - start
    start = time.perf_counter()
    assert sparkline(series) is first
    assert time.perf_counter() - start < drawn / 10
    assert sparkline.cache_info().hits == 1


def test_list_pages_with_sparklines_cost_the_same_queries_whatever_their_rows(app, client, market):
    db, engine = market["db"], app.extensions["junkan.engine"]
    login(client, market["buyer"].email)
    urls = ["/listings?price_month=2027-01", f"/requests/{market['request'].id}/candidates"]
    before = {}
    for url in urls:
        with counted(engine) as statements:
            assert client.get(url).status_code == 200
        before[url] = len(statements)
    for i in range(4):  # more listings, on other indices with their own series
        index = _index(db, f"HDPE-JP-{i}", shift=1_000 * (i + 1))
        make_listing(db, market["recycler"], market["version"], index_id=index.id, **INDEX_PRICED)
    for url in urls:
        with counted(engine) as statements:
            page = client.get(url).get_data(as_text=True)
        assert len(pictures(page)) == 5
        assert len(statements) == before[url], url


def test_a_sparkline_is_served_at_an_address_that_holds_its_values_and_is_kept_a_year(
    client, market
):
    login(client, market["buyer"].email)
    page = client.get("/listings?price_month=2027-01").get_data(as_text=True)
    assert "data:image/svg+xml" not in page  # the page carries an address, not the picture
    [(_cls, _alt, src)] = pictures(page)
    assert src.startswith("/charts/sparkline.svg?v=")
    end = MONTHS.index(date(2027, 1, 1))
    assert src.split("v=")[1].split(",") == [str(v) for v in VALUES[end - 11 : end + 1]]
    client.post("/logout")  # a drawing of what the address says: nobody's data, no login
    response = client.get(src)
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert response.get_data(as_text=True) == sparkline(tuple(VALUES[end - 11 : end + 1]))
    assert response.cache_control.max_age == 365 * 24 * 3600
    assert response.cache_control.public and response.cache_control.immutable


@pytest.mark.parametrize(
    "values",
    ["", "1,,2", "-5", "1.5", "abc", "１２", ",".join(["1"] * 37), "1" * 13, "1%2C2,x"],
)
def test_a_sparkline_address_with_other_than_1_to_36_whole_numbers_is_refused(client, values):
    response = client.get("/charts/sparkline.svg", query_string={"v": values})
    assert response.status_code == 400
    assert "1 to 36 whole numbers" in response.get_data(as_text=True)
