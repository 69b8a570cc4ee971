"""Procurement categories: seeded once from the references (EPA CPG, Green Purchasing Act,
hard-to-recycle streams), public on a page in Japanese or English and on the API."""

import re
from decimal import Decimal

from sqlmodel import func, select

from market.categories import CATEGORIES, STREAMS, category_out, get_category, seed_categories
from market.models import ProcurementCategory
from participants.errors import NotFound


def _by_code(db) -> dict[str, ProcurementCategory]:
    return {c.code: c for c in db.exec(select(ProcurementCategory)).all()}


def test_seeding_adds_every_category_once(db):
    assert seed_categories(db) == len(CATEGORIES) == 23
    db.commit()
    assert seed_categories(db) == 0
    assert db.exec(select(func.count()).select_from(ProcurementCategory)).one() == 23


def test_the_epa_table_is_seeded_row_by_row_with_lower_bounds_of_ranges(db):
    seed_categories(db)
    db.commit()
    rows = _by_code(db)
    expected = {
        "park-bench-plastic": ("90", "100"),
        "park-bench-plastic-composite": ("50", "100"),
        "park-bench-aluminium": ("25", "25"),
        "park-bench-steel": ("67", "100"),
        "plastic-lumber-hdpe": ("25", "75"),
        "plastic-lumber-mixed-resins": ("50", "95"),
        "delineator-plastic": ("25", "25"),
        "delineator-rubber-base": ("100", "100"),
        "insulation-cellulose": ("75", "75"),
        "traffic-cone": ("10", "50"),
        "copier-paper": ("30", None),
        "stationery-plastic-parts": (None, "40"),
        "stamp-pad": (None, "70"),
        "uniform": (None, "25"),
        "kraft-envelope": (None, "40"),
        "lead-acid-battery-lead": (None, "85"),
        "li-ion-battery-cobalt": (None, "16"),
        "li-ion-battery-lithium": (None, "6"),
        "li-ion-battery-nickel": (None, "6"),
        "mixed-plastics-products": (None, None),
        "e-scrap-metals": (None, None),
        "solar-panel-glass": (None, None),
        "recycled-textiles": (None, None),
    }
    as_text = {
        code: (
            None if c.min_post_consumer_pct is None else str(c.min_post_consumer_pct),
            None if c.min_total_pct is None else str(c.min_total_pct),
        )
        for code, c in rows.items()
    }
    assert as_text == expected
    bench = rows["park-bench-plastic"]
    assert bench.min_post_consumer_pct == Decimal("90")
    assert "90–100" in bench.note and bench.source.startswith("US EPA CPG/RMAN, 40 CFR Part 247")
    assert (bench.classification_scheme, bench.classification_id) == ("CPV", "39113600-3")
    assert rows["traffic-cone"].source.startswith("New York State")
    assert "グリーン購入法" in rows["uniform"].source and "10 percent" in rows["uniform"].note
    streams = {c.stream for c in rows.values() if c.stream}
    assert streams == set(STREAMS) - {"elv_shells"}
    for c in rows.values():
        assert re.fullmatch(r"[a-z0-9-]{3,40}", c.code)
        assert re.fullmatch(r"\d{8}-\d", c.classification_id), c.code
        assert c.name_ja and c.name_en and c.material_ja and c.material_en and c.source
        assert "%" not in c.source + c.note  # shown through gettext: no format characters


def test_a_missing_category_is_not_found(db):
    for bad in (0, 999, 2**31):
        try:
            get_category(db, bad)
        except NotFound as error:
            assert (error.message, error.field) == ("No such procurement category.", "category_id")
        else:  # pragma: no cover
            raise AssertionError(bad)


def test_the_public_page_names_categories_in_the_visitors_language(client, db):
    seed_categories(db)
    db.commit()
    page = client.get("/procurement/categories").get_data(as_text=True)
    assert page.count("<h1") == 1 and page.count('id="category-') == 23
    assert "Park benches and picnic tables — plastic" in page
    assert "39113600-3" in page and "Benches" in page
    assert ">90%<" in page and "US EPA CPG/RMAN" in page
    assert 'href="/procurement/categories"' in page  # the navigation's Procurement link
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ja"
    page = client.get("/procurement/categories").get_data(as_text=True)
    assert "公園用ベンチ・ピクニックテーブル（プラスチック）" in page
    assert "Park benches and picnic tables — plastic" not in page
    bench = _by_code(db)["park-bench-plastic"]
    page = client.get(f"/procurement/categories/{bench.id}").get_data(as_text=True)
    assert "公園用ベンチ・ピクニックテーブル（プラスチック）" in page and "100%" in page
    assert client.get("/procurement/categories/99999").status_code == 404


def test_the_api_lists_and_reads_categories_without_a_token(client, db):
    seed_categories(db)
    db.commit()
    body = client.get("/api/v1/procurement/categories?per_page=100").get_json()
    assert body["total"] == 23
    assert [c["code"] for c in body["items"]] == sorted(c["code"] for c in CATEGORIES)
    bench = next(c for c in body["items"] if c["code"] == "park-bench-plastic")
    assert bench == category_out(_by_code(db)["park-bench-plastic"]).model_dump(mode="json")
    assert (bench["min_post_consumer_pct"], bench["min_total_pct"], bench["unit"]) == (
        "90",
        "100",
        "piece",
    )
    one = client.get(f"/api/v1/procurement/categories/{bench['id']}").get_json()
    assert one == bench
    paper = client.get("/api/v1/procurement/categories?per_page=100").get_json()["items"]
    assert next(c for c in paper if c["code"] == "copier-paper")["min_total_pct"] is None
    missing = client.get("/api/v1/procurement/categories/123456")
    assert missing.status_code == 404
    assert missing.get_json()["detail"] == "No such procurement category."
    assert client.get("/api/v1/procurement/categories?sort=x").status_code == 400
