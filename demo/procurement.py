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
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlmodel import Session, col, func, select

from contracts.deliveries import accept_delivery
from contracts.drafting import DraftFromListingIn, draft_from_listing
from contracts.invoicing import issue_invoices
from contracts.models import OfftakeContract
from contracts.obligations import close_months, open_month
from contracts.tender_orders import complete_award
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
from market.bids import BidIn, submit_bid
from market.categories import seed_categories
from market.evaluation import AwardIn, award_bid, open_tender
from market.listings import add_months, close_listing
from market.models import (
    Bid,
    BidStatus,
    Enquiry,
    Notification,
    ProcurementCategory,
    SupplyListing,
    Tender,
)
from market.tenders import (
    AnswerIn,
    EnquiryIn,
    TenderIn,
    answer_question,
    ask_question,
    create_tender,
    publish_tender,
)
from participants.actors import SYSTEM, Actor
from participants.columns import utcnow
from participants.models import Organization
from quality.catalogue import latest_published
from quality.certification import CertificateRequest, issue_certificate
from quality.models import Certificate, CustodyEntry

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
                certify=number == 0,
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
                certify=number == 0,
            )
        close_months(session, SYSTEM, add_months(month, 1))
        issue_invoices(session, month, today)
    open_month(session, SYSTEM, today.replace(day=1))


# ---------------------------------------------------------------------------------------------
# Tenders: park benches awarded and under contract; delineators open for bids


BENCH_TENDER_EN = "Recycled-plastic park benches for Yamashita Park and Minato-no-Mieru-Oka Park"
BENCH_TENDER_JA = "再生プラスチック製公園ベンチ（山下公園・港の見える丘公園）"
BENCHES = 40
BENCH_KG = {"bench": 48, "molder": 45}  # mass of one bench of each maker


def _category_id(session: Session, code: str) -> int:
    return session.exec(
        select(ProcurementCategory.id).where(ProcurementCategory.code == code)
    ).one()


def _bench_tender(session: Session, officer: Actor, now: datetime) -> Tender:
    """Published ten weeks ago: enquiries for two weeks, then two weeks of tendering."""
    published = now - timedelta(days=70)
    data = TenderIn(
        title_en=BENCH_TENDER_EN,
        title_ja=BENCH_TENDER_JA,
        description_en=(
            "40 three-seat park benches with backrest for the renewal of Yamashita Park and "
            "Minato-no-Mieru-Oka Park. Seat and backrest slats of recycled plastic (at least 90 "
            "percent post-consumer content), powder-coated steel frame, delivered and installed. "
            "Recycled content is verified against the supplier's chain-of-custody ledger."
        ),
        description_ja=(
            "山下公園・港の見える丘公園の再整備に伴う背もたれ付き3人掛けベンチ40基。座面・背板は"
            "再生プラスチック（ポストコンシューマー材90％以上）、脚部は粉体塗装鋼製、納入・据付を含む。"
            "再生材含有率は供給者のチェーン・オブ・カストディ台帳で確認します。"
        ),
        category_id=_category_id(session, "park-bench-plastic"),
        items=[
            {
                "description_en": "Park bench, three seats with backrest, recycled-plastic slats",
                "description_ja": "公園用ベンチ（背もたれ付き3人掛け・再生プラスチック製座板）",
                "quantity": BENCHES,
                "unit": "piece",
            }
        ],
        min_post_consumer_pct=Decimal(90),
        min_total_pct=Decimal(95),
        requires_certificate=True,
        weight_price=50,
        weight_recycled=40,
        weight_evidence=10,
        enquiry_start=published + timedelta(hours=1),
        enquiry_end=published + timedelta(days=14),
        tender_start=published + timedelta(days=14),
        tender_end=published + timedelta(days=28),
        standstill_days=10,
        budget_jpy=4_600_000,
    )
    tender = create_tender(session, officer, data, now=published - timedelta(days=2))
    return publish_tender(session, officer, tender.id, now=published)


def _certificates(session: Session, actor: Actor, material: str) -> list[str]:
    """The certificates of lots delivered to the actor's organisation (newest first)."""
    rows = session.exec(
        select(Certificate.id)
        .join(CustodyEntry, CustodyEntry.assay_id == Certificate.assay_id)
        .where(
            CustodyEntry.organization_id == actor.organization_id,
            CustodyEntry.material_code == material,
        )
        .order_by(col(Certificate.issued_at).desc())
    ).all()
    return list(dict.fromkeys(rows))[:2]


def _bench_bids(session: Session, bench: Actor, molder: Actor, tender: Tender) -> None:
    opened = tender.tender_start
    ask_question(
        session,
        molder,
        tender.id,
        EnquiryIn(question="Is a frame of recycled aluminium acceptable instead of steel?"),
        now=tender.enquiry_start + timedelta(days=3),
    )
    question = session.exec(select(Enquiry).where(Enquiry.tender_id == tender.id)).one()
    answer_question(
        session,
        _actor(session, "officer@demo.junkan.jp"),
        tender.id,
        question.id,
        AnswerIn(
            answer="Yes, if it carries the same load rating (JIS A 6601 equivalent). "
            "Only the slats count toward the recycled-content minimum."
        ),
        now=tender.enquiry_start + timedelta(days=5),
    )
    for actor, key, price, note in (
        (bench, "bench", 4_380_000, "Slats 100 percent HDPE from bottle bales, 10-year warranty."),
        (molder, "molder", 3_960_000, "Slats of recycled HDPE, steel frame, 5-year warranty."),
    ):
        submit_bid(
            session,
            actor,
            tender.id,
            BidIn(
                price_jpy=price,
                delivery_date=(tender.tender_end + timedelta(days=60)).date(),
                material_code="hdpe",
                product_mass_kg=BENCHES * BENCH_KG[key],
                post_consumer_pct=Decimal(95),
                total_recycled_pct=Decimal(95),
                certificate_ids=_certificates(session, actor, "hdpe"),
                note=note,
            ),
            now=opened + timedelta(days=4 if key == "bench" else 6),
        )


def _award_benches(session: Session, officer: Actor, tender: Tender) -> None:
    """Opened at the deadline (the molder's balance no longer covers its claim), awarded to
    the Fujisawa bench maker, standstill, contract and order."""
    open_tender(session, tender, now=tender.tender_end + timedelta(minutes=5))
    winner = session.exec(
        select(Bid).where(Bid.tender_id == tender.id, Bid.status == BidStatus.QUALIFIED)
    ).one()
    award_bid(
        session,
        officer,
        tender.id,
        AwardIn(
            bid_id=winner.id,
            justification=(
                "Highest score of the qualified bids; its recycled content is covered by the "
                "chain-of-custody ledger and certified by the recycler's accredited laboratory."
            ),
        ),
        now=tender.tender_end + timedelta(days=2),
    )
    session.refresh(tender)
    complete_award(session, officer, tender.id, now=tender.standstill_until + timedelta(days=1))


DELINEATOR_TENDER_EN = "Recycled-plastic delineators for the Kanazawa ward road works"
DELINEATOR_TENDER_JA = "再生プラスチック製視線誘導標（金沢区道路改良工事）"


def _delineator_tender(session: Session, officer: Actor, bench: Actor, now: datetime) -> Tender:
    """Published three weeks ago; the tender period runs until ten days from now; the bench
    maker's sealed bid is in."""
    published = now - timedelta(days=21)
    data = TenderIn(
        title_en=DELINEATOR_TENDER_EN,
        title_ja=DELINEATOR_TENDER_JA,
        description_en="200 flexible delineator posts (80 cm) with base, recycled plastic.",
        description_ja="再生プラスチック製の可とう性視線誘導標（高さ80cm・基部付き）200本。",
        category_id=_category_id(session, "delineator-plastic"),
        items=[
            {
                "description_en": "Flexible delineator post, 80 cm, with base",
                "description_ja": "可とう性視線誘導標 80cm（基部付き）",
                "quantity": 200,
                "unit": "piece",
            }
        ],
        min_post_consumer_pct=Decimal(50),
        min_total_pct=Decimal(60),
        requires_certificate=False,
        weight_price=60,
        weight_recycled=30,
        weight_evidence=10,
        enquiry_start=published + timedelta(hours=1),
        enquiry_end=published + timedelta(days=10),
        tender_start=published + timedelta(days=11),
        tender_end=now + timedelta(days=10),
        standstill_days=10,
        budget_jpy=1_900_000,
    )
    tender = create_tender(session, officer, data, now=published - timedelta(days=1))
    publish_tender(session, officer, tender.id, now=published)
    submit_bid(
        session,
        bench,
        tender.id,
        BidIn(
            price_jpy=1_640_000,
            delivery_date=(tender.tender_end + timedelta(days=45)).date(),
            material_code="hdpe",
            product_mass_kg=200 * 2,
            post_consumer_pct=Decimal(80),
            total_recycled_pct=Decimal(85),
            certificate_ids=_certificates(session, bench, "hdpe"),
        ),
        now=now - timedelta(days=2),
    )
    return tender


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
    now = utcnow()
    officer = _actor(session, "officer@demo.junkan.jp")
    bench = _actor(session, "bench@demo.junkan.jp")
    molder = _actor(session, "molding@demo.junkan.jp")
    echo("procurement: a bench tender awarded and under contract, a delineator tender open …")
    benches = _bench_tender(session, officer, now)
    _bench_bids(session, bench, molder, benches)
    _award_benches(session, officer, benches)
    _delineator_tender(session, officer, bench, now)
    _mark_history_read(session, last_notice)
    session.flush()
    return True
