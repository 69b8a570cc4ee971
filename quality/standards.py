"""Joint standard-setting: proposals, consultation, publication, withdrawal and retirement.

States: draft → consultation → published → retired; draft or consultation → withdrawn. One
function (`_transition`) performs every move and refuses the others. Published and retired
versions are never edited: a change is a new version.

Who may do what (checked here, for the page, the API and the demo alike):
- a member of any verified organisation proposes a standard or a revision
  (`PROPOSE_STANDARDS`) and responds to an open consultation (`RESPOND_TO_CONSULTATIONS`);
- the proposing organisation edits its own draft (`EDIT_DRAFTS`) and may withdraw it;
- a verified standards body opens the consultation, publishes, withdraws and retires
  (`ADMINISTER_STANDARDS`).
The catalogue, the versions, the consultations and their responses are public.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError
from sqlmodel import Session, col, func, select

from participants.actors import Actor, drafting, permission
from participants.audit import record_audit
from participants.columns import utcnow
from participants.errors import N_
from participants.fields import Count, Day, Line, Measurement, Paragraphs, Yen
from participants.models import OrgKind
from quality.catalogue import (
    build_spec,
    check_spec_parameters,
    encode_spec,
    get_material,
    get_standard,
    get_version,
    latest_published_version,
    spec_of,
    versions_of,
)
from quality.errors import (
    ConsultationClosed,
    ImmutableVersion,
    InvalidSpec,
    InvalidTransition,
    NotPermitted,
    UnknownStandard,
)
from quality.grading import GradeSpec, Limit
from quality.models import (
    ConsultationResponse,
    GradeStandard,
    Material,
    Position,
    StandardVersion,
    VersionStatus,
)

STANDARDS_BODY = OrgKind.STANDARDS_BODY.value
CODE_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9-]{1,38}[A-Z0-9]")
SPEC_MAX_CHARS = 50_000
# 24:00 in Japan: a consultation "ends on" a day at midnight Asia/Tokyo (15:00 UTC).
CONSULTATION_ENDS_AT_UTC = time(15, 0)

PROPOSE_STANDARDS = permission(N_("Only verified organisations may take part in standard-setting."))
EDIT_DRAFTS = permission(N_("Only the proposing organisation may edit its draft."))
RESPOND_TO_CONSULTATIONS = permission(
    N_("Only verified organisations may respond to a consultation.")
)
ADMINISTER_STANDARDS = permission(
    N_("Only a standards body may do this."), kinds=[OrgKind.STANDARDS_BODY]
)

S = VersionStatus
TRANSITIONS: dict[VersionStatus, frozenset[VersionStatus]] = {
    S.DRAFT: frozenset({S.CONSULTATION, S.WITHDRAWN}),
    S.CONSULTATION: frozenset({S.PUBLISHED, S.WITHDRAWN}),
    S.PUBLISHED: frozenset({S.RETIRED}),
    S.WITHDRAWN: frozenset(),
    S.RETIRED: frozenset(),
}


# --- input ------------------------------------------------------------------------------------

Action = Literal["reject", "deduct", "downgrade"]
GradeCode = Line(40)


class ScheduleIn(BaseModel):
    """Price deduction of a limit: free band, yen per tonne per unit, cap, rejection limit."""

    model_config = ConfigDict(extra="forbid")
    free_band: Measurement = Decimal(0)
    jpy_per_t_per_unit: Measurement
    cap_jpy_per_t: Yen | None = None
    reject_beyond: Measurement | None = None


class LimitIn(BaseModel):
    """A bound on one parameter and what a breach costs (numbers as decimal text)."""

    model_config = ConfigDict(extra="forbid")
    parameter: Line(40, min_length=1)
    kind: Literal["min", "max", "range", "none_detected"]
    min: Measurement | None = None
    max: Measurement | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    action: Action = "reject"
    downgrade_to: GradeCode | None = None
    schedule: ScheduleIn | None = None
    note: Line(300) = ""


class RequirementIn(BaseModel):
    """A requirement checked by inspection (e.g. no_brass), in English and Japanese."""

    model_config = ConfigDict(extra="forbid")
    code: Line(60, min_length=1)
    text_en: Line(300) = ""
    text_ja: Line(300) = ""
    action: Action = "reject"
    downgrade_to: GradeCode | None = None


class DerivedIn(BaseModel):
    """A parameter computed as the sum of measured ones (e.g. ni_co_pct)."""

    model_config = ConfigDict(extra="forbid")
    code: Line(40, min_length=1)
    sum_of: list[Line(40, min_length=1)] = Field(max_length=10)


class SpecIn(BaseModel):
    """Limits, requirements and derived parameters of one version of a grade."""

    model_config = ConfigDict(extra="forbid")
    limits: list[LimitIn] = Field(default_factory=list, max_length=100)
    requirements: list[RequirementIn] = Field(default_factory=list, max_length=50)
    derived: list[DerivedIn] = Field(default_factory=list, max_length=20)


def _spec_from_text(value: Any) -> Any:
    """The page sends the specification as JSON text; the API as an object."""
    if not isinstance(value, str):
        return value
    if len(value) > SPEC_MAX_CHARS:
        raise PydanticCustomError(
            "spec_too_long", "The specification is too long (at most 50,000 characters)."
        )
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        raise PydanticCustomError("spec_json", "The specification is not valid JSON.") from None


SpecField = Annotated[SpecIn, BeforeValidator(_spec_from_text)]
DecisionRuleName = Literal["simple", "guarded"]


class StandardRevision(BaseModel):
    """A new version of a standard (or the new content of a draft): rule, limits, source."""

    model_config = ConfigDict(extra="forbid")
    decision_rule: DecisionRuleName = "simple"
    spec: SpecField
    source: Line(300) = ""
    change_note: Paragraphs(4000) = ""


class StandardProposal(StandardRevision):
    """A new grade standard: code, material, names, rank, and its version 1."""

    code: Line(40, min_length=3)
    material: Line(40, min_length=1)
    name_en: Line(200, min_length=1)
    name_ja: Line(200, min_length=1)
    rank: Annotated[Count, Field(ge=1, le=99)]


class ConsultationOpening(BaseModel):
    """The last day of the consultation (it ends at 24:00 Japan time)."""

    model_config = ConfigDict(extra="forbid")
    ends_on: Day


class Publication(BaseModel):
    """The day a published version takes effect, and why it is published now when its
    consultation is still open or an objection stands (required then, recorded on the version).
    """

    model_config = ConfigDict(extra="forbid")
    effective_from: Day
    justification: Paragraphs(4000) = ""


class ResponseInput(BaseModel):
    """An organisation's position on a version under consultation; reasons unless endorsing."""

    model_config = ConfigDict(extra="forbid")
    position: Literal["endorse", "object", "comment"]
    comment: Paragraphs(4000) = ""


# --- workflow ---------------------------------------------------------------------------------


def _transition(session: Session, version: StandardVersion, target: VersionStatus) -> None:
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


def _checked_spec(
    session: Session,
    standard_code: str,
    number: int,
    material: str,
    rank: int,
    decision_rule: str,
    spec_in: SpecIn,
) -> GradeSpec:
    spec = build_spec(
        spec_in.model_dump(mode="json"), standard_code, number, material, rank, decision_rule
    )
    if not spec.limits and not spec.requirements:
        raise InvalidSpec("A grade needs at least one limit or requirement.", "spec")
    check_spec_parameters(session, spec)
    for target in {x.downgrade_to for x in (*spec.limits, *spec.requirements) if x.downgrade_to}:
        try:
            other = get_standard(session, target)
        except UnknownStandard:
            raise InvalidSpec(
                "%(code)s downgrades to an unknown grade.", "spec", code=target
            ) from None
        if other.material_code != material:
            raise InvalidSpec(
                "%(code)s downgrades to a grade of another material.", "spec", code=target
            )
    return spec


def proposal_materials(session: Session, actor: Actor) -> list[Material]:
    """The materials a new standard may be for (the form's choices), for those who may propose
    and for organisations waiting for verification (the form shows; proposing waits)."""
    drafting(PROPOSE_STANDARDS).check(actor)
    return list(session.exec(select(Material).order_by(col(Material.code))).all())


def propose_standard(session: Session, actor: Actor, data: StandardProposal) -> StandardVersion:
    """A new standard with its version 1 as a draft (flush, no commit)."""
    PROPOSE_STANDARDS.check(actor)
    code = data.code.strip().upper()
    if not CODE_PATTERN.fullmatch(code):
        raise InvalidSpec("A standard code has 3–40 capital letters, digits and hyphens.", "code")
    if session.exec(select(GradeStandard.id).where(GradeStandard.code == code)).first():
        raise InvalidSpec("A standard with code %(code)s already exists.", "code", code=code)
    try:
        material = get_material(session, data.material.strip())
    except UnknownStandard:
        raise InvalidSpec("Unknown material %(code)s.", "material", code=data.material) from None
    name_en, name_ja = data.name_en.strip(), data.name_ja.strip()
    if not name_en or not name_ja:
        raise InvalidSpec("Give the name in English and in Japanese.", "name_en")
    spec = _checked_spec(session, code, 1, material.code, data.rank, data.decision_rule, data.spec)
    standard = GradeStandard(
        code=code, material_code=material.code, name_en=name_en, name_ja=name_ja, rank=data.rank
    )
    session.add(standard)
    session.flush()
    return _new_version(session, standard, 1, spec, actor, data)


def _new_version(
    session: Session,
    standard: GradeStandard,
    number: int,
    spec: GradeSpec,
    actor: Actor,
    data: StandardRevision,
) -> StandardVersion:
    version = StandardVersion(
        standard_id=standard.id,
        number=number,
        status=VersionStatus.DRAFT,
        decision_rule=str(spec.decision_rule),
        spec_json=encode_spec(spec),
        source=data.source.strip(),
        change_note=data.change_note.strip(),
        proposed_by_org_id=actor.organization_id,
    )
    session.add(version)
    session.flush()
    return version


def revision_base(
    session: Session, actor: Actor, code: str
) -> tuple[GradeStandard, StandardVersion]:
    """The version a revision starts from (latest published, else the newest), for proposers
    and for organisations waiting for verification (the form shows; proposing waits)."""
    drafting(PROPOSE_STANDARDS).check(actor)
    standard = get_standard(session, code)
    base = latest_published_version(session, standard) or versions_of(session, standard)[-1]
    return standard, base


def propose_revision(
    session: Session, actor: Actor, code: str, data: StandardRevision
) -> StandardVersion:
    """A draft of the next version of an existing standard (flush, no commit)."""
    PROPOSE_STANDARDS.check(actor)
    standard = get_standard(session, code)
    if not data.change_note.strip():
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
        data.decision_rule,
        data.spec,
    )
    return _new_version(session, standard, number, spec, actor, data)


def _own_draft(session: Session, actor: Actor, version: StandardVersion) -> GradeStandard:
    EDIT_DRAFTS.check(actor)
    standard = session.get(GradeStandard, version.standard_id)
    if version.status != VersionStatus.DRAFT:
        raise ImmutableVersion(
            None, "status", version=version.number, code=standard.code, status=version.status
        )
    if not actor.owns(version.proposed_by_org_id):
        raise NotPermitted("Only the proposing organisation may edit its draft.")
    return standard


def draft_to_edit(
    session: Session, actor: Actor, code: str, number: int
) -> tuple[GradeStandard, StandardVersion]:
    """A draft its proposer may edit (the edit form); any other version is immutable (409)."""
    standard, version = get_version(session, code, number)
    _own_draft(session, actor, version)
    return standard, version


def edit_version(
    session: Session, actor: Actor, version: StandardVersion, data: StandardRevision
) -> StandardVersion:
    """Change a draft (by its proposer); the fields sent replace the stored ones."""
    standard = _own_draft(session, actor, version)
    spec = _checked_spec(
        session,
        standard.code,
        version.number,
        standard.material_code,
        standard.rank,
        data.decision_rule,
        data.spec,
    )
    version.spec_json = encode_spec(spec)
    version.decision_rule = str(spec.decision_rule)
    if "source" in data.model_fields_set:
        version.source = data.source.strip()
    if "change_note" in data.model_fields_set:
        version.change_note = data.change_note.strip()
    session.add(version)
    session.flush()
    return version


def consultation_end(ends_on) -> datetime:
    """The moment a consultation ending on `ends_on` closes: 24:00 Japan time, in UTC."""
    return datetime.combine(ends_on, CONSULTATION_ENDS_AT_UTC, tzinfo=UTC)


def open_consultation(
    session: Session,
    actor: Actor,
    version: StandardVersion,
    data: ConsultationOpening,
    now: datetime | None = None,
) -> StandardVersion:
    """A standards body opens the consultation on a draft until the end of `ends_on`."""
    ADMINISTER_STANDARDS.check(actor)
    now = now or utcnow()
    ends_at = consultation_end(data.ends_on)
    if ends_at <= now:
        raise InvalidSpec("The consultation must end in the future.", "ends_on")
    _transition(session, version, VersionStatus.CONSULTATION)
    version.consultation_ends_at = ends_at
    session.flush()
    return version


def is_open(version: StandardVersion, now: datetime | None = None) -> bool:
    """True while a version is under consultation and its end has not come."""
    now = now or utcnow()
    return version.status == VersionStatus.CONSULTATION and (
        version.consultation_ends_at is None or now < version.consultation_ends_at
    )


def open_consultations(
    session: Session, now: datetime | None = None
) -> list[tuple[GradeStandard, StandardVersion]]:
    """Versions whose consultation is still open (public), the soonest to close first."""
    now = now or utcnow()
    rows = session.exec(
        select(GradeStandard, StandardVersion)
        .join(StandardVersion, StandardVersion.standard_id == GradeStandard.id)
        .where(StandardVersion.status == VersionStatus.CONSULTATION)
        .order_by(col(StandardVersion.consultation_ends_at), col(GradeStandard.code))
    ).all()
    return [(std, ver) for std, ver in rows if is_open(ver, now)]


def respond(
    session: Session,
    actor: Actor,
    version: StandardVersion,
    data: ResponseInput,
    now: datetime | None = None,
) -> ConsultationResponse:
    """A verified organisation endorses, objects or comments; one response, updatable."""
    RESPOND_TO_CONSULTATIONS.check(actor)
    now = now or utcnow()
    if not is_open(version, now):
        raise ConsultationClosed()
    comment = data.comment.strip()
    if data.position != "endorse" and not comment:
        raise InvalidSpec("Give your reasons in a comment.", "comment")
    response = session.exec(
        select(ConsultationResponse).where(
            ConsultationResponse.version_id == version.id,
            ConsultationResponse.organization_id == actor.organization_id,
        )
    ).first()
    if response is None:
        response = ConsultationResponse(
            version_id=version.id,
            organization_id=actor.organization_id,
            created_at=now,
            position=data.position,
        )
    response.organization_kind = actor.organization_kind
    response.member_id = actor.member_id
    response.position = data.position
    response.comment = comment
    response.updated_at = now
    session.add(response)
    session.flush()
    return response


def responses_of(session: Session, version_id: int) -> list[ConsultationResponse]:
    """Every response to a version, oldest first (public, like the tally)."""
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
        row = counts.setdefault(
            response.organization_kind, {"endorse": 0, "object": 0, "comment": 0}
        )
        row[response.position] += 1
    return dict(sorted(counts.items()))


@dataclass(frozen=True)
class PublicationConcerns:
    """What speaks against publishing a version now: its consultation is still open, or
    organisations object (no objection is ever marked resolved, so each one stands)."""

    consultation_open: bool
    objections: int

    def __bool__(self) -> bool:
        return self.consultation_open or self.objections > 0


def publication_concerns(
    session: Session, version: StandardVersion, now: datetime | None = None
) -> PublicationConcerns:
    """Whether publishing `version` now needs a justification, and why."""
    objections = session.exec(
        select(func.count())
        .select_from(ConsultationResponse)
        .where(
            ConsultationResponse.version_id == version.id,
            ConsultationResponse.position == Position.OBJECT,
        )
    ).one()
    return PublicationConcerns(is_open(version, now), objections)


def publish_version(
    session: Session,
    actor: Actor,
    version: StandardVersion,
    data: Publication,
    now: datetime | None = None,
) -> StandardVersion:
    """A standards body publishes a version under consultation; earlier ones stay valid.

    While the consultation is open or an objection stands, only with a justification, which
    the version keeps (shown on its page) and the audit log records.
    """
    ADMINISTER_STANDARDS.check(actor)
    now = now or utcnow()
    if VersionStatus.PUBLISHED not in TRANSITIONS[VersionStatus(version.status)]:
        _transition(session, version, VersionStatus.PUBLISHED)  # raises InvalidTransition
    concerns = publication_concerns(session, version, now)
    justification = data.justification.strip()
    if concerns and not justification:
        raise InvalidSpec(
            "The consultation is still open or an objection stands: "
            "give the justification for publishing now.",
            "justification",
        )
    _transition(session, version, VersionStatus.PUBLISHED)
    version.effective_from = data.effective_from
    version.published_at = now
    version.publish_justification = justification
    record_audit(
        session,
        actor,
        "standard_version.published",
        "standardversion",
        version.id,
        {
            "effective_from": data.effective_from.isoformat(),
            "consultation_open": concerns.consultation_open,
            "objections": concerns.objections,
            "justification": justification,
        },
    )
    session.flush()
    return version


def may_withdraw(actor: Actor | None, version: StandardVersion) -> bool:
    """A standards body, or the proposer of a draft (for showing the button)."""
    if ADMINISTER_STANDARDS.allows(actor):
        return True
    return (
        EDIT_DRAFTS.allows(actor)
        and version.status == VersionStatus.DRAFT
        and actor.owns(version.proposed_by_org_id)
    )


def withdraw_version(session: Session, actor: Actor, version: StandardVersion) -> StandardVersion:
    """The standards body (or the proposer of a draft) withdraws an unpublished version."""
    if not ADMINISTER_STANDARDS.allows(actor):
        EDIT_DRAFTS.check(actor)
        if not (version.status == VersionStatus.DRAFT and actor.owns(version.proposed_by_org_id)):
            ADMINISTER_STANDARDS.check(actor)
    _transition(session, version, VersionStatus.WITHDRAWN)
    session.flush()
    return version


def retire_version(session: Session, actor: Actor, version: StandardVersion) -> StandardVersion:
    """A standards body retires a published version (it stays readable and verifiable)."""
    ADMINISTER_STANDARDS.check(actor)
    _transition(session, version, VersionStatus.RETIRED)
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
