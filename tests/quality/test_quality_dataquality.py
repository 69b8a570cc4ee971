"""Data-quality levels in the spirit of DIN SPEC 91446 (pure: no database)."""

import pytest

from quality.dataquality import LotEvidence, data_quality_level, missing_for_next_level
from quality.errors import InvalidEvidence

DESCRIBED = {"polymer": "PP", "source": "PCR", "form": "regrind", "colour": "natural"}
LEVEL_2 = {"ash_pct", "mfr_g_10min", "moisture_pct"}
LEVEL_3 = LEVEL_2 | {"density_kg_m3", "bulk_density_kg_m3"}


def plastic(declared=DESCRIBED, measured=frozenset(), **facts) -> LotEvidence:
    return LotEvidence("plastic", declared, frozenset(measured), **facts)


@pytest.mark.parametrize(
    ("evidence", "level", "next_needs"),
    [
        (plastic(declared={}), 0, ["polymer", "source", "form", "colour"]),
        (plastic({**DESCRIBED, "colour": " "}), 0, ["colour"]),
        (plastic(), 1, ["ash_pct", "mfr_g_10min", "moisture_pct"]),
        (plastic(measured={"ash_pct", "moisture_pct"}), 1, ["mfr_g_10min"]),
        (plastic(measured=LEVEL_2), 2, ["density_kg_m3", "bulk_density_kg_m3"]),
        (plastic(measured=LEVEL_3), 3, ["hdt_c", "identification_method"]),
        (plastic(measured=LEVEL_3 | {"hdt_c"}), 3, ["identification_method"]),
        (plastic(measured=LEVEL_3 | {"hdt_c"}, identification_method="DSC"), 4, []),
    ],
)
def test_plastic_levels_follow_din_spec_91446(evidence, level, next_needs):
    assert data_quality_level(evidence) == level
    assert missing_for_next_level(evidence) == next_needs


def test_plastic_source_must_be_pcr_or_pir():
    assert data_quality_level(plastic({**DESCRIBED, "source": "pir"})) == 1
    mixed = plastic({**DESCRIBED, "source": "mixed"})
    assert (data_quality_level(mixed), missing_for_next_level(mixed)) == (0, ["source"])


def test_levels_are_cumulative_a_gap_caps_the_level():
    evidence = plastic(measured=(LEVEL_3 | {"hdt_c"}) - {"mfr_g_10min"}, identification_method="IR")
    assert data_quality_level(evidence) == 1
    assert missing_for_next_level(evidence) == ["mfr_g_10min"]


def metal(family="metal", declared=None, measured=frozenset(), **facts) -> LotEvidence:
    declared = {"composition": "Cu 96 %"} if declared is None else declared
    return LotEvidence(family, declared, frozenset(measured), **facts)


@pytest.mark.parametrize(
    ("evidence", "level", "next_needs"),
    [
        (metal(declared={}), 0, ["composition"]),
        (metal(), 1, ["lab_assay"]),
        (metal(measured={"cu_pct"}), 2, ["lab_accredited", "method_stated"]),
        (metal(measured={"cu_pct"}, lab_accredited=True), 2, ["method_stated"]),
        (
            metal(measured={"cu_pct"}, lab_accredited=True, method_stated=True),
            3,
            ["third_party_inspected", "radioactivity_checked"],
        ),
        (
            metal(
                measured={"cu_pct"},
                lab_accredited=True,
                method_stated=True,
                third_party_inspected=True,
            ),
            3,
            ["radioactivity_checked"],
        ),
        (
            metal(
                "battery",
                measured={"ni_pct", "co_pct"},
                lab_accredited=True,
                method_stated=True,
                third_party_inspected=True,
                radioactivity_checked=True,
            ),
            4,
            [],
        ),
    ],
)
def test_metal_battery_and_e_scrap_levels_climb_from_declaration_to_inspection(
    evidence, level, next_needs
):
    assert data_quality_level(evidence) == level
    assert missing_for_next_level(evidence) == next_needs


def test_e_scrap_uses_the_metal_ladder():
    assert data_quality_level(metal("e-scrap", measured={"cu_pct"})) == 2


def test_an_accredited_lab_without_an_assay_stays_at_level_1():
    assert data_quality_level(metal(lab_accredited=True, method_stated=True)) == 1


def test_evidence_does_not_change_when_the_callers_dict_does():
    declared = dict(DESCRIBED)
    evidence = plastic(declared)
    declared.clear()
    assert data_quality_level(evidence) == 1


def test_unknown_family_and_identification_method_are_refused():
    with pytest.raises(InvalidEvidence) as raised:
        LotEvidence("glass", {}, frozenset())  # type: ignore[arg-type]
    assert raised.value.field == "family"
    with pytest.raises(InvalidEvidence) as raised:
        plastic(identification_method="NMR")
    assert raised.value.field == "identification_method"
