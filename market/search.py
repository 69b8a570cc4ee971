"""Search of listings and requests: one typed query, filters, sort, pagination with a constant
query count.

The database does it all: who may read (invitations included), material, grade, prefecture,
volume, start, data quality, the price for a month (index-linked prices against the month's
index values, in exact integers), the great-circle distance (a latitude/longitude box first),
the sort, the count and the page. Only the page's rows are loaded as entities, so a page costs
the same few queries whatever the number of matches, and about the same time.

Others' open listings and requests are for members of verified organisations; an unverified
or suspended organisation finds only its own.
"""

import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError
from sqlalchemy import (
    BigInteger,
    Float,
    Numeric,
    String,
    case,
    cast,
    false,
    func,
    literal,
    null,
    or_,
)
from sqlmodel import Session, col, select

from market.allocation import EARTH_RADIUS_KM, great_circle_km
from market.indices import evaluate, formula_of, month_values
from market.models import ListingStatus, OfftakeRequest, PriceKind, SupplyListing
from market.visibility import READ_MARKET
from participants.actors import Actor
from participants.errors import ValidationFailed
from participants.fields import YEN_MAX, Line, Month, Paging, Tonnes
from participants.geography import BY_CODE, PREFECTURES
from participants.models import Organization
from quality.models import GradeStandard, StandardVersion

SORTS = ("newest", "price", "volume", "distance")
MAX_RADIUS_KM = 20_000


def _one_of(values: tuple[str, ...], description: str) -> Any:
    """One of a few strings. Declared as a pattern, not an enum: generated clients then take a
    plain string for a query parameter (`sort="distance"`) rather than an enum member."""
    pattern = "^(" + "|".join(re.escape(v) for v in values) + ")$"
    return Annotated[
        Literal[values],
        WithJsonSchema({"type": "string", "pattern": pattern, "description": description}),
    ]


def _decimal_text(value: Any, info: ValidationInfo) -> Any:
    """In JSON (a saved search's filters) the volume is a string, as in the query string."""
    if info.mode == "json" and not isinstance(value, str):
        raise PydanticCustomError(
            "tonnes_text", 'Send the tonnes as a decimal string, e.g. "120.5".'
        )
    return value


# In a query string a volume is text: declared as the decimal string it must be.
QueryTonnes = Annotated[
    Tonnes,
    BeforeValidator(_decimal_text),
    WithJsonSchema(
        {"type": "string", "pattern": "^(1000000(\\.0{1,3})?|[0-9]{1,6}(\\.[0-9]{1,3})?)$"}
    ),
]
Prefecture = _one_of(tuple(p.code for p in PREFECTURES), "JIS X 0401 prefecture code")
Sort = _one_of(SORTS, "newest | price | volume | distance")


class SearchFilters(BaseModel):
    """What a search of listings or requests looks for (a saved search keeps these).

    `max_price`, `price_month`, `min_dq` and `sort=price` apply to listings only (the
    ceilings of requests are private).
    """

    model_config = ConfigDict(extra="forbid")
    material: Line(40) | None = Field(default=None, description="material code")
    grade: Line(60) | None = Field(default=None, description="grade standard code")
    prefecture: Prefecture | None = None
    radius_km: Annotated[float, Field(ge=0, le=MAX_RADIUS_KM, allow_inf_nan=False)] | None = Field(
        default=None, description="only within this distance of `near`"
    )
    min_monthly_t: QueryTonnes | None = Field(
        default=None, description="at least this open volume (tonnes, up to three decimals)"
    )
    max_price: Annotated[int, Field(ge=0, le=YEN_MAX)] | None = Field(
        default=None, description="yen per tonne for `price_month`"
    )
    price_month: Month | None = Field(default=None, description="default: this month")
    min_dq: Annotated[int, Field(ge=1, le=4)] | None = Field(
        default=None, description="data-quality level at least"
    )
    start_by: Month | None = Field(default=None, description="first month at the latest")
    include_committed: bool = Field(
        default=False,
        description="also fully committed listings (nothing left) and fully filled requests",
    )
    sort: Sort = "newest"
    near: Prefecture | None = Field(
        default=None,
        description="prefecture to measure distances from (needed by radius_km, sort=distance)",
    )

    def check(self) -> "SearchFilters":
        """The rule between fields that a schema cannot say: a distance needs a place."""
        if self.near is None and (self.radius_km is not None or self.sort == "distance"):
            raise ValidationFailed("Choose the place to measure the distance from.", field="near")
        return self

    def as_args(self) -> dict[str, str]:
        """The filters as query-string arguments (links, saved searches), defaults left out."""
        return {
            k: str(v)
            for k, v in self.model_dump(mode="json", exclude_defaults=True).items()
            if v is not None
        }


class SearchQuery(Paging, SearchFilters):
    """The query string of the search pages and of GET /listings and /requests."""

    model_config = ConfigDict(extra="ignore")


@dataclass
class ListingRow:
    listing: SupplyListing
    org: Organization
    standard: GradeStandard
    version: StandardVersion
    price_jpy_per_t: int | None
    distance_km: float | None


@dataclass
class RequestRow:
    request: OfftakeRequest
    org: Organization
    standard: GradeStandard
    version: StandardVersion
    distance_km: float | None


@dataclass
class SearchPage:
    items: list
    total: int
    page: int
    per_page: int


def _distance(f: SearchFilters, lat: float, lon: float) -> float | None:
    if not f.near:
        return None
    p = BY_CODE[f.near]
    return great_circle_km(p.lat, p.lon, lat, lon)


# ----------------------------------------------------------------------------------------------
# SQL expressions that give exactly what the Python rules give (same operations, same order).

_RADIANS = math.pi / 180  # what math.radians multiplies by
_MICRO = 1_000_000
_BELOW_ANY, _ABOVE_ANY = -(2**62), 2**62  # "no floor" and "no cap" in a clamp


@dataclass(frozen=True)
class _Columns:
    """A model's columns under the names the search uses (listings and requests differ)."""

    model: Any
    place: Any
    open_kg: Any
    start: Any


_LISTING = _Columns(
    SupplyListing,
    SupplyListing.origin_prefecture,
    SupplyListing.monthly_kg - SupplyListing.committed_kg,
    SupplyListing.available_from,
)
_REQUEST = _Columns(
    OfftakeRequest,
    OfftakeRequest.delivery_prefecture,
    OfftakeRequest.monthly_kg - OfftakeRequest.filled_kg,
    OfftakeRequest.start_month,
)


def _least(dialect: str, *args):
    return func.least(*args) if dialect == "postgresql" else func.min(*args)


def _greatest(dialect: str, *args):
    return func.greatest(*args) if dialect == "postgresql" else func.max(*args)


def _factor_micro(dialect: str):
    """The index factor (a canonical decimal string, at most 6 places) × 10⁶ as an exact
    integer. SQLite has no decimal type: through a double, exact after rounding (≤ 5 × 10⁶)."""
    factor = SupplyListing.index_factor
    if dialect == "postgresql":
        return cast(cast(factor, Numeric) * _MICRO, BigInteger)
    return cast(func.round(cast(factor, Float) * _MICRO), BigInteger)


def _price_sql(dialect: str, values: dict[int, int]):
    """`indices.evaluate` in SQL for the month whose index values are `values`: the fixed price,
    or round-half-up(value × factor) + premium clamped to floor and cap, in integers (value
    and factor are positive, so the integer division is a floor); NULL without a value.

    One expression whatever the number of indices: the value is looked up by index id (bound
    literals), the arithmetic written once."""
    listing = SupplyListing
    fixed = listing.price_kind == PriceKind.FIXED
    if not values:
        return case((fixed, listing.fixed_price_jpy_per_t), else_=null())
    value = case(
        {index_id: cast(literal(v), BigInteger) for index_id, v in values.items()},
        value=listing.index_id,
    )
    raw = (value * _factor_micro(dialect) + _MICRO // 2) // _MICRO
    price = _greatest(
        dialect,
        raw + listing.premium_jpy_per_t,
        func.coalesce(listing.floor_jpy_per_t, _BELOW_ANY),
    )
    price = _least(dialect, price, func.coalesce(listing.cap_jpy_per_t, _ABOVE_ANY))
    return case(
        (fixed, listing.fixed_price_jpy_per_t),
        (col(listing.index_id).in_(sorted(values)), price),
        else_=null(),
    )


def _distance_sql(dialect: str, model, near: str):
    """`allocation.great_circle_km` from the prefecture `near` to each row, in SQL: the same
    haversine with the same operations in the same order (the constants worked out here)."""
    p = BY_CODE[near]
    p1 = math.radians(p.lat)
    lat2 = model.lat * _RADIANS
    half_dp = (lat2 - p1) * 0.5
    half_dl = ((model.lon - p.lon) * _RADIANS) * 0.5
    a = func.sin(half_dp) * func.sin(half_dp) + math.cos(p1) * func.cos(lat2) * (
        func.sin(half_dl) * func.sin(half_dl)
    )
    # min(1, sqrt(a)) == sqrt(min(a, 1)): a square root is 1 exactly when its square rounds to 1.
    return (2 * EARTH_RADIUS_KM) * func.asin(func.sqrt(_least(dialect, a, 1.0)))


def _bounding_box(model, near: str, radius_km: float) -> list:
    """Latitude (and where it is safe, longitude) bands that hold every point within
    `radius_km` of `near`, a little wider than needed: a cheap prefilter, the exact check
    follows."""
    p = BY_CODE[near]
    angle = radius_km / EARTH_RADIUS_KM
    if angle >= math.pi:
        return []
    slack = 1e-6
    dlat = math.degrees(angle) * (1 + 1e-9) + slack
    bands = [model.lat >= p.lat - dlat, model.lat <= p.lat + dlat]
    if p.lat + dlat >= 90 or p.lat - dlat <= -90:
        return bands  # a pole within reach: every longitude
    ratio = math.sin(angle) / math.cos(math.radians(p.lat))
    if angle >= math.pi / 2 or ratio >= 1:
        return bands
    dlon = math.degrees(math.asin(ratio)) * (1 + 1e-9) + slack
    if p.lon - dlon <= -180 or p.lon + dlon >= 180:
        return bands  # the band would cross the antimeridian
    return bands + [model.lon >= p.lon - dlon, model.lon <= p.lon + dlon]


def _conditions(actor: Actor, c: _Columns, f: SearchFilters, today: date, only_id: int | None):
    """Open, unexpired items the actor may read, after the filters every item has."""
    model = c.model
    where = [model.status == ListingStatus.OPEN, model.expires_on >= today]
    viewer = actor.organization_id if actor is not None else None
    if not READ_MARKET.allows(actor):
        # Unverified or suspended: its own records only.
        where.append(model.organization_id == viewer if viewer is not None else false())
    elif model is SupplyListing:
        # `visibility.can_see_listing`: the owner, public listings, the invited.
        seen = [model.visibility == "public"]
        if viewer is not None:
            invited = (literal(" ", String) + model.invited_org_ids + " ").like(f"% {viewer} %")
            seen += [model.organization_id == viewer, invited]
        where.append(or_(*seen))
    if only_id is not None:
        where.append(model.id == only_id)
    if f.material:
        where.append(model.material_code == f.material)
    if f.grade:
        versions = (
            select(StandardVersion.id)
            .join(GradeStandard, GradeStandard.id == StandardVersion.standard_id)
            .where(GradeStandard.code == f.grade)
        )
        where.append(col(model.standard_version_id).in_(versions))
    if f.prefecture:
        where.append(c.place == f.prefecture)
    if f.min_monthly_t is not None:
        where.append(c.open_kg >= int(f.min_monthly_t * 1000))
    if not f.include_committed:
        # Nothing left to contract: still open (the seller may add volume), not a result.
        where.append(c.open_kg > 0)
    if f.start_by is not None:
        where.append(c.start <= f.start_by)
    return where


def _search(
    session: Session,
    c: _Columns,
    f: SearchFilters,
    where: list,
    page: int,
    per_page: int,
    price=None,
) -> tuple[list[tuple], int]:
    """The page's rows (item, organisation, version, standard) and the total, in three
    queries: the count, the page's ids (filtered, sorted and cut by the database) and the
    page's entities."""
    model = c.model
    dialect = session.get_bind().dialect.name
    distance = None
    if f.near is not None and (f.radius_km is not None or f.sort == "distance"):
        distance = _distance_sql(dialect, model, f.near)
    if f.radius_km is not None and distance is not None:
        where = where + _bounding_box(model, f.near, f.radius_km) + [distance <= f.radius_km]
    total = session.exec(select(func.count()).select_from(model).where(*where)).one()
    # Today's order: newest first (ties by id), then a stable sort by the chosen key.
    newest = (col(model.created_at).desc(), col(model.id).asc())
    if f.sort == "price" and price is not None:
        order = (price.asc().nulls_last(), *newest)
    elif f.sort == "volume":
        order = (c.open_kg.desc(), *newest)
    elif f.sort == "distance" and distance is not None:
        order = (distance.asc(), *newest)
    else:
        order = newest
    if page < 1 or total <= (page - 1) * per_page:
        return [], total
    ids = session.exec(
        select(model.id)
        .where(*where)
        .order_by(*order)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    rows = session.exec(
        select(model, Organization, StandardVersion, GradeStandard)
        .join(Organization, Organization.id == model.organization_id)
        .join(StandardVersion, StandardVersion.id == model.standard_version_id)
        .join(GradeStandard, GradeStandard.id == StandardVersion.standard_id)
        .where(col(model.id).in_(ids))
    ).all()
    by_id = {row[0].id: row for row in rows}
    return [by_id[i] for i in ids if i in by_id], total


def search_listings(
    session: Session,
    actor: Actor,
    f: SearchFilters,
    page: int = 1,
    per_page: int = 25,
    today: date | None = None,
    only_id: int | None = None,
) -> SearchPage:
    """Open listings the actor may read, filtered, sorted and paged by the database; four
    queries a page (the month's index values, the count, the page's ids, its entities)."""
    today = today or date.today()
    f.check()
    month = f.price_month or today.replace(day=1)
    values = month_values(session, month)
    where = _conditions(actor, _LISTING, f, today, only_id)
    if f.min_dq is not None:
        where.append(SupplyListing.data_quality_level >= f.min_dq)
    price = _price_sql(session.get_bind().dialect.name, values)
    if f.max_price is not None:
        where.append(price <= f.max_price)
    rows, total = _search(session, _LISTING, f, where, page, per_page, price)
    items = []
    for listing, org, version, standard in rows:
        formula = formula_of(listing)
        value = values.get(formula.index_id) if formula.index_id else None
        distance = _distance(f, listing.lat, listing.lon)
        items.append(
            ListingRow(listing, org, standard, version, evaluate(formula, value), distance)
        )
    return SearchPage(items, total, page, per_page)


def search_requests(
    session: Session,
    actor: Actor,
    f: SearchFilters,
    page: int = 1,
    per_page: int = 25,
    today: date | None = None,
    only_id: int | None = None,
) -> SearchPage:
    """Open requests the actor may read, filtered, sorted and paged by the database (their
    ceilings stay private: no price filter or sort); three queries a page."""
    today = today or date.today()
    f.check()
    where = _conditions(actor, _REQUEST, f, today, only_id)
    rows, total = _search(session, _REQUEST, f, where, page, per_page)
    items = [
        RequestRow(request, org, standard, version, _distance(f, request.lat, request.lon))
        for request, org, version, standard in rows
    ]
    return SearchPage(items, total, page, per_page)


def filter_choices(session: Session) -> tuple[list, list[str]]:
    """What the search forms offer: the materials and the grade standard codes."""
    from quality.models import Material

    materials = list(session.exec(select(Material).order_by(Material.code)))
    codes = list(session.exec(select(GradeStandard.code).order_by(GradeStandard.code)))
    return materials, codes
