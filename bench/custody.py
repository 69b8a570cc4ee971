"""Benchmark of the chain-of-custody ledger: concurrent claims against one account.

Usage: ``python bench/custody.py [--threads 8] [--per-thread 200] [--database-url URL]``.
Without ``--database-url`` (or ``DATABASE_URL``) a temporary SQLite file is used; with a
PostgreSQL URL a throwaway database is created beside the one named and dropped at the end.
The schema is migrated (``web.migrate.upgrade``); one manufacturer is credited with enough
recycled copper for every claim.

Timed, each phase with T threads that each open their own session (own connection) and are
released together by a barrier; every movement is its own transaction (commit per claim):
1. reserves: T × N ``reserve_claim`` of 7 kg each (awards);
2. debits: T × N ``debit_claim`` of 7 kg each (orders);
3. overdraw: the balance left is then topped to exactly 100 claims of 7 kg, and T × N debits
   race for it: exactly 100 must pass, the rest be refused, and nothing go below zero.
After each phase the account is read back and compared with what the entries say it must be
(credited − debited − reserved = available, and the figures expected from the counts); any
difference is an error (exit status 1). The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, func, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

import web.models  # noqa: E402,F401
from participants.accounts import corporate_number_check_digit  # noqa: E402
from participants.models import Organization  # noqa: E402
from quality.custody import credit_delivery, debit_claim, reserve_claim  # noqa: E402
from quality.errors import CustodyNotCovered  # noqa: E402
from quality.models import CustodyAccount, CustodyEntry  # noqa: E402
from web.config import normalise_database_url  # noqa: E402
from web.db import make_engine  # noqa: E402
from web.migrate import upgrade  # noqa: E402

MATERIAL = "copper_scrap"
CLAIM_KG = 7
OVERDRAW_CLAIMS = 100


def _organization(session: Session) -> int:
    base = f"{int(uuid.uuid4().int % 10**12):012d}"
    org = Organization(
        kind="manufacturer",
        name_ja="ベンチマーク製造",
        name_en="Bench Manufacturing",
        corporate_number=f"{corporate_number_check_digit(base)}{base}",
        status="verified",
    )
    session.add(org)
    session.commit()
    return org.id


def _account(session: Session, org_id: int) -> CustodyAccount:
    session.expire_all()
    return session.exec(
        select(CustodyAccount).where(
            CustodyAccount.organization_id == org_id, CustodyAccount.material_code == MATERIAL
        )
    ).one()


def _race(engine, threads: int, per_thread: int, move) -> tuple[float, int, int, int]:
    """Run `move(session, source_id)` T × N times in T threads; seconds, passed, refused,
    errors."""
    barrier = threading.Barrier(threads + 1)
    counts = {"ok": 0, "refused": 0, "error": 0}
    lock = threading.Lock()

    def worker(t: int) -> None:
        local = {"ok": 0, "refused": 0, "error": 0}
        with Session(engine, expire_on_commit=False) as session:
            barrier.wait()
            for i in range(per_thread):
                try:
                    move(session, t * per_thread + i + 1)
                    session.commit()
                    local["ok"] += 1
                except CustodyNotCovered:
                    session.rollback()
                    local["refused"] += 1
                except Exception as exc:  # noqa: BLE001 - counted and shown
                    session.rollback()
                    local["error"] += 1
                    print(f"  error: {exc!r}", file=sys.stderr)
        with lock:
            for k, v in local.items():
                counts[k] += v

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    barrier.wait()
    start = time.perf_counter()
    for th in pool:
        th.join()
    return time.perf_counter() - start, counts["ok"], counts["refused"], counts["error"]


def run(url: str, threads: int, per_thread: int) -> dict[str, Any]:
    upgrade(url)
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        engine.dispose()
        engine = create_engine(url, pool_size=threads + 2, max_overflow=0)
    claims = threads * per_thread
    problems: list[str] = []
    result: dict[str, Any] = {"db": engine.dialect.name, "threads": threads, "claims": claims}
    with Session(engine, expire_on_commit=False) as session:
        org_id = _organization(session)
        start_kg = 2 * claims * CLAIM_KG
        credit_delivery(
            session,
            organization_id=org_id,
            material_code=MATERIAL,
            delivery_id=1,
            net_kg=start_kg,
        )
        session.commit()

        def check(label: str, **expected: int) -> None:
            a = _account(session, org_id)
            got = {k: getattr(a, k) for k in expected}
            if got != expected:
                problems.append(f"{label}: expected {expected}, got {got}")
            if a.available_kg != a.credited_kg - a.debited_kg - a.reserved_kg:
                problems.append(f"{label}: available is not credited − debited − reserved")
            if a.available_kg < 0:
                problems.append(f"{label}: negative balance {a.available_kg}")

        def reserve(s: Session, n: int) -> None:
            reserve_claim(
                s,
                organization_id=org_id,
                material_code=MATERIAL,
                kg=CLAIM_KG,
                source="award",
                source_id=n,
            )

        def debit(s: Session, n: int) -> None:
            debit_claim(
                s,
                organization_id=org_id,
                material_code=MATERIAL,
                kg=CLAIM_KG,
                source="order",
                source_id=n,
            )

        def debit_more(s: Session, n: int) -> None:
            debit(s, claims + n)

        seconds, ok, refused, errors = _race(engine, threads, per_thread, reserve)
        result["reserve_per_s"] = round(ok / seconds, 1)
        result["reserve_s"] = round(seconds, 3)
        if (ok, refused, errors) != (claims, 0, 0):
            problems.append(f"reserves: {ok} passed, {refused} refused, {errors} errors")
        check("reserves", reserved_kg=claims * CLAIM_KG, available_kg=claims * CLAIM_KG)

        # The reserves hold half of the balance; the debits take the other half.
        seconds, ok, refused, errors = _race(engine, threads, per_thread, debit)
        result["debit_per_s"] = round(ok / seconds, 1)
        result["debit_s"] = round(seconds, 3)
        if (ok, refused, errors) != (claims, 0, 0):
            problems.append(f"debits: {ok} passed, {refused} refused, {errors} errors")
        check("debits", debited_kg=claims * CLAIM_KG, available_kg=0)

        credit_delivery(
            session,
            organization_id=org_id,
            material_code=MATERIAL,
            delivery_id=2,
            net_kg=OVERDRAW_CLAIMS * CLAIM_KG,
        )
        session.commit()
        seconds, ok, refused, errors = _race(engine, threads, per_thread, debit_more)
        result["overdraw_attempts_per_s"] = round((ok + refused) / seconds, 1)
        result["overdraw_passed"] = ok
        result["overdraw_refused"] = refused
        if (ok, refused, errors) != (OVERDRAW_CLAIMS, claims - OVERDRAW_CLAIMS, 0):
            problems.append(f"overdraw: {ok} passed, {refused} refused, {errors} errors")
        check(
            "overdraw",
            debited_kg=(claims + OVERDRAW_CLAIMS) * CLAIM_KG,
            reserved_kg=claims * CLAIM_KG,
            available_kg=0,
        )
        entries = session.exec(
            select(func.count())
            .select_from(CustodyEntry)
            .where(CustodyEntry.organization_id == org_id)
        ).one()
        expected_entries = 2 + claims + claims + OVERDRAW_CLAIMS
        if entries != expected_entries:
            problems.append(f"entries: expected {expected_entries}, got {entries}")
        a = _account(session, org_id)
        result["final_available_kg"] = a.available_kg
        result["final_balance_ok"] = not problems
    engine.dispose()
    result["problems"] = problems
    return result


def _throwaway_postgres(url: str) -> tuple[str, Any]:
    name = f"junkan_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    bench_url = make_url(url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return bench_url, drop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--per-thread", type=int, default=200)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args(argv)
    drop = None
    if args.database_url:
        url = normalise_database_url(args.database_url)
        if url.startswith("postgresql"):
            url, drop = _throwaway_postgres(url)
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='junkan-bench-')) / 'custody.db'}"
    try:
        result = run(url, args.threads, args.per_thread)
    finally:
        if drop is not None:
            drop()
    print(f"database         {result['db']}, {args.threads} threads, {result['claims']} claims")
    print(f"reserves         {result['reserve_per_s']:.1f} /s ({result['reserve_s']:.3f} s)")
    print(f"debits           {result['debit_per_s']:.1f} /s ({result['debit_s']:.3f} s)")
    print(
        f"overdraw race    {result['overdraw_attempts_per_s']:.1f} attempts/s: "
        f"{result['overdraw_passed']} passed, {result['overdraw_refused']} refused"
    )
    print(
        f"final balance    {result['final_available_kg']} kg, as expected: {result['final_balance_ok']}"
    )
    for problem in result["problems"]:
        print(f"PROBLEM          {problem}")
    print(json.dumps(result))
    return 0 if result["final_balance_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
