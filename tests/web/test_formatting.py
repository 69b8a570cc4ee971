"""The one set of display filters: money, tonnes, percentages and dates."""

from datetime import UTC, date, datetime
from decimal import Decimal

from flask import render_template_string
from flask_babel import force_locale

from web.formatting import month, percent, t, tonnes, yen, yen_per_t

MINUS = "\u2212"


def test_yen_groups_thousands_and_writes_a_negative_amount_with_a_minus_sign():
    assert yen(3000) == "¥3,000"
    assert yen(-3000) == f"{MINUS}¥3,000"
    assert yen(0) == "¥0"
    assert yen(None) == "—"


def test_yen_rounds_half_up_to_whole_yen():
    assert yen(Decimal("1234.5")) == "¥1,235"
    assert yen(Decimal("-1234.5")) == f"{MINUS}¥1,235"
    assert yen(Decimal("-0.4")) == "¥0"


def test_yen_per_t_carries_the_unit_and_the_minus_sign():
    assert yen_per_t(-25000) == f"{MINUS}¥25,000/t"
    assert yen_per_t(393395) == "¥393,395/t"
    assert yen_per_t(None) == "—"


def test_tonnes_from_kilograms_keep_up_to_three_decimals_and_group_thousands():
    assert tonnes(120000) == "120"
    assert tonnes(1500) == "1.5"
    assert tonnes(1234567) == "1,234.567"
    assert tonnes(58990) == "58.99"
    assert tonnes(-9350) == f"{MINUS}9.35"
    assert tonnes(None) == "—"


def test_t_adds_the_unit():
    assert t(12500) == "12.5 t"
    assert t(None) == "—"
    assert t("60.000", "t") == "60 t"  # a value already in tonnes
    assert t("1234.5", "t") == "1,234.5 t"


def test_percent_of_a_value_already_in_percent():
    assert percent(Decimal("12.50")) == "12.5 %"
    assert percent(10) == "10 %"
    assert percent(0.125) == "0.13 %"
    assert percent(-3) == f"{MINUS}3 %"
    assert percent(None) == "—"


def test_month():
    assert month(date(2026, 11, 1)) == "2026-11"
    assert month(None) == ""


def test_filters_are_registered_and_datetime_is_in_tokyo_time(app):
    moment = datetime(2026, 12, 3, 16, 30, tzinfo=UTC)
    with app.test_request_context(), force_locale("ja"):
        text = render_template_string(
            "{{ a|yen }} {{ b|yen_per_t }} {{ kg|t }} {{ p|percent }} {{ d|date }} {{ m|datetime('yyyy-MM-dd HH:mm') }}",
            a=-3000,
            b=-3000,
            kg=58990,
            p=Decimal("0.5"),
            d=date(2026, 11, 3),
            m=moment,
        )
    assert text == f"{MINUS}¥3,000 {MINUS}¥3,000/t 58.99 t 0.5 % 2026-11-03 2026-12-04 01:30"
