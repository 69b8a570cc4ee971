"""Disclosure control: the threshold and dominance rules at their edges, secondary suppression,
and an outsider's linear-programming attack on random demo-scale tables."""

import random
from collections import defaultdict
from decimal import Decimal

import pytest
from statistics_attack import attack, sums

from market.disclosure import (
    SECONDARY_SLACK,
    DisclosureRules,
    Hierarchy,
    Status,
    aggregate,
    audit,
    equations,
    primary_reason,
    protect,
)

RULES = DisclosureRules()


# ---------------------------------------------------------------------------------------------
# Primary rules


def test_two_contributors_are_suppressed_and_three_are_published():
    assert primary_reason(({1: 50, 2: 50},), RULES) == "threshold"
    assert primary_reason(({1: 40, 2: 30, 3: 30},), RULES) is None


def test_a_zero_contribution_does_not_count_as_a_contributor():
    assert primary_reason(({1: 50, 2: 50, 3: 0},), RULES) == "threshold"


def test_exactly_seventy_percent_is_published_and_seventy_point_one_is_not():
    assert primary_reason(({1: 700, 2: 150, 3: 150},), RULES) is None
    assert primary_reason(({1: 701, 2: 150, 3: 149},), RULES) == "dominance"


def test_prices_need_three_sellers_and_three_buyers():
    sellers = {1: 10, 2: 10, 3: 10}
    assert primary_reason((sellers, {7: 15, 8: 15}), RULES) == "threshold"
    assert primary_reason((sellers, {7: 10, 8: 10, 9: 10}), RULES) is None
    # One buyer taking 80 percent: dominance on the buyer side alone suppresses.
    assert primary_reason((sellers, {7: 24, 8: 3, 9: 3}), RULES) == "dominance"


def test_the_rules_are_parameters():
    strict = DisclosureRules(min_contributors=5, dominance_pct=Decimal("50"))
    assert primary_reason(({1: 1, 2: 1, 3: 1, 4: 1},), strict) == "threshold"
    assert primary_reason(({1: 6, 2: 1, 3: 1, 4: 1, 5: 1},), strict) == "dominance"


# ---------------------------------------------------------------------------------------------
# Secondary suppression on a small table


ROWS = Hierarchy({"a": "*", "b": "*", "c": "*", "*": None})
COLS = Hierarchy({"x": "T", "y": "T", "T": None})


def _table(values: dict[tuple[str, str], list[int]]):
    """Leaf cells with one contribution a listed organisation (kg)."""
    leaves = []
    for key, amounts in values.items():
        leaves.append((key, sum(amounts), ({org: kg for org, kg in enumerate(amounts)},)))
    return aggregate(leaves, (ROWS, COLS))


def test_a_lone_suppressed_cell_gets_partners_in_its_row_and_column():
    many = [10, 10, 10, 10]
    cells = _table(
        {
            ("a", "x"): [5, 4],  # two contributors: primary
            ("a", "y"): many,
            ("b", "x"): many,
            ("b", "y"): many,
            ("c", "x"): many,
            ("c", "y"): many,
        }
    )
    result = protect(cells, (ROWS, COLS), RULES)
    assert result.status[("a", "x")] == Status.PRIMARY
    hidden = {k for k, s in result.status.items() if s != Status.PUBLISHED}
    # Its row total a·T and its column total *·x stay published: the partners are cells.
    assert ("a", "T") not in hidden and ("*", "x") not in hidden
    assert ("a", "y") in hidden  # the row's other cell
    assert {("b", "x"), ("c", "x")} & hidden  # one more in the column
    assert not result.failures
    # Whatever was picked, no published equation pins (a, x) down.
    assert audit(cells, equations(cells, (ROWS, COLS)), result.status, RULES)[0] == []


def test_a_total_with_one_part_carries_its_part_s_suppression():
    cells = _table({("a", "x"): [5, 4]})
    result = protect(cells, (ROWS, COLS), RULES)
    # a·x = a·T = *·x = *·T: all the same figure, all suppressed.
    assert all(s != Status.PUBLISHED for s in result.status.values())


def test_the_audit_finds_a_cell_recoverable_through_linked_totals():
    cells = _table(
        {
            ("a", "x"): [5, 4],
            ("a", "y"): [10, 10, 10, 10],
            ("b", "x"): [10, 10, 10, 10],
            ("b", "y"): [10, 10, 10, 10],
        }
    )
    status = {k: Status.PUBLISHED for k in cells}
    status[("a", "x")] = Status.PRIMARY
    status[("a", "y")] = Status.SECONDARY  # the row is covered, the column is not
    failing, _ = audit(cells, equations(cells, (ROWS, COLS)), status, RULES)
    assert set(failing) == {("a", "x"), ("a", "y")}  # each gives the other away


# ---------------------------------------------------------------------------------------------
# The attack: random data at demo scale


MONTHS = Hierarchy({**{f"2026-{m:02d}": "*" for m in range(1, 7)}, "*": None})
MATERIALS = Hierarchy(
    {"cu": "f:metal", "al": "f:metal", "fe": "f:metal", "pp": "f:plastic", "hdpe": "f:plastic"}
    | {"f:metal": "*", "f:plastic": "*", "*": None}
)
PLACES = Hierarchy(
    {f"{i:02d}": f"r{i % 4}" for i in range(8, 20)}
    | {f"r{j}": "JP" for j in range(4)}
    | {"JP": None}
)
DIMS = (MONTHS, MATERIALS, PLACES)


def _random_market(seed: int, contracts: int = 300, orgs: int = 30):
    rnd = random.Random(seed)
    leaves = []
    months = [m for m, up in MONTHS.parent.items() if up]
    materials = [m for m in ("cu", "al", "fe", "pp", "hdpe")]
    places = [p for p in PLACES.parent if p[0].isdigit()]
    # A few large organisations and many small ones, as on the marketplace.
    weights = [8 if i < 4 else 1 for i in range(orgs)]
    for _ in range(contracts):
        seller, buyer = rnd.choices(range(orgs), weights, k=2)
        material, place = rnd.choice(materials), rnd.choice(places)
        kg = rnd.randrange(5, 120) * 1000
        start = rnd.randrange(len(months))
        for month in months[start : start + rnd.randrange(1, 7)]:
            leaves.append(((month, material, place), kg, ({seller: kg}, {buyer: kg})))
    return leaves


@pytest.mark.parametrize("seed", [1, 2])
def test_no_suppressed_cell_can_be_recomputed_from_everything_published(seed):
    cells = aggregate(_random_market(seed), DIMS)
    result = protect(cells, DIMS, RULES)
    assert not result.failures
    primary = result.count(Status.PRIMARY)
    secondary = result.count(Status.SECONDARY)
    assert primary > 20 and secondary > 0  # the data is thin enough to need both
    known = {k: (float(c.value),) * 2 for k, c in cells.items() if result.published(k)}
    hidden = [k for k in cells if not result.published(k)]
    ranges = attack(known, hidden, sums(cells, [d.parent for d in DIMS]))
    p = float(RULES.protection_pct) / 100
    for key in hidden:
        low, high = ranges[key]
        true = cells[key].value
        assert high - low > 0, key  # no suppressed cell is pinned down
        if result.status[key] == Status.PRIMARY:  # sensitive: the full protection margin
            assert low <= true * (1 - p) + 1e-6, (key, low, true)
            assert high >= true * (1 + p) - 1e-6, (key, high, true)
        else:  # suppressed to protect another: not pinned down, by at least the slack
            assert low <= true * (1 - SECONDARY_SLACK) + 1e-6, (key, low, true)
            assert high >= true * (1 + SECONDARY_SLACK) - 1e-6, (key, high, true)


def test_published_cells_never_have_a_dominating_organisation_or_fewer_than_three():
    leaves = _random_market(3)
    cells = aggregate(leaves, DIMS)
    result = protect(cells, DIMS, RULES)
    # Each organisation's own contribution to each cell, from the leaves themselves.
    own: dict = defaultdict(lambda: defaultdict(int))
    for key, _kg, (sellers, _buyers) in leaves:
        levels = [DIMS[d].ancestors(node) for d, node in enumerate(key)]
        for m in levels[0]:
            for t in levels[1]:
                for g in levels[2]:
                    for org, kg in sellers.items():
                        own[(m, t, g)][org] += kg
    published = [k for k in cells if result.published(k) and cells[k].value > 0]
    assert published
    for key in published:
        total = sum(own[key].values())
        assert len(own[key]) >= 3
        assert max(own[key].values()) * 100 <= 70 * total, key


def test_protection_is_at_least_the_margin_set():
    cells = aggregate(_random_market(4, contracts=60), DIMS)
    wide = DisclosureRules(protection_pct=Decimal("40"))
    result = protect(cells, DIMS, wide)
    assert not result.failures
    known = {k: (float(c.value),) * 2 for k, c in cells.items() if result.published(k)}
    hidden = [k for k in cells if not result.published(k)]
    ranges = attack(known, hidden, sums(cells, [d.parent for d in DIMS]))
    for key in hidden:
        if result.status[key] != Status.PRIMARY:
            continue
        low, high = ranges[key]
        assert low <= cells[key].value * 0.6 + 1e-6
        assert high >= cells[key].value * 1.4 - 1e-6


def test_an_empty_table_publishes_nothing_and_suppresses_nothing():
    result = protect({}, DIMS, RULES)
    assert result.status == {} and not result.failures
