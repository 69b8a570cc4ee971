"""Test data of tenders, enquiries and bids: a category, an agency with its officer, tenders
written straight into the database with their periods placed around now (no sleeps), quality
certificates and chain-of-custody credits of a bidder."""

import itertools
import json
from datetime import date, datetime, timedelta
from decimal import Decimal

from factories import make_member, make_org
from sqlmodel import Session

from market.categories import get_category
from market.models import Bid, BidEvidence, ProcurementCategory, Tender, TenderItem
from market.tenders import TOKYO
from participants.columns import utcnow
from participants.models import Organization
from quality.catalogue import latest_published, seed_catalogue
from quality.custody import credit_delivery
from quality.models import Assay, Certificate

_seq = itertools.count(1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def make_category(db: Session, **fields) -> ProcurementCategory:
    """A park-bench category recommending 90 percent post-consumer, 95 percent total."""
    n = next(_seq)
    values = dict(
        code=f"park_bench_{n}",
        name_en="Park benches (plastic lumber)",
        name_ja="公園ベンチ（再生プラスチック材）",
        material_en="plastic",
        material_ja="プラスチック",
        stream="mixed_plastics",
        classification_scheme="UNSPSC",
        classification_id="56101504",
        classification_description="Benches",
        unit="piece",
        min_post_consumer_pct=Decimal("90"),
        min_total_pct=Decimal("95"),
        source="US EPA CPG, park and recreation products",
    )
    category = ProcurementCategory(**(values | fields))
    db.add(category)
    db.commit()
    return get_category(db, category.id)


def make_agency(db: Session, **fields) -> Organization:
    return make_org(db, kind="agency", **fields)


def make_officer(db: Session, agency: Organization | None = None, **fields):
    return make_member(db, agency or make_agency(db), roles="officer", **fields)


PHASES = {
    # phase → (enquiry_start, enquiry_end, tender_start, tender_end) relative to now
    "upcoming": (DAY, 5 * DAY, 6 * DAY, 20 * DAY),
    "enquiries": (-DAY, 5 * DAY, 6 * DAY, 20 * DAY),
    "awaiting_tenders": (-5 * DAY, -DAY, DAY, 20 * DAY),
    "tendering": (-10 * DAY, -5 * DAY, -DAY, 10 * DAY),
    "closed": (-20 * DAY, -15 * DAY, -10 * DAY, -HOUR),
}


def periods(phase: str, now: datetime | None = None) -> dict:
    now = now or utcnow()
    es, ee, ts, te = PHASES[phase]
    return dict(
        enquiry_start=now + es, enquiry_end=now + ee, tender_start=now + ts, tender_end=now + te
    )


def make_tender(
    db: Session,
    agency: Organization,
    category: ProcurementCategory,
    phase: str = "tendering",
    status: str = "active",
    items: int = 2,
    **fields,
) -> Tender:
    """A tender of `agency` whose periods put it in `phase` now (status active unless told)."""
    values = dict(
        organization_id=agency.id,
        status=status,
        title_en="Recycled-plastic park benches",
        title_ja="再生プラスチック製公園ベンチ",
        description_en="Benches for city parks.",
        description_ja="市内公園用ベンチ",
        category_id=category.id,
        min_post_consumer_pct=Decimal("90"),
        min_total_pct=Decimal("95"),
        requires_certificate=False,
        budget_jpy=12_000_000,
        published_at=None if status == "planning" else utcnow() - 11 * DAY,
        **periods(phase),
    )
    tender = Tender(**(values | fields))
    db.add(tender)
    db.flush()
    for n in range(items):
        db.add(
            TenderItem(
                tender_id=tender.id,
                position=n + 1,
                description_en=f"Bench type {n + 1}",
                description_ja=f"ベンチ {n + 1} 型",
                quantity=40,
                unit="piece",
            )
        )
    db.commit()
    return tender


def tokyo(value: datetime) -> str:
    """A UTC datetime as a form or API value in Japan time ("2027-04-01T09:00")."""
    return value.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M")


def tender_body(category_id: int, phase: str = "upcoming", **fields) -> dict:
    """An API body of a tender whose periods lie ahead (from `phase`), in Japan time."""
    p = periods(phase)
    body = {
        "title_en": "Recycled-plastic park benches",
        "title_ja": "再生プラスチック製公園ベンチ",
        "description_en": "Benches for city parks.",
        "description_ja": "市内公園用ベンチ",
        "category_id": category_id,
        "items": [
            {
                "description_en": "Bench, 1.8 m",
                "description_ja": "ベンチ 1.8 m",
                "quantity": 40,
                "unit": "piece",
            }
        ],
        "min_post_consumer_pct": "90",
        "min_total_pct": "95",
        "requires_certificate": True,
        "weight_price": 50,
        "weight_recycled": 40,
        "weight_evidence": 10,
        "standstill_days": 10,
        "budget_jpy": 12_000_000,
        **{k: tokyo(v) for k, v in p.items()},
    }
    return body | fields


def tender_form(category_id: int, phase: str = "upcoming", **fields) -> dict:
    """The same tender as the page form's fields (one item row)."""
    body = tender_body(category_id, phase)
    item = body.pop("items")[0]
    form = {k: str(v) for k, v in body.items() if k != "requires_certificate"}
    form["requires_certificate"] = "y"
    form |= {f"items-0-{k}": str(v) for k, v in item.items()}
    return form | fields


def seeded(db: Session) -> None:
    """The quality catalogue (materials), once per test database state."""
    seed_catalogue(db)
    db.commit()


def credit(db: Session, org: Organization, kg: int, material: str = "hdpe", assay_id=None):
    """Credit `kg` recycled kilograms of `material` to the organisation's ledger."""
    entry = credit_delivery(
        db,
        organization_id=org.id,
        material_code=material,
        delivery_id=900_000 + next(_seq),
        net_kg=kg,
        assay_id=assay_id,
    )
    db.commit()
    return entry


def make_certificate(db: Session, org: Organization, material: str = "hdpe") -> Certificate:
    """A certificate issued by `org` on an assay of its own lot of `material`."""
    n = next(_seq)
    assay = Assay(
        organization_id=org.id,
        lot_ref=f"LOT-T{n}",
        material_code=material,
        lab_name="Japan Assay Centre",
        sampled_on=date(2027, 1, 10),
        reported_on=date(2027, 1, 12),
    )
    db.add(assay)
    db.flush()
    version_id = latest_published(db, "HDPE-NAT-B")[1].id
    cert = Certificate(
        id=f"JK-C-{n:06d}",
        assay_id=assay.id,
        version_id=version_id,
        issuer_org_id=org.id,
        content_json=json.dumps({"lot": assay.lot_ref}),
        sha256="0" * 64,
    )
    db.add(cert)
    db.commit()
    return cert


def bid_body(tender: Tender, **fields) -> dict:
    """An API body of a bid: ¥9,800,000, 4,000 kg of goods at 95 percent (3,800 kg of hdpe)."""
    delivery = tender.tender_end.astimezone(TOKYO).date() + timedelta(days=30)
    body = {
        "price_jpy": 9_800_000,
        "delivery_date": delivery.isoformat(),
        "material_code": "hdpe",
        "product_mass_kg": 4_000,
        "post_consumer_pct": "92",
        "total_recycled_pct": "95",
        "certificate_ids": [],
        "note": "Delivery in two lots.",
    }
    return body | fields


def bid_form(tender: Tender, **fields) -> dict:
    body = bid_body(tender)
    certificates = body.pop("certificate_ids")
    form = {k: str(v) for k, v in body.items()}
    form["certificate_ids"] = " ".join(certificates)
    return form | fields


def make_bid(db: Session, tender: Tender, org: Organization, status: str = "submitted", **fields):
    """A bid written straight into the database (its receipt computed like a real one)."""
    from market.bids import bid_sha256

    values = dict(
        tender_id=tender.id,
        organization_id=org.id,
        status=status,
        price_jpy=9_800_000,
        delivery_date=tender.tender_end.date() + timedelta(days=30),
        material_code="hdpe",
        product_mass_kg=4_000,
        post_consumer_pct=Decimal("92"),
        total_recycled_pct=Decimal("95"),
        note="Sealed note 7f3a",
        updated_at=utcnow().replace(microsecond=0),
    )
    certificates = fields.pop("certificates", [])
    bid = Bid(**(values | fields))
    bid.content_sha256 = bid_sha256(bid, [c.id for c in certificates])
    db.add(bid)
    db.flush()
    for cert in certificates:
        db.add(BidEvidence(bid_id=bid.id, certificate_id=cert.id))
    db.commit()
    return bid
