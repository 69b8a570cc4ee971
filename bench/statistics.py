"""Benchmark of the market statistics' disclosure control: building and protecting the tables.

Usage: ``python bench/statistics.py [--contracts 1000 10000] [--orgs 300] [--seed 1]``.
No database: the records `contracts.statistics.load_records` would read are generated (seeded
random contracts of 1–12 months over the 24-month window, 17 materials, 47 prefectures, a few
large organisations and many small ones; open listings and requests a tenth of the contracts)
and `contracts.statistics.build_tables` aggregates and protects the four tables (contracted
tonnes, contract values for prices, open supply, open demand).

Printed per size: the time to build and protect all tables, the number of cells, primary and
secondary suppressions, the rounds of secondary suppression, the LPs solved and the LP audit
time (tonnes and values tables). The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contracts.statistics import (  # noqa: E402
    ContractMonth,
    MarketRecords,
    OpenVolume,
    build_tables,
    months_between,
    statistics_window,
)
from market.disclosure import DisclosureRules, Status  # noqa: E402
from participants.geography import PREFECTURES  # noqa: E402
from quality.reference_data import MATERIALS  # noqa: E402


def records(n: int, orgs: int, seed: int, today: date) -> MarketRecords:
    rnd = random.Random(seed)
    window = statistics_window(today)
    months = months_between(*window)
    families = tuple((m.code, str(m.family)) for m in MATERIALS)
    codes = [m for m, _ in families]
    prefs = [p.code for p in PREFECTURES]
    # Trade concentrates where industry is: Kanto, Chubu, Kinki weigh more.
    pref_weights = [5 if p in ("11", "12", "13", "14", "23", "27", "28") else 1 for p in prefs]
    org_weights = [20 if i < orgs // 20 else 1 for i in range(orgs)]
    rows = []
    for _ in range(n):
        seller, buyer = rnd.choices(range(orgs), org_weights, k=2)
        material = rnd.choice(codes)
        pref = rnd.choices(prefs, pref_weights)[0]
        kg = rnd.randrange(5, 200) * 1000
        price = rnd.randrange(30, 1500) * 1000
        start = rnd.randrange(len(months))
        for month in months[start : start + rnd.randrange(1, 13)]:
            rows.append(ContractMonth(month, material, pref, seller, buyer, kg, price))
    supply, demand = [], []
    for i in range(n // 10):
        volume = OpenVolume(
            rnd.choice(codes),
            rnd.choices(prefs, pref_weights)[0],
            rnd.choices(range(orgs), org_weights)[0],
            rnd.randrange(10, 300) * 1000,
        )
        (supply if i % 2 else demand).append(volume)
    return MarketRecords(window, families, tuple(rows), tuple(supply), tuple(demand))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--orgs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    today = date(2026, 12, 1)
    rules = DisclosureRules()
    figures = []
    for n in args.contracts:
        data = records(n, args.orgs, args.seed, today)
        started = time.perf_counter()
        tables = build_tables(data, rules)
        seconds = time.perf_counter() - started
        row = {"contracts": n, "contract_months": len(data.contract_months), "seconds": seconds}
        for name in ("contracted", "value", "supply", "demand"):
            table = getattr(tables, name)
            p = table.protection
            row[name] = {
                "cells": len(table.cells),
                "primary": p.count(Status.PRIMARY),
                "secondary": p.count(Status.SECONDARY),
                "rounds": p.rounds,
                "lp_solves": p.lp_solves,
                "audit_seconds": round(p.audit_seconds, 3),
                "failures": len(p.failures),
            }
        figures.append(row)
        print(f"{n:>6} contracts ({row['contract_months']} contract months): {seconds:.2f} s")
        for name in ("contracted", "value", "supply", "demand"):
            f = row[name]
            print(
                f"    {name:<10} cells {f['cells']:>6}  primary {f['primary']:>6}  "
                f"secondary {f['secondary']:>5}  rounds {f['rounds']:>3}  "
                f"LPs {f['lp_solves']:>5}  audit {f['audit_seconds']:.2f} s"
            )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
