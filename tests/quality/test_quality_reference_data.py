"""The seeded catalogue matches the public references it cites (pure: no database)."""

import re
from collections import Counter
from decimal import Decimal as D

from quality.grading import BreachAction, DecisionRule, Family, LimitKind
from quality.reference_data import MATERIALS, PARAMETERS, STANDARDS, find_standard

# Every code of docs/quality-references.md (metals, then plastics).
REFERENCE_CODES = [
    "ISRI-BIRCH-CLIFF",
    "ISRI-TAINT-TABOR",
    "ISRI-TABOO",
    "ISRI-TELIC",
    "ISRI-EM1",
    "ISRI-TWIRE",
    "ISRI-18-8",
    "EU-EOW-FE",
    "EU-EOW-AL",
    "EU-EOW-CU",
    "JP-FE-HS",
    "JP-FE-H1",
    "JP-FE-H2",
    "JP-FE-H3",
    "JP-FE-H4",
    "JIS-G2401-LCU",
    "JIS-G2401-LPSCU",
    "BM-NCM-EU",
    "BM-NCM-US",
    "RPET-FLAKE-A",
    "HDPE-NAT-A",
    "HDPE-NAT-B",
    "HDPE-NAT-C",
    # not in the file: waste printed circuit boards (issue 10), after Hagelüken (2006)
    "PCB-HIGH",
    "PCB-LOW",
]
APPROX = {
    "BM-NCM-EU",
    "BM-NCM-US",
    "RPET-FLAKE-A",
    "HDPE-NAT-A",
    "HDPE-NAT-B",
    "HDPE-NAT-C",
    "PCB-HIGH",
    "PCB-LOW",
}
UNITS = {"wt %", "ppm", "dl/g", "g/10 min", "mm", "kg", "kg/m³", "°C", "g/t"}
MATERIALS_BY_CODE = {m.code: m for m in MATERIALS}
PARAMETERS_BY_CODE = {p.code: p for p in PARAMETERS}


def test_every_reference_code_is_seeded_once_and_nothing_else():
    codes = [s.code for s in STANDARDS]
    assert sorted(codes) == sorted(REFERENCE_CODES)
    assert len(set(codes)) == len(codes)


def test_required_materials_families_and_critical_flags():
    assert {code: (m.family, m.critical) for code, m in MATERIALS_BY_CODE.items()} == {
        "ferrous_scrap": (Family.METAL, False),
        "copper_scrap": (Family.METAL, True),
        "aluminium_scrap": (Family.METAL, False),
        "stainless_scrap": (Family.METAL, False),
        "waste_pcb": (Family.E_SCRAP, True),
        "li_ion_black_mass": (Family.BATTERY, True),
        "lead_acid_batteries": (Family.BATTERY, True),
        "elv_hulks": (Family.METAL, True),
        "pv_panels": (Family.E_SCRAP, True),
        "pet": (Family.PLASTIC, False),
        "pp": (Family.PLASTIC, False),
        "hdpe": (Family.PLASTIC, False),
        "ldpe": (Family.PLASTIC, False),
        "ps": (Family.PLASTIC, False),
        "abs": (Family.PLASTIC, False),
        "mixed_polyolefins": (Family.PLASTIC, False),
    }


def test_parameter_codes_are_snake_case_with_a_known_unit_and_both_names():
    for parameter in PARAMETERS:
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)+", parameter.code), parameter.code
        assert parameter.unit in UNITS, parameter.code
        assert parameter.name_en and parameter.name_ja and parameter.basis, parameter.code
    assert len(PARAMETERS_BY_CODE) == len(PARAMETERS)


def test_the_only_derived_parameter_is_nickel_plus_cobalt():
    derived = {p.code: p.derived_from for p in PARAMETERS if p.derived_from}
    assert derived == {"ni_co_pct": ("ni_pct", "co_pct")}


def test_standards_reference_known_materials_and_parameters():
    for standard in STANDARDS:
        spec = standard.spec
        assert (spec.code, spec.material, spec.version) == (standard.code, standard.material, 1)
        assert standard.material in MATERIALS_BY_CODE
        assert spec.limits, standard.code
        for limit in spec.limits:
            assert limit.parameter in PARAMETERS_BY_CODE, (standard.code, limit.parameter)
        for derived in spec.derived:
            assert PARAMETERS_BY_CODE[derived.code].derived_from == derived.sum_of
        for parameter in spec.parameters():
            assert not PARAMETERS_BY_CODE[parameter].derived_from, parameter


def test_requirements_are_written_in_english_and_japanese():
    for standard in STANDARDS:
        for requirement in standard.spec.requirements:
            assert requirement.text_en.isascii() and requirement.text_en
            assert not requirement.text_ja.isascii()
            assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", requirement.code)
        assert not standard.name_ja.isascii() and standard.name_en


def test_ranks_are_unique_within_a_material():
    ranks = Counter((s.material, s.spec.rank) for s in STANDARDS)
    assert max(ranks.values()) == 1


def test_downgrades_point_to_a_lower_grade_of_the_same_material():
    for standard in STANDARDS:
        spec = standard.spec
        for item in (*spec.limits, *spec.requirements):
            if item.action is BreachAction.DOWNGRADE:
                target = find_standard(item.downgrade_to)
                assert target.material == standard.material
                assert target.spec.rank > spec.rank


def test_approximate_sources_say_so():
    for standard in STANDARDS:
        assert ("(approx" in standard.source) is (standard.code in APPROX), standard.code
    assert find_standard("EU-EOW-CU").source == "Regulation (EU) 715/2013 Annex I"
    assert find_standard("JP-FE-H3").source.startswith("鉄スクラップ検収統一規格")


def test_black_mass_eu_and_rpet_flake_use_the_guarded_rule_and_metals_default_to_simple():
    guarded = {s.code for s in STANDARDS if s.spec.decision_rule is DecisionRule.GUARDED}
    assert guarded == {"BM-NCM-EU", "RPET-FLAKE-A"}


def test_published_numbers_are_translated_faithfully():
    def bounds(code: str, parameter: str):
        limit = next(x for x in find_standard(code).spec.limits if x.parameter == parameter)
        return limit.kind, limit.min, limit.min_exclusive, limit.max, limit.max_exclusive

    assert bounds("ISRI-BIRCH-CLIFF", "cu_pct") == (LimitKind.MIN, D(94), False, None, False)
    assert bounds("ISRI-EM1", "bulk_density_kg_m3")[1] == D("480.55")
    assert bounds("ISRI-18-8", "p_pct") == (LimitKind.MAX, None, False, D("0.045"), False)
    assert bounds("EU-EOW-CU", "foreign_pct") == (LimitKind.MAX, None, False, D(2), True)
    assert bounds("JP-FE-H2", "thickness_mm") == (LimitKind.RANGE, D(3), False, D(6), True)
    assert bounds("JP-FE-H4", "thickness_mm") == (LimitKind.MAX, None, False, D(1), True)
    assert bounds("HDPE-NAT-A", "hdpe_pct") == (LimitKind.MIN, D(95), True, None, False)
    assert bounds("BM-NCM-EU", "ni_co_pct") == (LimitKind.MIN, D(20), False, None, False)
    assert bounds("BM-NCM-US", "ni_co_pct") == (LimitKind.RANGE, D(18), False, D(38), False)
    assert bounds("RPET-FLAKE-A", "iv_dl_g") == (
        LimitKind.RANGE,
        D("0.72"),
        False,
        D("0.80"),
        False,
    )
    assert bounds("JIS-G2401-LPSCU", "cu_pct")[3] == D("0.15")


def test_deducting_limits_have_a_schedule_and_everything_else_rejects_or_downgrades():
    deducting = {
        (s.code, x.parameter)
        for s in STANDARDS
        for x in s.spec.limits
        if x.action is BreachAction.DEDUCT
    }
    assert deducting == {
        ("ISRI-BIRCH-CLIFF", "cu_pct"),
        ("ISRI-TAINT-TABOR", "oil_grease_pct"),
        ("ISRI-TAINT-TABOR", "painted_pct"),
        ("ISRI-TABOO", "oil_grease_pct"),
        ("ISRI-TELIC", "fines_pct"),
        ("ISRI-EM1", "non_metallic_pct"),
        ("ISRI-EM1", "rubber_plastic_pct"),
        ("ISRI-TWIRE", "fe_pct"),
        ("BM-NCM-EU", "cu_pct"),
        ("BM-NCM-EU", "al_pct"),
        ("RPET-FLAKE-A", "moisture_pct"),
    }
