"""Grade specifications and the assessment of measured lots against them (pure, Decimal only).

A grade is a set of limits on measured parameters (some derived as sums, e.g. Ni + Co) and
of qualitative requirements checked by inspection. A breach deducts money, downgrades the lot
to another grade or rejects it. Missing data never passes silently: the outcome is
`incomplete`.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum

from quality.errors import DuplicateParameter, InvalidMeasurement, InvalidSpec
from quality.pricing import round_yen

ZERO = Decimal(0)


class Family(StrEnum):
    METAL = "metal"
    PLASTIC = "plastic"
    E_SCRAP = "e-scrap"
    BATTERY = "battery"


class LimitKind(StrEnum):
    MIN = "min"
    MAX = "max"
    RANGE = "range"
    NONE_DETECTED = "none_detected"


class BreachAction(StrEnum):
    DEDUCT = "deduct"
    DOWNGRADE = "downgrade"
    REJECT = "reject"


class DecisionRule(StrEnum):
    SIMPLE = "simple"  # the measured value itself is compared with the limit
    GUARDED = "guarded"  # the uncertainty counts against the claimant (value ∓ U)


class Outcome(StrEnum):
    CONFORMS = "conforms"
    CONFORMS_WITH_DEDUCTIONS = "conforms_with_deductions"
    DOWNGRADED = "downgraded"
    REJECTED = "rejected"
    INCOMPLETE = "incomplete"


def _decimal_or_none(value: Decimal | int | None, name: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise InvalidSpec("%(name)s must be a Decimal.", name, name=name)
    if not Decimal(value).is_finite():
        raise InvalidSpec("%(name)s must be a finite number.", name, name=name)
    return Decimal(value)


@dataclass(frozen=True)
class AdjustmentSchedule:
    """Price deduction for a breach: deviations are in the unit of the limited parameter."""

    free_band: Decimal
    jpy_per_t_per_unit: Decimal
    cap_jpy_per_t: int | None = None
    reject_beyond: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("free_band", "jpy_per_t_per_unit", "reject_beyond"):
            value = _decimal_or_none(getattr(self, name), name)
            if value is not None and value < 0:
                raise InvalidSpec("%(name)s must not be negative.", name, name=name)
            object.__setattr__(self, name, value)
        if self.free_band is None or self.jpy_per_t_per_unit is None:
            raise InvalidSpec("An adjustment schedule needs a free band and a rate.", "schedule")
        if self.cap_jpy_per_t is not None and (
            isinstance(self.cap_jpy_per_t, bool)
            or not isinstance(self.cap_jpy_per_t, int)
            or self.cap_jpy_per_t < 0
        ):
            raise InvalidSpec("The cap must be whole yen, zero or more.", "cap_jpy_per_t")

    def deduction(self, deviation: Decimal) -> Decimal:
        """Yen per tonne (unrounded) for a deviation beyond the limit, after band and cap."""
        charge = max(ZERO, deviation - self.free_band) * self.jpy_per_t_per_unit
        if self.cap_jpy_per_t is not None:
            charge = min(charge, Decimal(self.cap_jpy_per_t))
        return charge


@dataclass(frozen=True)
class Limit:
    """A bound on one parameter and what a breach costs; exclusive bounds exclude equality."""

    parameter: str
    kind: LimitKind
    min: Decimal | None = None
    max: Decimal | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    action: BreachAction = BreachAction.REJECT
    downgrade_to: str | None = None
    schedule: AdjustmentSchedule | None = None
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", LimitKind(self.kind))
        object.__setattr__(self, "action", BreachAction(self.action))
        object.__setattr__(self, "min", _decimal_or_none(self.min, "min"))
        object.__setattr__(self, "max", _decimal_or_none(self.max, "max"))
        wants_min = self.kind in (LimitKind.MIN, LimitKind.RANGE)
        wants_max = self.kind in (LimitKind.MAX, LimitKind.RANGE)
        if (self.min is not None) != wants_min or (self.max is not None) != wants_max:
            raise InvalidSpec(
                "A %(kind)s limit on %(parameter)s has the wrong bounds.",
                "kind",
                kind=str(self.kind),
                parameter=self.parameter,
            )
        if (self.min_exclusive and not wants_min) or (self.max_exclusive and not wants_max):
            raise InvalidSpec(
                "An exclusive flag on %(parameter)s has no bound.", "kind", parameter=self.parameter
            )
        if self.kind is LimitKind.RANGE and self.min > self.max:
            raise InvalidSpec(
                "The range of %(parameter)s is empty.", "min", parameter=self.parameter
            )
        if self.action is BreachAction.DEDUCT and self.schedule is None:
            raise InvalidSpec(
                "A deducting limit on %(parameter)s needs an adjustment schedule.",
                "schedule",
                parameter=self.parameter,
            )
        if (self.action is BreachAction.DOWNGRADE) != (self.downgrade_to is not None):
            raise InvalidSpec(
                "A downgrade on %(parameter)s needs a target grade, and only a downgrade has one.",
                "downgrade_to",
                parameter=self.parameter,
            )

    def bounds(self) -> tuple[Decimal | None, bool, Decimal | None, bool]:
        """(lower, lower exclusive, upper, upper exclusive); none_detected is an upper 0."""
        if self.kind is LimitKind.NONE_DETECTED:
            return None, False, ZERO, False
        return self.min, self.min_exclusive, self.max, self.max_exclusive


@dataclass(frozen=True)
class Requirement:
    """A qualitative requirement checked by inspection (e.g. `no_brass`)."""

    code: str
    text_en: str
    text_ja: str
    action: BreachAction = BreachAction.REJECT
    downgrade_to: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", BreachAction(self.action))
        if self.action is BreachAction.DEDUCT:
            raise InvalidSpec(
                "Requirement %(code)s cannot deduct: it has no measured deviation.",
                "action",
                code=self.code,
            )
        if (self.action is BreachAction.DOWNGRADE) != (self.downgrade_to is not None):
            raise InvalidSpec(
                "A downgrade on %(code)s needs a target grade, and only a downgrade has one.",
                "downgrade_to",
                code=self.code,
            )


@dataclass(frozen=True)
class DerivedParameter:
    """A parameter computed as the exact sum of measured ones (e.g. ni_co_pct)."""

    code: str
    sum_of: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "sum_of", tuple(self.sum_of))
        if len(self.sum_of) < 2 or len(set(self.sum_of)) != len(self.sum_of):
            raise InvalidSpec(
                "%(code)s must sum two or more distinct parameters.", "sum_of", code=self.code
            )
        if self.code in self.sum_of:
            raise InvalidSpec("%(code)s cannot be a part of itself.", "sum_of", code=self.code)


@dataclass(frozen=True)
class GradeSpec:
    """One version of a grade: its limits, inspection requirements and derived parameters."""

    code: str
    version: int
    material: str
    rank: int
    decision_rule: DecisionRule = DecisionRule.SIMPLE
    limits: tuple[Limit, ...] = ()
    requirements: tuple[Requirement, ...] = ()
    derived: tuple[DerivedParameter, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "decision_rule", DecisionRule(self.decision_rule))
        for name in ("limits", "requirements", "derived"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.version < 1 or self.rank < 1:
            raise InvalidSpec("Version and rank of %(code)s start at 1.", "version", code=self.code)
        codes = [r.code for r in self.requirements]
        if len(set(codes)) != len(codes):
            raise InvalidSpec("%(code)s lists a requirement twice.", "requirements", code=self.code)
        derived = [d.code for d in self.derived]
        if len(set(derived)) != len(derived):
            raise InvalidSpec("%(code)s derives a parameter twice.", "derived", code=self.code)
        targets = [x.downgrade_to for x in (*self.limits, *self.requirements)]
        if self.code in targets:
            raise InvalidSpec(
                "%(code)s cannot downgrade to itself.", "downgrade_to", code=self.code
            )

    def parameters(self) -> list[str]:
        """Measured parameter codes the grade needs (parts of derived ones included), in order."""
        derived = {d.code: d.sum_of for d in self.derived}
        needed: list[str] = []
        for limit in self.limits:
            for code in derived.get(limit.parameter, (limit.parameter,)):
                if code not in needed:
                    needed.append(code)
        return needed


@dataclass(frozen=True)
class Measurement:
    """A measured value with its expanded uncertainty U, both in the parameter's unit."""

    parameter: str
    value: Decimal
    uncertainty: Decimal = ZERO

    @classmethod
    def stated(cls, parameter: str, value: Decimal, uncertainty: Decimal | None) -> "Measurement":
        """A result as the laboratory stated it: an uncertainty it did not state (None) counts
        0 in the grading (and is stored as None, `AssayResult.uncertainty`)."""
        return cls(parameter, value, uncertainty if uncertainty is not None else ZERO)

    def __post_init__(self) -> None:
        for name in ("value", "uncertainty"):
            number = getattr(self, name)
            if isinstance(number, bool) or not isinstance(number, Decimal | int):
                raise InvalidMeasurement(
                    "The %(what)s of %(parameter)s must be a decimal number.",
                    self.parameter,
                    what=name,
                    parameter=self.parameter,
                )
            number = Decimal(number)
            if not number.is_finite() or number < 0:
                raise InvalidMeasurement(
                    "The %(what)s of %(parameter)s must be a finite number, zero or more.",
                    self.parameter,
                    what=name,
                    parameter=self.parameter,
                )
            object.__setattr__(self, name, number)


@dataclass
class LimitResult:
    """One limit checked: margin > 0 is inside; under the guarded rule U is subtracted."""

    parameter: str
    value: Decimal | None
    passed: bool | None
    margin: Decimal | None
    action: BreachAction | None = None
    deduction_jpy_per_t: int = 0


@dataclass
class Assessment:
    """The outcome of a lot against one grade version; adjustment < 0 is a deduction."""

    grade: str
    version: int
    outcome: Outcome
    limits: list[LimitResult] = field(default_factory=list)
    requirements: list[tuple[str, bool | None]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    downgrade_to: str | None = None
    adjustment_jpy_per_t: int = 0

    @property
    def accepted(self) -> bool:
        """True when the lot is good delivery of this grade (with or without deductions)."""
        return self.outcome in (Outcome.CONFORMS, Outcome.CONFORMS_WITH_DEDUCTIONS)


def _exponent(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # Measurement only holds finite numbers
    return exponent


def derive(parameter: DerivedParameter, parts: Sequence[Measurement]) -> Measurement:
    """Sum of the parts; U = root-sum-square of theirs, rounded up to the parts' resolution."""
    value = sum((m.value for m in parts), ZERO)
    squares = sum((m.uncertainty * m.uncertainty for m in parts), ZERO)
    # Rounded up (never understating U) to the finest decimal place the parts are reported in.
    quantum = Decimal(1).scaleb(min(_exponent(x) for m in parts for x in (m.value, m.uncertainty)))
    uncertainty = squares.sqrt().quantize(quantum, rounding=ROUND_CEILING)
    return Measurement(parameter.code, value, uncertainty)


def _check_limit(limit: Limit, measured: Measurement, rule: DecisionRule) -> LimitResult:
    if limit.kind is LimitKind.NONE_DETECTED:
        # Detection is a yes/no fact of the method: the decision rule does not apply.
        margin = -measured.value
        passed = measured.value == 0
    else:
        guard = measured.uncertainty if rule is DecisionRule.GUARDED else ZERO
        sides: list[tuple[Decimal, bool]] = []
        if limit.min is not None:
            sides.append((measured.value - guard - limit.min, limit.min_exclusive))
        if limit.max is not None:
            sides.append((limit.max - (measured.value + guard), limit.max_exclusive))
        margin = min(side for side, _ in sides)
        passed = all(side > 0 or (side == 0 and not exclusive) for side, exclusive in sides)
    result = LimitResult(limit.parameter, measured.value, passed, margin)
    if passed:
        return result
    result.action = limit.action
    if limit.action is BreachAction.DEDUCT:
        assert limit.schedule is not None
        deviation = -margin
        beyond = limit.schedule.reject_beyond
        if beyond is not None and deviation > beyond:
            result.action = BreachAction.REJECT
        else:
            result.deduction_jpy_per_t = round_yen(limit.schedule.deduction(deviation))
    return result


def _index(measurements: Iterable[Measurement], spec: GradeSpec) -> dict[str, Measurement]:
    values: dict[str, Measurement] = {}
    for measured in measurements:
        if not isinstance(measured, Measurement):
            raise InvalidMeasurement("Results must be measurements.")
        if measured.parameter in values:
            raise DuplicateParameter(None, measured.parameter, parameter=measured.parameter)
        values[measured.parameter] = measured
    for derived in spec.derived:
        if derived.code in values:
            raise DuplicateParameter(
                "%(parameter)s is computed from its parts; give the parts only.",
                derived.code,
                parameter=derived.code,
            )
    return values


def assess(
    spec: GradeSpec,
    measurements: Iterable[Measurement],
    inspections: Mapping[str, bool] | None = None,
) -> Assessment:
    """Assess a lot: rejected > incomplete > downgraded > deductions (yen/t, half-up) > conforms."""
    values = _index(measurements, spec)
    inspections = inspections or {}
    missing_parts: dict[str, list[str]] = {}
    for derived in spec.derived:
        parts = [values.get(code) for code in derived.sum_of]
        present = [m for m in parts if m is not None]
        if len(present) == len(parts):
            values[derived.code] = derive(derived, present)
        else:
            missing_parts[derived.code] = [
                code for code, m in zip(derived.sum_of, parts, strict=True) if m is None
            ]

    results: list[LimitResult] = []
    missing: list[str] = []
    actions: list[tuple[BreachAction, str | None]] = []
    for limit in spec.limits:
        measured = values.get(limit.parameter)
        if measured is None:
            for code in missing_parts.get(limit.parameter, [limit.parameter]):
                if code not in missing:
                    missing.append(code)
            results.append(LimitResult(limit.parameter, None, None, None))
            continue
        result = _check_limit(limit, measured, spec.decision_rule)
        results.append(result)
        if result.action is not None:
            actions.append((result.action, limit.downgrade_to))

    requirements: list[tuple[str, bool | None]] = []
    for requirement in spec.requirements:
        answer = inspections.get(requirement.code)
        if answer is not None and not isinstance(answer, bool):
            raise InvalidMeasurement(
                "The inspection of %(parameter)s must be yes or no.",
                requirement.code,
                parameter=requirement.code,
            )
        requirements.append((requirement.code, answer))
        if answer is False:
            actions.append((requirement.action, requirement.downgrade_to))

    assessment = Assessment(spec.code, spec.version, Outcome.CONFORMS, results, requirements)
    assessment.missing = missing
    kinds = [action for action, _ in actions]
    if BreachAction.REJECT in kinds:
        # A rejection is final: no missing value could make the lot good delivery again.
        assessment.outcome = Outcome.REJECTED
    elif missing or any(answer is None for _, answer in requirements):
        assessment.outcome = Outcome.INCOMPLETE
    elif BreachAction.DOWNGRADE in kinds:
        assessment.outcome = Outcome.DOWNGRADED
        assessment.downgrade_to = next(to for a, to in actions if a is BreachAction.DOWNGRADE)
    elif BreachAction.DEDUCT in kinds:
        # Each limit is one line rounded half-up; the total is the sum of the lines.
        assessment.outcome = Outcome.CONFORMS_WITH_DEDUCTIONS
        assessment.adjustment_jpy_per_t = -sum(r.deduction_jpy_per_t for r in results)
    return assessment


def best_grade(
    specs: Sequence[GradeSpec],
    measurements: Iterable[Measurement],
    inspections: Mapping[str, bool] | None = None,
) -> tuple[GradeSpec, Assessment] | None:
    """The best-ranked grade of one material that the lot is good delivery of, or None."""
    if len({spec.material for spec in specs}) > 1:
        raise InvalidSpec("Grades of different materials cannot be ranked together.", "material")
    measured = list(measurements)
    for spec in sorted(specs, key=lambda s: (s.rank, s.code, -s.version)):
        assessment = assess(spec, measured, inspections)
        if assessment.accepted:
            return spec, assessment
    return None


def _lower_at_least(
    candidate: tuple[Decimal | None, bool], reference: tuple[Decimal | None, bool]
) -> bool:
    (cand, cand_excl), (ref, ref_excl) = candidate, reference
    if ref is None:
        return True
    if cand is None:
        return False
    return cand > ref or (cand == ref and (cand_excl or not ref_excl))


def _upper_at_most(
    candidate: tuple[Decimal | None, bool], reference: tuple[Decimal | None, bool]
) -> bool:
    (cand, cand_excl), (ref, ref_excl) = candidate, reference
    if ref is None:
        return True
    if cand is None:
        return False
    return cand < ref or (cand == ref and (cand_excl or not ref_excl))


def is_at_least_as_strict(candidate: GradeSpec, reference: GradeSpec) -> bool:
    """True when every lot good for the candidate's limits and requirements meets the reference's.

    Same material; each reference limit has a candidate limit on the same parameter with an
    equal or tighter bound (an exclusive bound is tighter than the inclusive one at the same
    number); every reference requirement is present; and a guarded reference needs a guarded
    candidate (the simple rule accepts lots the guarded rule refuses).
    """
    if candidate.material != reference.material:
        return False
    if reference.decision_rule is DecisionRule.GUARDED and (
        candidate.decision_rule is not DecisionRule.GUARDED
    ):
        return False
    for ref_limit in reference.limits:
        ref_lo, ref_lo_excl, ref_hi, ref_hi_excl = ref_limit.bounds()
        # Several candidate limits on one parameter combine (e.g. a min and a max limit).
        bounds = [c.bounds() for c in candidate.limits if c.parameter == ref_limit.parameter]
        if not any(_lower_at_least((b[0], b[1]), (ref_lo, ref_lo_excl)) for b in bounds):
            return False
        if not any(_upper_at_most((b[2], b[3]), (ref_hi, ref_hi_excl)) for b in bounds):
            return False
    candidate_requirements = {r.code for r in candidate.requirements}
    return all(r.code in candidate_requirements for r in reference.requirements)
