"""Demo market: price indices (24 months), listings and requests across Japan, a matching run.

The story: 彩の国メタルリサイクル (Saitama) lists 120 t/month of Birch/Cliff copper at 92 % of
the copper-scrap index + ¥5,000 (floor ¥900,000); 浪速電線工業 (Osaka) needs 300 t/month for
36 months; 九州バッテリーリサイクル offers NCM black mass to 瀬戸内セル・マテリアルズ.
"""

import random
from datetime import date

from sqlmodel import Session, select

from market.alerts import SavedSearchInput, save_search
from market.listings import (
    MANAGE_LISTINGS,
    MANAGE_REQUESTS,
    ListingInput,
    RequestInput,
    add_months,
    create_listing,
    create_request,
    publish_listing,
    publish_request,
)
from market.models import IndexValue, PriceIndex
from participants.actors import Actor, Permission, actor_of
from participants.models import Member, Organization
from quality.catalogue import latest_published
from quality.models import Assay

# code, material, name_en, name_ja, level (yen/t) 24 months ago, monthly drift
INDICES = [
    (
        "CU-SCRAP-JP",
        "copper_scrap",
        "Copper scrap No.2 (Kanto dealers' buying price)",
        "銅スクラップ 2号銅（関東問屋仕入）",
        1_180_000,
        0.006,
    ),
    (
        "AL-SCRAP-JP",
        "aluminium_scrap",
        "Aluminium scrap, old sheet",
        "アルミスクラップ 上物",
        285_000,
        0.003,
    ),
    (
        "FE-H2-JP",
        "ferrous_scrap",
        "Ferrous scrap H2 (Tokyo Bay FAS)",
        "鉄スクラップ H2（東京湾岸 FAS）",
        48_000,
        -0.002,
    ),
    (
        "BM-NCM-JP",
        "li_ion_black_mass",
        "NCM black mass, payable basis",
        "NCM ブラックマス（ペイアブル換算）",
        430_000,
        -0.004,
    ),
    ("RPET-FLAKE-JP", "pet", "Clear rPET flake", "透明再生PETフレーク", 105_000, 0.004),
    (
        "HDPE-BALE-JP",
        "hdpe",
        "Natural HDPE bottle bales",
        "ナチュラルHDPEボトルベール",
        68_000,
        0.002,
    ),
]

# (org key, material, grade, monthly t, minimum t, start offset, term, prefecture, incoterm,
#  place, price) — price: ("fixed", yen) or ("index", code, factor, premium, floor)
LISTINGS = [
    (
        "saitama_copper",
        "copper_scrap",
        "ISRI-BIRCH-CLIFF",
        "120",
        "40",
        1,
        24,
        "11",
        "FCA",
        "Kawaguchi yard, Saitama",
        ("index", "CU-SCRAP-JP", "0.92", 5000, 900_000),
    ),
    (
        "saitama_copper",
        "copper_scrap",
        "EU-EOW-CU",
        "60",
        "20",
        2,
        12,
        "11",
        "FCA",
        "Kawaguchi yard, Saitama",
        ("index", "CU-SCRAP-JP", "0.88", 0, None),
    ),
    (
        "kyushu_battery",
        "li_ion_black_mass",
        "BM-NCM-EU",
        "40",
        "10",
        2,
        36,
        "40",
        "FOB",
        "Hibiki port, Kitakyushu",
        ("index", "BM-NCM-JP", "0.95", 0, 350_000),
    ),
    (
        "tokai_alu",
        "aluminium_scrap",
        "ISRI-TAINT-TABOR",
        "200",
        "50",
        1,
        24,
        "23",
        "FCA",
        "Toyota plant",
        ("index", "AL-SCRAP-JP", "0.95", 3000, None),
    ),
    (
        "tokai_alu",
        "aluminium_scrap",
        "ISRI-TWIRE",
        "150",
        "30",
        1,
        12,
        "23",
        "FCA",
        "Toyota plant",
        ("fixed", 255_000),
    ),
    (
        "hokkaido_fe",
        "ferrous_scrap",
        "JP-FE-H2",
        "2000",
        "500",
        1,
        36,
        "01",
        "FOB",
        "Tomakomai port",
        ("index", "FE-H2-JP", "1.00", -2000, None),
    ),
    (
        "hokkaido_fe",
        "ferrous_scrap",
        "JP-FE-HS",
        "800",
        "200",
        1,
        24,
        "01",
        "FOB",
        "Tomakomai port",
        ("index", "FE-H2-JP", "1.00", 4000, None),
    ),
    (
        "shonan_plastics",
        "pet",
        "RPET-FLAKE-A",
        "90",
        "20",
        1,
        24,
        "14",
        "FCA",
        "Hiratsuka plant",
        ("index", "RPET-FLAKE-JP", "1.00", 2000, None),
    ),
    (
        "shonan_plastics",
        "hdpe",
        "HDPE-NAT-A",
        "60",
        "15",
        1,
        24,
        "14",
        "FCA",
        "Hiratsuka plant",
        ("fixed", 76_000),
    ),
    (
        "shonan_plastics",
        "hdpe",
        "HDPE-NAT-B",
        "80",
        "20",
        1,
        24,
        "14",
        "FCA",
        "Hiratsuka plant",
        ("fixed", 64_000),
    ),
    (
        "sendai_escrap",
        "aluminium_scrap",
        "ISRI-EM1",
        "70",
        "20",
        1,
        12,
        "04",
        "FCA",
        "Sendai port yard",
        ("fixed", 210_000),
    ),
]

LISTINGS += [
    (
        "hiroshima_metal",
        "stainless_scrap",
        "ISRI-18-8",
        "150",
        "30",
        1,
        24,
        "34",
        "FCA",
        "Dejima yard, Hiroshima",
        ("fixed", 212_000),
    ),
    (
        "hiroshima_metal",
        "aluminium_scrap",
        "ISRI-TABOO",
        "80",
        "20",
        1,
        12,
        "34",
        "FCA",
        "Dejima yard, Hiroshima",
        ("index", "AL-SCRAP-JP", "1.01", 0, None),
    ),
    (
        "hiroshima_metal",
        "aluminium_scrap",
        "ISRI-TELIC",
        "60",
        "20",
        2,
        12,
        "34",
        "FCA",
        "Dejima yard, Hiroshima",
        ("index", "AL-SCRAP-JP", "0.78", 0, None),
    ),
    (
        "niigata_resource",
        "ferrous_scrap",
        "JP-FE-H1",
        "1200",
        "300",
        1,
        24,
        "15",
        "FOB",
        "Niigata East port",
        ("index", "FE-H2-JP", "1.00", 2500, None),
    ),
    (
        "niigata_resource",
        "copper_scrap",
        "ISRI-BIRCH-CLIFF",
        "45",
        "15",
        2,
        18,
        "15",
        "FCA",
        "Niigata yard",
        ("index", "CU-SCRAP-JP", "0.93", 0, 880_000),
    ),
    (
        "niigata_resource",
        "ferrous_scrap",
        "JIS-G2401-LCU",
        "600",
        "200",
        1,
        24,
        "15",
        "FOB",
        "Niigata East port",
        ("index", "FE-H2-JP", "1.00", 5000, None),
    ),
    (
        "chiba_recycle",
        "ferrous_scrap",
        "JP-FE-H3",
        "900",
        "300",
        1,
        12,
        "12",
        "FAS",
        "Chiba port, Shinminato",
        ("index", "FE-H2-JP", "0.97", 0, None),
    ),
    (
        "chiba_recycle",
        "aluminium_scrap",
        "EU-EOW-AL",
        "120",
        "40",
        1,
        24,
        "12",
        "FCA",
        "Chiba plant",
        ("index", "AL-SCRAP-JP", "0.92", 0, None),
    ),
    (
        "chiba_recycle",
        "hdpe",
        "HDPE-NAT-C",
        "70",
        "20",
        1,
        12,
        "12",
        "FCA",
        "Chiba plant",
        ("fixed", 52_000),
    ),
    (
        "chiba_recycle",
        "pet",
        "RPET-FLAKE-A",
        "40",
        "10",
        1,
        12,
        "12",
        "FCA",
        "Chiba plant",
        ("index", "RPET-FLAKE-JP", "0.98", 0, None),
    ),
    (
        "kyushu_battery",
        "li_ion_black_mass",
        "BM-NCM-US",
        "25",
        "5",
        1,
        24,
        "40",
        "FOB",
        "Hibiki port, Kitakyushu",
        ("index", "BM-NCM-JP", "0.90", 0, None),
    ),
    (
        "sendai_escrap",
        "copper_scrap",
        "EU-EOW-CU",
        "30",
        "10",
        1,
        12,
        "04",
        "FCA",
        "Sendai port yard",
        ("index", "CU-SCRAP-JP", "0.86", 0, None),
    ),
    (
        "tokai_alu",
        "aluminium_scrap",
        "ISRI-TABOO",
        "90",
        "30",
        2,
        24,
        "23",
        "FCA",
        "Toyota plant",
        ("index", "AL-SCRAP-JP", "1.00", 2000, None),
    ),
    (
        "hokkaido_fe",
        "ferrous_scrap",
        "JP-FE-H4",
        "400",
        "100",
        1,
        12,
        "01",
        "FOB",
        "Tomakomai port",
        ("index", "FE-H2-JP", "0.90", 0, None),
    ),
]

REQUESTS = [
    (
        "naniwa_wire",
        "copper_scrap",
        "ISRI-BIRCH-CLIFF",
        "300",
        2,
        36,
        "27",
        "DAP Sakai works, Osaka",
        ("index", "CU-SCRAP-JP", "0.97", 0),
        "Copper rod for building wire; customers ask for recycled content.",
        "JP-GREEN",
    ),
    (
        "setouchi_cell",
        "li_ion_black_mass",
        "BM-NCM-EU",
        "60",
        3,
        48,
        "33",
        "DAP Mizushima cathode plant, Okayama",
        ("fixed", 470_000),
        "Recycled Ni/Co/Li for NCM cathodes; EU battery regulation 2031 targets.",
        "EU-BATT-2031",
    ),
    (
        "chubu_auto",
        "aluminium_scrap",
        "ISRI-TAINT-TABOR",
        "250",
        1,
        24,
        "23",
        "DAP Kariya die-casting plant",
        ("index", "AL-SCRAP-JP", "1.02", 0),
        "Secondary alloy ingots for die-cast housings.",
        "EU-ELV",
    ),
    (
        "hokuriku_bottle",
        "pet",
        "RPET-FLAKE-A",
        "120",
        2,
        36,
        "16",
        "DAP Iwase, Toyama",
        ("fixed", 128_000),
        "Bottle-to-bottle rPET; PPWR 2030 content target for exports.",
        "EU-PPWR-2030",
    ),
    (
        "chubu_auto",
        "ferrous_scrap",
        "JP-FE-H2",
        "1500",
        1,
        24,
        "23",
        "DAP Nagoya port",
        ("index", "FE-H2-JP", "1.00", 6000),
        "Electric-arc furnace charge.",
        "",
    ),
    (
        "hokuriku_bottle",
        "hdpe",
        "HDPE-NAT-B",
        "50",
        1,
        24,
        "16",
        "DAP Iwase, Toyama",
        ("fixed", 80_000),
        "Detergent bottles with 50 % PCR HDPE.",
        "",
    ),
]


SAVED_SEARCHES = [
    (
        "manufacturer@demo.junkan.jp",
        "No.2 copper within 600 km of Osaka",
        {"material": "copper_scrap", "near": "27", "radius_km": "600"},
    ),
    ("cathode@demo.junkan.jp", "NCM black mass", {"material": "li_ion_black_mass"}),
]


REQUESTS += [
    (
        "kitakyushu_steel",
        "ferrous_scrap",
        "JP-FE-H2",
        "3000",
        1,
        36,
        "40",
        "DAP Tobata melt shop, Kitakyushu",
        ("index", "FE-H2-JP", "1.00", 8000),
        "EAF charge for rebar; low-carbon steel for public works.",
        "JP-GREEN",
    ),
    (
        "kitakyushu_steel",
        "ferrous_scrap",
        "JIS-G2401-LCU",
        "800",
        2,
        24,
        "40",
        "DAP Tobata melt shop, Kitakyushu",
        ("index", "FE-H2-JP", "1.00", 12000),
        "Low-copper charge for wire rod.",
        "",
    ),
    (
        "nagoya_stainless",
        "stainless_scrap",
        "ISRI-18-8",
        "400",
        1,
        36,
        "23",
        "DAP Shiomi works, Nagoya",
        ("fixed", 228_000),
        "304 slab melting.",
        "",
    ),
    (
        "shizuoka_molding",
        "hdpe",
        "HDPE-NAT-B",
        "90",
        1,
        24,
        "22",
        "DAP Shimizu plant",
        ("fixed", 74_000),
        "Recycled-content pallets and crates.",
        "JP-GREEN",
    ),
    (
        "shizuoka_molding",
        "pet",
        "RPET-FLAKE-A",
        "30",
        2,
        12,
        "22",
        "DAP Shimizu plant",
        ("fixed", 118_000),
        "Strapping band.",
        "",
    ),
    (
        "naniwa_wire",
        "copper_scrap",
        "EU-EOW-CU",
        "100",
        2,
        24,
        "27",
        "DAP Sakai works, Osaka",
        ("index", "CU-SCRAP-JP", "0.95", 0),
        "Second source for the rod mill.",
        "",
    ),
    (
        "chubu_auto",
        "aluminium_scrap",
        "ISRI-TABOO",
        "120",
        2,
        24,
        "23",
        "DAP Kariya die-casting plant",
        ("index", "AL-SCRAP-JP", "1.04", 0),
        "Low-copper alloy for EV battery housings.",
        "EU-ELV",
    ),
    (
        "setouchi_cell",
        "li_ion_black_mass",
        "BM-NCM-US",
        "20",
        2,
        24,
        "33",
        "DAP Mizushima cathode plant, Okayama",
        ("fixed", 420_000),
        "Cobalt-rich feed for pilot line.",
        "EU-BATT-2031",
    ),
    (
        "nagoya_stainless",
        "stainless_scrap",
        "ISRI-18-8",
        "150",
        3,
        24,
        "23",
        "DAP Shiomi works, Nagoya",
        ("fixed", 222_000),
        "Second melt shop from spring.",
        "",
    ),
    (
        "hokuriku_bottle",
        "pet",
        "RPET-FLAKE-A",
        "60",
        4,
        24,
        "16",
        "DAP Iwase, Toyama",
        ("fixed", 125_000),
        "New bottle line; food-contact rPET.",
        "EU-PPWR-2030",
    ),
]


def _index_values(session: Session, operator: Member, today: date) -> None:
    rng = random.Random(2026)
    first = add_months(today.replace(day=1), -23)
    for code, material, en, ja, level, drift in INDICES:
        index = PriceIndex(
            code=code,
            material_code=material,
            name_en=en,
            name_ja=ja,
            source="Junkan demo series (operator-entered)",
        )
        session.add(index)
        session.flush()
        value = float(level)
        for m in range(24):
            value *= 1 + drift + rng.uniform(-0.035, 0.035)
            session.add(
                IndexValue(
                    index_id=index.id,
                    month=add_months(first, m),
                    value_jpy_per_t=int(round(value, -2)),
                    entered_by_member_id=operator.id,
                )
            )
    session.flush()


def _price(spec: tuple, fixed: str) -> dict:
    """The price fields of an input: ("fixed", yen) or ("index", code, factor, premium[, floor])."""
    if spec[0] == "fixed":
        return {"price_kind": "fixed", fixed: spec[1]}
    _, code, factor, premium, *rest = spec
    price = {"price_kind": "index", "index": code, "index_factor": factor}
    price["premium_jpy_per_t"] = premium
    if rest and rest[0] is not None:
        price["floor_jpy_per_t"] = rest[0]
    return price


def _acting(session: Session, org: Organization, needs: Permission) -> Actor:
    """The organisation's first member allowed to do it: the demo acts as that member."""
    members = session.exec(
        select(Member).where(Member.organization_id == org.id).order_by(Member.id)
    ).all()
    return next(a for a in (actor_of(m, org) for m in members) if needs.allows(a))


def _member(session: Session, email: str) -> Actor:
    member = session.exec(select(Member).where(Member.email == email)).one()
    return actor_of(member, session.get(Organization, member.organization_id))


def load_market_demo(session: Session, orgs: dict[str, Organization], today: date) -> bool:
    """Indices, listings, requests (idempotent: skipped when indices exist)."""
    if session.exec(select(PriceIndex.id)).first() is not None:
        return False
    operator = session.exec(select(Member).where(Member.email == "operator@demo.junkan.jp")).one()
    _index_values(session, operator, today)
    month = today.replace(day=1)
    for email, name, args in SAVED_SEARCHES:
        data = SavedSearchInput.model_validate({"target": "listings", "name": name, "query": args})
        save_search(session, _member(session, email), data)
    for key, material, grade, monthly, minimum, offset, term, pref, rule, place, price in LISTINGS:
        _, version = latest_published(session, grade)
        assay = session.exec(
            select(Assay).where(
                Assay.organization_id == orgs[key].id, Assay.material_code == material
            )
        ).first()
        actor = _acting(session, orgs[key], MANAGE_LISTINGS)
        data = ListingInput.model_validate(
            {
                "material": material,
                "grade_version_id": version.id,
                "monthly_t": monthly,
                "min_t_per_contract": minimum,
                "available_from": add_months(month, offset),
                "max_term_months": term,
                "origin_prefecture": pref,
                "incoterm": rule,
                "incoterm_place": place,
                "assay_id": assay.id if assay else None,
                "expires_on": add_months(month, 6),
                "title": f"{grade} from {place}",
                **_price(price, "fixed_price_jpy_per_t"),
            }
        )
        listing = create_listing(session, actor, data, today)
        publish_listing(session, actor, listing.id, today)
    for (
        key,
        material,
        grade,
        monthly,
        offset,
        term,
        pref,
        place,
        price,
        purpose,
        mandate,
    ) in REQUESTS:
        _, version = latest_published(session, grade)
        actor = _acting(session, orgs[key], MANAGE_REQUESTS)
        data = RequestInput.model_validate(
            {
                "material": material,
                "grade_version_id": version.id,
                "monthly_t": monthly,
                "start_month": add_months(month, offset),
                "term_months": term,
                "delivery_prefecture": pref,
                "delivery_place": place,
                "purpose": purpose,
                "mandate": mandate,
                "expires_on": add_months(month, 6),
                "title": f"{grade} for {place}",
                **_price(price, "max_price_jpy_per_t"),
            }
        )
        request = create_request(session, actor, data, today)
        publish_request(session, actor, request.id, today)
    session.flush()
    return True
