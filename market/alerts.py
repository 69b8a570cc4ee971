"""Saved searches and in-app notifications when a new listing or request matches one."""

import json
from collections.abc import Mapping
from datetime import date

from sqlmodel import Session, col, select

from market.errors import N_, NotFound, ValidationFailed
from market.models import Member, Notification, OfftakeRequest, SavedSearch, SupplyListing
from market.search import parse_listing_filters, search_listings, search_requests
from quality.dbtypes import utcnow

TARGETS = ("listings", "requests")
MAX_SAVED_SEARCHES = 20


def save_search(
    session: Session, member: Member, target: str, name: str, args: Mapping[str, str]
) -> SavedSearch:
    """Keep a member's search (validated like the search itself)."""
    if target not in TARGETS:
        raise ValidationFailed("Choose listings or requests.", field="target")
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationFailed("Give the search a name (at most 120 characters).", field="name")
    filters = parse_listing_filters(args)
    existing = session.exec(select(SavedSearch.id).where(SavedSearch.member_id == member.id)).all()
    if len(existing) >= MAX_SAVED_SEARCHES:
        raise ValidationFailed("At most %(n)s saved searches.", field="name", n=MAX_SAVED_SEARCHES)
    search = SavedSearch(
        member_id=member.id,
        target=target,
        name=name,
        query=json.dumps(filters.as_args(), sort_keys=True),
    )
    session.add(search)
    session.flush()
    return search


def saved_searches(session: Session, member_id: int) -> list[SavedSearch]:
    return list(
        session.exec(
            select(SavedSearch).where(SavedSearch.member_id == member_id).order_by(SavedSearch.id)
        )
    )


def delete_saved_search(session: Session, member: Member, search_id: int) -> None:
    search = session.get(SavedSearch, search_id)
    if search is None or search.member_id != member.id:
        raise NotFound("No such saved search.")
    session.delete(search)


def alert_matching_searches(
    session: Session, item: SupplyListing | OfftakeRequest, today: date | None = None
) -> list[Notification]:
    """Notify every member whose saved search matches a newly published item (once each)."""
    target = "listings" if isinstance(item, SupplyListing) else "requests"
    searches = session.exec(select(SavedSearch).where(SavedSearch.target == target)).all()
    if not searches:
        return []
    members = {
        m.id: m
        for m in session.exec(
            select(Member).where(col(Member.id).in_({s.member_id for s in searches}))
        )
    }
    created: list[Notification] = []
    for search in searches:
        member = members.get(search.member_id)
        if member is None or not member.active or member.organization_id == item.organization_id:
            continue
        filters = parse_listing_filters(json.loads(search.query))
        run = search_listings if target == "listings" else search_requests
        page = run(session, member.organization_id, filters, 1, 10_000, today=today)
        ids = {(r.listing if target == "listings" else r.request).id for r in page.items}
        if item.id not in ids:
            continue
        key = f"{target}:{item.id}:search:{search.id}"
        exists = session.exec(
            select(Notification.id).where(
                Notification.member_id == member.id, Notification.dedupe_key == key
            )
        ).first()
        if exists:
            continue
        message = (
            N_("New supply listing matches your search “%(name)s”.")
            if target == "listings"
            else N_("New offtake request matches your search “%(name)s”.")
        )
        note = Notification(
            member_id=member.id,
            message=message,
            params=json.dumps({"name": search.name}, ensure_ascii=False),
            link=f"/{'listings' if target == 'listings' else 'requests'}/{item.id}",
            dedupe_key=key,
        )
        session.add(note)
        created.append(note)
    session.flush()
    return created


def notifications(
    session: Session, member_id: int, unread_only: bool = False
) -> list[Notification]:
    query = select(Notification).where(Notification.member_id == member_id)
    if unread_only:
        query = query.where(Notification.read_at == None)  # noqa: E711
    return list(session.exec(query.order_by(col(Notification.created_at).desc()).limit(200)))


def mark_read(session: Session, member_id: int, notification_id: int) -> Notification:
    note = session.get(Notification, notification_id)
    if note is None or note.member_id != member_id:
        raise NotFound("No such notification.")
    if note.read_at is None:
        note.read_at = utcnow()
        session.add(note)
    return note
