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
from contracts.models import Invoice, OfftakeContract
from contracts.obligations import close_months, open_month
from contracts.payments import BankTransferIn, record_bank_transfer
from contracts.public_orders import OrderIn, buy_direct
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
    CatalogueProduct,
    Enquiry,
    Notification,
    ProcurementCategory,
    SupplyListing,
    Tender,
)
from market.products import ProductInput, create_product
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
    lab_values: bool = False,
) -> None:
    declared = {"polymer": material.upper(), "source": "PCR", "colour": "natural"}
    if material == "hdpe":
        results = [("hdpe_pct", "91.5", "0.8"), ("contaminant_pct", "1.2", "0.2")]
        if lab_values:  # the bench maker asks for regrind lab values (data-quality level 3)
            results += [
                ("ash_pct", "0.6", "0.1"),
                ("mfr_g_10min", "0.7", "0.05"),
                ("moisture_pct", "0.2", "0.05"),
                ("density_kg_m3", "957", "2"),
                ("bulk_density_kg_m3", "430", "10"),
            ]
        declared["form"] = "bales"
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
        declared["form"] = "flakes"
        declared["colour"] = "clear"
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
        declared=declared,
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
                lab_values=True,
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
# The recycled-product catalogue and direct purchases


def _product(
    session: Session,
    actor: Actor,
    category: str,
    names: tuple[str, str],
    descriptions: tuple[str, str],
    unit: str,
    price: int,
    lead_days: int,
    unit_kg: str,
    material: str,
    shares: tuple[int, int],
) -> CatalogueProduct:
    return create_product(
        session,
        actor,
        ProductInput(
            category_id=_category_id(session, category),
            name_ja=names[0],
            name_en=names[1],
            description_ja=descriptions[0],
            description_en=descriptions[1],
            unit=unit,
            unit_price_jpy=price,
            lead_time_days=lead_days,
            unit_mass_kg=Decimal(unit_kg),
            material=material,
            post_consumer_pct=Decimal(shares[0]),
            total_recycled_pct=Decimal(shares[1]),
            certificates=_certificates(session, actor, material),
        ),
    )


def _catalogue(session: Session, bench: Actor, molder: Actor, stationery: Actor) -> dict:
    """Six products of the three makers, each claim covered by its ledger."""
    return {
        "files": _product(
            session,
            stationery,
            "stationery-plastic-parts",
            ("再生PETクリアファイル A4（10枚入）", "Recycled-PET clear files, A4 (pack of 10)"),
            (
                "使用済みPETボトル由来の再生PETフレークを80％使用。グリーン購入法適合。",
                "80 percent recycled PET flake from used bottles; meets the Green Purchasing "
                "Act criterion for stationery.",
            ),
            "pack",
            480,
            7,
            "0.200",
            "pet",
            (80, 80),
        ),
        "badges": _product(
            session,
            stationery,
            "stationery-plastic-parts",
            ("再生PET名札ケース（50個入）", "Recycled-PET name badge holders (50)"),
            ("再生PET70％。", "70 percent recycled PET."),
            "box",
            1_350,
            10,
            "0.250",
            "pet",
            (70, 70),
        ),
        "bench": _product(
            session,
            bench,
            "park-bench-plastic",
            ("再生プラスチックベンチ 1.8m（背付き）", "Recycled-plastic bench, 1.8 m, backrest"),
            (
                "座板・背板は使用済みボトル由来HDPE 95％。据付費別途。",
                "Slats of 95 percent post-consumer HDPE from bottles; installation extra.",
            ),
            "piece",
            98_000,
            45,
            "48",
            "hdpe",
            (95, 95),
        ),
        "lumber": _product(
            session,
            bench,
            "plastic-lumber-hdpe",
            ("再生プラスチック角材 90×90×2000mm", "Recycled-plastic timber 90×90×2000 mm"),
            ("花壇・木道の補修に。", "For flower beds and boardwalk repairs."),
            "piece",
            12_800,
            21,
            "14",
            "hdpe",
            (100, 100),
        ),
        "stakes": _product(
            session,
            molder,
            "plastic-lumber-hdpe",
            ("再生樹脂製擬木杭 φ100×1200mm", "Recycled-resin imitation-wood stake, 100×1200 mm"),
            ("公園・緑地の柵用。", "For park and green-space fences."),
            "piece",
            8_900,
            14,
            "14",
            "hdpe",
            (100, 100),
        ),
        "delineator": _product(
            session,
            molder,
            "delineator-plastic",
            ("再生樹脂製視線誘導標 80cm", "Recycled-resin delineator post, 80 cm"),
            ("可とう性、基部付き。", "Flexible, with base."),
            "piece",
            6_800,
            20,
            "2",
            "hdpe",
            (80, 85),
        ),
    }


def _direct_purchases(session: Session, products: dict, stationery: Actor, today: date) -> None:
    """Yokohama's clear files (paid by bank transfer) and timbers (to pay by card)."""
    officer = _actor(session, "officer@demo.junkan.jp")
    files_day = today - timedelta(days=40)
    files = buy_direct(
        session, officer, OrderIn(product_id=products["files"].id, quantity=300), today=files_day
    )
    invoice = session.exec(select(Invoice).where(Invoice.purchase_order_id == files.id)).one()
    record_bank_transfer(
        session,
        stationery,
        invoice.id,
        BankTransferIn(
            amount_jpy=invoice.total_jpy,
            received_on=files_day + timedelta(days=21),
            reference="横浜市会計室 振込",
        ),
        today=files_day + timedelta(days=21),
    )
    buy_direct(
        session,
        officer,
        OrderIn(product_id=products["lumber"].id, quantity=30),
        today=today - timedelta(days=10),
    )


def _molder_sells_stakes(session: Session, products: dict, tender: Tender) -> None:
    """After bidding for the benches, the molder sells 141 stakes to the Kanto Regional
    Environment Office: 1.974 t of its 3 t of recycled HDPE. At the bench tender's opening its
    balance (1.026 t) covers 60 percent of its 1.710 t claim: disqualified."""
    kanto = _actor(session, "kanto@demo.junkan.jp")
    day = (tender.tender_start + timedelta(days=8)).date()
    buy_direct(session, kanto, OrderIn(product_id=products["stakes"].id, quantity=141), today=day)


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
    stationery = _actor(session, "stationery@demo.junkan.jp")
    echo("procurement: recycled-product catalogue, direct purchases …")
    products = _catalogue(session, bench, molder, stationery)
    _direct_purchases(session, products, stationery, today)
    echo("procurement: a bench tender awarded and under contract, a delineator tender open …")
    benches = _bench_tender(session, officer, now)
    _bench_bids(session, bench, molder, benches)
    _molder_sells_stakes(session, products, benches)
    _award_benches(session, officer, benches)
    _delineator_tender(session, officer, bench, now)
    _mark_history_read(session, last_notice)
    session.flush()
    return True
