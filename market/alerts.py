"""Saved searches and in-app notifications when a new listing or request matches one.

A saved search looks at others' listings or requests, so keeping one is for members of
verified organisations (`VERIFIED_MEMBER`); alerts go only to members who may read the new
item (verified organisations; invited ones for invited-only listings). A member lists and
deletes its own saved searches and reads its own notifications, whatever its organisation's
state: those records are scoped to the acting member.
"""

import json
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from market.models import ListingStatus, Notification, OfftakeRequest, SavedSearch, SupplyListing
from market.search import SearchFilters, search_listings, search_requests
from market.visibility import can_see_listing
from participants.actors import VERIFIED_MEMBER, Actor, actor_of, permission
from participants.columns import utcnow
from participants.errors import N_, NotFound, PermissionDenied, ValidationFailed
from participants.fields import ID_MAX, Line, Paragraphs
from participants.models import Member, Organization, Role

TARGETS = ("listings", "requests")
MAX_SAVED_SEARCHES = 20
KEEP_SAVED_SEARCHES = VERIFIED_MEMBER


class SavedSearchInput(BaseModel):
    """A search to keep: alerts arrive when a matching item is published."""

    model_config = ConfigDict(extra="forbid")
    target: Literal[TARGETS]
    name: Line(120, min_length=1)
    query: SearchFilters = Field(default_factory=SearchFilters)


class SavedSearchOut(BaseModel):
    """A saved search of the caller."""

    id: int
    target: str
    name: str
    query: SearchFilters
    created_at: datetime


def saved_filters(search: SavedSearch) -> SearchFilters | None:
    """The filters a saved search keeps (None if they no longer validate)."""
    try:
        return SearchFilters.model_validate(json.loads(search.query or "{}")).check()
    except (ValueError, ValidationError, ValidationFailed):
        return None


def saved_search_out(search: SavedSearch) -> SavedSearchOut:
    return SavedSearchOut(
        id=search.id,
        target=search.target,
        name=search.name,
        query=saved_filters(search) or SearchFilters(),
        created_at=search.created_at,
    )


def _member_id(actor: Actor) -> int:
    if actor is None or actor.member_id is None:
        raise PermissionDenied()
    return actor.member_id


def save_search(session: Session, actor: Actor, data: SavedSearchInput) -> SavedSearch:
    """Keep a member's search (members of verified organisations; at most 20 each)."""
    KEEP_SAVED_SEARCHES.check(actor)
    member_id = _member_id(actor)
    try:
        data.query.check()
    except ValidationFailed as err:
        err.field = f"query.{err.field}"  # the field as the body names it
        raise
    name = data.name.strip()
    if not name:
        raise ValidationFailed("Give the search a name (at most 120 characters).", field="name")
    existing = session.exec(
        select(func.count()).select_from(SavedSearch).where(SavedSearch.member_id == member_id)
    ).one()
    if existing >= MAX_SAVED_SEARCHES:
        raise ValidationFailed("At most %(n)s saved searches.", field="name", n=MAX_SAVED_SEARCHES)
    search = SavedSearch(
        member_id=member_id,
        target=data.target,
        name=name,
        query=json.dumps(data.query.model_dump(mode="json", exclude_defaults=True), sort_keys=True),
    )
    session.add(search)
    session.flush()
    return search


def saved_searches(actor: Actor):
    """The query of the acting member's saved searches, oldest first."""
    return (
        select(SavedSearch)
        .where(SavedSearch.member_id == _member_id(actor))
        .order_by(col(SavedSearch.id))
    )


def delete_saved_search(session: Session, actor: Actor, search_id: int) -> None:
    """Delete one of the acting member's saved searches (others': NotFound)."""
    search = session.get(SavedSearch, search_id) if 1 <= search_id <= ID_MAX else None
    if search is None or search.member_id != _member_id(actor):
        raise NotFound("No such saved search.")
    session.delete(search)
    session.flush()


def _alert_message(target: str, titled: bool) -> str:
    """The alert names the saved search and the item (its number, and its title if any)."""
    if target == "listings":
        if titled:
            return N_("Supply listing #%(id)s “%(title)s” matches your saved search “%(name)s”.")
        return N_("Supply listing #%(id)s matches your saved search “%(name)s”.")
    if titled:
        return N_("Offtake request #%(id)s “%(title)s” matches your saved search “%(name)s”.")
    return N_("Offtake request #%(id)s matches your saved search “%(name)s”.")


def alert_matching_searches(
    session: Session, item: SupplyListing | OfftakeRequest, today: date | None = None
) -> list[Notification]:
    """Notify every member whose saved search matches a newly published item (once each).

    Only members who may read the item are alerted: members of verified organisations other
    than the item's own (and, for an invited-only listing, of invited organisations).
    """
    target = "listings" if isinstance(item, SupplyListing) else "requests"
    searches = session.exec(select(SavedSearch).where(SavedSearch.target == target)).all()
    if not searches:
        return []
    members = {
        m.id: (m, org)
        for m, org in session.exec(
            select(Member, Organization)
            .join(Organization, Organization.id == Member.organization_id)
            .where(col(Member.id).in_({s.member_id for s in searches}))
        )
    }
    run = search_listings if target == "listings" else search_requests
    created: list[Notification] = []
    for search in searches:
        member, org = members.get(search.member_id, (None, None))
        if member is None or not member.active or org.id == item.organization_id:
            continue
        filters = saved_filters(search)
        if filters is None:
            continue
        found = run(session, actor_of(member, org), filters, today=today, only_id=item.id)
        if not found.items:
            continue
        key = f"{target}:{item.id}:search:{search.id}"
        exists = session.exec(
            select(Notification.id).where(
                Notification.member_id == member.id, Notification.dedupe_key == key
            )
        ).first()
        if exists:
            continue
        note = Notification(
            member_id=member.id,
            message=_alert_message(target, bool(item.title)),
            params=json.dumps(
                {"name": search.name, "id": item.id, "title": item.title}, ensure_ascii=False
            ),
            link=f"/{target}/{item.id}",
            dedupe_key=key,
        )
        session.add(note)
        created.append(note)
    session.flush()
    return created


def notify_organization(
    session: Session,
    organization_id: int,
    message: str,
    params: dict,
    link: str,
    dedupe_key: str,
    roles: tuple[str, ...] = (),
) -> list[Notification]:
    """In-app notifications for an organisation's active members (those holding one of
    `roles`, or all): one per member and `dedupe_key`, so a job run twice, or twice at once,
    notifies once. `message` is an untranslated msgid with %(name)s placeholders (mark it N_).
    Returns the notifications created now; the caller commits, then e-mails them."""
    members = session.exec(
        select(Member).where(Member.organization_id == organization_id, Member.active == True)  # noqa: E712
    ).all()
    created: list[Notification] = []
    for member in members:
        if roles and not member.role_set & set(roles):
            continue
        exists = session.exec(
            select(Notification.id).where(
                Notification.member_id == member.id, Notification.dedupe_key == dedupe_key
            )
        ).first()
        if exists:
            continue
        note = Notification(
            member_id=member.id,
            message=message,
            params=json.dumps(params, ensure_ascii=False, sort_keys=True),
            link=link,
            dedupe_key=dedupe_key[:120],
        )
        try:
            with session.begin_nested():  # another run may have just created the same one
                session.add(note)
        except IntegrityError:
            continue
        created.append(note)
    return created


def notifications(actor: Actor, unread_only: bool = False):
    """The query of the acting member's notifications, newest first."""
    query = select(Notification).where(Notification.member_id == _member_id(actor))
    if unread_only:
        query = query.where(col(Notification.read_at).is_(None))
    return query.order_by(col(Notification.created_at).desc(), col(Notification.id).desc())


def unread_count(session: Session, actor: Actor) -> int:
    """How many of the acting member's notifications are unread."""
    if actor is None or actor.member_id is None:
        return 0
    return session.exec(
        select(func.count())
        .select_from(Notification)
        .where(Notification.member_id == actor.member_id, col(Notification.read_at).is_(None))
    ).one()


def mark_read(session: Session, actor: Actor, notification_id: int) -> Notification:
    """Mark one of the acting member's notifications read (others': NotFound)."""
    note = session.get(Notification, notification_id) if 1 <= notification_id <= ID_MAX else None
    if note is None or note.member_id != _member_id(actor):
        raise NotFound("No such notification.")
    if note.read_at is None:
        note.read_at = utcnow()
        session.add(note)
        session.flush()
    return note


# --- messages to a seller -------------------------------------------------------------------

MESSAGE_SELLERS = permission(
    N_("Only an administrator, trader or signatory may do this."),
    roles=[Role.ADMIN, Role.TRADER, Role.SIGNATORY],
)
SELLER_ROLES = (Role.ADMIN.value, Role.TRADER.value, Role.SIGNATORY.value)


class SellerMessageIn(BaseModel):
    """A question or proposal to the seller of a listing (sent as a notification)."""

    model_config = ConfigDict(extra="forbid")
    message: Paragraphs(2000)


class SellerMessageOut(BaseModel):
    """A message sent to the seller of a listing: how many of its members were notified."""

    listing_id: int
    notified_members: int


def message_seller(
    session: Session, actor: Actor, listing_id: int, data: SellerMessageIn
) -> list[Notification]:
    """Send the seller organisation of a listing the actor may read a message (an in-app
    notification to its administrators, traders and signatories, naming the sender and the
    address to reply to). Members of verified organisations (`MESSAGE_SELLERS`); a listing
    that is not open, not visible or the actor's own answers NotFound.
    """
    MESSAGE_SELLERS.check(actor)
    listing = session.get(SupplyListing, listing_id) if 1 <= listing_id <= ID_MAX else None
    if (
        listing is None
        or listing.status != ListingStatus.OPEN
        or not can_see_listing(listing, actor.organization_id)
        or actor.owns(listing.organization_id)
    ):
        raise NotFound("No such listing.")
    text = data.message.strip()
    if not text:
        raise ValidationFailed("Write your message to the seller.", field="message")
    sender = session.get(Member, actor.member_id)
    org = session.get(Organization, actor.organization_id)
    return notify_organization(
        session,
        listing.organization_id,
        N_("Message about your listing #%(id)s from %(org)s (%(email)s): %(text)s"),
        {"id": listing.id, "org": org.name_ja or org.name_en, "email": sender.email, "text": text},
        f"/listings/{listing.id}",
        f"message:{listing.id}:{actor.member_id}:{utcnow().isoformat()}",
        roles=SELLER_ROLES,
    )
