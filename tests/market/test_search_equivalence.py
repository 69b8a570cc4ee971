"""The search answered by the database gives exactly what the Python search of before gave
(tests/market/search_reference.py): the same items in the same order, the same prices and
distances, the same totals and pages, for every filter and sort and for every kind of reader.

A few hundred generated listings and requests: every material, prefectures all over Japan (and
some points sharing a place, so distances tie), fixed and index-linked prices (six-decimal
factors, half-way roundings, floors and caps, an index without a value), public and invited-only
listings (organisation ids 1 and 11 side by side in invitations), data-quality levels, expiry
around today, committed and filled volumes, creation times that tie. Runs on SQLite and, with
TEST_DATABASE_URL, on PostgreSQL.
"""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import search_reference as reference
from sqlmodel import select

from market.models import IndexValue, OfftakeRequest, PriceIndex, SupplyListing
from market.search import SORTS, SearchFilters, search_listings, search_requests
from participants.actors import Actor
from participants.geography import PREFECTURES
from participants.models import Organization
from quality.catalogue import seed_catalogue
from quality.models import GradeStandard, StandardVersion

TODAY = date(2027, 1, 15)
MONTHS = [date(2026, m, 1) for m in range(9, 13)] + [date(2027, m, 1) for m in range(1, 5)]
TIES = 100_001  # × 0.5, 1.5, 2.5 …: exactly half a yen, rounded up


def _orgs(db) -> list[Organization]:
    orgs = []
    for i in range(14):
        status = "unverified" if i in (5, 9) else "suspended" if i == 12 else "verified"
        org = Organization(
            kind="recycler" if i % 2 else "manufacturer",
            name_ja=f"組織{i}",
            name_en=f"Org {i}",
            status=status,
            prefecture=PREFECTURES[i].code,
        )
        db.add(org)
        db.flush()
        orgs.append(org)
    return orgs


def _indices(db) -> list[int]:
    ids = []
    for code, values in (
        ("CU-A", {MONTHS[0]: 1_234_567, MONTHS[3]: 1_300_003, MONTHS[5]: 1_299_999}),
        ("AL-B", {MONTHS[1]: 250_000, MONTHS[4]: 260_001}),
        ("TIE-C", {MONTHS[0]: TIES}),
        ("LATE-D", {MONTHS[6]: 77_777}),  # no value before March 2027
        ("NONE-E", {}),  # never a value: its listings have no price
    ):
        index = PriceIndex(code=code, name_en=code, name_ja=code, material_code="copper_scrap")
        db.add(index)
        db.flush()
        for month, value in values.items():
            db.add(IndexValue(index_id=index.id, month=month, value_jpy_per_t=value))
        ids.append(index.id)
    return ids


def _factor(rng: random.Random) -> Decimal:
    choice = rng.random()
    if choice < 0.25:
        return Decimal(rng.choice(["0.5", "1.5", "2.5", "0.000005", "4.999995"]))
    if choice < 0.35:
        return Decimal(5)
    return Decimal(rng.randint(1, 5_000_000)) / Decimal(1_000_000)


def _place(rng: random.Random) -> tuple[str | None, float, float]:
    pref = rng.choice(PREFECTURES)
    roll = rng.random()
    if roll < 0.3:
        return pref.code, pref.lat, pref.lon  # on the capital: distances tie
    if roll < 0.35:
        return None, 31.2304, 121.4737  # Shanghai: a foreign origin
    return pref.code, pref.lat + rng.uniform(-0.8, 0.8), pref.lon + rng.uniform(-0.8, 0.8)


def _price(rng: random.Random, indices: list[int], listing: bool) -> dict:
    if rng.random() < 0.45:
        key = "fixed_price_jpy_per_t" if listing else "max_price_jpy_per_t"
        return {"price_kind": "fixed", key: rng.choice([80_000, 250_000, 1_200_000, 1_300_000])}
    fields = {
        "price_kind": "index",
        "index_id": rng.choice(indices),
        "index_factor": _factor(rng),
        "premium_jpy_per_t": rng.choice([0, 0, 5_000, -20_000, 1]),
    }
    if listing:
        if rng.random() < 0.3:
            fields["floor_jpy_per_t"] = rng.choice([100_000, 240_000, 1_250_000])
        if rng.random() < 0.3:
            fields["cap_jpy_per_t"] = rng.choice([200_000, 1_260_000, 3_000_000])
        if fields.get("floor_jpy_per_t", 0) > fields.get("cap_jpy_per_t", 10**9):
            del fields["floor_jpy_per_t"]
    return fields


def _common(rng, orgs, versions, created, indices, listing: bool) -> dict:
    material, version_ids = rng.choice(sorted(versions.items()))
    prefecture, lat, lon = _place(rng)
    monthly = rng.choice([1_000, 20_000, 100_000, 120_500, 500_000])
    used = rng.choice([0, 0, 0, monthly // 2, monthly, 1_000])
    return dict(
        organization_id=rng.choice(orgs).id,
        status=rng.choice(["open"] * 8 + ["draft", "closed"]),
        title="generated",
        material_code=material,
        standard_version_id=rng.choice(version_ids),
        monthly_kg=monthly,
        lat=lat,
        lon=lon,
        expires_on=TODAY + timedelta(days=rng.choice([-30, -1, 0, 1, 400])),
        created_at=rng.choice(created),
        **{("committed_kg" if listing else "filled_kg"): min(used, monthly)},
        **{("origin_prefecture" if listing else "delivery_prefecture"): prefecture},
        **_price(rng, indices, listing),
    )


@pytest.fixture()
def market(db):
    seed_catalogue(db)
    db.commit()
    rng = random.Random(20261203)
    orgs = _orgs(db)
    indices = _indices(db)
    versions: dict[str, list[int]] = {}
    for vid, material in db.exec(
        select(StandardVersion.id, GradeStandard.material_code).join(
            GradeStandard, GradeStandard.id == StandardVersion.standard_id
        )
    ):
        versions.setdefault(material, []).append(vid)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    created = [start + timedelta(hours=rng.randint(0, 2000)) for _ in range(120)]
    ids = [o.id for o in orgs]
    for _ in range(320):
        fields = _common(rng, orgs, versions, created, indices, listing=True)
        invited = ""
        visibility = "public"
        if rng.random() < 0.35:
            visibility = "invited"
            chosen = {1, 11} if rng.random() < 0.3 else set(rng.sample(ids, rng.randint(1, 4)))
            invited = " ".join(map(str, sorted(chosen)))
        db.add(
            SupplyListing(
                min_kg_per_contract=1_000,
                available_from=rng.choice(MONTHS),
                max_term_months=12,
                incoterm="FCA",
                incoterm_place="yard",
                data_quality_level=rng.randint(0, 4),
                visibility=visibility,
                invited_org_ids=invited,
                **fields,
            )
        )
    for _ in range(260):
        fields = _common(rng, orgs, versions, created, indices, listing=False)
        db.add(
            OfftakeRequest(
                start_month=rng.choice(MONTHS),
                term_months=6,
                delivery_place="plant",
                **fields,
            )
        )
    db.commit()
    by_id = {o.id: o for o in orgs}

    def actor(org_id: int) -> Actor:
        org = by_id[org_id]
        return Actor(
            member_id=None,
            organization_id=org.id,
            organization_kind=org.kind,
            roles=frozenset({"trader"}),
            verified=org.status == "verified",
            suspended=org.status == "suspended",
        )

    return {
        "versions": versions,
        # The organisation with id 1 is invited often (and 11 beside it), 2 owns listings.
        "actors": {
            "invited": actor(1),
            "invited-11": actor(11),
            "owner": actor(2),
            "verified": actor(4),
            "unverified": actor(6),
            "suspended": actor(13),
            "nobody": None,
        },
    }


def _filters(versions: dict[str, list[int]], grade_codes: list[str]) -> list[dict]:
    rng = random.Random(7)
    materials = sorted(versions)
    fixed: list[dict] = [{}]
    fixed += [{"sort": s} for s in SORTS if s != "distance"]
    fixed += [{"sort": "distance", "near": p} for p in ("01", "13", "27", "47")]
    fixed += [{"material": m} for m in materials]
    fixed += [{"grade": g} for g in grade_codes[:6]]
    fixed += [{"prefecture": p} for p in ("13", "27", "40")]
    fixed += [{"near": "13", "radius_km": r} for r in (0, 50, 300, 1000, 1600, 20_000)]
    fixed += [{"near": "47", "radius_km": 800, "sort": "distance"}]
    fixed += [{"min_monthly_t": t} for t in ("0.5", "20", "120.5", "500")]
    fixed += [{"max_price": p} for p in (0, 80_000, 250_000, 1_250_000, 1_300_003)]
    fixed += [{"max_price": 300_000, "price_month": m.isoformat()[:7]} for m in MONTHS]
    fixed += [{"sort": "price", "price_month": m.isoformat()[:7]} for m in MONTHS[::2]]
    fixed += [{"min_dq": q} for q in (1, 2, 3, 4)]
    fixed += [{"start_by": m.isoformat()[:7]} for m in MONTHS[::3]]
    fixed += [{"include_committed": True}, {"include_committed": True, "sort": "volume"}]
    randomised = []
    for _ in range(40):
        f: dict = {"sort": rng.choice(SORTS)}
        if rng.random() < 0.5:
            f["material"] = rng.choice(materials)
        if rng.random() < 0.3:
            f["near"] = rng.choice(PREFECTURES).code
            if rng.random() < 0.6:
                f["radius_km"] = rng.choice([100, 400.5, 900])
        if f["sort"] == "distance" and "near" not in f:
            f["near"] = rng.choice(PREFECTURES).code
        if rng.random() < 0.3:
            f["max_price"] = rng.choice([250_000, 1_260_000])
        if rng.random() < 0.3:
            f["min_dq"] = rng.randint(1, 4)
        if rng.random() < 0.3:
            f["min_monthly_t"] = rng.choice(["1", "100"])
        if rng.random() < 0.3:
            f["include_committed"] = True
        if rng.random() < 0.2:
            f["price_month"] = rng.choice(MONTHS).isoformat()[:7]
        randomised.append(f)
    return fixed + randomised


def _listing_keys(page) -> list[tuple]:
    return [(r.listing.id, r.price_jpy_per_t, r.distance_km, r.org.id) for r in page.items]


def _request_keys(page) -> list[tuple]:
    return [(r.request.id, r.distance_km, r.standard.id, r.version.id) for r in page.items]


@pytest.mark.parametrize("target", ["listings", "requests"])
def test_every_filter_and_sort_gives_what_the_python_search_gave(db, market, target):
    grade_codes = list(db.exec(select(GradeStandard.code).order_by(GradeStandard.code)))
    run, ref, keys = (
        (search_listings, reference.search_listings, _listing_keys)
        if target == "listings"
        else (search_requests, reference.search_requests, _request_keys)
    )
    compared = nonempty = 0
    for raw in _filters(market["versions"], grade_codes):
        for name, actor in market["actors"].items():
            expected = ref(db, actor, SearchFilters.model_validate(raw), 1, 1000, today=TODAY)
            found = run(db, actor, SearchFilters.model_validate(raw), 1, 1000, today=TODAY)
            assert found.total == expected.total, (raw, name)
            assert keys(found) == keys(expected), (raw, name)
            compared += 1
            nonempty += bool(expected.items)
    assert compared > 500 and nonempty > compared // 2


@pytest.mark.parametrize("target", ["listings", "requests"])
def test_pages_and_totals_equal_the_python_search(db, market, target):
    run, ref, keys = (
        (search_listings, reference.search_listings, _listing_keys)
        if target == "listings"
        else (search_requests, reference.search_requests, _request_keys)
    )
    actors = market["actors"]
    for raw in [{"sort": s, "near": "26"} for s in SORTS] + [{"max_price": 1_260_000}]:
        for actor in (actors["invited"], actors["owner"], actors["unverified"]):
            f = SearchFilters.model_validate(raw)
            whole = ref(db, actor, f, 1, 1000, today=TODAY)
            per_page = 7
            for page in range(1, whole.total // per_page + 3):
                expected = ref(db, actor, f, page, per_page, today=TODAY)
                found = run(db, actor, f, page, per_page, today=TODAY)
                assert (found.total, found.page, found.per_page) == (
                    expected.total,
                    expected.page,
                    expected.per_page,
                )
                assert keys(found) == keys(expected), (raw, page)


@pytest.mark.parametrize("target", ["listings", "requests"])
def test_past_the_count_cap_the_total_is_a_lower_bound_and_pages_are_unchanged(
    db, market, target, monkeypatch
):
    """With the count stopped at COUNT_CAP, every page holds the Python search's rows; the
    total is exact below the cap and on pages past it, else the cap with `total_exact` false."""
    import market.search as search

    monkeypatch.setattr(search, "COUNT_CAP", 20)
    run, ref, keys = (
        (search_listings, reference.search_listings, _listing_keys)
        if target == "listings"
        else (search_requests, reference.search_requests, _request_keys)
    )
    actor = market["actors"]["invited"]
    capped = exact = 0
    for raw in [{}, {"sort": "volume"}, {"material": "copper_scrap"}, {"min_dq": 4}]:
        f = SearchFilters.model_validate(raw)
        whole = ref(db, actor, f, 1, 1000, today=TODAY).total
        per_page = 6
        for page in range(1, whole // per_page + 3):
            expected = ref(db, actor, f, page, per_page, today=TODAY)
            found = run(db, actor, f, page, per_page, today=TODAY)
            assert keys(found) == keys(expected), (raw, page)
            if whole > 20 and page * per_page <= 20:
                assert (found.total, found.total_exact) == (20, False), (raw, page)
                capped += 1
            else:
                assert (found.total, found.total_exact) == (whole, True), (raw, page)
                exact += 1
    assert capped >= 6 and exact >= 6


def test_an_alert_looks_at_one_listing_as_the_python_search_did(db, market):
    listings = db.exec(select(SupplyListing.id).order_by(SupplyListing.id)).all()
    for actor in market["actors"].values():
        for listing_id in listings[::9]:
            f = SearchFilters(max_price=1_260_000)
            expected = reference.search_listings(db, actor, f, today=TODAY, only_id=listing_id)
            found = search_listings(db, actor, f, today=TODAY, only_id=listing_id)
            assert _listing_keys(found) == _listing_keys(expected)


@pytest.mark.parametrize("target", ["listings", "requests"])
def test_nearest_first_pages_found_within_a_circle_equal_the_whole_search(
    db, market, target, monkeypatch
):
    """The first pages of a distance sort come from growing circles round `near` when a circle
    holds the page: the same rows in the same order (ties on one spot included) as the whole
    search, which the Python search checks; and the circles are really used."""
    import market.search as search

    run, ref, keys = (
        (search_listings, reference.search_listings, _listing_keys)
        if target == "listings"
        else (search_requests, reference.search_requests, _request_keys)
    )
    answered = []
    whole_search = search._nearest_first

    def counting(*args):
        ids = whole_search(*args)
        answered.append(ids is not None)
        return ids

    monkeypatch.setattr(search, "_nearest_first", counting)
    monkeypatch.setattr(search, "_WIDEN_FROM", 0)  # circles from the first match on
    actor = market["actors"]["invited"]
    for raw in [{"sort": "distance", "near": near} for near in ("01", "13", "27", "40", "47")] + [
        {"sort": "distance", "near": "13", "radius_km": 200}
    ]:
        f = SearchFilters.model_validate(raw)
        total = ref(db, actor, f, 1, 1000, today=TODAY).total
        for per_page in (3, 10):
            for page in range(1, min(total // per_page + 2, 500 // per_page) + 1):
                expected = ref(db, actor, f, page, per_page, today=TODAY)
                found = run(db, actor, f, page, per_page, today=TODAY)
                assert found.total == expected.total
                assert keys(found) == keys(expected), (raw, per_page, page)
    assert sum(answered) > 20 and not all(answered)  # circles answered, the whole search too


PRICE_FILTERS = (
    [{"sort": "price"}, {"max_price": 1_260_000}, {"max_price": 250_000, "sort": "price"}]
    + [{"sort": "price", "price_month": m.isoformat()[:7]} for m in (MONTHS[0], MONTHS[7])]
    + [{"sort": "price", "material": "copper_scrap"}, {"max_price": 0}]
)


def _same_as_python(db, market, stored_expected: bool, monkeypatch) -> None:
    """Every price filter and sort, page by page, equals the Python search; and the stored key
    was read exactly when `stored_expected` (for this month's searches)."""
    import market.search as search

    used = []
    real = search._prices_stored
    monkeypatch.setattr(search, "_prices_stored", lambda s, m: used.append(real(s, m)) or used[-1])
    for raw in PRICE_FILTERS:
        for actor in (market["actors"]["invited"], market["actors"]["unverified"]):
            f = SearchFilters.model_validate(raw)
            whole = reference.search_listings(db, actor, f, 1, 1000, today=TODAY)
            for page, per_page in [(1, 1000)] + [(p, 9) for p in range(1, 6)]:
                expected = reference.search_listings(db, actor, f, page, per_page, today=TODAY)
                found = search_listings(db, actor, f, page, per_page, today=TODAY)
                assert found.total == expected.total == whole.total, raw
                assert _listing_keys(found) == _listing_keys(expected), (raw, page)
    this_month = [u for u, raw in zip(used, _calls(), strict=True) if "price_month" not in raw]
    assert this_month and all(u is stored_expected for u in this_month)


def _calls():
    for raw in PRICE_FILTERS:
        for _actor in range(2):
            for _page in range(6):
                yield raw


def test_stored_prices_give_what_the_python_search_gave(db, market, monkeypatch):
    """With every listing's price for the month stored (`refresh_prices`, as the nightly job
    does), a price sort or ceiling reads the stored key, with the same results: no price last,
    ties by newest then id; other months are still worked out."""
    from market.indices import refresh_prices

    _same_as_python(db, market, False, monkeypatch)  # nothing stored yet: worked out
    assert refresh_prices(db, TODAY) == 320
    db.commit()
    _same_as_python(db, market, True, monkeypatch)


def test_a_changed_index_value_or_price_field_unstores_the_prices_it_touched(
    db, market, monkeypatch
):
    """Whatever writes them, a new index value or a listing's changed price fields take the
    stored prices they touch out of use at once (the search works them out again, so it never
    reads a stale price), even in the session that stored them; `refresh_prices` stores them
    again."""
    from market.indices import refresh_prices

    refresh_prices(db, TODAY)
    db.commit()
    cu = db.exec(select(PriceIndex).where(PriceIndex.code == "CU-A")).one()
    db.add(IndexValue(index_id=cu.id, month=date(2027, 1, 1), value_jpy_per_t=999_001))
    db.commit()
    _same_as_python(db, market, False, monkeypatch)
    stale = db.exec(select(SupplyListing.id).where(SupplyListing.price_month == None)).all()  # noqa: E711
    on_cu = db.exec(select(SupplyListing.id).where(SupplyListing.index_id == cu.id)).all()
    assert sorted(stale) == sorted(on_cu) and stale
    refresh_prices(db, TODAY, index_ids={cu.id})
    db.commit()
    monkeypatch.undo()
    _same_as_python(db, market, True, monkeypatch)

    # A listing loaded before the prices were stored (it does not know its stored month),
    # its fixed price then changed in the same session.
    listing = db.exec(
        select(SupplyListing)
        .where(SupplyListing.price_kind == "fixed", SupplyListing.status == "open")
        .order_by(SupplyListing.id)
    ).first()
    refresh_prices(db, TODAY)
    listing.fixed_price_jpy_per_t = 1
    db.add(listing)
    db.commit()
    monkeypatch.undo()
    _same_as_python(db, market, False, monkeypatch)
    month_of = select(SupplyListing.price_month).where(SupplyListing.id == listing.id)
    assert db.exec(month_of).one() is None
    assert db.exec(select(SupplyListing.price_key).where(SupplyListing.id == listing.id)).one()
