"""Matching core: candidate pairs, volume allocation and score explanations (pure, no database).

Units: tonnes are ``Decimal`` with three places in the domain and integer kilograms inside the
solvers; prices are integer yen per tonne; months are integers ``year * 12 + month - 1``.

The allocation maximises total surplus ``sum(x_ij * (limit_j - ask_i - transport_ij))`` subject to
listing availability, request need and the listing's minimum per contract (``x_ij == 0`` or
``x_ij >= minimum_i``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any, Literal

import numpy as np

EARTH_RADIUS_KM = 6371.0088
KG_PER_TONNE = 1000

# ----------------------------------------------------------------------------------------------
# Distances and transport
# ----------------------------------------------------------------------------------------------


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km by the haversine formula (R = 6371.0088 km)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def great_circle_km_array(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Vectorised haversine distance in km over numpy arrays (broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))


TransportMode = Literal["road", "road+sea", "sea"]


@dataclass(frozen=True)
class SeaFreightRates:
    """Sea freight of a lot loaded at a foreign port (FOB/FCA there) to a Japanese port, yen
    per tonne, by the origin country (ISO 3166-1 alpha-2) or its region; `default` elsewhere.

    INDICATIVE figures, not quotes: 2024–25 container spot-rate levels of the published
    indices (Drewry World Container Index, Freightos Baltic Index) for a 20-ft box of baled or
    boxed e-scrap (about 18 t payload) to a main Japanese port, with the origin terminal
    charges, rounded up to ¥1,000/t. Replace them with a forwarder's rates in production.
    A listing delivered CIF a Japanese port carries its sea freight in its price: no sea leg.
    """

    by_country: Mapping[str, int] = field(default_factory=dict)
    by_region: Mapping[str, int] = field(default_factory=dict)
    default: int = 30_000
    source: str = (
        "indicative: 2024–25 container spot-rate levels (Drewry WCI, Freightos FBX), "
        "20-ft box ≈ 18 t, to a main Japanese port"
    )

    def to_japan(self, origin_country: str) -> int:
        """Yen per tonne from a port of `origin_country` to a Japanese port."""
        code = (origin_country or "").upper()
        if code in self.by_country:
            return int(self.by_country[code])
        region = SEA_REGIONS.get(code)
        return int(self.by_region.get(region, self.default))


#: Origin regions of the sea-freight table (ISO 3166-1 alpha-2 → region).
SEA_REGIONS: dict[str, str] = {
    **dict.fromkeys(("KR",), "korea"),
    **dict.fromkeys(("CN", "TW", "HK", "MO"), "china"),
    **dict.fromkeys(("TH", "VN", "MY", "SG", "ID", "PH", "KH", "MM", "BN", "LA"), "asean"),
    **dict.fromkeys(
        (
            "DE",
            "NL",
            "BE",
            "FR",
            "GB",
            "IE",
            "IT",
            "ES",
            "PT",
            "PL",
            "CZ",
            "AT",
            "CH",
            "DK",
            "SE",
            "NO",
            "FI",
            "EE",
            "LV",
            "LT",
            "SK",
            "SI",
            "HU",
            "RO",
            "BG",
            "GR",
            "HR",
        ),
        "europe",
    ),  # fmt: skip
    **dict.fromkeys(("US", "CA", "MX"), "north_america"),
    **dict.fromkeys(("AU", "NZ"), "oceania"),
    **dict.fromkeys(("IN", "BD", "LK", "PK"), "south_asia"),
}

SEA_FREIGHT_TO_JAPAN = SeaFreightRates(
    by_region={
        "korea": 5_000,
        "china": 7_000,
        "asean": 10_000,
        "south_asia": 14_000,
        "oceania": 16_000,
        "north_america": 20_000,
        "europe": 22_000,
    },
    default=30_000,
)

#: Main Japanese ports of arrival (name, latitude, longitude): an import's domestic leg runs
#: from the one nearest the buyer (the sea freight to any of them is the same).
JAPAN_PORTS: tuple[tuple[str, float, float], ...] = (
    ("Tomakomai", 42.63, 141.62),
    ("Sendai-Shiogama", 38.27, 141.02),
    ("Niigata", 37.95, 139.07),
    ("Tokyo", 35.62, 139.78),
    ("Yokohama", 35.45, 139.66),
    ("Nagoya", 35.08, 136.88),
    ("Osaka", 34.65, 135.43),
    ("Kobe", 34.68, 135.20),
    ("Mizushima", 34.50, 133.73),
    ("Hiroshima", 34.35, 132.46),
    ("Kitakyushu", 33.93, 130.87),
    ("Hakata", 33.60, 130.40),
)


def nearest_japan_port(lat: float, lon: float) -> tuple[str, float, float]:
    """The main Japanese port nearest a place (great circle)."""
    return min(JAPAN_PORTS, key=lambda p: great_circle_km(lat, lon, p[1], p[2]))


def _nearest_ports(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of the nearest main Japanese port to each place (vectorised)."""
    p_lat = np.array([p[1] for p in JAPAN_PORTS])
    p_lon = np.array([p[2] for p in JAPAN_PORTS])
    km = great_circle_km_array(lat[:, None], lon[:, None], p_lat[None, :], p_lon[None, :])
    best = np.argmin(km, axis=1)
    return p_lat[best], p_lon[best]


@dataclass(frozen=True)
class TransportRates:
    """Freight rates in yen per tonne-km over great-circle distance.

    Rule (one place, used by the engine and the explanations):
    - both ends are ports: ``sea`` rate for the whole distance (mode ``sea``);
    - otherwise ``road`` rate up to ``sea_threshold_km`` and the ``sea`` rate for the km beyond
      it (long hauls in Japan move on coastal RORO ferries; mode ``road+sea``), so the cost is
      continuous and never decreases with distance;
    - the cost per tonne is rounded half-up to whole yen.
    """

    road_jpy_per_t_km: float = 25.0
    sea_jpy_per_t_km: float = 6.0
    sea_threshold_km: float = 500.0
    # International sea freight to Japan of listings loaded at a foreign port.
    sea_freight: SeaFreightRates = SEA_FREIGHT_TO_JAPAN

    def cost_per_t(self, km: float, both_ports: bool = False) -> tuple[int, TransportMode]:
        """Transport cost in whole yen per tonne and the mode for one distance."""
        cost, sea = self.cost_per_t_array(np.array([km]), np.array([both_ports]))
        mode: TransportMode = "sea" if both_ports else ("road+sea" if sea[0] else "road")
        return int(cost[0]), mode

    def cost_per_t_array(
        self, km: np.ndarray, both_ports: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised cost (int64 yen/t, half-up) and a flag "some of the way by sea"."""
        km = np.asarray(km, dtype=np.float64)
        both_ports = np.asarray(both_ports, dtype=bool)
        road_km = np.minimum(km, self.sea_threshold_km)
        mixed = self.road_jpy_per_t_km * road_km + self.sea_jpy_per_t_km * (km - road_km)
        raw = np.where(both_ports, self.sea_jpy_per_t_km * km, mixed)
        cost = np.floor(raw + 0.5).astype(np.int64)
        return cost, both_ports | (km > self.sea_threshold_km)


# ----------------------------------------------------------------------------------------------
# Plain inputs
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SupplySide:
    """An open supply listing as plain values (tonnes a month, yen per tonne, month indices)."""

    id: int
    material: str
    grade_id: int
    available_t: Decimal
    minimum_t: Decimal
    available_from: int
    max_term_months: int
    lat: float
    lon: float
    ask_jpy_per_t: int
    is_port: bool = False
    # A listing loaded at a foreign port (FOB/FCA there): its country; the buyer in Japan pays
    # the sea freight from it (`SeaFreightRates`) and the domestic leg from the port of
    # arrival. None: delivered in Japan (also CIF a Japanese port: freight in the price).
    import_from: str | None = None

    @property
    def period_end(self) -> int:
        """First month after the listing's period ``[available_from, available_from+max_term)``."""
        return self.available_from + self.max_term_months


@dataclass(frozen=True)
class DemandSide:
    """An open offtake request as plain values; the limit price is private to the buyer."""

    id: int
    material: str
    acceptable_grade_ids: frozenset[int]
    need_t: Decimal
    start_month: int
    term_months: int
    lat: float
    lon: float
    limit_jpy_per_t: int
    is_port: bool = False

    @property
    def period_end(self) -> int:
        """First month after the request's period ``[start_month, start_month+term)``."""
        return self.start_month + self.term_months


def month_index(year: int, month: int) -> int:
    """Month as one integer: ``year * 12 + month - 1``."""
    return year * 12 + month - 1


def tonnes_to_kg(tonnes: Decimal) -> int:
    """Whole kilograms in a tonnage, rounded down (never more than offered)."""
    return int((Decimal(tonnes) * KG_PER_TONNE).to_integral_value(rounding=ROUND_DOWN))


def kg_to_tonnes(kg: int) -> Decimal:
    """Exact ``Decimal`` tonnes with three places for whole kilograms."""
    return (Decimal(int(kg)) / KG_PER_TONNE).quantize(Decimal("0.001"))


@dataclass(frozen=True, eq=False)
class Capacities:
    """Integer-kilogram arrays indexed like the supplies / demands given to the engine."""

    avail_kg: np.ndarray
    need_kg: np.ndarray
    minimum_kg: np.ndarray


def capacities(
    supplies: Sequence[SupplySide] | SupplyColumns, demands: Sequence[DemandSide] | DemandColumns
) -> Capacities:
    """Availability, need and per-contract minimum in whole kg (rounded down)."""
    sc, dc = supply_columns(supplies), demand_columns(demands)
    return Capacities(
        avail_kg=sc.avail_kg.copy(), need_kg=dc.need_kg.copy(), minimum_kg=sc.minimum_kg.copy()
    )


@dataclass(frozen=True, eq=False)
class SupplyColumns:
    """Open listings as parallel arrays (the engine's input without one object per listing).

    kg are whole kilograms; months are `month_index` values; ``import_from`` holds the origin
    country of a listing loaded at a foreign port, or None (see `SupplySide`)."""

    id: np.ndarray
    material: np.ndarray  # object array of material codes
    grade_id: np.ndarray
    avail_kg: np.ndarray
    minimum_kg: np.ndarray
    available_from: np.ndarray
    max_term_months: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    ask_jpy_per_t: np.ndarray
    is_port: np.ndarray
    import_from: np.ndarray  # object array: str or None

    def __len__(self) -> int:
        return int(self.id.shape[0])

    @property
    def period_end(self) -> np.ndarray:
        return self.available_from + self.max_term_months

    def side(self, i: int) -> SupplySide:
        """Listing `i` as a `SupplySide` (for one explanation)."""
        return SupplySide(
            id=int(self.id[i]),
            material=str(self.material[i]),
            grade_id=int(self.grade_id[i]),
            available_t=kg_to_tonnes(int(self.avail_kg[i])),
            minimum_t=kg_to_tonnes(int(self.minimum_kg[i])),
            available_from=int(self.available_from[i]),
            max_term_months=int(self.max_term_months[i]),
            lat=float(self.lat[i]),
            lon=float(self.lon[i]),
            ask_jpy_per_t=int(self.ask_jpy_per_t[i]),
            is_port=bool(self.is_port[i]),
            import_from=self.import_from[i],
        )

    def with_avail(self, avail_kg: np.ndarray) -> SupplyColumns:
        """The same listings with other availabilities (kg)."""
        return replace(self, avail_kg=np.asarray(avail_kg, dtype=np.int64))


@dataclass(frozen=True, eq=False)
class DemandColumns:
    """Open requests as parallel arrays. ``accept_key[j]`` indexes ``accepted``, the distinct
    sets of acceptable grade ids (requests of one material and grade share one set)."""

    id: np.ndarray
    material: np.ndarray  # object array of material codes
    accept_key: np.ndarray
    accepted: Sequence[Collection[int]]
    need_kg: np.ndarray
    start_month: np.ndarray
    term_months: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    limit_jpy_per_t: np.ndarray
    is_port: np.ndarray

    def __len__(self) -> int:
        return int(self.id.shape[0])

    @property
    def period_end(self) -> np.ndarray:
        return self.start_month + self.term_months

    def side(self, j: int) -> DemandSide:
        """Request `j` as a `DemandSide` (for one explanation)."""
        return DemandSide(
            id=int(self.id[j]),
            material=str(self.material[j]),
            acceptable_grade_ids=frozenset(self.accepted[int(self.accept_key[j])]),
            need_t=kg_to_tonnes(int(self.need_kg[j])),
            start_month=int(self.start_month[j]),
            term_months=int(self.term_months[j]),
            lat=float(self.lat[j]),
            lon=float(self.lon[j]),
            limit_jpy_per_t=int(self.limit_jpy_per_t[j]),
            is_port=bool(self.is_port[j]),
        )

    def with_need(self, need_kg: np.ndarray) -> DemandColumns:
        """The same requests with other needs (kg)."""
        return replace(self, need_kg=np.asarray(need_kg, dtype=np.int64))


def _objects(values: Iterable[Any], n: int) -> np.ndarray:
    out = np.empty(n, dtype=object)
    out[:] = list(values)
    return out


def supply_columns(supplies: Sequence[SupplySide] | SupplyColumns) -> SupplyColumns:
    """Listings as columns (columns are returned as they are)."""
    if isinstance(supplies, SupplyColumns):
        return supplies
    n = len(supplies)

    def ints(get: Callable[[SupplySide], int]) -> np.ndarray:
        return np.fromiter((get(s) for s in supplies), np.int64, n)

    return SupplyColumns(
        id=ints(lambda s: s.id),
        material=_objects((s.material for s in supplies), n),
        grade_id=ints(lambda s: s.grade_id),
        avail_kg=ints(lambda s: tonnes_to_kg(s.available_t)),
        minimum_kg=ints(lambda s: tonnes_to_kg(s.minimum_t)),
        available_from=ints(lambda s: s.available_from),
        max_term_months=ints(lambda s: s.max_term_months),
        lat=np.fromiter((s.lat for s in supplies), np.float64, n),
        lon=np.fromiter((s.lon for s in supplies), np.float64, n),
        ask_jpy_per_t=ints(lambda s: s.ask_jpy_per_t),
        is_port=np.fromiter((s.is_port for s in supplies), bool, n),
        import_from=_objects((s.import_from or None for s in supplies), n),
    )


def demand_columns(
    demands: Sequence[DemandSide] | DemandColumns,
    accepted: Sequence[Iterable[int]] | None = None,
) -> DemandColumns:
    """Requests as columns; `accepted` (one set of grade ids per request) replaces their
    ``acceptable_grade_ids``. Columns are returned as they are."""
    if isinstance(demands, DemandColumns):
        return demands
    n = len(demands)
    grades = accepted if accepted is not None else [d.acceptable_grade_ids for d in demands]
    keys: dict[frozenset[int], int] = {}
    accept_key = np.fromiter(
        (keys.setdefault(frozenset(g), len(keys)) for g in grades), np.int64, n
    )

    def ints(get: Callable[[DemandSide], int]) -> np.ndarray:
        return np.fromiter((get(d) for d in demands), np.int64, n)

    return DemandColumns(
        id=ints(lambda d: d.id),
        material=_objects((d.material for d in demands), n),
        accept_key=accept_key,
        accepted=list(keys),
        need_kg=ints(lambda d: tonnes_to_kg(d.need_t)),
        start_month=ints(lambda d: d.start_month),
        term_months=ints(lambda d: d.term_months),
        lat=np.fromiter((d.lat for d in demands), np.float64, n),
        lon=np.fromiter((d.lon for d in demands), np.float64, n),
        limit_jpy_per_t=ints(lambda d: d.limit_jpy_per_t),
        is_port=np.fromiter((d.is_port for d in demands), bool, n),
    )


# ----------------------------------------------------------------------------------------------
# Candidate pairs
# ----------------------------------------------------------------------------------------------

GradeAcceptance = Mapping[int, Iterable[int]] | Callable[[DemandSide, int], bool] | None


@dataclass(frozen=True, eq=False)
class Edges:
    """Compatible (listing, request) pairs as parallel numpy arrays, sorted by (supply, demand).

    ``supply``/``demand`` index the sequences given to :func:`candidate_edges`;
    ``unit_surplus_jpy = limit - ask - transport`` and ``transport_jpy`` are yen per tonne.
    """

    supply: np.ndarray
    demand: np.ndarray
    unit_surplus_jpy: np.ndarray
    transport_jpy: np.ndarray
    distance_km: np.ndarray
    by_sea: np.ndarray
    overlap_months: np.ndarray
    sea_leg_jpy: np.ndarray | None = None  # of `transport_jpy`: the sea freight to Japan

    def __len__(self) -> int:
        return int(self.supply.shape[0])

    def sea_leg(self) -> np.ndarray:
        """The international sea leg per edge, yen per tonne (0 for domestic pairs)."""
        if self.sea_leg_jpy is None:
            return np.zeros(len(self), dtype=np.int64)
        return self.sea_leg_jpy

    def subset(self, keep: np.ndarray) -> Edges:
        """The edges where `keep` (a boolean mask) is true."""
        return Edges(
            supply=self.supply[keep],
            demand=self.demand[keep],
            unit_surplus_jpy=self.unit_surplus_jpy[keep],
            transport_jpy=self.transport_jpy[keep],
            distance_km=self.distance_km[keep],
            by_sea=self.by_sea[keep],
            overlap_months=self.overlap_months[keep],
            sea_leg_jpy=self.sea_leg()[keep],
        )


def _accepted_grades(
    demands: Sequence[DemandSide], grade_ok: GradeAcceptance, grades_by_material: dict[str, Any]
) -> list[Iterable[int]]:
    if grade_ok is None:
        return [d.acceptable_grade_ids for d in demands]
    if callable(grade_ok):
        check = grade_ok
        return [[g for g in grades_by_material.get(d.material, ()) if check(d, g)] for d in demands]
    return [grade_ok.get(d.id, ()) for d in demands]


def candidate_edges(
    supplies: Sequence[SupplySide] | SupplyColumns,
    demands: Sequence[DemandSide] | DemandColumns,
    grade_ok: GradeAcceptance = None,
    rates: TransportRates | None = None,
) -> Edges:
    """Compatible pairs with a positive surplus per tonne, found by (material, grade) groups.

    A pair is compatible when the material is the same, the listing's grade is acceptable to
    the request (``grade_ok``: None = ``DemandSide.acceptable_grade_ids``; a mapping request id
    -> grade ids; or a callable ``(demand, grade_id) -> bool`` asked once per grade of the
    material), the periods overlap, the listing's availability and the request's need are both
    at least the listing's minimum, and ``limit - ask - transport > 0``. The two sides may be
    given as sequences of `SupplySide` / `DemandSide` or as `SupplyColumns` / `DemandColumns`
    (``grade_ok`` applies to sequences only: columns carry their acceptable grades).
    """
    rates = rates or TransportRates()
    if not isinstance(demands, DemandColumns) and grade_ok is not None:
        grades_by_material: dict[str, dict[int, None]] = {}
        for sup in supplies if not isinstance(supplies, SupplyColumns) else ():
            grades_by_material.setdefault(sup.material, {})[sup.grade_id] = None
        if isinstance(supplies, SupplyColumns):
            for m, g in zip(supplies.material.tolist(), supplies.grade_id.tolist(), strict=True):
                grades_by_material.setdefault(m, {})[g] = None
        demands = demand_columns(demands, _accepted_grades(demands, grade_ok, grades_by_material))
    sc, dc = supply_columns(supplies), demand_columns(demands)
    n_s, n_d = len(sc), len(dc)
    if n_s == 0 or n_d == 0:
        return _empty_edges()

    # Listings grouped by (material, grade), sorted by start month inside each group.
    materials, s_mat = np.unique(sc.material, return_inverse=True)
    stride_g = int(sc.grade_id.max()) - int(sc.grade_id.min()) + 1
    g_min = int(sc.grade_id.min())
    combined = s_mat.astype(np.int64) * stride_g + (sc.grade_id - g_min)
    group_codes, s_group = np.unique(combined, return_inverse=True)
    s_group = s_group.astype(np.int64)
    n_groups = group_codes.shape[0]
    mat_pos = {m: k for k, m in enumerate(materials.tolist())}
    s_start, s_term = sc.available_from, sc.max_term_months
    s_end = s_start + s_term
    d_start = dc.start_month
    d_end = d_start + dc.term_months
    # Sort key group * stride + month (shifted to >= 0); stride exceeds every month value used.
    shift = min(int(s_start.min()), int(d_start.min()))
    span = max(int(s_end.max()), int(d_end.max())) - shift + 1
    stride = span + 1
    sort_key = s_group * stride + (s_start - shift)
    order = np.argsort(sort_key, kind="stable")
    sorted_key = sort_key[order]
    max_term = np.zeros(n_groups, dtype=np.int64)
    np.maximum.at(max_term, s_group, s_term)

    # (request, group) pairs to look at: per distinct (material, acceptable grades) of the
    # requests, the groups it reaches; then expanded to the requests with numpy.
    d_mat = np.fromiter((mat_pos.get(m, -1) for m in dc.material.tolist()), np.int64, n_d)
    combo, combo_of = np.unique(np.stack([d_mat, dc.accept_key]), axis=1, return_inverse=True)
    combo_of = combo_of.reshape(-1)
    combo_groups: list[np.ndarray] = []
    for mat, key in combo.T.tolist():
        codes = [] if mat < 0 else [mat * stride_g + g - g_min for g in set(dc.accepted[key])]
        codes = [c for c in codes if 0 <= c - mat * stride_g < stride_g]
        pos = np.searchsorted(group_codes, codes) if codes else np.zeros(0, np.int64)
        ok = pos < n_groups
        ok[ok] &= group_codes[pos[ok]] == np.asarray(codes, dtype=np.int64)[ok]
        combo_groups.append(np.sort(pos[ok]).astype(np.int64))
    sizes = np.array([g.shape[0] for g in combo_groups], dtype=np.int64)
    flat = np.concatenate(combo_groups) if combo_groups else np.zeros(0, np.int64)
    offsets = np.cumsum(sizes) - sizes
    per_d = sizes[combo_of]
    if int(per_d.sum()) == 0:
        return _empty_edges()
    pd_ = np.repeat(np.arange(n_d, dtype=np.int64), per_d)
    within = np.arange(pd_.shape[0], dtype=np.int64) - np.repeat(np.cumsum(per_d) - per_d, per_d)
    pg = flat[offsets[combo_of][pd_] + within]

    # A listing can overlap [d_start, d_end) only if d_start - max_term < s_start < d_end:
    # one contiguous run of the group's sorted listings, found by binary search.
    base = pg * stride
    lo_month = np.clip(d_start[pd_] - max_term[pg] + 1 - shift, 0, span)
    hi_month = np.clip(d_end[pd_] - shift, 0, span)
    lo = np.searchsorted(sorted_key, base + lo_month, "left")
    hi = np.searchsorted(sorted_key, base + hi_month, "left")
    counts = np.maximum(hi - lo, 0)
    total = int(counts.sum())
    if total == 0:
        return _empty_edges()
    e_d = np.repeat(pd_, counts)
    run_start = np.repeat(lo - (np.cumsum(counts) - counts), counts)
    e_s = order[run_start + np.arange(total, dtype=np.int64)]

    # Exact overlap, minimums and price before the (costlier) distance.
    s_ask, d_limit = sc.ask_jpy_per_t, dc.limit_jpy_per_t
    avail, need, minimum = sc.avail_kg, dc.need_kg, sc.minimum_kg
    overlap = np.minimum(s_end[e_s], d_end[e_d]) - np.maximum(s_start[e_s], d_start[e_d])
    keep = (
        (overlap > 0)
        & (avail[e_s] >= minimum[e_s])
        & (need[e_d] >= minimum[e_s])
        & (avail[e_s] > 0)
        & (d_limit[e_d] > s_ask[e_s])
    )
    e_s, e_d, overlap = e_s[keep], e_d[keep], overlap[keep]

    transport, km, by_sea, sea = _transport(rates, sc, dc, e_s, e_d)
    surplus = d_limit[e_d] - s_ask[e_s] - transport
    keep = surplus > 0
    e_s, e_d, overlap = e_s[keep], e_d[keep], overlap[keep]
    final = np.lexsort((e_d, e_s))
    return Edges(
        supply=e_s[final],
        demand=e_d[final],
        unit_surplus_jpy=surplus[keep][final],
        transport_jpy=transport[keep][final],
        distance_km=km[keep][final],
        by_sea=by_sea[keep][final],
        overlap_months=overlap[final],
        sea_leg_jpy=sea[keep][final],
    )


def _transport(
    rates: TransportRates,
    sc: SupplyColumns,
    dc: DemandColumns,
    e_s: np.ndarray,
    e_d: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Transport per edge (yen/t), km, "some of it by sea", and the international sea leg.

    Domestic: `TransportRates.cost_per_t_array` from the listing's place. Import from a
    foreign port: the sea freight of the origin (`SeaFreightRates.to_japan`) plus the domestic
    leg from the main Japanese port nearest the buyer (port to buyer, the same rule); km is
    the domestic leg's."""
    origins = sc.import_from.tolist()
    freight = {c: rates.sea_freight.to_japan(c) for c in set(origins) if c}
    sea_of = np.fromiter((freight.get(c, 0) if c else 0 for c in origins), np.int64, len(sc))
    imported = np.fromiter((bool(c) for c in origins), bool, len(sc))
    s_lat, s_lon, s_port = sc.lat, sc.lon, sc.is_port
    d_lat, d_lon, d_port = dc.lat, dc.lon, dc.is_port
    from_lat, from_lon = s_lat[e_s], s_lon[e_s]
    both_ports = s_port[e_s] & d_port[e_d]
    imp = imported[e_s]
    if imp.any():
        port_lat, port_lon = _nearest_ports(d_lat[e_d][imp], d_lon[e_d][imp])
        from_lat, from_lon = from_lat.copy(), from_lon.copy()
        from_lat[imp], from_lon[imp] = port_lat, port_lon
        both_ports = both_ports & ~imp | (imp & d_port[e_d])
    km = great_circle_km_array(from_lat, from_lon, d_lat[e_d], d_lon[e_d])
    domestic, by_sea = rates.cost_per_t_array(km, both_ports)
    sea = sea_of[e_s]
    return domestic + sea, km, by_sea | imp, sea


def _empty_edges() -> Edges:
    i64 = np.zeros(0, dtype=np.int64)
    return Edges(i64, i64.copy(), i64.copy(), i64.copy(), np.zeros(0), np.zeros(0, bool), i64)


# ----------------------------------------------------------------------------------------------
# Allocation
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Allocation:
    """Monthly kilograms per edge and the achieved surplus.

    ``surplus_jpy`` is ``sum(kg * unit_surplus) / 1000`` rounded half-up to whole yen;
    ``lp_bound_jpy`` is the LP relaxation optimum (the min-cost flow without minimums, an upper
    bound) when known; ``gap = (lp_bound - surplus) / lp_bound``.
    ``mip_gap`` is the proven gap: ``(bound - surplus) / bound`` where ``bound`` is the best
    proven upper bound with the minimums (the mixed-integer solver's dual bound on the blocks it
    solved, the flow bound elsewhere); ``optimal`` is true when ``mip_gap`` is within the
    tolerance asked for (``mip_rel_gap``, 0.01 % by default). None / False when not proven.
    """

    kg: np.ndarray
    surplus_jpy: int
    lp_bound_jpy: float | None
    gap: float | None
    solver_seconds: float
    rounding_iterations: int
    method: str
    dropped_edges: int = 0
    forced_edges: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    mip_gap: float | None = None
    optimal: bool = False
    #: Seconds per stage of `solve_allocation`: flow, heuristic, mip.
    stage_seconds: Mapping[str, float] = field(default_factory=dict)

    def tonnes(self, k: int) -> Decimal:
        """Tonnes a month on edge ``k`` as an exact three-place ``Decimal``."""
        return kg_to_tonnes(int(self.kg[k]))


@dataclass(frozen=True)
class AllocatedPair:
    """One positive allocation, ready to become a ``Match`` row."""

    supply_index: int
    demand_index: int
    tonnes: Decimal
    unit_surplus_jpy: int
    transport_jpy: int
    distance_km: float
    by_sea: bool


def allocated_pairs(edges: Edges, allocation: Allocation) -> list[AllocatedPair]:
    """The edges with a positive allocation, in edge order."""
    ks = np.flatnonzero(allocation.kg > 0)
    return [
        AllocatedPair(
            supply_index=int(edges.supply[k]),
            demand_index=int(edges.demand[k]),
            tonnes=kg_to_tonnes(int(allocation.kg[k])),
            unit_surplus_jpy=int(edges.unit_surplus_jpy[k]),
            transport_jpy=int(edges.transport_jpy[k]),
            distance_km=float(edges.distance_km[k]),
            by_sea=bool(edges.by_sea[k]),
        )
        for k in ks.tolist()
    ]


def surplus_jpy(edges: Edges, kg: np.ndarray) -> int:
    """Total surplus in whole yen: ``sum(kg * yen per tonne) / 1000``, half-up once at the total."""
    milli = int(np.dot(np.asarray(kg, dtype=np.int64), edges.unit_surplus_jpy.astype(np.int64)))
    return int((Decimal(milli) / KG_PER_TONNE).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _gap(bound: float, achieved: int) -> float:
    return 0.0 if bound <= 0 else max(0.0, (bound - achieved) / bound)


def _as_kg(values: np.ndarray | Sequence[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


#: Target of the proven relative gap with per-contract minimums (0.01 %).
MIP_REL_GAP = 1e-4
#: Time limit of one HiGHS LP solve (the heuristic's), seconds.
LP_TIME_LIMIT_S = 60.0
#: HiGHS refuses semi-continuous columns with an upper bound above this (in model units).
_HIGHS_MAX_SEMI_UPPER = 1e5


def _trim_to_capacity(kg: np.ndarray, rows: np.ndarray, cap: np.ndarray, order: np.ndarray) -> None:
    """Reduce flows (lowest priority first) on rows whose sum exceeds the capacity, in place."""
    used = np.bincount(rows, weights=kg, minlength=cap.shape[0]).astype(np.int64)
    for r in np.flatnonzero(used > cap).tolist():
        excess = int(used[r] - cap[r])
        for k in order[rows[order] == r][::-1].tolist():
            cut = min(excess, int(kg[k]))
            kg[k] -= cut
            excess -= cut
            if excess == 0:
                break


def _augment(
    s: np.ndarray,
    d: np.ndarray,
    unit_surplus: np.ndarray,
    kg: np.ndarray,
    avail: np.ndarray,
    need: np.ndarray,
    mins_e: np.ndarray,
) -> None:
    """Greedy top-up on residual capacity by descending unit surplus, respecting minimums."""
    res_a = avail - np.bincount(s, weights=kg, minlength=avail.shape[0]).astype(np.int64)
    res_d = need - np.bincount(d, weights=kg, minlength=need.shape[0]).astype(np.int64)
    useful = (res_a[s] > 0) & (res_d[d] > 0) & (unit_surplus > 0)
    useful &= (kg > 0) | ((res_a[s] >= mins_e) & (res_d[d] >= mins_e))
    ks = np.flatnonzero(useful)
    if ks.size == 0:
        return
    ks = ks[np.argsort(-unit_surplus[ks], kind="stable")]
    ra, rd = res_a.tolist(), res_d.tolist()
    for k, i, j, m in zip(
        ks.tolist(), s[ks].tolist(), d[ks].tolist(), mins_e[ks].tolist(), strict=True
    ):
        add = min(ra[i], rd[j])
        if add <= 0 or int(kg[k]) + add < m:
            continue
        kg[k] += add
        ra[i] -= add
        rd[j] -= add


def _repair(
    kg: np.ndarray,
    unit_surplus: np.ndarray,
    s: np.ndarray,
    d: np.ndarray,
    avail: np.ndarray,
    need: np.ndarray,
    mins_e: np.ndarray,
) -> np.ndarray:
    """A feasible copy of `kg`: rows trimmed to capacity (lowest unit surplus first), flows
    below their minimum set to 0, then residual capacity topped up greedily."""
    kg = kg.copy()
    priority = np.argsort(unit_surplus, kind="stable")[::-1]
    _trim_to_capacity(kg, s, avail, priority)
    _trim_to_capacity(kg, d, need, priority)
    kg[(kg > 0) & (kg < mins_e)] = 0
    _augment(s, d, unit_surplus, kg, avail, need, mins_e)
    return kg


# ----------------------------------------------------------------------------------------------
# Min-cost flow (OR-Tools network simplex): the optimum without minimums
# ----------------------------------------------------------------------------------------------


def _min_cost_flow(
    s: np.ndarray, d: np.ndarray, unit_surplus: np.ndarray, avail: np.ndarray, need: np.ndarray
) -> tuple[np.ndarray, int] | None:
    """Surplus-maximising integer kg per edge ignoring minimums, and the optimum in yen-kg per
    tonne (``sum(kg * unit_surplus)``, exact); None when OR-Tools cannot solve it exactly.

    Graph: source -> listing i (capacity avail_i, cost 0) -> request j (capacity
    min(avail_i, need_j), cost -surplus_ij yen/t per kg) -> sink (capacity need_j), and a
    source -> sink bypass (cost 0) so that volume may stay unsold. All integers (int64).
    """
    from ortools.graph.python import min_cost_flow

    n, n_s, n_d = s.shape[0], avail.shape[0], need.shape[0]
    total = int(avail.sum())
    top = int(np.abs(unit_surplus).max()) if n else 0
    # OR-Tools checks its own internal ranges (BAD_COST_RANGE); the objective itself must fit.
    if total >= 2**62 or top * max(total, 1) >= 2**62:
        return None
    src, sink = n_s + n_d, n_s + n_d + 1
    tails = np.concatenate([np.full(n_s, src), s, n_s + np.arange(n_d), np.array([src])]).astype(
        np.int64
    )
    heads = np.concatenate([np.arange(n_s), n_s + d, np.full(n_d, sink), np.array([sink])]).astype(
        np.int64
    )
    caps = np.concatenate([avail, np.minimum(avail[s], need[d]), need, np.array([total])]).astype(
        np.int64
    )
    costs = np.concatenate([np.zeros(n_s), -unit_surplus, np.zeros(n_d), np.zeros(1)]).astype(
        np.int64
    )
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supplies = np.zeros(n_s + n_d + 2, dtype=np.int64)
    supplies[src], supplies[sink] = total, -total
    flow.set_nodes_supplies(np.arange(n_s + n_d + 2, dtype=np.int64), supplies)
    if flow.solve() != flow.OPTIMAL:
        return None
    kg = np.asarray(flow.flows(arcs[n_s : n_s + n]), dtype=np.int64)
    value = int(np.dot(kg, unit_surplus.astype(np.int64)))
    if value != -int(flow.optimal_cost()):
        return None  # an overflow somewhere: never trust such a result
    return kg, value


def min_cost_flow_allocation(
    edges: Edges,
    avail: np.ndarray | Sequence[int],
    need: np.ndarray | Sequence[int],
    minimum: np.ndarray | Sequence[int] | None = None,
) -> Allocation:
    """OR-Tools min-cost flow in integer kg; IGNORES minimums (the optimum without them).

    ``minimum`` is accepted for a uniform signature and not used.
    """
    t0 = time.perf_counter()
    avail, need = _as_kg(avail), _as_kg(need)
    s, d = edges.supply.astype(np.int64), edges.demand.astype(np.int64)
    u = edges.unit_surplus_jpy.astype(np.int64)
    result = _min_cost_flow(s, d, u, avail, need) if len(edges) else (np.zeros(0, np.int64), 0)
    if result is None:
        raise RuntimeError("the min-cost flow could not be solved exactly in 64-bit integers")
    kg, value = result
    bound = value / KG_PER_TONNE
    return Allocation(
        kg, surplus_jpy(edges, kg), bound, 0.0, time.perf_counter() - t0, 0, "mcf", mip_gap=0.0
    )


# ----------------------------------------------------------------------------------------------
# Per-contract minimums: LP + rounding heuristic, then an exact MIP (HiGHS, semi-continuous)
# ----------------------------------------------------------------------------------------------


@dataclass
class _BlockResult:
    kg: np.ndarray
    lp_bound: float
    rounds: int
    dropped: int
    forced: int
    zeroed: int


def _block_lp(
    cost_per_t: np.ndarray,
    s: np.ndarray,
    d: np.ndarray,
    avail: np.ndarray,
    need: np.ndarray,
    unit_kg: float,
) -> Any:
    """The transportation LP of one block with volumes in units of `unit_kg` kilograms and the
    objective in yen (maximise). Each column has two ones: its listing row and request row."""
    import highspy

    n, n_s, n_d = cost_per_t.shape[0], avail.shape[0], need.shape[0]
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = n_s + n_d
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.col_cost_ = cost_per_t.astype(np.float64) * (unit_kg / KG_PER_TONNE)
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.minimum(avail[s], need[d]).astype(np.float64) / unit_kg
    lp.row_lower_ = np.full(n_s + n_d, -highspy.kHighsInf)
    lp.row_upper_ = np.concatenate([avail, need]).astype(np.float64) / unit_kg
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(0, 2 * n + 1, 2, dtype=np.int32)
    lp.a_matrix_.index_ = np.column_stack([s, n_s + d]).ravel().astype(np.int32)
    lp.a_matrix_.value_ = np.ones(2 * n)
    return lp


def _solve_block(
    cost: np.ndarray,
    s: np.ndarray,
    d: np.ndarray,
    avail: np.ndarray,
    need: np.ndarray,
    mins_e: np.ndarray,
    max_rounds: int,
    force_up_share: float,
    time_limit_s: float,
    flow: np.ndarray | None = None,
) -> _BlockResult:
    """LP + rounding on one independent block (the heuristic); ``s``/``d`` are local rows;
    ``flow``: the LP's optimum if known (the min-cost flow), a warm start (6 × faster).

    While some edge carries ``0 < kg < minimum``, each such edge is either forced up (lower
    bound = minimum) when it carries at least ``force_up_share`` of its minimum and the forced
    lower bounds of its listing and request still fit their capacities, or forbidden (upper
    bound 0); the LP is re-solved warm-started. After ``max_rounds`` rounds any flow still
    short is set to 0.
    """
    import highspy

    n_s, n_d = avail.shape[0], need.shape[0]
    upper = np.minimum(avail[s], need[d]).astype(np.float64)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("solver", "simplex")
    h.setOptionValue("presolve", "off")  # measured faster on these transportation LPs
    h.setOptionValue("time_limit", max(1e-3, float(time_limit_s)))
    h.passModel(_block_lp(cost, s, d, avail, need, 1.0))
    if flow is not None:
        solution = highspy.HighsSolution()
        solution.col_value = flow.astype(np.float64).tolist()
        solution.value_valid = True
        h.setSolution(solution)

    def run() -> np.ndarray:
        h.run()
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"HiGHS did not reach an optimum: {h.modelStatusToString(status)}")
        x = np.asarray(h.getSolution().col_value, dtype=np.float64)
        return np.floor(x + 1e-6).astype(np.int64).clip(min=0)

    kg = run()
    lp_bound = float(h.getInfo().objective_function_value)
    rounds = dropped = forced = zeroed = 0
    forced_s = np.zeros(n_s, dtype=np.int64)  # kg of lower bounds already set, per row
    forced_d = np.zeros(n_d, dtype=np.int64)
    while True:
        short = (kg > 0) & (kg < mins_e)
        if not short.any():
            break
        if rounds >= max_rounds:
            zeroed = int(short.sum())
            kg[short] = 0
            break
        rounds += 1
        idx = np.flatnonzero(short)
        up: list[int] = []
        cand = idx[kg[idx] >= force_up_share * mins_e[idx]]
        cand = cand[np.argsort(-(kg[cand] / mins_e[cand]), kind="stable")]
        for k, i, j, m in zip(
            cand.tolist(), s[cand].tolist(), d[cand].tolist(), mins_e[cand].tolist(), strict=True
        ):
            # Lower bounds never add up beyond a row's capacity, so the LP stays feasible.
            if forced_s[i] + m <= avail[i] and forced_d[j] + m <= need[j]:
                forced_s[i] += m
                forced_d[j] += m
                up.append(k)
        up_idx = np.array(up, dtype=np.int64)
        down_idx = np.setdiff1d(idx, up_idx)
        if up_idx.size:
            forced += up_idx.size
            lower = mins_e[up_idx].astype(np.float64)
            h.changeColsBounds(up_idx.size, up_idx.astype(np.int32), lower, upper[up_idx])
        if down_idx.size:
            dropped += down_idx.size
            zeros = np.zeros(down_idx.size)
            h.changeColsBounds(down_idx.size, down_idx.astype(np.int32), zeros, zeros)
        kg = run()
    return _BlockResult(kg, lp_bound, rounds, dropped, forced, zeroed)


@dataclass
class _MipResult:
    kg: np.ndarray | None  # None: no solution better than the start
    dual_bound: float | None  # yen; None: nothing proven beyond the flow bound
    status: str


def _mip_block(
    cost: np.ndarray,
    s: np.ndarray,
    d: np.ndarray,
    avail: np.ndarray,
    need: np.ndarray,
    mins_e: np.ndarray,
    start: np.ndarray,
    time_limit_s: float,
    rel_gap: float,
) -> _MipResult:
    """The exact model of one block: each volume is semi-continuous (0, or between the
    listing's minimum and min(available, need)), HiGHS branch and bound from the feasible
    `start`, within `time_limit_s` and `rel_gap`. Volumes in tonnes (HiGHS caps the upper bound
    of a semi-continuous column at 1e5 units; larger units when a bound would exceed it)."""
    import highspy

    top = float(np.minimum(avail[s], need[d]).max()) if s.size else 0.0
    unit = float(KG_PER_TONNE)
    while top / unit > _HIGHS_MAX_SEMI_UPPER:
        unit *= 10
    lp = _block_lp(cost, s, d, avail, need, unit)
    lp.col_lower_ = mins_e.astype(np.float64) / unit
    lp.integrality_ = [highspy.HighsVarType.kSemiContinuous] * s.shape[0]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", max(1e-3, float(time_limit_s)))
    h.setOptionValue("mip_rel_gap", float(rel_gap))
    h.passModel(lp)
    solution = highspy.HighsSolution()
    solution.col_value = (start.astype(np.float64) / unit).tolist()
    solution.value_valid = True
    h.setSolution(solution)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    bound = float(info.mip_dual_bound)
    dual = bound if math.isfinite(bound) and bound > -highspy.kHighsInf else None
    kg = None
    if info.primal_solution_status == 2:  # kSolutionStatusFeasible
        x = np.asarray(h.getSolution().col_value, dtype=np.float64)
        kg = np.rint(x * unit).astype(np.int64).clip(min=0)
    return _MipResult(kg, dual, status)


def _blocks(edges: Edges, n_s: int, n_d: int, max_block_edges: int) -> list[np.ndarray]:
    """Edge indices of independent blocks (connected components, small ones packed together)."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    n = len(edges)
    graph = sp.coo_matrix(
        (np.ones(n), (edges.supply, n_s + edges.demand)), shape=(n_s + n_d, n_s + n_d)
    )
    _, label = connected_components(graph, directed=False)
    comp = label[edges.supply]
    order = np.argsort(comp, kind="stable")
    bounds = np.flatnonzero(np.diff(comp[order])) + 1
    parts = np.split(order, bounds)
    parts.sort(key=len, reverse=True)
    blocks: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    pending_size = 0
    for part in parts:
        if pending_size + len(part) > max_block_edges and pending:
            blocks.append(np.concatenate(pending))
            pending, pending_size = [], 0
        pending.append(part)
        pending_size += len(part)
    if pending:
        blocks.append(np.concatenate(pending))
    return blocks


def _lp_flow(
    s: np.ndarray,
    d: np.ndarray,
    unit_surplus: np.ndarray,
    avail: np.ndarray,
    need: np.ndarray,
    time_limit_s: float,
) -> tuple[np.ndarray, int]:
    """The transportation LP in HiGHS (the fallback when the flow does not fit in int64)."""
    r = _solve_block(unit_surplus, s, d, avail, need, np.zeros_like(s), 0, 0.0, time_limit_s)
    return r.kg, int(np.dot(r.kg, unit_surplus.astype(np.int64)))


def solve_allocation(
    edges: Edges,
    avail: np.ndarray | Sequence[int],
    need: np.ndarray | Sequence[int],
    minimum: np.ndarray | Sequence[int],
    max_rounds: int = 20,
    force_up_share: float = 0.25,
    time_limit_s: float = 10.0,
    max_block_edges: int = 0,
    mip_rel_gap: float = MIP_REL_GAP,
    exact: bool = True,
    max_mip_edges: int = 20_000,
) -> Allocation:
    """Surplus-maximising kg per edge with per-contract minimums (``x == 0`` or ``x >= min``).

    1. The transportation problem without minimums as a min-cost flow (OR-Tools, integer kg and
       yen/t): its optimum is exact and bounds every allocation (``lp_bound_jpy``). When no
       flow lies strictly between 0 and its minimum, it is the answer (proven optimal).
    2. Otherwise the graph is split into independent blocks (connected components; with
       ``max_block_edges`` > 0 small ones are packed together, `_blocks`); blocks without a
       short flow keep the flow (optimal there).
       On each other block the LP + rounding heuristic (`_solve_block`, warm-started from the
       flow) gives a feasible start, then HiGHS solves the exact model (semi-continuous
       volumes, `_mip_block`) from it within a share of ``time_limit_s`` (seconds for the
       exact model; blocks smallest first, each an equal share of what is left) and the
       relative gap ``mip_rel_gap`` overall (0.01 %). A block keeps the heuristic's volumes
       when HiGHS finds nothing better in time (or the block has more than ``max_mip_edges``
       edges, or ``exact`` is false); its bound is then HiGHS's dual bound, or the flow bound.
       Under a time limit that hits, the result depends on how far HiGHS got (machine load);
       otherwise it is deterministic.

    ``mip_gap`` reports the proven gap against the sum of the blocks' bounds and ``optimal``
    whether it is within ``mip_rel_gap``. Availability, need and minimums always hold.
    """
    t0 = time.perf_counter()
    avail, need, minimum = _as_kg(avail), _as_kg(need), _as_kg(minimum)
    n = len(edges)
    if n == 0:
        elapsed = time.perf_counter() - t0
        return Allocation(
            np.zeros(0, np.int64), 0, 0.0, 0.0, elapsed, 0, "mcf", mip_gap=0.0, optimal=True
        )
    n_s, n_d = avail.shape[0], need.shape[0]
    s, d = edges.supply.astype(np.int64), edges.demand.astype(np.int64)
    u = edges.unit_surplus_jpy.astype(np.int64)
    mins_e = minimum[s]
    method = "mcf"
    flow = _min_cost_flow(s, d, u, avail, need)
    if flow is None:
        flow, method = _lp_flow(s, d, u, avail, need, LP_TIME_LIMIT_S), "lp"
    kg, bound_value = flow
    lp_bound = bound_value / KG_PER_TONNE
    t_flow = time.perf_counter()
    short = (kg > 0) & (kg < mins_e)
    if not short.any():
        achieved = surplus_jpy(edges, kg)
        return Allocation(
            kg=kg,
            surplus_jpy=achieved,
            lp_bound_jpy=lp_bound,
            gap=_gap(lp_bound, achieved),
            solver_seconds=time.perf_counter() - t0,
            rounding_iterations=0,
            method=method,
            mip_gap=0.0,
            optimal=True,
            stage_seconds={"flow": t_flow - t0},
        )

    blocks = [b for b in _blocks(edges, n_s, n_d, max_block_edges) if short[b].any()]
    block_value = [int(np.dot(kg[b], u[b])) for b in blocks]
    affected = sum(block_value)
    # The gap is asked of the whole allocation: blocks without a short flow have none, so the
    # others may use their share of it (at most 10 × the target: no block is left sloppy).
    widen = bound_value / affected if affected > 0 else 1.0
    block_gap = mip_rel_gap * min(10.0, max(1.0, widen))
    proven = (bound_value - affected) / KG_PER_TONNE  # bound of the untouched blocks (exact)
    rounds = dropped = forced = zeroed = kept_heuristic = 0
    starts: list[tuple[tuple[np.ndarray, ...], np.ndarray]] = []
    for block in blocks:  # the heuristic first, on every block (LP time limit as before)
        rows_s, s_loc = np.unique(s[block], return_inverse=True)
        rows_d, d_loc = np.unique(d[block], return_inverse=True)
        args = (u[block], s_loc, d_loc, avail[rows_s], need[rows_d], mins_e[block])
        start = _repair(kg[block], *args)  # the flow with its short volumes removed
        try:
            r = _solve_block(*args, max_rounds, force_up_share, LP_TIME_LIMIT_S, kg[block])
        except RuntimeError:
            r = None
        if r is not None:
            rounds = max(rounds, r.rounds)
            dropped += r.dropped
            forced += r.forced
            zeroed += r.zeroed
            rounded = _repair(r.kg, *args)
            if np.dot(rounded, u[block]) >= np.dot(start, u[block]):
                start = rounded
        starts.append((args, start))

    # Then the exact model, smallest blocks first, each with an equal share of what is left of
    # the budget (time a small block does not use goes to the larger ones after it).
    t_heuristic = time.perf_counter()
    deadline = t_heuristic + float(time_limit_s)
    order = sorted(range(len(blocks)), key=lambda k: (len(blocks[k]), k))
    left = sum(1 for b in blocks if len(b) <= max_mip_edges)
    for k in order:
        block, value, (args, start) = blocks[k], block_value[k], starts[k]
        best, bound = start, value / KG_PER_TONNE
        proved = improved = False
        if exact and len(block) <= max_mip_edges:
            share = (deadline - time.perf_counter()) / left
            left -= 1
            mip = _mip_block(*args, start, share, block_gap) if share > 0 else None
            if mip is not None and mip.kg is not None:
                candidate = _repair(mip.kg, *args)
                if np.dot(candidate, u[block]) > np.dot(best, u[block]):
                    best, improved = candidate, True
            if mip is not None and mip.dual_bound is not None:
                bound = min(bound, mip.dual_bound)
            achieved_b = float(np.dot(best, u[block])) / KG_PER_TONNE
            proved = bound - achieved_b <= block_gap * max(bound, 1.0) * (1 + 1e-9)
        if not (proved or improved):
            kept_heuristic += 1
        kg[block] = best
        proven += max(bound, float(np.dot(best, u[block])) / KG_PER_TONNE)

    priority = np.argsort(u, kind="stable")[::-1]
    _trim_to_capacity(kg, s, avail, priority)  # blocks are independent: a no-op, kept as a guard
    _trim_to_capacity(kg, d, need, priority)
    kg[(kg > 0) & (kg < mins_e)] = 0
    achieved = surplus_jpy(edges, kg)
    mip_gap = _gap(proven, achieved)
    notes: list[str] = []
    if zeroed:
        notes.append(f"{zeroed} short flows zeroed after {max_rounds} rounds")
    if kept_heuristic:
        notes.append(f"{kept_heuristic} of {len(blocks)} blocks kept the rounding heuristic")
    return Allocation(
        kg=kg,
        surplus_jpy=achieved,
        lp_bound_jpy=lp_bound,
        gap=_gap(lp_bound, achieved),
        solver_seconds=time.perf_counter() - t0,
        rounding_iterations=rounds,
        method=f"{method}+{'rounding' if kept_heuristic else 'mip'}",
        dropped_edges=dropped,
        forced_edges=forced,
        notes=tuple(notes),
        mip_gap=mip_gap,
        optimal=mip_gap <= mip_rel_gap * (1 + 1e-9),
        stage_seconds={
            "flow": t_flow - t0,
            "heuristic": t_heuristic - t_flow,
            "mip": time.perf_counter() - t_heuristic,
        },
    )


def greedy_allocation(
    edges: Edges,
    avail: np.ndarray | Sequence[int],
    need: np.ndarray | Sequence[int],
    minimum: np.ndarray | Sequence[int],
) -> Allocation:
    """Baseline: edges by descending unit surplus, each as full as possible if at its minimum."""
    t0 = time.perf_counter()
    avail, need, minimum = _as_kg(avail), _as_kg(need), _as_kg(minimum)
    kg = np.zeros(len(edges), dtype=np.int64)
    order = np.argsort(-edges.unit_surplus_jpy, kind="stable")
    ra, rd, mins = avail.tolist(), need.tolist(), minimum.tolist()
    out = [0] * len(edges)
    for k, i, j in zip(
        order.tolist(), edges.supply[order].tolist(), edges.demand[order].tolist(), strict=True
    ):
        q = min(ra[i], rd[j])
        if q > 0 and q >= mins[i]:
            out[k] = q
            ra[i] -= q
            rd[j] -= q
    kg[:] = out
    achieved = surplus_jpy(edges, kg)
    return Allocation(kg, achieved, None, None, time.perf_counter() - t0, 0, "greedy")


def networkx_allocation(
    edges: Edges,
    avail: np.ndarray | Sequence[int],
    need: np.ndarray | Sequence[int],
    minimum: np.ndarray | Sequence[int] | None = None,
) -> Allocation:
    """Reference min-cost flow (networkx network simplex) in integer kg; IGNORES minimums.

    Graph: source -> listing (capacity avail kg) -> request (weight -unit surplus, yen/t) ->
    sink (capacity need kg), plus a zero-cost source -> sink bypass so that unprofitable volume
    need not flow. Exact for the LP without minimums; slow, meant for small instances only.
    ``minimum`` is accepted for a uniform signature and not used.
    """
    import networkx as nx

    t0 = time.perf_counter()
    avail, need = _as_kg(avail), _as_kg(need)
    g = nx.DiGraph()
    used_s = np.unique(edges.supply).tolist()
    used_d = np.unique(edges.demand).tolist()
    flow_total = min(int(avail[used_s].sum()), int(need[used_d].sum())) if len(edges) else 0
    g.add_node("src", demand=-flow_total)
    g.add_node("sink", demand=flow_total)
    g.add_edge("src", "sink", capacity=flow_total, weight=0)
    g.add_edges_from(("src", ("s", i), {"capacity": int(avail[i]), "weight": 0}) for i in used_s)
    g.add_edges_from((("d", j), "sink", {"capacity": int(need[j]), "weight": 0}) for j in used_d)
    g.add_edges_from(
        (("s", i), ("d", j), {"weight": -w})
        for i, j, w in zip(
            edges.supply.tolist(),
            edges.demand.tolist(),
            edges.unit_surplus_jpy.tolist(),
            strict=True,
        )
    )
    flow = nx.min_cost_flow(g)
    kg = np.array(
        [
            flow[("s", i)][("d", j)]
            for i, j in zip(edges.supply.tolist(), edges.demand.tolist(), strict=True)
        ],
        dtype=np.int64,
    )
    achieved = surplus_jpy(edges, kg)
    return Allocation(kg, achieved, None, None, time.perf_counter() - t0, 0, "networkx")


# ----------------------------------------------------------------------------------------------
# Explanations
# ----------------------------------------------------------------------------------------------

#: Weights of the score parts (sum 100). Each part is a value in 0..1.
SCORE_WEIGHTS: dict[str, int] = {
    "price_spread": 40,
    "transport": 15,
    "grade_margin": 15,
    "data_quality": 10,
    "term_fit": 20,
}
#: Spread of 20 % of the landed cost (ask + transport) or more scores the full price part.
FULL_SPREAD_SHARE = 0.20
#: Transport at 25 % of the landed cost or more scores zero on the transport part.
ZERO_TRANSPORT_SHARE = 0.25
#: Spread bands shown instead of the private price, as share of the landed cost:
#: (name, lower bound inclusive, representative share used for a redacted score).
SPREAD_BANDS: tuple[tuple[str, float, float], ...] = (
    ("narrow", 0.0, 0.025),
    ("medium", 0.05, 0.10),
    ("wide", 0.15, 0.20),
)


def spread_band(spread_jpy: int, landed_jpy: int) -> str:
    """Coarse band of a positive spread relative to the landed cost: narrow/medium/wide."""
    share = spread_jpy / landed_jpy if landed_jpy > 0 else 1.0
    name = SPREAD_BANDS[0][0]
    for band, lower, _ in SPREAD_BANDS:
        if share >= lower:
            name = band
    return name


def _price_part(share: float) -> float:
    return max(0.0, min(1.0, share / FULL_SPREAD_SHARE))


@dataclass(frozen=True)
class EdgeExplanation:
    """Full score breakdown of one pair (both prices inside: never shown as is to either side)."""

    ask_jpy_per_t: int
    limit_jpy_per_t: int
    transport_jpy_per_t: int
    distance_km: float
    transport_mode: TransportMode
    spread_jpy_per_t: int
    overlap_months: int
    term_months: int
    grade_margin: float
    data_quality_level: int
    parts: dict[str, float]
    score: int
    sea_leg: SeaLeg | None = None

    @property
    def landed_jpy_per_t(self) -> int:
        """Ask plus transport, yen per tonne."""
        return self.ask_jpy_per_t + self.transport_jpy_per_t


def _score(parts: Mapping[str, float]) -> int:
    total = Decimal(str(sum(SCORE_WEIGHTS[k] * parts[k] for k in SCORE_WEIGHTS)))
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def explain_edge(
    supply: SupplySide,
    demand: DemandSide,
    rates: TransportRates | None = None,
    grade_margin: float = 0.0,
    data_quality_level: int = 1,
) -> EdgeExplanation:
    """Score parts (each 0..1) and total score 0-100 for one pair, weights in SCORE_WEIGHTS.

    price_spread: spread / (20 % of landed cost), capped at 1; transport: 1 - transport share of
    the landed cost / 25 %; grade_margin: given by the caller (0..1); data_quality: level 1-4 ->
    0, 1/3, 2/3, 1; term_fit: overlap months / requested term.
    """
    rates = rates or TransportRates()
    if not 1 <= data_quality_level <= 4:
        raise ValueError("data quality level must be 1..4")
    transport, km, mode, sea_leg = landed_transport(supply, demand, rates)
    landed = supply.ask_jpy_per_t + transport
    spread = demand.limit_jpy_per_t - landed
    overlap = max(
        0,
        min(supply.period_end, demand.period_end) - max(supply.available_from, demand.start_month),
    )
    parts = {
        "price_spread": _price_part(spread / landed if landed > 0 else 1.0),
        "transport": max(0.0, 1.0 - (transport / landed if landed else 0.0) / ZERO_TRANSPORT_SHARE),
        "grade_margin": max(0.0, min(1.0, float(grade_margin))),
        "data_quality": (data_quality_level - 1) / 3,
        "term_fit": min(1.0, overlap / demand.term_months) if demand.term_months > 0 else 0.0,
    }
    return EdgeExplanation(
        ask_jpy_per_t=supply.ask_jpy_per_t,
        limit_jpy_per_t=demand.limit_jpy_per_t,
        transport_jpy_per_t=transport,
        distance_km=km,
        transport_mode=mode,
        spread_jpy_per_t=spread,
        overlap_months=overlap,
        term_months=demand.term_months,
        grade_margin=parts["grade_margin"],
        data_quality_level=data_quality_level,
        parts=parts,
        score=_score(parts),
        sea_leg=sea_leg,
    )


def landed_transport(
    supply: SupplySide, demand: DemandSide, rates: TransportRates | None = None
) -> tuple[int, float, TransportMode, SeaLeg | None]:
    """Transport of one pair by the rule of `candidate_edges` (one rule, two shapes): yen per
    tonne, km of the domestic leg, mode, and the sea leg of an import from a foreign port."""
    rates = rates or TransportRates()
    if not supply.import_from:
        km = great_circle_km(supply.lat, supply.lon, demand.lat, demand.lon)
        cost, mode = rates.cost_per_t(km, supply.is_port and demand.is_port)
        return cost, km, mode, None
    port, lat, lon = nearest_japan_port(demand.lat, demand.lon)
    km = great_circle_km(lat, lon, demand.lat, demand.lon)
    domestic, _ = rates.cost_per_t(km, demand.is_port)
    sea = rates.sea_freight.to_japan(supply.import_from)
    leg = SeaLeg(supply.import_from, port, sea, rates.sea_freight.source)
    return domestic + sea, km, "sea", leg


@dataclass(frozen=True)
class SeaLeg:
    """The international sea leg of an import: from a port of `origin_country` to the main
    Japanese `port` nearest the buyer, yen per tonne (included in the transport)."""

    origin_country: str
    port: str
    jpy_per_t: int
    source: str


def _common_view(e: EdgeExplanation) -> dict[str, Any]:
    return {
        "transport": {
            "jpy_per_t": e.transport_jpy_per_t,
            "km": round(e.distance_km, 1),
            "mode": e.transport_mode,
            "score": round(e.parts["transport"], 3),
            "sea_leg": (
                {
                    "origin_country": e.sea_leg.origin_country,
                    "port": e.sea_leg.port,
                    "jpy_per_t": e.sea_leg.jpy_per_t,
                    "source": e.sea_leg.source,
                }
                if e.sea_leg
                else None
            ),
        },
        "grade_margin": {"score": round(e.parts["grade_margin"], 3)},
        "data_quality": {"level": e.data_quality_level, "score": round(e.parts["data_quality"], 3)},
        "term_fit": {
            "overlap_months": e.overlap_months,
            "requested_months": e.term_months,
            "score": round(e.parts["term_fit"], 3),
        },
        "weights": dict(SCORE_WEIGHTS),
    }


def _banded_view(e: EdgeExplanation) -> dict[str, Any]:
    """Price part as a band; the total uses the band's representative share (no exact leak)."""
    band = spread_band(e.spread_jpy_per_t, e.landed_jpy_per_t)
    representative = next(rep for name, _, rep in SPREAD_BANDS if name == band)
    parts = dict(e.parts, price_spread=_price_part(representative))
    view = _common_view(e)
    view["price_spread"] = {"positive": e.spread_jpy_per_t > 0, "band": band}
    view["score"] = _score(parts)
    view["score_is_indicative"] = True
    return view


def explain_for_seller(e: EdgeExplanation) -> dict[str, Any]:
    """Seller's view: own ask and transport, the spread only as positive + band; no buyer limit."""
    view = _banded_view(e)
    view["ask_jpy_per_t"] = e.ask_jpy_per_t
    return view


def explain_for_buyer(e: EdgeExplanation, ask_is_public: bool = True) -> dict[str, Any]:
    """Buyer's view: own limit, exact spread and the ask if public; otherwise bands only."""
    if not ask_is_public:
        view = _banded_view(e)
        view["limit_jpy_per_t"] = e.limit_jpy_per_t
        return view
    view = _common_view(e)
    view["price_spread"] = {
        "jpy_per_t": e.spread_jpy_per_t,
        "band": spread_band(e.spread_jpy_per_t, e.landed_jpy_per_t),
        "score": round(e.parts["price_spread"], 3),
    }
    view["ask_jpy_per_t"] = e.ask_jpy_per_t
    view["limit_jpy_per_t"] = e.limit_jpy_per_t
    view["score"] = e.score
    view["score_is_indicative"] = False
    return view
