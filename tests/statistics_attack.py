"""An outsider's attack on published statistics, written apart from `market.disclosure`.

Given what was published (exact values, or intervals where a figure was rounded), the cells
marked suppressed and the structure every reader knows (a total is the sum of its parts
along each dimension; an absent cell is zero), it computes for each suppressed cell the
smallest and largest value consistent with all of it, by linear programming (HiGHS through highspy, not
the module's own scipy calls) over the connected group of unknowns."""

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping

import highspy
import numpy as np

Key = tuple[Hashable, ...]


def sums(keys: Iterable[Key], parents: list[Mapping]) -> list[tuple[Key, list[Key]]]:
    """(total, parts) for every present total: its present children along each dimension."""
    present = set(keys)
    children: list[dict] = []
    for parent in parents:
        kids: dict = defaultdict(list)
        for node, up in parent.items():
            if up is not None:
                kids[up].append(node)
        children.append(kids)
    out = []
    for key in present:
        for d, node in enumerate(key):
            parts = [key[:d] + (c,) + key[d + 1 :] for c in children[d].get(node, ())]
            parts = [p for p in parts if p in present]
            if parts:
                out.append((key, parts))
    return out


def attack(
    known: Mapping[Key, tuple[float, float]],
    hidden: Iterable[Key],
    equations: list[tuple[Key, list[Key]]],
) -> dict[Key, tuple[float, float]]:
    """For each hidden cell, (min, max) over everything published (max may be inf)."""
    hidden = sorted(set(hidden), key=repr)
    # One scale for the numbers (tonnes in kg, values in kg × yen/t reach 1e14): the LP works in
    # units of the largest published figure, the answer comes back in the caller's units.
    scale = max((abs(v) for pair in known.values() for v in pair), default=1.0) or 1.0
    known = {k: (lo / scale, hi / scale) for k, (lo, hi) in known.items()}
    unknown = hidden + sorted((k for k, (lo, hi) in known.items() if lo != hi), key=repr)
    column = {k: i for i, k in enumerate(unknown)}
    bounds = [(0.0, None)] * len(hidden) + [known[k] for k in unknown[len(hidden) :]]
    rows = []
    for total, parts in equations:
        coefs: dict[int, float] = defaultdict(float)
        constant = 0.0
        for k, sign in ((total, 1.0), *((p, -1.0) for p in parts)):
            if k in column:
                coefs[column[k]] += sign
            else:
                constant -= sign * known.get(k, (0.0, 0.0))[0]
        if coefs:
            rows.append((dict(coefs), constant))
    # Connected groups of unknowns (an LP per group: the others do not matter).
    group = list(range(len(unknown)))

    def find(i: int) -> int:
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    for coefs, _c in rows:
        first, *rest = coefs
        for other in rest:
            group[find(other)] = find(first)
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(len(unknown)):
        members[find(i)].append(i)
    group_rows: dict[int, list] = defaultdict(list)
    for coefs, constant in rows:
        group_rows[find(next(iter(coefs)))].append((coefs, constant))
    result = {}
    for root, cols in members.items():
        targets = [c for c in cols if c < len(hidden)]
        if not targets:
            continue
        local = {c: j for j, c in enumerate(cols)}
        solver = _Solver(
            [bounds[c] for c in cols],
            [
                ({local[c]: v for c, v in coefs.items()}, constant)
                for coefs, constant in group_rows[root]
            ],
        )
        for c in targets:
            low, high = solver.extreme(local[c], 1.0), solver.extreme(local[c], -1.0)
            result[unknown[c]] = (low * scale, high * scale)
    return result


class _Solver:
    """One LP of a group, re-solved with another objective each time (HiGHS keeps its basis:
    a warm start, far faster than solving from scratch)."""

    def __init__(self, bounds, rows) -> None:
        n = len(bounds)
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        # The figures span 1e14 (kg × yen); published prices are known to ±0.5 yen/t only:
        # a feasibility tolerance of 1e-6 of the largest figure (far below any margin tested).
        self.highs.setOptionValue("primal_feasibility_tolerance", 1e-6)
        # Presolve's own infeasibility test is stricter than that tolerance on such data.
        self.highs.setOptionValue("presolve", "off")
        inf = highspy.kHighsInf
        lower = np.array([lo for lo, _hi in bounds], dtype=float)
        upper = np.array([inf if hi is None else hi for _lo, hi in bounds], dtype=float)
        self.highs.addVars(n, lower, upper)
        for coefs, constant in rows:
            idx = np.array(list(coefs), dtype=np.int32)
            val = np.array(list(coefs.values()), dtype=float)
            self.highs.addRow(constant, constant, len(idx), idx, val)
        self.n = n
        self.last: int | None = None

    def extreme(self, j: int, sign: float) -> float:
        """min (sign 1) or max (sign −1) of column j."""
        if self.last is not None:
            self.highs.changeColCost(self.last, 0.0)
        self.highs.changeColCost(j, sign)
        self.last = j
        self.highs.run()
        status = self.highs.getModelStatus()
        if status in (
            highspy.HighsModelStatus.kUnbounded,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            return float("inf")
        assert status == highspy.HighsModelStatus.kOptimal, self.highs.modelStatusToString(status)
        return self.highs.getInfo().objective_function_value * sign
