"""Test data of contract operations: active contracts written straight into the database (an
`OfftakeContract` with status active, `active_version` 1 and its `ContractTerms` row — the
contract between the lifecycle slice and the operations slice), and assays of copper lots."""

import json
from datetime import date
from decimal import Decimal

from factories import make_listing, make_request
from sqlmodel import Session

from contracts.models import ContractTerms, OfftakeContract
from participants.columns import utcnow
from participants.models import Organization
from quality.catalogue import latest_published
from quality.models import Assay, AssayResult

COPPER_INSPECTED = {
    "no_brass": True,
    "no_excess_oil": True,
    "no_insulation": True,
    "no_burnt_brittle_wire": True,
}


def copper_version(db: Session) -> int:
    return latest_published(db, "ISRI-BIRCH-CLIFF")[1].id


def make_active_contract(
    db: Session,
    seller: Organization,
    buyer: Organization,
    version_id: int,
    start: date = date(2027, 1, 1),
    term_months: int = 12,
    monthly_kg: int = 100_000,
    tolerance_pct: Decimal = Decimal("5"),
    material: str = "copper_scrap",
    status: str = "active",
) -> OfftakeContract:
    """An active (signed) contract of `seller` and `buyer` with its terms version 1."""
    listing = make_listing(
        db, seller, version_id, material_code=material, monthly_kg=max(monthly_kg, 100_000)
    )
    request = make_request(db, buyer, version_id, material_code=material)
    contract = OfftakeContract(
        status=status,
        seller_org_id=seller.id,
        buyer_org_id=buyer.id,
        listing_id=listing.id,
        request_id=request.id,
        material_code=material,
        reserved_kg=monthly_kg,
        filled_kg=monthly_kg,
        active_version=1 if status != "draft" else None,
        activated_at=utcnow() if status != "draft" else None,
    )
    db.add(contract)
    db.flush()
    db.add(
        ContractTerms(
            contract_id=contract.id,
            version=1,
            start_month=start,
            term_months=term_months,
            monthly_kg=monthly_kg,
            tolerance_pct=tolerance_pct,
            incoterm="FCA",
            incoterm_place="Saitama yard",
            standard_version_id=version_id,
            price_kind="fixed",
            fixed_price_jpy_per_t=1_200_000,
        )
    )
    db.commit()
    return contract


def make_copper_assay(
    db: Session,
    org: Organization,
    cu_pct: str = "96.1",
    uncertainty: str = "0.2",
    lab: str = "Japan Assay Centre",
    inspections: dict | None = None,
    material: str = "copper_scrap",
) -> Assay:
    """An assay of a copper lot of `org` (cu_pct ± uncertainty, inspected)."""
    assay = Assay(
        organization_id=org.id,
        lot_ref="LOT-1",
        material_code=material,
        lab_name=lab,
        lab_accredited=True,
        method="JIS H 1051",
        sampled_on=date(2027, 1, 10),
        reported_on=date(2027, 1, 12),
        evidence_json=json.dumps(
            {"inspections": COPPER_INSPECTED if inspections is None else inspections}
        ),
    )
    db.add(assay)
    db.flush()
    db.add(
        AssayResult(
            assay_id=assay.id,
            parameter="cu_pct",
            value=Decimal(cu_pct),
            uncertainty=Decimal(uncertainty),
        )
    )
    db.commit()
    return assay
