"""Market statistics on the web: the public page (map, charts, suppressed marks), the CSV, the
public API and the own view; an outsider's attack on everything published."""

import csv
import io
from collections import defaultdict
from decimal import Decimal

import pytest
from factories import login, make_member
from statistics_attack import attack, sums
from statistics_factories import make_market
from test_query_counts import counted

from market.listings import add_months
from participants.columns import tokyo_today
from participants.geography import REGION_OF
from quality.catalogue import seed_catalogue
from quality.models import Material

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
    assert "map-supply-hatch" in page  # the legend's hatch for suppressed prefectures
    assert 'href="/statistics"' in page  # the public navigation links here


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
