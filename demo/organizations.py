"""The demo story: a copper-scrap yard in Saitama, a wire maker in Osaka, a black-mass offtake,
a city's tender for recycled-plastic benches. Each section is idempotent."""

from collections.abc import Callable

from sqlmodel import Session, select

from participants.accounts import corporate_number_check_digit, hash_password
from participants.actors import SYSTEM, actor_of
from participants.audit import record_audit
from participants.columns import utcnow
from participants.models import Member, Organization, OrgStatus

DEMO_PASSWORD = "junkan-demo"


def demo_corporate_number(base12: str) -> str:
    """A corporate number with a valid check digit (invented bases, not real companies)."""
    return f"{corporate_number_check_digit(base12)}{base12}"


# (key, kind, name_ja, name_en, base12 or None, country, registry, prefecture, address, status)
ORGANIZATIONS = [
    (
        "operator",
        "operator",
        "循環マーケット運営株式会社",
        "Junkan Market Operations K.K.",
        "010401900001",
        "JP",
        None,
        "13",
        "東京都千代田区丸の内1-1-1",
        "verified",
    ),
    (
        "saitama_copper",
        "recycler",
        "彩の国メタルリサイクル株式会社",
        "Sai-no-Kuni Metal Recycling Co., Ltd.",
        "030001900002",
        "JP",
        None,
        "11",
        "埼玉県川口市領家4-2-10",
        "verified",
    ),
    (
        "kyushu_battery",
        "recycler",
        "九州バッテリーリサイクル株式会社",
        "Kyushu Battery Recycling Co., Ltd.",
        "290001900003",
        "JP",
        None,
        "40",
        "福岡県北九州市若松区響町1-62",
        "verified",
    ),
    (
        "tokai_alu",
        "recycler",
        "東海アルミ再生株式会社",
        "Tokai Aluminium Renewal Co., Ltd.",
        "180001900004",
        "JP",
        None,
        "23",
        "愛知県豊田市堤町5-1",
        "verified",
    ),
    (
        "hokkaido_fe",
        "recycler",
        "北海道鉄リサイクル株式会社",
        "Hokkaido Ferrous Recycling Co., Ltd.",
        "430001900005",
        "JP",
        None,
        "01",
        "北海道苫小牧市真砂町38",
        "verified",
    ),
    (
        "shonan_plastics",
        "recycler",
        "湘南プラスチック再生株式会社",
        "Shonan Plastics Renewal Co., Ltd.",
        "020001900006",
        "JP",
        None,
        "14",
        "神奈川県平塚市大神8-1",
        "verified",
    ),
    (
        "sendai_escrap",
        "recycler",
        "仙台イースクラップ株式会社",
        "Sendai E-Scrap Works Co., Ltd.",
        "370001900007",
        "JP",
        None,
        "04",
        "宮城県仙台市宮城野区港3-1",
        "verified",
    ),
    (
        "naniwa_wire",
        "manufacturer",
        "浪速電線工業株式会社",
        "Naniwa Electric Wire & Cable Co., Ltd.",
        "120001900008",
        "JP",
        None,
        "27",
        "大阪府堺市西区築港新町2-5",
        "verified",
    ),
    (
        "setouchi_cell",
        "manufacturer",
        "瀬戸内セル・マテリアルズ株式会社",
        "Setouchi Cell Materials Co., Ltd.",
        "260001900009",
        "JP",
        None,
        "33",
        "岡山県倉敷市水島川崎通1-1",
        "verified",
    ),
    (
        "chubu_auto",
        "manufacturer",
        "中部自動車部品株式会社",
        "Chubu Auto Parts Co., Ltd.",
        "180001900010",
        "JP",
        None,
        "23",
        "愛知県刈谷市昭和町2-3",
        "verified",
    ),
    (
        "hokuriku_bottle",
        "manufacturer",
        "北陸ボトル株式会社",
        "Hokuriku Bottle Co., Ltd.",
        "230001900011",
        "JP",
        None,
        "16",
        "富山県富山市岩瀬町120",
        "verified",
    ),
    (
        "yokohama_city",
        "agency",
        "横浜市 資源循環局",
        "City of Yokohama, Resources and Waste Recycling Bureau",
        "000020900012",
        "JP",
        None,
        "14",
        "横浜市中区本町6-50-10",
        "verified",
    ),
    (
        "kanto_office",
        "agency",
        "関東地方環境事務所",
        "Kanto Regional Environment Office",
        "000012900013",
        "JP",
        None,
        "11",
        "さいたま市中央区新都心1-1",
        "verified",
    ),
    (
        "standards_council",
        "standards_body",
        "再生資源規格協議会",
        "Recycled Materials Standards Council",
        "010405900014",
        "JP",
        None,
        "13",
        "東京都港区芝公園3-5-8",
        "verified",
    ),
    (
        "hiroshima_metal",
        "recycler",
        "広島メタルワークス株式会社",
        "Hiroshima Metal Works Co., Ltd.",
        "240001900017",
        "JP",
        None,
        "34",
        "広島市南区出島2-1",
        "verified",
    ),
    (
        "niigata_resource",
        "recycler",
        "新潟リソース循環株式会社",
        "Niigata Resource Circulation Co., Ltd.",
        "110001900018",
        "JP",
        None,
        "15",
        "新潟市東区臨港町1-6",
        "verified",
    ),
    (
        "chiba_recycle",
        "recycler",
        "千葉臨海リサイクル株式会社",
        "Chiba Rinkai Recycling Co., Ltd.",
        "040001900019",
        "JP",
        None,
        "12",
        "千葉市中央区新港32",
        "verified",
    ),
    (
        "kitakyushu_steel",
        "manufacturer",
        "北九州電炉製鋼株式会社",
        "Kitakyushu EAF Steel Co., Ltd.",
        "290001900020",
        "JP",
        None,
        "40",
        "北九州市戸畑区大字中原46",
        "verified",
    ),
    (
        "nagoya_stainless",
        "manufacturer",
        "名古屋ステンレス工業株式会社",
        "Nagoya Stainless Industries Co., Ltd.",
        "180001900021",
        "JP",
        None,
        "23",
        "名古屋市港区潮見町37",
        "verified",
    ),
    (
        "shonan_furniture",
        "manufacturer",
        "湘南リサイクルファニチャー株式会社",
        "Shonan Recycled Furniture Co., Ltd.",
        "020001900031",
        "JP",
        None,
        "14",
        "神奈川県藤沢市桐原町12",
        "verified",
    ),
    (
        "kanto_stationery",
        "manufacturer",
        "関東エコ文具株式会社",
        "Kanto Eco Stationery Co., Ltd.",
        "030001900032",
        "JP",
        None,
        "11",
        "埼玉県越谷市流通団地3-2",
        "verified",
    ),
    (
        "shizuoka_molding",
        "manufacturer",
        "静岡樹脂成形株式会社",
        "Shizuoka Resin Molding Co., Ltd.",
        "080001900022",
        "JP",
        None,
        "22",
        "静岡市清水区袖師町1",
        "verified",
    ),
    (
        "rhein_recycling",
        "recycler",
        "ライン・リサイクリング有限会社",
        "Rhein Recycling GmbH",
        None,
        "DE",
        "Köln HRB 48213",  # Handelsregisternummer: court, register, number
        None,
        "Industriestraße 12, 50735 Köln",
        "unverified",  # verified by the operator in the resource-security chapter
    ),
    (
        "kobe_newcomer",
        "recycler",
        "神戸リソース株式会社",
        "Kobe Resource Co., Ltd.",
        "140001900016",
        "JP",
        None,
        "28",
        "神戸市東灘区向洋町東3-1",
        "unverified",
    ),
]

# (email, organisation key, name, roles, locale)
MEMBERS = [
    ("operator@demo.junkan.jp", "operator", "運営 太郎 (Taro Unei)", "admin", "ja"),
    (
        "recycler@demo.junkan.jp",
        "saitama_copper",
        "川口 美咲 (Misaki Kawaguchi)",
        "admin signatory trader",
        "ja",
    ),
    (
        "yard.inspector@demo.junkan.jp",
        "saitama_copper",
        "岩槻 健 (Ken Iwatsuki)",
        "inspector",
        "ja",
    ),
    (
        "manufacturer@demo.junkan.jp",
        "naniwa_wire",
        "堺 大輔 (Daisuke Sakai)",
        "admin signatory trader",
        "ja",
    ),
    ("buyer2@demo.junkan.jp", "naniwa_wire", "Emily Carter", "trader", "en"),
    (
        "blackmass@demo.junkan.jp",
        "kyushu_battery",
        "若松 陽子 (Yoko Wakamatsu)",
        "admin signatory trader",
        "ja",
    ),
    (
        "cathode@demo.junkan.jp",
        "setouchi_cell",
        "水島 翔 (Sho Mizushima)",
        "admin signatory trader",
        "ja",
    ),
    ("alu@demo.junkan.jp", "tokai_alu", "豊田 恵 (Megumi Toyoda)", "admin trader signatory", "ja"),
    (
        "ferrous@demo.junkan.jp",
        "hokkaido_fe",
        "苫小牧 誠 (Makoto Tomakomai)",
        "admin trader signatory",
        "ja",
    ),
    (
        "plastics@demo.junkan.jp",
        "shonan_plastics",
        "平塚 彩 (Aya Hiratsuka)",
        "admin trader signatory",
        "ja",
    ),
    ("escrap@demo.junkan.jp", "sendai_escrap", "Liam O'Connor", "admin trader", "en"),
    (
        "auto@demo.junkan.jp",
        "chubu_auto",
        "刈谷 直樹 (Naoki Kariya)",
        "admin trader signatory",
        "ja",
    ),
    (
        "bottle@demo.junkan.jp",
        "hokuriku_bottle",
        "岩瀬 由美 (Yumi Iwase)",
        "admin trader signatory",
        "ja",
    ),
    ("officer@demo.junkan.jp", "yokohama_city", "本町 さくら (Sakura Honcho)", "officer", "ja"),
    ("city.admin@demo.junkan.jp", "yokohama_city", "中区 修 (Osamu Nakaku)", "admin", "ja"),
    (
        "kanto@demo.junkan.jp",
        "kanto_office",
        "新都心 悟 (Satoru Shintoshin)",
        "admin officer",
        "ja",
    ),
    ("standards@demo.junkan.jp", "standards_council", "芝 和子 (Kazuko Shiba)", "admin", "ja"),
    (
        "hiroshima@demo.junkan.jp",
        "hiroshima_metal",
        "出島 亮 (Ryo Dejima)",
        "admin trader signatory",
        "ja",
    ),
    (
        "niigata@demo.junkan.jp",
        "niigata_resource",
        "臨港 純 (Jun Rinko)",
        "admin trader signatory",
        "ja",
    ),
    (
        "chiba@demo.junkan.jp",
        "chiba_recycle",
        "新港 葵 (Aoi Shinko)",
        "admin trader signatory",
        "ja",
    ),
    (
        "eaf@demo.junkan.jp",
        "kitakyushu_steel",
        "戸畑 剛 (Tsuyoshi Tobata)",
        "admin trader signatory",
        "ja",
    ),
    ("stainless@demo.junkan.jp", "nagoya_stainless", "Priya Raman", "admin trader signatory", "en"),
    (
        "molding@demo.junkan.jp",
        "shizuoka_molding",
        "清水 花 (Hana Shimizu)",
        "admin trader signatory",
        "ja",
    ),
    (
        "bench@demo.junkan.jp",
        "shonan_furniture",
        "辻堂 海斗 (Kaito Tsujido)",
        "admin trader signatory",
        "ja",
    ),
    (
        "stationery@demo.junkan.jp",
        "kanto_stationery",
        "越谷 さやか (Sayaka Koshigaya)",
        "admin trader signatory",
        "ja",
    ),
    ("rhein@demo.junkan.jp", "rhein_recycling", "Jonas Becker", "admin trader signatory", "en"),
    ("kobe@demo.junkan.jp", "kobe_newcomer", "向洋 拓 (Taku Koyo)", "admin", "ja"),
]

DEMO_LOGINS = [
    ("operator@demo.junkan.jp", "marketplace operator"),
    ("recycler@demo.junkan.jp", "copper-scrap recycler, Saitama (admin + signatory)"),
    ("manufacturer@demo.junkan.jp", "wire maker, Osaka (admin + signatory)"),
    ("blackmass@demo.junkan.jp", "black-mass recycler, Kitakyushu (admin + signatory)"),
    ("cathode@demo.junkan.jp", "battery-materials maker, Okayama (admin + signatory)"),
    ("officer@demo.junkan.jp", "City of Yokohama procurement officer"),
    ("standards@demo.junkan.jp", "recycled-materials standards council"),
    ("smelter@demo.junkan.jp", "e-scrap smelter, Kagawa: import consent (admin + signatory)"),
    ("rhein@demo.junkan.jp", "German e-scrap recycler, Cologne (admin + signatory)"),
    ("siam@demo.junkan.jp", "Thai e-scrap recycler, Laem Chabang (admin + signatory)"),
]


def load_participants(
    session: Session, organizations=None, members=None
) -> dict[str, Organization]:
    """Organisations and members (skips what exists): the story's (`ORGANIZATIONS`,
    `MEMBERS`), or the rows another demo chapter adds in the same shape."""
    organizations = ORGANIZATIONS if organizations is None else organizations
    members = MEMBERS if members is None else members
    from participants.geography import BY_CODE

    orgs: dict[str, Organization] = {}
    for key, kind, ja, en, base, country, registry, pref, address, status in organizations:
        number = demo_corporate_number(base) if base else None
        existing = session.exec(
            select(Organization).where(Organization.name_en == en, Organization.kind == kind)
        ).first()
        if existing:
            orgs[key] = existing
            continue
        org = Organization(
            kind=kind,
            name_ja=ja,
            name_en=en,
            corporate_number=number,
            # Recyclers sell on invoices: registered qualified-invoice issuers (T + the
            # corporate number), so that the buyers may deduct the consumption tax.
            qualified_invoice_number=f"T{number}" if kind == "recycler" and number else None,
            country=country,
            registry_id=registry,
            prefecture=pref,
            address=address,
            status=status,
            lat=BY_CODE[pref].lat if pref else 50.94,
            lon=BY_CODE[pref].lon if pref else 6.96,
            verified_at=utcnow() if status == OrgStatus.VERIFIED else None,
        )
        session.add(org)
        session.flush()
        orgs[key] = org
    password_hash = hash_password(DEMO_PASSWORD)
    for email, key, name, roles, locale in members:
        if session.exec(select(Member.id).where(Member.email == email)).first():
            continue
        session.add(
            Member(
                organization_id=orgs[key].id,
                email=email,
                name=name,
                password_hash=password_hash,
                roles=roles,
                locale=locale,
            )
        )
    session.flush()
    operator = session.exec(select(Member).where(Member.email == "operator@demo.junkan.jp")).one()
    operator_actor = actor_of(operator, session.get(Organization, operator.organization_id))
    for key, org in orgs.items():
        if org.status == OrgStatus.VERIFIED and key != "operator":
            record_audit(
                session,
                operator_actor,
                "organization.verified",
                "organization",
                org.id,
                {"from": "unverified", "to": "verified", "reason": "demo data"},
            )
    return orgs


def load_demo(
    session: Session, echo: Callable[[str], None] = print, rates=None, gateway=None
) -> bool:
    """Load every demo section; each is idempotent. True when anything was created.

    `gateway` (a `demo.contracts.DemoGateway`, e.g. over a localstripe started for the load)
    pays the past invoices; without one they stay issued."""
    from datetime import date

    from demo.contracts import load_contract_demo
    from demo.grades import load_quality_demo
    from demo.procurement import load_procurement_demo
    from demo.resource_security import load_resource_security_demo
    from demo.statistics import load_statistics_demo
    from demo.trading import load_market_demo

    created = False
    if not session.exec(select(Member.id).where(Member.email == "operator@demo.junkan.jp")).first():
        echo("participants …")
        load_participants(session)
        session.commit()
        created = True
    orgs = _orgs_by_key(session)
    echo("quality catalogue, rPET consultation, assays, certificate …")
    load_quality_demo(session, orgs)
    session.commit()
    echo("price indices, listings, requests …")
    if load_market_demo(session, orgs, date.today()):
        created = True
        session.commit()
        _matching_run(session, echo, rates)
    echo("contracts: a year of copper deliveries, black mass, a draft in negotiation …")
    if load_contract_demo(session, _orgs_by_key(session), date.today(), gateway, echo):
        created = True
        session.commit()
    echo("statistics: a background market of copper and aluminium contracts …")
    if load_statistics_demo(session, date.today(), echo, participants=load_participants):
        created = True
        session.commit()
    if load_procurement_demo(session, _orgs_by_key(session), date.today(), echo):
        created = True
        session.commit()
    if load_resource_security_demo(
        session, _orgs_by_key(session), date.today(), echo, participants=load_participants
    ):
        created = True
        session.commit()
    # Every listing's price for this month, as the nightly job stores it (the search's key).
    from market.indices import refresh_prices

    refresh_prices(session)
    session.commit()
    return created


def _orgs_by_key(session: Session) -> dict[str, Organization]:
    by_name = {o.name_en: o for o in session.exec(select(Organization))}
    return {key: by_name[en] for key, _kind, _ja, en, *_rest in ORGANIZATIONS if en in by_name}


def _matching_run(session: Session, echo: Callable[[str], None], rates=None) -> None:
    """Run the market-wide allocation once so both sides see proposals."""
    from datetime import date

    from market.matching import run_market_allocation

    run = run_market_allocation(session, SYSTEM, date.today().replace(day=1), rates=rates)
    session.commit()
    echo(f"matching run: {run.n_proposals} proposals")
