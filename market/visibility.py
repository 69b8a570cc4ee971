"""Who sees which listings and requests: one rule for search, detail pages, the API, alerts,
candidates and proposals.

A member always sees its own organisation's records in any state; others' open listings and
requests are for members of verified organisations only (`READ_MARKET`), and an invited-only
listing for the invited organisations only.
"""

from market.models import ListingStatus, OfftakeRequest, SupplyListing
from participants.actors import VERIFIED_MEMBER, Actor

# Others' open listings and requests: members of verified organisations.
READ_MARKET = VERIFIED_MEMBER


def can_see_listing(listing: SupplyListing, org_id: int | None) -> bool:
    """The record's side of the rule: the owner always; others only open listings, and
    invited-only ones when invited. (The viewer's side — a verified organisation — is
    `listing_visible_to`.)"""
    if org_id is not None and listing.organization_id == org_id:
        return True
    if listing.status != ListingStatus.OPEN:
        return False
    return listing.visibility == "public" or (org_id is not None and org_id in listing.invited)


def _visible(actor: Actor | None, item, record_rule) -> bool:
    """Own items in any state; others' (as `record_rule` allows) for verified organisations."""
    if actor is None:
        return False
    if actor.owns(item.organization_id):
        return True
    return READ_MARKET.allows(actor) and record_rule(item, actor.organization_id)


def listing_visible_to(actor: Actor | None, listing: SupplyListing) -> bool:
    """Own listings in any state; others' open ones for members of verified organisations."""
    return _visible(actor, listing, can_see_listing)


def can_see_request(request: OfftakeRequest | None, org_id: int | None) -> bool:
    """The record's side of the rule: open requests, or the owner's in any state. (The
    viewer's side — a verified organisation — is `request_visible_to`.)"""
    if request is None:
        return False
    return request.organization_id == org_id or request.status == ListingStatus.OPEN


def request_visible_to(actor: Actor | None, request: OfftakeRequest) -> bool:
    """Own requests in any state; others' open ones for members of verified organisations."""
    return _visible(actor, request, can_see_request)
