"""End-to-end benchmark of the market-wide matching run on a real database.

Usage: ``python bench/matching.py --listings 10000 --requests 10000 [--database-url URL]
[--seed S]``. Without ``--database-url`` a temporary SQLite file is used. The schema is migrated,
the quality catalogue seeded, and a generated instance (bench/allocation_instance.py) bulk-loaded:
organisations, open listings and open requests. The instance's grade codes are mapped onto the
seeded standards' published versions (same code when seeded, else the material's standard at the
same relative rank; a material without any seeded standard gets a bench-only chain of grades).

Timed: ``run_market_allocation`` end to end (read → candidates → solve → write proposals →
commit), then on the same loaded market the solver call alone, OR-Tools' min-cost flow on the
same edges (``mcf_s``: the optimum without minimums, the reference time), the greedy baseline and
networkx (only up to 50,000 edges). Prints a table, then one JSON object as the last line; it
carries the proven gap with the minimums (``mip_gap``) and whether it is within 0.01 %
(``optimal``). ``--time-limit`` is the solver's budget for the exact model (seconds).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

import web.models  # noqa: E402,F401
from bench.allocation_instance import FIRST_MONTH, Instance, generate_instance  # noqa: E402
from bench.solver_only import NETWORKX_MAX_EDGES, check_feasible  # noqa: E402
from market.allocation import (  # noqa: E402
    candidate_edges,
    capacities,
    greedy_allocation,
    min_cost_flow_allocation,
    networkx_allocation,
    solve_allocation,
    tonnes_to_kg,
)
from market.matching import load_market, run_market_allocation  # noqa: E402
from market.models import OfftakeRequest, SupplyListing  # noqa: E402
from participants.actors import SYSTEM  # noqa: E402
from participants.models import Organization
from quality.catalogue import (  # noqa: E402
    SEED_EFFECTIVE,
    SEED_PUBLISHED_AT,
    encode_spec,
    seed_catalogue,  # noqa: E402
)
from quality.grading import GradeSpec, Limit  # noqa: E402
from quality.models import GradeStandard, StandardVersion, VersionStatus  # noqa: E402
from web.config import normalise_database_url  # noqa: E402
from web.db import make_engine  # noqa: E402
from web.migrate import upgrade  # noqa: E402

TODAY = date(2026, 1, 1)
EXPIRES = date(2099, 12, 31)
ITEMS_PER_ORG = 20


def _month_date(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def map_grades(session: Session, instance: Instance) -> dict[int, int]:
    """Instance grade id -> published StandardVersion id of the seeded catalogue."""
    rows = session.exec(
        select(
            GradeStandard.code, GradeStandard.material_code, GradeStandard.rank, StandardVersion.id
        )
        .join(StandardVersion, StandardVersion.standard_id == GradeStandard.id)
        .where(StandardVersion.status == VersionStatus.PUBLISHED)
    ).all()
    by_code = {code: vid for code, _, _, vid in rows}
    by_material: dict[str, list[int]] = {}
    for _, material, _rank, vid in sorted(rows, key=lambda r: (r[1], r[2], r[0])):
        by_material.setdefault(material, []).append(vid)
    grades_of: dict[str, list[Any]] = {}
    for g in instance.grades.values():
        grades_of.setdefault(g.material, []).append(g)
    out: dict[int, int] = {}
    for material, grades in grades_of.items():
        if material not in by_material:
            by_material[material] = _bench_chain(session, material, [g.code for g in grades])
        versions = by_material[material]
        for pos, g in enumerate(grades):
            if g.code in by_code:
                out[g.id] = by_code[g.code]
            else:
                share = pos / max(1, len(grades) - 1)
                out[g.id] = versions[round(share * (len(versions) - 1))]
    return out


def _bench_chain(session: Session, material: str, codes: list[str]) -> list[int]:
    """Bench-only published grades, each stricter than the next (contaminant max 1 %, 2 %, …)."""
    ids = []
    for pos, code in enumerate(codes):
        spec = GradeSpec(
            f"BENCH-{code}",
            1,
            material,
            rank=pos + 1,
            limits=(Limit("contaminant_pct", "max", max=Decimal(pos + 1)),),
        )
        standard = GradeStandard(
            code=spec.code, material_code=material, name_en=code, name_ja=code, rank=pos + 1
        )
        session.add(standard)
        session.flush()
        version = StandardVersion(
            standard_id=standard.id,
            number=1,
            status=VersionStatus.PUBLISHED,
            spec_json=encode_spec(spec),
            source="bench",
            effective_from=SEED_EFFECTIVE,
            published_at=SEED_PUBLISHED_AT,
        )
        session.add(version)
        session.flush()
        ids.append(version.id)
    return ids


def load_instance(session: Session, instance: Instance, with_minimums: bool = True) -> None:
    """Bulk-insert organisations, open listings and open requests of the instance."""
    grade = map_grades(session, instance)
    n_s, n_d = len(instance.supplies), len(instance.demands)
    n_rec, n_man = max(1, n_s // ITEMS_PER_ORG), max(1, n_d // ITEMS_PER_ORG)
    orgs = [
        {
            "kind": kind,
            "name_ja": f"ベンチ{kind}{i}",
            "name_en": f"Bench {kind} {i}",
            "status": "verified",
            "address": "",
            "country": "JP",
        }
        for kind, n in (("recycler", n_rec), ("manufacturer", n_man))
        for i in range(n)
    ]
    session.execute(insert(Organization), orgs)
    recyclers = session.exec(
        select(Organization.id).where(Organization.kind == "recycler").order_by(Organization.id)
    ).all()
    makers = session.exec(
        select(Organization.id)
        .where(Organization.kind == "manufacturer")
        .order_by(col(Organization.id))
    ).all()
    listings = []
    for i, s in enumerate(instance.supplies):
        place = instance.supply_places[i]
        listings.append(
            {
                "organization_id": recyclers[i % len(recyclers)],
                "status": "open",
                "title": f"{s.material} from {place}",
                "material_code": s.material,
                "standard_version_id": grade[s.grade_id],
                "monthly_kg": tonnes_to_kg(s.available_t),
                "committed_kg": 0,
                "min_kg_per_contract": tonnes_to_kg(s.minimum_t) if with_minimums else 1,
                "available_from": _month_date(s.available_from),
                "max_term_months": s.max_term_months,
                "origin_port": place if s.is_port else None,
                "lat": s.lat,
                "lon": s.lon,
                "incoterm": "FCA",
                "incoterm_place": place,
                "price_kind": "fixed",
                "fixed_price_jpy_per_t": s.ask_jpy_per_t,
                "premium_jpy_per_t": 0,
                "data_quality_level": 1,
                "visibility": "public",
                "invited_org_ids": "",
                "expires_on": EXPIRES,
                "version": 1,
            }
        )
    session.execute(insert(SupplyListing), listings)
    requests = []
    for j, d in enumerate(instance.demands):
        target = max(d.acceptable_grade_ids)  # ids run best first: the target is the last
        requests.append(
            {
                "organization_id": makers[j % len(makers)],
                "status": "open",
                "title": f"{d.material} to {instance.demand_places[j]}",
                "material_code": d.material,
                "standard_version_id": grade[target],
                "accept_stricter": len(d.acceptable_grade_ids) > 1,
                "monthly_kg": tonnes_to_kg(d.need_t),
                "filled_kg": 0,
                "start_month": _month_date(d.start_month),
                "term_months": d.term_months,
                "delivery_place": instance.demand_places[j],
                "lat": d.lat,
                "lon": d.lon,
                "price_kind": "fixed",
                "max_price_jpy_per_t": d.limit_jpy_per_t,
                "premium_jpy_per_t": 0,
                "purpose": "",
                "mandate": "",
                "expires_on": EXPIRES,
                "version": 1,
            }
        )
    session.execute(insert(OfftakeRequest), requests)
    session.commit()


def run(
    n_listings: int,
    n_requests: int,
    url: str,
    seed: int,
    with_minimums: bool = True,
    time_limit_s: float | None = None,
    profile: str | None = None,
) -> dict[str, Any]:
    upgrade(url)
    engine = make_engine(url)
    month = _month_date(FIRST_MONTH)
    with Session(engine, expire_on_commit=False) as session:
        seed_catalogue(session)
        session.commit()
        t = time.perf_counter()
        load_instance(session, generate_instance(n_listings, n_requests, seed), with_minimums)
        load_s = time.perf_counter() - t

    # One-time imports of the solver libraries stay outside the timings (a server has them).
    import highspy  # noqa: F401
    import ortools.graph.python.min_cost_flow  # noqa: F401
    import scipy.sparse.csgraph  # noqa: F401

    limit = {} if time_limit_s is None else {"time_limit_s": time_limit_s}
    timings: dict[str, float] = {}
    outcome: dict[str, Any] = {}
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    with Session(engine, expire_on_commit=False) as session:
        t = time.perf_counter()
        if profiler:
            profiler.enable()
        match_run = run_market_allocation(
            session, SYSTEM, month, today=TODAY, timings=timings, outcome=outcome, **limit
        )
        session.commit()
        e2e_s = time.perf_counter() - t
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)
        figures = {
            k: getattr(match_run, k)
            for k in (
                "n_listings",
                "n_requests",
                "n_edges",
                "n_proposals",
                "surplus_jpy",
                "lp_bound_jpy",
            )
        }

    with Session(engine, expire_on_commit=False) as session:
        loaded = load_market(session, month, today=TODAY)
    edges = candidate_edges(loaded.supply, loaded.demand)
    caps = capacities(loaded.supply, loaded.demand)
    mcf = min_cost_flow_allocation(edges, caps.avail_kg, caps.need_kg)
    check_feasible(edges, caps, mcf, minimums=False)
    lp = solve_allocation(edges, caps.avail_kg, caps.need_kg, caps.minimum_kg, **limit)
    check_feasible(edges, caps, lp, minimums=True)
    greedy = greedy_allocation(edges, caps.avail_kg, caps.need_kg, caps.minimum_kg)
    check_feasible(edges, caps, greedy, minimums=True)
    nx = None
    if len(edges) <= NETWORKX_MAX_EDGES:
        nx = networkx_allocation(edges, caps.avail_kg, caps.need_kg)
        check_feasible(edges, caps, nx, minimums=False)
    engine.dispose()
    return {
        "n_listings": n_listings,
        "n_requests": n_requests,
        "seed": seed,
        "database": engine.dialect.name,
        "load_s": round(load_s, 3),
        "edges": figures["n_edges"],
        "proposals": figures["n_proposals"],
        "e2e_s": round(e2e_s, 3),
        "read_s": round(timings["read"], 3),
        "candidates_s": round(timings["candidates"], 3),
        "e2e_solve_s": round(timings["solve"], 3),
        "write_s": round(timings["write"] + e2e_s - timings["total"], 3),
        "solver_s": round(lp.solver_seconds, 3),
        "mcf_s": round(mcf.solver_seconds, 3),
        "stages_s": {k: round(v, 3) for k, v in lp.stage_seconds.items()},
        "solve_over_mcf": round(lp.solver_seconds / mcf.solver_seconds, 2),
        "e2e_over_mcf": round(e2e_s / mcf.solver_seconds, 2),
        "method": lp.method,
        "run_method": outcome.get("method"),
        "greedy_s": round(greedy.solver_seconds, 3),
        "networkx_s": round(nx.solver_seconds, 3) if nx else None,
        "surplus": figures["surplus_jpy"],
        "solver_surplus": lp.surplus_jpy,
        "lp_optimum": round(lp.lp_bound_jpy or 0.0, 1),
        "greedy_surplus": greedy.surplus_jpy,
        "networkx_surplus": nx.surplus_jpy if nx else None,
        "mcf_surplus": mcf.surplus_jpy,
        "gap": lp.gap,
        "mip_gap": lp.mip_gap,
        "optimal": lp.optimal,
        "run_mip_gap": outcome.get("mip_gap"),
        "run_optimal": outcome.get("optimal"),
        "e2e_over_solver": round(e2e_s / lp.solver_seconds, 2) if lp.solver_seconds else None,
    }


def print_table(r: dict[str, Any]) -> None:
    rows = [
        ("instance", f"{r['n_listings']} listings x {r['n_requests']} requests ({r['database']})"),
        ("bulk load", f"{r['load_s']:.3f} s"),
        ("candidate edges / proposals", f"{r['edges']} / {r['proposals']}"),
        ("end to end (run + commit)", f"{r['e2e_s']:.3f} s"),
        ("  read", f"{r['read_s']:.3f} s"),
        ("  candidate_edges", f"{r['candidates_s']:.3f} s"),
        ("  solve", f"{r['e2e_solve_s']:.3f} s"),
        ("  write + commit", f"{r['write_s']:.3f} s"),
        ("solver alone", f"{r['solver_s']:.3f} s (e2e = {r['e2e_over_solver']} x solver)"),
        (
            "OR-Tools min-cost flow",
            f"{r['mcf_s']:.3f} s (solver = {r['solve_over_mcf']} x, e2e = {r['e2e_over_mcf']} x)",
        ),
        (
            "  solver stages",
            ", ".join(f"{k} {v:.3f} s" for k, v in r["stages_s"].items()),
        ),
        ("greedy", f"{r['greedy_s']:.3f} s"),
        ("networkx", "skipped" if r["networkx_s"] is None else f"{r['networkx_s']:.3f} s"),
        ("surplus (run)", f"{r['surplus']:,} JPY/month"),
        ("LP optimum (bound)", f"{r['lp_optimum']:,.0f} JPY/month (gap {r['gap']:.4%})"),
        ("greedy surplus", f"{r['greedy_surplus']:,} JPY/month"),
        (
            "proven gap (minimums)",
            f"{r['mip_gap']:.4%} ({'optimal within 0.01 %' if r['optimal'] else 'not proven'};"
            f" {r['method']})",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listings", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--without-minimums",
        action="store_true",
        help="1 kg minimum per contract: the allocation must then equal the LP optimum",
    )
    parser.add_argument("--time-limit", type=float, default=None, help="exact model budget, s")
    parser.add_argument("--profile", default=None, help="write a cProfile of the run here")
    args = parser.parse_args(argv)
    if args.database_url:
        url = normalise_database_url(args.database_url)
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='junkan-bench-')) / 'bench.db'}"
    result = run(
        args.listings,
        args.requests,
        url,
        args.seed,
        not args.without_minimums,
        args.time_limit,
        args.profile,
    )
    print_table(result)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
