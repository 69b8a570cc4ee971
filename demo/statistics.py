"""Demo background market for the public statistics: a handful of recyclers and manufacturers in
Kanto, Chubu and Kinki with small active copper and aluminium contracts, so that `/statistics`
shows published cells (copper from Kanto: four sellers, four buyers, none above 70 percent,
the story's Saitama contract running beside the new ones) and suppressed ones (aluminium from
one Osaka yard to two casters, stainless from the Shonan company's second yard in
Shizuoka — two thin metals in two regions that protect each other inside the metals total; black mass from Kyushu; the thin open supply and demand).

Everything goes through the domain entry points, acting as the new members: a listing created
and published as of a year ago, a draft from it by the buyer (`draft_from_listing`), both
signatures. The listings keep some tonnes uncontracted (open supply); three copper requests
and one aluminium request stay open (open demand). Idempotent: skipped when the first new
organisation exists. Call after `load_contract_demo` (it needs the story's price index).
"""

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from sqlmodel import Session, select

from contracts.drafting import DraftFromListingIn, draft_from_listing
from contracts.models import OfftakeContract
from contracts.negotiation import latest_terms
from contracts.signing import SignIn, sign_contract
from market.listings import (
    ListingInput,
    RequestInput,
    add_months,
    create_listing,
    create_request,
    publish_listing,
    publish_request,
)
from participants.actors import Actor, load_actor
from participants.models import Member, Organization
from quality.catalogue import latest_published
from quality.models import Material

# (key, kind, name_ja, name_en, base12, country, registry, prefecture, address, status)
STATS_ORGANIZATIONS = [
    (
        "chiba_copper",
        "recycler",
        "房総メタル資源株式会社",
        "Boso Metal Resources Co., Ltd.",
        "120001900541",
        "JP",
        None,
        "12",
        "千葉県市原市五井南海岸8-1",
        "verified",
    ),
    (
        "kanagawa_copper",
        "recycler",
        "湘南非鉄リサイクル株式会社",
        "Shonan Non-Ferrous Recycling Co., Ltd.",
        "140001900542",
        "JP",
        None,
        "14",
        "神奈川県平塚市大神3-2-1",
        "verified",
    ),
    (
        "ibaraki_copper",
        "recycler",
        "常陸スクラップ工業株式会社",
        "Hitachi-no-Kuni Scrap Industries Co., Ltd.",
        "080001900543",
        "JP",
        None,
        "08",
        "茨城県日立市久慈町5-10-3",
        "verified",
    ),
    (
        "osaka_aluminium",
        "recycler",
        "堺アルミ再生株式会社",
        "Sakai Aluminium Reclaim Co., Ltd.",
        "270001900544",
        "JP",
        None,
        "27",
        "大阪府堺市西区築港新町2-6",
        "verified",
    ),
    (
        "aichi_wire",
        "manufacturer",
        "尾張電線株式会社",
        "Owari Electric Wire Co., Ltd.",
        "230001900545",
        "JP",
        None,
        "23",
        "愛知県名古屋市港区潮見町37",
        "verified",
    ),
    (
        "hyogo_brass",
        "manufacturer",
        "播磨伸銅株式会社",
        "Harima Brass Mill Co., Ltd.",
        "280001900546",
        "JP",
        None,
        "28",
        "兵庫県姫路市飾磨区細江1280",
        "verified",
    ),
    (
        "shizuoka_cast",
        "manufacturer",
        "遠州ダイカスト株式会社",
        "Enshu Die Casting Co., Ltd.",
        "220001900547",
        "JP",
        None,
        "22",
        "静岡県浜松市南区米津町2800",
        "verified",
    ),
]
STATS_MEMBERS = [
    (f"{key.replace('_', '.')}@demo.junkan.jp", key, name, "admin trader signatory", "ja")
    for key, name in (
        ("chiba_copper", "市原 亮 (Ryo Ichihara)"),
        ("kanagawa_copper", "平塚 葵 (Aoi Hiratsuka)"),
        ("ibaraki_copper", "久慈 誠 (Makoto Kuji)"),
        ("osaka_aluminium", "堺 陽菜 (Hina Sakai)"),
        ("aichi_wire", "尾張 拓海 (Takumi Owari)"),
        ("hyogo_brass", "飾磨 結衣 (Yui Shikama)"),
        ("shizuoka_cast", "遠州 大翔 (Hiroto Enshu)"),
    )
]

# (seller, buyer, material, monthly t, price: fixed yen or (index factor, premium)): with the
# story's Saitama → Osaka copper contract, Kanto copper has four sellers and four buyers.
CONTRACTS = [
    ("chiba_copper", "aichi_wire", "copper_scrap", 50, ("0.90", 3000)),
    ("kanagawa_copper", "hyogo_brass", "copper_scrap", 45, ("0.91", 0)),
    ("ibaraki_copper", "shizuoka_cast", "copper_scrap", 40, ("0.89", 6000)),
    ("osaka_aluminium", "shizuoka_cast", "aluminium_scrap", 30, 265_000),
    ("osaka_aluminium", "aichi_wire", "aluminium_scrap", 20, 258_000),
    ("kanagawa_copper", "aichi_wire", "stainless_scrap", 25, 182_000),
]
# Open requests (buyer, material, monthly t, delivery prefecture, max price).
REQUESTS = [
    ("aichi_wire", "copper_scrap", 30, "23", 1_250_000),
    ("hyogo_brass", "copper_scrap", 25, "28", 1_240_000),
    ("shizuoka_cast", "copper_scrap", 20, "22", 1_230_000),
    ("hyogo_brass", "aluminium_scrap", 15, "28", 270_000),
]
GRADES = {
    "copper_scrap": "ISRI-BIRCH-CLIFF",
    "aluminium_scrap": "ISRI-TAINT-TABOR",
    "stainless_scrap": "ISRI-18-8",
}
# A listing's origin other than its company's prefecture (a second yard).
ORIGINS = {("kanagawa_copper", "stainless_scrap"): ("22", "浜松ヤード (Hamamatsu yard)")}
YARDS = {
    "chiba_copper": "市原ヤード (Ichihara yard)",
    "kanagawa_copper": "平塚ヤード (Hiratsuka yard)",
    "ibaraki_copper": "日立ヤード (Hitachi yard)",
    "osaka_aluminium": "堺ヤード (Sakai yard)",
}


def _actor(session: Session, key: str) -> Actor:
    email = next(m[0] for m in STATS_MEMBERS if m[1] == key)
    member = session.exec(select(Member).where(Member.email == email)).one()
    return load_actor(session, member.id)


def load_statistics_demo(
    session: Session,
    today: date,
    echo: Callable[[str], None] | None = None,
    participants: Callable[..., dict] | None = None,
) -> bool:
    """The background market of the statistics page; False when it exists already. Flushes;
    the caller commits."""
    first_en = STATS_ORGANIZATIONS[0][3]
    if session.exec(select(Organization.id).where(Organization.name_en == first_en)).first():
        return False
    if echo:
        echo("statistics: a background market of copper and aluminium …")
    # `participants`: demo.organizations.load_participants, handed in by load_demo (this
    # chapter is imported by it, so it does not import it back).
    orgs = participants(session, organizations=STATS_ORGANIZATIONS, members=STATS_MEMBERS)
    actors = {key: _actor(session, key) for key in orgs}
    # The same twelve months as the story's Saitama copper contract (from eleven months ago):
    # every month of Kanto copper has four sellers and four buyers.
    start = add_months(today.replace(day=1), -11)
    listed_on = add_months(start, -1) + timedelta(days=9)
    # Titles as the Japanese organisations would write them: the material's Japanese name.
    names = dict(session.exec(select(Material.code, Material.name_ja)).all())
    for seller, buyer, material, monthly_t, price in CONTRACTS:
        _, grade = latest_published(session, GRADES[material])
        origin, yard = ORIGINS.get((seller, material), (orgs[seller].prefecture, YARDS[seller]))
        priced = (
            {"price_kind": "fixed", "fixed_price_jpy_per_t": price}
            if isinstance(price, int)
            else {
                "price_kind": "index",
                "index": "CU-SCRAP-JP",
                "index_factor": price[0],
                "premium_jpy_per_t": price[1],
            }
        )
        data = ListingInput.model_validate(
            {
                "title": f"{names.get(material, material)}・{yard.split(' (')[0]}",
                "material": material,
                "grade_version_id": grade.id,
                "monthly_t": str(monthly_t + 15),  # some tonnes stay open: open supply
                "min_t_per_contract": "10",
                "available_from": start,
                "max_term_months": 12,
                "origin_prefecture": origin,
                "incoterm": "FCA",
                "incoterm_place": yard,
                "expires_on": add_months(today, 6),
                **priced,
            }
        )
        listing = create_listing(session, actors[seller], data, listed_on)
        publish_listing(session, actors[seller], listing.id, listed_on)
        contract = draft_from_listing(
            session,
            actors[buyer],
            listing.id,
            DraftFromListingIn(monthly_t=Decimal(monthly_t), start_month=start, term_months=12),
        )
        _sign_both(session, actors[seller], actors[buyer], contract)
    for buyer, material, monthly_t, prefecture, max_price in REQUESTS:
        _, grade = latest_published(session, GRADES[material])
        data = RequestInput.model_validate(
            {
                "title": f"{names.get(material, material)}（{orgs[buyer].name_ja}向け）",
                "material": material,
                "grade_version_id": grade.id,
                "monthly_t": str(monthly_t),
                "start_month": add_months(today.replace(day=1), 1),
                "term_months": 12,
                "delivery_prefecture": prefecture,
                "delivery_place": orgs[buyer].address or orgs[buyer].name_ja,
                "price_kind": "fixed",
                "max_price_jpy_per_t": max_price,
                "expires_on": add_months(today, 3),
            }
        )
        request = create_request(session, actors[buyer], data, today)
        publish_request(session, actors[buyer], request.id, today)
    session.flush()
    return True


def _sign_both(session: Session, seller: Actor, buyer: Actor, contract: OfftakeContract) -> None:
    latest = latest_terms(session, [contract.id])[contract.id]
    sign_contract(session, seller, contract.id, SignIn(version=latest.version), "demo")
    sign_contract(session, buyer, contract.id, SignIn(version=latest.version), "demo")
