"""Search of listings and requests: one typed query, filters, sort, pagination with a constant
query count.

The database does it all: who may read (invitations included), material, grade, prefecture,
volume, start, data quality, the price for a month (index-linked prices against the month's
index values, in exact integers), the great-circle distance (a latitude/longitude box first),
the sort, the count (up to COUNT_CAP: past it the total is a lower bound, `total_exact` false)
and the page. Only the page's rows are loaded as entities, so a page costs
the same few queries whatever the number of matches, and about the same time.

Every value is a bound parameter: one statement per shape of search, built once. A price sort
or ceiling reads the stored price for the month (`indices.refresh_prices`) when every open
listing holds it; a nearest-first page is looked for within growing circles first.

Others' open listings and requests are for members of verified organisations; an unverified
or suspended organisation finds only its own.
"""

import math
import re
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
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
    Date,
    Float,
    Integer,
    String,
    bindparam,
    false,
    func,
    literal,
    or_,
)
from sqlmodel import Session, col, select

from market.allocation import EARTH_RADIUS_KM, great_circle_km
from market.indices import (
    evaluate,
    formula_of,
    month_values,
    price_sql,
    sql_least,
    value_param,
)
from market.models import ListingStatus, OfftakeRequest, SupplyListing
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
    total: int  # exact, or COUNT_CAP when more match (`total_exact` false)
    page: int
    per_page: int
    total_exact: bool = True


# A search stops counting here: past it the count would read every match (tens of
# milliseconds at 100k) to print a number nobody pages through. Pages beyond it are still
# served, counted exactly.
COUNT_CAP = 1_000


def _distance(f: SearchFilters, lat: float, lon: float) -> float | None:
    if not f.near:
        return None
    p = BY_CODE[f.near]
    return great_circle_km(p.lat, p.lon, lat, lon)


# ----------------------------------------------------------------------------------------------
# SQL expressions that give exactly what the Python rules give (same operations, same order).

_RADIANS = math.pi / 180  # what math.radians multiplies by


@dataclass(frozen=True)
class _Columns:
    """A model's columns under the names the search uses (listings and requests differ)."""

    model: Any
    place: Any
    taken_kg: Any  # committed (listings) or filled (requests)
    start: Any

    @property
    def open_kg(self):
        """What is still open, as the largest-volume index spells it (`ix_*_status_open_kg`):
        only the sort names it, so that the filters never steer a count onto that index."""
        return self.model.monthly_kg - self.taken_kg


_LISTING = _Columns(
    SupplyListing,
    SupplyListing.origin_prefecture,
    SupplyListing.committed_kg,
    SupplyListing.available_from,
)
_REQUEST = _Columns(
    OfftakeRequest,
    OfftakeRequest.delivery_prefecture,
    OfftakeRequest.filled_kg,
    OfftakeRequest.start_month,
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
    return (2 * EARTH_RADIUS_KM) * func.asin(func.sqrt(sql_least(dialect, a, 1.0)))


def _bounding_box(near: str, radius_km: float) -> dict[str, float]:
    """Latitude (and where it is safe, longitude) bands that hold every point within
    `radius_km` of `near`, a little wider than needed: a cheap prefilter, the exact check
    follows. Empty when the radius reaches round the globe."""
    p = BY_CODE[near]
    angle = radius_km / EARTH_RADIUS_KM
    if angle >= math.pi:
        return {}
    slack = 1e-6
    dlat = math.degrees(angle) * (1 + 1e-9) + slack
    bands = {"lat_low": p.lat - dlat, "lat_high": p.lat + dlat}
    if p.lat + dlat >= 90 or p.lat - dlat <= -90:
        return bands  # a pole within reach: every longitude
    ratio = math.sin(angle) / math.cos(math.radians(p.lat))
    if angle >= math.pi / 2 or ratio >= 1:
        return bands
    dlon = math.degrees(math.asin(ratio)) * (1 + 1e-9) + slack
    if p.lon - dlon <= -180 or p.lon + dlon >= 180:
        return bands  # the band would cross the antimeridian
    return bands | {"lon_low": p.lon - dlon, "lon_high": p.lon + dlon}


@dataclass(frozen=True)
class _Shape:
    """What decides a search statement's SQL text; the values go in as parameters. Searches of
    one shape share one statement, built once (and compiled once by SQLAlchemy's cache)."""

    dialect: str
    kind: str  # "listing" | "request"
    reader: str  # "market" (verified, with an organisation), "anonymous", "own", "nobody"
    only_id: bool
    material: bool
    grade: bool
    prefecture: bool
    min_kg: bool
    include_committed: bool
    start_by: bool
    min_dq: bool
    max_price: bool
    index_ids: tuple[int, ...]  # listings: the indices with a value for the month
    stored_price: bool  # listings: the price read from `price_key` (every open one is current)
    near: str | None  # the place distances are measured from, when one is needed
    box: tuple[str, ...]  # the bounding-box parameters in use (radius only)
    radius: bool
    circle: bool  # the radius is a circle of `_nearest_first`, not the search's own
    sort: str


@dataclass(frozen=True)
class _Statements:
    count: Any  # up to a limit (a parameter): COUNT_CAP + 1
    count_all: Any  # the exact count, for a page past COUNT_CAP
    ids: Any  # the page's ids: limit and offset are parameters too
    entities: Any  # the page's rows by id (an expanding parameter)


_BOX = {
    "lat_low": lambda lat, lon: lat >= bindparam("lat_low", type_=Float),
    "lat_high": lambda lat, lon: lat <= bindparam("lat_high", type_=Float),
    "lon_low": lambda lat, lon: lon >= bindparam("lon_low", type_=Float),
    "lon_high": lambda lat, lon: lon <= bindparam("lon_high", type_=Float),
}


@lru_cache(maxsize=512)
def _statements(shape: _Shape) -> _Statements:
    """The three statements of a search of this shape, with every value a bound parameter."""
    c = _LISTING if shape.kind == "listing" else _REQUEST
    model = c.model
    where = [
        model.status == ListingStatus.OPEN,
        model.expires_on >= bindparam("today", type_=Date),
    ]
    if shape.reader == "own":
        where.append(model.organization_id == bindparam("viewer", type_=Integer))
    elif shape.reader == "nobody":
        where.append(false())
    elif model is SupplyListing:
        # `visibility.can_see_listing`: the owner, public listings, the invited.
        seen = [model.visibility == "public"]
        if shape.reader == "market":
            padded = literal(" ", String) + model.invited_org_ids + " "
            seen += [
                model.organization_id == bindparam("viewer", type_=Integer),
                padded.like(bindparam("invited", type_=String)),
            ]
        where.append(or_(*seen))
    if shape.only_id:
        where.append(model.id == bindparam("only_id", type_=Integer))
    if shape.material:
        where.append(model.material_code == bindparam("material", type_=String))
    if shape.grade:
        versions = (
            select(StandardVersion.id)
            .join(GradeStandard, GradeStandard.id == StandardVersion.standard_id)
            .where(GradeStandard.code == bindparam("grade", type_=String))
        )
        where.append(col(model.standard_version_id).in_(versions))
    if shape.prefecture:
        where.append(c.place == bindparam("prefecture", type_=String))
    if shape.min_kg:
        # open ≥ min, written as monthly ≥ taken + min (integers: the same rows)
        where.append(model.monthly_kg >= c.taken_kg + bindparam("min_kg", type_=BigInteger))
    if not shape.include_committed:
        # Nothing left to contract: still open (the seller may add volume), not a result.
        where.append(model.monthly_kg > c.taken_kg)
    if shape.start_by:
        where.append(c.start <= bindparam("start_by", type_=Date))
    price = None
    if shape.kind == "listing":
        if shape.min_dq:
            where.append(SupplyListing.data_quality_level >= bindparam("min_dq", type_=Integer))
        if shape.stored_price:
            price = col(SupplyListing.price_key)  # no price: NO_PRICE_KEY, after every price
        else:
            price = price_sql(shape.dialect, shape.index_ids)
        if shape.max_price:
            where.append(price <= bindparam("max_price", type_=BigInteger))
    distance = None
    if shape.near is not None:
        distance = _distance_sql(shape.dialect, model, shape.near)
    if shape.radius and distance is not None:
        # A small circle reads the latitude index. A search's own radius may cover half the
        # country: SQLite checks its box on the covering index instead (`+ 0.0`: the same
        # value, no index on it); PostgreSQL needs the plain columns to estimate how much of
        # the market the box holds (else it takes the box for rare and scans every row rather
        # than walking the newest-first index: 43 → 21 ms at 100k).
        lat = model.lat if shape.circle or shape.dialect == "postgresql" else model.lat + 0.0
        where += [_BOX[name](lat, model.lon) for name in shape.box]
        where.append(distance <= bindparam("radius_km", type_=Float))
    # Today's order: newest first (ties by id), then a stable sort by the chosen key.
    newest = (col(model.created_at).desc(), col(model.id).asc())
    if shape.sort == "price" and shape.stored_price:
        order = (price.asc(), *newest)
    elif shape.sort == "price" and price is not None:
        order = (price.asc().nulls_last(), *newest)
    elif shape.sort == "volume":
        order = (c.open_kg.desc(), *newest)
    elif shape.sort == "distance" and distance is not None:
        order = (distance.asc(), *newest)
    else:
        order = newest
    matches = select(model.id).where(*where)
    return _Statements(
        count=select(func.count()).select_from(
            matches.limit(bindparam("count_limit", type_=Integer)).subquery()
        ),
        count_all=select(func.count()).select_from(model).where(*where),
        ids=select(model.id)
        .where(*where)
        .order_by(*order)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer)),
        entities=_entities(shape.kind),
    )


@lru_cache(maxsize=2)
def _entities(kind: str):
    model = SupplyListing if kind == "listing" else OfftakeRequest
    return (
        select(model, Organization, StandardVersion, GradeStandard)
        .join(Organization, Organization.id == model.organization_id)
        .join(StandardVersion, StandardVersion.id == model.standard_version_id)
        .join(GradeStandard, GradeStandard.id == StandardVersion.standard_id)
        .where(col(model.id).in_(bindparam("ids", expanding=True)))
    )


# A nearest-first page is looked for within growing circles (km) before the whole market.
_WIDENING_KM = (10.0, 30.0, 120.0, 480.0)
_WIDEN_UP_TO = 500  # only for the first pages (up to this many rows)
_WIDEN_FROM = 1_000  # and only past this many matches: fewer are sorted faster than looked for


def _nearest_first(
    conn, shape: _Shape, params: dict, per_page: int, radius_km: float | None
) -> list[int] | None:
    """The page's ids of a nearest-first search, found within a circle round `near` (a
    latitude/longitude box first) when the circle holds the whole page; None when no circle
    up to the search's own radius does (then the whole search answers).

    The same page as without the circle: every row in the circle is nearer than (or as near
    as) any row outside it, so the first rows of the whole order are the first rows of the
    circle's order whenever the circle holds at least offset + page rows."""
    for km in _WIDENING_KM:
        if radius_km is not None and km >= radius_km:
            return None
        box = _bounding_box(shape.near, km)
        circle = replace(shape, radius=True, box=tuple(box), circle=True)
        circle_params = params | box | {"radius_km": km}
        ids = conn.execute(_statements(circle).ids, circle_params).scalars().all()
        if len(ids) == per_page:
            return ids
    return None


def _search(
    session: Session,
    kind: str,
    actor: Actor,
    f: SearchFilters,
    today: date,
    only_id: int | None,
    page: int,
    per_page: int,
    values: dict[int, int] | None = None,
    stored_price: bool = False,
) -> tuple[list[tuple], int, bool]:
    """The page's rows (item, organisation, version, standard), the total and whether it is
    exact, in three queries: the count (up to COUNT_CAP + 1), the page's ids (filtered, sorted
    and cut by the database) and the page's entities; a fourth, the exact count, only for a
    page past COUNT_CAP. Open, unexpired items the actor may read, after the filters."""
    viewer = actor.organization_id if actor is not None else None
    if READ_MARKET.allows(actor):
        reader = "market" if viewer is not None else "anonymous"
    else:
        reader = "own" if viewer is not None else "nobody"  # unverified or suspended
    listing = kind == "listing"
    values = values or {}
    needs_distance = f.near is not None and (f.radius_km is not None or f.sort == "distance")
    box = _bounding_box(f.near, f.radius_km) if needs_distance and f.radius_km is not None else {}
    shape = _Shape(
        dialect=session.get_bind().dialect.name,
        kind=kind,
        reader=reader,
        only_id=only_id is not None,
        material=bool(f.material),
        grade=bool(f.grade),
        prefecture=bool(f.prefecture),
        min_kg=f.min_monthly_t is not None,
        include_committed=f.include_committed,
        start_by=f.start_by is not None,
        min_dq=listing and f.min_dq is not None,
        max_price=listing and f.max_price is not None,
        index_ids=tuple(sorted(values)) if listing else (),
        stored_price=stored_price,
        near=f.near if needs_distance else None,
        box=tuple(box),
        radius=needs_distance and f.radius_km is not None,
        circle=False,
        sort=f.sort,
    )
    params: dict[str, Any] = {
        "today": today,
        "viewer": viewer,
        "invited": f"% {viewer} %",
        "only_id": only_id,
        "material": f.material,
        "grade": f.grade,
        "prefecture": f.prefecture,
        "min_kg": int(f.min_monthly_t * 1000) if f.min_monthly_t is not None else None,
        "start_by": f.start_by,
        "min_dq": f.min_dq,
        "max_price": f.max_price,
        "radius_km": f.radius_km,
        **box,
        **{value_param(i): v for i, v in values.items()},
    }
    statements = _statements(shape)
    # Plain columns: run on the session's connection (its transaction), without the ORM layer.
    conn = session.connection()
    total = conn.execute(statements.count, params | {"count_limit": COUNT_CAP + 1}).scalar_one()
    exact = total <= COUNT_CAP
    if not exact and page * per_page > COUNT_CAP:
        total, exact = conn.execute(statements.count_all, params).scalar_one(), True
    elif not exact:
        total = COUNT_CAP
    if page < 1 or (exact and total <= (page - 1) * per_page):
        return [], total, exact
    params |= {"limit": per_page, "offset": (page - 1) * per_page}
    ids = None
    if (
        shape.sort == "distance"
        and shape.near is not None
        and page * per_page <= _WIDEN_UP_TO
        and (not exact or total > _WIDEN_FROM)
    ):
        ids = _nearest_first(conn, shape, params, per_page, f.radius_km)
    if ids is None:
        ids = conn.execute(statements.ids, params).scalars().all()
    rows = session.exec(statements.entities, params={"ids": ids}).all()
    by_id = {row[0].id: row for row in rows}
    return [by_id[i] for i in ids if i in by_id], total, exact


def _open_listing_where(*conditions):
    return (
        select(SupplyListing.id)
        .where(SupplyListing.status == ListingStatus.OPEN, *conditions)
        .limit(1)
        .exists()
    )


# Three ranges of the index on (status, price_month), not one OR that would read it all.
_STALE_PRICE = select(
    or_(
        _open_listing_where(col(SupplyListing.price_month).is_(None)),
        _open_listing_where(col(SupplyListing.price_month) < bindparam("month", type_=Date)),
        _open_listing_where(col(SupplyListing.price_month) > bindparam("month", type_=Date)),
    )
)


def _prices_stored(session: Session, month: date) -> bool:
    """True when every open listing holds its price for `month` (`indices.refresh_prices`):
    then a price sort or ceiling reads the stored key through an index; else the price is
    worked out for every row as it is read."""
    return not session.connection().execute(_STALE_PRICE, {"month": month}).scalar_one()


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
    queries a page (the month's index values, the count, the page's ids, its entities), one
    more for a price sort or ceiling (are the month's prices stored?) and for a nearest-first
    page past 2,000 matches one a circle tried."""
    today = today or date.today()
    f.check()
    month = f.price_month or today.replace(day=1)
    values = month_values(session, month)
    stored = (f.sort == "price" or f.max_price is not None) and _prices_stored(session, month)
    rows, total, exact = _search(
        session, "listing", actor, f, today, only_id, page, per_page, values, stored
    )
    items = []
    for listing, org, version, standard in rows:
        formula = formula_of(listing)
        value = values.get(formula.index_id) if formula.index_id else None
        distance = _distance(f, listing.lat, listing.lon)
        items.append(
            ListingRow(listing, org, standard, version, evaluate(formula, value), distance)
        )
    return SearchPage(items, total, page, per_page, exact)


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
    rows, total, exact = _search(session, "request", actor, f, today, only_id, page, per_page)
    items = [
        RequestRow(request, org, standard, version, _distance(f, request.lat, request.lon))
        for request, org, version, standard in rows
    ]
    return SearchPage(items, total, page, per_page, exact)


def filter_choices(session: Session) -> tuple[list, list[str]]:
    """What the search forms offer: the materials and the grade standard codes."""
    from quality.models import Material

    materials = list(session.exec(select(Material).order_by(Material.code)))
    codes = list(session.exec(select(GradeStandard.code).order_by(GradeStandard.code)))
    return materials, codes
