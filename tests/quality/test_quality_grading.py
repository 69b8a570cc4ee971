"""Grade assessment against the seeded public standards (pure: no database)."""

from dataclasses import replace
from decimal import Decimal as D

import pytest

from quality.errors import (
    DuplicateParameter,
    InvalidMeasurement,
    InvalidSpec,
    QualityError,
    UnknownStandard,
)
from quality.grading import (
    AdjustmentSchedule,
    BreachAction,
    DecisionRule,
    DerivedParameter,
    GradeSpec,
    Limit,
    LimitKind,
    Measurement,
    Outcome,
    assess,
    best_grade,
    derive,
    is_at_least_as_strict,
)
from quality.reference_data import find_standard, specs_of


def spec(code: str) -> GradeSpec:
    return find_standard(code).spec


def lot(**values: str | tuple[str, str]) -> list[Measurement]:
    """Measurements from keyword strings: cu_pct="94" or ni_pct=("7.00", "0.05") for ± U."""
    result = []
    for code, given in values.items():
        value, uncertainty = given if isinstance(given, tuple) else (given, "0")
        result.append(Measurement(code, D(value), D(uncertainty)))
    return result


def passing(grade: GradeSpec) -> dict[str, bool]:
    return {r.code: True for r in grade.requirements}


def result_of(assessment, parameter: str):
    return next(r for r in assessment.limits if r.parameter == parameter)


STAINLESS_AT_LIMITS = dict(
    ni_pct="7", cr_pct="16", mo_pct="0.50", cu_pct="0.50", p_pct="0.045", s_pct="0.03"
)


# --- simple limits, exactly at and just over ------------------------------------------------


def test_stainless_18_8_exactly_at_every_limit_conforms_with_zero_margins():
    assessment = assess(spec("ISRI-18-8"), lot(**STAINLESS_AT_LIMITS))
    assert assessment.outcome is Outcome.CONFORMS
    assert assessment.adjustment_jpy_per_t == 0
    assert [r.margin for r in assessment.limits] == [D(0)] * 6
    assert all(r.passed for r in assessment.limits)


@pytest.mark.parametrize(
    ("parameter", "value", "margin"),
    [
        ("ni_pct", "6.99", D("-0.01")),
        ("cr_pct", "15.9", D("-0.1")),
        ("mo_pct", "0.51", D("-0.01")),
        ("p_pct", "0.046", D("-0.001")),
        ("s_pct", "0.031", D("-0.001")),
    ],
)
def test_stainless_18_8_just_beyond_a_limit_is_rejected(parameter, value, margin):
    assessment = assess(spec("ISRI-18-8"), lot(**{**STAINLESS_AT_LIMITS, parameter: value}))
    assert assessment.outcome is Outcome.REJECTED
    failed = result_of(assessment, parameter)
    assert (failed.passed, failed.margin, failed.action) == (False, margin, BreachAction.REJECT)
    assert [r.parameter for r in assessment.limits if r.passed is False] == [parameter]


# --- decision rules -------------------------------------------------------------------------


def test_nickel_7_00_plus_minus_0_05_passes_simple_rule_but_fails_guarded_rule():
    measured = lot(**{**STAINLESS_AT_LIMITS, "ni_pct": ("7.00", "0.05")})
    simple = assess(spec("ISRI-18-8"), measured)
    guarded = assess(replace(spec("ISRI-18-8"), decision_rule=DecisionRule.GUARDED), measured)
    assert simple.outcome is Outcome.CONFORMS
    assert result_of(simple, "ni_pct").margin == D("0.00")
    assert guarded.outcome is Outcome.REJECTED
    assert result_of(guarded, "ni_pct").margin == D("-0.05")


def test_guarded_rule_adds_uncertainty_to_a_value_under_a_maximum():
    grade = replace(spec("ISRI-18-8"), decision_rule=DecisionRule.GUARDED)
    at_limit = assess(grade, lot(**{**STAINLESS_AT_LIMITS, "mo_pct": ("0.45", "0.05")}))
    over = assess(grade, lot(**{**STAINLESS_AT_LIMITS, "mo_pct": ("0.46", "0.05")}))
    assert result_of(at_limit, "mo_pct").passed is True
    assert result_of(over, "mo_pct").passed is False
    assert result_of(over, "mo_pct").margin == D("-0.01")


def test_guarded_range_counts_uncertainty_against_both_ends():
    flake = dict(
        iv_dl_g=("0.78", "0.02"),
        moisture_pct="0.5",
        pvc_ppm="10",
        pe_pp_ppm="10",
        metal_ppm="10",
        glue_ppm="10",
    )
    assert assess(spec("RPET-FLAKE-A"), lot(**flake)).outcome is Outcome.CONFORMS
    high = assess(spec("RPET-FLAKE-A"), lot(**{**flake, "iv_dl_g": ("0.79", "0.02")}))
    low = assess(spec("RPET-FLAKE-A"), lot(**{**flake, "iv_dl_g": ("0.73", "0.02")}))
    assert (high.outcome, result_of(high, "iv_dl_g").margin) == (Outcome.REJECTED, D("-0.01"))
    assert (low.outcome, result_of(low, "iv_dl_g").margin) == (Outcome.REJECTED, D("-0.01"))


def test_guarded_rpet_flake_pvc_48_plus_minus_5_ppm_is_rejected():
    flake = lot(
        iv_dl_g="0.76",
        moisture_pct="0.5",
        pvc_ppm=("48", "5"),
        pe_pp_ppm="0",
        metal_ppm="0",
        glue_ppm="0",
    )
    assessment = assess(spec("RPET-FLAKE-A"), flake)
    assert assessment.outcome is Outcome.REJECTED
    assert result_of(assessment, "pvc_ppm").margin == D(-3)


# --- exclusive limits -----------------------------------------------------------------------


def test_copper_end_of_waste_foreign_materials_must_be_strictly_below_2_percent():
    grade = spec("EU-EOW-CU")
    below = assess(grade, lot(foreign_pct="1.99"), passing(grade))
    at = assess(grade, lot(foreign_pct="2.00"), passing(grade))
    assert below.outcome is Outcome.CONFORMS
    assert at.outcome is Outcome.REJECTED
    assert (result_of(at, "foreign_pct").passed, result_of(at, "foreign_pct").margin) == (
        False,
        D("0.00"),
    )


def test_steel_end_of_waste_foreign_materials_of_exactly_2_percent_pass():
    grade = spec("EU-EOW-FE")
    assert assess(grade, lot(foreign_pct="2.00"), passing(grade)).outcome is Outcome.CONFORMS
    assert assess(grade, lot(foreign_pct="2.01"), passing(grade)).outcome is Outcome.REJECTED


def test_heavy_scrap_h2_thickness_band_is_3_inclusive_to_6_exclusive():
    grade = spec("JP-FE-H2")
    outcomes = {t: assess(grade, lot(thickness_mm=t)).outcome for t in ("2.99", "3", "5.99", "6")}
    assert outcomes == {
        "2.99": Outcome.REJECTED,
        "3": Outcome.CONFORMS,
        "5.99": Outcome.CONFORMS,
        "6": Outcome.REJECTED,
    }


def test_eddy_current_aluminium_needs_30_lb_per_cubic_foot_as_480_55_kg_per_m3():
    grade = spec("ISRI-EM1")
    base = dict(non_metallic_pct="4", rubber_plastic_pct="0.5")
    ok = assess(grade, lot(bulk_density_kg_m3="480.55", **base))
    light = assess(grade, lot(bulk_density_kg_m3="480.54", **base))
    assert (ok.outcome, light.outcome) == (Outcome.CONFORMS, Outcome.REJECTED)


# --- none detected --------------------------------------------------------------------------


def test_telic_any_free_magnesium_rejects_and_zero_passes_whatever_the_rule():
    grade = spec("ISRI-TELIC")
    clean = dict(fines_pct="2", fe_pct="5")
    none = assess(grade, lot(free_mg_pct=("0", "0.05"), **clean), passing(grade))
    guarded = assess(
        replace(grade, decision_rule=DecisionRule.GUARDED),
        lot(free_mg_pct=("0", "0.05"), **clean),
        passing(grade),
    )
    trace = assess(grade, lot(free_mg_pct="0.01", **clean), passing(grade))
    assert none.outcome is Outcome.CONFORMS and guarded.outcome is Outcome.CONFORMS
    assert trace.outcome is Outcome.REJECTED
    assert result_of(trace, "free_mg_pct").margin == D("-0.01")


def test_telic_iron_above_10_percent_is_not_good_delivery():
    grade = spec("ISRI-TELIC")
    ok = assess(grade, lot(fines_pct="2", fe_pct="10", free_mg_pct="0"), passing(grade))
    bad = assess(grade, lot(fines_pct="2", fe_pct="10.01", free_mg_pct="0"), passing(grade))
    assert (ok.outcome, bad.outcome) == (Outcome.CONFORMS, Outcome.REJECTED)


# --- derived parameters ---------------------------------------------------------------------


def test_derived_sum_is_exact_and_its_uncertainty_is_root_sum_square_rounded_up():
    ni_co = DerivedParameter("ni_co_pct", ("ni_pct", "co_pct"))
    exact = derive(ni_co, lot(ni_pct=("16.00", "0.30"), co_pct=("5.60", "0.40")))
    rounded_up = derive(ni_co, lot(ni_pct=("16.00", "0.03"), co_pct=("5.60", "0.03")))
    assert (exact.value, exact.uncertainty) == (D("21.60"), D("0.50"))
    assert (rounded_up.value, rounded_up.uncertainty) == (D("21.60"), D("0.05"))  # 0.0424…


def test_black_mass_eu_ni_plus_co_is_derived_and_guarded():
    grade = spec("BM-NCM-EU")
    measured = lot(
        ni_pct=("16.00", "0.30"),
        co_pct=("5.60", "0.40"),
        li_pct=("4.0", "0.1"),
        cu_pct=("1.0", "0.1"),
        al_pct=("1.5", "0.1"),
    )
    assessment = assess(grade, measured, {"dried": True})
    ni_co = result_of(assessment, "ni_co_pct")
    assert assessment.outcome is Outcome.CONFORMS
    assert (ni_co.value, ni_co.margin) == (D("21.60"), D("1.10"))  # 21.60 − 0.50 − 20
    assert result_of(assessment, "co_pct").margin == D("0.20")  # 5.60 − 0.40 − 5


def test_black_mass_us_ni_plus_co_below_18_percent_is_rejected():
    grade = spec("BM-NCM-US")
    at = assess(grade, lot(ni_pct="14.0", co_pct="4.0", f_pct="2", fe_pct="0.5"))
    under = assess(grade, lot(ni_pct="13.9", co_pct="4.0", f_pct="2", fe_pct="0.5"))
    assert at.outcome is Outcome.CONFORMS
    assert under.outcome is Outcome.REJECTED
    assert (result_of(under, "ni_co_pct").value, result_of(under, "ni_co_pct").margin) == (
        D("17.9"),
        D("-0.1"),
    )


def test_a_missing_part_of_a_derived_parameter_makes_the_assessment_incomplete():
    grade = spec("BM-NCM-EU")
    measured = lot(ni_pct="16", li_pct="4", cu_pct="1", al_pct="1")
    assessment = assess(grade, measured, {"dried": True})
    assert assessment.outcome is Outcome.INCOMPLETE
    assert assessment.missing == ["co_pct"]
    assert result_of(assessment, "co_pct").passed is None
    assert result_of(assessment, "ni_co_pct").passed is None
    assert result_of(assessment, "ni_pct").passed is True  # other limits are still reported


def test_giving_a_derived_parameter_directly_is_refused():
    measured = lot(ni_pct="16", co_pct="6", ni_co_pct="22")
    with pytest.raises(DuplicateParameter) as raised:
        assess(spec("BM-NCM-EU"), measured)
    assert raised.value.field == "ni_co_pct"


# --- missing data ---------------------------------------------------------------------------


def test_a_missing_value_never_passes_silently():
    values = {k: v for k, v in STAINLESS_AT_LIMITS.items() if k != "cr_pct"}
    assessment = assess(spec("ISRI-18-8"), lot(**values))
    assert assessment.outcome is Outcome.INCOMPLETE
    assert assessment.missing == ["cr_pct"]
    assert result_of(assessment, "cr_pct").value is None
    assert sum(r.passed is True for r in assessment.limits) == 5


def test_an_unanswered_inspection_requirement_makes_the_assessment_incomplete():
    grade = spec("EU-EOW-CU")
    answers = {"no_visible_oil": True, "no_pvc_coating": True}
    assessment = assess(grade, lot(foreign_pct="1"), answers)
    assert assessment.outcome is Outcome.INCOMPLETE
    assert assessment.missing == []
    assert assessment.requirements == [
        ("no_visible_oil", True),
        ("no_pvc_coating", True),
        ("no_pressurised_containers", None),
    ]


def test_a_failed_inspection_requirement_rejects():
    grade = spec("ISRI-BIRCH-CLIFF")
    answers = {**passing(grade), "no_brass": False}
    assessment = assess(grade, lot(cu_pct="96"), answers)
    assert assessment.outcome is Outcome.REJECTED
    assert ("no_brass", False) in assessment.requirements


def test_a_rejection_stands_even_when_other_values_are_missing():
    assessment = assess(spec("ISRI-18-8"), lot(ni_pct="6"))
    assert assessment.outcome is Outcome.REJECTED
    assert assessment.missing == ["cr_pct", "mo_pct", "cu_pct", "p_pct", "s_pct"]


def test_a_downgrade_with_missing_values_is_only_incomplete():
    assessment = assess(spec("HDPE-NAT-A"), lot(hdpe_pct="90"), passing(spec("HDPE-NAT-A")))
    assert (assessment.outcome, assessment.downgrade_to) == (Outcome.INCOMPLETE, None)


# --- downgrades -----------------------------------------------------------------------------


def bale(hdpe: str, contaminant: str = "1") -> list[Measurement]:
    return lot(hdpe_pct=hdpe, contaminant_pct=contaminant)


BALE_OK = {"no_pvc": True, "no_metal": True, "no_glass": True}


@pytest.mark.parametrize(
    ("grade", "hdpe", "outcome", "target"),
    [
        ("HDPE-NAT-A", "95.01", Outcome.CONFORMS, None),
        ("HDPE-NAT-A", "95", Outcome.DOWNGRADED, "HDPE-NAT-B"),
        ("HDPE-NAT-B", "85", Outcome.CONFORMS, None),
        ("HDPE-NAT-B", "84.99", Outcome.DOWNGRADED, "HDPE-NAT-C"),
        ("HDPE-NAT-C", "80", Outcome.CONFORMS, None),
        ("HDPE-NAT-C", "79.99", Outcome.REJECTED, None),
    ],
)
def test_hdpe_bale_grades_downgrade_a_to_b_to_c_then_reject(grade, hdpe, outcome, target):
    assessment = assess(spec(grade), bale(hdpe), BALE_OK)
    assert (assessment.outcome, assessment.downgrade_to) == (outcome, target)


@pytest.mark.parametrize(
    ("hdpe", "expected"),
    [("96", "HDPE-NAT-A"), ("95", "HDPE-NAT-B"), ("90", "HDPE-NAT-B"), ("82", "HDPE-NAT-C")],
)
def test_best_grade_follows_the_hdpe_downgrade_chain(hdpe, expected):
    found = best_grade(specs_of("hdpe"), bale(hdpe), BALE_OK)
    assert found is not None
    grade, assessment = found
    assert grade.code == expected
    assert assessment.outcome is Outcome.CONFORMS


def test_best_grade_is_none_when_no_grade_accepts_the_lot():
    assert best_grade(specs_of("hdpe"), bale("79"), BALE_OK) is None
    assert best_grade(specs_of("hdpe"), bale("99", contaminant="2.5"), BALE_OK) is None
    assert best_grade(specs_of("hdpe"), bale("99"), {}) is None  # incomplete everywhere


def test_best_grade_ignores_rank_order_of_the_input():
    found = best_grade(list(reversed(specs_of("hdpe"))), bale("99"), BALE_OK)
    assert found is not None and found[0].code == "HDPE-NAT-A"


def test_best_grade_refuses_grades_of_different_materials():
    with pytest.raises(InvalidSpec):
        best_grade([spec("HDPE-NAT-A"), spec("RPET-FLAKE-A")], bale("99"), BALE_OK)


def test_oversized_special_heavy_scrap_is_downgraded_to_h1():
    pieces = lot(thickness_mm="8", width_mm="450", length_mm="650", piece_kg="700")
    assessment = assess(spec("JP-FE-HS"), pieces)
    assert (assessment.outcome, assessment.downgrade_to) == (Outcome.DOWNGRADED, "JP-FE-H1")
    found = best_grade(specs_of("ferrous_scrap"), pieces)
    assert found is not None and found[0].code == "JP-FE-H1"


@pytest.mark.parametrize(
    ("thickness", "expected"),
    [("6", "JP-FE-HS"), ("4", "JP-FE-H2"), ("1", "JP-FE-H3"), ("0.8", "JP-FE-H4")],
)
def test_best_grade_places_heavy_scrap_by_thickness(thickness, expected):
    pieces = lot(thickness_mm=thickness, width_mm="400", length_mm="600", piece_kg="200")
    found = best_grade(specs_of("ferrous_scrap"), pieces)
    assert found is not None and found[0].code == expected


def test_the_first_downgrade_in_limit_order_wins_over_deductions():
    schedule = AdjustmentSchedule(D(0), D(1000))
    grade = GradeSpec(
        "X",
        1,
        "copper_scrap",
        rank=1,
        limits=(
            Limit("cu_pct", LimitKind.MAX, max=D(5), action="deduct", schedule=schedule),
            Limit("fe_pct", LimitKind.MAX, max=D(1), action="downgrade", downgrade_to="Y"),
            Limit("zn_pct", LimitKind.MAX, max=D(1), action="downgrade", downgrade_to="Z"),
        ),
    )
    assessment = assess(grade, lot(cu_pct="6", fe_pct="2", zn_pct="2"))
    assert (assessment.outcome, assessment.downgrade_to) == (Outcome.DOWNGRADED, "Y")
    assert assessment.adjustment_jpy_per_t == 0
    assert result_of(assessment, "cu_pct").deduction_jpy_per_t == 1000


# --- deductions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cu", "outcome", "adjustment"),
    [
        ("94.00", Outcome.CONFORMS, 0),
        ("93.99", Outcome.CONFORMS_WITH_DEDUCTIONS, -150),  # ¥1,500 per 0.1 %
        ("93.5", Outcome.CONFORMS_WITH_DEDUCTIONS, -7500),
        ("92.00", Outcome.CONFORMS_WITH_DEDUCTIONS, -30000),  # 2 % short: still good delivery
        ("91.99", Outcome.REJECTED, 0),  # beyond reject_beyond
    ],
)
def test_birch_cliff_copper_below_94_percent_is_deducted_then_rejected(cu, outcome, adjustment):
    grade = spec("ISRI-BIRCH-CLIFF")
    assessment = assess(grade, lot(cu_pct=cu), passing(grade))
    assert (assessment.outcome, assessment.adjustment_jpy_per_t) == (outcome, adjustment)


def test_birch_cliff_deviation_beyond_reject_limit_reports_a_reject_action():
    grade = spec("ISRI-BIRCH-CLIFF")
    cu = result_of(assess(grade, lot(cu_pct="91.99"), passing(grade)), "cu_pct")
    assert (cu.action, cu.deduction_jpy_per_t) == (BreachAction.REJECT, 0)


@pytest.mark.parametrize(
    ("cu", "adjustment"),
    [
        ("2.20", 0),  # inside the 0.2 % free band: a breach without charge
        ("2.30", -5000),  # (0.30 − 0.20) × ¥50,000
        ("4.20", -100000),  # exactly the cap
        ("6.00", -100000),  # 2.3 × ¥50,000 = ¥115,000 capped; deviation 4 not beyond 4
    ],
)
def test_black_mass_copper_deduction_has_free_band_and_cap(cu, adjustment):
    grade = spec("BM-NCM-EU")
    measured = lot(ni_pct="16", co_pct="6", li_pct="4", cu_pct=cu, al_pct="1")
    assessment = assess(grade, measured, {"dried": True})
    assert assessment.outcome is Outcome.CONFORMS_WITH_DEDUCTIONS
    assert assessment.adjustment_jpy_per_t == adjustment


def test_black_mass_copper_beyond_6_percent_is_not_good_delivery():
    measured = lot(ni_pct="16", co_pct="6", li_pct="4", cu_pct="6.01", al_pct="1")
    assessment = assess(spec("BM-NCM-EU"), measured, {"dried": True})
    assert assessment.outcome is Outcome.REJECTED


def test_guarded_rule_counts_uncertainty_in_the_deduction_too():
    measured = lot(ni_pct="16", co_pct="6", li_pct="4", cu_pct=("2.30", "0.10"), al_pct="1")
    assessment = assess(spec("BM-NCM-EU"), measured, {"dried": True})
    assert assessment.adjustment_jpy_per_t == -10000  # (2.40 − 2 − 0.20) × ¥50,000


def test_deductions_of_several_limits_add_up():
    grade = spec("ISRI-TAINT-TABOR")
    assessment = assess(grade, lot(oil_grease_pct="1.5", painted_pct="25"), passing(grade))
    assert [r.deduction_jpy_per_t for r in assessment.limits] == [1250, 15000]  # paint capped
    assert assessment.adjustment_jpy_per_t == -16250


def test_each_deduction_is_rounded_half_up_to_whole_yen():
    grade = spec("ISRI-TAINT-TABOR")
    half = assess(grade, lot(oil_grease_pct="1.0002", painted_pct="5"), passing(grade))
    quarter = assess(grade, lot(oil_grease_pct="1.0001", painted_pct="5"), passing(grade))
    assert half.adjustment_jpy_per_t == -1  # 0.0002 × ¥2,500 = ¥0.50 → ¥1
    assert quarter.adjustment_jpy_per_t == 0  # ¥0.25 → ¥0


def test_telic_fines_above_3_percent_are_deducted_without_limit():
    grade = spec("ISRI-TELIC")
    assessment = assess(grade, lot(fines_pct="8", fe_pct="2", free_mg_pct="0"), passing(grade))
    assert assessment.outcome is Outcome.CONFORMS_WITH_DEDUCTIONS
    assert assessment.adjustment_jpy_per_t == -9000  # 5 × ¥1,800


# --- input validation -----------------------------------------------------------------------


def test_duplicate_parameter_is_refused():
    with pytest.raises(DuplicateParameter) as raised:
        assess(spec("JIS-G2401-LCU"), lot(cu_pct="0.1") + lot(cu_pct="0.2"))
    assert raised.value.field == "cu_pct"
    assert raised.value.params == {"parameter": "cu_pct"}


@pytest.mark.parametrize(
    ("value", "uncertainty"), [(D("-0.1"), D(0)), (D("1"), D("-0.01")), (D("NaN"), D(0))]
)
def test_negative_or_non_finite_measurements_are_refused(value, uncertainty):
    with pytest.raises(InvalidMeasurement) as raised:
        Measurement("cu_pct", value, uncertainty)
    assert raised.value.field == "cu_pct"


def test_float_measurements_are_refused():
    with pytest.raises(InvalidMeasurement):
        Measurement("cu_pct", 0.1)  # type: ignore[arg-type]


def test_inspection_answers_must_be_booleans():
    grade = spec("EU-EOW-AL")
    with_requirement = replace(grade, requirements=spec("EU-EOW-FE").requirements)
    with pytest.raises(InvalidMeasurement):
        assess(with_requirement, lot(foreign_pct="1"), {"no_visible_oil": "yes"})  # type: ignore[dict-item]


def test_inconsistent_limits_are_refused():
    with pytest.raises(InvalidSpec):
        Limit("cu_pct", LimitKind.MAX, max=D(1), action="deduct")  # no schedule
    with pytest.raises(InvalidSpec):
        Limit("cu_pct", LimitKind.RANGE, min=D(2), max=D(1))
    with pytest.raises(InvalidSpec):
        Limit("cu_pct", LimitKind.MAX, max=D(1), action="downgrade")  # no target
    with pytest.raises(InvalidSpec):
        Limit("cu_pct", LimitKind.MIN, max=D(1))  # wrong bound for the kind


def test_quality_errors_carry_message_params_and_field():
    error = UnknownStandard(None, "code", code="ISRI-NOPE")
    assert isinstance(error, QualityError)
    assert str(error) == "Unknown grade standard ISRI-NOPE."
    assert (error.message, error.params, error.field) == (
        "Unknown grade standard %(code)s.",
        {"code": "ISRI-NOPE"},
        "code",
    )


# --- strictness -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidate", "reference", "expected"),
    [
        ("JIS-G2401-LPSCU", "JIS-G2401-LCU", True),  # Cu 0.15 ≤ 0.20 plus P and S
        ("JIS-G2401-LCU", "JIS-G2401-LPSCU", False),
        ("HDPE-NAT-A", "HDPE-NAT-B", True),
        ("HDPE-NAT-A", "HDPE-NAT-C", True),
        ("HDPE-NAT-C", "HDPE-NAT-B", False),
        ("JP-FE-HS", "JP-FE-H1", True),
        ("JP-FE-H1", "JP-FE-HS", False),
        ("ISRI-18-8", "ISRI-18-8", True),
        ("EU-EOW-CU", "EU-EOW-FE", False),  # another material
        ("ISRI-BIRCH-CLIFF", "EU-EOW-CU", False),  # no foreign-material limit
    ],
)
def test_is_at_least_as_strict_between_seeded_grades(candidate, reference, expected):
    assert is_at_least_as_strict(spec(candidate), spec(reference)) is expected


def test_an_exclusive_bound_is_stricter_than_the_inclusive_one_at_the_same_number():
    exclusive = spec("EU-EOW-CU")
    inclusive = replace(
        exclusive, code="CU-LE-2", limits=(Limit("foreign_pct", LimitKind.MAX, max=D(2)),)
    )
    assert is_at_least_as_strict(exclusive, inclusive) is True
    assert is_at_least_as_strict(inclusive, exclusive) is False


def test_a_guarded_reference_needs_a_guarded_candidate():
    simple = spec("ISRI-18-8")
    guarded = replace(simple, decision_rule=DecisionRule.GUARDED)
    assert is_at_least_as_strict(guarded, simple) is True
    assert is_at_least_as_strict(simple, guarded) is False


def test_a_candidate_missing_a_requirement_is_not_as_strict():
    without = replace(spec("HDPE-NAT-A"), requirements=())
    assert is_at_least_as_strict(without, spec("HDPE-NAT-C")) is False


def test_separate_min_and_max_limits_cover_a_range():
    split = replace(
        spec("JP-FE-H2"),
        code="H2-SPLIT",
        limits=(
            Limit("thickness_mm", LimitKind.MIN, min=D(4)),
            Limit("thickness_mm", LimitKind.MAX, max=D(5)),
        ),
    )
    assert is_at_least_as_strict(split, spec("JP-FE-H2")) is True
    assert is_at_least_as_strict(spec("JP-FE-H2"), split) is False


def test_unknown_standard_code_is_refused():
    with pytest.raises(UnknownStandard):
        find_standard("ISRI-NOPE")
