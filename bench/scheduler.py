"""Benchmark of the scheduler's monthly work: open a month for N active contracts, invoice it.

Usage: ``python bench/scheduler.py --contracts 10000 [--database-url URL]``. Without
``--database-url`` a temporary SQLite file is used; the schema is migrated
(``web.migrate.upgrade``) and the quality catalogue seeded. Loaded set-based (not timed):
verified recyclers and manufacturers (one per 20 contracts, each with a signatory), one
listing and one request per contract, N active contracts with their signed terms (version 1,
copper No.2 at a fixed price, 100 t a month ± 5 %, 12 months from 2027-01) and both
signatures.

Timed, each with its commit: ``contracts.obligations.open_month`` for 2027-01 (obligations and
one ``obligation.opened`` event on each contract's chain), ``close_months`` on 2027-02-01, then
``contracts.invoicing.issue_invoices(session, month)`` when that module exists (the money
slice's; otherwise ``invoice_s`` is null and a note says so). A second ``open_month`` of the
same month checks that nothing is opened twice. The last line is one JSON object with
``n_contracts``, ``open_s``, ``invoice_s`` and ``db``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

import web.models  # noqa: E402,F401
from contracts.models import (  # noqa: E402
    ContractEvent,
    ContractTerms,
    DeliveryObligation,
    OfftakeContract,
    Signature,
)
from contracts.obligations import close_months, open_month  # noqa: E402
from market.models import OfftakeRequest, SupplyListing  # noqa: E402
from participants.accounts import corporate_number_check_digit  # noqa: E402
from participants.actors import SYSTEM  # noqa: E402
from participants.columns import utcnow  # noqa: E402
from participants.models import Member, Organization  # noqa: E402
from quality.catalogue import latest_published, seed_catalogue  # noqa: E402
from web.config import normalise_database_url  # noqa: E402
from web.db import make_engine  # noqa: E402
from web.migrate import upgrade  # noqa: E402

MONTH = date(2027, 1, 1)
CLOSING_DAY = date(2027, 2, 1)
CONTRACTS_PER_ORG = 20
MONTHLY_KG = 100_000
PRICE_JPY_PER_T = 1_200_000


def _ids(session: Session, model, where=None) -> list[int]:
    query = select(model.id).order_by(col(model.id))
    if where is not None:
        query = query.where(where)
    return list(session.exec(query).all())


def load_contracts(session: Session, n: int) -> None:
    """N active contracts with everything they stand on, in a handful of bulk inserts."""
    version = latest_published(session, "ISRI-BIRCH-CLIFF")[1].id
    n_orgs = max(1, -(-n // CONTRACTS_PER_ORG))
    orgs = []
    for kind in ("recycler", "manufacturer"):
        for i in range(n_orgs):
            base = f"{(8_000_000 if kind == 'recycler' else 9_000_000) + i:012d}"
            number = f"{corporate_number_check_digit(base)}{base}"
            orgs.append(
                {
                    "kind": kind,
                    "name_ja": f"ベンチ{kind}{i}",
                    "name_en": f"Bench {kind} {i}",
                    "corporate_number": number,
                    "status": "verified",
                    "address": "",
                    "country": "JP",
                    "prefecture": "11",
                    "lat": 35.86,
                    "lon": 139.65,
                    "qualified_invoice_number": "T" + number if kind == "recycler" else None,
                }
            )
    session.execute(insert(Organization), orgs)
    sellers = _ids(session, Organization, Organization.kind == "recycler")
    buyers = _ids(session, Organization, Organization.kind == "manufacturer")
    members = [
        {
            "organization_id": org_id,
            "email": f"signatory{org_id}@bench.junkan.jp",
            "name": f"Signatory {org_id}",
            "password_hash": "!",
            "roles": "admin trader signatory",
            "locale": "ja",
        }
        for org_id in sellers + buyers
    ]
    session.execute(insert(Member), members)
    signatory = dict(session.exec(select(Member.organization_id, Member.id)).all())

    pairs = [(sellers[i % n_orgs], buyers[(i * 7) % n_orgs]) for i in range(n)]
    session.execute(
        insert(SupplyListing),
        [
            {
                "organization_id": seller,
                "status": "open",
                "title": f"Copper No.2 #{i}",
                "material_code": "copper_scrap",
                "standard_version_id": version,
                "monthly_kg": MONTHLY_KG,
                "committed_kg": MONTHLY_KG,
                "min_kg_per_contract": 1_000,
                "available_from": MONTH,
                "max_term_months": 12,
                "lat": 35.86,
                "lon": 139.65,
                "incoterm": "FCA",
                "incoterm_place": "Yard",
                "price_kind": "fixed",
                "fixed_price_jpy_per_t": PRICE_JPY_PER_T,
                "premium_jpy_per_t": 0,
                "data_quality_level": 1,
                "visibility": "public",
                "invited_org_ids": "",
                "expires_on": date(2099, 12, 31),
                "version": 1,
            }
            for i, (seller, _buyer) in enumerate(pairs)
        ],
    )
    session.execute(
        insert(OfftakeRequest),
        [
            {
                "organization_id": buyer,
                "status": "open",
                "title": f"Copper No.2 for plant #{i}",
                "material_code": "copper_scrap",
                "standard_version_id": version,
                "accept_stricter": True,
                "monthly_kg": MONTHLY_KG,
                "filled_kg": MONTHLY_KG,
                "start_month": MONTH,
                "term_months": 12,
                "delivery_place": "Plant",
                "lat": 35.45,
                "lon": 139.64,
                "price_kind": "fixed",
                "max_price_jpy_per_t": PRICE_JPY_PER_T + 50_000,
                "premium_jpy_per_t": 0,
                "purpose": "",
                "mandate": "",
                "expires_on": date(2099, 12, 31),
                "version": 1,
            }
            for i, (_seller, buyer) in enumerate(pairs)
        ],
    )
    listings, requests = _ids(session, SupplyListing), _ids(session, OfftakeRequest)
    now = utcnow()
    session.execute(
        insert(OfftakeContract),
        [
            {
                "status": "active",
                "seller_org_id": seller,
                "buyer_org_id": buyer,
                "listing_id": listings[i],
                "request_id": requests[i],
                "material_code": "copper_scrap",
                "reserved_kg": MONTHLY_KG,
                "filled_kg": MONTHLY_KG,
                "active_version": 1,
                "activated_at": now,
                "created_at": now,
                "last_event_seq": 0,
                "last_event_sha256": "",
            }
            for i, (seller, buyer) in enumerate(pairs)
        ],
    )
    contracts = _ids(session, OfftakeContract)
    session.execute(
        insert(ContractTerms),
        [
            {
                "contract_id": cid,
                "version": 1,
                "start_month": MONTH,
                "term_months": 12,
                "monthly_kg": MONTHLY_KG,
                "tolerance_pct": Decimal("5"),
                "annual_tolerance_pct": Decimal("5"),
                "take_or_pay_pct": Decimal("80"),
                "shortfall_price_pct": Decimal("20"),
                "excess_price_pct": Decimal("100"),
                "incoterm": "FCA",
                "incoterm_place": "Yard",
                "standard_version_id": version,
                "price_kind": "fixed",
                "fixed_price_jpy_per_t": PRICE_JPY_PER_T,
                "premium_jpy_per_t": 0,
                "pricing_period": "delivery",
                "payment_days": 30,
                "renewal_months": 0,
                "termination_notice_days": 90,
                "governing_language": "ja",
                "comment": "",
                "sha256": f"{cid:064x}",  # stands for the canonical terms hash
                "created_at": now,
            }
            for cid in contracts
        ],
    )
    terms = dict(session.exec(select(ContractTerms.contract_id, ContractTerms.id)).all())
    session.execute(
        insert(Signature),
        [
            {
                "contract_id": cid,
                "terms_id": terms[cid],
                "organization_id": org,
                "member_id": signatory[org],
                "terms_sha256": f"{cid:064x}",
                "signed_at": now,
                "remote_addr": "127.0.0.1",
            }
            for cid, (seller, buyer) in zip(contracts, pairs, strict=True)
            for org in (seller, buyer)
        ],
    )
    session.commit()


def _count(session: Session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def _issue_invoices():
    """contracts.invoicing.issue_invoices when the money slice is there, else None."""
    try:
        module = importlib.import_module("contracts.invoicing")
    except ModuleNotFoundError as err:
        if err.name != "contracts.invoicing":
            raise
        return None
    return getattr(module, "issue_invoices", None)


def run(n: int, url: str) -> dict[str, Any]:
    upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        seed_catalogue(session)
        session.commit()
        t = time.perf_counter()
        load_contracts(session, n)
        load_s = time.perf_counter() - t

    with Session(engine, expire_on_commit=False) as session:
        t = time.perf_counter()
        opened = open_month(session, SYSTEM, MONTH)
        session.commit()
        open_s = time.perf_counter() - t
    with Session(engine, expire_on_commit=False) as session:
        t = time.perf_counter()
        again = open_month(session, SYSTEM, MONTH)
        session.commit()
        reopen_s = time.perf_counter() - t
    with Session(engine, expire_on_commit=False) as session:
        t = time.perf_counter()
        closed = close_months(session, SYSTEM, CLOSING_DAY)
        session.commit()
        close_s = time.perf_counter() - t

    issue = _issue_invoices()
    invoice_s = None
    invoiced: Any = None
    if issue is not None:
        with Session(engine, expire_on_commit=False) as session:
            t = time.perf_counter()
            invoiced = issue(session, MONTH)
            session.commit()
            invoice_s = time.perf_counter() - t

    with Session(engine, expire_on_commit=False) as session:
        obligations = _count(session, DeliveryObligation)
        events = _count(session, ContractEvent)
    engine.dispose()
    assert opened.opened == n and again.opened == 0 and closed.closed == n, (opened, again, closed)
    per_contract = 3 if invoice_s is not None else 2  # opened, closed (, invoice issued)
    assert obligations == n and events == per_contract * n, (obligations, events)
    return {
        "n_contracts": n,
        "open_s": round(open_s, 3),
        "invoice_s": round(invoice_s, 3) if invoice_s is not None else None,
        "db": engine.dialect.name,
        "load_s": round(load_s, 3),
        "reopen_s": round(reopen_s, 3),
        "close_s": round(close_s, 3),
        "obligations": obligations,
        "events": events,
        "invoiced": invoiced if isinstance(invoiced, int | None) else str(invoiced)[:80],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=1000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    if args.contracts < 1:
        parser.error("--contracts must be at least 1")
    if args.database_url:
        url = normalise_database_url(args.database_url)
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='junkan-bench-')) / 'bench.db'}"
    result = run(args.contracts, url)
    print(
        f"{result['n_contracts']} active contracts ({result['db']}), loaded in {result['load_s']} s"
    )
    print(
        f"open the month   {result['open_s']:.3f} s  (again: {result['reopen_s']:.3f} s, opens 0)"
    )
    print(f"close the month  {result['close_s']:.3f} s")
    if result["invoice_s"] is None:
        print("invoice          not measured: contracts.invoicing.issue_invoices is not here yet")
    else:
        print(f"invoice          {result['invoice_s']:.3f} s")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
