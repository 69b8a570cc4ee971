"""Benchmark of the marketplace search through the app's API at many listings.

Usage: ``python bench/search.py --listings 100000 [--database-url URL] [--repeat R]
[--seed S]``. Without ``--database-url`` a temporary SQLite file is used; a given database must
be empty (it is migrated here). The schema is migrated, the quality catalogue seeded, a price
index per material given monthly values, and N open listings bulk-loaded with SQLAlchemy core
inserts: spread over all 47 prefectures (and a few foreign ports), every material, fixed and
index-linked prices (floors and caps), public and invited-only, every data-quality level, some
fully committed, creation times over two years.

``--reference`` answers the same requests with the Python search of before
(tests/market/search_reference.py), for a comparison in the same run.

Timed: a fixed mix of filtered and sorted searches, each ``GET /api/v1/listings?…`` through the
Flask test client as a member of a verified organisation (the whole request: authentication,
the search, the JSON of 25 items). Prints p50/p95 per query, then one JSON object as the last
line: ``n_listings``, ``p50_ms``, ``p95_ms`` (over every timed request), ``db`` and the rest.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

# The project, not this folder, first on the path (bench/statistics.py would shadow the stdlib).
sys.path[0] = str(Path(__file__).resolve().parents[1])
import statistics  # noqa: E402

from sqlalchemy import func, insert  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

import web.models  # noqa: E402,F401
from bench.matching import _bench_chain  # noqa: E402
from market.indices import refresh_prices  # noqa: E402
from market.models import IndexValue, PriceIndex, SupplyListing  # noqa: E402
from participants.accounts import hash_password  # noqa: E402
from participants.geography import PREFECTURES  # noqa: E402
from participants.models import Member, Organization  # noqa: E402
from quality.catalogue import seed_catalogue  # noqa: E402
from quality.models import GradeStandard, Material, StandardVersion, VersionStatus  # noqa: E402
from web import create_app  # noqa: E402
from web.config import normalise_database_url  # noqa: E402
from web.db import make_engine  # noqa: E402
from web.migrate import upgrade  # noqa: E402

LISTINGS_PER_ORG = 50
EMAIL, PASSWORD = "bench-buyer@example.jp", "bench-password-1"
FOREIGN_PORTS = [
    ("Busan", 35.10, 129.04),
    ("Kaohsiung", 22.61, 120.28),
    ("Long Beach", 33.75, -118.2),
]

# The fixed mix: what a buyer asks most, every filter and every sort, and a deep page.
QUERIES = [
    "",
    "material=copper_scrap",
    "material=copper_scrap&near=27&sort=distance",
    "sort=price",
    "material=aluminium_scrap&sort=price",
    "sort=volume",
    "near=13&sort=distance",
    "near=13&radius_km=150",
    "near=40&radius_km=300&sort=distance",
    "max_price=300000",
    "max_price=300000&sort=price",
    "min_dq=3",
    "prefecture=13",
    "grade={grade}",
    "min_monthly_t=400",
    "start_by={start_by}",
    "include_committed=true&sort=volume",
    "material=pet&min_dq=2&max_price=80000&sort=price",
    "page=40",
]


def _months(today: date, back: int, ahead: int) -> list[date]:
    first = today.year * 12 + today.month - 1
    return [date(m // 12, m % 12 + 1, 1) for m in range(first - back, first + ahead + 1)]


def _versions(session: Session, materials: list[str]) -> dict[str, list[int]]:
    rows = session.exec(
        select(GradeStandard.material_code, StandardVersion.id)
        .join(StandardVersion, StandardVersion.standard_id == GradeStandard.id)
        .where(StandardVersion.status == VersionStatus.PUBLISHED)
    ).all()
    out: dict[str, list[int]] = {}
    for material, vid in rows:
        out.setdefault(material, []).append(vid)
    for material in materials:
        if material not in out:
            out[material] = _bench_chain(session, material, [f"{material}-a", f"{material}-b"])
    return out


def load(session: Session, n: int, seed: int, today: date) -> dict[str, Any]:
    """Organisations, one price index per material with monthly values, N open listings and a
    verified buyer who logs in; returns what the query mix needs."""
    rng = random.Random(seed)
    seed_catalogue(session)
    session.commit()
    materials = list(session.exec(select(Material.code).order_by(Material.code)))
    versions = _versions(session, materials)
    n_orgs = max(2, n // LISTINGS_PER_ORG)
    session.execute(
        insert(Organization),
        [
            {
                "kind": "recycler",
                "name_ja": f"ベンチ{i}",
                "name_en": f"Bench {i}",
                "status": "verified",
                "country": "JP",
                "address": "",
            }
            for i in range(n_orgs)
        ],
    )
    buyer = Organization(kind="manufacturer", name_ja="買い手", name_en="Buyer", status="verified")
    session.add(buyer)
    session.flush()
    session.add(
        Member(
            organization_id=buyer.id,
            email=EMAIL,
            name="Bench buyer",
            password_hash=hash_password(PASSWORD),
            roles="admin trader",
        )
    )
    org_ids = list(session.exec(select(Organization.id).where(Organization.id != buyer.id)))
    months = _months(today, 24, 12)
    indices = {}
    for material in materials:
        index = PriceIndex(
            code=f"BENCH-{material.upper().replace('_', '-')}"[:40],
            name_en=material,
            name_ja=material,
            material_code=material,
        )
        session.add(index)
        session.flush()
        indices[material] = index.id
        level = rng.randint(50_000, 1_500_000)
        session.execute(
            insert(IndexValue),
            [
                {"index_id": index.id, "month": m, "value_jpy_per_t": level + 997 * k}
                for k, m in enumerate(months[:-6])  # the last months have no value yet
            ],
        )
    now = datetime.now(UTC)
    rows = []
    for i in range(n):
        material = materials[i % len(materials)]
        if i % 97 == 0:
            prefecture, (place, lat, lon) = None, rng.choice(FOREIGN_PORTS)
        else:
            pref = PREFECTURES[i % len(PREFECTURES)]
            prefecture, place = pref.code, pref.name_en
            lat, lon = pref.lat + rng.uniform(-0.4, 0.4), pref.lon + rng.uniform(-0.4, 0.4)
        monthly = rng.choice([5, 20, 50, 120, 300, 500, 1000]) * 1000
        price: dict[str, Any]
        kind = i % 3
        if kind == 0:
            price = {"price_kind": "fixed", "fixed_price_jpy_per_t": rng.randint(30, 1500) * 1000}
        else:
            price = {
                "price_kind": "index",
                "index_id": indices[material],
                "index_factor": Decimal(rng.randint(500_000, 1_200_000)) / 1_000_000,
                "premium_jpy_per_t": rng.choice([0, 5_000, -10_000]),
                "floor_jpy_per_t": rng.choice([None, 40_000]) if kind == 2 else None,
                "cap_jpy_per_t": rng.choice([None, 1_600_000]) if kind == 2 else None,
            }
        invited = i % 10 == 0
        rows.append(
            {
                "organization_id": org_ids[i % len(org_ids)],
                "status": "open",
                "title": f"{material} {i}",
                "material_code": material,
                "standard_version_id": rng.choice(versions[material]),
                "monthly_kg": monthly,
                "committed_kg": monthly if i % 23 == 0 else rng.choice([0, 0, monthly // 4]),
                "min_kg_per_contract": 1000,
                "available_from": rng.choice(months[20:30]),
                "max_term_months": 12,
                "origin_prefecture": prefecture,
                "origin_port": None,
                "lat": lat,
                "lon": lon,
                "incoterm": "FCA",
                "incoterm_place": place,
                "fixed_price_jpy_per_t": None,
                "index_id": None,
                "index_factor": None,
                "premium_jpy_per_t": 0,
                "floor_jpy_per_t": None,
                "cap_jpy_per_t": None,
                **price,
                "data_quality_level": i % 5,
                "visibility": "invited" if invited else "public",
                "invited_org_ids": (
                    " ".join(map(str, sorted({buyer.id, org_ids[(i * 7) % len(org_ids)]})))
                    if invited and i % 20 == 0
                    else str(org_ids[(i * 7) % len(org_ids)])
                    if invited
                    else ""
                ),
                "delivery_country": "JP",
                "expires_on": date(2099, 12, 31),
                "version": 1,
                "created_at": now - timedelta(seconds=rng.randint(0, 730 * 86400)),
                "updated_at": now,
            }
        )
        if len(rows) == 5000:
            session.execute(insert(SupplyListing), rows)
            rows = []
    if rows:
        session.execute(insert(SupplyListing), rows)
    session.commit()
    grade = session.exec(
        select(GradeStandard.code)
        .join(StandardVersion, StandardVersion.standard_id == GradeStandard.id)
        .where(StandardVersion.id == versions["copper_scrap"][0])
    ).one()
    return {"grade": grade, "start_by": months[24].isoformat()[:7]}


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _use_reference() -> None:
    """Answer the API with the Python search of before (tests/market/search_reference.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "market"))
    import search_reference

    import web.api.market

    web.api.market.search_listings = search_reference.search_listings


def run(n: int, url: str, seed: int, repeat: int, reference: bool = False) -> dict[str, Any]:
    upgrade(url)
    engine = make_engine(url)
    today = date.today()
    with Session(engine) as session:
        if session.exec(select(func.count()).select_from(SupplyListing)).one():
            raise SystemExit("The database has listings already: give an empty database.")
        t = time.perf_counter()
        params = load(session, n, seed, today)
        # Each listing's price for the month, as the nightly job stores it (the sort key).
        refresh_prices(session)
        session.commit()
        load_s = time.perf_counter() - t
    # Fresh statistics and (PostgreSQL) a visibility map, as autovacuum leaves them after a
    # bulk load: index-only scans of the covering search index need it.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
    engine.dispose()
    if reference:
        _use_reference()
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "MAIL_SERVER": "",
            "LOG_JSON": False,
            "TESTING": False,
        }
    )
    # As `junkan serve` does before its workers fork: what start-up and the load built is frozen
    # out of the garbage collector's sight (else one full collection of it lands in a timed
    # request: ~140 ms at 10k listings).
    gc.collect()
    gc.freeze()
    client = app.test_client()
    r = client.post("/api/v1/tokens", json={"email": EMAIL, "password": PASSWORD})
    assert r.status_code == 201, r.get_json()
    headers = {"Authorization": f"Bearer {r.get_json()['token']}"}
    results = []
    every: list[float] = []
    every_cpu: list[float] = []
    print(f"{'query':55} {'total':>7} {'p50 ms':>8} {'p95 ms':>8} {'cpu p50':>8}")
    for template in QUERIES:
        query = template.format(**params)
        url_path = f"/api/v1/listings?{query}"
        times, cpu = [], []
        for k in range(repeat + 2):
            t, c = time.perf_counter(), time.process_time()
            r = client.get(url_path, headers=headers)
            elapsed = (time.perf_counter() - t) * 1000
            used = (time.process_time() - c) * 1000
            assert r.status_code == 200, (query, r.get_json())
            if k >= 2:  # two warm-ups
                times.append(elapsed)
                cpu.append(used)
        body = r.get_json()
        p50, p95 = statistics.median(times), _percentile(times, 0.95)
        every += times
        every_cpu += cpu
        results.append({"query": query, "total": body["total"], "p50_ms": p50, "p95_ms": p95})
        line = f"{query or '(no filter)':55} {body['total']:>7} {p50:>8.1f} {p95:>8.1f}"
        print(f"{line} {statistics.median(cpu):>8.1f}")
    app.extensions["junkan.engine"].dispose()
    return {
        "n_listings": n,
        "p50_ms": round(statistics.median(every), 2),
        "p95_ms": round(_percentile(every, 0.95), 2),
        "worst_query_p95_ms": round(max(q["p95_ms"] for q in results), 2),
        # CPU time of this process (with SQLite the database's work too; with PostgreSQL not):
        # what a request costs whatever else runs on the machine.
        "cpu_p50_ms": round(statistics.median(every_cpu), 2),
        "cpu_p95_ms": round(_percentile(every_cpu, 0.95), 2),
        "db": engine.dialect.name,
        "load_s": round(load_s, 1),
        "queries": len(QUERIES),
        "repeat": repeat,
        "search": "python reference" if reference else "sql",
        # Other work on the machine stretches every figure: the load during the timed part.
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listings", type=int, required=True)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--reference",
        action="store_true",
        help="time the Python search of before (tests/market/search_reference.py) instead",
    )
    args = parser.parse_args()
    if args.database_url:
        url = normalise_database_url(args.database_url)
        result = run(args.listings, url, args.seed, args.repeat, args.reference)
    else:
        with tempfile.TemporaryDirectory(prefix="junkan-bench-") as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            result = run(args.listings, url, args.seed, args.repeat, args.reference)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
