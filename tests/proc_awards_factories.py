"""Test data of the evaluation and award of tenders: an agency with its officer, suppliers,
tenders whose periods are set relative to now, bids with their evidence, certificates of a
chosen data-quality level, custody credits. Rows are written directly (the tender and bid
workflows are not needed to test what happens after the deadline)."""

import itertools
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from factories import as_actor, make_member, make_org
from sqlmodel import Session, select

from market.models import (
    Bid,
    BidEvidence,
    BidStatus,
    ProcurementCategory,
    Tender,
    TenderItem,
    TenderStatus,
)
from participants.actors import Actor
from participants.columns import utcnow
from participants.models import Member, Organization
from quality.custody import credit_delivery
from quality.models import (
    Assay,
    AssayResult,
    Certificate,
    GradeStandard,
    Material,
    StandardVersion,
)

MATERIAL = "mixed_polyolefins"
_seq = itertools.count(1)

# What a plastic lot needs for each data-quality level (DIN SPEC 91446 ladder).
LEVEL_DECLARED = {"polymer": "PP/PE", "source": "PCR", "form": "regrind", "colour": "mixed"}
LEVEL_PARAMETERS = {
    1: (),
    2: ("ash_pct", "mfr_g_10min", "moisture_pct"),
    3: ("ash_pct", "mfr_g_10min", "moisture_pct", "density_kg_m3", "bulk_density_kg_m3"),
    4: (
        "ash_pct",
        "mfr_g_10min",
        "moisture_pct",
        "density_kg_m3",
        "bulk_density_kg_m3",
        "hdt_c",
    ),
}


@dataclass
class Agency:
    org: Organization
    officer: Member
    db: Session

    @property
    def actor(self) -> Actor:
        return as_actor(self.db, self.officer)


@dataclass
class Supplier:
    org: Organization
    member: Member
    db: Session

    @property
    def actor(self) -> Actor:
        return as_actor(self.db, self.member)


def make_agency(db: Session, **fields) -> Agency:
    org = make_org(db, kind="agency", name_en=fields.pop("name_en", "City of Yokohama"), **fields)
    return Agency(org, make_member(db, org, roles="officer"), db)


def make_supplier(db: Session, name_en: str, kind: str = "manufacturer", **fields) -> Supplier:
    org = make_org(db, kind=kind, name_en=name_en, name_ja=fields.pop("name_ja", name_en), **fields)
    return Supplier(org, make_member(db, org, roles="admin trader signatory"), db)


def make_category(db: Session) -> ProcurementCategory:
    category = db.exec(
        select(ProcurementCategory).where(ProcurementCategory.code == "test_park_benches")
    ).first()
    if category is None:
        category = ProcurementCategory(
            code="test_park_benches",
            name_en="Park benches",
            name_ja="公園ベンチ",
            material_en="plastic",
            material_ja="プラスチック",
            stream="mixed_plastics",
            classification_scheme="UNSPSC",
            classification_id="56101600",
            classification_description="Outdoor furniture",
            unit="piece",
            min_post_consumer_pct=Decimal(90),
            min_total_pct=Decimal(95),
            source="test",
        )
        db.add(category)
        db.commit()
    return category


def make_tender(
    db: Session,
    agency: Agency,
    *,
    closed: bool = True,
    status: str = TenderStatus.ACTIVE,
    min_post_consumer: str = "50",
    min_total: str = "80",
    requires_certificate: bool = True,
    weights: tuple[int, int, int] = (50, 40, 10),
    budget_jpy: int = 2_500_000,
    items: tuple[tuple[int, str], ...] = ((40, "piece"),),
    standstill_days: int = 10,
    ended_ago: timedelta = timedelta(hours=1),
) -> Tender:
    """A published tender of park benches; `closed`: its tender period ended `ended_ago`."""
    now = utcnow()
    end = now - ended_ago if closed else now + timedelta(days=7)
    tender = Tender(
        organization_id=agency.org.id,
        created_by_member_id=agency.officer.id,
        status=status,
        title_en="Recycled-plastic park benches",
        title_ja="再生プラスチック製公園ベンチ",
        category_id=make_category(db).id,
        min_post_consumer_pct=Decimal(min_post_consumer),
        min_total_pct=Decimal(min_total),
        requires_certificate=requires_certificate,
        weight_price=weights[0],
        weight_recycled=weights[1],
        weight_evidence=weights[2],
        budget_jpy=budget_jpy,
        enquiry_start=end - timedelta(days=30),
        enquiry_end=end - timedelta(days=20),
        tender_start=end - timedelta(days=20),
        tender_end=end,
        standstill_days=standstill_days,
        published_at=end - timedelta(days=30),
    )
    db.add(tender)
    db.flush()
    for position, (quantity, unit) in enumerate(items, start=1):
        db.add(
            TenderItem(
                tender_id=tender.id,
                position=position,
                description_en=f"Bench type {position}",
                description_ja=f"ベンチ{position}型",
                quantity=quantity,
                unit=unit,
            )
        )
    db.commit()
    return tender


def make_bid(
    db: Session,
    tender: Tender,
    supplier: Supplier,
    price_jpy: int,
    *,
    post_consumer: str = "90",
    total: str = "95",
    mass_kg: int = 2_000,
    certificates: tuple[Certificate, ...] = (),
    status: str = BidStatus.SUBMITTED,
    submitted_at: datetime | None = None,
    delivery_date: date = date(2027, 6, 30),
    material: str = MATERIAL,
) -> Bid:
    bid = Bid(
        tender_id=tender.id,
        organization_id=supplier.org.id,
        submitted_by_member_id=supplier.member.id,
        status=status,
        price_jpy=price_jpy,
        delivery_date=delivery_date,
        material_code=material,
        product_mass_kg=mass_kg,
        post_consumer_pct=Decimal(post_consumer),
        total_recycled_pct=Decimal(total),
        submitted_at=submitted_at or tender.tender_end - timedelta(days=1),
    )
    db.add(bid)
    db.flush()
    for cert in certificates:
        db.add(BidEvidence(bid_id=bid.id, certificate_id=cert.id))
    db.commit()
    return bid


def credit(db: Session, supplier: Supplier, kg: int, material: str = MATERIAL) -> None:
    """Credit the supplier's custody balance with `kg` recycled kilograms (a delivery of the
    same net mass at 100 percent recycled share)."""
    credit_delivery(
        db,
        organization_id=supplier.org.id,
        material_code=material,
        delivery_id=900_000 + next(_seq),
        net_kg=kg,
    )
    db.commit()


def _version(db: Session) -> StandardVersion:
    if db.exec(select(Material).where(Material.code == MATERIAL)).first() is None:
        db.add(
            Material(code=MATERIAL, family="plastic", name_en="Mixed polyolefins", name_ja="混合PO")
        )
    standard = db.exec(select(GradeStandard).where(GradeStandard.code == "TEST-MPO")).first()
    if standard is None:
        standard = GradeStandard(
            code="TEST-MPO", material_code=MATERIAL, name_en="Mixed PO", name_ja="混合PO"
        )
        db.add(standard)
        db.flush()
        db.add(
            StandardVersion(
                standard_id=standard.id,
                number=1,
                status="published",
                spec_json='{"limits": [], "requirements": [], "derived": []}',
            )
        )
        db.flush()
    return db.exec(select(StandardVersion).where(StandardVersion.standard_id == standard.id)).one()


def make_certificate(db: Session, supplier: Supplier, level: int) -> Certificate:
    """A certificate issued by the supplier for a lot of data-quality `level` (1–4)."""
    version = _version(db)
    n = next(_seq)
    evidence: dict = {"declared": LEVEL_DECLARED}
    if level >= 4:
        evidence["identification_method"] = "IR"
    assay = Assay(
        organization_id=supplier.org.id,
        lot_ref=f"LOT-{n}",
        material_code=MATERIAL,
        lab_name="Test Lab",
        sampled_on=date(2026, 10, 1),
        reported_on=date(2026, 10, 3),
        evidence_json=json.dumps(evidence),
    )
    db.add(assay)
    db.flush()
    for parameter in LEVEL_PARAMETERS[level]:
        db.add(AssayResult(assay_id=assay.id, parameter=parameter, value=Decimal(1)))
    cert = Certificate(
        id=f"JK-TEST-{n:06d}",
        assay_id=assay.id,
        version_id=version.id,
        issuer_org_id=supplier.org.id,
        content_json="{}",
        sha256="0" * 64,
    )
    db.add(cert)
    db.commit()
    return cert
