"""Migration 0016: an uncertainty stored as 0 (however written) becomes NULL, "none stated";
a stated one stays; the way back writes 0 again."""

from decimal import Decimal

from alembic import command
from factories import as_actor, make_member, make_org
from sqlalchemy import text
from sqlmodel import Session

import web.models  # noqa: F401
from quality.assays import AssayInput, record_assay
from quality.catalogue import seed_catalogue
from web.db import make_engine
from web.migrate import alembic_config, upgrade


def test_zero_uncertainties_become_none_stated_and_stated_ones_stay(empty_database_url):
    url = empty_database_url
    upgrade(url)
    engine = make_engine(url)
    try:
        with Session(engine) as db:
            seed_catalogue(db)
            db.commit()
            inspector = as_actor(db, make_member(db, make_org(db), roles="inspector"))
            results = [
                {"parameter": p, "value": v, "uncertainty": u}
                for p, v, u in [
                    ("ni_pct", "7", "0.05"),
                    ("cr_pct", "16", None),
                    ("mo_pct", "1", None),
                ]
            ]
            assay = record_assay(
                db,
                inspector,
                AssayInput.model_validate(
                    {
                        "lot_ref": "LOT-1",
                        "material": "stainless_scrap",
                        "lab_name": "Lab",
                        "sampled_on": "2026-03-01",
                        "reported_on": "2026-03-04",
                        "results": results,
                    }
                ),
            )
            db.commit()
            assay_id = assay.id
        command.downgrade(alembic_config(url), "0015_open_kg")
        with engine.begin() as conn:
            back = dict(
                conn.execute(
                    text("SELECT parameter, uncertainty FROM assayresult WHERE assay_id = :a"),
                    {"a": assay_id},
                ).all()
            )
            assert back == {"ni_pct": "0.05", "cr_pct": "0", "mo_pct": "0"}
            # Zeros as older code may have written them.
            conn.execute(
                text("UPDATE assayresult SET uncertainty = '0.000' WHERE parameter = 'mo_pct'")
            )
        upgrade(url)
        with engine.connect() as conn:
            after = dict(
                conn.execute(
                    text("SELECT parameter, uncertainty FROM assayresult WHERE assay_id = :a"),
                    {"a": assay_id},
                ).all()
            )
        assert after == {"ni_pct": "0.05", "cr_pct": None, "mo_pct": None}
        assert Decimal(after["ni_pct"]) == Decimal("0.05")
    finally:
        engine.dispose()
