"""The demo chapter of resource security (issue 10): Japan as an e-scrap hub, and the export
watch's cases. Idempotent: skipped when the smelter's import consent exists.

- The operator verifies the German recycler Rhein Recycling GmbH (its Handelsregisternummer
  checked); Rhein and a new Thai recycler at Laem Chabang list waste printed circuit boards
  delivered CIF a Japanese port (Kobe, Yokohama), each under its own notification record.
- A new copper and precious-metals smelter on the Seto Inland Sea (Sakaide, Kagawa) posts an
  offtake request for e-scrap and holds the Basel Act import consent (METI, DE → NL → JP,
  one year, 600 t); the contract Rhein → smelter runs under it (drafted, the consent
  attached, signed by both: activation commits the term's tonnes), with two container lots.
- A Japanese recycler's export consent (spent lead-acid batteries to Korea) expires within
  30 days: the operator's watch shows it.
- An anomaly: a "copper scrap" listing whose assay carries circuit-board parameters (gold,
  silver, palladium in g/t: parameters only the waste-PCB grades use).
- A draft black-mass listing delivered CIF Busan without an export consent: publishing it is
  refused (409) with what is missing.

Everything goes through the domain entry points, acting as the members who may do it."""

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from sqlmodel import Session, select

from contracts.crossborder import attach_movement_record
from contracts.deliveries import accept_delivery
from contracts.drafting import DraftFromListingIn, draft_from_listing
from contracts.obligations import open_month
from demo.contracts import _assay, _deliver, _sign_both
from market.listings import (
    ListingInput,
    RequestInput,
    add_months,
    create_listing,
    create_request,
    publish_listing,
    publish_request,
)
from market.models import MovementRecord, SupplyListing
from market.movements import RecordInput, create_record
from participants.accounts import set_organization_status
from participants.actors import SYSTEM, Actor, actor_of
from participants.models import Member, Organization, OrgStatus
from quality.catalogue import latest_published

SMELTER_CONSENT = "METI-BA-2026-0417"
RHEIN_NOTIFICATION = "DE 053 004217"
SIAM_NOTIFICATION = "TH-DIW-2569-0183"
LEAD_ACID_CONSENT = "METI-BA-2025-0388"
BLACK_MASS_DRAFT_TITLE = "BM-NCM-EU, CIF Busan — draft (no export consent yet)"
ANOMALY_TITLE = "No.2 copper, mixed lots, Sendai port yard"
RHEIN_LISTING_TITLE = "High-grade PCB (computer boards), CIF Kobe"
SIAM_LISTING_TITLE = "Low-grade PCB (TV and appliance boards), CIF Yokohama"
CONTRACT_MONTHLY_T = 40
CONTRACT_TERM_MONTHS = 6
LAEM_CHABANG = (13.08, 100.88)
KOBE_PORT = (34.68, 135.20)
YOKOHAMA_PORT = (35.45, 139.66)
PCB_LAB = "Kobe Precious Metals Assay Laboratory (fire assay)"

# (key, kind, name_ja, name_en, base12 or None, country, registry, prefecture, address, status)
ORGANIZATIONS = [
    (
        "siam_escrap",
        "recycler",
        "サイアム・イースクラップ・リサイクリング株式会社",
        "Siam E-Scrap Recycling Co., Ltd.",
        None,
        "TH",
        "0205558004221",  # DBD juristic person number (13 digits, check digit valid)
        None,
        "Laem Chabang Industrial Estate, Thung Sukhla, Si Racha, Chonburi 20230",
        "verified",
    ),
    (
        "setonaikai_smelter",
        "manufacturer",
        "瀬戸内非鉄製錬株式会社",
        "Setonaikai Non-Ferrous Smelting Co., Ltd.",
        "470001900041",
        "JP",
        None,
        "37",
        "香川県坂出市番の州町1",
        "verified",
    ),
]

# (email, organisation key, name, roles, locale)
MEMBERS = [
    ("siam@demo.junkan.jp", "siam_escrap", "Somchai Wongsakul", "admin trader signatory", "en"),
    (
        "smelter@demo.junkan.jp",
        "setonaikai_smelter",
        "番の州 健一 (Ken'ichi Bannosu)",
        "admin trader signatory",
        "ja",
    ),
]


def _actor(session: Session, email: str) -> Actor:
    member = session.exec(select(Member).where(Member.email == email)).one()
    return actor_of(member, session.get(Organization, member.organization_id))


def _record(session: Session, actor: Actor, **fields) -> MovementRecord:
    return create_record(session, actor, RecordInput.model_validate(fields))


def load_resource_security_demo(
    session: Session,
    orgs: dict[str, Organization],
    today: date,
    echo: Callable[[str], None] | None = None,
    participants: Callable[..., dict[str, Organization]] | None = None,
) -> bool:
    """The chapter (flushes; the caller commits); False when it is already there.

    `participants`: `demo.organizations.load_participants`, handed in by `load_demo` (this
    module may not import demo.organizations, which imports it: no import circle); it adds
    this chapter's organisations and members (`ORGANIZATIONS`, `MEMBERS`)."""
    if session.exec(
        select(MovementRecord.id).where(MovementRecord.reference == SMELTER_CONSENT)
    ).first():
        return False
    say = echo or (lambda _line: None)
    say("resource security: foreign recyclers, an import consent, the export watch …")
    if participants is None:
        raise ValueError("load_demo hands in demo.organizations.load_participants")
    new = participants(session, organizations=ORGANIZATIONS, members=MEMBERS)
    new["siam_escrap"].lat, new["siam_escrap"].lon = LAEM_CHABANG
    session.add(new["siam_escrap"])
    operator = _actor(session, "operator@demo.junkan.jp")
    rhein = orgs["rhein_recycling"]
    if rhein.status != OrgStatus.VERIFIED:
        set_organization_status(
            session,
            operator,
            rhein.id,
            OrgStatus.VERIFIED,
            "Handelsregister extract Köln HRB 48213 and Basel notifier registration checked",
        )
    session.flush()

    month = today.replace(day=1)
    consent_from = add_months(month, -1)
    consent_until = add_months(consent_from, 12) - timedelta(days=1)
    rhein_trader = _actor(session, "rhein@demo.junkan.jp")
    siam = _actor(session, "siam@demo.junkan.jp")
    smelter = _actor(session, "smelter@demo.junkan.jp")

    # The consents: the smelter's import approval, each exporter's notification.
    common = {
        "direction": "import",
        "material": "waste_pcb",
        "route": "basel_act",
        "country_import": "JP",
        "valid_from": consent_from,
        "valid_until": consent_until,
    }
    smelter_consent = _record(
        session,
        smelter,
        **common,
        reference=SMELTER_CONSENT,
        authorities="METI and MOE (JP); Bezirksregierung Köln (DE)",
        country_export="DE",
        countries_transit=["NL"],
        consented_t="600",
        note="Import approval (Basel Act art. 8) for waste PCBs from Rhein Recycling GmbH, "
        "shipped via Rotterdam; the German notification is DE 053 004217.",
    )
    rhein_notification = _record(
        session,
        rhein_trader,
        **common,
        reference=RHEIN_NOTIFICATION,
        authorities="Bezirksregierung Köln (DE); METI and MOE (JP)",
        country_export="DE",
        countries_transit=["NL"],
        consented_t="600",
        note="Notification under Regulation (EU) 2024/1157 and the Basel Convention; Japan's "
        "consent METI-BA-2026-0417.",
    )
    siam_notification = _record(
        session,
        siam,
        **common,
        reference=SIAM_NOTIFICATION,
        authorities="Department of Industrial Works (TH); METI and MOE (JP)",
        country_export="TH",
        consented_t="360",
    )

    # Supply CIF a Japanese port: the sea freight is in the seller's price.
    _, high = latest_published(session, "PCB-HIGH")
    _, low = latest_published(session, "PCB-LOW")
    listings = {}
    for actor, title, version, coords, port, price, monthly, record in (
        (rhein_trader, RHEIN_LISTING_TITLE, high, KOBE_PORT, "Kobe", 980_000, "60", rhein_notification),
        (siam, SIAM_LISTING_TITLE, low, YOKOHAMA_PORT, "Yokohama", 310_000, "40", siam_notification),
    ):  # fmt: skip
        data = ListingInput.model_validate(
            {
                "title": title,
                "material": "waste_pcb",
                "grade_version_id": version.id,
                "monthly_t": monthly,
                "min_t_per_contract": "20",
                "available_from": month,
                "max_term_months": 12,
                "lat": coords[0],
                "lon": coords[1],
                "origin_port": port,
                "incoterm": "CIF",
                "incoterm_place": f"{port} port (CIF, container terminal)",
                "fixed_price_jpy_per_t": price,
                "delivery_country": "JP",
                "movement_record_id": record.id,
                "expires_on": add_months(month, 6),
            }
        )
        listing = create_listing(session, actor, data, today)
        publish_listing(session, actor, listing.id, today)
        listings[title] = listing

    # The smelter's request for e-scrap (low grade or better), under its import consent.
    request = create_request(
        session,
        smelter,
        RequestInput.model_validate(
            {
                "title": "Waste PCB for the Sakaide precious-metals line",
                "material": "waste_pcb",
                "grade_version_id": low.id,
                "accept_stricter": True,
                "monthly_t": "120",
                "start_month": month,
                "term_months": 12,
                "delivery_prefecture": "37",
                "delivery_place": "Sakaide smelter, Banno-su, Kagawa",
                "max_price_jpy_per_t": 1_050_000,
                "purpose": "Copper smelting with gold, silver and palladium recovery.",
                "movement_record_id": smelter_consent.id,
                "expires_on": add_months(month, 6),
            }
        ),
        today,
    )
    publish_request(session, smelter, request.id, today)

    # The contract Rhein → smelter under the smelter's import consent.
    contract = draft_from_listing(
        session,
        smelter,
        listings[RHEIN_LISTING_TITLE].id,
        DraftFromListingIn(
            monthly_t=Decimal(CONTRACT_MONTHLY_T),
            start_month=month,
            term_months=CONTRACT_TERM_MONTHS,
        ),
    )
    attach_movement_record(session, smelter, contract.id, smelter_consent.id)
    _sign_both(session, rhein_trader, smelter, contract)
    open_month(session, SYSTEM, month)
    for n, (container, kg, au) in enumerate(
        (("MSCU 481 230 6", 19_860, "241"), ("HLXU 770 412 9", 20_140, "233"))
    ):
        day = min(today, month + timedelta(days=1 + n))
        assay = _assay(
            session,
            rhein_trader,
            f"RR-PCB-{month:%y%m}-{n + 1}",
            "waste_pcb",
            day - timedelta(days=20),
            Decimal(kg) / 1000,
            [
                ("au_gpt", au, "6"),
                ("ag_gpt", "930", "25"),
                ("pd_gpt", "98", "4"),
                ("cu_pct", "19.4", "0.4"),
            ],
            lab=PCB_LAB,
            inspections={"no_batteries": True},
            method="fire assay (Au, Ag, Pd); ICP-OES (Cu) after milling to 2 mm",
        )
        delivery = _deliver(
            session,
            rhein_trader,
            contract,
            day,
            kg,
            (container, container),
            assay,
            "Kobe port, Port Island container terminal",
            today,
        )
        accept_delivery(session, smelter, delivery.id)

    # The export watch: an export consent expiring within 30 days.
    _record(
        session,
        _actor(session, "hiroshima@demo.junkan.jp"),
        direction="export",
        material="lead_acid_batteries",
        route="basel_act",
        reference=LEAD_ACID_CONSENT,
        authorities="METI and MOE (JP); Ministry of Environment (KR)",
        country_export="JP",
        country_import="KR",
        valid_from=today - timedelta(days=345),
        valid_until=today + timedelta(days=20),
        consented_t="1200",
        note="Spent lead-acid batteries, whole, to a secondary lead smelter in Ulsan.",
    )

    # The anomaly: "copper scrap" whose assay carries circuit-board parameters.
    escrap = _actor(session, "escrap@demo.junkan.jp")
    assay = _assay(
        session,
        escrap,
        f"SEW-CU-{month:%y%m}-07",
        "copper_scrap",
        today - timedelta(days=3),
        Decimal("24.5"),
        [
            ("cu_pct", "28.6", "0.5"),
            ("au_gpt", "84", "4"),
            ("ag_gpt", "410", "15"),
            ("pd_gpt", "31", "2"),
        ],
        lab=PCB_LAB,
        method="fire assay (Au, Ag, Pd); ICP-OES (Cu)",
        declared={"composition": "No.2 copper, mixed lots"},
    )
    _, birch = latest_published(session, "ISRI-BIRCH-CLIFF")
    anomaly = create_listing(
        session,
        escrap,
        ListingInput.model_validate(
            {
                "title": ANOMALY_TITLE,
                "material": "copper_scrap",
                "grade_version_id": birch.id,
                "monthly_t": "25",
                "min_t_per_contract": "25",
                "available_from": month,
                "max_term_months": 3,
                "origin_prefecture": "04",
                "origin_port": "Sendai-Shiogama",
                "incoterm": "FOB",
                "incoterm_place": "Sendai-Shiogama port",
                "fixed_price_jpy_per_t": 1_240_000,  # priced as No.2 copper: only the assay tells
                "assay_id": assay.id,
                "expires_on": add_months(month, 3),
            }
        ),
        today,
    )
    publish_listing(session, escrap, anomaly.id, today)

    # A draft black-mass listing to Korea without an export consent (publishing: 409).
    _, bm = latest_published(session, "BM-NCM-EU")
    blackmass = _actor(session, "blackmass@demo.junkan.jp")
    create_listing(
        session,
        blackmass,
        ListingInput.model_validate(
            {
                "title": BLACK_MASS_DRAFT_TITLE,
                "material": "li_ion_black_mass",
                "grade_version_id": bm.id,
                "monthly_t": "20",
                "min_t_per_contract": "20",
                "available_from": add_months(month, 1),
                "max_term_months": 6,
                "lat": 35.10,
                "lon": 129.04,
                "origin_port": "Busan",
                "incoterm": "CIF",
                "incoterm_place": "Busan New Port (CIF)",
                "fixed_price_jpy_per_t": 690_000,
                "delivery_country": "KR",
                "expires_on": add_months(month, 3),
            }
        ),
        today,
    )
    session.flush()
    return True


def black_mass_draft(session: Session) -> SupplyListing | None:
    """The demo's draft black-mass listing to Busan (its publish is refused)."""
    return session.exec(
        select(SupplyListing).where(SupplyListing.title == BLACK_MASS_DRAFT_TITLE)
    ).first()
