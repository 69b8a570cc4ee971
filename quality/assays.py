"""Assays of lots: the assay record (form, JSON, CSV), storage, assessment, data-quality level.

Everything is validated before anything is written; several bad rows are reported together.

Who may do what (checked here): administrators, traders and inspectors of a verified
organisation record assays and save inspections (`RECORD_ASSAYS`); any member reads its own
organisation's assays, whatever the organisation's state (`READ_ASSAYS`); another
organisation's assay answers NotFound, exactly like a missing one.
"""

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from sqlmodel import Session, col, select

from participants.actors import Actor, drafting, permission
from participants.errors import N_, NotFound
from participants.fields import Day, Id, Line, Measurement, Paragraphs, Tonnes
from participants.models import Role
from quality.catalogue import (
    get_material,
    get_version,
    latest_published,
    parameters_by_code,
    published_specs_of_material,
    spec_of,
)
from quality.dataquality import LotEvidence, data_quality_level, missing_for_next_level
from quality.errors import (
    DuplicateParameter,
    InvalidEvidence,
    InvalidMeasurement,
    QualityError,
    UnknownParameter,
    UnknownStandard,
)
from quality.grading import Assessment, GradeSpec, assess, best_grade
from quality.grading import Measurement as MeasuredValue
from quality.models import (
    Assay,
    AssayResult,
    GradeStandard,
    Material,
    StandardVersion,
    VersionStatus,
)

MAX_RESULTS = 200
MAX_INSPECTIONS = 100
CSV_MAX_CHARS = 100_000
CSV_COLUMNS = ("parameter", "value", "uncertainty", "unit")

RECORD_ASSAYS = permission(
    N_("Only administrators, traders and inspectors record assays."),
    roles=[Role.ADMIN, Role.TRADER, Role.INSPECTOR],
)
READ_ASSAYS = permission(N_("Log in to see your organisation's assays."), verified=False)


class InvalidAssay(QualityError):
    """An assay header (lot, lab, dates, material) that cannot be stored."""

    message = "The assay is not valid."


class AssayRowsInvalid(QualityError):
    """Several rows of results are wrong; `problems` holds (row, error) for each."""

    message = "%(count)s rows of results have errors; nothing was saved."

    def __init__(self, problems: Sequence[tuple[int | None, QualityError]]) -> None:
        super().__init__(None, "results", count=len(problems))
        self.problems = list(problems)


# --- input ------------------------------------------------------------------------------------


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _none_if_blank(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


class ResultIn(BaseModel):
    """One measured result: parameter code, value, uncertainty (±) and, optionally, the unit."""

    model_config = ConfigDict(extra="forbid")
    parameter: Line(40, min_length=1)
    value: Measurement
    uncertainty: Annotated[Measurement | None, BeforeValidator(_none_if_blank)] = None
    unit: Line(20) | None = None


RequirementCode = Line(60, min_length=1)
Inspections = Annotated[
    dict[RequirementCode, bool],
    Field(max_length=MAX_INSPECTIONS, description="requirement code → met (true) or not"),
]


class DeclaredIn(BaseModel):
    """What the supplier declares about the lot (the first data-quality level)."""

    model_config = ConfigDict(extra="forbid")
    composition: Line(200) = ""
    polymer: Line(60) = ""
    source: Annotated[Literal["", "PCR", "PIR"], BeforeValidator(_upper)] = ""
    form: Line(60) = ""
    colour: Line(60) = ""


class EvidenceIn(BaseModel):
    """Evidence about the lot besides the lab results: declaration, inspections, checks."""

    model_config = ConfigDict(extra="forbid")
    declared: DeclaredIn = Field(default_factory=DeclaredIn)
    third_party_inspected: bool = False
    radioactivity_checked: bool = False
    identification_method: Annotated[
        Literal["IR", "DSC"] | None, BeforeValidator(_upper), BeforeValidator(_none_if_blank)
    ] = None
    inspections: Inspections = Field(default_factory=dict)


class AssayInput(BaseModel):
    """An assay: lot, laboratory, dates, evidence and the results, as `results` or `csv` text."""

    model_config = ConfigDict(extra="forbid")
    lot_ref: Line(80, min_length=1)
    material: Line(40, min_length=1)
    lab_name: Line(200, min_length=1)
    lab_accredited: bool = False
    method: Line(200) = ""
    sampled_on: Day
    reported_on: Day
    tonnes: Tonnes | None = None
    evidence: EvidenceIn = Field(default_factory=EvidenceIn)
    results: list[ResultIn] | None = Field(default=None, max_length=MAX_RESULTS)
    csv: Paragraphs(CSV_MAX_CHARS) | None = Field(
        default=None, description="parameter,value,uncertainty,unit lines with a header line"
    )


class InspectionIn(BaseModel):
    """One inspection answer: the requirement and whether the lot meets it."""

    model_config = ConfigDict(extra="forbid")
    requirement: RequirementCode
    passed: bool


class InspectionAnswers(BaseModel):
    """Inspection answers to store with an assay (requirement code → met)."""

    model_config = ConfigDict(extra="forbid")
    inspections: Inspections


class AssessmentRequest(BaseModel):
    """Results to assess against a grade version (the latest published one by default)."""

    model_config = ConfigDict(extra="forbid")
    standard: Line(40, min_length=1)
    version: Id | None = None
    results: list[ResultIn] = Field(min_length=1, max_length=MAX_RESULTS)
    inspections: list[InspectionIn] = Field(default_factory=list, max_length=MAX_INSPECTIONS)


@dataclass
class AssessmentReport:
    """An assessment against one version plus the best published grade of the material."""

    standard: GradeStandard
    version: StandardVersion
    spec: GradeSpec
    assessment: Assessment
    best: tuple[GradeSpec, Assessment] | None


# --- results ----------------------------------------------------------------------------------


def _unit_key(unit: str) -> str:
    return "".join(unit.split()).lower()


def _check_result(catalogue: Mapping[str, Any], seen: set[str], result: ResultIn) -> MeasuredValue:
    code = result.parameter.strip()
    parameter = catalogue.get(code)
    if parameter is None:
        raise UnknownParameter(None, code or "parameter", code=code or "—")
    if parameter.derived_from:
        raise DuplicateParameter(
            "%(parameter)s is computed from its parts; give the parts only.",
            code,
            parameter=code,
        )
    if code in seen:
        raise DuplicateParameter(None, code, parameter=code)
    seen.add(code)
    if result.unit is not None and result.unit.strip():
        if _unit_key(result.unit) != _unit_key(parameter.unit):
            raise InvalidMeasurement(
                "%(parameter)s is measured in %(unit)s, not %(given)s.",
                code,
                parameter=code,
                unit=parameter.unit,
                given=result.unit.strip(),
            )
    for what, number in (("value", result.value), ("uncertainty", result.uncertainty)):
        if number is not None and number < 0:
            raise InvalidMeasurement(
                "The %(what)s of %(parameter)s must be zero or more.",
                code,
                what=what,
                parameter=code,
            )
    return MeasuredValue.stated(code, result.value, result.uncertainty)


def _raise_problems(problems: list[tuple[int | None, QualityError]]) -> None:
    problems = sorted(problems, key=lambda p: p[0] or 0)
    if len(problems) == 1:
        row, error = problems[0]
        error.row = row
        raise error
    if problems:
        raise AssayRowsInvalid(problems)


def _measurements(
    session: Session, rows: Sequence[ResultIn], first_row: int = 1
) -> tuple[list[MeasuredValue], list[tuple[int | None, QualityError]]]:
    catalogue = parameters_by_code(session)
    problems: list[tuple[int | None, QualityError]] = []
    measurements: list[MeasuredValue] = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        try:
            measurements.append(_check_result(catalogue, seen, row))
        except QualityError as error:
            problems.append((getattr(row, "row", None) or first_row + index, error))
    return measurements, problems


def validate_results(session: Session, rows: Sequence[ResultIn]) -> list[MeasuredValue]:
    """Measurements from results; one error raised as is (with `.row`), several together."""
    if not rows:
        raise InvalidMeasurement("Give at least one result.", "results")
    if len(rows) > MAX_RESULTS:
        raise InvalidMeasurement("At most %(n)s results.", "results", n=MAX_RESULTS)
    measurements, problems = _measurements(session, rows)
    _raise_problems(problems)
    return measurements


class _Row(ResultIn):
    """A result read from text (a CSV line or a form row), with its line number."""

    row: int = 0


def _row_error(error: ValidationError, parameter: str) -> QualityError:
    """A field error of a text row as a message naming the parameter."""
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "value"
    if field in ("value", "uncertainty"):
        if first["type"] in ("decimal_parsing", "decimal_type", "finite_number", "missing"):
            return InvalidMeasurement(
                "The %(what)s of %(parameter)s must be a decimal number.",
                parameter,
                what=field,
                parameter=parameter,
            )
        return InvalidMeasurement(
            "The %(what)s of %(parameter)s is out of range (at most 10^9, twelve decimals).",
            parameter,
            what=field,
            parameter=parameter,
        )
    if field == "unit":
        return InvalidMeasurement(
            "The unit of %(parameter)s is not valid.", parameter, parameter=parameter
        )
    return InvalidMeasurement("Give a valid parameter code.", "parameter")


def result_rows(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[ResultIn]:
    """Results from text rows ({parameter, value, uncertainty, unit, row}: a CSV or a form).

    Every row is checked (numbers, then the catalogue) and all wrong rows are reported
    together (AssayRowsInvalid), or the one wrong row as its own error with `.row`.
    """
    if not rows:
        raise InvalidMeasurement("Give at least one result.", "results")
    if len(rows) > MAX_RESULTS:
        raise InvalidMeasurement("At most %(n)s results.", "results", n=MAX_RESULTS)
    results: list[ResultIn] = []
    problems: list[tuple[int | None, QualityError]] = []
    for index, data in enumerate(rows):
        number = data.get("row") or index + 1
        parameter = str(data.get("parameter") or "").strip()
        values = {k: data.get(k) for k in CSV_COLUMNS if data.get(k) not in (None, "")}
        values["parameter"] = parameter
        try:
            results.append(_Row.model_validate({**values, "row": number}))
        except ValidationError as error:
            problems.append((number, _row_error(error, parameter[:40] or "—")))
    _, more = _measurements(session, results)
    _raise_problems(problems + more)
    return results


def parse_assay_csv(text: str) -> list[dict[str, Any]]:
    """Text rows of a CSV with columns parameter, value, uncertainty and unit (optional), each
    with its line number as `row` (check them with `result_rows`)."""
    text = text.lstrip("\ufeff")
    if len(text) > CSV_MAX_CHARS:
        raise InvalidMeasurement("The CSV file is too large.", "csv")
    try:
        lines = [
            (n, r)
            for n, r in enumerate(csv.reader(io.StringIO(text)), start=1)
            if any(c.strip() for c in r)
        ]
    except csv.Error:
        raise InvalidMeasurement("The CSV file cannot be read.", "csv") from None
    if not lines:
        raise InvalidMeasurement("The CSV file is empty.", "csv")
    _, header = lines[0]
    names = [h.strip().lower() for h in header]
    if "parameter" not in names or "value" not in names:
        raise InvalidMeasurement(
            "The first CSV line must name the columns parameter and value.", "csv"
        )
    unknown = [n for n in names if n not in CSV_COLUMNS]
    if unknown:
        raise InvalidMeasurement("Unknown CSV column %(column)s.", "csv", column=unknown[0][:40])
    if len(lines) - 1 > MAX_RESULTS:
        raise InvalidMeasurement("At most %(n)s results.", "results", n=MAX_RESULTS)
    rows: list[dict[str, Any]] = []
    problems: list[tuple[int | None, QualityError]] = []
    for number, cells in lines[1:]:
        if len(cells) != len(names):
            problems.append(
                (
                    number,
                    InvalidMeasurement(
                        "Line %(line)s has %(found)s fields, the header %(expected)s.",
                        "csv",
                        line=number,
                        found=len(cells),
                        expected=len(names),
                    ),
                )
            )
            continue
        rows.append({**dict(zip(names, (c.strip() for c in cells), strict=True)), "row": number})
    _raise_problems(problems)
    if not rows:
        raise InvalidMeasurement("Give at least one result.", "results")
    return rows


# --- recording --------------------------------------------------------------------------------


def _required(value: str, name: str) -> str:
    text = value.strip()
    if not text:
        raise InvalidAssay("%(name)s is required.", name, name=name)
    return text


def _evidence(evidence: EvidenceIn, family: str) -> dict[str, Any]:
    declared = {k: v.strip() for k, v in evidence.declared.model_dump().items() if v.strip()}
    clean = {
        "declared": declared,
        "third_party_inspected": evidence.third_party_inspected,
        "radioactivity_checked": evidence.radioactivity_checked,
        "identification_method": evidence.identification_method,
    }
    LotEvidence(family, declared, identification_method=evidence.identification_method)
    return clean


def assay_materials(session: Session, actor: Actor) -> list[Material]:
    """The materials an assay may be of (the form's choices), for those who record assays and
    for organisations waiting for verification (the form shows; recording waits)."""
    drafting(RECORD_ASSAYS).check(actor)
    return list(session.exec(select(Material).order_by(col(Material.code))).all())


def record_assay(session: Session, actor: Actor, data: AssayInput) -> Assay:
    """Validate the header and every result, then store the assay (flush, no commit)."""
    RECORD_ASSAYS.check(actor)
    if (data.results is None) == (data.csv is None):
        raise InvalidAssay("Send either results or csv.", "results")
    try:
        material = get_material(session, data.material.strip())
    except UnknownStandard:
        raise InvalidAssay("Unknown material %(code)s.", "material", code=data.material) from None
    lot_ref = _required(data.lot_ref, "lot_ref")
    lab_name = _required(data.lab_name, "lab_name")
    if data.reported_on < data.sampled_on:
        raise InvalidAssay("The report cannot be dated before the sampling.", "reported_on")
    tonnes_kg = None
    if data.tonnes is not None:
        if data.tonnes <= 0:
            raise InvalidAssay("Tonnes must be a positive number.", "tonnes")
        tonnes_kg = int((data.tonnes * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    evidence = _evidence(data.evidence, material.family)
    evidence["inspections"] = check_inspections(session, material.code, data.evidence.inspections)
    if data.csv is not None:
        rows = result_rows(session, parse_assay_csv(data.csv))
    else:
        rows = data.results
    measurements = validate_results(session, rows)
    assay = Assay(
        organization_id=actor.organization_id,
        lot_ref=lot_ref,
        material_code=material.code,
        lab_name=lab_name,
        lab_accredited=data.lab_accredited,
        method=data.method.strip(),
        sampled_on=data.sampled_on,
        reported_on=data.reported_on,
        evidence_json=json.dumps(evidence, sort_keys=True, ensure_ascii=False),
        tonnes_kg=tonnes_kg,
    )
    session.add(assay)
    session.flush()
    for m in measurements:
        session.add(
            AssayResult(
                assay_id=assay.id,
                parameter=m.parameter,
                value=m.value,
                uncertainty=m.uncertainty or None,  # blank or 0: none stated
            )
        )
    session.flush()
    return assay


def assays_of(session: Session, actor: Actor) -> list[Assay]:
    """The assays of the actor's organisation, newest first."""
    READ_ASSAYS.check(actor)
    return list(
        session.exec(
            select(Assay)
            .where(Assay.organization_id == actor.organization_id)
            .order_by(col(Assay.created_at).desc(), col(Assay.id).desc())
        ).all()
    )


def read_assay(session: Session, actor: Actor, assay_id: int) -> Assay:
    """One assay of the actor's organisation; NotFound for any other (or none)."""
    READ_ASSAYS.check(actor)
    assay = session.get(Assay, assay_id)
    if assay is None or not actor.owns(assay.organization_id):
        raise NotFound("No such assay.", "assay_id")
    return assay


def results_of(session: Session, assay: Assay) -> list[AssayResult]:
    return list(
        session.exec(
            select(AssayResult)
            .where(AssayResult.assay_id == assay.id)
            .order_by(col(AssayResult.id))
        ).all()
    )


def measurements_of(session: Session, assay: Assay) -> list[MeasuredValue]:
    return [
        MeasuredValue.stated(r.parameter, r.value, r.uncertainty)
        for r in results_of(session, assay)
    ]


def evidence_of(assay: Assay) -> dict[str, Any]:
    return json.loads(assay.evidence_json or "{}")


def inspections_of(assay: Assay) -> dict[str, bool]:
    """Inspection answers stored with the assay (requirement code → passed)."""
    return {k: bool(v) for k, v in (evidence_of(assay).get("inspections") or {}).items()}


def check_inspections(
    session: Session, material: str, inspections: Mapping[str, bool]
) -> dict[str, bool]:
    """Inspection answers whose codes are requirements of some grade of the material."""
    known = {
        r.code for spec in published_specs_of_material(session, material) for r in spec.requirements
    }
    clean: dict[str, bool] = {}
    for code, passed in inspections.items():
        if code not in known:
            raise InvalidMeasurement("Unknown requirement %(code)s.", code, code=code)
        clean[code] = bool(passed)
    return clean


def save_inspections(
    session: Session, actor: Actor, assay_id: int, data: InspectionAnswers
) -> Assay:
    """Store inspection answers of the lot with its assay (used for the assessment)."""
    RECORD_ASSAYS.check(actor)
    assay = read_assay(session, actor, assay_id)
    clean = check_inspections(session, assay.material_code, data.inspections)
    evidence = evidence_of(assay)
    evidence["inspections"] = {**(evidence.get("inspections") or {}), **clean}
    assay.evidence_json = json.dumps(evidence, sort_keys=True, ensure_ascii=False)
    session.add(assay)
    session.flush()
    return assay


def resolve_version(
    session: Session, code: str, number: int | None
) -> tuple[GradeStandard, StandardVersion]:
    """A version to assess against: the given one (published or retired) or the latest."""
    if number is None:
        return latest_published(session, code)
    standard, version = get_version(session, code, number)
    if version.status not in (VersionStatus.PUBLISHED, VersionStatus.RETIRED):
        raise UnknownStandard(
            "Version %(version)s of %(code)s is not published.",
            "version",
            code=code,
            version=number,
        )
    return standard, version


def assess_measurements(
    session: Session,
    standard: GradeStandard,
    version: StandardVersion,
    measurements: Sequence[MeasuredValue],
    inspections: Mapping[str, bool] | None = None,
) -> AssessmentReport:
    """Assess against one version and find the best published grade of the same material."""
    inspections = dict(inspections or {})
    spec = spec_of(version, standard)
    assessment = assess(spec, measurements, inspections)
    specs = published_specs_of_material(session, standard.material_code)
    best = best_grade(specs, measurements, inspections) if specs else None
    return AssessmentReport(standard, version, spec, assessment, best)


def assess_results(session: Session, data: AssessmentRequest) -> AssessmentReport:
    """Assess given results against a grade version; stores nothing (public grade rules)."""
    standard, version = resolve_version(session, data.standard, data.version)
    measurements = validate_results(session, data.results)
    answers: dict[str, bool] = {}
    for item in data.inspections:
        if item.requirement in answers:
            raise InvalidMeasurement(
                "Requirement %(code)s is given more than once.",
                item.requirement,
                code=item.requirement,
            )
        answers[item.requirement] = item.passed
    inspections = check_inspections(session, standard.material_code, answers)
    return assess_measurements(session, standard, version, measurements, inspections)


def assess_assay(
    session: Session, assay: Assay, standard: GradeStandard, version: StandardVersion
) -> AssessmentReport:
    """Assess a stored assay (with its stored inspections) against a standard version."""
    if standard.material_code != assay.material_code:
        raise InvalidAssay(
            "Grade %(code)s is for another material.", "standard", code=standard.code
        )
    return assess_measurements(
        session, standard, version, measurements_of(session, assay), inspections_of(assay)
    )


def _lot_evidence(assay: Assay, family: str, measured: frozenset[str]) -> LotEvidence:
    data = evidence_of(assay)
    return LotEvidence(
        family,
        declared=data.get("declared") or {},
        measured=measured,
        lab_accredited=assay.lab_accredited,
        method_stated=bool(assay.method.strip()),
        third_party_inspected=bool(data.get("third_party_inspected")),
        radioactivity_checked=bool(data.get("radioactivity_checked")),
        identification_method=data.get("identification_method") or None,
    )


def assay_evidence(session: Session, assay: Assay) -> LotEvidence:
    """The lot evidence of an assay, for its data-quality level."""
    material = get_material(session, assay.material_code)
    measured = frozenset(r.parameter for r in results_of(session, assay))
    return _lot_evidence(assay, material.family, measured)


def data_quality_levels(session: Session, assay_ids: set[int]) -> dict[int, int]:
    """The data-quality level of each assay (as `assay_data_quality`), read for all of them in
    three queries; 0 for an assay whose stored evidence no longer reads."""
    if not assay_ids:
        return {}
    assays = session.exec(select(Assay).where(col(Assay.id).in_(assay_ids))).all()
    families = dict(
        session.exec(
            select(Material.code, Material.family).where(
                col(Material.code).in_({a.material_code for a in assays})
            )
        ).all()
    )
    measured: dict[int, set[str]] = {}
    for assay_id, parameter in session.exec(
        select(AssayResult.assay_id, AssayResult.parameter).where(
            col(AssayResult.assay_id).in_(assay_ids)
        )
    ).all():
        measured.setdefault(assay_id, set()).add(parameter)
    levels: dict[int, int] = {}
    for assay in assays:
        family = families.get(assay.material_code)
        levels[assay.id] = 0
        if family is None:
            continue
        try:
            evidence = _lot_evidence(assay, family, frozenset(measured.get(assay.id, set())))
        except InvalidEvidence:  # stored evidence that no longer reads
            continue
        levels[assay.id] = data_quality_level(evidence)
    return levels


def assay_data_quality(session: Session, assay: Assay) -> tuple[int, list[str]]:
    """(level 0–4, what is missing for the next level)."""
    evidence = assay_evidence(session, assay)
    return data_quality_level(evidence), missing_for_next_level(evidence)
