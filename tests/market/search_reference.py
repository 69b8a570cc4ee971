"""The search as it was before SQL did the filtering, sorting and paging (issue 12): every
matching row loaded as four entities, price, invitations, data quality and distance worked out
in Python, then sorted and paged in Python. Kept verbatim as the reference the SQL search must
equal (tests/market/test_search_equivalence.py); not used by the application.
"""

from datetime import date

from sqlalchemy import false
from sqlmodel import Session, col, select

from market.allocation import great_circle_km
from market.indices import evaluate, formula_of, latest_values
from market.models import ListingStatus, OfftakeRequest, SupplyListing
from market.search import ListingRow, RequestRow, SearchFilters, SearchPage
from market.visibility import READ_MARKET, can_see_listing
from participants.actors import Actor
from participants.geography import BY_CODE
from participants.models import Organization
from quality.models import GradeStandard, StandardVersion


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
