"""Assays: validation before writing, CSV rows with per-row errors, assessment, data quality."""

from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import select

from quality.assays import (
    AssayHeader,
    AssayRowsInvalid,
    InvalidAssay,
    ResultInput,
    assay_data_quality,
    assess_assay,
    parse_assay_csv,
    record_assay,
    results_of,
)
from quality.catalogue import latest_published, seed_catalogue
from quality.errors import DuplicateParameter, InvalidMeasurement, UnknownParameter
from quality.models import Assay, AssayResult


def _header(material="stainless_scrap", **kw):
    fields = dict(
        lot_ref="LOT-1",
        material_code=material,
        lab_name="Lab",
        sampled_on=date(2026, 3, 1),
        reported_on=date(2026, 3, 4),
        lab_accredited=True,
        method="XRF",
        tonnes="20.5",
    )
    fields.update(kw)
    return AssayHeader(**fields)


STAINLESS = [
    ResultInput("ni_pct", "7.00", "0.05"),
    ResultInput("cr_pct", "16.0", "0.1"),
    ResultInput("mo_pct", "0.50"),
    ResultInput("cu_pct", "0.50"),
    ResultInput("p_pct", "0.045"),
    ResultInput("s_pct", "0.03"),
]


@pytest.fixture()
def seeded(db):
    seed_catalogue(db)
    db.commit()
    return db


def _nothing_written(db):
    assert db.exec(select(Assay)).all() == [] and db.exec(select(AssayResult)).all() == []


def test_an_assay_exactly_at_every_18_8_limit_is_stored_exactly_and_conforms(seeded):
    assay = record_assay(seeded, 5, _header(), STAINLESS)
    seeded.commit()
    assert assay.tonnes_kg == 20500
    assert [(r.parameter, r.value) for r in results_of(seeded, assay)][:2] == [
        ("ni_pct", Decimal("7.00")),
        ("cr_pct", Decimal("16.0")),
    ]
    report = assess_assay(seeded, assay, *latest_published(seeded, "ISRI-18-8"))
    assert report.assessment.outcome == "conforms"
    assert report.best[0].code == "ISRI-18-8"
    assert all(r.margin == 0 for r in report.assessment.limits)


@pytest.mark.parametrize(
    ("rows", "error", "message"),
    [
        ([ResultInput("xx_pct", "1")], UnknownParameter, "Unknown parameter xx_pct."),
        (
            [ResultInput("ni_pct", "7"), ResultInput("ni_pct", "8")],
            DuplicateParameter,
            "Parameter ni_pct is given more than once.",
        ),
        (
            [ResultInput("ni_pct", "seven")],
            InvalidMeasurement,
            "The value of ni_pct must be a decimal number.",
        ),
        (
            [ResultInput("ni_pct", "-1")],
            InvalidMeasurement,
            "The value of ni_pct must be zero or more.",
        ),
        (
            [ResultInput("ni_pct", "7", "-0.1")],
            InvalidMeasurement,
            "The uncertainty of ni_pct must be zero or more.",
        ),
        (
            [ResultInput("ni_pct", "7", unit="ppm")],
            InvalidMeasurement,
            "ni_pct is measured in wt %, not ppm.",
        ),
        (
            [ResultInput("ni_co_pct", "25")],
            DuplicateParameter,
            "ni_co_pct is computed from its parts; give the parts only.",
        ),
    ],
)
def test_bad_results_are_refused_with_a_clear_message_and_nothing_is_written(
    seeded, rows, error, message
):
    with pytest.raises(error) as err:
        record_assay(seeded, 5, _header(), rows)
    seeded.rollback()
    assert str(err.value) == message
    _nothing_written(seeded)


def test_a_unit_written_differently_but_equal_is_accepted(seeded):
    assay = record_assay(seeded, 5, _header(), [ResultInput("ni_pct", "7", unit="WT%")])
    assert assay.id is not None


def test_header_errors_unknown_material_and_dates_in_the_wrong_order(seeded):
    with pytest.raises(InvalidAssay) as err:
        record_assay(seeded, 5, _header(reported_on=date(2026, 2, 1)), STAINLESS)
    assert err.value.field == "reported_on"
    with pytest.raises(Exception) as err:
        record_assay(seeded, 5, _header(material="gold"), STAINLESS)
    assert str(err.value) == "Unknown material gold."
    seeded.rollback()
    _nothing_written(seeded)


def test_csv_rows_parse_and_several_bad_rows_are_reported_together(seeded):
    rows = parse_assay_csv("parameter,value,uncertainty,unit\nni_pct,7.00,0.05,wt %\ncr_pct,16,,\n")
    assert [(r.parameter, r.value, r.uncertainty, r.row) for r in rows] == [
        ("ni_pct", "7.00", "0.05", 2),
        ("cr_pct", "16", "", 3),
    ]
    bad = parse_assay_csv("parameter,value\nni_pct,abc\nfoo_pct,1\ncr_pct,16\ncr_pct,17\n")
    with pytest.raises(AssayRowsInvalid) as err:
        record_assay(seeded, 5, _header(), bad)
    assert [(row, str(e)) for row, e in err.value.problems] == [
        (2, "The value of ni_pct must be a decimal number."),
        (3, "Unknown parameter foo_pct."),
        (5, "Parameter cr_pct is given more than once."),
    ]
    seeded.rollback()
    _nothing_written(seeded)


def test_csv_with_a_short_line_or_without_the_header_is_refused(seeded):
    with pytest.raises(InvalidMeasurement) as err:
        parse_assay_csv("parameter,value,uncertainty\nni_pct,7\n")
    assert str(err.value) == "Line 2 has 2 fields, the header 3."
    with pytest.raises(InvalidMeasurement):
        parse_assay_csv("ni_pct,7\n")


def test_black_mass_guarded_rule_and_derived_ni_co_sum(seeded):
    rows = [
        ResultInput("ni_pct", "15.3", "0.3"),
        ResultInput("co_pct", "5.0", "0"),
        ResultInput("li_pct", "4.0", "0.1"),
        ResultInput("cu_pct", "1.0", "0.1"),
        ResultInput("al_pct", "1.0", "0.1"),
    ]
    header = _header(material="li_ion_black_mass", evidence={"inspections": {"dried": True}})
    assay = record_assay(seeded, 5, header, rows)
    report = assess_assay(seeded, assay, *latest_published(seeded, "BM-NCM-EU"))
    by = {r.parameter: r for r in report.assessment.limits}
    # Ni 15.3 − U 0.3 = 15.0: exactly at the guarded minimum; Ni + Co = 20.3 ± 0.3 → 20.0.
    assert by["ni_pct"].passed and by["ni_pct"].margin == 0
    assert by["ni_co_pct"].value == Decimal("20.3") and by["ni_co_pct"].margin == Decimal("0.0")
    assert report.assessment.outcome == "conforms"


def test_hdpe_downgrade_chain_a_to_b_to_c(seeded):
    inspections = {"no_pvc": True, "no_metal": True, "no_glass": True}
    outcomes = []
    for purity in ("96", "95", "85", "84.9", "79.9"):
        header = _header(
            material="hdpe", lot_ref=f"H{purity}", evidence={"inspections": inspections}
        )
        assay = record_assay(
            seeded,
            5,
            header,
            [ResultInput("hdpe_pct", purity), ResultInput("contaminant_pct", "1")],
        )
        report = assess_assay(seeded, assay, *latest_published(seeded, "HDPE-NAT-A"))
        outcomes.append(
            (
                purity,
                str(report.assessment.outcome),
                report.assessment.downgrade_to,
                report.best[0].code if report.best else None,
            )
        )
    assert outcomes == [
        ("96", "conforms", None, "HDPE-NAT-A"),
        ("95", "downgraded", "HDPE-NAT-B", "HDPE-NAT-B"),
        ("85", "downgraded", "HDPE-NAT-B", "HDPE-NAT-B"),
        ("84.9", "downgraded", "HDPE-NAT-B", "HDPE-NAT-C"),
        ("79.9", "downgraded", "HDPE-NAT-B", None),
    ]


def test_missing_value_makes_the_assessment_incomplete(seeded):
    assay = record_assay(seeded, 5, _header(), STAINLESS[:5])
    report = assess_assay(seeded, assay, *latest_published(seeded, "ISRI-18-8"))
    assert report.assessment.outcome == "incomplete" and report.assessment.missing == ["s_pct"]


def test_data_quality_level_of_a_metal_assay_and_what_is_missing(seeded):
    header = _header(evidence={"declared": {"composition": "18-8"}})
    assay = record_assay(seeded, 5, header, STAINLESS)
    assert assay_data_quality(seeded, assay) == (
        3,
        ["third_party_inspected", "radioactivity_checked"],
    )
    bare = record_assay(seeded, 5, _header(lot_ref="L2", lab_accredited=False), STAINLESS)
    assert assay_data_quality(seeded, bare) == (0, ["composition"])
