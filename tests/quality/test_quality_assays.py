"""Assays: validation before writing, CSV rows with per-row errors, assessment, data quality,
odd input refused, and who may record and read them."""

from datetime import date
from decimal import Decimal

import pytest
from factories import as_actor, make_member, make_org
from pydantic import ValidationError
from sqlmodel import select

from participants.errors import NotFound, PermissionDenied
from participants.models import Organization
from quality.assays import (
    AssayInput,
    AssayRowsInvalid,
    InspectionAnswers,
    InvalidAssay,
    ResultIn,
    assay_data_quality,
    assays_of,
    assess_assay,
    inspections_of,
    measurements_of,
    parse_assay_csv,
    read_assay,
    record_assay,
    results_of,
    save_inspections,
)
from quality.catalogue import latest_published, seed_catalogue
from quality.errors import DuplicateParameter, InvalidMeasurement, UnknownParameter
from quality.models import Assay, AssayResult


def _r(parameter, value, uncertainty=None, unit=None):
    return ResultIn(parameter=parameter, value=value, uncertainty=uncertainty, unit=unit)


def _assay(material="stainless_scrap", results=None, **kw):
    fields = dict(
        lot_ref="LOT-1",
        material=material,
        lab_name="Lab",
        sampled_on=date(2026, 3, 1),
        reported_on=date(2026, 3, 4),
        lab_accredited=True,
        method="XRF",
        tonnes="20.5",
    )
    fields.update(kw)
    if results is not None or "csv" not in fields:
        fields["results"] = STAINLESS if results is None else results
    return AssayInput.model_validate(fields)


STAINLESS = [
    _r("ni_pct", "7.00", "0.05"),
    _r("cr_pct", "16.0", "0.1"),
    _r("mo_pct", "0.50"),
    _r("cu_pct", "0.50"),
    _r("p_pct", "0.045"),
    _r("s_pct", "0.03"),
]


@pytest.fixture()
def seeded(db):
    seed_catalogue(db)
    db.commit()
    return db


@pytest.fixture()
def yard(seeded):
    """An inspector of a verified recycler."""
    return as_actor(seeded, make_member(seeded, make_org(seeded), roles="inspector"))


def _org(db, org_id) -> Organization:
    return db.get(Organization, org_id)


def _nothing_written(db):
    assert db.exec(select(Assay)).all() == [] and db.exec(select(AssayResult)).all() == []


def test_an_assay_exactly_at_every_18_8_limit_is_stored_exactly_and_conforms(seeded, yard):
    assay = record_assay(seeded, yard, _assay())
    seeded.commit()
    assert assay.tonnes_kg == 20500 and assay.organization_id == yard.organization_id
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
        ([_r("xx_pct", "1")], UnknownParameter, "Unknown parameter xx_pct."),
        (
            [_r("ni_pct", "7"), _r("ni_pct", "8")],
            DuplicateParameter,
            "Parameter ni_pct is given more than once.",
        ),
        (
            [_r("ni_pct", "-1")],
            InvalidMeasurement,
            "The value of ni_pct must be zero or more.",
        ),
        (
            [_r("ni_pct", "7", "-0.1")],
            InvalidMeasurement,
            "The uncertainty of ni_pct must be zero or more.",
        ),
        (
            [_r("ni_pct", "7", unit="ppm")],
            InvalidMeasurement,
            "ni_pct is measured in wt %, not ppm.",
        ),
        (
            [_r("ni_co_pct", "25")],
            DuplicateParameter,
            "ni_co_pct is computed from its parts; give the parts only.",
        ),
    ],
)
def test_bad_results_are_refused_with_a_clear_message_and_nothing_is_written(
    seeded, yard, rows, error, message
):
    with pytest.raises(error) as err:
        record_assay(seeded, yard, _assay(results=rows))
    seeded.rollback()
    assert str(err.value) == message
    _nothing_written(seeded)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("seven", "Enter a number."),
        ("1e99999", "Enter a number."),
        (True, "Enter a number."),
        ("NaN", "Enter a number."),
        ("10000000000", None),
        ("0.0000000000001", None),
    ],
)
def test_a_value_that_is_not_a_bounded_decimal_never_reaches_the_database(seeded, value, message):
    with pytest.raises(ValidationError) as err:
        _r("ni_pct", value)
    first = err.value.errors()[0]
    assert first["loc"] == ("value",)
    if message:
        assert first["msg"] == message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lot_ref", "LOT\u202e1"),
        ("lot_ref", "L" * 81),
        ("lot_ref", ""),
        ("lab_name", "Lab\x00"),
        ("method", "XRF\u2066"),
        ("method", "m" * 201),
        ("tonnes", "1e99999"),
        ("tonnes", True),
        ("tonnes", "20.0005"),
        ("sampled_on", "2026-02-30"),
        ("reported_on", "3026-01-01"),
    ],
)
def test_odd_header_text_and_numbers_are_refused_by_the_assay_record(seeded, field, value):
    with pytest.raises(ValidationError) as err:
        _assay(**{field: value})
    assert err.value.errors()[0]["loc"][0] == field


def test_a_unit_written_differently_but_equal_is_accepted(seeded, yard):
    assay = record_assay(seeded, yard, _assay(results=[_r("ni_pct", "7", unit="WT%")]))
    assert assay.id is not None


def test_header_errors_unknown_material_and_dates_in_the_wrong_order(seeded, yard):
    with pytest.raises(InvalidAssay) as err:
        record_assay(seeded, yard, _assay(reported_on=date(2026, 2, 1)))
    assert err.value.field == "reported_on"
    with pytest.raises(InvalidAssay) as err:
        record_assay(seeded, yard, _assay(material="gold"))
    assert (str(err.value), err.value.field) == ("Unknown material gold.", "material")
    with pytest.raises(InvalidAssay) as err:
        record_assay(seeded, yard, _assay(tonnes="0"))
    assert str(err.value) == "Tonnes must be a positive number."
    with pytest.raises(InvalidAssay) as err:
        record_assay(seeded, yard, _assay(results=STAINLESS, csv="parameter,value\nni_pct,7\n"))
    assert str(err.value) == "Send either results or csv."
    seeded.rollback()
    _nothing_written(seeded)


def test_csv_rows_parse_and_several_bad_rows_are_reported_together(seeded, yard):
    rows = parse_assay_csv("parameter,value,uncertainty,unit\nni_pct,7.00,0.05,wt %\ncr_pct,16,,\n")
    assert [(r["parameter"], r["value"], r["uncertainty"], r["row"]) for r in rows] == [
        ("ni_pct", "7.00", "0.05", 2),
        ("cr_pct", "16", "", 3),
    ]
    bad = "parameter,value\nni_pct,abc\nfoo_pct,1\ncr_pct,16\ncr_pct,17\n"
    with pytest.raises(AssayRowsInvalid) as err:
        record_assay(seeded, yard, _assay(csv=bad))
    assert [(row, str(e)) for row, e in err.value.problems] == [
        (2, "The value of ni_pct must be a decimal number."),
        (3, "Unknown parameter foo_pct."),
        (5, "Parameter cr_pct is given more than once."),
    ]
    seeded.rollback()
    _nothing_written(seeded)


def test_csv_values_out_of_the_measurement_bounds_are_row_errors_and_nothing_is_written(
    seeded, yard
):
    bad = (
        "parameter,value,uncertainty\nni_pct,1e99999,\ncr_pct,16,true\n"
        "mo_pct,99999999999,\ncu_pct,0.5,0.0000000000001\np_pct,NaN,\n"
    )
    with pytest.raises(AssayRowsInvalid) as err:
        record_assay(seeded, yard, _assay(csv=bad))
    assert [(row, str(e)) for row, e in err.value.problems] == [
        (2, "The value of ni_pct must be a decimal number."),
        (3, "The uncertainty of cr_pct must be a decimal number."),
        (4, "The value of mo_pct is out of range (at most 10^9, twelve decimals)."),
        (5, "The uncertainty of cu_pct is out of range (at most 10^9, twelve decimals)."),
        (6, "The value of p_pct must be a decimal number."),
    ]
    seeded.rollback()
    _nothing_written(seeded)


def test_csv_with_a_short_line_or_without_the_header_is_refused(seeded):
    with pytest.raises(InvalidMeasurement) as err:
        parse_assay_csv("parameter,value,uncertainty\nni_pct,7\n")
    assert str(err.value) == "Line 2 has 2 fields, the header 3."
    with pytest.raises(InvalidMeasurement):
        parse_assay_csv("ni_pct,7\n")


def test_black_mass_guarded_rule_and_derived_ni_co_sum(seeded, yard):
    rows = [
        _r("ni_pct", "15.3", "0.3"),
        _r("co_pct", "5.0", "0"),
        _r("li_pct", "4.0", "0.1"),
        _r("cu_pct", "1.0", "0.1"),
        _r("al_pct", "1.0", "0.1"),
    ]
    data = _assay(
        material="li_ion_black_mass", results=rows, evidence={"inspections": {"dried": True}}
    )
    assay = record_assay(seeded, yard, data)
    report = assess_assay(seeded, assay, *latest_published(seeded, "BM-NCM-EU"))
    by = {r.parameter: r for r in report.assessment.limits}
    # Ni 15.3 − U 0.3 = 15.0: exactly at the guarded minimum; Ni + Co = 20.3 ± 0.3 → 20.0.
    assert by["ni_pct"].passed and by["ni_pct"].margin == 0
    assert by["ni_co_pct"].value == Decimal("20.3") and by["ni_co_pct"].margin == Decimal("0.0")
    assert report.assessment.outcome == "conforms"


def test_hdpe_downgrade_chain_a_to_b_to_c(seeded, yard):
    inspections = {"no_pvc": True, "no_metal": True, "no_glass": True}
    outcomes = []
    for purity in ("96", "95", "85", "84.9", "79.9"):
        data = _assay(
            material="hdpe",
            lot_ref=f"H{purity}",
            evidence={"inspections": inspections},
            results=[_r("hdpe_pct", purity), _r("contaminant_pct", "1")],
        )
        assay = record_assay(seeded, yard, data)
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


def test_missing_value_makes_the_assessment_incomplete(seeded, yard):
    assay = record_assay(seeded, yard, _assay(results=STAINLESS[:5]))
    report = assess_assay(seeded, assay, *latest_published(seeded, "ISRI-18-8"))
    assert report.assessment.outcome == "incomplete" and report.assessment.missing == ["s_pct"]


def test_data_quality_level_of_a_metal_assay_and_what_is_missing(seeded, yard):
    assay = record_assay(seeded, yard, _assay(evidence={"declared": {"composition": "18-8"}}))
    assert assay_data_quality(seeded, assay) == (
        3,
        ["third_party_inspected", "radioactivity_checked"],
    )
    bare = record_assay(seeded, yard, _assay(lot_ref="L2", lab_accredited=False))
    assert assay_data_quality(seeded, bare) == (0, ["composition"])


# --- who may record, read and inspect ---------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "roles", "allowed"),
    [
        ("verified", "admin", True),
        ("verified", "trader", True),
        ("verified", "inspector", True),
        ("verified", "signatory", False),
        ("verified", "officer", False),
        ("unverified", "admin", False),
        ("unverified", "officer", False),
        ("suspended", "inspector", False),
    ],
)
def test_who_records_an_assay_verified_organisation_and_role(seeded, status, roles, allowed):
    org = make_org(seeded, kind="agency" if roles == "officer" else "recycler", status=status)
    actor = as_actor(seeded, make_member(seeded, org, roles=roles))
    if allowed:
        assert record_assay(seeded, actor, _assay()).organization_id == org.id
    else:
        with pytest.raises(PermissionDenied):
            record_assay(seeded, actor, _assay())
        _nothing_written(seeded)


def test_a_member_reads_only_its_own_organisations_assays_in_any_state(seeded, yard):
    assay = record_assay(seeded, yard, _assay())
    seeded.commit()
    colleague = as_actor(
        seeded, make_member(seeded, _org(seeded, yard.organization_id), roles="officer")
    )
    assert read_assay(seeded, colleague, assay.id) is assay
    assert [a.id for a in assays_of(seeded, colleague)] == [assay.id]
    stranger = as_actor(seeded, make_member(seeded, make_org(seeded), roles="admin"))
    with pytest.raises(NotFound) as err:
        read_assay(seeded, stranger, assay.id)
    assert str(err.value) == "No such assay."
    with pytest.raises(NotFound):
        read_assay(seeded, stranger, 999_999)
    assert assays_of(seeded, stranger) == []


def test_an_unverified_organisation_still_reads_its_own_assays(seeded, yard):
    assay = record_assay(seeded, yard, _assay())
    org = _org(seeded, yard.organization_id)
    org.status = "unverified"
    seeded.add(org)
    seeded.commit()
    assert read_assay(seeded, as_actor(seeded, make_member(seeded, org)), assay.id).id == assay.id


def test_inspections_are_saved_by_an_assaying_role_of_the_organisation_only(seeded, yard):
    data = _assay(material="hdpe", results=[_r("hdpe_pct", "96"), _r("contaminant_pct", "1")])
    assay = record_assay(seeded, yard, data)
    answers = InspectionAnswers(inspections={"no_pvc": True, "no_metal": False})
    stranger = as_actor(seeded, make_member(seeded, make_org(seeded), roles="inspector"))
    with pytest.raises(NotFound):
        save_inspections(seeded, stranger, assay.id, answers)
    signatory = as_actor(
        seeded, make_member(seeded, _org(seeded, yard.organization_id), roles="signatory")
    )
    with pytest.raises(PermissionDenied):
        save_inspections(seeded, signatory, assay.id, answers)
    assert inspections_of(assay) == {}
    with pytest.raises(InvalidMeasurement) as err:
        save_inspections(seeded, yard, assay.id, InspectionAnswers(inspections={"dragons": True}))
    assert str(err.value) == "Unknown requirement dragons."
    save_inspections(seeded, yard, assay.id, answers)
    assert inspections_of(assay) == {"no_pvc": True, "no_metal": False}


def test_an_uncertainty_not_stated_is_stored_as_none_and_graded_as_zero(seeded, yard):
    """A blank or 0 uncertainty is "none stated" (NULL), never a claim of an exact measurement;
    the grading counts it 0, as before."""
    rows = [
        _r("ni_pct", "7.00", "0.05"),
        _r("cr_pct", "16.0", "0"),
        _r("mo_pct", "0.50"),
        _r("cu_pct", "0.50", "0.000"),
        _r("p_pct", "0.045"),
        _r("s_pct", "0.03"),
    ]
    assay = record_assay(seeded, yard, _assay(results=rows))
    seeded.commit()
    stored = {r.parameter: r.uncertainty for r in results_of(seeded, assay)}
    assert stored == {
        "ni_pct": Decimal("0.05"),
        "cr_pct": None,
        "mo_pct": None,
        "cu_pct": None,
        "p_pct": None,
        "s_pct": None,
    }
    graded = {m.parameter: m.uncertainty for m in measurements_of(seeded, assay)}
    assert graded["ni_pct"] == Decimal("0.05") and graded["cr_pct"] == 0
    report = assess_assay(seeded, assay, *latest_published(seeded, "ISRI-18-8"))
    assert report.assessment.outcome == "conforms"
