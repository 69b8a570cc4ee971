"""Green-purchasing reports: an agency's orders of a fiscal year (April–March, by order date)
by category, direct and tender apart and together, against the category's recommended
minimum recycled content; who may read which agency's report."""

from datetime import date
from decimal import Decimal

import pytest
from factories import as_actor, make_member, make_org
from proc_ocds_factories import make_category, make_order
from sqlalchemy import event

from market.reports import (
    current_fiscal_year,
    fiscal_year_bounds,
    fiscal_year_of,
    green_purchasing_report,
    reportable_agencies,
)
from participants.errors import NotFound, PermissionDenied, ValidationFailed


@pytest.mark.parametrize(
    ("day", "fiscal_year"),
    [
        (date(2026, 4, 1), 2026),
        (date(2027, 3, 31), 2026),
        (date(2027, 4, 1), 2027),
        (date(2026, 3, 31), 2025),
        (date(2026, 12, 31), 2026),
        (date(2027, 1, 1), 2026),
    ],
)
def test_the_fiscal_year_starts_on_april_first(day, fiscal_year):
    assert fiscal_year_of(day) == fiscal_year


def test_fiscal_year_bounds_and_the_current_year_in_tokyo():
    from datetime import UTC, datetime

    assert fiscal_year_bounds(2026) == (date(2026, 4, 1), date(2027, 3, 31))
    # 2027-03-31 15:00 UTC is already April 1 in Tokyo.
    assert current_fiscal_year(datetime(2027, 3, 31, 14, 59, tzinfo=UTC)) == 2026
    assert current_fiscal_year(datetime(2027, 3, 31, 15, 0, tzinfo=UTC)) == 2027


@pytest.fixture()
def world(db):
    city = make_org(db, kind="agency", name_en="City of Yokohama", name_ja="横浜市")
    other_city = make_org(db, kind="agency", name_en="Kanto Office", name_ja="関東事務所")
    maker = make_org(db, kind="manufacturer")
    operator = make_org(db, kind="operator")
    benches = make_category(db, code="a-benches")
    stationery = make_category(
        db,
        code="b-stationery",
        name_en="Stationery",
        name_ja="文具類",
        classification_id="44120000",
        classification_description="Office supplies",
        min_post_consumer_pct=None,
        min_total_pct=Decimal("40"),
        source="Green Purchasing Act, common criterion for stationery",
    )
    glass = make_category(
        db,
        code="c-glass",
        name_en="Solar-panel glass products",
        name_ja="太陽光パネルガラス製品",
        min_post_consumer_pct=None,
        min_total_pct=None,
        source="none recommended",
    )

    def order(category, day, mass, pc, total, subtotal, **fields):
        return make_order(db, city, maker, category, day, mass, pc, total, subtotal, **fields)

    # FY2026 (2026-04-01 … 2027-03-31)
    order(benches, date(2026, 4, 1), 850, "95", "100", 1_200_000)  # meets 90 / 100
    order(benches, date(2027, 3, 31), 3_400, "60", "100", 4_000_000, source="tender")  # below
    order(stationery, date(2026, 10, 15), 123, "0", "40.5", 98_000)  # meets 40; claim 50 kg
    order(stationery, date(2026, 11, 20), 77, "0", "35", 52_000)  # below 40; claim 27 kg
    order(glass, date(2026, 7, 1), 1_000, "0", "30", 500_000)  # no minimum to meet
    # Not counted in FY2026: the next and the previous year, a cancelled order, another agency.
    order(benches, date(2027, 4, 1), 500, "100", "100", 700_000)
    order(benches, date(2026, 3, 31), 400, "100", "100", 600_000)
    order(benches, date(2026, 5, 1), 999, "100", "100", 900_000, status="cancelled")
    make_order(db, other_city, maker, benches, date(2026, 6, 1), 300, "95", "100", 450_000)
    members = {
        "officer": make_member(db, city, roles="officer"),
        "city admin": make_member(db, city, roles="admin"),
        "other officer": make_member(db, other_city, roles="officer"),
        "maker": make_member(db, maker, roles="admin trader"),
        "operator": make_member(db, operator, roles="admin"),
    }
    return city, other_city, maker, {k: as_actor(db, m) for k, m in members.items()}


def _figures(f):
    return (
        f.orders,
        f.value_jpy,
        f.value_total_jpy,
        f.mass_t,
        f.recycled_t,
        f.recycled_share_pct,
        f.post_consumer_t,
        f.met_orders,
        f.unmet_orders,
        f.met_t,
        f.met_share_pct,
    )


def test_fiscal_2026_by_category_direct_and_tender_with_exact_figures(db, world):
    city, _other, _maker, actors = world
    report = green_purchasing_report(db, actors["officer"], 2026).out()

    assert (report.organization_id, report.organization_name_en) == (city.id, "City of Yokohama")
    assert (report.period_start, report.period_end) == (date(2026, 4, 1), date(2027, 3, 31))
    assert [c.code for c in report.categories] == ["a-benches", "b-stationery", "c-glass"]
    benches, stationery, glass = report.categories
    assert (benches.min_post_consumer_pct, benches.min_total_pct) == ("90", "100")
    # orders, value excl./incl. tax, mass t, recycled t, share, post-consumer t,
    # orders meeting / below the minimum, mass meeting it, share meeting it (調達率)
    assert _figures(benches.direct) == (
        1, 1_200_000, 1_320_000, "0.850", "0.850", "100.0", "0.808", 1, 0, "0.850", "100.0"
    )  # fmt: skip
    assert _figures(benches.tender) == (
        1, 4_000_000, 4_400_000, "3.400", "3.400", "100.0", "2.040", 0, 1, "0.000", "0.0"
    )  # fmt: skip
    assert _figures(benches.total) == (
        2, 5_200_000, 5_720_000, "4.250", "4.250", "100.0", "2.848", 1, 1, "0.850", "20.0"
    )  # fmt: skip
    # (123 × 40.5 + 77 × 35) / 200 = 38.3825 percent; claims 50 + 27 kg
    assert _figures(stationery.direct) == (
        2, 150_000, 165_000, "0.200", "0.077", "38.4", "0.000", 1, 1, "0.123", "61.5"
    )  # fmt: skip
    assert stationery.tender.orders == 0 and stationery.tender.recycled_share_pct is None
    assert _figures(glass.total) == (
        1, 500_000, 550_000, "1.000", "0.300", "30.0", "0.000", None, None, None, None
    )  # fmt: skip
    # Totals: direct, tender, all; the 調達率 over the mass that falls under a minimum.
    assert _figures(report.direct) == (
        4, 1_850_000, 2_035_000, "2.050", "1.227", "59.8", "0.808", 2, 1, "0.973", "92.7"
    )  # fmt: skip
    assert _figures(report.tender) == _figures(benches.tender)
    assert _figures(report.total) == (
        5, 5_850_000, 6_435_000, "5.450", "4.627", "84.9", "2.848", 2, 2, "0.973", "21.9"
    )  # fmt: skip


def test_the_order_date_decides_the_fiscal_year(db, world):
    _city, _other, _maker, actors = world
    fy2027 = green_purchasing_report(db, actors["officer"], 2027).out()
    fy2025 = green_purchasing_report(db, actors["officer"], 2025).out()
    assert (fy2027.total.orders, fy2027.total.value_jpy, fy2027.total.mass_t) == (
        1,
        700_000,
        "0.500",
    )
    assert (fy2025.total.orders, fy2025.total.value_jpy) == (1, 600_000)
    assert green_purchasing_report(db, actors["officer"], 2030).out().categories == []


def test_the_report_is_one_grouped_query_over_the_orders(db, world):
    _city, _other, _maker, actors = world
    statements: list[str] = []

    def _count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", _count)
    try:
        green_purchasing_report(db, actors["officer"], 2026)
    finally:
        event.remove(engine, "before_cursor_execute", _count)
    on_orders = [s for s in statements if "FROM purchaseorder" in s]
    assert len(on_orders) == 1 and "GROUP BY" in on_orders[0]
    assert len(statements) <= 3


def test_members_read_their_agency_the_operator_any_agency_others_nothing(db, world):
    city, other, maker, actors = world
    assert green_purchasing_report(db, actors["city admin"], 2026).out().total.orders == 5
    assert green_purchasing_report(db, actors["officer"], 2026, city.id).out().total.orders == 5
    assert green_purchasing_report(db, actors["operator"], 2026, city.id).out().total.orders == 5
    assert green_purchasing_report(db, actors["other officer"], 2026).out().total.orders == 1
    assert green_purchasing_report(db, actors["operator"], 2026, other.id).out().total.orders == 1
    with pytest.raises(NotFound):
        green_purchasing_report(db, actors["other officer"], 2026, city.id)
    with pytest.raises(NotFound):
        green_purchasing_report(db, actors["operator"], 2026, maker.id)  # not an agency
    with pytest.raises(NotFound):
        green_purchasing_report(db, actors["operator"], 2026, 10**12)
    with pytest.raises(PermissionDenied):
        green_purchasing_report(db, actors["maker"], 2026)
    with pytest.raises(PermissionDenied):
        green_purchasing_report(db, None, 2026)
    with pytest.raises(ValidationFailed) as err:
        green_purchasing_report(db, actors["operator"], 2026)
    assert err.value.field == "organization_id"
    with pytest.raises(ValidationFailed) as err:
        green_purchasing_report(db, actors["officer"], 1999)
    assert err.value.field == "fiscal_year"
    assert [a.id for a in reportable_agencies(db, actors["officer"])] == [city.id]
    assert [a.name_en for a in reportable_agencies(db, actors["operator"])] == [
        "City of Yokohama",
        "Kanto Office",
    ]
