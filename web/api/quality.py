"""API: materials, grade standards and versions, assessments, assays, certificates, settlements.

Input models are the quality package's own (quality.assays, quality.certification,
quality.settlements); this module only declares the endpoints and maps records to output.
"""

import json
from decimal import Decimal
from typing import Any, Literal

from flask import g, url_for
from flask_babel import gettext
from pydantic import BaseModel, Field

from participants.fields import Line, Paging
from quality.assays import (
    AssayInput,
    AssayRowsInvalid,
    AssessmentReport,
    AssessmentRequest,
    assay_data_quality,
    assess_results,
    record_assay,
    results_of,
)
from quality.assays import (
    read_assay as read_own_assay,
)
from quality.catalogue import (
    get_version,
    latest_published_of,
    materials_query,
    parameters_by_code,
    spec_of,
    spec_to_dict,
    standards_query,
    versions_by_standard,
)
from quality.certification import (
    CertificateRequest,
    certificate_content,
    issue_certificate,
    verify_certificate,
)
from quality.errors import QualityError
from quality.export_regimes import ROUTE_LABELS, regime_of
from quality.models import Assay, Certificate, GradeStandard, Material, StandardVersion
from quality.settlements import SettlementRequest, settle_disputed_assay
from quality.standards import Publication, publish_version
from web.api import api_bp
from web.api.openapi import Page, operation
from web.db import get_db
from web.errors import problem
from web.i18n import translate_error
from web.pagination import paginate

Family = Literal["metal", "plastic", "e-scrap", "battery"]
Status = Literal["draft", "consultation", "published", "withdrawn", "retired"]


# --- output -----------------------------------------------------------------------------------


class ExportRouteOut(BaseModel):
    route: str = Field(description="basel_act, waste_act or not_waste")
    label: str


class ExportRegimeOut(BaseModel):
    """The legal routes a movement of a critical material across Japan's border takes (the
    first is the usual one), with their source."""

    routes: list[ExportRouteOut]
    source: str


class MaterialOut(BaseModel):
    """A material of the catalogue."""

    code: str
    family: str
    name_en: str
    name_ja: str
    critical: bool
    export_regime: ExportRegimeOut | None = Field(
        default=None, description="critical materials: the legal routes across Japan's border"
    )


class StandardOut(BaseModel):
    """A grade standard: its status is that of its latest published version, else its newest."""

    code: str
    material: str
    name_en: str
    name_ja: str
    rank: int
    status: str
    latest_published_version: int | None
    versions: list[int]


class ScheduleOut(BaseModel):
    free_band: str | None
    jpy_per_t_per_unit: str | None
    cap_jpy_per_t: int | None
    reject_beyond: str | None


class LimitOut(BaseModel):
    parameter: str
    unit: str
    kind: str
    min: str | None
    max: str | None
    min_exclusive: bool
    max_exclusive: bool
    action: str
    downgrade_to: str | None
    schedule: ScheduleOut | None
    note: str


class RequirementOut(BaseModel):
    code: str
    text_en: str
    text_ja: str
    action: str
    downgrade_to: str | None


class DerivedOut(BaseModel):
    code: str
    sum_of: list[str]


class VersionOut(BaseModel):
    """One version of a grade standard: limits with units, requirements, source."""

    standard: str
    version: int
    status: str
    material: str
    decision_rule: str
    source: str
    change_note: str
    effective_from: str | None
    published_at: str | None
    publish_justification: str = Field(
        description="why it was published while its consultation was open or an objection "
        "stood (empty otherwise)"
    )
    limits: list[LimitOut]
    requirements: list[RequirementOut]
    derived: list[DerivedOut]


class LimitResultOut(BaseModel):
    parameter: str
    value: str | None
    passed: bool | None
    margin: str | None
    action: str | None
    deduction_jpy_per_t: int


class RequirementResultOut(BaseModel):
    requirement: str
    passed: bool | None


class AssessmentOut(BaseModel):
    """The assessment of results against a grade version, and the best grade they reach."""

    standard: str
    version: int
    result: str
    downgrade_to: str | None
    best_grade: str | None
    best_grade_version: int | None
    limits: list[LimitResultOut]
    requirements: list[RequirementResultOut]
    missing: list[str]
    adjustment_jpy_per_t: int


class ResultOut(BaseModel):
    parameter: str
    value: str
    uncertainty: str | None = Field(
        description="expanded uncertainty (±) in the parameter's unit; null when the laboratory "
        "stated none"
    )


class AssayOut(BaseModel):
    """An assay of the caller's organisation with its data-quality level."""

    id: int
    lot_ref: str
    material: str
    lab_name: str
    lab_accredited: bool
    method: str
    sampled_on: str
    reported_on: str
    tonnes: str | None
    results: list[ResultOut]
    data_quality_level: int
    missing_for_next_level: list[str]


class CertificateOut(BaseModel):
    """A certificate, whether it is genuine (its content still hashes to sha256), and where
    anyone can verify it."""

    id: str
    genuine: bool
    sha256: str
    content: dict[str, Any]
    verify_url: str


class SettlementOut(BaseModel):
    """The settled value of a disputed assay and who pays the umpire."""

    parameter: str
    difference: str
    within_splitting_limit: bool
    settled_value: str
    umpire_used: bool
    umpire_fee_payer: str | None


class MaterialQuery(Paging):
    family: Family | None = None


class StandardQuery(Paging):
    material: Line(40) | None = Field(default=None, description="material code")
    status: Status | None = Field(default=None, description="the standard's status")


def _str(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def material_out(m: Material) -> MaterialOut:
    regime = regime_of(m.code) if m.critical else None
    return MaterialOut(
        code=m.code,
        family=m.family,
        name_en=m.name_en,
        name_ja=m.name_ja,
        critical=m.critical,
        export_regime=None
        if regime is None
        else ExportRegimeOut(
            routes=[
                ExportRouteOut(route=r.value, label=gettext(ROUTE_LABELS[r])) for r in regime.routes
            ],
            source=regime.source,
        ),
    )


def standard_out(standard: GradeStandard, versions: list[StandardVersion]) -> StandardOut:
    latest = latest_published_of(versions)
    status = latest.status if latest else (versions[-1].status if versions else "draft")
    return StandardOut(
        code=standard.code,
        material=standard.material_code,
        name_en=standard.name_en,
        name_ja=standard.name_ja,
        rank=standard.rank,
        status=status,
        latest_published_version=latest.number if latest else None,
        versions=[v.number for v in versions],
    )


def version_out(standard: GradeStandard, version: StandardVersion) -> VersionOut:
    spec = spec_to_dict(spec_of(version, standard))
    units = {code: p.unit for code, p in parameters_by_code(get_db()).items()}
    return VersionOut(
        standard=standard.code,
        version=version.number,
        status=version.status,
        material=standard.material_code,
        decision_rule=version.decision_rule,
        source=version.source,
        change_note=version.change_note,
        effective_from=version.effective_from.isoformat() if version.effective_from else None,
        published_at=version.published_at.isoformat() if version.published_at else None,
        publish_justification=version.publish_justification,
        limits=[{**lim, "unit": units.get(lim["parameter"], "")} for lim in spec["limits"]],
        requirements=spec["requirements"],
        derived=spec["derived"],
    )


def assessment_out(report: AssessmentReport) -> AssessmentOut:
    """The one JSON form of an assessment (the page shows the same fields)."""
    a = report.assessment
    return AssessmentOut(
        standard=report.standard.code,
        version=report.version.number,
        result=str(a.outcome),
        downgrade_to=a.downgrade_to,
        best_grade=report.best[0].code if report.best else None,
        best_grade_version=report.best[0].version if report.best else None,
        limits=[
            LimitResultOut(
                parameter=r.parameter,
                value=_str(r.value),
                passed=r.passed,
                margin=_str(r.margin),
                action=str(r.action) if r.action else None,
                deduction_jpy_per_t=r.deduction_jpy_per_t,
            )
            for r in a.limits
        ],
        requirements=[RequirementResultOut(requirement=c, passed=p) for c, p in a.requirements],
        missing=a.missing,
        adjustment_jpy_per_t=a.adjustment_jpy_per_t,
    )


def assay_out(assay: Assay) -> AssayOut:
    db = get_db()
    level, missing = assay_data_quality(db, assay)
    tonnes = None if assay.tonnes_kg is None else format(Decimal(assay.tonnes_kg).scaleb(-3), "f")
    return AssayOut(
        id=assay.id,
        lot_ref=assay.lot_ref,
        material=assay.material_code,
        lab_name=assay.lab_name,
        lab_accredited=assay.lab_accredited,
        method=assay.method,
        sampled_on=assay.sampled_on.isoformat(),
        reported_on=assay.reported_on.isoformat(),
        tonnes=tonnes,
        results=[
            ResultOut(parameter=r.parameter, value=_str(r.value), uncertainty=_str(r.uncertainty))
            for r in results_of(db, assay)
        ],
        data_quality_level=level,
        missing_for_next_level=missing,
    )


def certificate_out(cert: Certificate, genuine: bool) -> CertificateOut:
    try:
        content = certificate_content(cert)
    except json.JSONDecodeError:
        content = {}
    return CertificateOut(
        id=cert.id,
        genuine=genuine,
        sha256=cert.sha256,
        content=content if isinstance(content, dict) else {},
        verify_url=url_for("quality.verify", cert_id=cert.id, _external=True),
    )


def rows_problem(error: QualityError):
    """Problem details listing every wrong row of results (row number, field, message)."""
    problems = (
        error.problems
        if isinstance(error, AssayRowsInvalid)
        else [(getattr(error, "row", None), error)]
    )
    errors = [{"row": row, "field": e.field, "message": translate_error(e)} for row, e in problems]
    get_db().rollback()
    return problem(error.status, gettext("The input is not valid"), translate_error(error), errors)


# --- endpoints --------------------------------------------------------------------------------


@api_bp.get("/materials")
@operation(
    "List materials",
    query=MaterialQuery,
    responses={200: Page[MaterialOut]},
    auth=False,
    tag="quality",
)
def materials(query: MaterialQuery):
    """Materials of the catalogue, by family and code."""
    page = paginate(get_db(), materials_query(query.family), paging=query)
    return page.as_json([material_out(m).model_dump(mode="json") for m in page.items])


@api_bp.get("/standards")
@operation(
    "List grade standards",
    query=StandardQuery,
    responses={200: Page[StandardOut]},
    auth=False,
    tag="quality",
)
def standards(query: StandardQuery):
    """Grade standards with their latest published version, by material, rank and code."""
    db = get_db()
    page = paginate(db, standards_query(query.material, query.status), paging=query)
    versions = versions_by_standard(db, [s.id for s in page.items])
    return page.as_json(
        [standard_out(s, versions[s.id]).model_dump(mode="json") for s in page.items]
    )


@api_bp.get("/standards/<code>/versions/<int:number>")
@operation("Read a standard version", responses={200: VersionOut}, auth=False, tag="quality")
def standard_version(code: str, number: int):
    """One version of a grade standard: limits with units, requirements, source."""
    return version_out(*get_version(get_db(), code, number))


@api_bp.post("/standards/<code>/versions/<int:number>/publish")
@operation(
    "Publish a standard version",
    body=Publication,
    responses={200: VersionOut},
    errors=(403, 404, 409),
    tag="quality",
)
def publish_standard_version(code: str, number: int, body: Publication):
    """A standards body publishes a version under consultation.

    While the consultation is still open or an objection stands, `justification` is required
    (422 naming the field otherwise); the version keeps it and the audit log records it."""
    db = get_db()
    standard, version = get_version(db, code, number)
    publish_version(db, g.caller.actor, version, body)
    return version_out(standard, version)


@api_bp.post("/assessments")
@operation(
    "Assess a lot",
    body=AssessmentRequest,
    responses={200: AssessmentOut},
    errors=(404,),
    tag="quality",
)
def assessments(body: AssessmentRequest):
    """Assess results against a grade version (latest published by default); stores nothing.

    404 when the grade standard or version is unknown (or not published)."""
    try:
        report = assess_results(get_db(), body)
    except QualityError as error:
        if error.status != 422:
            raise
        return rows_problem(error)
    return assessment_out(report)


@api_bp.post("/assays")
@operation(
    "Record an assay",
    body=AssayInput,
    responses={201: AssayOut},
    errors=(403,),
    tag="quality",
)
def create_assay(body: AssayInput):
    """Record the lab results of a lot (as `results` or as `csv` text); all or nothing.

    Administrators, traders and inspectors of a verified organisation record assays; every
    wrong result row is listed in `errors` with its row number."""
    try:
        assay = record_assay(get_db(), g.caller.actor, body)
    except QualityError as error:
        if error.status != 422:
            raise
        return rows_problem(error)
    return assay_out(assay), 201


@api_bp.get("/assays/<int:assay_id>")
@operation("Read an assay", responses={200: AssayOut}, tag="quality")
def read_assay(assay_id: int):
    """One assay of the caller's organisation (any other answers 404)."""
    return assay_out(read_own_assay(get_db(), g.caller.actor, assay_id))


@api_bp.post("/certificates")
@operation(
    "Issue a certificate",
    body=CertificateRequest,
    responses={201: CertificateOut},
    errors=(403, 404, 409),
    tag="quality",
)
def create_certificate(body: CertificateRequest):
    """Certify an assay of the caller's organisation for a grade version.

    Administrators, inspectors and signatories of a verified organisation certify; 404 when
    the assay is not the caller's or the grade is unknown; 409 when the lot does not conform."""
    return certificate_out(issue_certificate(get_db(), g.caller.actor, body), True), 201


@api_bp.get("/certificates/<cert_id>")
@operation("Verify a certificate", responses={200: CertificateOut}, auth=False, tag="quality")
def read_certificate(cert_id: str):
    """A certificate and whether it is genuine and unchanged (public, like /verify/<id>)."""
    cert, genuine = verify_certificate(get_db(), cert_id)
    if cert is None:
        return problem(404, gettext("Not found"), gettext("No such certificate."))
    return certificate_out(cert, genuine)


@api_bp.post("/assay-settlements")
@operation(
    "Settle a disputed assay (split-assay rule)",
    body=SettlementRequest,
    responses={200: SettlementOut},
    tag="quality",
)
def assay_settlement(body: SettlementRequest):
    """Averaged within the splitting limit, else the umpire decides (422 without an umpire)."""
    settlement = settle_disputed_assay(get_db(), body)
    return SettlementOut(
        parameter=body.parameter,
        difference=_str(abs(body.seller - body.buyer)),
        within_splitting_limit=not settlement.umpire_used,
        settled_value=_str(settlement.value),
        umpire_used=settlement.umpire_used,
        umpire_fee_payer=settlement.fee_payer.value if settlement.fee_payer else None,
    )
