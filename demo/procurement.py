"""Demo procurement: a city buys recycled-content products and tenders for park benches.

Everything goes through the domain entry points, acting as the demo members:

1. Recycled input with a chain of custody: 湘南プラスチック再生 (Hiratsuka) sells natural HDPE
   bottle bales (HDPE-NAT-B) to two bench makers — 湘南リサイクルファニチャー (Fujisawa),
   20 t a month, and 静岡樹脂成形 (Shizuoka), 1 t a month — and clear rPET flake
   (RPET-FLAKE-A) to 関東エコ文具 (Koshigaya), 6 t a month, under offtake contracts from three
   months ago. Each accepted delivery credits the buyer's custody balance (the lots' assays
   are certified by the recycler, so the makers can cite the certificates).
2. …  (the catalogue, orders, tenders and OCDS steps follow)

Idempotent: the story is skipped when the bench maker's contract listing exists.
"""

import random
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from sqlmodel import Session, func, select

from contracts.deliveries import accept_delivery
from contracts.drafting import DraftFromListingIn, draft_from_listing
from contracts.invoicing import issue_invoices
from contracts.models import OfftakeContract
from contracts.obligations import close_months, open_month
from demo.contracts import (
    _actor,
    _assay,
    _deliver,
    _listing,
    _lot_days,
    _mark_history_read,
    _sign_both,
    _split,
)
from market.categories import seed_categories
from market.listings import add_months, close_listing
from market.models import Notification, SupplyListing
from participants.actors import SYSTEM, Actor
from participants.models import Organization
from quality.catalogue import latest_published
from quality.certification import CertificateRequest, issue_certificate

HDPE_LISTING_TITLE = "HDPE bottle bales for furniture makers (Hiratsuka)"
RPET_LISTING_TITLE = "Clear rPET flake for stationery (Hiratsuka)"
PLANT = "Hiratsuka plant"
PLASTICS_LAB = "湘南環境分析センター (Shonan Environmental Laboratory)"
TRUCKS = (
    ("湘南 100 せ 21-08", "Shonan 100 SE 21-08"),
    ("平塚 130 ひ 45-67", "Hiratsuka 130 HI 45-67"),
)
SUPPLY_MONTHS = 3  # closed months of plastics supply before the current one


def _supply_contract(
    session: Session,
    seller: Actor,
    buyer: Actor,
    listing: SupplyListing,
    monthly_t: Decimal,
    start: date,
) -> OfftakeContract:
    contract = draft_from_listing(
        session,
        buyer,
        listing.id,
        DraftFromListingIn(monthly_t=monthly_t, start_month=start, term_months=12),
    )
    _sign_both(session, seller, buyer, contract)
    return contract


def _plastics_lot(
    session: Session,
    seller: Actor,
    buyer: Actor,
    contract: OfftakeContract,
    lot: str,
    material: str,
    standard: str,
    day: date,
    kg: int,
    truck: tuple[str, str],
    today: date,
    certify: bool,
) -> None:
    if material == "hdpe":
        results = [("hdpe_pct", "91.5", "0.8"), ("contaminant_pct", "1.2", "0.2")]
        inspections = {"no_pvc": True, "no_metal": True, "no_glass": True}
        method = "bale audit (sort and weigh, 50 kg sample)"
    else:
        results = [
            ("iv_dl_g", "0.76", "0.01"),
            ("moisture_pct", "0.6", "0.05"),
            ("pvc_ppm", "35", "5"),
            ("pe_pp_ppm", "40", "8"),
            ("metal_ppm", "12", "3"),
            ("glue_ppm", "20", "5"),
        ]
        inspections = {}
        method = "ASTM D4603 (IV), flake inspection"
    assay = _assay(
        session,
        seller,
        lot,
        material,
        day - timedelta(days=1),
        Decimal(kg) / 1000,
        results,
        lab=PLASTICS_LAB,
        inspections=inspections,
        method=method,
    )
    if certify:
        issue_certificate(session, seller, CertificateRequest(assay_id=assay.id, standard=standard))
    delivery = _deliver(session, seller, contract, day, kg, truck, assay, PLANT, today)
    accept_delivery(session, buyer, delivery.id)


def _plastics_supply(session: Session, orgs: dict[str, Organization], today: date) -> None:
    """Listings, three contracts, three closed months of accepted lots, their invoices."""
    rng = random.Random(9)
    recycler = _actor(session, "plastics@demo.junkan.jp")
    bench = _actor(session, "bench@demo.junkan.jp")
    molder = _actor(session, "molding@demo.junkan.jp")
    stationery = _actor(session, "stationery@demo.junkan.jp")
    start = add_months(today.replace(day=1), -SUPPLY_MONTHS)
    listed_on = add_months(start, -1) + timedelta(days=12)
    _, hdpe_b = latest_published(session, "HDPE-NAT-B")
    _, rpet_a = latest_published(session, "RPET-FLAKE-A")
    common = {
        "available_from": start,
        "max_term_months": 24,
        "origin_prefecture": "14",
        "incoterm": "FCA",
        "incoterm_place": PLANT,
        "price_kind": "fixed",
    }
    hdpe = _listing(
        session,
        recycler,
        listed_on,
        {
            **common,
            "material": "hdpe",
            "grade_version_id": hdpe_b.id,
            "monthly_t": "25",
            "min_t_per_contract": "1",
            "fixed_price_jpy_per_t": 82_000,
        },
        HDPE_LISTING_TITLE,
    )
    rpet = _listing(
        session,
        recycler,
        listed_on,
        {
            **common,
            "material": "pet",
            "grade_version_id": rpet_a.id,
            "monthly_t": "6",
            "min_t_per_contract": "1",
            "fixed_price_jpy_per_t": 118_000,
        },
        RPET_LISTING_TITLE,
    )
    bench_contract = _supply_contract(session, recycler, bench, hdpe, Decimal(20), start)
    molder_contract = _supply_contract(session, recycler, molder, hdpe, Decimal(1), start)
    rpet_contract = _supply_contract(session, recycler, stationery, rpet, Decimal(6), start)
    close_listing(session, recycler, rpet.id)
    for number in range(SUPPLY_MONTHS):
        month = add_months(start, number)
        open_month(session, SYSTEM, month)
        days = _lot_days(month, 2, today, rng)
        for i, (day, kg) in enumerate(zip(days, _split(20_000, 2, rng), strict=False)):
            lot = f"SPR-HD-{month:%y%m}-{i + 1}"
            _plastics_lot(
                session,
                recycler,
                bench,
                bench_contract,
                lot,
                "hdpe",
                "HDPE-NAT-B",
                day,
                kg,
                TRUCKS[i % 2],
                today,
                certify=number == SUPPLY_MONTHS - 1,
            )
        _plastics_lot(  # the molder's monthly tonne
            session,
            recycler,
            molder,
            molder_contract,
            f"SPR-HD-{month:%y%m}-M",
            "hdpe",
            "HDPE-NAT-B",
            days[0],
            1_000,
            TRUCKS[1],
            today,
            certify=number == 0,
        )
        for i, (day, kg) in enumerate(zip(days, _split(6_000, 2, rng), strict=False)):
            lot = f"SPR-PET-{month:%y%m}-{i + 1}"
            _plastics_lot(
                session,
                recycler,
                stationery,
                rpet_contract,
                lot,
                "pet",
                "RPET-FLAKE-A",
                day,
                kg,
                TRUCKS[(i + 1) % 2],
                today,
                certify=number == SUPPLY_MONTHS - 1,
            )
        close_months(session, SYSTEM, add_months(month, 1))
        issue_invoices(session, month, today)
    open_month(session, SYSTEM, today.replace(day=1))


def load_procurement_demo(
    session: Session,
    orgs: dict[str, Organization],
    today: date,
    echo: Callable[[str], None] = print,
) -> bool:
    """The procurement story (idempotent); True when anything was created."""
    seed_categories(session)
    done = session.exec(
        select(SupplyListing.id).where(SupplyListing.title == HDPE_LISTING_TITLE)
    ).first()
    if done:
        return False
    echo("procurement: plastics supply with a chain of custody …")
    last_notice = session.exec(select(func.max(Notification.id))).one() or 0
    _plastics_supply(session, orgs, today)
    _mark_history_read(session, last_notice)
    session.flush()
    return True
