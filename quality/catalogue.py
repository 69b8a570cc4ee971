"""The catalogue in the database: seeding from reference_data, spec encoding and look-ups."""

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session, col, select

from participants.fields import Measurement
from quality.errors import InvalidSpec, UnknownParameter, UnknownStandard
from quality.grading import (
    AdjustmentSchedule,
    DerivedParameter,
    GradeSpec,
    Limit,
    Requirement,
)
from quality.models import GradeStandard, Material, Parameter, StandardVersion, VersionStatus
from quality.reference_data import MATERIALS, PARAMETERS, STANDARDS

SEED_EFFECTIVE = date(2024, 1, 1)
SEED_PUBLISHED_AT = datetime(2024, 1, 1, tzinfo=UTC)


def _s(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


_MEASUREMENT = TypeAdapter(Measurement)


def _d(value: Any, name: str) -> Decimal | None:
    """A bound of a specification: decimal text or a whole number, within measurement bounds."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidSpec("%(name)s must be a decimal number written as text.", name, name=name)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidSpec(
            "%(name)s must be a decimal number written as text.", name, name=name
        ) from None
    if not number.is_finite():
        raise InvalidSpec("%(name)s must be a finite number.", name, name=name)
    try:
        _MEASUREMENT.validate_python(number)
    except ValidationError:
        raise InvalidSpec(
            "%(name)s is out of range (at most 10^9, twelve decimals).", name, name=name
        ) from None
    return number


def spec_to_dict(spec: GradeSpec) -> dict:
    """The JSON-ready form of a spec's limits, requirements and derived parameters."""
    limits = []
    for limit in spec.limits:
        schedule = None
        if limit.schedule is not None:
            s = limit.schedule
            schedule = {
                "free_band": _s(s.free_band),
                "jpy_per_t_per_unit": _s(s.jpy_per_t_per_unit),
                "cap_jpy_per_t": s.cap_jpy_per_t,
                "reject_beyond": _s(s.reject_beyond),
            }
        limits.append(
            {
                "parameter": limit.parameter,
                "kind": str(limit.kind),
                "min": _s(limit.min),
                "max": _s(limit.max),
                "min_exclusive": limit.min_exclusive,
                "max_exclusive": limit.max_exclusive,
                "action": str(limit.action),
                "downgrade_to": limit.downgrade_to,
                "schedule": schedule,
                "note": limit.note,
            }
        )
    return {
        "limits": limits,
        "requirements": [
            {
                "code": r.code,
                "text_en": r.text_en,
                "text_ja": r.text_ja,
                "action": str(r.action),
                "downgrade_to": r.downgrade_to,
            }
            for r in spec.requirements
        ],
        "derived": [{"code": d.code, "sum_of": list(d.sum_of)} for d in spec.derived],
    }


def encode_spec(spec: GradeSpec) -> str:
    """spec_json text: sorted keys, Decimals as strings (exact round trip)."""
    return json.dumps(spec_to_dict(spec), sort_keys=True, ensure_ascii=False)


def build_spec(
    data: Any, code: str, version: int, material: str, rank: int, decision_rule: str
) -> GradeSpec:
    """A GradeSpec from the JSON form (user input included); InvalidSpec on anything odd."""
    if not isinstance(data, dict):
        raise InvalidSpec("The specification must be a JSON object.", "spec")
    unknown = set(data) - {"limits", "requirements", "derived"}
    if unknown:
        raise InvalidSpec(
            "Unknown key %(key)s in the specification.", "spec", key=sorted(unknown)[0]
        )
    try:
        limits = []
        for item in data.get("limits") or []:
            if not isinstance(item, dict) or not isinstance(item.get("parameter"), str):
                raise InvalidSpec("Each limit needs a parameter.", "spec")
            sched = item.get("schedule")
            schedule = None
            if sched:
                if not isinstance(sched, dict):
                    raise InvalidSpec("A schedule must be a JSON object.", "spec")
                cap = sched.get("cap_jpy_per_t")
                schedule = AdjustmentSchedule(
                    _d(sched.get("free_band", "0"), "free_band"),
                    _d(sched.get("jpy_per_t_per_unit"), "jpy_per_t_per_unit"),
                    int(cap) if isinstance(cap, int | str) and str(cap).isdigit() else cap,
                    _d(sched.get("reject_beyond"), "reject_beyond"),
                )
            limits.append(
                Limit(
                    item["parameter"],
                    item.get("kind", ""),
                    min=_d(item.get("min"), "min"),
                    max=_d(item.get("max"), "max"),
                    min_exclusive=bool(item.get("min_exclusive", False)),
                    max_exclusive=bool(item.get("max_exclusive", False)),
                    action=item.get("action", "reject"),
                    downgrade_to=item.get("downgrade_to") or None,
                    schedule=schedule,
                    note=str(item.get("note") or ""),
                )
            )
        requirements = [
            Requirement(
                str(r["code"]),
                str(r.get("text_en", "")),
                str(r.get("text_ja", "")),
                r.get("action", "reject"),
                r.get("downgrade_to") or None,
            )
            for r in data.get("requirements") or []
        ]
        derived = [
            DerivedParameter(str(d["code"]), tuple(d["sum_of"])) for d in data.get("derived") or []
        ]
        return GradeSpec(
            code,
            version,
            material,
            rank,
            decision_rule,
            tuple(limits),
            tuple(requirements),
            tuple(derived),
        )
    except InvalidSpec:
        raise
    except (KeyError, TypeError, ValueError, AttributeError):
        raise InvalidSpec("The specification is not in the expected form.", "spec") from None


def spec_of(version: StandardVersion, standard: GradeStandard) -> GradeSpec:
    """The GradeSpec stored in one version of a standard."""
    return build_spec(
        json.loads(version.spec_json),
        standard.code,
        version.number,
        standard.material_code,
        standard.rank,
        version.decision_rule,
    )


def seed_catalogue(session: Session) -> int:
    """Insert missing materials, parameters and standards (version 1 published); rows added."""
    added = 0
    have = set(session.exec(select(Material.code)).all())
    for m in MATERIALS:
        if m.code not in have:
            session.add(
                Material(
                    code=m.code,
                    family=str(m.family),
                    name_en=m.name_en,
                    name_ja=m.name_ja,
                    critical=m.critical,
                )
            )
            added += 1
    have = set(session.exec(select(Parameter.code)).all())
    for p in PARAMETERS:
        if p.code not in have:
            session.add(
                Parameter(
                    code=p.code,
                    name_en=p.name_en,
                    name_ja=p.name_ja,
                    unit=p.unit,
                    basis=p.basis,
                    derived_from=" ".join(p.derived_from),
                )
            )
            added += 1
    have = set(session.exec(select(GradeStandard.code)).all())
    for ref in STANDARDS:
        if ref.code in have:
            continue
        standard = GradeStandard(
            code=ref.code,
            material_code=ref.material,
            name_en=ref.name_en,
            name_ja=ref.name_ja,
            rank=ref.spec.rank,
            created_at=SEED_PUBLISHED_AT,
        )
        session.add(standard)
        session.flush()
        session.add(
            StandardVersion(
                standard_id=standard.id,
                number=1,
                status=VersionStatus.PUBLISHED,
                decision_rule=str(ref.spec.decision_rule),
                spec_json=encode_spec(ref.spec),
                source=ref.source,
                change_note="",
                created_at=SEED_PUBLISHED_AT,
                effective_from=SEED_EFFECTIVE,
                published_at=SEED_PUBLISHED_AT,
            )
        )
        added += 1
    session.flush()
    return added


def get_material(session: Session, code: str) -> Material:
    material = session.exec(select(Material).where(Material.code == code)).first()
    if material is None:
        raise UnknownStandard("Unknown material %(code)s.", "material", code=code)
    return material


def get_standard(session: Session, code: str) -> GradeStandard:
    standard = session.exec(select(GradeStandard).where(GradeStandard.code == code)).first()
    if standard is None:
        raise UnknownStandard(None, "standard", code=code)
    return standard


def get_version(session: Session, code: str, number: int) -> tuple[GradeStandard, StandardVersion]:
    standard = get_standard(session, code)
    version = session.exec(
        select(StandardVersion).where(
            StandardVersion.standard_id == standard.id, StandardVersion.number == number
        )
    ).first()
    if version is None:
        raise UnknownStandard(
            "Grade standard %(code)s has no version %(version)s.",
            "version",
            code=code,
            version=number,
        )
    return standard, version


def parameters_by_code(session: Session) -> dict[str, Parameter]:
    return {p.code: p for p in session.exec(select(Parameter)).all()}


def get_parameter(session: Session, code: str) -> Parameter:
    parameter = session.exec(select(Parameter).where(Parameter.code == code)).first()
    if parameter is None:
        raise UnknownParameter(None, "parameter", code=code)
    return parameter


def versions_of(session: Session, standard: GradeStandard) -> list[StandardVersion]:
    return list(
        session.exec(
            select(StandardVersion)
            .where(StandardVersion.standard_id == standard.id)
            .order_by(col(StandardVersion.number))
        ).all()
    )


def versions_by_standard(
    session: Session, standard_ids: Iterable[int]
) -> dict[int, list[StandardVersion]]:
    """Every version of the given standards in one query, ordered by number."""
    ids = set(standard_ids)
    out: dict[int, list[StandardVersion]] = {i: [] for i in ids}
    if not ids:
        return out
    for version in session.exec(
        select(StandardVersion)
        .where(col(StandardVersion.standard_id).in_(ids))
        .order_by(col(StandardVersion.standard_id), col(StandardVersion.number))
    ):
        out[version.standard_id].append(version)
    return out


def latest_published_of(versions: Sequence[StandardVersion]) -> StandardVersion | None:
    """The newest published version among a standard's versions (ordered by number)."""
    published = [v for v in versions if v.status == VersionStatus.PUBLISHED]
    return published[-1] if published else None


def latest_published_version(session: Session, standard: GradeStandard) -> StandardVersion | None:
    """The newest published version of a standard (older published ones stay valid)."""
    return session.exec(
        select(StandardVersion)
        .where(
            StandardVersion.standard_id == standard.id,
            StandardVersion.status == VersionStatus.PUBLISHED,
        )
        .order_by(col(StandardVersion.number).desc())
    ).first()


def latest_published(session: Session, code: str) -> tuple[GradeStandard, StandardVersion]:
    """The standard and its latest published version; UnknownStandard when none is published."""
    standard = get_standard(session, code)
    version = latest_published_version(session, standard)
    if version is None:
        raise UnknownStandard(
            "Grade standard %(code)s has no published version.", "standard", code=code
        )
    return standard, version


def published_specs_of_material(session: Session, material: str) -> list[GradeSpec]:
    """Latest published spec of every standard of a material, best rank first."""
    specs: list[GradeSpec] = []
    standards = session.exec(
        select(GradeStandard).where(GradeStandard.material_code == material)
    ).all()
    for standard in standards:
        version = latest_published_version(session, standard)
        if version is not None:
            specs.append(spec_of(version, standard))
    return sorted(specs, key=lambda s: (s.rank, s.code))


def check_spec_parameters(session: Session, spec: GradeSpec) -> None:
    """Every limited parameter is in the catalogue (or derived in the spec)."""
    known = set(parameters_by_code(session))
    derived = {d.code for d in spec.derived}
    for code in [*(x.parameter for x in spec.limits), *(p for d in spec.derived for p in d.sum_of)]:
        if code not in known and code not in derived:
            raise UnknownParameter(None, "spec", code=code)


def requirement_codes(spec: GradeSpec) -> Sequence[str]:
    return [r.code for r in spec.requirements]


def materials_query(family: str | None = None):
    """Materials by family and code (a select, for paging), of one family if given."""
    query = select(Material).order_by(col(Material.family), col(Material.code))
    if family:
        query = query.where(Material.family == family)
    return query


def standards_query(material: str | None = None, status: str | None = None):
    """Standards by material, rank and code (a select, for paging).

    A standard's status is that of its latest published version, else that of its newest
    version: `status` filters on that, in SQL.
    """
    query = select(GradeStandard).order_by(
        col(GradeStandard.material_code), col(GradeStandard.rank), col(GradeStandard.code)
    )
    if material:
        query = query.where(GradeStandard.material_code == material)
    if status:
        published = (
            select(StandardVersion.id)
            .where(
                StandardVersion.standard_id == GradeStandard.id,
                StandardVersion.status == VersionStatus.PUBLISHED,
            )
            .exists()
        )
        if status == VersionStatus.PUBLISHED:
            query = query.where(published)
        else:
            newest = (
                select(StandardVersion.status)
                .where(StandardVersion.standard_id == GradeStandard.id)
                .order_by(col(StandardVersion.number).desc())
                .limit(1)
                .correlate(GradeStandard)
                .scalar_subquery()
            )
            query = query.where(~published, newest == status)
    return query
