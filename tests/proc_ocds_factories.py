"""Test data for OCDS publication and green-purchasing reports: procurement rows created
directly (categories, tenders and items, enquiries, bids, awards, contracts, purchase orders),
and the validators of the official OCDS 1.1.5 schemas.

The schemas are the ones in the project's shared data folder (`shared/data/ocds/`), a sibling
of the repository (or of a folder above it, for a git worktree); JUNKAN_SHARED_DATA names
another `data` folder. The package schema refers to the release schema by its canonical URL:
it is resolved from the local file through a `referencing` registry, never over the network.
"""

import itertools
import json
import os
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from sqlmodel import Session

from market.models import (
    Award,
    Bid,
    Enquiry,
    ProcurementCategory,
    ProcurementContract,
    PurchaseOrder,
    Tender,
    TenderItem,
)
from quality.custody import claim_kg

_seq = itertools.count(1)
ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)  # the tests' clock: tender periods hang off it


# ---------------------------------------------------------------------------------------------
# The official schemas


VENDORED_DATA = Path(__file__).resolve().parent / "data"


def shared_data_dir() -> Path:
    """The shared data folder: $JUNKAN_SHARED_DATA, else `shared/data` beside the repository
    or beside one of the folders above it (a worktree may sit deeper than the main checkout)."""
    named = os.environ.get("JUNKAN_SHARED_DATA")
    candidates = [Path(named)] if named else []
    candidates += [folder / "shared" / "data" for folder in ROOT.parents]
    candidates.append(VENDORED_DATA)  # a byte-identical copy, for a checkout without ../shared
    for folder in candidates:
        if (folder / "ocds" / "release-schema.json").is_file():
            return folder
    raise FileNotFoundError(
        "The OCDS schemas (shared/data/ocds/release-schema.json) were not found beside the "
        f"repository ({ROOT}); set JUNKAN_SHARED_DATA to the shared data folder."
    )


def _schema(name: str) -> dict:
    return json.loads((shared_data_dir() / "ocds" / name).read_text(encoding="utf-8"))


FORMATS = FormatChecker()


@FORMATS.checks("uri", raises=ValueError)
def _is_uri(value: object) -> bool:
    # jsonschema checks "uri" only with the optional rfc3987 package: an absolute URL here.
    if not isinstance(value, str):
        return True
    parts = urlparse(value)
    return bool(parts.scheme and parts.netloc)


@cache
def validators() -> tuple[Draft4Validator, Draft4Validator]:
    """(release validator, release package validator), draft-04 with format checks; the
    package schema's reference to the release schema resolves to the local file."""
    release_schema = _schema("release-schema.json")
    package_schema = _schema("release-package-schema.json")
    resource = Resource.from_contents(release_schema, default_specification=DRAFT4)
    registry = Registry().with_resource(release_schema["id"], resource)
    return (
        Draft4Validator(release_schema, format_checker=FORMATS),
        Draft4Validator(package_schema, registry=registry, format_checker=FORMATS),
    )


def schema_errors(document: dict, package: bool = False) -> list[str]:
    """Every error of a release (or a release package) against the official schema."""
    validator = validators()[1 if package else 0]
    return [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
        for e in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]


# ---------------------------------------------------------------------------------------------
# Rows


def make_category(db: Session, **fields) -> ProcurementCategory:
    """Park benches of recycled plastic (UNSPSC 56101500), minimum 90 percent post-consumer and
    100 percent total (US EPA CPG)."""
    n = next(_seq)
    values = dict(
        code=f"benches-{n}",
        name_en="Park benches, picnic tables (plastic)",
        name_ja="公園ベンチ・ピクニックテーブル（プラスチック）",
        material_en="plastic",
        material_ja="プラスチック",
        stream="mixed_plastics",
        classification_scheme="UNSPSC",
        classification_id="56101500",
        classification_description="Furniture",
        unit="piece",
        min_post_consumer_pct=Decimal("90"),
        min_total_pct=Decimal("100"),
        source="US EPA CPG/RMAN (40 CFR 247)",
    )
    category = ProcurementCategory(**(values | fields))
    db.add(category)
    db.commit()
    return category


def make_tender(db: Session, agency, category, status: str = "active", **fields) -> Tender:
    """A tender for 20 park benches: enquiries from T0 for 10 days, bids from T0 to T0+20 days,
    budget ¥4,000,000; published at T0 unless still planning."""
    values = dict(
        organization_id=agency.id,
        status=status,
        title_en="Recycled-plastic park benches",
        title_ja="再生プラスチック製公園ベンチ",
        description_en="Benches for the city parks.",
        description_ja="市内公園用のベンチ。",
        category_id=category.id,
        min_post_consumer_pct=Decimal("90"),
        min_total_pct=Decimal("100"),
        weight_price=50,
        weight_recycled=40,
        weight_evidence=10,
        budget_jpy=4_000_000,
        enquiry_start=T0,
        enquiry_end=T0 + timedelta(days=10),
        tender_start=T0,
        tender_end=T0 + timedelta(days=20),
        published_at=None if status == "planning" else T0,
    )
    items = fields.pop("items", [("Park bench, 1.8 m", "公園ベンチ 1.8m", 20, "piece")])
    tender = Tender(**(values | fields))
    db.add(tender)
    db.flush()
    for position, (en, ja, quantity, unit) in enumerate(items, start=1):
        db.add(
            TenderItem(
                tender_id=tender.id,
                position=position,
                description_en=en,
                description_ja=ja,
                quantity=quantity,
                unit=unit,
            )
        )
    db.commit()
    return tender


def make_enquiry(db: Session, tender: Tender, org, **fields) -> Enquiry:
    values = dict(
        tender_id=tender.id,
        asked_by_org_id=org.id,
        question="May the benches be delivered in two lots?",
        asked_at=T0 + timedelta(days=1),
    )
    enquiry = Enquiry(**(values | fields))
    db.add(enquiry)
    db.commit()
    return enquiry


def make_bid(db: Session, tender: Tender, org, status: str = "submitted", **fields) -> Bid:
    """A bid of ¥3,600,000 for 1,700 kg of benches, 95 percent post-consumer, 100 total."""
    values = dict(
        tender_id=tender.id,
        organization_id=org.id,
        status=status,
        price_jpy=3_600_000,
        delivery_date=date(2026, 9, 30),
        material_code="mixed_plastics",
        product_mass_kg=1_700,
        post_consumer_pct=Decimal("95"),
        total_recycled_pct=Decimal("100"),
        content_sha256="0" * 64,
        submitted_at=T0 + timedelta(days=2),
    )
    bid = Bid(**(values | fields))
    db.add(bid)
    db.commit()
    return bid


def make_award(db: Session, tender: Tender, bid: Bid, status: str = "pending", **fields) -> Award:
    values = dict(
        tender_id=tender.id,
        bid_id=bid.id,
        supplier_org_id=bid.organization_id,
        status=status,
        value_jpy=bid.price_jpy,
        justification="Highest score: lowest price with 95 percent post-consumer content.",
        decided_at=T0 + timedelta(days=22),
        standstill_until=T0 + timedelta(days=32),
    )
    award = Award(**(values | fields))
    db.add(award)
    db.commit()
    return award


def make_contract(db: Session, tender: Tender, award: Award, **fields) -> ProcurementContract:
    values = dict(
        tender_id=tender.id,
        award_id=award.id,
        buyer_org_id=tender.organization_id,
        supplier_org_id=award.supplier_org_id,
        value_jpy=award.value_jpy,
        signed_at=T0 + timedelta(days=33),
        delivery_due=date(2026, 9, 30),
    )
    contract = ProcurementContract(**(values | fields))
    db.add(contract)
    db.commit()
    return contract


def make_order(
    db: Session,
    buyer,
    supplier,
    category,
    ordered_on: date,
    mass_kg: int,
    post_consumer_pct: str,
    total_pct: str,
    subtotal_jpy: int,
    source: str = "direct",
    status: str = "ordered",
    **fields,
) -> PurchaseOrder:
    """A purchase order; its recycled kilograms are the claim (mass × total, rounded up) and its
    total adds 10 percent consumption tax."""
    n = next(_seq)
    values = dict(
        number=f"PO-{ordered_on.year}-{n:06d}",
        source=source,
        status=status,
        buyer_org_id=buyer.id,
        supplier_org_id=supplier.id,
        category_id=category.id,
        description=f"Order {n}",
        quantity=10,
        unit="piece",
        unit_price_jpy=subtotal_jpy // 10,
        subtotal_jpy=subtotal_jpy,
        total_jpy=subtotal_jpy + subtotal_jpy // 10,
        material_code="mixed_plastics",
        product_mass_kg=mass_kg,
        recycled_kg=claim_kg(mass_kg, Decimal(total_pct)),
        post_consumer_pct=Decimal(post_consumer_pct),
        total_recycled_pct=Decimal(total_pct),
        delivery_due=ordered_on + timedelta(days=30),
        ordered_on=ordered_on,
    )
    order = PurchaseOrder(**(values | fields))
    db.add(order)
    db.commit()
    return order
