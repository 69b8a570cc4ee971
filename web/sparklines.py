"""Pictures of prices: the sparkline of an index beside a price, an index's chart and a
listing's price formula against its index, each with its text alternative.

The series of all rows of a page come from one query (`market.indices.index_series`). A
sparkline is an image at an address that holds its values (`/charts/sparkline.svg?v=…`): the
same picture for every row on one index, drawn once per process (`web.charts.sparkline` is
cached) and kept by the browser for a year, so a page of 25 rows carries 25 short addresses
instead of 25 inline pictures (about 2 kB each).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask import url_for
from flask_babel import gettext
from sqlmodel import Session

from market.indices import (
    Formula,
    evaluate,
    index_series,
    listing_index_ids,
)
from market.models import PriceKind
from web.charts import formula_chart, index_chart, round_ticks

# What the sparkline address accepts: up to this many values of at most this many digits.
SPARK_MAX_VALUES = 36
SPARK_MAX_DIGITS = 12


@dataclass(frozen=True)
class Picture:
    """An image (a data URI or an address) and its text alternative."""

    src: str
    alt: str


def _yen(value: float) -> str:
    return f"−¥{-value:,.0f}" if value < 0 else f"¥{value:,.0f}"


def _month(value: date) -> str:
    return value.strftime("%Y-%m")


def sparkline_src(values: tuple[int, ...]) -> str:
    """The address of the sparkline of these values (served by `market.sparkline`)."""
    return url_for("market.sparkline", v=",".join(str(v) for v in values))


def parse_spark_values(raw: str) -> tuple[int, ...] | None:
    """The values of a sparkline address, or None when they are not 1 to 36 whole numbers."""
    parts = raw.split(",") if raw else []
    if not 0 < len(parts) <= SPARK_MAX_VALUES:
        return None
    if not all(p.isascii() and p.isdigit() and len(p) <= SPARK_MAX_DIGITS for p in parts):
        return None
    return tuple(int(p) for p in parts)


def series_alt(code: str, series: tuple[tuple[date, int], ...]) -> str:
    """'CU-SCRAP-JP, 2025-12 to 2026-11: ¥1,155,600 → ¥1,227,675 per tonne (low …, high …)'."""
    values = [v for _m, v in series]
    return gettext(
        "%(code)s, %(first)s to %(last)s: %(start)s → %(end)s per tonne "
        "(low %(low)s, high %(high)s)",
        code=code,
        first=_month(series[0][0]),
        last=_month(series[-1][0]),
        start=_yen(values[0]),
        end=_yen(values[-1]),
        low=_yen(min(values)),
        high=_yen(max(values)),
    )


def index_sparklines(session: Session, index_ids: Iterable[int | None], month: date) -> dict:
    """Index id → Picture of its last 12 months up to `month` (indices with values only)."""
    ids = {i for i in index_ids if i is not None}
    return {
        index_id: Picture(
            sparkline_src(tuple(v for _m, v in s.values)), series_alt(s.code, s.values)
        )
        for index_id, s in index_series(session, ids, month).items()
    }


def listing_sparklines(session: Session, listing_ids: Iterable[int], month: date) -> dict:
    """Listing id → Picture of the index its price follows (index-priced listings only)."""
    by_listing = listing_index_ids(session, set(listing_ids))
    pictures = index_sparklines(session, by_listing.values(), month)
    return {lid: pictures[iid] for lid, iid in by_listing.items() if iid in pictures}


def index_picture(code: str, series: tuple[tuple[date, int], ...]) -> Picture | None:
    """The index page's chart of all its values."""
    if not series:
        return None
    months, values = [m for m, _v in series], [v for _m, v in series]
    return Picture(
        index_chart(months, values, gettext("Yen per tonne")),
        gettext(
            "Chart of the monthly values of %(summary)s. The table below has every value.",
            summary=series_alt(code, series),
        ),
    )


def formula_points(formula: Formula, low: int, high: int) -> list[tuple[int, int]]:
    """The corners of price(index) from index `low` to `high`: the ends and, in between, where
    the formula meets the floor or the cap (a flat part beyond each). Yen per tonne."""
    factor = formula.factor or Decimal(1)
    xs = {low, high}
    for bound in (formula.floor, formula.cap):
        if bound is not None and factor > 0:
            x = int(((Decimal(bound) - formula.premium) / factor).to_integral_value())
            if low < x < high:
                xs.add(x)
    return [(x, evaluate(formula, x)) for x in sorted(xs)]


def formula_picture(
    formula: Formula, series: tuple[tuple[date, int], ...], current: int | None
) -> Picture | None:
    """A listing's price against its index, over the range of the index's recent values
    widened to show the floor and the cap; None for a fixed price or an index without values."""
    if formula.kind != PriceKind.INDEX or formula.factor is None or not series:
        return None
    values = [v for _m, v in series] + ([current] if current is not None else [])
    low, high = min(values), max(values)
    factor = formula.factor if formula.factor > 0 else Decimal(1)
    for bound in (formula.floor, formula.cap):
        if bound is not None:
            x = int((Decimal(bound) - formula.premium) / factor)
            low, high = min(low, x), max(high, x)
    span = max(high - low, max(high, 1) // 10)
    ticks = round_ticks(max(0, low - span // 4), high + span // 4)
    low, high = int(ticks[0]), int(ticks[-1])  # the x axis from one round tick to another
    points = formula_points(formula, low, high)
    marked = (current, evaluate(formula, current)) if current is not None else None
    src = formula_chart(
        points,
        marked,
        formula.floor,
        formula.cap,
        {
            "price": gettext("Price by index value"),
            "current": gettext("Index now"),
            "floor": gettext("Floor %(price)s", price=_yen(formula.floor or 0)),
            "cap": gettext("Cap %(price)s", price=_yen(formula.cap or 0)),
            "x": gettext("Index (¥/t)"),
            "y": gettext("Price (¥/t)"),
        },
    )
    parts = [
        gettext(
            "Price against the index from %(low)s to %(high)s: %(start)s to %(end)s per tonne.",
            low=_yen(points[0][0]),
            high=_yen(points[-1][0]),
            start=_yen(points[0][1]),
            end=_yen(points[-1][1]),
        )
    ]
    if formula.floor is not None:
        parts.append(gettext("Never below the floor of %(price)s.", price=_yen(formula.floor)))
    if formula.cap is not None:
        parts.append(gettext("Never above the cap of %(price)s.", price=_yen(formula.cap)))
    if marked is not None:
        parts.append(
            gettext(
                "At the current index of %(index)s the price is %(price)s.",
                index=_yen(marked[0]),
                price=_yen(marked[1]),
            )
        )
    # Sentences ending in 。 (Japanese) follow each other without a space.
    return Picture(src, "".join(p if p.endswith("。") else p + " " for p in parts).strip())


def listing_pictures(
    session: Session, formula: Formula, month: date, current: int | None
) -> tuple[Picture | None, Picture | None]:
    """A listing page's sparkline of its index and its formula chart (None, None: fixed)."""
    if formula.index_id is None:
        return None, None
    found = index_series(session, {formula.index_id}, month).get(formula.index_id)
    if found is None:
        return None, None
    spark = Picture(sparkline_src(tuple(v for _m, v in found.values)), series_alt(*found))
    return spark, formula_picture(formula, found.values, current)
