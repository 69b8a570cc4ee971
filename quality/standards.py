"""Joint standard-setting: proposals, consultation, publication, withdrawal and retirement.

States: draft → consultation → published → retired; draft or consultation → withdrawn. One
function (`transition`) performs every move and refuses the others. Published and retired
versions are never edited: a change is a new version. Organisations are plain ids and kinds
passed by the caller (web/ checks verification with market before calling).
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, func, select

from quality.catalogue import (
    build_spec,
    check_spec_parameters,
    encode_spec,
    get_material,
    get_standard,
    spec_of,
)
from quality.dbtypes import utcnow
from quality.errors import (
    ImmutableVersion,
    InvalidSpec,
    InvalidTransition,
    QualityError,
    UnknownStandard,
)
from quality.grading import DecisionRule, GradeSpec, Limit
from quality.models import (
    ConsultationResponse,
    GradeStandard,
    Position,
    StandardVersion,
    VersionStatus,
)

STANDARDS_BODY = "standards_body"
CODE_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9-]{1,38}[A-Z0-9]")

S = VersionStatus
TRANSITIONS: dict[VersionStatus, frozenset[VersionStatus]] = {
    S.DRAFT: frozenset({S.CONSULTATION, S.WITHDRAWN}),
    S.CONSULTATION: frozenset({S.PUBLISHED, S.WITHDRAWN}),
    S.PUBLISHED: frozenset({S.RETIRED}),
    S.WITHDRAWN: frozenset(),
    S.RETIRED: frozenset(),
}


class NotPermitted(QualityError):
    """The acting organisation may not take this step of the standard-setting workflow."""

    status = 403
    message = "Your organisation may not do this."


def transition(session: Session, version: StandardVersion, target: VersionStatus) -> None:
    """Move a version to `target` or raise InvalidTransition."""
    current = VersionStatus(version.status)
    if target not in TRANSITIONS[current]:
        standard = session.get(GradeStandard, version.standard_id)
        raise InvalidTransition(
            None,
            "status",
            code=f"{standard.code if standard else '?'} v{version.number}",
            current=str(current),
            target=str(target),
        )
    version.status = target
    session.add(version)


def _require_verified(org_verified: bool) -> None:
    if not org_verified:
        raise NotPermitted("Only verified organisations may take part in standard-setting.")


def _require_standards_body(actor_kind: str) -> None:
    if actor_kind != STANDARDS_BODY:
        raise NotPermitted("Only a standards body may do this.")


def _decision_rule(value: str) -> str:
    try:
        return str(DecisionRule(value))
    except ValueError:
        raise InvalidSpec(
            "Choose the simple or the guarded decision rule.", "decision_rule"
        ) from None


def _parse_spec_data(spec_data: Any) -> Any:
    if isinstance(spec_data, str):
        try:
            return json.loads(spec_data)
        except json.JSONDecodeError:
            raise InvalidSpec("The specification is not valid JSON.", "spec") from None
    return spec_data


def _checked_spec(
    session: Session,
    standard_code: str,
    number: int,
    material: str,
    rank: int,
    decision_rule: str,
    spec_data: Any,
) -> GradeSpec:
    spec = build_spec(
        _parse_spec_data(spec_data),
        standard_code,
        number,
        material,
        rank,
        _decision_rule(decision_rule),
    )
    if not spec.limits and not spec.requirements:
        raise InvalidSpec("A grade needs at least one limit or requirement.", "spec")
    check_spec_parameters(session, spec)
    for target in {x.downgrade_to for x in (*spec.limits, *spec.requirements) if x.downgrade_to}:
        other = get_standard(session, target)
        if other.material_code != material:
            raise InvalidSpec(
                "%(code)s downgrades to a grade of another material.", "spec", code=target
            )
    return spec


def propose_standard(
    session: Session,
    org_id: int,
    org_verified: bool,
    code: str,
    material_code: str,
    name_en: str,
    name_ja: str,
    rank: int,
    decision_rule: str,
    spec_data: Any,
    source: str = "",
    change_note: str = "",
) -> StandardVersion:
    """A new standard with its version 1 as a draft (flush, no commit)."""
    _require_verified(org_verified)
    code = (code or "").strip().upper()
    if not CODE_PATTERN.fullmatch(code):
        raise InvalidSpec("A standard code has 3–40 capital letters, digits and hyphens.", "code")
    if session.exec(select(GradeStandard.id).where(GradeStandard.code == code)).first():
        raise InvalidSpec("A standard with code %(code)s already exists.", "code", code=code)
    material = get_material(session, material_code)
    if not (name_en or "").strip() or not (name_ja or "").strip():
        raise InvalidSpec("Give the name in English and in Japanese.", "name_en")
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= 99:
        raise InvalidSpec("The rank is a whole number from 1 (best) to 99.", "rank")
    spec = _checked_spec(session, code, 1, material.code, rank, decision_rule, spec_data)
    standard = GradeStandard(
        code=code,
        material_code=material.code,
        name_en=name_en.strip()[:200],
        name_ja=name_ja.strip()[:200],
        rank=rank,
    )
    session.add(standard)
    session.flush()
    return _new_version(session, standard, 1, spec, org_id, source, change_note)


def _new_version(
    session: Session,
    standard: GradeStandard,
    number: int,
    spec: GradeSpec,
    org_id: int,
    source: str,
    change_note: str,
) -> StandardVersion:
    version = StandardVersion(
        standard_id=standard.id,
        number=number,
        status=VersionStatus.DRAFT,
        decision_rule=str(spec.decision_rule),
        spec_json=encode_spec(spec),
        source=(source or "").strip()[:300],
        change_note=(change_note or "").strip(),
        proposed_by_org_id=org_id,
    )
    session.add(version)
    session.flush()
    return version


def propose_revision(
    session: Session,
    org_id: int,
    org_verified: bool,
    code: str,
    decision_rule: str,
    spec_data: Any,
    source: str = "",
    change_note: str = "",
) -> StandardVersion:
    """A draft of the next version of an existing standard (flush, no commit)."""
    _require_verified(org_verified)
    standard = get_standard(session, code)
    if not (change_note or "").strip():
        raise InvalidSpec("Say what the revision changes and why.", "change_note")
    latest = session.exec(
        select(func.max(StandardVersion.number)).where(StandardVersion.standard_id == standard.id)
    ).one()
    number = (latest or 0) + 1
    spec = _checked_spec(
        session,
        standard.code,
        number,
        standard.material_code,
        standard.rank,
        decision_rule,
        spec_data,
    )
    return _new_version(session, standard, number, spec, org_id, source, change_note)


def edit_version(
    session: Session,
    version: StandardVersion,
    org_id: int,
    decision_rule: str,
    spec_data: Any,
    source: str | None = None,
    change_note: str | None = None,
) -> StandardVersion:
    """Change a draft (by its proposer); any other version is immutable."""
    standard = session.get(GradeStandard, version.standard_id)
    if version.status != VersionStatus.DRAFT:
        raise ImmutableVersion(
            None, "status", version=version.number, code=standard.code, status=version.status
        )
    if version.proposed_by_org_id != org_id:
        raise NotPermitted("Only the proposing organisation may edit its draft.")
    spec = _checked_spec(
        session,
        standard.code,
        version.number,
        standard.material_code,
        standard.rank,
        decision_rule,
        spec_data,
    )
    version.spec_json = encode_spec(spec)
    version.decision_rule = str(spec.decision_rule)
    if source is not None:
        version.source = source.strip()[:300]
    if change_note is not None:
        version.change_note = change_note.strip()
    session.add(version)
    session.flush()
    return version


def open_consultation(
    session: Session,
    version: StandardVersion,
    actor_kind: str,
    ends_at: datetime,
    now: datetime | None = None,
) -> StandardVersion:
    """A standards body opens the consultation on a draft until `ends_at` (aware UTC)."""
    _require_standards_body(actor_kind)
    now = now or utcnow()
    if ends_at.tzinfo is None or ends_at <= now:
        raise InvalidSpec("The consultation must end in the future.", "ends_at")
    transition(session, version, VersionStatus.CONSULTATION)
    version.consultation_ends_at = ends_at
    session.flush()
    return version


def respond(
    session: Session,
    version: StandardVersion,
    org_id: int,
    org_kind: str,
    org_verified: bool,
    member_id: int | None,
    position: str,
    comment: str = "",
    now: datetime | None = None,
) -> ConsultationResponse:
    """A verified organisation endorses, objects or comments; one response, updatable."""
    _require_verified(org_verified)
    now = now or utcnow()
    if version.status != VersionStatus.CONSULTATION or (
        version.consultation_ends_at is not None and now >= version.consultation_ends_at
    ):
        raise NotPermitted("The consultation on this version is not open.")
    try:
        position = str(Position(position))
    except ValueError:
        raise InvalidSpec("Choose endorse, object or comment.", "position") from None
    comment = (comment or "").strip()
    if position != Position.ENDORSE and not comment:
        raise InvalidSpec("Give your reasons in a comment.", "comment")
    if len(comment) > 4000:
        raise InvalidSpec("A comment has at most %(n)s characters.", "comment", n=4000)
    response = session.exec(
        select(ConsultationResponse).where(
            ConsultationResponse.version_id == version.id,
            ConsultationResponse.organization_id == org_id,
        )
    ).first()
    if response is None:
        response = ConsultationResponse(
            version_id=version.id, organization_id=org_id, created_at=now, position=position
        )
    response.organization_kind = org_kind
    response.member_id = member_id
    response.position = position
    response.comment = comment
    response.updated_at = now
    session.add(response)
    session.flush()
    return response


def responses_of(session: Session, version_id: int) -> list[ConsultationResponse]:
    return list(
        session.exec(
            select(ConsultationResponse)
            .where(ConsultationResponse.version_id == version_id)
            .order_by(col(ConsultationResponse.created_at), col(ConsultationResponse.id))
        ).all()
    )


def tally(session: Session, version_id: int) -> dict[str, dict[str, int]]:
    """Responses counted by organisation kind: {kind: {endorse, object, comment}}."""
    counts: dict[str, dict[str, int]] = {}
    for response in responses_of(session, version_id):
        row = counts.setdefault(response.organization_kind, {p.value: 0 for p in Position})
        row[response.position] += 1
    return dict(sorted(counts.items()))


def publish_version(
    session: Session,
    version: StandardVersion,
    actor_kind: str,
    effective_from: date,
    now: datetime | None = None,
) -> StandardVersion:
    """A standards body publishes a version under consultation; earlier ones stay valid."""
    _require_standards_body(actor_kind)
    if not isinstance(effective_from, date):
        raise InvalidSpec("Give the effective date.", "effective_from")
    transition(session, version, VersionStatus.PUBLISHED)
    version.effective_from = effective_from
    version.published_at = now or utcnow()
    session.flush()
    return version


def withdraw_version(
    session: Session, version: StandardVersion, actor_kind: str, org_id: int
) -> StandardVersion:
    """The standards body (or the proposer of a draft) withdraws an unpublished version."""
    if actor_kind != STANDARDS_BODY and not (
        version.status == VersionStatus.DRAFT and version.proposed_by_org_id == org_id
    ):
        raise NotPermitted("Only a standards body may do this.")
    transition(session, version, VersionStatus.WITHDRAWN)
    session.flush()
    return version


def retire_version(session: Session, version: StandardVersion, actor_kind: str) -> StandardVersion:
    """A standards body retires a published version (it stays readable and verifiable)."""
    _require_standards_body(actor_kind)
    transition(session, version, VersionStatus.RETIRED)
    session.flush()
    return version


# --- diff -------------------------------------------------------------------------------------


def describe_limit(limit: Limit) -> str:
    """A limit as short text: "≥ 94", "≤ 50", "< 2", "0.72–0.80", "none detected"."""
    if limit.kind == "none_detected":
        bound = "none detected"
    elif limit.kind == "min":
        bound = f"{'>' if limit.min_exclusive else '≥'} {limit.min}"
    elif limit.kind == "max":
        bound = f"{'<' if limit.max_exclusive else '≤'} {limit.max}"
    else:
        low = f"> {limit.min}" if limit.min_exclusive else f"{limit.min}"
        high = f"< {limit.max}" if limit.max_exclusive else f"{limit.max}"
        bound = f"{low} – {high}"
    action = str(limit.action)
    if limit.downgrade_to:
        action = f"downgrade → {limit.downgrade_to}"
    if limit.schedule is not None:
        s = limit.schedule
        action += f" (band {s.free_band}, ¥{s.jpy_per_t_per_unit}/t per unit"
        action += f", cap ¥{s.cap_jpy_per_t}" if s.cap_jpy_per_t is not None else ""
        action += f", reject beyond {s.reject_beyond}" if s.reject_beyond is not None else ""
        action += ")"
    return f"{bound}; {action}"


@dataclass(frozen=True)
class Change:
    """One difference between two versions: what (limit/requirement/…), key, before, after."""

    what: str
    key: str
    change: str  # added | removed | changed
    before: str
    after: str


def _limits_by_parameter(spec: GradeSpec) -> Mapping[str, str]:
    by: dict[str, list[str]] = {}
    for limit in spec.limits:
        by.setdefault(limit.parameter, []).append(describe_limit(limit))
    return {k: "; ".join(v) for k, v in by.items()}


def _compare(what: str, a: Mapping[str, str], b: Mapping[str, str]) -> list[Change]:
    changes: list[Change] = []
    for key in [*a, *(k for k in b if k not in a)]:
        before, after = a.get(key, ""), b.get(key, "")
        if before == after:
            continue
        kind = "added" if key not in a else "removed" if key not in b else "changed"
        changes.append(Change(what, key, kind, before, after))
    return changes


def diff_versions(a: GradeSpec, b: GradeSpec) -> list[Change]:
    """Changes from spec a to spec b: decision rule, limits per parameter, requirements."""
    changes: list[Change] = []
    if a.decision_rule != b.decision_rule:
        changes.append(
            Change("decision_rule", "decision_rule", "changed", a.decision_rule, b.decision_rule)
        )
    changes += _compare("limit", _limits_by_parameter(a), _limits_by_parameter(b))

    def reqs(spec: GradeSpec) -> dict[str, str]:
        return {
            r.code: f"{r.text_en} ({r.action}{' → ' + r.downgrade_to if r.downgrade_to else ''})"
            for r in spec.requirements
        }

    changes += _compare("requirement", reqs(a), reqs(b))
    changes += _compare(
        "derived",
        {d.code: " + ".join(d.sum_of) for d in a.derived},
        {d.code: " + ".join(d.sum_of) for d in b.derived},
    )
    return changes


def version_spec(session: Session, version: StandardVersion) -> GradeSpec:
    standard = session.get(GradeStandard, version.standard_id)
    if standard is None:
        raise UnknownStandard(None, "standard", code=str(version.standard_id))
    return spec_of(version, standard)
