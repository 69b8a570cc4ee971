"""API: materials, grade standards and versions, assessments, assays, certificates."""

import json
from datetime import date
from decimal import Decimal

from flask import g, request, url_for
from flask_babel import gettext
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from market.participants import require_certifier
from quality.assays import (
    AssayHeader,
    AssayRowsInvalid,
    AssessmentReport,
    ResultInput,
    assay_data_quality,
    assess_measurements,
    check_inspections,
    parse_assay_csv,
    record_assay,
    resolve_version,
    results_of,
    validate_results,
)
from quality.catalogue import (
    get_version,
    latest_published_of,
    parameters_by_code,
    spec_to_dict,
    versions_by_standard,
    versions_of,
)
from quality.certification import certificate_content, issue_certificate, verify_certificate
from quality.errors import QualityError
from quality.models import Assay, GradeStandard, Material
from web.api import api_bp, parse_body, token_required
from web.api.openapi import schema
from web.db import get_db
from web.errors import problem
from web.i18n import translate_error

Number = str | int | float


@schema
class MaterialOut(BaseModel):
    code: str
    family: str
    name_en: str
    name_ja: str
    critical: bool


@schema
class StandardOut(BaseModel):
    code: str
    material: str
    name_en: str
    name_ja: str
    rank: int
    status: str
    latest_published_version: int | None
    versions: list[int]


@schema
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
    schedule: dict | None
    note: str


@schema
class VersionOut(BaseModel):
    standard: str
    version: int
    status: str
    material: str
    decision_rule: str
    source: str
    change_note: str
    effective_from: str | None
    published_at: str | None
    limits: list[LimitOut]
    requirements: list[dict]
    derived: list[dict]


@schema
class ResultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parameter: str = Field(min_length=1, max_length=40)
    value: Number
    uncertainty: Number | None = None
    unit: str | None = Field(default=None, max_length=20)


@schema
class InspectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requirement: str = Field(min_length=1, max_length=60)
    passed: bool


@schema
class AssessmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    standard: str = Field(min_length=1, max_length=40)
    version: int | None = Field(default=None, ge=1)
    results: list[ResultIn] = Field(min_length=1, max_length=200)
    inspections: list[InspectionIn] = Field(default_factory=list, max_length=100)


@schema
class LimitResultOut(BaseModel):
    parameter: str
    value: str | None
    passed: bool | None
    margin: str | None
    action: str | None
    deduction_jpy_per_t: int


@schema
class AssessmentOut(BaseModel):
    standard: str
    version: int
    result: str
    downgrade_to: str | None
    best_grade: str | None
    best_grade_version: int | None
    limits: list[LimitResultOut]
    requirements: list[dict]
    missing: list[str]
    adjustment_jpy_per_t: int


@schema
class AssayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lot_ref: str = Field(min_length=1, max_length=80)
    material: str = Field(min_length=1, max_length=40)
    lab_name: str = Field(min_length=1, max_length=200)
    lab_accredited: bool = False
    method: str = Field(default="", max_length=200)
    sampled_on: date
    reported_on: date
    tonnes: Number | None = None
    evidence: dict = Field(default_factory=dict)
    results: list[ResultIn] | None = Field(default=None, max_length=200)
    csv: str | None = Field(default=None, max_length=100_000)


@schema
class AssayOut(BaseModel):
    id: int
    lot_ref: str
    material: str
    lab_name: str
    lab_accredited: bool
    method: str
    sampled_on: str
    reported_on: str
    tonnes: str | None
    results: list[dict]
    data_quality_level: int
    missing_for_next_level: list[str]


@schema
class CertificateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assay_id: int
    standard: str = Field(min_length=1, max_length=40)
    version: int | None = Field(default=None, ge=1)


@schema
class CertificateOut(BaseModel):
    id: str
    genuine: bool
    sha256: str
    content: dict
    verify_url: str


def _str(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def assessment_json(report: AssessmentReport) -> dict:
    """The one JSON form of an assessment (the API answer; the UI shows the same fields)."""
    a = report.assessment
    return {
        "standard": report.standard.code,
        "version": report.version.number,
        "result": str(a.outcome),
        "downgrade_to": a.downgrade_to,
        "best_grade": report.best[0].code if report.best else None,
        "best_grade_version": report.best[0].version if report.best else None,
        "limits": [
            {
                "parameter": r.parameter,
                "value": _str(r.value),
                "passed": r.passed,
                "margin": _str(r.margin),
                "action": str(r.action) if r.action else None,
                "deduction_jpy_per_t": r.deduction_jpy_per_t,
            }
            for r in a.limits
        ],
        "requirements": [{"requirement": c, "passed": p} for c, p in a.requirements],
        "missing": a.missing,
        "adjustment_jpy_per_t": a.adjustment_jpy_per_t,
    }


def rows_problem(error: QualityError):
    """Problem details listing every wrong row (row number, field, message)."""
    problems = (
        error.problems
        if isinstance(error, AssayRowsInvalid)
        else [(getattr(error, "row", None), error)]
    )
    errors = [{"row": row, "field": e.field, "message": translate_error(e)} for row, e in problems]
    get_db().rollback()
    return problem(error.status, gettext("The input is not valid"), translate_error(error), errors)


def _results(items: list[ResultIn]) -> list[ResultInput]:
    return [
        ResultInput(
            r.parameter,
            str(r.value) if not isinstance(r.value, str) else r.value,
            None if r.uncertainty is None else str(r.uncertainty),
            r.unit,
            row=i + 1,
        )
        for i, r in enumerate(items)
    ]


def _inspections(items: list[InspectionIn]) -> dict[str, bool]:
    answers: dict[str, bool] = {}
    for item in items:
        if item.requirement in answers:
            raise QualityError(
                "Requirement %(code)s is given more than once.",
                item.requirement,
                code=item.requirement,
            )
        answers[item.requirement] = item.passed
    return answers


@api_bp.get("/materials")
def materials():
    """Materials of the catalogue.
    ---
    get:
      summary: List materials
      parameters:
        - {name: family, in: query, schema: {type: string, enum: [metal, plastic, e-scrap, battery]}}
      responses:
        '200':
          content:
            application/json:
              schema:
                type: object
                properties:
                  items: {type: array, items: {$ref: '#/components/schemas/MaterialOut'}}
    """
    query = select(Material).order_by(col(Material.family), col(Material.code))
    family = request.args.get("family")
    if family:
        query = query.where(Material.family == family)
    items = [
        MaterialOut(
            code=m.code, family=m.family, name_en=m.name_en, name_ja=m.name_ja, critical=m.critical
        ).model_dump()
        for m in get_db().exec(query).all()
    ]
    return {"items": items}


def standard_json(standard: GradeStandard, versions: list | None = None) -> dict:
    """A standard with its versions (pass them to avoid one query per standard)."""
    if versions is None:
        versions = versions_of(get_db(), standard)
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
    ).model_dump()


@api_bp.get("/standards")
def standards():
    """Grade standards with their latest published version.
    ---
    get:
      summary: List grade standards
      parameters:
        - {name: material, in: query, schema: {type: string}}
        - {name: status, in: query, schema: {type: string, enum: [draft, consultation, published, withdrawn, retired]}}
      responses:
        '200':
          content:
            application/json:
              schema:
                type: object
                properties:
                  items: {type: array, items: {$ref: '#/components/schemas/StandardOut'}}
    """
    query = select(GradeStandard).order_by(
        col(GradeStandard.material_code), col(GradeStandard.rank), col(GradeStandard.code)
    )
    material = request.args.get("material")
    if material:
        query = query.where(GradeStandard.material_code == material)
    found = get_db().exec(query).all()
    versions = versions_by_standard(get_db(), [s.id for s in found])
    items = [standard_json(s, versions[s.id]) for s in found]
    status = request.args.get("status")
    if status:
        items = [i for i in items if i["status"] == status]
    return {"items": items}


def version_json(standard: GradeStandard, version) -> dict:
    spec = spec_to_dict_of(standard, version)
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
        limits=[{**lim, "unit": units.get(lim["parameter"], "")} for lim in spec["limits"]],
        requirements=spec["requirements"],
        derived=spec["derived"],
    ).model_dump()


def spec_to_dict_of(standard: GradeStandard, version) -> dict:
    from quality.catalogue import spec_of

    return spec_to_dict(spec_of(version, standard))


@api_bp.get("/standards/<code>/versions/<int:number>")
def standard_version(code: str, number: int):
    """One version of a grade standard: limits with units, requirements, source.
    ---
    get:
      summary: Read a standard version
      parameters:
        - {name: code, in: path, required: true, schema: {type: string}}
        - {name: number, in: path, required: true, schema: {type: integer}}
      responses:
        '200':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/VersionOut'}
        '404':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    standard, version = get_version(get_db(), code, number)
    return version_json(standard, version)


@api_bp.post("/assessments")
@token_required
def assessments():
    """Assess results against a grade version (latest published by default); stores nothing.
    ---
    post:
      summary: Assess a lot
      security: [{bearer: []}]
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/AssessmentRequest'}
      responses:
        '200':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/AssessmentOut'}
        '404':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
        '422':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    body = parse_body(AssessmentRequest)
    db = get_db()
    standard, version = resolve_version(db, body.standard, body.version)
    try:
        measurements = validate_results(db, _results(body.results))
    except QualityError as error:
        return rows_problem(error)
    inspections = check_inspections(db, standard.material_code, _inspections(body.inspections))
    report = assess_measurements(db, standard, version, measurements, inspections)
    db.rollback()  # nothing is stored
    return assessment_json(report)


def assay_json(assay: Assay) -> dict:
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
            {"parameter": r.parameter, "value": _str(r.value), "uncertainty": _str(r.uncertainty)}
            for r in results_of(db, assay)
        ],
        data_quality_level=level,
        missing_for_next_level=missing,
    ).model_dump()


@api_bp.post("/assays")
@token_required
def create_assay():
    """Record the lab results of a lot (as `results` or as `csv` text); all or nothing.
    ---
    post:
      summary: Record an assay
      security: [{bearer: []}]
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/AssayIn'}
      responses:
        '201':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/AssayOut'}
        '422':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    body = parse_body(AssayIn)
    db = get_db()
    if (body.results is None) == (body.csv is None):
        message = gettext("Send either results or csv.")
        return problem(
            422,
            gettext("The input is not valid"),
            message,
            [{"field": "results", "message": message}],
        )
    header = AssayHeader(
        lot_ref=body.lot_ref,
        material_code=body.material,
        lab_name=body.lab_name,
        sampled_on=body.sampled_on,
        reported_on=body.reported_on,
        lab_accredited=body.lab_accredited,
        method=body.method,
        tonnes=None if body.tonnes is None else str(body.tonnes),
        evidence=body.evidence,
    )
    try:
        rows = parse_assay_csv(body.csv) if body.csv is not None else _results(body.results or [])
        assay = record_assay(db, g.caller.org.id, header, rows)
    except QualityError as error:
        return rows_problem(error)
    db.commit()
    return assay_json(assay), 201


@api_bp.get("/assays/<int:assay_id>")
@token_required
def read_assay(assay_id: int):
    """One assay of the caller's organisation.
    ---
    get:
      summary: Read an assay
      security: [{bearer: []}]
      parameters:
        - {name: assay_id, in: path, required: true, schema: {type: integer}}
      responses:
        '200':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/AssayOut'}
        '404':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    assay = get_db().get(Assay, assay_id)
    if assay is None or assay.organization_id != g.caller.org.id:
        return problem(404, gettext("Not found"), gettext("No such assay."))
    return assay_json(assay)


def certificate_json(cert, genuine: bool) -> dict:
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
    ).model_dump()


@api_bp.post("/certificates")
@token_required
def create_certificate():
    """Certify an assay of the caller's organisation for a grade version.
    ---
    post:
      summary: Issue a certificate
      security: [{bearer: []}]
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/CertificateRequest'}
      responses:
        '201':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/CertificateOut'}
        '404':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
        '409':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    body = parse_body(CertificateRequest)
    db = get_db()
    assay = db.get(Assay, body.assay_id)
    if assay is None or assay.organization_id != g.caller.org.id:
        return problem(404, gettext("Not found"), gettext("No such assay."))
    standard, version = resolve_version(db, body.standard, body.version)
    org = require_certifier(db, g.caller.member)
    cert = issue_certificate(db, assay, standard, version, org.id, org.name_ja)
    db.commit()
    return certificate_json(cert, True), 201


@api_bp.get("/certificates/<cert_id>")
def read_certificate(cert_id: str):
    """A certificate and whether it is genuine and unchanged (public, like /verify/<id>).
    ---
    get:
      summary: Verify a certificate
      parameters:
        - {name: cert_id, in: path, required: true, schema: {type: string}}
      responses:
        '200':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/CertificateOut'}
        '404':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    cert, genuine = verify_certificate(get_db(), cert_id)
    if cert is None:
        return problem(404, gettext("Not found"), gettext("No such certificate."))
    return certificate_json(cert, genuine)


@schema
class SettlementRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parameter: str = Field(min_length=1, max_length=40)
    seller: Decimal
    buyer: Decimal
    splitting_limit: Decimal
    umpire: Decimal | None = None


@schema
class SettlementOut(BaseModel):
    parameter: str
    difference: str
    within_splitting_limit: bool
    settled_value: str
    umpire_used: bool
    umpire_fee_payer: str | None


@api_bp.post("/assay-settlements")
@token_required
def assay_settlement():
    """Settle a split assay: averaged within the splitting limit, else the umpire decides.
    ---
    post:
      summary: Settle a disputed assay (split-assay rule)
      security: [{bearer: []}]
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/SettlementRequest'}
      responses:
        '200':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/SettlementOut'}
        '422':
          description: an umpire assay is required, or a value is invalid
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    from quality.catalogue import get_parameter
    from quality.pricing import settle_assay

    body = parse_body(SettlementRequest)
    get_parameter(get_db(), body.parameter)
    settlement = settle_assay(body.seller, body.buyer, body.splitting_limit, body.umpire)
    return SettlementOut(
        parameter=body.parameter,
        difference=_str(abs(body.seller - body.buyer)),
        within_splitting_limit=not settlement.umpire_used,
        settled_value=_str(settlement.value),
        umpire_used=settlement.umpire_used,
        umpire_fee_payer=settlement.fee_payer.value if settlement.fee_payer else None,
    ).model_dump()
