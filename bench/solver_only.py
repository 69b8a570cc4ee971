"""Benchmark of the pure matching core: candidate pairs, the allocation (min-cost flow, then the
exact model with minimums), OR-Tools' min-cost flow alone, greedy, networkx.

Usage: ``python bench/solver_only.py --listings 10000 --requests 10000 --seed 1``.
Prints a table, then one JSON line (the last line) with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.allocation_instance import generate_instance  # noqa: E402
from market.allocation import (  # noqa: E402
    Allocation,
    Capacities,
    Edges,
    candidate_edges,
    capacities,
    greedy_allocation,
    min_cost_flow_allocation,
    networkx_allocation,
    solve_allocation,
)

NETWORKX_MAX_EDGES = 50_000


def check_feasible(edges: Edges, caps: Capacities, allocation: Allocation, minimums: bool) -> None:
    """Raise if an allocation exceeds availability or need, or breaks a minimum."""
    import numpy as np

    kg = allocation.kg
    used_s = np.bincount(edges.supply, weights=kg, minlength=caps.avail_kg.shape[0])
    used_d = np.bincount(edges.demand, weights=kg, minlength=caps.need_kg.shape[0])
    if (used_s > caps.avail_kg).any() or (used_d > caps.need_kg).any():
        raise AssertionError(f"{allocation.method}: capacity exceeded")
    if minimums and ((kg > 0) & (kg < caps.minimum_kg[edges.supply])).any():
        raise AssertionError(f"{allocation.method}: minimum per contract broken")


def run_benchmark(
    n_listings: int,
    n_requests: int,
    seed: int,
    candidates_per_request: float = 20.0,
    networkx_max_edges: int = NETWORKX_MAX_EDGES,
    time_limit_s: float | None = None,
) -> dict[str, Any]:
    """Generate an instance, time each stage and return the figures as a dict."""
    instance = generate_instance(n_listings, n_requests, seed, candidates_per_request)
    t = time.perf_counter()
    edges = candidate_edges(instance.supplies, instance.demands)
    candidates_s = time.perf_counter() - t
    caps = capacities(instance.supplies, instance.demands)

    import ortools.graph.python.min_cost_flow  # noqa: F401  (import outside the timing)

    mcf = min_cost_flow_allocation(edges, caps.avail_kg, caps.need_kg)
    check_feasible(edges, caps, mcf, minimums=False)
    limit = {} if time_limit_s is None else {"time_limit_s": time_limit_s}
    lp = solve_allocation(edges, caps.avail_kg, caps.need_kg, caps.minimum_kg, **limit)
    check_feasible(edges, caps, lp, minimums=True)
    greedy = greedy_allocation(edges, caps.avail_kg, caps.need_kg, caps.minimum_kg)
    check_feasible(edges, caps, greedy, minimums=True)
    nx_result: Allocation | None = None
    if len(edges) <= networkx_max_edges:
        nx_result = networkx_allocation(edges, caps.avail_kg, caps.need_kg)
        check_feasible(edges, caps, nx_result, minimums=False)

    return {
        "n_listings": n_listings,
        "n_requests": n_requests,
        "seed": seed,
        "edges": len(edges),
        "edges_per_request": round(len(edges) / max(1, n_requests), 2),
        "candidates_s": round(candidates_s, 4),
        "solver_s": round(lp.solver_seconds, 4),
        "mcf_s": round(mcf.solver_seconds, 4),
        "stages_s": {k: round(v, 4) for k, v in lp.stage_seconds.items()},
        "solve_over_mcf": round(lp.solver_seconds / mcf.solver_seconds, 2),
        "method": lp.method,
        "mcf_surplus": mcf.surplus_jpy,
        "mip_gap": lp.mip_gap,
        "optimal": lp.optimal,
        "greedy_s": round(greedy.solver_seconds, 4),
        "networkx_s": round(nx_result.solver_seconds, 4) if nx_result else None,
        "surplus": lp.surplus_jpy,
        "lp_optimum": round(lp.lp_bound_jpy or 0.0, 1),
        "greedy_surplus": greedy.surplus_jpy,
        "gap": lp.gap,
        "networkx_surplus": nx_result.surplus_jpy if nx_result else None,
        "rounding_iterations": lp.rounding_iterations,
        "forced_edges": lp.forced_edges,
        "dropped_edges": lp.dropped_edges,
        "matches": int((lp.kg > 0).sum()),
    }


def print_table(result: dict[str, Any]) -> None:
    """Human-readable table of the figures."""
    rows = [
        ("instance", f"{result['n_listings']} listings x {result['n_requests']} requests"),
        ("candidate edges", f"{result['edges']} ({result['edges_per_request']} per request)"),
        ("candidate_edges", f"{result['candidates_s']:.3f} s"),
        ("solve_allocation", f"{result['solver_s']:.3f} s"),
        ("OR-Tools min-cost flow", f"{result['mcf_s']:.3f} s"),
        ("greedy_allocation", f"{result['greedy_s']:.3f} s"),
        (
            "networkx_allocation",
            "skipped" if result["networkx_s"] is None else f"{result['networkx_s']:.3f} s",
        ),
        ("LP optimum (bound)", f"{result['lp_optimum']:,.0f} JPY/month"),
        ("with minimums", f"{result['surplus']:,} JPY/month (gap {result['gap']:.4%})"),
        (
            "proven gap",
            f"{result['mip_gap']:.4%} ({'optimal' if result['optimal'] else 'not proven'};"
            f" {result['method']})",
        ),
        ("greedy", f"{result['greedy_surplus']:,} JPY/month"),
        (
            "networkx (no minimums)",
            "-" if result["networkx_surplus"] is None else f"{result['networkx_surplus']:,} JPY",
        ),
        ("rounding rounds", f"{result['rounding_iterations']}"),
        ("matches", f"{result['matches']}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listings", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--candidates", type=float, default=20.0)
    parser.add_argument("--networkx-max-edges", type=int, default=NETWORKX_MAX_EDGES)
    parser.add_argument("--time-limit", type=float, default=None, help="exact model budget, s")
    args = parser.parse_args(argv)
    result = run_benchmark(
        args.listings,
        args.requests,
        args.seed,
        args.candidates,
        args.networkx_max_edges,
        args.time_limit,
    )
    print_table(result)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
