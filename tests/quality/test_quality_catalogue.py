"""The catalogue in the database: seeded from the references, exact round trip, look-ups."""

from datetime import date

import pytest
from sqlmodel import select

from quality.catalogue import (
    latest_published,
    published_specs_of_material,
    seed_catalogue,
    spec_of,
)
from quality.errors import UnknownStandard
from quality.models import GradeStandard, Material, Parameter, StandardVersion
from quality.reference_data import MATERIALS, PARAMETERS, STANDARDS


def test_seed_inserts_every_reference_row_once_and_is_idempotent(db):
    added = seed_catalogue(db)
    db.commit()
    assert added == len(MATERIALS) + len(PARAMETERS) + len(STANDARDS)
    assert seed_catalogue(db) == 0
    assert len(db.exec(select(Material)).all()) == len(MATERIALS)
    assert len(db.exec(select(Parameter)).all()) == len(PARAMETERS)
    assert len(db.exec(select(GradeStandard)).all()) == len(STANDARDS)


def test_every_seeded_standard_is_version_1_published_with_its_source_and_exact_spec(db):
    seed_catalogue(db)
    for ref in STANDARDS:
        standard, version = latest_published(db, ref.code)
        assert version.number == 1 and version.status == "published"
        assert version.effective_from == date(2024, 1, 1)
        assert version.source == ref.source
        assert spec_of(version, standard) == ref.spec


def test_latest_published_of_an_unknown_code_is_an_unknown_standard(db):
    seed_catalogue(db)
    with pytest.raises(UnknownStandard) as err:
        latest_published(db, "NO-SUCH-GRADE")
    assert str(err.value) == "Unknown grade standard NO-SUCH-GRADE."


def test_published_specs_of_hdpe_are_the_a_b_c_ladder_in_rank_order(db):
    seed_catalogue(db)
    assert [s.code for s in published_specs_of_material(db, "hdpe")] == [
        "HDPE-NAT-A",
        "HDPE-NAT-B",
        "HDPE-NAT-C",
    ]


def test_derived_parameter_ni_co_is_stored_as_the_sum_of_its_parts(db):
    seed_catalogue(db)
    ni_co = db.exec(select(Parameter).where(Parameter.code == "ni_co_pct")).one()
    assert ni_co.derived_from == "ni_pct co_pct"
    v = db.exec(
        select(StandardVersion).join(GradeStandard).where(GradeStandard.code == "BM-NCM-EU")
    ).one()
    assert '"sum_of": ["ni_pct", "co_pct"]' in v.spec_json
