"""API: supply listings, offtake requests, price indices, saved searches, notifications.

Volumes are decimal strings of tonnes ("120.000"), money integer yen, months "YYYY-MM".
A request's price ceiling is private: only its own organisation sees it. Every rule (who may
do what, who reads what) lives in `market/`; these views translate input and output.
"""

import json
from datetime import datetime

from flask import g
from flask_babel import gettext
from pydantic import BaseModel, ConfigDict, Field

from market.alerts import (
    SavedSearchInput,
    SavedSearchOut,
    delete_saved_search,
    mark_read,
    notifications,
    save_search,
    saved_search_out,
    saved_searches,
)
from market.indices import (
    IndexInput,
    IndexOut,
    IndexValueInput,
    IndexValueOut,
    IndexValuesOut,
    all_indices,
    create_index,
    get_index,
    index_out,
    index_value_out,
    index_values,
    set_index_value,
)
from market.listings import (
    KnownRefs,
    ListingInput,
    ListingOut,
    ListingPatch,
    RequestInput,
    RequestOut,
    RequestPatch,
    close_listing,
    close_request,
    create_listing,
    create_request,
    describe_listings,
    describe_requests,
    own_listings,
    own_requests,
    publish_listing,
    publish_request,
    read_listing,
    read_request,
    update_listing,
    update_request,
)
from market.models import Notification, OfftakeRequest, SupplyListing
from market.search import SearchQuery, search_listings, search_requests
from participants.fields import Paging
from web.alerting import send_alert_mails
from web.api import api_bp
from web.api.openapi import Page, operation
from web.db import get_db
from web.pagination import Page as PageOf
from web.pagination import paginate


class MarketQuery(SearchQuery):
    """The search's query string, or `mine=true` for the caller's own items in every state."""

    model_config = ConfigDict(extra="forbid")
    mine: bool = Field(
        default=False, description="the caller's own items in every state (filters ignored)"
    )


class PageQuery(Paging):
    """?page=&per_page= and nothing else."""

    model_config = ConfigDict(extra="forbid")


class NotificationQuery(PageQuery):
    unread: bool = Field(default=False, description="unread notifications only")


class NotificationOut(BaseModel):
    """An in-app notification of the caller, in the caller's language."""

    id: int
    message: str
    link: str
    created_at: datetime
    read: bool


def _actor():
    return g.caller.actor


def _listing_out(listing: SupplyListing) -> ListingOut:
    return describe_listings(get_db(), _actor(), [listing])[0]


def _request_out(item: OfftakeRequest) -> RequestOut:
    return describe_requests(get_db(), _actor(), [item])[0]


def _published(publication) -> None:
    """Commit the publication and its notifications first; then the e-mails go out."""
    db = get_db()
    db.commit()
    send_alert_mails(db, publication.notifications)


# ---------------------------------------------------------------------------------------------
# Listings


@api_bp.get("/listings")
@operation(
    "Search supply listings",
    query=MarketQuery,
    responses={200: Page[ListingOut]},
    errors=(422,),
    tag="listings",
)
def listings(query: MarketQuery):
    """Open supply listings the caller may read (members of verified organisations; others see
    only their own), filtered, sorted and paged; `mine=true` for the caller's own."""
    db, actor = get_db(), _actor()
    if query.mine:
        page = paginate(db, own_listings(actor), paging=query)
        items = describe_listings(db, actor, page.items)
        return page.as_json([i.model_dump(mode="json") for i in items])
    found = search_listings(db, actor, query, query.page, query.per_page)
    items = describe_listings(
        db,
        actor,
        [r.listing for r in found.items],
        prices={r.listing.id: r.price_jpy_per_t for r in found.items},
        distances={r.listing.id: r.distance_km for r in found.items},
        known=KnownRefs.of_rows(found.items),
    )
    page = PageOf(found.items, query.page, query.per_page, found.total, found.total_exact)
    return page.as_json([i.model_dump(mode="json") for i in items])


@api_bp.post("/listings")
@operation(
    "Create a supply listing (draft)",
    body=ListingInput,
    responses={201: ListingOut},
    errors=(403,),
    tag="listings",
)
def create_listing_view(body: ListingInput):
    """A draft supply listing (traders and administrators of verified recyclers)."""
    listing = create_listing(get_db(), _actor(), body)
    return _listing_out(listing), 201


@api_bp.get("/listings/<int:listing_id>")
@operation("Read a supply listing", responses={200: ListingOut}, tag="listings")
def listing(listing_id: int):
    """One listing: the caller's own in any state; others' when open and visible to it."""
    return _listing_out(read_listing(get_db(), _actor(), listing_id))


@api_bp.patch("/listings/<int:listing_id>")
@operation(
    "Update a supply listing",
    body=ListingPatch,
    responses={200: ListingOut},
    errors=(403, 409),
    tag="listings",
)
def update_listing_view(listing_id: int, body: BaseModel):
    """Change a draft or open listing: send only the fields to change. The monthly volume may
    not drop below what is committed plus what open proposals offer (409)."""
    return _listing_out(update_listing(get_db(), _actor(), listing_id, body))


@api_bp.post("/listings/<int:listing_id>/publish")
@operation(
    "Publish a supply listing",
    responses={200: ListingOut},
    errors=(403, 409),
    tag="listings",
)
def publish_listing_view(listing_id: int):
    """Open a draft listing to the market; matching saved searches are alerted."""
    publication = publish_listing(get_db(), _actor(), listing_id)
    _published(publication)
    return _listing_out(publication.item)


@api_bp.post("/listings/<int:listing_id>/close")
@operation(
    "Close a supply listing",
    responses={200: ListingOut},
    errors=(403, 409),
    tag="listings",
)
def close_listing_view(listing_id: int):
    """Withdraw a listing from the market."""
    return _listing_out(close_listing(get_db(), _actor(), listing_id))


# ---------------------------------------------------------------------------------------------
# Requests


@api_bp.get("/requests")
@operation(
    "Search offtake requests",
    query=MarketQuery,
    responses={200: Page[RequestOut]},
    errors=(422,),
    tag="requests",
)
def requests_(query: MarketQuery):
    """Open offtake requests the caller may read (members of verified organisations; others
    see only their own), filtered, sorted and paged; ceilings only for their owner."""
    db, actor = get_db(), _actor()
    if query.mine:
        page = paginate(db, own_requests(actor), paging=query)
        items = describe_requests(db, actor, page.items)
        return page.as_json([i.model_dump(mode="json") for i in items])
    found = search_requests(db, actor, query, query.page, query.per_page)
    items = describe_requests(
        db,
        actor,
        [r.request for r in found.items],
        distances={r.request.id: r.distance_km for r in found.items},
        known=KnownRefs.of_rows(found.items),
    )
    page = PageOf(found.items, query.page, query.per_page, found.total, found.total_exact)
    return page.as_json([i.model_dump(mode="json") for i in items])


@api_bp.post("/requests")
@operation(
    "Create an offtake request (draft)",
    body=RequestInput,
    responses={201: RequestOut},
    errors=(403,),
    tag="requests",
)
def create_request_view(body: RequestInput):
    """A draft offtake request (traders and administrators of verified manufacturers)."""
    item = create_request(get_db(), _actor(), body)
    return _request_out(item), 201


@api_bp.get("/requests/<int:request_id>")
@operation("Read an offtake request", responses={200: RequestOut}, tag="requests")
def request_(request_id: int):
    """One request: the caller's own in any state; others' when open, without the ceiling."""
    return _request_out(read_request(get_db(), _actor(), request_id))


@api_bp.patch("/requests/<int:request_id>")
@operation(
    "Update an offtake request",
    body=RequestPatch,
    responses={200: RequestOut},
    errors=(403, 409),
    tag="requests",
)
def update_request_view(request_id: int, body: BaseModel):
    """Change a draft or open request: send only the fields to change. The monthly volume may
    not drop below what is contracted plus what open proposals ask (409)."""
    return _request_out(update_request(get_db(), _actor(), request_id, body))


@api_bp.post("/requests/<int:request_id>/publish")
@operation(
    "Publish an offtake request",
    responses={200: RequestOut},
    errors=(403, 409),
    tag="requests",
)
def publish_request_view(request_id: int):
    """Open a draft request to the market; matching saved searches are alerted."""
    publication = publish_request(get_db(), _actor(), request_id)
    _published(publication)
    return _request_out(publication.item)


@api_bp.post("/requests/<int:request_id>/close")
@operation(
    "Close an offtake request",
    responses={200: RequestOut},
    errors=(403, 409),
    tag="requests",
)
def close_request_view(request_id: int):
    """Withdraw a request from the market."""
    return _request_out(close_request(get_db(), _actor(), request_id))


# ---------------------------------------------------------------------------------------------
# Price indices


@api_bp.get("/indices")
@operation("List price indices", query=PageQuery, responses={200: Page[IndexOut]}, tag="indices")
def indices(query: PageQuery):
    """Price indices with their latest value, by code."""
    rows = all_indices(get_db())
    start = (query.page - 1) * query.per_page
    page = PageOf(rows[start : start + query.per_page], query.page, query.per_page, len(rows))
    return page.as_json([index_out(i, v).model_dump(mode="json") for i, v in page.items])


@api_bp.post("/indices")
@operation(
    "Create a price index",
    body=IndexInput,
    responses={201: IndexOut},
    errors=(403,),
    tag="indices",
)
def create_index_view(body: IndexInput):
    """A monthly price index in yen per tonne (the marketplace operator)."""
    return index_out(create_index(get_db(), _actor(), body), None), 201


@api_bp.get("/indices/<code>/values")
@operation("Read an index's values", responses={200: IndexValuesOut}, tag="indices")
def index_values_view(code: str):
    """An index and its monthly values, oldest first."""
    db = get_db()
    index = get_index(db, code)
    values = index_values(db, index.id)
    return IndexValuesOut(
        index=index_out(index, values[-1].value_jpy_per_t if values else None),
        values=[index_value_out(v) for v in values],
    )


@api_bp.post("/indices/<code>/values")
@operation(
    "Enter or correct a month's value",
    body=IndexValueInput,
    responses={201: IndexValueOut},
    errors=(403,),
    tag="indices",
)
def set_index_value_view(code: str, body: IndexValueInput):
    """Enter or correct one month's value of an index (the marketplace operator)."""
    return index_value_out(set_index_value(get_db(), _actor(), code, body)), 201


# ---------------------------------------------------------------------------------------------
# Saved searches and notifications


@api_bp.get("/saved-searches")
@operation(
    "List saved searches",
    query=PageQuery,
    responses={200: Page[SavedSearchOut]},
    tag="alerts",
)
def saved_searches_view(query: PageQuery):
    """The caller's saved searches."""
    page = paginate(get_db(), saved_searches(_actor()), paging=query)
    return page.as_json([saved_search_out(s).model_dump(mode="json") for s in page.items])


@api_bp.post("/saved-searches")
@operation(
    "Save a search",
    body=SavedSearchInput,
    responses={201: SavedSearchOut},
    errors=(403,),
    tag="alerts",
)
def save_search_view(body: SavedSearchInput):
    """Keep a search (members of verified organisations); alerts arrive when a matching
    listing or request is published."""
    return saved_search_out(save_search(get_db(), _actor(), body)), 201


@api_bp.delete("/saved-searches/<int:search_id>")
@operation(
    "Delete a saved search",
    responses={204: "Deleted"},
    tag="alerts",
)
def delete_saved_search_view(search_id: int):
    """Delete one of the caller's saved searches."""
    delete_saved_search(get_db(), _actor(), search_id)
    return "", 204


def notification_out(note: Notification) -> NotificationOut:
    params = json.loads(note.params or "{}")
    return NotificationOut(
        id=note.id,
        message=gettext(note.message, **params) if params else gettext(note.message),
        link=note.link,
        created_at=note.created_at,
        read=note.read_at is not None,
    )


@api_bp.get("/notifications")
@operation(
    "List notifications",
    query=NotificationQuery,
    responses={200: Page[NotificationOut]},
    tag="alerts",
)
def notifications_view(query: NotificationQuery):
    """The caller's notifications, newest first."""
    page = paginate(get_db(), notifications(_actor(), unread_only=query.unread), paging=query)
    return page.as_json([notification_out(n).model_dump(mode="json") for n in page.items])


@api_bp.post("/notifications/<int:note_id>/read")
@operation(
    "Mark a notification read",
    responses={200: NotificationOut},
    tag="alerts",
)
def read_notification_view(note_id: int):
    """Mark one of the caller's notifications read."""
    return notification_out(mark_read(get_db(), _actor(), note_id))
