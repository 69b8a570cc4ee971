"""The operator's export watch over critical scrap: anomalies (a material declared as one thing
whose evidence shows another; a critical listing priced far below its grade's market) and
movement records whose consent is about to expire.

Anomalies, with their thresholds:
- `material_mismatch`: an open listing, or an active movement record, whose assay (or the
  assay behind its certificate) is of another material; or whose assay carries parameters
  *characteristic* of another critical material — parameters the published grade standards of
  that material limit and no published standard of the declared material does (e.g. "copper
  scrap" whose assay reports cobalt and lithium, limited only by the black-mass standards).
- `price_below_market`: an open listing of a critical material whose current price (the fixed
  price, or its index formula at the latest index value) is below `WATCH_PRICE_FLOOR_PCT`
  percent (default 70) of the reference for its grade standard: the median current price of
  the other open listings and the active contracts of that standard, or — when there are none —
  the latest value of the material's price index (× 1).

Contracts sit a floor above this package: their prices come in as `contract_prices`
(`contracts.watch` supplies them; flows over contracts live there too). Operator only
(`OPERATE_MARKETPLACE`). Every list is built with a fixed number of queries.
"""

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from statistics import median
from typing import Any

from sqlmodel import Session, col, select

from market.indices import evaluate, formula_of, latest_values
from market.models import (
    ListingStatus,
    MovementRecord,
    MovementRecordStatus,
    PriceIndex,
    SupplyListing,
)
from participants.actors import OPERATE_MARKETPLACE, Actor
from participants.columns import tokyo_today
from participants.errors import N_
from participants.models import Organization
from quality.models import Assay, AssayResult, Certificate, GradeStandard, Material, StandardVersion

WATCH_PRICE_FLOOR_PCT = 70  # percent of the grade's market price; a setting of the web app
EXPIRY_WINDOWS = (30, 90)  # days: the watch page's and the reminder job's windows

MATERIAL_MISMATCH = "material_mismatch"
PRICE_BELOW_MARKET = "price_below_market"


@dataclass(frozen=True)
class Anomaly:
    """One finding of the watch: what was declared and what the evidence or the market shows."""

    kind: str  # MATERIAL_MISMATCH or PRICE_BELOW_MARKET
    subject: str  # "listing" or "movement_record"
    subject_id: int
    organization_id: int
    organization: str
    material: str  # the declared material
    declared: str
    shown: str
    message: str  # untranslated, with %(name)s params
    params: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Characteristic parameters


def _spec_parameters(spec_json: str) -> set[str]:
    spec = json.loads(spec_json)
    found = {limit["parameter"] for limit in spec.get("limits", [])}
    for derived in spec.get("derived", []):
        found.add(derived.get("code", ""))
        found.update(derived.get("sum_of", []))
    return {p for p in found if p}


def parameters_by_material(session: Session) -> dict[str, set[str]]:
    """The parameters the latest published version of each material's standards limit (two
    queries)."""
    rows = session.exec(
        select(GradeStandard.id, GradeStandard.material_code, StandardVersion.number,
               StandardVersion.spec_json)
        .join(StandardVersion, StandardVersion.standard_id == GradeStandard.id)
        .where(StandardVersion.status == "published")
        .order_by(GradeStandard.id, StandardVersion.number)
    ).all()  # fmt: skip
    latest: dict[int, tuple[str, str]] = {}
    for standard_id, material, _number, spec_json in rows:
        latest[standard_id] = (material, spec_json)  # ordered by number: the last one wins
    found: dict[str, set[str]] = {}
    for material, spec_json in latest.values():
        found.setdefault(material, set()).update(_spec_parameters(spec_json))
    return found


def characteristic_parameters(
    by_material: dict[str, set[str]], declared: str, critical: set[str]
) -> dict[str, set[str]]:
    """For each critical material other than `declared`: the parameters its standards use and
    no standard of `declared` does."""
    own = by_material.get(declared, set())
    return {
        other: params - own
        for other, params in by_material.items()
        if other != declared and other in critical and params - own
    }


def shown_material(
    by_material: dict[str, set[str]], declared: str, critical: set[str], reported: set[str]
) -> tuple[str, list[str]] | None:
    """The critical material an assay's reported parameters point to instead of `declared`
    (the one with most characteristic parameters reported), with those parameters; or None."""
    best: tuple[str, list[str]] | None = None
    for other, params in sorted(characteristic_parameters(by_material, declared, critical).items()):
        hits = sorted(params & reported)
        if hits and (best is None or len(hits) > len(best[1])):
            best = (other, hits)
    return best


# ---------------------------------------------------------------------------------------------
# Anomalies


MISMATCH_OF_ASSAY = N_(
    "Declared as %(declared)s, but its %(evidence)s is of %(shown)s."
)  # fmt: skip
MISMATCH_OF_PARAMETERS = N_(
    "Declared as %(declared)s, but its %(evidence)s reports %(parameters)s, which only the "
    "standards of %(shown)s limit."
)
PRICE_BELOW = N_(
    "Priced at ¥%(price)s/t, %(share)s percent of the ¥%(reference)s/t market of grade "
    "%(grade)s (%(basis)s); the watch flags below %(floor)s percent."
)


def _evidence(session: Session, items: list) -> tuple[dict, dict, dict[int, set[str]]]:
    """Certificates by id, assays by id, reported parameters by assay id (three queries)."""
    cert_ids = {x.certificate_id for x in items if x.certificate_id}
    certs = (
        {
            c.id: c
            for c in session.exec(select(Certificate).where(col(Certificate.id).in_(cert_ids)))
        }
        if cert_ids
        else {}
    )
    assay_ids = {getattr(x, "assay_id", None) for x in items} | {c.assay_id for c in certs.values()}
    assay_ids.discard(None)
    assays = (
        {a.id: a for a in session.exec(select(Assay).where(col(Assay.id).in_(assay_ids)))}
        if assay_ids
        else {}
    )
    reported: dict[int, set[str]] = {}
    if assay_ids:
        for assay_id, parameter in session.exec(
            select(AssayResult.assay_id, AssayResult.parameter).where(
                col(AssayResult.assay_id).in_(assay_ids)
            )
        ):
            reported.setdefault(assay_id, set()).add(parameter)
    return certs, assays, reported


def _mismatches(
    session: Session,
    subject: str,
    items: list,
    orgs: dict[int, Organization],
    by_material: dict[str, set[str]],
    critical: set[str],
) -> list[Anomaly]:
    certs, assays, reported = _evidence(session, items)
    found: list[Anomaly] = []
    for x in items:
        declared = x.material_code
        evidence: list[tuple[str, Assay]] = []
        assay_id = getattr(x, "assay_id", None)
        if assay_id and assay_id in assays:
            evidence.append((f"assay {assay_id}", assays[assay_id]))
        cert = certs.get(x.certificate_id) if x.certificate_id else None
        if cert is not None and cert.assay_id in assays:
            evidence.append((f"certificate {cert.id}", assays[cert.assay_id]))
        org = orgs[x.organization_id]
        base = dict(
            subject=subject,
            subject_id=x.id,
            organization_id=org.id,
            organization=org.name_en,
            material=declared,
            declared=declared,
        )
        for label, assay in evidence:
            if assay.material_code != declared:
                found.append(
                    Anomaly(
                        kind=MATERIAL_MISMATCH,
                        shown=assay.material_code,
                        message=MISMATCH_OF_ASSAY,
                        params={
                            "declared": declared,
                            "evidence": label,
                            "shown": assay.material_code,
                        },
                        figures={"assay_id": assay.id},
                        **base,
                    )
                )
                break
            hit = shown_material(by_material, declared, critical, reported.get(assay.id, set()))
            if hit is not None:
                shown, parameters = hit
                found.append(
                    Anomaly(
                        kind=MATERIAL_MISMATCH,
                        shown=shown,
                        message=MISMATCH_OF_PARAMETERS,
                        params={
                            "declared": declared,
                            "evidence": label,
                            "shown": shown,
                            "parameters": ", ".join(parameters),
                        },
                        figures={"assay_id": assay.id, "parameters": parameters},
                        **base,
                    )
                )
                break
    return found


def current_prices(session: Session, listings: list[SupplyListing], today: date) -> dict[int, int]:
    """Each listing's price this month (fixed, or its formula at the latest index value)."""
    values = latest_values(session, {x.index_id for x in listings if x.index_id}, today)
    prices = {}
    for x in listings:
        price = evaluate(formula_of(x), values.get(x.index_id) if x.index_id else None)
        if price is not None:
            prices[x.id] = price
    return prices


def _below_market(
    session: Session,
    listings: list[SupplyListing],
    orgs: dict[int, Organization],
    critical: set[str],
    today: date,
    floor_pct: int,
    contract_prices: dict[int, list[int]],
) -> list[Anomaly]:
    prices = current_prices(session, listings, today)
    version_ids = {x.standard_version_id for x in listings}
    standard_of: dict[int, tuple[int, str]] = {}
    if version_ids:
        for vid, sid, code in session.exec(
            select(StandardVersion.id, GradeStandard.id, GradeStandard.code)
            .join(GradeStandard, GradeStandard.id == StandardVersion.standard_id)
            .where(col(StandardVersion.id).in_(version_ids))
        ):
            standard_of[vid] = (sid, code)
    by_standard: dict[int, list[tuple[int, int]]] = {}
    for x in listings:
        if x.id in prices:
            by_standard.setdefault(standard_of[x.standard_version_id][0], []).append(
                (x.id, prices[x.id])
            )
    watched = [x for x in listings if x.material_code in critical and x.id in prices]
    # The materials' own indices: the fallback reference.
    index_rows = session.exec(
        select(PriceIndex.id, PriceIndex.material_code).where(
            col(PriceIndex.material_code).in_({x.material_code for x in watched} or {""})
        )
    ).all()
    index_values = latest_values(session, {i for i, _ in index_rows}, today)
    index_of_material: dict[str, int] = {}
    for index_id, material in sorted(index_rows):
        if index_id in index_values:
            index_of_material.setdefault(material, index_values[index_id])
    found = []
    for x in watched:
        standard_id, grade = standard_of[x.standard_version_id]
        others = [p for lid, p in by_standard.get(standard_id, []) if lid != x.id]
        others += contract_prices.get(standard_id, [])
        if others:
            reference, basis = int(median(others)), f"median of {len(others)}"
        elif x.material_code in index_of_material:
            reference, basis = index_of_material[x.material_code], "index"
        else:
            continue
        price = prices[x.id]
        if reference <= 0 or price * 100 >= reference * floor_pct:
            continue
        share = (Decimal(price) * 100 / reference).quantize(Decimal("0.1"))
        org = orgs[x.organization_id]
        found.append(
            Anomaly(
                kind=PRICE_BELOW_MARKET,
                subject="listing",
                subject_id=x.id,
                organization_id=org.id,
                organization=org.name_en,
                material=x.material_code,
                declared=f"¥{price:,}/t",
                shown=f"¥{reference:,}/t",
                message=PRICE_BELOW,
                params={
                    "price": f"{price:,}",
                    "reference": f"{reference:,}",
                    "share": str(share),
                    "grade": grade,
                    "basis": basis,
                    "floor": floor_pct,
                },
                figures={
                    "price_jpy_per_t": price,
                    "reference_jpy_per_t": reference,
                    "share_pct": str(share),
                    "floor_pct": floor_pct,
                    "basis": basis,
                    "grade": grade,
                },
            )
        )
    return found


def anomalies(
    session: Session,
    actor: Actor,
    today: date | None = None,
    floor_pct: int = WATCH_PRICE_FLOOR_PCT,
    contract_prices: dict[int, list[int]] | None = None,
) -> list[Anomaly]:
    """Every anomaly of the open listings and active movement records (operator only).

    `contract_prices`: current prices of active contracts by grade standard id (yen per
    tonne), which join the listings' in the price reference (`contracts.watch` passes them)."""
    OPERATE_MARKETPLACE.check(actor)
    today = today or tokyo_today()
    critical = set(session.exec(select(Material.code).where(Material.critical == True)))  # noqa: E712
    listings = list(
        session.exec(
            select(SupplyListing)
            .where(SupplyListing.status == ListingStatus.OPEN)
            .order_by(SupplyListing.id)
        )
    )
    records = list(
        session.exec(
            select(MovementRecord)
            .where(
                MovementRecord.status == MovementRecordStatus.ACTIVE,
                col(MovementRecord.certificate_id).is_not(None),
            )
            .order_by(MovementRecord.id)
        )
    )
    org_ids = {x.organization_id for x in listings} | {r.organization_id for r in records}
    orgs = (
        {
            o.id: o
            for o in session.exec(select(Organization).where(col(Organization.id).in_(org_ids)))
        }
        if org_ids
        else {}
    )
    by_material = parameters_by_material(session)
    found = _mismatches(session, "listing", listings, orgs, by_material, critical)
    found += _mismatches(session, "movement_record", records, orgs, by_material, critical)
    found += _below_market(
        session, listings, orgs, critical, today, floor_pct, contract_prices or {}
    )
    return found


# ---------------------------------------------------------------------------------------------
# Consents expiring


def expiring_records(
    session: Session, actor: Actor, today: date | None = None, within_days: int = 90
) -> list[MovementRecord]:
    """Active records whose validity ends within `within_days` days from `today` (not yet
    over), soonest first (operator only)."""
    OPERATE_MARKETPLACE.check(actor)
    today = today or tokyo_today()
    return list(
        session.exec(
            select(MovementRecord)
            .where(
                MovementRecord.status == MovementRecordStatus.ACTIVE,
                MovementRecord.valid_until >= today,
                MovementRecord.valid_until <= today + timedelta(days=within_days),
            )
            .order_by(col(MovementRecord.valid_until), col(MovementRecord.id))
        )
    )
