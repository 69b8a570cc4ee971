"""Statistical disclosure control of published market tables: which cells may be shown.

Pure functions over cells (no database). A *table* is a set of cells keyed by one node per
dimension; each dimension is a hierarchy (a prefecture lies in a region, a region in Japan; a
material in its family, a family in "all materials"; a month in the whole period), and every
cell that has children along a dimension is the sum of them. Those sums are the *equations* an
outsider can use: a row or column margin, the same figure in another grouping, the period total.

Rules (their parameters are settings, `STATS_MIN_CONTRIBUTORS`, `STATS_DOMINANCE_PCT`,
`STATS_PROTECTION_PCT` in web/config.py, passed in as `DisclosureRules`):

1. Threshold rule (primary suppression): a cell is published only when at least
   ``min_contributors`` (3) distinct organisations contribute to it — on *every side* it has:
   contracted tonnes and their prices have a seller side and a buyer side (a cell with five
   sellers and one buyer would show that buyer's purchases), open supply and open demand have
   one side each.
2. Dominance rule, the (n, k) rule with n = 1, k = ``dominance_pct`` (70): a cell is suppressed
   when a single organisation contributes more than k percent of its tonnes on any side
   (exactly 70 percent is still published).
3. Secondary (complementary) suppression: no suppressed cell may be recoverable from what is
   published — margins, other groupings, the period total. First, every equation with exactly
   one suppressed member gets a second one (its smallest published member, the cheapest loss);
   then an *audit* by linear programming (the attacker's own method): for every cell that
   fails rule 1 or 2 (a sensitive cell), the minimum and maximum it can take over all published
   equations, with every cell ≥ 0, must lie at least ``protection_pct`` (10) percent below and
   above its true value (upper and lower protection levels); a cell suppressed only to protect
   another is not sensitive itself and must merely not be pinned down (its minimum and maximum
   differ: at least ``SECONDARY_SLACK`` of its value either way). A cell failing the audit makes
   the smallest published member of one of its equations suppressed too, and the audit runs
   again until every cell passes.
4. A suppressed cell is published as ``{"suppressed": true}`` with no value — never as 0. An
   empty cell (nobody contributes) is a true zero and is not sensitive.

Sources: the threshold rule and the (n, k) dominance rule, primary and secondary suppression
and the audit of linked tables by linear programming follow A. Hundepool, J. Domingo-Ferrer,
L. Franconi, S. Giessing, E. Schulte Nordholt, K. Spicer, P.-P. de Wolf, *Statistical
Disclosure Control*, Wiley 2012, chapter 4 (magnitude tables: sensitivity rules, 4.2;
secondary cell suppression and protection levels, 4.3–4.4), and the ESSnet/Eurostat
*Handbook on Statistical Disclosure Control* (version 1.2, 2010), which also describe the
τ-ARGUS implementation. The values 3 and 70 percent are within the ranges those handbooks
report as common practice of statistical offices; the 10 percent protection level, the
two-sided seller/buyer application and the "smallest published member" heuristic are our
choice, not taken from a particular office.
"""

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

import highspy
import numpy as np
from scipy.sparse import csr_matrix

Key = tuple[Hashable, ...]
# A secondary cell (suppressed only to protect another) must not be pinned down: the range an
# outsider can compute for it reaches at least this share of its value below and above it.
SECONDARY_SLACK = 0.001
Sides = tuple[Mapping[int, int], ...]  # per side (seller, buyer): organisation id → amount


@dataclass(frozen=True)
class DisclosureRules:
    """The parameters of the rules above (settings)."""

    min_contributors: int = 3
    dominance_pct: Decimal = Decimal("70")
    protection_pct: Decimal = Decimal("10")


class Status(StrEnum):
    PUBLISHED = "published"
    PRIMARY = "primary"  # fails the threshold or the dominance rule
    SECONDARY = "secondary"  # suppressed to protect a primary cell


@dataclass
class Cell:
    """A cell's true value (whole units: kg, yen) and its contributions per side."""

    value: int
    sides: Sides = ()


@dataclass(frozen=True)
class Hierarchy:
    """One dimension: each node's parent (the root's is None)."""

    parent: Mapping[Hashable, Hashable | None]

    def ancestors(self, node: Hashable) -> list[Hashable]:
        """The node and every node above it, bottom up."""
        chain = [node]
        while (up := self.parent.get(chain[-1])) is not None:
            chain.append(up)
        return chain

    def children(self) -> dict[Hashable, list[Hashable]]:
        kids: dict[Hashable, list[Hashable]] = defaultdict(list)
        for node, up in self.parent.items():
            if up is not None:
                kids[up].append(node)
        return kids


@dataclass
class Protection:
    """The outcome: each cell's status, the rounds and LP solves it took."""

    status: dict[Key, Status]
    rounds: int = 0
    lp_solves: int = 0
    audit_seconds: float = 0.0
    failures: list[Key] = field(default_factory=list)  # cells still failing (should be empty)

    def published(self, key: Key) -> bool:
        return self.status.get(key, Status.PUBLISHED) == Status.PUBLISHED

    def count(self, status: Status) -> int:
        return sum(1 for s in self.status.values() if s == status)


# ---------------------------------------------------------------------------------------------
# Primary suppression


def primary_reason(sides: Sides, rules: DisclosureRules) -> str | None:
    """Why a cell may not be published: "threshold", "dominance", or None (it may)."""
    for side in sides:
        amounts = [a for a in side.values() if a > 0]
        if len(amounts) < rules.min_contributors:
            return "threshold"
    for side in sides:
        total = sum(a for a in side.values() if a > 0)
        largest = max(side.values())
        # largest / total > k / 100, exactly (integers and Decimal, no float edge).
        if Decimal(largest) * 100 > rules.dominance_pct * total:
            return "dominance"
    return None


# ---------------------------------------------------------------------------------------------
# Tables


def aggregate(
    leaves: Iterable[tuple[Key, int, Sides]], dims: Sequence[Hierarchy]
) -> dict[Key, Cell]:
    """Sum leaf records into every cell of every level (a record counts in each ancestor)."""
    leaf: dict[Key, Cell] = {}
    for key, value, sides in leaves:
        cell = leaf.get(key)
        if cell is None:
            cell = leaf[key] = Cell(0, tuple(defaultdict(int) for _ in sides))
        cell.value += value
        for mine, theirs in zip(cell.sides, sides, strict=True):
            for org, amount in theirs.items():
                mine[org] += amount
    cells: dict[Key, Cell] = {}
    for key, cell in leaf.items():
        levels = [dims[d].ancestors(node) for d, node in enumerate(key)]
        for target in _product(levels):
            up = cells.get(target)
            if up is None:
                up = cells[target] = Cell(0, tuple(defaultdict(int) for _ in cell.sides))
            up.value += cell.value
            for mine, theirs in zip(up.sides, cell.sides, strict=True):
                for org, amount in theirs.items():
                    mine[org] += amount
    return cells


def _product(levels: list[list[Hashable]]) -> Iterable[Key]:
    keys: list[tuple] = [()]
    for options in levels:
        keys = [k + (o,) for k in keys for o in options]
    return keys


def equations(keys: Iterable[Key], dims: Sequence[Hierarchy]) -> list[tuple[Key, list[Key]]]:
    """Every (total, its parts) among the non-empty cells: total = Σ parts (absent parts are 0)."""
    present = set(keys)
    kids = [h.children() for h in dims]
    found = []
    for key in sorted(present, key=repr):
        for d, node in enumerate(key):
            parts = [key[:d] + (c,) + key[d + 1 :] for c in kids[d].get(node, ())]
            parts = [p for p in parts if p in present]
            if parts:
                found.append((key, parts))
    return found


# ---------------------------------------------------------------------------------------------
# Secondary suppression and its audit


def protect(
    cells: Mapping[Key, Cell],
    dims: Sequence[Hierarchy],
    rules: DisclosureRules,
    also_suppress: Iterable[Key] = (),
    max_rounds: int = 200,
) -> Protection:
    """Primary suppression, then secondary suppression until the LP audit passes."""
    import time

    status: dict[Key, Status] = {k: Status.PUBLISHED for k in cells}
    for key, cell in cells.items():
        if cell.value > 0 and primary_reason(cell.sides, rules):
            status[key] = Status.PRIMARY
    for key in also_suppress:
        if key in cells and cells[key].value > 0 and status[key] == Status.PUBLISHED:
            status[key] = Status.PRIMARY
    eqs = equations(cells, dims)
    by_cell: dict[Key, list[int]] = defaultdict(list)
    for i, (total, parts) in enumerate(eqs):
        for k in (total, *parts):
            by_cell[k].append(i)
    result = Protection(status)
    cache: dict = {}

    def hidden(k: Key) -> bool:
        return status[k] != Status.PUBLISHED

    def cheapest(members: Iterable[Key]) -> Key | None:
        open_ = [k for k in members if not hidden(k) and cells[k].value > 0]
        return min(open_, key=lambda k: (cells[k].value, repr(k))) if open_ else None

    while result.rounds < max_rounds:
        result.rounds += 1
        _close_singletons(eqs, status, cells, cheapest)
        started = time.perf_counter()
        failing, solves = audit(cells, eqs, status, rules, cache)
        result.audit_seconds += time.perf_counter() - started
        result.lp_solves += solves
        if not failing:
            result.failures = []
            return result
        added = False
        for key in failing:
            if not hidden(key):
                continue  # made safe by this round's additions? re-audit decides
            members = [m for i in by_cell[key] for m in (eqs[i][0], *eqs[i][1])]
            pick = cheapest(members)
            if pick is None:  # its own equations are all hidden: widen to their neighbours
                pick = cheapest(
                    m2 for m in members for i in by_cell[m] for m2 in (eqs[i][0], *eqs[i][1])
                )
            if pick is not None:
                status[pick] = Status.SECONDARY
                added = True
        if not added:
            result.failures = failing
            return result
    result.failures = failing
    return result


def _close_singletons(eqs, status, cells, cheapest) -> None:
    """Until stable: an equation with exactly one hidden member gets a second (its cheapest)."""
    changed = True
    while changed:
        changed = False
        for total, parts in eqs:
            members = (total, *parts)
            hidden = [k for k in members if status[k] != Status.PUBLISHED]
            if len(hidden) == 1 and cells[hidden[0]].value > 0:
                pick = cheapest(members)
                if pick is not None:
                    status[pick] = Status.SECONDARY
                    changed = True


def audit(
    cells: Mapping[Key, Cell],
    eqs: Sequence[tuple[Key, list[Key]]],
    status: Mapping[Key, Status],
    rules: DisclosureRules,
    cache: dict | None = None,
) -> tuple[list[Key], int]:
    """The suppressed cells an outsider can pin down within the protection level, and the
    number of LPs solved. For each cell: max over the published equations ≥ value × (1 + p),
    min ≤ value × (1 − p), all cells ≥ 0 (HiGHS)."""
    hidden = [k for k, s in status.items() if s != Status.PUBLISHED and cells[k].value > 0]
    if not hidden:
        return [], 0
    index = {k: i for i, k in enumerate(hidden)}
    # Union-find over the equations that hold hidden cells: each component is its own LP.
    parent = list(range(len(hidden)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    rows: list[tuple[dict[int, int], float]] = []
    for total, parts in eqs:
        coefs: dict[int, int] = {}
        constant = 0
        for k, sign in ((total, 1), *((p, -1) for p in parts)):
            if k in index:
                coefs[index[k]] = coefs.get(index[k], 0) + sign
            elif status[k] != Status.PUBLISHED:
                continue  # a hidden empty cell: a true zero, the outsider may assume 0 ≥ 0
            else:
                constant -= sign * cells[k].value
        if not coefs:
            continue
        members = list(coefs)
        for m in members[1:]:
            parent[find(m)] = find(members[0])
        rows.append((coefs, float(constant)))
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(hidden)):
        groups[find(i)].append(i)
    group_rows: dict[int, list[tuple[dict[int, int], float]]] = defaultdict(list)
    for coefs, constant in rows:
        group_rows[find(next(iter(coefs)))].append((coefs, constant))
    p_primary = float(rules.protection_pct) / 100
    failing: list[Key] = []
    solves = 0
    for root, members in groups.items():
        # A component with the same hidden cells has the same equations and constants: its
        # answer from an earlier round stands (only components touched by a new suppression
        # are solved again).
        signature = frozenset(hidden[i] for i in members)
        if cache is not None and signature in cache:
            failing.extend(cache[signature])
            continue
        values = np.array([cells[hidden[i]].value for i in members], dtype=float)
        p = np.array(
            [p_primary if status[hidden[i]] == Status.PRIMARY else SECONDARY_SLACK for i in members]
        )
        bad, n = _audit_component(members, values, group_rows.get(root, []), p)
        solves += n
        found = [hidden[members[j]] for j in bad]
        if cache is not None:
            cache[signature] = found
        failing.extend(found)
    return sorted(failing, key=repr), solves


def _audit_component(
    members: list[int], values: np.ndarray, rows: list[tuple[dict[int, int], float]], p
) -> tuple[list[int], int]:
    """Local indices (into members) failing the protection (`p`: each cell's relative level),
    and the LPs solved."""
    n = len(members)
    if not rows:
        return [], 0  # no equation binds them: each is anywhere in [0, ∞)
    local = {g: j for j, g in enumerate(members)}
    scale = float(values.max()) or 1.0
    data, ri, ci, b = [], [], [], []
    for r, (coefs, constant) in enumerate(rows):
        for g, c in coefs.items():
            ri.append(r)
            ci.append(local[g])
            data.append(float(c))
        b.append(constant / scale)
    x = values / scale
    upper = x * (1 + p) - 1e-9
    lower = x * (1 - p) + 1e-9
    lp = _ComponentLp(n, ri, ci, data, b)

    def solve(objective: np.ndarray):
        return lp.solve(objective)

    failing: list[int] = []
    for sign, need in ((-1.0, upper), (1.0, lower)):
        # sign −1: maximise (upper protection); +1: minimise (lower protection).
        todo = set(range(n))
        if sign > 0:
            todo = {j for j in todo if need[j] > 1e-12}  # a bound of 0 is always reachable
        # Batched first: one LP pushes all pending cells at once (weighted by 1/value); each
        # solution certifies every cell it carries past its level.
        while todo:
            weights = np.zeros(n)
            for j in todo:
                weights[j] = sign / max(x[j], 1e-12)
            status, solution = solve(weights)
            if status != "optimal":
                break
            done = {j for j in todo if _passes(solution[j], need[j], sign)}
            if not done:
                break
            todo -= done
        for j in sorted(todo):
            if j not in todo:
                continue
            objective = np.zeros(n)
            objective[j] = sign
            status, solution = solve(objective)
            if status == "unbounded":  # no upper limit at all
                todo.discard(j)
                continue
            if status != "optimal":
                failing.append(j)
                todo.discard(j)
                continue
            todo -= {k for k in todo if _passes(solution[k], need[k], sign)}
            if j in todo:
                failing.append(j)
                todo.discard(j)
    return sorted(set(failing)), lp.solves


class _ComponentLp:
    """The LP of one component: variables ≥ 0, the published equations as equality rows.
    Solved by HiGHS (the solver behind `scipy.optimize.linprog(method="highs")`) through
    highspy, keeping the model between objectives: each re-solve starts from the last basis."""

    def __init__(self, n: int, rows: list[int], cols: list[int], data: list[float], b) -> None:
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self.n = n
        self.highs.addVars(n, np.zeros(n), np.full(n, highspy.kHighsInf))
        matrix = csr_matrix((data, (rows, cols)), shape=(len(b), n))
        bounds = np.array(b, dtype=float)
        self.highs.addRows(
            len(b),
            bounds,
            bounds,
            matrix.nnz,
            matrix.indptr.astype(np.int32),
            matrix.indices.astype(np.int32),
            matrix.data.astype(float),
        )
        self.solves = 0

    def solve(self, objective: np.ndarray) -> tuple[str, np.ndarray | None]:
        """("optimal", x) | ("unbounded", None) | ("failed", None) for min objective · x."""
        self.solves += 1
        self.highs.changeColsCost(
            self.n, np.arange(self.n, dtype=np.int32), objective.astype(float)
        )
        self.highs.run()
        status = self.highs.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            return "optimal", np.array(self.highs.getSolution().col_value)
        if status in (
            highspy.HighsModelStatus.kUnbounded,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            return "unbounded", None
        return "failed", None


def _passes(value: float, need: float, sign: float) -> bool:
    return value >= need if sign < 0 else value <= need
