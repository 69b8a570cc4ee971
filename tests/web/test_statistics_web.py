"""Market statistics on the web: the public page (map, charts, suppressed marks), the CSV, the
public API and the own view; an outsider's attack on everything published."""

import csv
import io
import re
import time
import xml.etree.ElementTree as ET  # noqa: N817
from collections import defaultdict
from decimal import Decimal

import pytest
from factories import login, make_member
from statistics_attack import attack, sums
from statistics_factories import make_market
from test_query_counts import counted

from contracts.statistics import StatisticsQuery, statistics_with_map
from market.listings import add_months
from participants.columns import tokyo_today
from participants.geography import BY_CODE, REGION_OF
from quality.catalogue import seed_catalogue
from quality.models import Material
from web.charts import MAP_CLASSES, NO_DATA, japan_map
from web.config import disclosure_rules
from web.formatting import t as tonnes_t

PROTECTION = 0.10


@pytest.fixture()
def market(db):
    seed_catalogue(db)
    db.commit()
    return make_market(db)


def test_a_logged_out_visitor_sees_charts_the_map_and_suppressed_cells(client, market):
    r = client.get("/statistics?material=copper_scrap")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "Market statistics" in page
    assert page.count('class="japan-map"') == 2  # supply and demand
    assert page.count('data-prefecture="') == 94  # 47 prefectures, two maps
    assert page.count("data:image/svg+xml;base64,") == 2  # the two time series
    assert "suppressed" in page and 'class="suppressed"' in page
    assert 'id="map-supply-h' in page and 'id="map-demand-h' in page  # each map's own hatch
    assert 'href="/statistics"' in page  # the public navigation links here


SVG = "{http://www.w3.org/2000/svg}"
MAP_SVG = re.compile(r'<svg [^>]*class="japan-map".*?</svg>', re.S)


def _maps(page: str) -> list[ET.Element]:
    """The page's maps, parsed (each an inline <svg> element)."""
    return [ET.fromstring(m) for m in MAP_SVG.findall(page)]


def _legend(svg: ET.Element) -> list[str]:
    """The legend's words as they read, by rows."""
    texts = svg.iter(SVG + "text")
    return [w.text for w in sorted(texts, key=lambda w: (float(w.get("y")), float(w.get("x"))))]


def _tip(group: ET.Element) -> str:
    title = group.find(SVG + "title")
    assert title is not None and group[0] is title  # the group's first child names it
    return title.text


def test_the_maps_are_drawn_by_matplotlib_with_a_japanese_title_for_each_prefecture(
    app, client, db, market
):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ja"
    page = client.get("/statistics?material=copper_scrap").get_data(as_text=True)
    _out, figures = statistics_with_map(
        db, disclosure_rules(app.config), StatisticsQuery(material="copper_scrap")
    )
    maps = _maps(page)
    assert len(maps) == 2
    assert "<script" not in page.lower()
    for svg, ident, kind in zip(
        maps, ("map-supply", "map-demand"), ("supply", "demand"), strict=True
    ):
        expected = figures[kind]
        shown = {c for c, f in expected.items() if not f.suppressed and f.value > 0}
        hidden = {c for c, f in expected.items() if f.suppressed}
        assert shown and hidden  # the market has both kinds on each map
        # A picture with an accessible name and a text alternative; no fixed size, no style
        # attribute or element (the CSP refuses them), no script.
        assert svg.get("role") == "img"
        assert svg.get("aria-labelledby") == f"{ident}-title"
        assert svg.get("aria-describedby") == f"{ident}-desc"
        assert "viewBox" in svg.attrib and "width" not in svg.attrib
        assert svg.find(SVG + "title").get("id") == f"{ident}-title"
        title = svg.find(SVG + "title").text
        assert title.startswith("都道府県別の") and title.endswith("銅スクラップ")
        desc = svg.find(SVG + "desc").text
        assert f"数値のある都道府県({len(shown)}件、多い順)" in desc
        assert all(BY_CODE[c].name_ja in desc for c in shown | hidden)
        assert not any(el.get("style") for el in svg.iter())
        assert not [el for el in svg.iter() if el.tag in (SVG + "style", SVG + "script")]
        # Every id is the map's own.
        ids = [el.get("id") for el in svg.iter() if el.get("id")]
        assert ids and all(i.startswith(ident + "-") for i in ids)
        # One group a prefecture: its name and figure as <title>, one path drawn from its shape.
        groups = {
            g.get("data-prefecture"): g for g in svg.iter(SVG + "g") if g.get("data-prefecture")
        }
        assert set(groups) == set(BY_CODE)
        patterns = {p.get("id") for p in svg.iter(SVG + "pattern")}
        for code, group in groups.items():
            assert group.get("id") == f"{ident}-p{code}"
            paths = group.findall(SVG + "path")
            assert len(paths) == 1
            fill, tip = paths[0].get("fill"), _tip(group)
            assert tip.startswith(BY_CODE[code].name_ja + ": ")
            if code in hidden:
                assert tip.endswith("秘匿")
                assert fill.startswith(f"url(#{ident}-h") and fill[5:-1] in patterns  # hatched
            elif code in shown:
                assert tip == f"{BY_CODE[code].name_ja}: {tonnes_t(expected[code].value, 't')}"
                assert fill in MAP_CLASSES
            else:
                assert tip.endswith("データなし") and fill == NO_DATA
        # The legend: round class bounds with the unit, then no data and suppressed.
        words = _legend(svg)
        assert words[0].startswith("0–") and all(w.endswith(" t") for w in words[:-2])
        assert words[-2:] == ["データなし", "秘匿"]
        for word in words[:-2]:
            for bound in word[:-2].split("–"):
                assert float(bound.replace(",", "")) % 0.5 == 0  # 0, 2.5, 5, 10 …


def test_the_map_draws_once_for_the_same_figures_and_escapes_names():
    figures = {"13": (False, 12.5), "27": (True, None), "01": (False, 0.4)}
    names = {"13": "東京都", "27": '<script>alert("x")</script>', "01": "北海道"}
    labels = {"title": "T & <b>", "desc": "D", "suppressed": "秘匿", "none": "データなし"}
    started = time.perf_counter()
    first = japan_map(figures, names, labels, "m1")
    drawn = time.perf_counter() - started
    started = time.perf_counter()
    again = japan_map(dict(figures), dict(names), dict(labels), "m1")
    cached = time.perf_counter() - started
    assert again == first and cached < drawn / 10
    assert "<script" not in first and "&lt;script&gt;" in first
    assert '<title id="m1-title">T &amp; &lt;b&gt;</title>' in first
    words = _legend(ET.fromstring(str(first)))
    assert words == ["0–2.5 t", "2.5–5 t", "5–7.5 t", "7.5–10 t", "10–12.5 t", "データなし", "秘匿"]
    other = japan_map(figures, names, labels, "m2")  # a second map on the page: its own ids
    assert 'id="m2-p13"' in other and 'id="m1-' not in other
    empty = ET.fromstring(str(japan_map({}, names, labels, "m3")))  # no figures at all
    assert _legend(empty) == ["データなし", "秘匿"]
    fills = [
        g.find(SVG + "path").get("fill") for g in empty.iter(SVG + "g") if g.get("data-prefecture")
    ]
    assert fills == [NO_DATA] * 47


def test_the_page_falls_back_to_the_default_selection_on_bad_filters(client, market):
    r = client.get("/statistics?from_month=2026-13&material=unobtainium")
    assert r.status_code == 200
    assert "Enter a month as YYYY-MM." in r.get_data(as_text=True)


def test_the_api_says_suppressed_without_a_value(client, market):
    r = client.get("/api/v1/statistics?by=prefecture")
    assert r.status_code == 200
    body = r.get_json()
    figures = [row["contracted_t"] for row in body["contracted"]]
    assert {"suppressed": True} in figures
    assert all(set(f) == {"suppressed"} for f in figures if f["suppressed"])
    assert all(set(f) == {"suppressed", "value"} for f in figures if not f["suppressed"])
    assert body["rules"]["min_contributors"] == 3 and body["rules"]["dominance_pct"] == "70"
    assert "Hundepool" in body["rules"]["source"]
    text = r.get_data(as_text=True)
    assert "organization" not in text and "seller" not in text  # no contributor leaks


def test_bad_query_input_is_a_problem_detail(client, market):
    r = client.get("/api/v1/statistics?from_month=2026-13")
    assert r.status_code == 400  # a query string that does not parse, as on every endpoint
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert r.get_json()["errors"][0]["field"] == "from_month"
    r = client.get("/api/v1/statistics?material=unobtainium")
    assert r.status_code == 422
    assert r.get_json()["errors"][0]["field"] == "material"
    far = add_months(tokyo_today().replace(day=1), 60).strftime("%Y-%m")
    r = client.get(f"/api/v1/statistics?to_month={far}")
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "to_month"
    r = client.get("/statistics.csv?material=unobtainium")
    assert r.status_code == 422


def test_the_page_costs_the_same_queries_whatever_the_rows(app, client, db):
    seed_catalogue(db)
    db.commit()
    engine = app.extensions["junkan.engine"]
    make_market(db, seed=1, n_orgs=6, n_contracts=30, n_open=6)
    with counted(engine) as few:
        assert client.get("/statistics?by=prefecture").status_code == 200
    make_market(db, seed=2, n_orgs=30, n_contracts=200, n_open=100)
    with counted(engine) as many:
        assert client.get("/statistics?by=prefecture").status_code == 200
    assert len(many) == len(few)


# ---------------------------------------------------------------------------------------------
# The attack: everything published, through the API and the CSV


def _geo(region, prefecture):
    return prefecture or (f"r:{region}" if region else "JP")


def _mat(family, material):
    return material or (f"f:{family}" if family else "*")


def _published(client):
    """Every cell the public can read: the API by prefecture and by region, and the CSV of
    both (which must say the same). Tonnes in kg; values kg × yen/t as intervals (rounded
    prices)."""
    tonnes, prices = {}, {}
    for by in ("prefecture", "region"):
        body = client.get(f"/api/v1/statistics?by={by}").get_json()
        for row in body["contracted"]:
            month = row["month"] or "*"
            key = (
                month,
                _mat(row["family"], row["material"]),
                _geo(row["region"], row["prefecture"]),
            )
            tonnes[key] = row["contracted_t"]
            prices[key] = row["price_jpy_per_t"]
        raw = client.get(f"/statistics.csv?by={by}").get_data(as_text=True)
        assert raw.startswith("\ufeff")
        for line in csv.DictReader(io.StringIO(raw.lstrip("\ufeff"))):
            if line["Measure"] not in ("contracted_t", "price_jpy_per_t"):
                continue
            month = "*" if line["Month"] == "all" else line["Month"]
            key = (
                month,
                _mat(line["Family"] or None, line["Material"] or None),
                _geo(line["Region"] or None, line["Prefecture"] or None),
            )
            api = tonnes[key] if line["Measure"] == "contracted_t" else prices[key]
            assert (line["suppressed"] == "1") == api["suppressed"]
            if not api["suppressed"]:
                assert Decimal(line["Value"]) == Decimal(str(api["value"]))
            else:
                assert line["Value"] == ""
    return tonnes, prices


def _truth(market, families):
    """The true cells from the generated rows: kg, kg × price, and each side's kg per org."""
    kg, value, sides = (
        defaultdict(int),
        defaultdict(int),
        defaultdict(lambda: (defaultdict(int), defaultdict(int))),
    )
    for (month, material, pref), contracts in market.contract_months.items():
        months = (month.strftime("%Y-%m"), "*")
        mats = (material, f"f:{families[material]}", "*")
        geos = (pref, f"r:{REGION_OF[pref]}", "JP")
        for m in months:
            for t in mats:
                for g in geos:
                    for seller, buyer, k, price in contracts:
                        kg[(m, t, g)] += k
                        value[(m, t, g)] += k * price
                        sides[(m, t, g)][0][seller] += k
                        sides[(m, t, g)][1][buyer] += k
    return kg, value, sides


def _hierarchy(keys, families):
    months = {k[0] for k in keys}
    return [
        {m: (None if m == "*" else "*") for m in months | {"*"}},
        {
            **{m: f"f:{f}" for m, f in families.items()},
            **{f"f:{f}": "*" for f in set(families.values())},
            "*": None,
        },
        {
            **{p: f"r:{r}" for p, r in REGION_OF.items()},
            **{f"r:{r}": "JP" for r in set(REGION_OF.values())},
            "JP": None,
        },
    ]


def test_no_suppressed_cell_can_be_recomputed_from_the_api_and_the_csv(client, db, market):
    families = {m.code: m.family for m in db.exec(__import__("sqlmodel").select(Material))}
    tonnes, prices = _published(client)
    kg, value, sides = _truth(market, families)
    assert set(tonnes) == set(kg)  # every non-empty cell is there, published or suppressed
    hidden_t = [k for k, f in tonnes.items() if f["suppressed"]]
    assert len(hidden_t) > 20 and len(hidden_t) < len(tonnes) - 20  # both kinds exist
    eqs = sums(tonnes, _hierarchy(tonnes, families))
    known = {
        k: (float(Decimal(str(f["value"])) * 1000),) * 2
        for k, f in tonnes.items()
        if not f["suppressed"]
    }

    def sensitive(key) -> bool:
        """Fails the threshold or the dominance rule (the truth, which the outsider lacks)."""
        return any(
            len(side) < 3 or max(side.values()) * 100 > 70 * sum(side.values())
            for side in sides[key]
        )

    for key, (low, high) in attack(known, hidden_t, eqs).items():
        true = kg[key]
        assert high - low > 0, key  # no suppressed cell is pinned down
        if sensitive(key):  # a sensitive cell is protected by the full margin
            assert low <= true * (1 - PROTECTION) + 1e-6, key
            assert high >= true * (1 + PROTECTION) - 1e-6, key
    # Prices: a published price × published tonnes is the cell's value to within ±0.5 yen/t.
    known_v, hidden_v = {}, []
    for key, f in prices.items():
        if f is None:
            known_v[key] = (0.0, 0.0)
        elif f["suppressed"]:
            hidden_v.append(key)
        else:
            t = known[key][0]
            known_v[key] = ((f["value"] - 0.5) * t, (f["value"] + 0.5) * t)
    for key, (low, high) in attack(known_v, hidden_v, eqs).items():
        true = value[key]
        assert high - low > 0, key
        if sensitive(key):
            assert low <= true * (1 - PROTECTION) + 1e-3, key
            assert high >= true * (1 + PROTECTION) - 1e-3, key
    # No published price reveals a dominating organisation's own price: none dominates it.
    for key, f in prices.items():
        if f is None or f["suppressed"]:
            continue
        for side in sides[key]:
            total = sum(side.values())
            assert len(side) >= 3
            for org, mine in side.items():
                assert mine * 100 <= 70 * total, (key, org)


def test_the_own_dashboard_shows_own_figures_and_never_another_s(client, db, api_token, market):
    org = market.orgs[0]
    member = make_member(db, org)
    login(client, member.email)
    r = client.get("/organization/statistics?by=prefecture")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "Our statistics" in page
    headers = api_token(member.email)
    body = client.get("/api/v1/organization/statistics?by=prefecture", headers=headers).get_json()
    assert body["organization_id"] == org.id and body["rows"]
    mine = defaultdict(lambda: [0, 0])
    for (month, material, pref), contracts in market.contract_months.items():
        for seller, buyer, kg, _price in contracts:
            key = (month.strftime("%Y-%m"), material, pref)
            if seller == org.id:
                mine[key][0] += kg
            if buyer == org.id:
                mine[key][1] += kg
    got = {
        (row["month"], row["material"], row["prefecture"]): [
            int(Decimal(row["sold_t"]) * 1000),
            int(Decimal(row["bought_t"]) * 1000),
        ]
        for row in body["rows"]
    }
    assert got == {k: v for k, v in mine.items() if k[0] in {r["month"] for r in body["rows"]}}
    # The market figures beside them are the public ones.
    public = client.get("/api/v1/statistics?by=prefecture").get_json()["contracted"]
    published = {(r["month"], r["material"], r["prefecture"]): r["contracted_t"] for r in public}
    for row in body["rows"]:
        assert row["market_t"] == published[(row["month"], row["material"], row["prefecture"])]


def test_the_own_api_needs_a_token(client, market):
    assert client.get("/api/v1/organization/statistics").status_code == 401
    assert client.get("/organization/statistics").status_code in (302, 401)
