"""Search of listings and requests: one typed query, filters, sort, pagination with a constant
query count.

SQL does the cheap filters (who may read, material, grade, prefecture, volume, start); the
price for a month (index-linked prices), invitations and the distance are worked out in
Python on the filtered rows, so a page costs the same few queries whatever its size.

Others' open listings and requests are for members of verified organisations; an unverified
or suspended organisation finds only its own.
"""

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
from sqlalchemy import false
from sqlmodel import Session, col, select

from market.allocation import great_circle_km
from market.indices import evaluate, formula_of, latest_values
from market.models import ListingStatus, OfftakeRequest, SupplyListing
from market.visibility import READ_MARKET, can_see_listing
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


def _open_rows(
    session: Session,
    actor: Actor,
    model,
    f: SearchFilters,
    today: date,
    place,
    open_kg,
    start,
    only_id: int | None,
):
    """Open, unexpired items the actor may read, with organisation and grade, after the filters
    SQL can apply.

    `place`, `open_kg` and `start` are the model's prefecture column, open-volume expression
    and first-month column (listings and requests name them differently).
    """
    query = (
        select(model, Organization, StandardVersion, GradeStandard)
        .join(Organization, Organization.id == model.organization_id)
        .join(StandardVersion, StandardVersion.id == model.standard_version_id)
        .join(GradeStandard, GradeStandard.id == StandardVersion.standard_id)
        .where(model.status == ListingStatus.OPEN, model.expires_on >= today)
    )
    if not READ_MARKET.allows(actor):
        # Unverified or suspended: its own records only.
        own = actor.organization_id if actor is not None else None
        query = query.where(model.organization_id == own if own is not None else false())
    if only_id is not None:
        query = query.where(model.id == only_id)
    if f.material:
        query = query.where(model.material_code == f.material)
    if f.grade:
        query = query.where(GradeStandard.code == f.grade)
    if f.prefecture:
        query = query.where(place == f.prefecture)
    if f.min_monthly_t is not None:
        query = query.where(open_kg >= int(f.min_monthly_t * 1000))
    if not f.include_committed:
        # Nothing left to contract: still open (the seller may add volume), not a result.
        query = query.where(open_kg > 0)
    if f.start_by is not None:
        query = query.where(start <= f.start_by)
    return session.exec(query.order_by(col(model.created_at).desc(), model.id)).all()


def _within_radius(f: SearchFilters, distance: float | None) -> bool:
    return f.radius_km is None or distance is None or distance <= f.radius_km


def _page(items: list, sort: str, page: int, per_page: int, open_kg) -> SearchPage:
    """Sort (newest first already) and cut one page."""
    if sort == "price":
        items.sort(key=lambda r: (r.price_jpy_per_t is None, r.price_jpy_per_t or 0))
    elif sort == "volume":
        items.sort(key=lambda r: -open_kg(r))
    elif sort == "distance":
        items.sort(key=lambda r: r.distance_km or 0.0)
    start = (page - 1) * per_page
    return SearchPage(items[start : start + per_page], len(items), page, per_page)


def search_listings(
    session: Session,
    actor: Actor,
    f: SearchFilters,
    page: int = 1,
    per_page: int = 25,
    today: date | None = None,
    only_id: int | None = None,
) -> SearchPage:
    """Open listings the actor may read, filtered and sorted; a few queries per page."""
    today = today or date.today()
    f.check()
    rows = _open_rows(
        session,
        actor,
        SupplyListing,
        f,
        today,
        SupplyListing.origin_prefecture,
        SupplyListing.monthly_kg - SupplyListing.committed_kg,
        SupplyListing.available_from,
        only_id,
    )
    if f.min_dq is not None:
        rows = [r for r in rows if r[0].data_quality_level >= f.min_dq]
    viewer = actor.organization_id if actor is not None else None
    rows = [r for r in rows if can_see_listing(r[0], viewer)]
    month = f.price_month or today.replace(day=1)
    values = latest_values(session, {r[0].index_id for r in rows if r[0].index_id}, month)
    items: list[ListingRow] = []
    for listing, org, version, standard in rows:
        formula = formula_of(listing)
        price = evaluate(formula, values.get(formula.index_id) if formula.index_id else None)
        if f.max_price is not None and (price is None or price > f.max_price):
            continue
        distance = _distance(f, listing.lat, listing.lon)
        if _within_radius(f, distance):
            items.append(ListingRow(listing, org, standard, version, price, distance))
    return _page(items, f.sort, page, per_page, lambda r: r.listing.available_kg)


def search_requests(
    session: Session,
    actor: Actor,
    f: SearchFilters,
    page: int = 1,
    per_page: int = 25,
    today: date | None = None,
    only_id: int | None = None,
) -> SearchPage:
    """Open requests the actor may read, filtered and sorted (their ceilings stay private: no
    price filter or sort)."""
    today = today or date.today()
    f.check()
    rows = _open_rows(
        session,
        actor,
        OfftakeRequest,
        f,
        today,
        OfftakeRequest.delivery_prefecture,
        OfftakeRequest.monthly_kg - OfftakeRequest.filled_kg,
        OfftakeRequest.start_month,
        only_id,
    )
    items: list[RequestRow] = []
    for request, org, version, standard in rows:
        distance = _distance(f, request.lat, request.lon)
        if _within_radius(f, distance):
            items.append(RequestRow(request, org, standard, version, distance))
    sort = "newest" if f.sort == "price" else f.sort
    return _page(items, sort, page, per_page, lambda r: r.request.open_kg)


def filter_choices(session: Session) -> tuple[list, list[str]]:
    """What the search forms offer: the materials and the grade standard codes."""
    from quality.models import Material

    materials = list(session.exec(select(Material).order_by(Material.code)))
    codes = list(session.exec(select(GradeStandard.code).order_by(GradeStandard.code)))
    return materials, codes
