"""API: supply listings, offtake requests, price indices, saved searches, notifications.

Volumes are decimal strings of tonnes ("120.000"), money integer yen, months "YYYY-MM".
A request's price ceiling is private: only its own organisation sees it.
"""

import json
from datetime import date
from decimal import Decimal

from flask import g, request
from flask_babel import gettext
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import col, select

from market.errors import NotFound, ValidationFailed
from market.indices import create_index, get_index, index_values, latest_values, set_index_value
from market.listings import (
    ListingInput,
    PriceInput,
    RequestInput,
    can_see_listing,
    can_see_request,
    close_listing,
    close_request,
    create_listing,
    create_request,
    kg_to_tonnes,
    own_listing,
    own_request,
    parse_month,
    publish_listing,
    publish_request,
    update_listing,
    update_request,
)
from market.models import (
    Notification,
    OfftakeRequest,
    Organization,
    PriceIndex,
    SavedSearch,
    SupplyListing,
)
from market.participants import require_lister
from quality.models import GradeStandard, StandardVersion
from web.alerting import alert_saved_searches
from web.api import BodyInvalid, _pydantic_message, api_bp, parse_body, token_required
from web.api.openapi import schema
from web.db import get_db
from web.pagination import Page, paginate

# Domain error fields → the JSON fields that carry them.
JSON_FIELDS = {
    "grade": "grade_version_id",
    "fixed_price": "fixed_price_jpy_per_t",
    "max_price": "max_price_jpy_per_t",
    "factor": "index_factor",
    "premium": "premium_jpy_per_t",
    "floor": "floor_jpy_per_t",
    "cap": "cap_jpy_per_t",
}

Money = int | None


@schema
class ListingIn(BaseModel):
    """A supply listing (create, or the fields to change with PATCH)."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(default="", max_length=200)
    material: str = Field(max_length=40)
    grade_version_id: int
    monthly_t: Decimal
    min_t_per_contract: Decimal
    available_from: str = Field(max_length=10, description="YYYY-MM")
    max_term_months: int
    origin_prefecture: str | None = Field(default=None, max_length=2)
    origin_port: str | None = Field(default=None, max_length=80)
    lat: float | None = None
    lon: float | None = None
    incoterm: str = Field(max_length=3)
    incoterm_place: str = Field(max_length=200)
    price_kind: str = Field(default="fixed", description="fixed | index")
    fixed_price_jpy_per_t: Money = None
    index: str | None = Field(default=None, max_length=40, description="price index code")
    index_factor: Decimal | None = None
    premium_jpy_per_t: int = 0
    floor_jpy_per_t: Money = None
    cap_jpy_per_t: Money = None
    assay_id: int | None = None
    certificate_id: str | None = Field(default=None, max_length=32)
    visibility: str = Field(default="public", description="public | invited")
    invited_org_ids: list[int] = Field(default_factory=list, max_length=50)
    expires_on: date | None = None


@schema
class RequestIn(BaseModel):
    """An offtake request (create, or the fields to change with PATCH)."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(default="", max_length=200)
    material: str = Field(max_length=40)
    grade_version_id: int
    accept_stricter: bool = True
    monthly_t: Decimal
    start_month: str = Field(max_length=10, description="YYYY-MM")
    term_months: int | None = None
    end_month: str | None = Field(default=None, max_length=10, description="YYYY-MM, exclusive")
    delivery_prefecture: str | None = Field(default=None, max_length=2)
    delivery_place: str = Field(max_length=200)
    lat: float | None = None
    lon: float | None = None
    price_kind: str = Field(default="fixed", description="fixed | index")
    max_price_jpy_per_t: Money = None
    index: str | None = Field(default=None, max_length=40)
    index_factor: Decimal | None = None
    premium_jpy_per_t: int = 0
    purpose: str = Field(default="", max_length=1000)
    mandate: str = Field(default="", max_length=60)
    expires_on: date | None = None


@schema
class IndexValueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str = Field(max_length=7, description="YYYY-MM")
    value_jpy_per_t: int


@schema
class SavedSearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: str = Field(description="listings | requests")
    name: str = Field(min_length=1, max_length=120)
    query: dict[str, str] = Field(default_factory=dict, description="search filter keys")


@schema
class GradeOut(BaseModel):
    code: str
    version: int
    version_id: int


@schema
class PriceOut(BaseModel):
    kind: str
    fixed_jpy_per_t: int | None
    index: str | None
    factor: str | None
    premium_jpy_per_t: int
    floor_jpy_per_t: int | None = None
    cap_jpy_per_t: int | None = None


@schema
class ListingOut(BaseModel):
    id: int
    status: str
    title: str
    organization: dict
    material: str
    grade: GradeOut
    monthly_t: str
    available_t: str
    min_t_per_contract: str
    available_from: str
    max_term_months: int
    origin_prefecture: str | None
    origin_port: str | None
    incoterm: str
    incoterm_place: str
    price: PriceOut
    price_jpy_per_t: int | None = None
    distance_km: float | None = None
    data_quality_level: int
    assay_id: int | None
    certificate_id: str | None
    visibility: str
    invited_org_ids: list[int] | None = None
    expires_on: str
    version: int


@schema
class RequestOut(BaseModel):
    id: int
    status: str
    title: str
    organization: dict
    material: str
    grade: GradeOut
    accept_stricter: bool
    monthly_t: str
    open_t: str
    start_month: str
    term_months: int
    delivery_prefecture: str | None
    delivery_place: str
    price: PriceOut | None = Field(description="only for the request's own organisation")
    distance_km: float | None = None
    purpose: str
    mandate: str
    expires_on: str
    version: int


# ---------------------------------------------------------------------------------------------
# Conversions


def month_text(value: date) -> str:
    return value.strftime("%Y-%m")


def _validate(model: type[BaseModel], data: object) -> BaseModel:
    if not isinstance(data, dict):
        raise BodyInvalid([{"field": None, "message": gettext("Send a JSON object.")}])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BodyInvalid(
            [
                {
                    "field": ".".join(str(p) for p in e["loc"]) or None,
                    "message": _pydantic_message(e),
                }
                for e in exc.errors()
            ]
        ) from None


def _json_field(err: ValidationFailed) -> ValidationFailed:
    """Rename the error's field to the JSON key the client sent."""
    err.field = JSON_FIELDS.get(err.field, err.field)
    return err


def _require_trader() -> None:
    require_lister(g.caller.member)


def _blank(value: object) -> object:
    return "" if value is None else value


def listing_input(body: ListingIn) -> ListingInput:
    return ListingInput(
        material=body.material,
        grade_version_id=body.grade_version_id,
        monthly_t=body.monthly_t,
        min_t_per_contract=body.min_t_per_contract,
        available_from=body.available_from,
        max_term_months=body.max_term_months,
        origin_prefecture=body.origin_prefecture or "",
        origin_port=body.origin_port or "",
        lat=body.lat,
        lon=body.lon,
        incoterm=body.incoterm,
        incoterm_place=body.incoterm_place,
        price=PriceInput(
            kind=body.price_kind,
            fixed_jpy_per_t=body.fixed_price_jpy_per_t,
            index_code=body.index or "",
            factor=_blank(body.index_factor),
            premium_jpy_per_t=body.premium_jpy_per_t,
            floor_jpy_per_t=body.floor_jpy_per_t,
            cap_jpy_per_t=body.cap_jpy_per_t,
        ),
        assay_id=body.assay_id,
        certificate_id=body.certificate_id or "",
        visibility=body.visibility,
        invited_org_ids=list(body.invited_org_ids),
        expires_on=body.expires_on,
        title=body.title,
    )


def request_input(body: RequestIn) -> RequestInput:
    return RequestInput(
        material=body.material,
        grade_version_id=body.grade_version_id,
        monthly_t=body.monthly_t,
        start_month=body.start_month,
        term_months=body.term_months,
        end_month=body.end_month,
        accept_stricter=body.accept_stricter,
        delivery_prefecture=body.delivery_prefecture or "",
        delivery_place=body.delivery_place,
        lat=body.lat,
        lon=body.lon,
        price=PriceInput(
            kind=body.price_kind,
            fixed_jpy_per_t=body.max_price_jpy_per_t,
            index_code=body.index or "",
            factor=_blank(body.index_factor),
            premium_jpy_per_t=body.premium_jpy_per_t,
        ),
        purpose=body.purpose,
        mandate=body.mandate,
        expires_on=body.expires_on,
        title=body.title,
    )


def _index_codes(ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    rows = get_db().exec(select(PriceIndex.id, PriceIndex.code).where(col(PriceIndex.id).in_(ids)))
    return dict(rows.all())


def _grade_of(version_id: int) -> tuple[GradeStandard, StandardVersion]:
    db = get_db()
    version = db.get(StandardVersion, version_id)
    return db.get(GradeStandard, version.standard_id), version


def listing_as_input(listing: SupplyListing, codes: dict[int, str]) -> dict:
    """The stored listing in ListingIn's shape (the base a PATCH is applied to)."""
    return {
        "title": listing.title,
        "material": listing.material_code,
        "grade_version_id": listing.standard_version_id,
        "monthly_t": kg_to_tonnes(listing.monthly_kg),
        "min_t_per_contract": kg_to_tonnes(listing.min_kg_per_contract),
        "available_from": month_text(listing.available_from),
        "max_term_months": listing.max_term_months,
        "origin_prefecture": listing.origin_prefecture,
        "origin_port": listing.origin_port,
        "lat": None if listing.origin_prefecture else listing.lat,
        "lon": None if listing.origin_prefecture else listing.lon,
        "incoterm": listing.incoterm,
        "incoterm_place": listing.incoterm_place,
        "price_kind": listing.price_kind,
        "fixed_price_jpy_per_t": listing.fixed_price_jpy_per_t,
        "index": codes.get(listing.index_id),
        "index_factor": listing.index_factor,
        "premium_jpy_per_t": listing.premium_jpy_per_t,
        "floor_jpy_per_t": listing.floor_jpy_per_t,
        "cap_jpy_per_t": listing.cap_jpy_per_t,
        "assay_id": listing.assay_id,
        "certificate_id": listing.certificate_id,
        "visibility": listing.visibility,
        "invited_org_ids": sorted(listing.invited),
        "expires_on": listing.expires_on,
    }


def request_as_input(item: OfftakeRequest, codes: dict[int, str]) -> dict:
    return {
        "title": item.title,
        "material": item.material_code,
        "grade_version_id": item.standard_version_id,
        "accept_stricter": item.accept_stricter,
        "monthly_t": kg_to_tonnes(item.monthly_kg),
        "start_month": month_text(item.start_month),
        "term_months": item.term_months,
        "delivery_prefecture": item.delivery_prefecture,
        "delivery_place": item.delivery_place,
        "lat": None if item.delivery_prefecture else item.lat,
        "lon": None if item.delivery_prefecture else item.lon,
        "price_kind": item.price_kind,
        "max_price_jpy_per_t": item.max_price_jpy_per_t,
        "index": codes.get(item.index_id),
        "index_factor": item.index_factor,
        "premium_jpy_per_t": item.premium_jpy_per_t,
        "purpose": item.purpose,
        "mandate": item.mandate,
        "expires_on": item.expires_on,
    }


def _org_json(org: Organization) -> dict:
    return {"id": org.id, "name_ja": org.name_ja, "name_en": org.name_en}


def listing_json(
    listing: SupplyListing,
    org: Organization,
    standard: GradeStandard,
    version: StandardVersion,
    codes: dict[int, str],
    viewer_org_id: int | None,
    price_jpy_per_t: int | None = None,
    distance_km: float | None = None,
) -> dict:
    own = viewer_org_id == listing.organization_id
    return ListingOut(
        id=listing.id,
        status=listing.status,
        title=listing.title,
        organization=_org_json(org),
        material=listing.material_code,
        grade=GradeOut(code=standard.code, version=version.number, version_id=version.id),
        monthly_t=str(kg_to_tonnes(listing.monthly_kg)),
        available_t=str(kg_to_tonnes(listing.available_kg)),
        min_t_per_contract=str(kg_to_tonnes(listing.min_kg_per_contract)),
        available_from=month_text(listing.available_from),
        max_term_months=listing.max_term_months,
        origin_prefecture=listing.origin_prefecture,
        origin_port=listing.origin_port,
        incoterm=listing.incoterm,
        incoterm_place=listing.incoterm_place,
        price=PriceOut(
            kind=listing.price_kind,
            fixed_jpy_per_t=listing.fixed_price_jpy_per_t,
            index=codes.get(listing.index_id),
            factor=None if listing.index_factor is None else str(listing.index_factor),
            premium_jpy_per_t=listing.premium_jpy_per_t,
            floor_jpy_per_t=listing.floor_jpy_per_t,
            cap_jpy_per_t=listing.cap_jpy_per_t,
        ),
        price_jpy_per_t=price_jpy_per_t,
        distance_km=None if distance_km is None else round(distance_km, 1),
        data_quality_level=listing.data_quality_level,
        assay_id=listing.assay_id,
        certificate_id=listing.certificate_id,
        visibility=listing.visibility,
        invited_org_ids=sorted(listing.invited) if own else None,
        expires_on=listing.expires_on.isoformat(),
        version=listing.version,
    ).model_dump()


def request_json(
    item: OfftakeRequest,
    org: Organization,
    standard: GradeStandard,
    version: StandardVersion,
    codes: dict[int, str],
    viewer_org_id: int | None,
    distance_km: float | None = None,
) -> dict:
    own = viewer_org_id == item.organization_id
    price = None
    if own:
        price = PriceOut(
            kind=item.price_kind,
            fixed_jpy_per_t=item.max_price_jpy_per_t,
            index=codes.get(item.index_id),
            factor=None if item.index_factor is None else str(item.index_factor),
            premium_jpy_per_t=item.premium_jpy_per_t,
        )
    return RequestOut(
        id=item.id,
        status=item.status,
        title=item.title,
        organization=_org_json(org),
        material=item.material_code,
        grade=GradeOut(code=standard.code, version=version.number, version_id=version.id),
        accept_stricter=item.accept_stricter,
        monthly_t=str(kg_to_tonnes(item.monthly_kg)),
        open_t=str(kg_to_tonnes(item.open_kg)),
        start_month=month_text(item.start_month),
        term_months=item.term_months,
        delivery_prefecture=item.delivery_prefecture,
        delivery_place=item.delivery_place,
        price=price,
        distance_km=None if distance_km is None else round(distance_km, 1),
        purpose=item.purpose,
        mandate=item.mandate,
        expires_on=item.expires_on.isoformat(),
        version=item.version,
    ).model_dump()


def _one_listing_json(listing: SupplyListing) -> dict:
    standard, version = _grade_of(listing.standard_version_id)
    org = get_db().get(Organization, listing.organization_id)
    return listing_json(
        listing, org, standard, version, _index_codes({listing.index_id}), g.caller.org.id
    )


def _one_request_json(item: OfftakeRequest) -> dict:
    standard, version = _grade_of(item.standard_version_id)
    org = get_db().get(Organization, item.organization_id)
    return request_json(
        item, org, standard, version, _index_codes({item.index_id}), g.caller.org.id
    )


# ---------------------------------------------------------------------------------------------
# Listings


def _search_args() -> dict[str, str]:
    return {k: v for k, v in request.args.items() if k not in ("page", "per_page", "mine")}


def _mine() -> bool:
    return request.args.get("mine", "").lower() in ("1", "true", "yes")


@api_bp.get("/listings")
@token_required
def listings():
    """Open supply listings the caller may see, filtered, sorted and paged.
    ---
    get:
      summary: Search supply listings
      security: [{bearer: []}]
      parameters:
        - {name: material, in: query, schema: {type: string}}
        - {name: grade, in: query, schema: {type: string}, description: grade standard code}
        - {name: prefecture, in: query, schema: {type: string}}
        - {name: near, in: query, schema: {type: string}, description: prefecture code}
        - {name: radius_km, in: query, schema: {type: number}}
        - {name: min_monthly_t, in: query, schema: {type: string}}
        - {name: max_price, in: query, schema: {type: integer}}
        - {name: price_month, in: query, schema: {type: string}, description: YYYY-MM}
        - {name: min_dq, in: query, schema: {type: integer}}
        - {name: start_by, in: query, schema: {type: string}, description: YYYY-MM}
        - {name: sort, in: query, schema: {type: string, enum: [newest, price, volume, distance]}}
        - {name: mine, in: query, schema: {type: boolean}, description: own items in every state}
        - {name: page, in: query, schema: {type: integer, minimum: 1}}
        - {name: per_page, in: query, schema: {type: integer, minimum: 1, maximum: 100}}
      responses:
        '200':
          description: a page of listings
          content:
            application/json:
              schema:
                type: object
                properties:
                  items: {type: array, items: {$ref: '#/components/schemas/ListingOut'}}
                  page: {type: integer}
                  per_page: {type: integer}
                  total: {type: integer}
                  next: {type: [string, 'null']}
                  prev: {type: [string, 'null']}
        '400':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    from market.search import parse_listing_filters, search_listings
    from web.pagination import page_args

    db = get_db()
    viewer = g.caller.org.id
    if _mine():
        page = paginate(
            db,
            select(SupplyListing)
            .where(SupplyListing.organization_id == viewer)
            .order_by(col(SupplyListing.created_at).desc(), col(SupplyListing.id).desc()),
            strict=True,
        )
        return page.as_json(_own_json(page.items))
    page_no, per_page = page_args()
    filters = parse_listing_filters(_search_args())
    found = search_listings(db, viewer, filters, page_no, per_page)
    codes = _index_codes({r.listing.index_id for r in found.items})
    items = [
        listing_json(
            r.listing, r.org, r.standard, r.version, codes, viewer, r.price_jpy_per_t, r.distance_km
        )
        for r in found.items
    ]
    return Page(found.items, page_no, per_page, found.total).as_json(items)


def _grades(version_ids: set[int]) -> dict[int, tuple[GradeStandard, StandardVersion]]:
    """Grade standard and version by version id, in two queries whatever the count."""
    db = get_db()
    versions = db.exec(select(StandardVersion).where(col(StandardVersion.id).in_(version_ids)))
    versions = versions.all()
    standards = {
        s.id: s
        for s in db.exec(
            select(GradeStandard).where(
                col(GradeStandard.id).in_({v.standard_id for v in versions})
            )
        ).all()
    }
    return {v.id: (standards[v.standard_id], v) for v in versions}


def _own_json(items: list[SupplyListing] | list[OfftakeRequest]) -> list[dict]:
    """The caller's own listings or requests as JSON, in a fixed number of queries."""
    grades = _grades({i.standard_version_id for i in items})
    codes = _index_codes({i.index_id for i in items})
    org = g.caller.org
    out = []
    for i in items:
        standard, version = grades[i.standard_version_id]
        to_json = listing_json if isinstance(i, SupplyListing) else request_json
        out.append(to_json(i, org, standard, version, codes, org.id))
    return out


@api_bp.post("/listings")
@token_required
def create_listing_view():
    """Create a draft supply listing (verified recyclers).
    ---
    post:
      summary: Create a supply listing (draft)
      security: [{bearer: []}]
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/ListingIn'}
      responses:
        '201':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/ListingOut'}
        '403': {description: not a verified recycler}
        '422':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    body = parse_body(ListingIn)
    _require_trader()
    db = get_db()
    try:
        listing = create_listing(db, g.caller.org.id, listing_input(body), date.today())
    except ValidationFailed as err:
        raise _json_field(err) from None
    db.commit()
    return _one_listing_json(listing), 201


@api_bp.get("/listings/<int:listing_id>")
@token_required
def listing(listing_id: int):
    """One listing (own ones in any state; others' when open and visible).
    ---
    get:
      summary: Read a supply listing
      security: [{bearer: []}]
      parameters:
        - {name: listing_id, in: path, required: true, schema: {type: integer}}
      responses:
        '200':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/ListingOut'}
        '404':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    item = get_db().get(SupplyListing, listing_id)
    if item is None or not can_see_listing(item, g.caller.org.id):
        raise NotFound("No such listing.")
    return _one_listing_json(item)


@api_bp.patch("/listings/<int:listing_id>")
@token_required
def update_listing_view(listing_id: int):
    """Change a draft or open listing; send only the fields to change.
    ---
    patch:
      summary: Update a supply listing
      security: [{bearer: []}]
      parameters:
        - {name: listing_id, in: path, required: true, schema: {type: integer}}
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/ListingIn'}
      responses:
        '200':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/ListingOut'}
        '404': {description: not the caller's listing}
        '409': {description: closed or expired}
        '422':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    _require_trader()
    db = get_db()
    current = own_listing(db, g.caller.org.id, listing_id)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BodyInvalid([{"field": None, "message": gettext("Send a JSON object.")}])
    body = _validate(
        ListingIn, {**listing_as_input(current, _index_codes({current.index_id})), **data}
    )
    try:
        listing = update_listing(db, g.caller.org.id, listing_id, listing_input(body), date.today())
    except ValidationFailed as err:
        raise _json_field(err) from None
    db.commit()
    return _one_listing_json(listing)


@api_bp.post("/listings/<int:listing_id>/publish")
@token_required
def publish_listing_view(listing_id: int):
    """Open a draft listing to the market; matching saved searches are alerted.
    ---
    post:
      summary: Publish a supply listing
      security: [{bearer: []}]
      parameters:
        - {name: listing_id, in: path, required: true, schema: {type: integer}}
      responses:
        '200':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/ListingOut'}
        '409': {description: not a draft}
    """
    _require_trader()
    db = get_db()
    listing = publish_listing(db, g.caller.org.id, listing_id)
    db.flush()
    alert_saved_searches(db, listing)
    return _one_listing_json(listing)


@api_bp.post("/listings/<int:listing_id>/close")
@token_required
def close_listing_view(listing_id: int):
    """Withdraw a listing from the market.
    ---
    post:
      summary: Close a supply listing
      security: [{bearer: []}]
      parameters:
        - {name: listing_id, in: path, required: true, schema: {type: integer}}
      responses:
        '200':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/ListingOut'}
        '409': {description: already closed or expired}
    """
    _require_trader()
    db = get_db()
    listing = close_listing(db, g.caller.org.id, listing_id)
    db.commit()
    return _one_listing_json(listing)


# ---------------------------------------------------------------------------------------------
# Requests


@api_bp.get("/requests")
@token_required
def requests_():
    """Open offtake requests, filtered, sorted and paged (ceilings only for their owner).
    ---
    get:
      summary: Search offtake requests
      security: [{bearer: []}]
      parameters:
        - {name: material, in: query, schema: {type: string}}
        - {name: grade, in: query, schema: {type: string}, description: grade standard code}
        - {name: prefecture, in: query, schema: {type: string}}
        - {name: near, in: query, schema: {type: string}, description: prefecture code}
        - {name: radius_km, in: query, schema: {type: number}}
        - {name: min_monthly_t, in: query, schema: {type: string}}
        - {name: max_price, in: query, schema: {type: integer}}
        - {name: price_month, in: query, schema: {type: string}, description: YYYY-MM}
        - {name: min_dq, in: query, schema: {type: integer}}
        - {name: start_by, in: query, schema: {type: string}, description: YYYY-MM}
        - {name: sort, in: query, schema: {type: string, enum: [newest, price, volume, distance]}}
        - {name: mine, in: query, schema: {type: boolean}, description: own items in every state}
        - {name: page, in: query, schema: {type: integer, minimum: 1}}
        - {name: per_page, in: query, schema: {type: integer, minimum: 1, maximum: 100}}
      responses:
        '200':
          description: a page of requests
          content:
            application/json:
              schema:
                type: object
                properties:
                  items: {type: array, items: {$ref: '#/components/schemas/RequestOut'}}
                  page: {type: integer}
                  per_page: {type: integer}
                  total: {type: integer}
                  next: {type: [string, 'null']}
                  prev: {type: [string, 'null']}
        '400':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    from market.search import parse_request_filters, search_requests
    from web.pagination import page_args

    db = get_db()
    viewer = g.caller.org.id
    if _mine():
        page = paginate(
            db,
            select(OfftakeRequest)
            .where(OfftakeRequest.organization_id == viewer)
            .order_by(col(OfftakeRequest.created_at).desc(), col(OfftakeRequest.id).desc()),
            strict=True,
        )
        return page.as_json(_own_json(page.items))
    page_no, per_page = page_args()
    filters = parse_request_filters(_search_args())
    found = search_requests(db, viewer, filters, page_no, per_page)
    codes = _index_codes({r.request.index_id for r in found.items})
    items = [
        request_json(r.request, r.org, r.standard, r.version, codes, viewer, r.distance_km)
        for r in found.items
    ]
    return Page(found.items, page_no, per_page, found.total).as_json(items)


@api_bp.post("/requests")
@token_required
def create_request_view():
    """Create a draft offtake request (verified manufacturers).
    ---
    post:
      summary: Create an offtake request (draft)
      security: [{bearer: []}]
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/RequestIn'}
      responses:
        '201':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/RequestOut'}
        '403': {description: not a verified manufacturer}
        '422':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    body = parse_body(RequestIn)
    _require_trader()
    db = get_db()
    try:
        item = create_request(db, g.caller.org.id, request_input(body), date.today())
    except ValidationFailed as err:
        raise _json_field(err) from None
    db.commit()
    return _one_request_json(item), 201


@api_bp.get("/requests/<int:request_id>")
@token_required
def request_(request_id: int):
    """One request (own ones in any state; others' when open, without the ceiling).
    ---
    get:
      summary: Read an offtake request
      security: [{bearer: []}]
      parameters:
        - {name: request_id, in: path, required: true, schema: {type: integer}}
      responses:
        '200':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/RequestOut'}
        '404':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    item = get_db().get(OfftakeRequest, request_id)
    if not can_see_request(item, g.caller.org.id):
        raise NotFound("No such request.")
    return _one_request_json(item)


@api_bp.patch("/requests/<int:request_id>")
@token_required
def update_request_view(request_id: int):
    """Change a draft or open request; send only the fields to change.
    ---
    patch:
      summary: Update an offtake request
      security: [{bearer: []}]
      parameters:
        - {name: request_id, in: path, required: true, schema: {type: integer}}
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/RequestIn'}
      responses:
        '200':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/RequestOut'}
        '404': {description: not the caller's request}
        '409': {description: closed or expired}
        '422':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    _require_trader()
    db = get_db()
    current = own_request(db, g.caller.org.id, request_id)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BodyInvalid([{"field": None, "message": gettext("Send a JSON object.")}])
    base = request_as_input(current, _index_codes({current.index_id}))
    if "end_month" in data:
        base.pop("term_months")
    body = _validate(RequestIn, {**base, **data})
    try:
        item = update_request(db, g.caller.org.id, request_id, request_input(body), date.today())
    except ValidationFailed as err:
        raise _json_field(err) from None
    db.commit()
    return _one_request_json(item)


@api_bp.post("/requests/<int:request_id>/publish")
@token_required
def publish_request_view(request_id: int):
    """Open a draft request to the market; matching saved searches are alerted.
    ---
    post:
      summary: Publish an offtake request
      security: [{bearer: []}]
      parameters:
        - {name: request_id, in: path, required: true, schema: {type: integer}}
      responses:
        '200':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/RequestOut'}
        '409': {description: not a draft}
    """
    _require_trader()
    db = get_db()
    item = publish_request(db, g.caller.org.id, request_id)
    db.flush()
    alert_saved_searches(db, item)
    return _one_request_json(item)


@api_bp.post("/requests/<int:request_id>/close")
@token_required
def close_request_view(request_id: int):
    """Withdraw a request from the market.
    ---
    post:
      summary: Close an offtake request
      security: [{bearer: []}]
      parameters:
        - {name: request_id, in: path, required: true, schema: {type: integer}}
      responses:
        '200':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/RequestOut'}
        '409': {description: already closed or expired}
    """
    _require_trader()
    db = get_db()
    item = close_request(db, g.caller.org.id, request_id)
    db.commit()
    return _one_request_json(item)


# ---------------------------------------------------------------------------------------------
# Price indices


def _index_json(index: PriceIndex, latest: int | None = None) -> dict:
    return {
        "code": index.code,
        "name_en": index.name_en,
        "name_ja": index.name_ja,
        "material": index.material_code,
        "unit": index.unit,
        "source": index.source,
        "latest_jpy_per_t": latest,
    }


@schema
class IndexIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=2, max_length=40)
    name_en: str = Field(min_length=1, max_length=120)
    name_ja: str = Field(min_length=1, max_length=120)
    material: str = Field(min_length=1, max_length=40)
    source: str = Field(default="", max_length=300)


@api_bp.post("/indices")
@token_required
def create_index_api():
    """Create a monthly price index in yen per tonne (operator only).
    ---
    post:
      summary: Create a price index
      security: [{bearer: []}]
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/IndexIn'}
      responses:
        '201': {description: the new index}
        '403': {description: not the operator}
        '422':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    body = parse_body(IndexIn)
    db = get_db()
    index = create_index(
        db, g.caller.member, body.code, body.name_en, body.name_ja, body.material, body.source
    )
    db.commit()
    return _index_json(index, None), 201


@api_bp.get("/indices")
@token_required
def indices():
    """Price indices with their latest value.
    ---
    get:
      summary: List price indices
      security: [{bearer: []}]
      responses:
        '200':
          description: all indices
          content:
            application/json:
              schema:
                type: object
                properties:
                  items: {type: array, items: {type: object}}
    """
    db = get_db()
    rows = db.exec(select(PriceIndex).order_by(PriceIndex.code)).all()
    latest = latest_values(db, {i.id for i in rows}, date.max)
    return {"items": [_index_json(i, latest.get(i.id)) for i in rows]}


@api_bp.route("/indices/<code>/values", methods=["GET", "POST"])
@token_required
def index_values_view(code: str):
    """An index's monthly values, oldest first.
    ---
    get:
      summary: Read an index's values
      security: [{bearer: []}]
      parameters:
        - {name: code, in: path, required: true, schema: {type: string}}
      responses:
        '200':
          description: the index and its values
          content:
            application/json:
              schema:
                type: object
                properties:
                  index: {type: object}
                  values:
                    type: array
                    items:
                      type: object
                      properties:
                        month: {type: string}
                        value_jpy_per_t: {type: integer}
        '404':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    post:
      summary: Enter or correct a month's value (operator)
      security: [{bearer: []}]
      parameters:
        - {name: code, in: path, required: true, schema: {type: string}}
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/IndexValueIn'}
      responses:
        '201': {description: saved}
        '403': {description: not the operator}
        '422':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    db = get_db()
    index = get_index(db, code)
    if request.method == "POST":
        body = parse_body(IndexValueIn)
        month = parse_month(body.month)
        row = set_index_value(db, g.caller.member, code, month, body.value_jpy_per_t)
        db.commit()
        return {"month": month_text(row.month), "value_jpy_per_t": row.value_jpy_per_t}, 201
    values = index_values(db, index.id)
    return {
        "index": _index_json(index, values[-1].value_jpy_per_t if values else None),
        "values": [
            {"month": month_text(v.month), "value_jpy_per_t": v.value_jpy_per_t} for v in values
        ],
    }


# ---------------------------------------------------------------------------------------------
# Saved searches and notifications


def _saved_json(s: SavedSearch) -> dict:
    return {
        "id": s.id,
        "target": s.target,
        "name": s.name,
        "query": json.loads(s.query or "{}") if s.query.startswith("{") else s.query,
        "created_at": s.created_at.isoformat(),
    }


@api_bp.route("/saved-searches", methods=["GET", "POST"])
@token_required
def saved_searches_view():
    """The caller's saved searches.
    ---
    get:
      summary: List saved searches
      security: [{bearer: []}]
      responses:
        '200': {description: the caller's saved searches}
    post:
      summary: Save a search (alerts arrive when matching items are published)
      security: [{bearer: []}]
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/SavedSearchIn'}
      responses:
        '201': {description: saved}
        '422':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    from market.alerts import save_search, saved_searches

    db = get_db()
    if request.method == "POST":
        body = parse_body(SavedSearchIn)
        saved = save_search(db, g.caller.member, body.target, body.name, body.query)
        db.commit()
        return _saved_json(saved), 201
    return {"items": [_saved_json(s) for s in saved_searches(db, g.caller.member.id)]}


@api_bp.delete("/saved-searches/<int:search_id>")
@token_required
def delete_saved_search_view(search_id: int):
    """Delete one of the caller's saved searches.
    ---
    delete:
      summary: Delete a saved search
      security: [{bearer: []}]
      parameters:
        - {name: search_id, in: path, required: true, schema: {type: integer}}
      responses:
        '204': {description: deleted}
        '404':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    from market.alerts import delete_saved_search

    db = get_db()
    delete_saved_search(db, g.caller.member, search_id)
    db.commit()
    return "", 204


@api_bp.get("/notifications")
@token_required
def notifications_view():
    """The caller's notifications, newest first (?unread=true for unread only).
    ---
    get:
      summary: List notifications
      security: [{bearer: []}]
      parameters:
        - {name: unread, in: query, schema: {type: boolean}}
      responses:
        '200': {description: the caller's notifications}
    """
    from market.alerts import notifications

    unread = request.args.get("unread", "").lower() in ("1", "true", "yes")
    rows: list[Notification] = notifications(get_db(), g.caller.member.id, unread_only=unread)
    return {
        "items": [
            {
                "id": n.id,
                "message": _note_text(n),
                "link": n.link,
                "created_at": n.created_at.isoformat(),
                "read": n.read_at is not None,
            }
            for n in rows
        ]
    }


def _note_text(note: Notification) -> str:
    params = json.loads(note.params or "{}")
    return gettext(note.message, **params) if params else gettext(note.message)
