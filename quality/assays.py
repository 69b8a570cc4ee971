"""Assays of lots: validation (form, JSON, CSV), storage, assessment and data-quality level.

Everything is validated before anything is written; several bad rows are reported together.
"""

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlmodel import Session, col, select

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
from quality.grading import Assessment, GradeSpec, Measurement, assess, best_grade
from quality.models import Assay, AssayResult, GradeStandard, StandardVersion, VersionStatus

MAX_RESULTS = 200
CSV_COLUMNS = ("parameter", "value", "uncertainty", "unit")


class InvalidAssay(QualityError):
    """An assay header (lot, lab, dates, material) that cannot be stored."""

    message = "The assay is not valid."


class AssayRowsInvalid(QualityError):
    """Several rows of results are wrong; `problems` holds (row, error) for each."""

    message = "%(count)s rows of results have errors; nothing was saved."

    def __init__(self, problems: Sequence[tuple[int | None, QualityError]]) -> None:
        super().__init__(None, "results", count=len(problems))
        self.problems = list(problems)


@dataclass
class ResultInput:
    """One result row as given (text or numbers); `row` numbers CSV lines for messages."""

    parameter: str
    value: Any
    uncertainty: Any = None
    unit: str | None = None
    row: int | None = None


@dataclass
class AssayHeader:
    lot_ref: str
    material_code: str
    lab_name: str
    sampled_on: date
    reported_on: date
    lab_accredited: bool = False
    method: str = ""
    tonnes: Any = None
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class AssessmentReport:
    """An assessment against one version plus the best published grade of the material."""

    standard: GradeStandard
    version: StandardVersion
    spec: GradeSpec
    assessment: Assessment
    best: tuple[GradeSpec, Assessment] | None


def _number(value: Any, parameter: str, what: str) -> Decimal:
    if isinstance(value, bool) or value is None or value == "":
        raise InvalidMeasurement(
            "The %(what)s of %(parameter)s must be a decimal number.",
            parameter,
            what=what,
            parameter=parameter,
        )
    text = str(value).strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or len(text) > 30:
        raise InvalidMeasurement(
            "The %(what)s of %(parameter)s must be a decimal number.",
            parameter,
            what=what,
            parameter=parameter,
        )
    if number < 0:
        raise InvalidMeasurement(
            "The %(what)s of %(parameter)s must be zero or more.",
            parameter,
            what=what,
            parameter=parameter,
        )
    return number


def _unit_key(unit: str) -> str:
    return "".join(unit.split()).lower()


def validate_results(session: Session, rows: Sequence[ResultInput]) -> list[Measurement]:
    """Measurements from result rows; one error raised as is, several as AssayRowsInvalid."""
    catalogue = parameters_by_code(session)
    problems: list[tuple[int | None, QualityError]] = []
    measurements: list[Measurement] = []
    seen: set[str] = set()
    if not rows:
        raise InvalidMeasurement("Give at least one result.", "results")
    if len(rows) > MAX_RESULTS:
        raise InvalidMeasurement("At most %(n)s results.", "results", n=MAX_RESULTS)
    for index, row in enumerate(rows):
        number = row.row if row.row is not None else index + 1
        code = str(row.parameter or "").strip()
        try:
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
            if row.unit is not None and str(row.unit).strip():
                if _unit_key(str(row.unit)) != _unit_key(parameter.unit):
                    raise InvalidMeasurement(
                        "%(parameter)s is measured in %(unit)s, not %(given)s.",
                        code,
                        parameter=code,
                        unit=parameter.unit,
                        given=str(row.unit).strip(),
                    )
            value = _number(row.value, code, "value")
            uncertainty = (
                Decimal(0)
                if row.uncertainty is None or str(row.uncertainty).strip() == ""
                else _number(row.uncertainty, code, "uncertainty")
            )
            measurements.append(Measurement(code, value, uncertainty))
        except QualityError as error:
            problems.append((number, error))
    if len(problems) == 1:
        raise problems[0][1]
    if problems:
        raise AssayRowsInvalid(problems)
    return measurements


def parse_assay_csv(text: str) -> list[ResultInput]:
    """Rows of a CSV with columns parameter, value, uncertainty (optional), unit (optional)."""
    text = text.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text))
    lines = [(n, r) for n, r in enumerate(reader, start=1) if any(c.strip() for c in r)]
    if not lines:
        raise InvalidMeasurement("The CSV file is empty.", "csv")
    header_line, header = lines[0]
    names = [h.strip().lower() for h in header]
    if "parameter" not in names or "value" not in names:
        raise InvalidMeasurement(
            "The first CSV line must name the columns parameter and value.", "csv"
        )
    unknown = [n for n in names if n not in CSV_COLUMNS]
    if unknown:
        raise InvalidMeasurement("Unknown CSV column %(column)s.", "csv", column=unknown[0])
    rows: list[ResultInput] = []
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
        data = dict(zip(names, (c.strip() for c in cells), strict=True))
        rows.append(
            ResultInput(
                data["parameter"],
                data["value"],
                data.get("uncertainty"),
                data.get("unit"),
                row=number,
            )
        )
    if len(problems) == 1:
        raise problems[0][1]
    if problems:
        raise AssayRowsInvalid(problems)
    if not rows:
        raise InvalidMeasurement("Give at least one result.", "results")
    return rows


def _tonnes_kg(value: Any) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        tonnes = Decimal(str(value).strip())
    except InvalidOperation:
        tonnes = None
    if tonnes is None or not tonnes.is_finite() or tonnes <= 0 or tonnes > 1_000_000:
        raise InvalidAssay("Tonnes must be a positive number.", "tonnes")
    if tonnes != tonnes.quantize(Decimal("0.001")):
        raise InvalidAssay("Tonnes have at most three decimal places.", "tonnes")
    return int((tonnes * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _text(value: Any, name: str, limit: int, required: bool = True) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise InvalidAssay("%(name)s is required.", name, name=name)
    if len(text) > limit:
        raise InvalidAssay("%(name)s has at most %(n)s characters.", name, name=name, n=limit)
    return text


EVIDENCE_KEYS = (
    "declared",
    "third_party_inspected",
    "radioactivity_checked",
    "identification_method",
    "inspections",
)


def _evidence(data: Mapping[str, Any], family: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidEvidence(None, "evidence")
    unknown = [k for k in data if k not in EVIDENCE_KEYS]
    if unknown:
        raise InvalidEvidence("Unknown evidence %(key)s.", "evidence", key=unknown[0])
    declared = data.get("declared") or {}
    if not isinstance(declared, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in declared.items()
    ):
        raise InvalidEvidence("The declared description must map names to text.", "evidence")
    clean = {
        "declared": {k: v.strip() for k, v in declared.items() if v.strip()},
        "third_party_inspected": bool(data.get("third_party_inspected", False)),
        "radioactivity_checked": bool(data.get("radioactivity_checked", False)),
        "identification_method": (
            str(data.get("identification_method") or "").strip().upper() or None
        ),
    }
    LotEvidence(family, clean["declared"], identification_method=clean["identification_method"])
    return clean


def record_assay(
    session: Session, org_id: int, header: AssayHeader, results: Sequence[ResultInput]
) -> Assay:
    """Validate the header and every result, then store the assay (flush, no commit)."""
    material = get_material(session, str(header.material_code or "").strip())
    lot_ref = _text(header.lot_ref, "lot_ref", 80)
    lab_name = _text(header.lab_name, "lab_name", 200)
    method = _text(header.method, "method", 200, required=False)
    if not isinstance(header.sampled_on, date) or not isinstance(header.reported_on, date):
        raise InvalidAssay("Give the sampling and report dates.", "sampled_on")
    if header.reported_on < header.sampled_on:
        raise InvalidAssay("The report cannot be dated before the sampling.", "reported_on")
    tonnes_kg = _tonnes_kg(header.tonnes)
    evidence = _evidence(header.evidence or {}, material.family)
    inspections = (header.evidence or {}).get("inspections") or {}
    if not isinstance(inspections, Mapping):
        raise InvalidEvidence("Inspections map requirement codes to yes or no.", "inspections")
    evidence["inspections"] = check_inspections(session, material.code, inspections)
    measurements = validate_results(session, results)
    assay = Assay(
        organization_id=org_id,
        lot_ref=lot_ref,
        material_code=material.code,
        lab_name=lab_name,
        lab_accredited=bool(header.lab_accredited),
        method=method,
        sampled_on=header.sampled_on,
        reported_on=header.reported_on,
        evidence_json=json.dumps(evidence, sort_keys=True, ensure_ascii=False),
        tonnes_kg=tonnes_kg,
    )
    session.add(assay)
    session.flush()
    for m in measurements:
        session.add(
            AssayResult(
                assay_id=assay.id, parameter=m.parameter, value=m.value, uncertainty=m.uncertainty
            )
        )
    session.flush()
    return assay


def results_of(session: Session, assay: Assay) -> list[AssayResult]:
    return list(
        session.exec(
            select(AssayResult)
            .where(AssayResult.assay_id == assay.id)
            .order_by(col(AssayResult.id))
        ).all()
    )


def measurements_of(session: Session, assay: Assay) -> list[Measurement]:
    return [Measurement(r.parameter, r.value, r.uncertainty) for r in results_of(session, assay)]


def evidence_of(assay: Assay) -> dict[str, Any]:
    return json.loads(assay.evidence_json or "{}")


def inspections_of(assay: Assay) -> dict[str, bool]:
    """Inspection answers stored with the assay (requirement code → passed)."""
    return {k: bool(v) for k, v in (evidence_of(assay).get("inspections") or {}).items()}


def check_inspections(
    session: Session, material: str, inspections: Mapping[str, Any]
) -> dict[str, bool]:
    """Inspection answers whose codes are requirements of some grade of the material."""
    known = {
        r.code for spec in published_specs_of_material(session, material) for r in spec.requirements
    }
    clean: dict[str, bool] = {}
    for code, passed in inspections.items():
        if code not in known:
            raise InvalidMeasurement("Unknown requirement %(code)s.", code, code=code)
        if not isinstance(passed, bool):
            raise InvalidMeasurement(
                "The inspection of %(parameter)s must be yes or no.", code, parameter=code
            )
        clean[code] = passed
    return clean


def save_inspections(session: Session, assay: Assay, inspections: Mapping[str, Any]) -> None:
    """Store inspection answers of the lot with its assay (used for the assessment)."""
    clean = check_inspections(session, assay.material_code, inspections)
    evidence = evidence_of(assay)
    evidence["inspections"] = {**(evidence.get("inspections") or {}), **clean}
    assay.evidence_json = json.dumps(evidence, sort_keys=True, ensure_ascii=False)
    session.add(assay)
    session.flush()


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
    measurements: Sequence[Measurement],
    inspections: Mapping[str, bool] | None = None,
) -> AssessmentReport:
    """Assess against one version and find the best published grade of the same material."""
    inspections = dict(inspections or {})
    spec = spec_of(version, standard)
    assessment = assess(spec, measurements, inspections)
    specs = published_specs_of_material(session, standard.material_code)
    best = best_grade(specs, measurements, inspections) if specs else None
    return AssessmentReport(standard, version, spec, assessment, best)


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


def assay_evidence(session: Session, assay: Assay) -> LotEvidence:
    """The lot evidence of an assay, for its data-quality level."""
    material = get_material(session, assay.material_code)
    data = evidence_of(assay)
    return LotEvidence(
        material.family,
        declared=data.get("declared") or {},
        measured=frozenset(r.parameter for r in results_of(session, assay)),
        lab_accredited=assay.lab_accredited,
        method_stated=bool(assay.method.strip()),
        third_party_inspected=bool(data.get("third_party_inspected")),
        radioactivity_checked=bool(data.get("radioactivity_checked")),
        identification_method=data.get("identification_method") or None,
    )


def assay_data_quality(session: Session, assay: Assay) -> tuple[int, list[str]]:
    """(level 0–4, what is missing for the next level)."""
    evidence = assay_evidence(session, assay)
    return data_quality_level(evidence), missing_for_next_level(evidence)
