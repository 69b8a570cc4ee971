"""The tender lifecycle: one table of legal transitions and one function that performs them.

planning → active (enquiry period, then tender period: sealed bids) → evaluation (bids open
at the end of the tender period) → awarded (standstill period) → complete; cancelled or
unsuccessful end it from any open state. A transition is one conditional UPDATE from the state
the caller read, so two members (or a member and the scheduler) acting at once cannot both
move it: the loser gets a Conflict and nothing is written.
"""

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session

from market.models import Award, AwardStatus, Tender, TenderStatus
from participants.actors import Actor
from participants.audit import record_audit
from participants.columns import utcnow
from participants.errors import N_, Conflict
from quality.custody import release_reservation

S = TenderStatus
# An award holds its claim in the custody ledger under this source (quality.custody).
RESERVATION_SOURCE = "award"
OPEN_STATES = (S.PLANNING, S.ACTIVE, S.EVALUATION, S.AWARDED)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.PLANNING: (S.ACTIVE, S.CANCELLED),
    S.ACTIVE: (S.EVALUATION, S.CANCELLED, S.UNSUCCESSFUL),
    S.EVALUATION: (S.AWARDED, S.CANCELLED, S.UNSUCCESSFUL),
    S.AWARDED: (S.COMPLETE, S.EVALUATION, S.CANCELLED, S.UNSUCCESSFUL),
    S.COMPLETE: (),
    S.CANCELLED: (),
    S.UNSUCCESSFUL: (),
}


def sealed(tender: Tender, now: datetime | None = None) -> bool:
    """True while bids are sealed: until the tender period ends, nobody — the officer
    included — reads any bid's content but its own bidder."""
    return (now or utcnow()) < tender.tender_end


def can_move(source: str, target: str) -> bool:
    return target in TRANSITIONS.get(source, ())


def move_tender(session: Session, tender: Tender, target: str, **values: object) -> Tender:
    """Move the tender from the state it was read in to `target` (with other column values),
    or Conflict when that is not a legal step or another actor moved it first."""
    source = tender.status
    if not can_move(source, target):
        raise Conflict(
            N_("A tender that is %(status)s cannot become %(target)s."),
            "status",
            status=source,
            target=target,
        )
    moved = session.execute(
        update(Tender)
        .where(Tender.id == tender.id, Tender.status == source)
        .values(status=target, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    session.expire(tender)
    if moved.rowcount != 1:
        raise Conflict(N_("The tender has just been changed by someone else; reload it."))
    return tender


def withdraw_pending_award(
    session: Session, tender: Tender, award: Award, reason: str, actor: Actor | None = None
) -> Award:
    """Cancel a pending award and release its custody reservation (with the reason in the
    audit log); the caller moves the tender (back to evaluation, or to cancelled when the
    tenders area cancels an awarded tender) and has checked who acts. Conflict when the
    award is no longer pending."""
    cancelled = session.execute(
        update(Award)
        .where(Award.id == award.id, Award.status == AwardStatus.PENDING)
        .values(status=AwardStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    if cancelled.rowcount != 1:
        raise Conflict(N_("The tender has just been changed by someone else; reload it."))
    session.expire(award)
    release_reservation(
        session,
        source=RESERVATION_SOURCE,
        source_id=award.id,
        note=reason[:300],
        member_id=actor.member_id if actor else None,
    )
    record_audit(
        session,
        actor,
        "tender.award_cancelled",
        "award",
        award.id,
        {"tender": tender.id, "bid": award.bid_id, "reason": reason},
    )
    return award
