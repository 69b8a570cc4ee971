"""Search of listings and requests: filters, sort, pagination with a constant query count.

SQL does the cheap filters (material, grade, prefecture, volume, data quality, start); the
price for a month (index-linked prices) and the distance are computed in Python on the
filtered rows, so a page costs the same few queries whatever its size.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlmodel import Session, col, select

from market.allocation import great_circle_km
from market.errors import ValidationFailed
from market.geography import BY_CODE
from market.indices import evaluate, formula_of, latest_values
from market.listings import can_see_listing, parse_month
from market.models import ListingStatus, OfftakeRequest, Organization, SupplyListing
from quality.models import GradeStandard, StandardVersion

SORTS = ("newest", "price", "volume", "distance")


@dataclass
class ListingFilters:
    material: str = ""
    grade: str = ""
    prefecture: str = ""
    near: str = ""
    radius_km: float | None = None
    min_monthly_t: Decimal | None = None
    max_price: int | None = None
    price_month: date | None = None
    min_dq: int | None = None
    start_by: date | None = None
    sort: str = "newest"

    def as_args(self) -> dict[str, str]:
        """The filters as query-string arguments (for saved searches and links)."""
        out: dict[str, str] = {}
        for key, value in vars(self).items():
            if value in (None, "") or (key == "sort" and value == "newest"):
                continue
            out[key] = value.strftime("%Y-%m") if isinstance(value, date) else str(value)
        return out


RequestFilters = ListingFilters  # the same filter keys; max_price is ignored for requests


def _number(value: str, name: str, kind=Decimal):
    try:
        number = kind(value)
    except (InvalidOperation, ValueError):
        raise ValidationFailed("Enter a number.", field=name) from None
    if number < 0:
        raise ValidationFailed("The value must be at least %(n)s.", field=name, n=0)
    return number


def parse_listing_filters(args: Mapping[str, str]) -> ListingFilters:
    """Filters from query-string arguments; ValidationFailed names the wrong one."""
    f = ListingFilters()
    get = lambda k: (args.get(k) or "").strip()  # noqa: E731
    f.material = get("material")
    f.grade = get("grade")
    f.prefecture = get("prefecture")
    if f.prefecture and f.prefecture not in BY_CODE:
        raise ValidationFailed("Unknown prefecture code.", field="prefecture")
    f.near = get("near")
    if f.near and f.near not in BY_CODE:
        raise ValidationFailed("Unknown prefecture code.", field="near")
    if get("radius_km"):
        f.radius_km = float(_number(get("radius_km"), "radius_km"))
        if not f.near:
            raise ValidationFailed("Choose the place to measure the distance from.", field="near")
    if get("min_monthly_t"):
        f.min_monthly_t = _number(get("min_monthly_t"), "min_monthly_t")
    if get("max_price"):
        f.max_price = int(_number(get("max_price"), "max_price", int))
    if get("price_month"):
        f.price_month = parse_month(get("price_month"), "price_month")
    if get("min_dq"):
        f.min_dq = int(_number(get("min_dq"), "min_dq", int))
        if not 1 <= f.min_dq <= 4:
            raise ValidationFailed("The data-quality level lies between 1 and 4.", field="min_dq")
    if get("start_by"):
        f.start_by = parse_month(get("start_by"), "start_by")
    f.sort = get("sort") or "newest"
    if f.sort not in SORTS:
        raise ValidationFailed("Choose one of the allowed values.", field="sort")
    if f.sort == "distance" and not f.near:
        raise ValidationFailed("Choose the place to measure the distance from.", field="near")
    return f


parse_request_filters = parse_listing_filters


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


def _distance(f: ListingFilters, lat: float, lon: float) -> float | None:
    if not f.near:
        return None
    p = BY_CODE[f.near]
    return great_circle_km(p.lat, p.lon, lat, lon)


def _open_rows(session: Session, model, f: ListingFilters, today: date, place, open_kg, start):
    """Open, unexpired items with organisation and grade, after the filters SQL can apply.

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
    if f.material:
        query = query.where(model.material_code == f.material)
    if f.grade:
        query = query.where(GradeStandard.code == f.grade)
    if f.prefecture:
        query = query.where(place == f.prefecture)
    if f.min_monthly_t is not None:
        query = query.where(open_kg >= int(f.min_monthly_t * 1000))
    if f.start_by is not None:
        query = query.where(start <= f.start_by)
    return session.exec(query.order_by(col(model.created_at).desc(), model.id)).all()


def _within_radius(f: ListingFilters, distance: float | None) -> bool:
    return f.radius_km is None or distance is None or distance <= f.radius_km


def _page(items: list, f: ListingFilters, page: int, per_page: int, open_kg) -> SearchPage:
    """Sort (newest first already) and cut one page."""
    if f.sort == "price":
        items.sort(key=lambda r: (r.price_jpy_per_t is None, r.price_jpy_per_t or 0))
    elif f.sort == "volume":
        items.sort(key=lambda r: -open_kg(r))
    elif f.sort == "distance":
        items.sort(key=lambda r: r.distance_km or 0.0)
    start = (page - 1) * per_page
    return SearchPage(items[start : start + per_page], len(items), page, per_page)


def search_listings(
    session: Session,
    viewer_org_id: int | None,
    f: ListingFilters,
    page: int = 1,
    per_page: int = 25,
    today: date | None = None,
) -> SearchPage:
    """Open listings the viewer may see, filtered and sorted; two queries per page."""
    today = today or date.today()
    rows = _open_rows(
        session,
        SupplyListing,
        f,
        today,
        SupplyListing.origin_prefecture,
        SupplyListing.monthly_kg - SupplyListing.committed_kg,
        SupplyListing.available_from,
    )
    if f.min_dq is not None:
        rows = [r for r in rows if r[0].data_quality_level >= f.min_dq]
    rows = [r for r in rows if can_see_listing(r[0], viewer_org_id)]
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
    return _page(items, f, page, per_page, lambda r: r.listing.available_kg)


def search_requests(
    session: Session,
    viewer_org_id: int | None,
    f: ListingFilters,
    page: int = 1,
    per_page: int = 25,
    today: date | None = None,
) -> SearchPage:
    """Open requests, filtered and sorted (their maximum prices stay private: no price sort)."""
    today = today or date.today()
    rows = _open_rows(
        session,
        OfftakeRequest,
        f,
        today,
        OfftakeRequest.delivery_prefecture,
        OfftakeRequest.monthly_kg - OfftakeRequest.filled_kg,
        OfftakeRequest.start_month,
    )
    items: list[RequestRow] = []
    for request, org, version, standard in rows:
        distance = _distance(f, request.lat, request.lon)
        if _within_radius(f, distance):
            items.append(RequestRow(request, org, standard, version, distance))
    if f.sort == "price":
        f = ListingFilters(**{**vars(f), "sort": "newest"})
    return _page(items, f, page, per_page, lambda r: r.request.open_kg)
