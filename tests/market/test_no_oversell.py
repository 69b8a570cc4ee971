"""No oversell: simultaneous commits on one listing, each thread with its own session."""

import threading
from datetime import date

from factories import make_org
from sqlmodel import Session

from market.listings import commit_volume
from market.models import SupplyListing
from participants.errors import Conflict
from quality.catalogue import latest_published, seed_catalogue

THREADS = 8
MONTHLY_KG = 100_000
EACH_KG = 30_000


def test_simultaneous_commits_never_exceed_the_monthly_volume(app, db):
    seed_catalogue(db)
    org = make_org(db, kind="recycler")
    _, version = latest_published(db, "HDPE-NAT-B")
    listing = SupplyListing(
        organization_id=org.id,
        status="open",
        material_code="hdpe",
        standard_version_id=version.id,
        monthly_kg=MONTHLY_KG,
        min_kg_per_contract=10_000,
        available_from=date(2027, 1, 1),
        max_term_months=12,
        lat=35.0,
        lon=139.0,
        incoterm="FCA",
        incoterm_place="yard",
        price_kind="fixed",
        fixed_price_jpy_per_t=70_000,
        expires_on=date(2027, 6, 30),
    )
    db.add(listing)
    db.commit()
    engine = app.extensions["junkan.engine"]
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        with Session(engine, expire_on_commit=False) as session:
            barrier.wait(timeout=10)
            try:
                commit_volume(session, listing.id, EACH_KG)
                session.commit()
                result = "ok"
            except Conflict:
                session.rollback()
                result = "conflict"
            except Exception as exc:  # noqa: BLE001 - reported below
                session.rollback()
                result = f"error: {exc!r}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert len(outcomes) == THREADS
    assert not [o for o in outcomes if o.startswith("error")], outcomes
    assert outcomes.count("ok") == MONTHLY_KG // EACH_KG
    db.refresh(listing)
    assert listing.committed_kg == (MONTHLY_KG // EACH_KG) * EACH_KG <= MONTHLY_KG
