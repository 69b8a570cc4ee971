"""Yen rounding and settlement of disputed assays (pure: no database)."""

from decimal import Decimal as D

import pytest

from quality.errors import InvalidMeasurement, MissingUmpire
from quality.pricing import FeePayer, round_yen, settle_assay, settle_with_umpire, split_assay


@pytest.mark.parametrize(
    ("amount", "yen"),
    [
        (D("2.5"), 3),
        (D("2.4999"), 2),
        (D("3.5"), 4),  # not banker's rounding
        (D("-2.5"), -3),  # ties away from zero
        (D("1234.50"), 1235),
        (7, 7),
    ],
)
def test_round_yen_is_half_up(amount, yen):
    assert round_yen(amount) == yen
    assert type(round_yen(amount)) is int


def test_round_yen_refuses_floats():
    with pytest.raises(TypeError):
        round_yen(2.5)  # type: ignore[arg-type]


def test_assays_within_the_splitting_limit_settle_at_their_exact_average():
    result = split_assay(D("94.10"), D("94.30"), D("0.20"))
    assert (result.settled, result.umpire_required) == (True, False)
    assert (result.value, result.difference) == (D("94.20"), D("0.20"))


def test_the_average_keeps_every_decimal_place():
    assert split_assay(D("1.01"), D("1.02"), D("0.05")).value == D("1.015")


def test_assays_beyond_the_splitting_limit_need_an_umpire():
    result = split_assay(D("94.10"), D("94.40"), D("0.20"))
    assert (result.settled, result.umpire_required, result.value) == (False, True, None)
    assert result.difference == D("0.30")


@pytest.mark.parametrize(
    ("umpire", "payer"),
    [
        ("94.35", FeePayer.SELLER),  # seller 0.25 away, buyer 0.05
        ("94.20", FeePayer.BUYER),  # seller 0.10 away, buyer 0.20
        ("94.25", FeePayer.SPLIT),  # equally far
        ("94.00", FeePayer.BUYER),  # outside both assays: the nearer one still wins
    ],
)
def test_the_umpire_settles_and_the_party_further_from_it_pays(umpire, payer):
    result = settle_with_umpire(D("94.10"), D("94.40"), D(umpire))
    assert (result.value, result.fee_payer) == (D(umpire), payer)
    assert result.fee_payer == payer.value  # a plain string for storage


def test_settle_assay_averages_within_the_limit_and_ignores_an_umpire():
    settlement = settle_assay(D("94.10"), D("94.30"), D("0.20"), umpire=D("95"))
    assert (settlement.value, settlement.umpire_used, settlement.fee_payer) == (
        D("94.20"),
        False,
        None,
    )


def test_settle_assay_beyond_the_limit_uses_the_umpire():
    settlement = settle_assay(D("94.10"), D("94.40"), D("0.20"), umpire=D("94.35"))
    assert (settlement.value, settlement.umpire_used, settlement.fee_payer) == (
        D("94.35"),
        True,
        FeePayer.SELLER,
    )


def test_settle_assay_beyond_the_limit_without_umpire_is_refused():
    with pytest.raises(MissingUmpire) as raised:
        settle_assay(D("94.10"), D("94.40"), D("0.20"))
    assert raised.value.field == "umpire"
    assert raised.value.params == {"difference": D("0.30"), "limit": D("0.20")}
    assert "0.30" in str(raised.value)


def test_negative_assays_are_refused():
    with pytest.raises(InvalidMeasurement) as raised:
        split_assay(D("-1"), D("94"), D("0.2"))
    assert raised.value.field == "seller"
