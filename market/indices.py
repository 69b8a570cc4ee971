"""Price indices: monthly values entered by the operator or imported from CSV; price evaluation.

Creating an index and entering or importing its values is for the marketplace operator
(`OPERATE_MARKETPLACE`, checked here); reading indices and their values is public.
"""

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError
from sqlalchemy import (
    BigInteger,
    Date,
    Float,
    Numeric,
    and_,
    bindparam,
    case,
    cast,
    func,
    null,
    update,
)
from sqlmodel import Session, col, select

from market.models import (
    NO_PRICE_KEY,
    IndexValue,
    OfftakeRequest,
    PriceIndex,
    PriceKind,
    SupplyListing,
)
from participants.actors import OPERATE_MARKETPLACE, Actor
from participants.audit import record_audit
from participants.errors import N_, NotFound, ValidationFailed
from participants.fields import YEN_MAX, Line, Month


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Enter a whole number.")
    return value


# A price or an index value in whole yen per tonne: more than zero, at most ¥100,000,000.
YenPerTonne = Annotated[int, Field(ge=1, le=YEN_MAX), BeforeValidator(_not_bool)]


class CsvRowsInvalid(ValidationFailed):
    """Some CSV rows are wrong; `rows` lists {row, field, message}; nothing was saved."""

    def __init__(self, rows: list[dict]) -> None:
        super().__init__(
            "The file has errors in %(n)s rows; nothing was saved.",
            field="file",
            n=len({r["row"] for r in rows}),
        )
        self.rows = rows


class IndexInput(BaseModel):
    """A new monthly price index in yen per tonne."""

    model_config = ConfigDict(extra="forbid")
    code: Line(40, min_length=2) = Field(
        description="2–40 letters, digits and hyphens (stored in capitals)"
    )
    name_en: Line(120, min_length=1)
    name_ja: Line(120, min_length=1)
    material: Line(40, min_length=1) = Field(description="material code")
    source: Line(300) = ""


class IndexValueInput(BaseModel):
    """One month's value of an index."""

    model_config = ConfigDict(extra="forbid")
    month: Month
    value_jpy_per_t: YenPerTonne


class IndexOut(BaseModel):
    """A price index and its latest value."""

    code: str
    name_en: str
    name_ja: str
    material: str
    unit: str
    source: str
    latest_jpy_per_t: int | None


class IndexValueOut(BaseModel):
    """One month's value of an index, yen per tonne."""

    month: Month
    value_jpy_per_t: int


class IndexValuesOut(BaseModel):
    """An index and its monthly values, oldest first."""

    index: IndexOut
    values: list[IndexValueOut]


def index_out(index: PriceIndex, latest: int | None) -> IndexOut:
    return IndexOut(
        code=index.code,
        name_en=index.name_en,
        name_ja=index.name_ja,
        material=index.material_code,
        unit=index.unit,
        source=index.source,
        latest_jpy_per_t=latest,
    )


def index_value_out(row: IndexValue) -> IndexValueOut:
    return IndexValueOut(month=row.month, value_jpy_per_t=row.value_jpy_per_t)


def create_index(session: Session, actor: Actor, data: IndexInput) -> PriceIndex:
    """A new monthly price index in yen per tonne (operator only; audited)."""
    from quality.models import Material

    OPERATE_MARKETPLACE.check(actor)
    code = data.code.strip().upper()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9-]{1,39}", code):
        raise ValidationFailed(
            "Use 2–40 capital letters, digits and hyphens for the code.", field="code"
        )
    if session.exec(select(PriceIndex.id).where(PriceIndex.code == code)).first() is not None:
        raise ValidationFailed("An index with this code exists already.", field="code")
    names = {}
    for field, value in (("name_en", data.name_en), ("name_ja", data.name_ja)):
        value = value.strip()
        if not value:
            raise ValidationFailed("Give a name of at most 120 characters.", field=field)
        names[field] = value
    material = data.material.strip()
    if session.exec(select(Material.id).where(Material.code == material)).first() is None:
        raise ValidationFailed("Unknown material %(code)s.", field="material", code=material)
    index = PriceIndex(code=code, material_code=material, source=data.source.strip(), **names)
    session.add(index)
    session.flush()
    record_audit(session, actor, "index.created", "priceindex", index.id, {"code": code})
    return index


def get_index(session: Session, code: str) -> PriceIndex:
    """An index by its code (public), or NotFound."""
    index = session.exec(select(PriceIndex).where(PriceIndex.code == code)).first()
    if index is None:
        raise NotFound("Unknown price index %(code)s.", code=code)
    return index


def index_to_change(session: Session, actor: Actor, code: str) -> PriceIndex:
    """The index the operator is about to change (the forms of the index page ask this first)."""
    OPERATE_MARKETPLACE.check(actor)
    return get_index(session, code)


def all_indices(session: Session) -> list[tuple[PriceIndex, int | None]]:
    """Every index with its latest value, by code (two queries)."""
    rows = list(session.exec(select(PriceIndex).order_by(PriceIndex.code)))
    latest = latest_values(session, {i.id for i in rows}, date.max)
    return [(i, latest.get(i.id)) for i in rows]


# Built once (they run on every search): only the parameters change.
_INDEX_CODES = select(PriceIndex.id, PriceIndex.code).where(
    col(PriceIndex.id).in_(bindparam("ids", expanding=True))
)
_LATEST_MONTHS = (
    select(IndexValue.index_id, func.max(IndexValue.month).label("month"))
    .where(col(IndexValue.month) <= bindparam("month", type_=Date))
    .group_by(IndexValue.index_id)
    .subquery()
)
_MONTH_VALUES = select(IndexValue.index_id, IndexValue.value_jpy_per_t).join(
    _LATEST_MONTHS,
    and_(
        IndexValue.index_id == _LATEST_MONTHS.c.index_id,
        IndexValue.month == _LATEST_MONTHS.c.month,
    ),
)


def index_codes(session: Session, index_ids: set[int | None]) -> dict[int, str]:
    """Index codes by id, one query."""
    ids = {i for i in index_ids if i}
    if not ids:
        return {}
    return dict(session.connection().execute(_INDEX_CODES, {"ids": sorted(ids)}).all())


def _parse_value(raw: str) -> int:
    value = Decimal(raw.replace(",", "").strip())
    if not value.is_finite() or value <= 0 or value != value.to_integral_value():
        raise ValueError
    if value > YEN_MAX:
        raise ValueError
    return int(value)


def set_index_value(session: Session, actor: Actor, code: str, data: IndexValueInput) -> IndexValue:
    """Enter or correct one month's value (operator only; audited)."""
    index = index_to_change(session, actor, code)
    row = _upsert(session, actor, index, data.month.replace(day=1), data.value_jpy_per_t)
    refresh_prices(session, index_ids={index.id})
    return row


def _upsert(session: Session, actor: Actor, index: PriceIndex, month: date, value: int):
    row = session.exec(
        select(IndexValue).where(IndexValue.index_id == index.id, IndexValue.month == month)
    ).first()
    old = row.value_jpy_per_t if row else None
    if row is None:
        row = IndexValue(index_id=index.id, month=month, value_jpy_per_t=value)
    row.value_jpy_per_t = value
    row.entered_by_member_id = actor.member_id
    session.add(row)
    record_audit(
        session,
        actor,
        "index.value_set",
        "priceindex",
        index.id,
        {"month": month.isoformat(), "from": old, "to": value},
    )
    return row


def import_index_csv(session: Session, actor: Actor, code: str, text: str) -> int:
    """Rows `month,value` (YYYY-MM, yen per tonne); all rows or none. Returns rows saved."""
    index = index_to_change(session, actor, code)
    errors: list[dict] = []
    parsed: dict[date, int] = {}
    reader = csv.reader(io.StringIO(text))
    for number, row in enumerate(reader, start=1):
        if not row or all(not c.strip() for c in row):
            continue
        if number == 1 and row[0].strip().lower() == "month":
            continue
        if len(row) != 2:
            errors.append(
                {"row": number, "field": None, "message": N_("Expected two columns: month,value.")}
            )
            continue
        match = re.fullmatch(r"(20\d\d)-(0[1-9]|1[0-2])", row[0].strip())
        if match is None:
            errors.append(
                {"row": number, "field": "month", "message": N_("Enter a month as YYYY-MM.")}
            )
            continue
        when = date(int(match[1]), int(match[2]), 1)
        try:
            value = _parse_value(row[1])
        except (ValueError, ArithmeticError):
            errors.append(
                {
                    "row": number,
                    "field": "value",
                    "message": N_("Enter a positive whole number of yen."),
                }
            )
            continue
        if when in parsed:
            errors.append(
                {"row": number, "field": "month", "message": N_("This month appears twice.")}
            )
            continue
        parsed[when] = value
    if errors:
        raise CsvRowsInvalid(errors)
    if not parsed:
        raise ValidationFailed("The file has no rows.", field="file")
    for when, value in sorted(parsed.items()):
        _upsert(session, actor, index, when, value)
    refresh_prices(session, index_ids={index.id})
    return len(parsed)


def index_values(session: Session, index_id: int) -> list[IndexValue]:
    return list(
        session.exec(
            select(IndexValue).where(IndexValue.index_id == index_id).order_by(IndexValue.month)
        )
    )


def value_for_month(session: Session, index_id: int, month: date) -> int | None:
    """The index for a month: that month's value, else the latest before it (published lag)."""
    return session.exec(
        select(IndexValue.value_jpy_per_t)
        .where(IndexValue.index_id == index_id, col(IndexValue.month) <= month.replace(day=1))
        .order_by(col(IndexValue.month).desc())
        .limit(1)
    ).first()


@dataclass(frozen=True)
class Formula:
    kind: str
    fixed: int | None
    index_id: int | None
    factor: Decimal | None
    premium: int
    floor: int | None = None
    cap: int | None = None


def formula_of(item: SupplyListing | OfftakeRequest) -> Formula:
    if isinstance(item, SupplyListing):
        return Formula(
            item.price_kind,
            item.fixed_price_jpy_per_t,
            item.index_id,
            item.index_factor,
            item.premium_jpy_per_t,
            item.floor_jpy_per_t,
            item.cap_jpy_per_t,
        )
    return Formula(
        item.price_kind,
        item.max_price_jpy_per_t,
        item.index_id,
        item.index_factor,
        item.premium_jpy_per_t,
    )


def evaluate(formula: Formula, index_value: int | None) -> int | None:
    """Yen per tonne: fixed, or index × factor + premium (half-up), clamped to floor and cap."""
    if formula.kind == PriceKind.FIXED:
        return formula.fixed
    if index_value is None:
        return None
    price = (Decimal(index_value) * formula.factor).quantize(Decimal(1), ROUND_HALF_UP)
    price = int(price) + formula.premium
    if formula.floor is not None:
        price = max(price, formula.floor)
    if formula.cap is not None:
        price = min(price, formula.cap)
    return price


def latest_values(session: Session, index_ids: set[int], month: date) -> dict[int, int]:
    """Each index's value for a month, in one query (no N+1 for a page of listings)."""
    if not index_ids:
        return {}
    rows = session.exec(
        select(IndexValue.index_id, IndexValue.month, IndexValue.value_jpy_per_t)
        .where(col(IndexValue.index_id).in_(index_ids), col(IndexValue.month) <= month)
        .order_by(IndexValue.index_id, col(IndexValue.month))
    ).all()
    values: dict[int, int] = {}
    for index_id, _month, value in rows:
        values[index_id] = value  # ordered by month: the last one wins
    return values


def month_values(session: Session, month: date) -> dict[int, int]:
    """Every index's value for a month (that month's, else the latest before it), one query:
    what a search's SQL price of index-linked listings is worked out against."""
    return dict(session.connection().execute(_MONTH_VALUES, {"month": month}).all())


# ---------------------------------------------------------------------------------------------
# The price for a month in SQL (the search's filter and sort), and the stored sort key

_MICRO = 1_000_000
_BELOW_ANY, _ABOVE_ANY = -(2**62), 2**62  # "no floor" and "no cap" in a clamp


def sql_least(dialect: str, *args):
    """SQL least() (PostgreSQL) / min() of several arguments (SQLite)."""
    return func.least(*args) if dialect == "postgresql" else func.min(*args)


def sql_greatest(dialect: str, *args):
    """SQL greatest() (PostgreSQL) / max() of several arguments (SQLite)."""
    return func.greatest(*args) if dialect == "postgresql" else func.max(*args)


def _factor_micro(dialect: str):
    """The index factor (a canonical decimal string, at most 6 places) × 10⁶ as an exact
    integer. SQLite has no decimal type: through a double, exact after rounding (≤ 5 × 10⁶)."""
    factor = SupplyListing.index_factor
    if dialect == "postgresql":
        return cast(cast(factor, Numeric) * _MICRO, BigInteger)
    return cast(func.round(cast(factor, Float) * _MICRO), BigInteger)


def value_param(index_id: int) -> str:
    """The name of the bound parameter that carries an index's value in `price_sql`."""
    return f"index_value_{index_id}"


def price_sql(dialect: str, index_ids: tuple[int, ...]):
    """`indices.evaluate` in SQL for a month with values for the indices `index_ids` (bound as
    parameters `index_value_<id>`): the fixed price, or round-half-up(value × factor) + premium
    clamped to floor and cap, in integers (value and factor are positive, so the integer
    division is a floor); NULL without a value.

    One expression whatever the number of indices: the value is looked up by index id, the
    arithmetic written once."""
    listing = SupplyListing
    fixed = listing.price_kind == PriceKind.FIXED
    if not index_ids:
        return case((fixed, listing.fixed_price_jpy_per_t), else_=null())
    value = case(
        {i: cast(bindparam(value_param(i), type_=BigInteger), BigInteger) for i in index_ids},
        value=listing.index_id,
    )
    raw = (value * _factor_micro(dialect) + _MICRO // 2) // _MICRO
    price = sql_greatest(
        dialect,
        raw + listing.premium_jpy_per_t,
        func.coalesce(listing.floor_jpy_per_t, _BELOW_ANY),
    )
    price = sql_least(dialect, price, func.coalesce(listing.cap_jpy_per_t, _ABOVE_ANY))
    return case(
        (fixed, listing.fixed_price_jpy_per_t),
        (col(listing.index_id).in_(index_ids), price),
        else_=null(),
    )


def refresh_prices(
    session: Session,
    month: date | None = None,
    *,
    listing_ids: Iterable[int] | None = None,
    index_ids: Iterable[int] | None = None,
) -> int:
    """Store the price for `month` (default: this month) of the listings given (by id, by
    index; all when neither) as their sort key (`price_key`, `price_month`), worked out by
    `price_sql` in the database itself, one UPDATE: the search reads it for a price sort or
    ceiling when every open listing holds that month. Idempotent. Returns the rows written."""
    month = (month or date.today()).replace(day=1)
    session.flush()  # what the session holds counts (and clears stale months first)
    values = month_values(session, month)
    dialect = session.get_bind().dialect.name
    price = price_sql(dialect, tuple(sorted(values)))
    statement = update(SupplyListing).values(
        price_key=func.coalesce(price, NO_PRICE_KEY), price_month=month
    )
    if listing_ids is not None:
        statement = statement.where(col(SupplyListing.id).in_(sorted(set(listing_ids))))
    if index_ids is not None:
        statement = statement.where(col(SupplyListing.index_id).in_(sorted(set(index_ids))))
    params = {value_param(i): v for i, v in values.items()}
    return session.connection().execute(statement, params).rowcount


def price_for_month(
    session: Session, item: SupplyListing | OfftakeRequest, month: date
) -> int | None:
    formula = formula_of(item)
    value = value_for_month(session, formula.index_id, month) if formula.index_id else None
    return evaluate(formula, value)


def index_form_choices(session: Session, actor: Actor) -> list:
    """What the new-index form offers: the materials (the operator's form)."""
    from quality.models import Material

    OPERATE_MARKETPLACE.check(actor)
    return list(session.exec(select(Material).order_by(Material.code)))


class IndexSeries(NamedTuple):
    """An index's code and its (month, yen per tonne) values, oldest first."""

    code: str
    values: tuple[tuple[date, int], ...]


def index_series(
    session: Session, index_ids: set[int], last_month: date, months: int = 12
) -> dict[int, IndexSeries]:
    """Each index's code and values of the `months` months up to `last_month`, in one query
    (a page of rows costs the same whatever its length); indices without values are left out."""
    if not index_ids:
        return {}
    last = last_month.replace(day=1)
    total = last.year * 12 + last.month - 1 - (months - 1)
    first = date(total // 12, total % 12 + 1, 1)
    rows = session.exec(
        select(PriceIndex.id, PriceIndex.code, IndexValue.month, IndexValue.value_jpy_per_t)
        .join(IndexValue, col(IndexValue.index_id) == col(PriceIndex.id))
        .where(
            col(PriceIndex.id).in_(index_ids),
            col(IndexValue.month) >= first,
            col(IndexValue.month) <= last,
        )
        .order_by(PriceIndex.id, col(IndexValue.month))
    ).all()
    series: dict[int, tuple[str, list[tuple[date, int]]]] = {}
    for index_id, code, when, value in rows:
        series.setdefault(index_id, (code, []))[1].append((when, value))
    return {k: IndexSeries(code, tuple(v)) for k, (code, v) in series.items()}


def listing_index_ids(session: Session, listing_ids: set[int]) -> dict[int, int]:
    """Listing id → the id of the index its price follows (index-priced listings only)."""
    if not listing_ids:
        return {}
    rows = session.exec(
        select(SupplyListing.id, SupplyListing.index_id).where(
            col(SupplyListing.id).in_(listing_ids), col(SupplyListing.index_id).is_not(None)
        )
    ).all()
    return {listing_id: index_id for listing_id, index_id in rows}
