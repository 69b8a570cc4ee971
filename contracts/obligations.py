"""Monthly delivery obligations: what each active contract owes in a month, and the band its
monthly tolerance allows.

A contract month is a calendar month in Asia/Tokyo. For each active contract whose term
covers the month, the scheduler opens one obligation: due = the signed terms' monthly
tonnes; the band is due ± due × monthly tolerance % (half-up to whole kilograms; the minimum
never below zero); due date the month's last day. When the month is over, the scheduler closes
it: no more deliveries are recorded against it.

Both are set-based (one query for the candidates, batched inserts or one UPDATE, events
appended to all the chains in a few statements; `contracts.batches`) and idempotent by the
unique (contract, month) key: running them twice, concurrently, or after a crash opens or
closes nothing twice, and each contract's chain gets exactly one `obligation.opened` /
`obligation.closed` event per month.

Who may:
- open and close months: the marketplace operator (`OPERATE_MARKETPLACE`; the scheduler and
  the command line act as `participants.actors.SYSTEM`);
- read a contract's obligations: members of the two parties, whatever their organisation's
  state (`contracts.deliveries.SEE_DELIVERIES`); anyone else: no such contract (NotFound).
Functions flush, never commit.
"""

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import exists, extract, update
from sqlmodel import Session, and_, col, select

from contracts.batches import NewEvent, append_events, insert_new
from contracts.models import (
    ContractStatus,
    ContractTerms,
    DeliveryObligation,
    ObligationStatus,
    OfftakeContract,
)
from participants.actors import OPERATE_MARKETPLACE, Actor
from participants.columns import utcnow


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def last_day_of_month(month: date) -> date:
    """The due date of a contract month: its last calendar day."""
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def month_index(month: date) -> int:
    """Months since year 0 (January 2027 → 2027 × 12 + 1): month arithmetic as integers."""
    return month.year * 12 + month.month


def previous_month(month: date) -> date:
    index = month_index(month) - 2
    return date(index // 12, index % 12 + 1, 1)


def in_term(start_month: date, term_months: int, month: date) -> bool:
    """True when `month` is one of the term's months (start … start + term − 1)."""
    start = month_index(first_of_month(start_month))
    return start <= month_index(month) < start + term_months


def monthly_band(due_kg: int, tolerance_pct: Decimal) -> tuple[int, int]:
    """(min, max) kg a month may deliver: due ∓ due × tolerance %, half-up to whole kg."""
    band = int((Decimal(due_kg) * Decimal(tolerance_pct) / 100).quantize(1, ROUND_HALF_UP))
    return max(0, due_kg - band), due_kg + band


@dataclass(frozen=True)
class MonthOpened:
    month: date
    candidates: int  # active contracts in term without an obligation for the month (read)
    opened: int  # obligations this run inserted (a concurrent run may have taken the rest)
    events: int


@dataclass(frozen=True)
class MonthsClosed:
    months: list[date]
    closed: int
    events: int


def _say(progress: Callable[[str], None] | None, message: str) -> None:
    if progress is not None:
        progress(message)


def open_month(
    session: Session,
    actor: Actor,
    month: date,
    progress: Callable[[str], None] | None = None,
) -> MonthOpened:
    """Open `month`'s obligation of every active contract whose term covers it (the signed
    version's terms); contracts that already have it are left alone. Flushes."""
    OPERATE_MARKETPLACE.check(actor)
    month = first_of_month(month)
    wanted = month_index(month)
    C, T, Ob = OfftakeContract, ContractTerms, DeliveryObligation
    start = extract("year", T.start_month) * 12 + extract("month", T.start_month)
    _say(progress, f"reading active contracts for {month:%Y-%m} …")
    candidates = session.exec(
        select(C.id, T.id, T.monthly_kg, T.tolerance_pct)
        .join(T, and_(T.contract_id == C.id, T.version == C.active_version))
        .where(
            C.status == ContractStatus.ACTIVE,
            start <= wanted,
            start + T.term_months > wanted,
            ~exists().where(Ob.contract_id == C.id, Ob.month == month),
        )
        .order_by(C.id)
    ).all()
    now = utcnow()
    due_on = last_day_of_month(month)
    rows = []
    for contract_id, terms_id, monthly_kg, tolerance_pct in candidates:
        low, high = monthly_band(monthly_kg, tolerance_pct)
        rows.append(
            {
                "contract_id": contract_id,
                "terms_id": terms_id,
                "month": month,
                "due_on": due_on,
                "due_kg": monthly_kg,
                "min_kg": low,
                "max_kg": high,
                "delivered_kg": 0,
                "status": ObligationStatus.OPEN.value,
                "opened_at": now,
            }
        )
    _say(progress, f"opening {len(rows)} obligations …")
    inserted = insert_new(
        session,
        Ob.__table__,
        rows,
        key=("contract_id", "month"),
        returning=("id", "contract_id", "due_kg", "min_kg", "max_kg"),
    )
    _say(progress, f"appending {len(inserted)} events …")
    label = month.strftime("%Y-%m")
    events = append_events(
        session,
        [
            NewEvent(
                contract_id,
                "obligation.opened",
                {"obligation": oid, "month": label, "due_kg": due, "min_kg": low, "max_kg": high},
            )
            for oid, contract_id, due, low, high in inserted
        ],
        actor,
    )
    return MonthOpened(month, len(candidates), len(inserted), events)


def close_months(
    session: Session,
    actor: Actor,
    today: date,
    progress: Callable[[str], None] | None = None,
) -> MonthsClosed:
    """Close every open obligation of a month before `today`'s (a date in Asia/Tokyo): one
    conditional UPDATE, so only the run that closes a month appends its events. Flushes."""
    OPERATE_MARKETPLACE.check(actor)
    Ob = DeliveryObligation
    session.flush()
    _say(progress, f"closing the months before {today:%Y-%m} …")
    closed = session.execute(
        update(Ob)
        .where(Ob.status == ObligationStatus.OPEN, Ob.month < first_of_month(today))
        .values(status=ObligationStatus.CLOSED, closed_at=utcnow())
        .returning(Ob.id, Ob.contract_id, Ob.month, Ob.delivered_kg)
        .execution_options(synchronize_session=False)
    ).all()
    _forget_obligations(session, {row[0] for row in closed})
    _say(progress, f"appending {len(closed)} events …")
    events = append_events(
        session,
        [
            NewEvent(
                contract_id,
                "obligation.closed",
                {"obligation": oid, "month": month.strftime("%Y-%m"), "delivered_kg": kg},
            )
            for oid, contract_id, month, kg in sorted(closed, key=lambda r: (r[1], r[2]))
        ],
        actor,
    )
    return MonthsClosed(sorted({row[2] for row in closed}), len(closed), events)


def _forget_obligations(session: Session, ids: set[int]) -> None:
    for obj in list(session.identity_map.values()):
        if isinstance(obj, DeliveryObligation) and obj.id in ids:
            session.expire(obj)


def obligations_of_contract(session: Session, contract_id: int) -> list[DeliveryObligation]:
    """A contract's obligations by month (the caller has checked that the actor may see it)."""
    return list(
        session.exec(
            select(DeliveryObligation)
            .where(DeliveryObligation.contract_id == contract_id)
            .order_by(col(DeliveryObligation.month))
        ).all()
    )
