"""A small market for contract tests: a recycler's listing, a manufacturer's request, members
of every role on both sides and an outsider, and ways to start drafts."""

from dataclasses import dataclass
from decimal import Decimal

from factories import as_actor, make_listing, make_member, make_org, make_request
from sqlmodel import Session

from contracts.drafting import (
    DraftFromListingIn,
    DraftFromRequestIn,
    accept_proposal,
    draft_from_listing,
    draft_from_request,
)
from contracts.models import OfftakeContract
from market.models import OfftakeRequest, Proposal, SupplyListing
from participants.actors import Actor
from participants.models import Member, Organization
from quality.catalogue import latest_published, seed_catalogue


@dataclass
class World:
    db: Session
    version: int
    seller: Organization
    buyer: Organization
    listing: SupplyListing
    request: OfftakeRequest
    members: dict[str, Member]

    def actor(self, who: str) -> Actor:
        return as_actor(self.db, self.members[who])


def build_world(db: Session) -> World:
    """Listing: 100 t/month HDPE at ¥70,000/t from 2027-01 for 12 months; request: 60 t/month
    from 2027-03 for 6 months."""
    seed_catalogue(db)
    version = latest_published(db, "HDPE-NAT-B")[1].id
    seller = make_org(db, kind="recycler", name_en="Saitama Recycling")
    buyer = make_org(db, kind="manufacturer", name_en="Kanagawa Crates", lat=35.45, lon=139.64)
    other = make_org(db, kind="manufacturer", name_en="Osaka Pipes")
    members = {
        "seller signatory": make_member(db, seller, roles="signatory"),
        "seller trader": make_member(db, seller, roles="trader"),
        "seller inspector": make_member(db, seller, roles="inspector"),
        "buyer signatory": make_member(db, buyer, roles="signatory"),
        "buyer trader": make_member(db, buyer, roles="trader"),
        "buyer admin": make_member(db, buyer, roles="admin"),
        "outsider": make_member(db, other, roles="admin trader signatory"),
    }
    return World(
        db,
        version,
        seller,
        buyer,
        make_listing(db, seller, version),
        make_request(db, buyer, version),
        members,
    )


def draft_of_listing(w: World, monthly_t: str = "40", listing=None) -> OfftakeContract:
    """A one-sided draft the buyer's trader starts from the listing (2027-02, 6 months)."""
    data = DraftFromListingIn(monthly_t=Decimal(monthly_t), start_month="2027-02", term_months=6)
    contract = draft_from_listing(w.db, w.actor("buyer trader"), (listing or w.listing).id, data)
    w.db.commit()
    return contract


def draft_of_request(w: World, monthly_t: str = "30") -> OfftakeContract:
    """A one-sided draft the seller's trader starts against the request from its listing."""
    data = DraftFromRequestIn(listing_id=w.listing.id, monthly_t=Decimal(monthly_t))
    contract = draft_from_request(w.db, w.actor("seller trader"), w.request.id, data)
    w.db.commit()
    return contract


def draft_of_proposal(w: World, monthly_kg: int = 60_000) -> OfftakeContract:
    """A draft from a proposal both sides accepted (it holds its volume from the start)."""
    proposal = Proposal(
        listing_id=w.listing.id,
        request_id=w.request.id,
        monthly_kg=monthly_kg,
        ask_jpy_per_t=70_000,
        limit_jpy_per_t=87_654,
        transport_jpy_per_t=1_200,
        distance_km=48.0,
        overlap_months=6,
    )
    w.db.add(proposal)
    w.db.commit()
    accept_proposal(w.db, w.actor("seller trader"), proposal.id)
    contract = accept_proposal(w.db, w.actor("buyer trader"), proposal.id).contract
    w.db.commit()
    return contract
