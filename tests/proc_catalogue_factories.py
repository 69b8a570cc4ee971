"""Test data of the recycled-product catalogue and direct purchases: categories (the seed data
belongs to the categories work), chain-of-custody balances, certificates, products.

The example product is a clear file of recycled polypropylene: 0.050 kg a file, 40 % post-
consumer and 70 % recycled in total, ¥480 a file (tax excluded), delivered in 14 days. One
file claims 0.035 kg of recycled PP; 120 files (6 kg) claim ceil(4.2) = 5 kg and cost ¥57,600
+ tax ¥5,760 = ¥63,360.
"""

import itertools
from datetime import date
from decimal import Decimal

from sqlmodel import Session

from market.models import CatalogueProduct, ProcurementCategory, ProductEvidence
from participants.models import Organization
from quality.catalogue import latest_published
from quality.custody import credit_delivery
from quality.models import Assay, Certificate

_seq = itertools.count(1)

FILE = {
    "name_ja": "再生PPクリアファイル A4",
    "name_en": "Recycled-PP clear file A4",
    "description_ja": "使用済みPPを40%含むクリアファイル。",
    "description_en": "A clear file with 40 percent post-consumer PP.",
    "unit": "piece",
    "unit_price_jpy": 480,
    "lead_time_days": 14,
    "unit_mass_kg": "0.050",
    "material": "pp",
    "post_consumer_pct": "40",
    "total_recycled_pct": "70",
}


def make_category(
    db: Session,
    code: str | None = None,
    min_post_consumer_pct: Decimal | None = None,
    min_total_pct: Decimal | None = Decimal("40"),
    source: str = "Green Purchasing Act, stationery (common criterion)",
    **fields,
) -> ProcurementCategory:
    """A category (stationery by default: total recycled plastic at least 40 %)."""
    n = next(_seq)
    category = ProcurementCategory(
        code=code or f"TEST-STATIONERY-{n}",
        name_en=fields.pop("name_en", f"Stationery {n}"),
        name_ja=fields.pop("name_ja", f"文具類{n}"),
        classification_scheme=fields.pop("classification_scheme", "UNSPSC"),
        classification_id=fields.pop("classification_id", "44122000"),
        classification_description=fields.pop("classification_description", "Folders"),
        min_post_consumer_pct=min_post_consumer_pct,
        min_total_pct=min_total_pct,
        source=source,
        **fields,
    )
    db.add(category)
    db.commit()
    return category


def give_custody(db: Session, org: Organization, kg: int, material: str = "pp") -> None:
    """Credit `kg` recycled kilograms of `material` to the organisation's ledger (as if an
    accepted delivery of 100 % recycled input had arrived)."""
    credit_delivery(
        db,
        organization_id=org.id,
        material_code=material,
        delivery_id=900_000 + next(_seq),
        net_kg=kg,
    )
    db.commit()


def make_certificate(db: Session, org: Organization, material: str = "pp") -> Certificate:
    """A certificate the organisation issued for an assay of its own (needs seed_catalogue)."""
    n = next(_seq)
    assay = Assay(
        organization_id=org.id,
        lot_ref=f"LOT-{n}",
        material_code=material,
        lab_name="Japan Assay Centre",
        sampled_on=date(2027, 1, 10),
        reported_on=date(2027, 1, 12),
    )
    db.add(assay)
    db.flush()
    cert = Certificate(
        id=f"JKC-T{n:06d}",
        assay_id=assay.id,
        version_id=latest_published(db, "HDPE-NAT-B")[1].id,
        issuer_org_id=org.id,
        content_json="{}",
        sha256="0" * 64,
    )
    db.add(cert)
    db.commit()
    return cert


def make_product(
    db: Session,
    org: Organization,
    category: ProcurementCategory,
    certificates: list[Certificate] = (),
    **fields,
) -> CatalogueProduct:
    """The clear file of `org` (fields override), written straight into the database."""
    values = {
        "organization_id": org.id,
        "category_id": category.id,
        "name_ja": FILE["name_ja"],
        "name_en": FILE["name_en"],
        "description_ja": FILE["description_ja"],
        "description_en": FILE["description_en"],
        "unit": "piece",
        "unit_price_jpy": 480,
        "lead_time_days": 14,
        "unit_mass_kg": Decimal("0.050"),
        "material_code": "pp",
        "post_consumer_pct": Decimal("40"),
        "total_recycled_pct": Decimal("70"),
    }
    product = CatalogueProduct(**(values | fields))
    db.add(product)
    db.flush()
    for cert in certificates:
        db.add(ProductEvidence(product_id=product.id, certificate_id=cert.id))
    db.commit()
    return product
