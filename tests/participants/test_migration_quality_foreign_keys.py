"""Migration 0005 gives quality's organisation columns real foreign keys and keeps the data."""

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from web.migrate import upgrade

NOW = "2026-11-01 00:00:00"


def _seed_at_0004(url: str) -> None:
    upgrade(url, "0004")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organization (id, kind, name_ja, name_en, country, address, status,"
                " created_at) VALUES (1, 'recycler', '彩の国', 'Sainokuni', 'JP', '', 'verified',"
                " :now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO member (id, organization_id, email, name, password_hash, roles,"
                " locale, active, created_at) VALUES (1, 1, 'a@b.jp', 'A', 'x', 'admin', 'ja',"
                " true, :now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO gradestandard (id, code, material_code, name_en, name_ja, rank,"
                " created_at) VALUES (1, 'STD-A', 'copper_scrap', 'A', 'A', 1, :now)"
            ),
            {"now": NOW},
        )
        # proposed_by_org_id 99 names no organisation: nothing enforced it before 0005.
        conn.execute(
            text(
                "INSERT INTO standardversion (id, standard_id, number, status, decision_rule,"
                " spec_json, source, change_note, proposed_by_org_id, created_at)"
                " VALUES (1, 1, 1, 'published', 'simple', '{}', '', '', 99, :now),"
                " (2, 1, 2, 'draft', 'simple', '{}', '', '', 1, :now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO assay (id, organization_id, lot_ref, material_code, lab_name,"
                " lab_accredited, method, sampled_on, reported_on, evidence_json, created_at)"
                " VALUES (1, 1, 'LOT-1', 'copper_scrap', 'Lab', false, '', '2026-10-01',"
                " '2026-10-02', '{}', :now)"
            ),
            {"now": NOW},
        )
    engine.dispose()


def test_upgrade_keeps_rows_clears_dangling_optional_reference_and_enforces_keys(
    empty_database_url,
):
    _seed_at_0004(empty_database_url)
    upgrade(empty_database_url)
    engine = create_engine(empty_database_url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("PRAGMA foreign_keys=ON"))
        versions = conn.execute(
            text("SELECT id, proposed_by_org_id FROM standardversion ORDER BY id")
        ).all()
        assert [tuple(v) for v in versions] == [(1, None), (2, 1)]
        assert conn.execute(text("SELECT lot_ref, organization_id FROM assay")).one() == (
            "LOT-1",
            1,
        )
        with pytest.raises(IntegrityError):
            conn.execute(
                text(
                    "INSERT INTO assay (organization_id, lot_ref, material_code, lab_name,"
                    " lab_accredited, method, sampled_on, reported_on, evidence_json,"
                    " created_at) VALUES (42, 'LOT-2', 'copper_scrap', 'Lab', false, '',"
                    " '2026-10-01', '2026-10-02', '{}', :now)"
                ),
                {"now": NOW},
            )
    engine.dispose()


def test_upgrade_stops_with_a_message_when_a_required_reference_dangles(empty_database_url):
    _seed_at_0004(empty_database_url)
    engine = create_engine(empty_database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE assay SET organization_id = 77"))
    engine.dispose()
    with pytest.raises(RuntimeError, match=r"assay.organization_id refers to missing organization"):
        upgrade(empty_database_url)
