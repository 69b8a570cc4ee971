"""Synthetic but realistic matching instances: Japanese places, real grade codes, yen price levels.

The planning horizon grows with the number of listings so that a request sees about
``candidates_per_request`` compatible listings whatever the instance size (at small sizes the
horizon has a floor of two years and requests see fewer candidates).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from market.allocation import DemandSide, SupplySide, month_index

# (name, lat, lon, industrial weight). Prefecture capitals (city hall coordinates, rounded).
PREFECTURE_CAPITALS: tuple[tuple[str, float, float, float], ...] = (
    ("Sapporo", 43.0642, 141.3469, 2.0),
    ("Aomori", 40.8244, 140.7400, 0.6),
    ("Morioka", 39.7036, 141.1527, 0.6),
    ("Sendai", 38.2682, 140.8694, 1.5),
    ("Akita", 39.7186, 140.1024, 0.5),
    ("Yamagata", 38.2404, 140.3633, 0.6),
    ("Fukushima", 37.7500, 140.4678, 0.8),
    ("Mito", 36.3418, 140.4468, 1.2),
    ("Utsunomiya", 36.5657, 139.8836, 1.2),
    ("Maebashi", 36.3911, 139.0608, 1.0),
    ("Saitama", 35.8569, 139.6489, 2.0),
    ("Chiba", 35.6046, 140.1233, 2.0),
    ("Shinjuku (Tokyo)", 35.6895, 139.6917, 3.0),
    ("Yokohama", 35.4478, 139.6425, 2.5),
    ("Niigata", 37.9026, 139.0236, 1.0),
    ("Toyama", 36.6953, 137.2113, 1.0),
    ("Kanazawa", 36.5947, 136.6256, 0.8),
    ("Fukui", 36.0652, 136.2216, 0.6),
    ("Kofu", 35.6642, 138.5684, 0.5),
    ("Nagano", 36.6513, 138.1810, 0.8),
    ("Gifu", 35.3912, 136.7223, 1.0),
    ("Shizuoka", 34.9769, 138.3831, 1.5),
    ("Nagoya", 35.1802, 136.9066, 3.0),
    ("Tsu", 34.7303, 136.5086, 1.0),
    ("Otsu", 35.0045, 135.8686, 0.8),
    ("Kyoto", 35.0214, 135.7556, 1.2),
    ("Osaka", 34.6863, 135.5200, 3.0),
    ("Kobe", 34.6913, 135.1830, 2.0),
    ("Nara", 34.6851, 135.8329, 0.6),
    ("Wakayama", 34.2261, 135.1675, 0.6),
    ("Tottori", 35.5039, 134.2383, 0.3),
    ("Matsue", 35.4723, 133.0505, 0.3),
    ("Okayama", 34.6618, 133.9344, 1.2),
    ("Hiroshima", 34.3966, 132.4596, 1.5),
    ("Yamaguchi", 34.1859, 131.4714, 0.8),
    ("Tokushima", 34.0658, 134.5593, 0.4),
    ("Takamatsu", 34.3401, 134.0434, 0.6),
    ("Matsuyama", 33.8417, 132.7661, 0.6),
    ("Kochi", 33.5597, 133.5311, 0.3),
    ("Fukuoka", 33.6064, 130.4181, 2.0),
    ("Saga", 33.2494, 130.2988, 0.4),
    ("Nagasaki", 32.7448, 129.8737, 0.4),
    ("Kumamoto", 32.7898, 130.7417, 0.8),
    ("Oita", 33.2382, 131.6126, 0.8),
    ("Miyazaki", 31.9111, 131.4239, 0.4),
    ("Kagoshima", 31.5602, 130.5581, 0.5),
)
# Major ports handling scrap and resin in bulk (approximate terminal coordinates).
PORTS: tuple[tuple[str, float, float, float], ...] = (
    ("Port of Tokyo", 35.6170, 139.7830, 1.5),
    ("Port of Nagoya", 35.0833, 136.8833, 1.5),
    ("Port of Osaka", 34.6500, 135.4333, 1.2),
    ("Port of Kobe", 34.6700, 135.2000, 1.0),
    ("Port of Kitakyushu", 33.9500, 130.9667, 1.0),
    ("Port of Tomakomai", 42.6333, 141.6167, 0.6),
    ("Port of Niigata", 37.9833, 139.2167, 0.5),
)

# material -> (base price yen/t, share of listings, grades best first as (code, price factor)).
MATERIALS: dict[str, tuple[int, float, tuple[tuple[str, float], ...]]] = {
    "copper_scrap": (
        1_200_000,
        0.12,
        (
            ("ISRI-BARLEY", 1.06),
            ("ISRI-BERRY-CANDY", 1.03),
            ("ISRI-BIRCH-CLIFF", 0.97),
            ("JP-CU-NO2", 0.93),
            ("ISRI-DROID", 0.60),
        ),
    ),
    "aluminium_scrap": (
        250_000,
        0.15,
        (
            ("JP-AL-UBC", 1.05),
            ("ISRI-TAINT-TABOR", 1.02),
            ("ISRI-TALK", 0.98),
            ("ISRI-TWITCH", 0.92),
            ("ISRI-ZORBA", 0.88),
        ),
    ),
    "ferrous_scrap": (
        50_000,
        0.30,
        (
            ("JP-FE-SHINDACHI", 1.10),
            ("JP-FE-HS", 1.06),
            ("JP-FE-H1", 1.02),
            ("JP-FE-H2", 0.98),
            ("JP-FE-SHREDDER-A", 0.97),
            ("JP-FE-H3", 0.92),
        ),
    ),
    "stainless_scrap": (
        200_000,
        0.08,
        (
            ("ISRI-SS-316", 1.25),
            ("ISRI-18-8", 1.00),
            ("JP-SUS304-NEW", 1.02),
            ("ISRI-SS-430", 0.45),
        ),
    ),
    "li_ion_black_mass": (
        400_000,
        0.05,
        (("BM-NCM-EU", 1.10), ("BM-NCM-JP", 1.05), ("BM-LCO", 1.20), ("BM-LFP", 0.35)),
    ),
    "pet": (
        80_000,
        0.12,
        (
            ("RPET-PELLET-FG", 1.40),
            ("RPET-FLAKE-A", 1.10),
            ("RPET-FLAKE-B", 0.95),
            ("RPET-BOTTLE-BALE", 0.75),
        ),
    ),
    "hdpe": (
        70_000,
        0.09,
        (("HDPE-NAT-A", 1.15), ("HDPE-NAT-B", 1.00), ("HDPE-NAT-C", 0.88), ("HDPE-COL-MIX", 0.75)),
    ),
    "pp": (
        60_000,
        0.09,
        (("PP-PELLET-FG", 1.30), ("PP-NAT-A", 1.10), ("PP-COL-A", 0.95), ("PP-MIX-B", 0.75)),
    ),
}

#: Horizon months per (listing / wanted candidates per request); fitted at 10,000 x 10,000.
HORIZON_PER_LISTING_PER_CANDIDATE = 0.011
MIN_HORIZON_MONTHS = 24
FIRST_MONTH = month_index(2026, 1)


@dataclass(frozen=True)
class GradeInfo:
    """One grade code of the instance: integer id, material, code, price factor."""

    id: int
    material: str
    code: str
    price_factor: float


@dataclass(frozen=True)
class Instance:
    """Generated listings and requests with the names behind their ids (for a database load)."""

    supplies: list[SupplySide]
    demands: list[DemandSide]
    grades: dict[int, GradeInfo]
    supply_places: list[str]
    demand_places: list[str]
    horizon_months: int


def grade_table() -> dict[int, GradeInfo]:
    """All grades with stable integer ids (1..), in material order, best grade first."""
    grades: dict[int, GradeInfo] = {}
    for material, (_, _, codes) in MATERIALS.items():
        for code, factor in codes:
            gid = len(grades) + 1
            grades[gid] = GradeInfo(gid, material, code, factor)
    return grades


def _tonnes(rng: np.random.Generator, low: float, high: float, size: int) -> list[Decimal]:
    kg = rng.integers(int(low * 1000), int(high * 1000) + 1, size=size)
    return [Decimal(int(k)).scaleb(-3) for k in kg]


def generate_instance(
    n_listings: int, n_requests: int, seed: int = 0, candidates_per_request: float = 20.0
) -> Instance:
    """Random open listings and requests with about ``candidates_per_request`` pairs each."""
    rng = np.random.default_rng(seed)
    grades = grade_table()
    places = PREFECTURE_CAPITALS + PORTS
    place_w = np.array([p[3] for p in places])
    place_w /= place_w.sum()
    n_capitals = len(PREFECTURE_CAPITALS)
    materials = list(MATERIALS)
    mat_w = np.array([MATERIALS[m][1] for m in materials])
    mat_w /= mat_w.sum()
    grade_ids_of = {m: [g.id for g in grades.values() if g.material == m] for m in materials}
    horizon = max(
        MIN_HORIZON_MONTHS,
        round(HORIZON_PER_LISTING_PER_CANDIDATE * n_listings * 20.0 / candidates_per_request),
    )

    def jitter(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        idx = rng.choice(len(places), size=n, p=place_w)
        lat = np.array([places[i][1] for i in idx]) + rng.normal(0, 0.08, n) * (idx < n_capitals)
        lon = np.array([places[i][2] for i in idx]) + rng.normal(0, 0.08, n) * (idx < n_capitals)
        return idx, lat, lon

    # Listings.
    s_mat = rng.choice(len(materials), size=n_listings, p=mat_w)
    s_place, s_lat, s_lon = jitter(n_listings)
    s_start = rng.integers(0, horizon, size=n_listings)
    s_term = rng.choice([6, 12, 12, 24, 36], size=n_listings)
    s_avail = _tonnes(rng, 20, 500, n_listings)
    s_min_raw = _tonnes(rng, 10, 50, n_listings)
    s_noise = rng.normal(0.0, 0.04, n_listings)
    supplies: list[SupplySide] = []
    for i in range(n_listings):
        material = materials[s_mat[i]]
        gid = grade_ids_of[material][rng.integers(len(grade_ids_of[material]))]
        base = MATERIALS[material][0] * grades[gid].price_factor
        ask = int(round(base * (1 + s_noise[i]), -2))
        supplies.append(
            SupplySide(
                id=i + 1,
                material=material,
                grade_id=gid,
                available_t=s_avail[i],
                minimum_t=min(s_min_raw[i], s_avail[i]),
                available_from=FIRST_MONTH + int(s_start[i]),
                max_term_months=int(s_term[i]),
                lat=round(float(s_lat[i]), 4),
                lon=round(float(s_lon[i]), 4),
                ask_jpy_per_t=ask,
                is_port=bool(s_place[i] >= n_capitals),
            )
        )

    # Requests: a target grade plus, 40 % of the time, the next better grade.
    d_mat = rng.choice(len(materials), size=n_requests, p=mat_w)
    d_place, d_lat, d_lon = jitter(n_requests)
    d_start = rng.integers(0, horizon, size=n_requests)
    d_term = rng.choice([3, 6, 12, 12, 24], size=n_requests)
    d_need = _tonnes(rng, 20, 500, n_requests)
    d_noise = rng.normal(0.03, 0.04, n_requests)
    d_better = rng.random(n_requests) < 0.4
    demands: list[DemandSide] = []
    for j in range(n_requests):
        material = materials[d_mat[j]]
        ids = grade_ids_of[material]
        pos = int(rng.integers(len(ids)))
        accepted = {ids[pos]}
        if d_better[j] and pos > 0:
            accepted.add(ids[pos - 1])
        base = MATERIALS[material][0] * grades[ids[pos]].price_factor
        demands.append(
            DemandSide(
                id=j + 1,
                material=material,
                acceptable_grade_ids=frozenset(accepted),
                need_t=d_need[j],
                start_month=FIRST_MONTH + int(d_start[j]),
                term_months=int(d_term[j]),
                lat=round(float(d_lat[j]), 4),
                lon=round(float(d_lon[j]), 4),
                limit_jpy_per_t=int(round(base * (1 + d_noise[j]), -2)),
                is_port=bool(d_place[j] >= n_capitals),
            )
        )
    return Instance(
        supplies=supplies,
        demands=demands,
        grades=grades,
        supply_places=[places[i][0] for i in s_place],
        demand_places=[places[i][0] for i in d_place],
        horizon_months=horizon,
    )
