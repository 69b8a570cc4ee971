"""The tamper-evident audit trail of a contract: append-only events in a hash chain.

Each event's SHA-256 covers its canonical content (contract, sequence number, kind, time,
actor, detail) and the SHA-256 of the event before it, so changing, removing or reordering any
event breaks every hash after it. The contract row keeps the head of the chain; appending moves
the head with one conditional UPDATE, so two events appended at once can never both take the
same place (the loser reads the new head and tries again).
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from contracts.models import ContractEvent, OfftakeContract
from participants.actors import Actor
from participants.columns import utcnow
from participants.errors import Conflict, NotFound
from quality.certificates import canonical_json, content_sha256

MAX_ATTEMPTS = 20


def event_content(
    contract_id: int,
    seq: int,
    kind: str,
    at: datetime,
    actor_member_id: int | None,
    actor_organization_id: int | None,
    detail: dict,
    prev_sha256: str,
) -> dict:
    """What an event's hash covers (times to the microsecond, in UTC)."""
    return {
        "contract": contract_id,
        "seq": seq,
        "kind": kind,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_member": actor_member_id,
        "actor_organization": actor_organization_id,
        "detail": detail,
        "prev": prev_sha256,
    }


def append_event(
    session: Session, contract_id: int, kind: str, actor: Actor | None, detail: dict | None = None
) -> ContractEvent:
    """Append one event to a contract's chain (flushes; the caller commits)."""
    detail = json.loads(canonical_json(detail or {}))  # plain JSON values only
    member_id = actor.member_id if actor else None
    org_id = actor.organization_id if actor else None
    for _ in range(MAX_ATTEMPTS):
        head = session.exec(
            select(OfftakeContract.last_event_seq, OfftakeContract.last_event_sha256).where(
                OfftakeContract.id == contract_id
            )
        ).first()
        if head is None:
            raise NotFound("No such contract.")
        prev_seq, prev_sha = head
        at = utcnow()
        content = event_content(
            contract_id, prev_seq + 1, kind, at, member_id, org_id, detail, prev_sha
        )
        sha = content_sha256(content)
        moved = session.execute(
            update(OfftakeContract)
            .where(OfftakeContract.id == contract_id, OfftakeContract.last_event_seq == prev_seq)
            .values(last_event_seq=prev_seq + 1, last_event_sha256=sha)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount == 1:
            event = ContractEvent(
                contract_id=contract_id,
                seq=prev_seq + 1,
                kind=kind,
                at=at,
                actor_member_id=member_id,
                actor_organization_id=org_id,
                detail=canonical_json(detail).decode("utf-8"),
                prev_sha256=prev_sha,
                sha256=sha,
            )
            session.add(event)
            session.flush()
            contract = session.get(OfftakeContract, contract_id)
            if contract is not None:
                session.refresh(contract, ["last_event_seq", "last_event_sha256"])
            return event
        session.expire_all()
    raise Conflict("The contract is busy; try again.")


@dataclass(frozen=True)
class ChainReport:
    """Whether a contract's events still form an unbroken chain, and where it breaks."""

    contract_id: int
    events: int
    intact: bool
    broken_at: int | None = None  # the first sequence number that does not verify
    reason: str = ""


def events_of(session: Session, contract_id: int) -> list[ContractEvent]:
    return list(
        session.exec(
            select(ContractEvent)
            .where(ContractEvent.contract_id == contract_id)
            .order_by(col(ContractEvent.seq))
        ).all()
    )


def verify_chain(session: Session, contract_id: int) -> ChainReport:
    """Recompute every hash of a contract's chain and compare it with the stored head."""
    contract = session.get(OfftakeContract, contract_id)
    if contract is None:
        raise NotFound("No such contract.")
    prev, expected_seq = "", 1
    events = events_of(session, contract_id)
    for event in events:
        if event.seq != expected_seq:
            return ChainReport(contract_id, len(events), False, expected_seq, "an event is missing")
        if event.prev_sha256 != prev:
            return ChainReport(contract_id, len(events), False, event.seq, "the link is broken")
        content = event_content(
            contract_id,
            event.seq,
            event.kind,
            event.at,
            event.actor_member_id,
            event.actor_organization_id,
            json.loads(event.detail or "{}"),
            event.prev_sha256,
        )
        if content_sha256(content) != event.sha256:
            return ChainReport(contract_id, len(events), False, event.seq, "an event was changed")
        prev, expected_seq = event.sha256, expected_seq + 1
    if (contract.last_event_seq, contract.last_event_sha256) != (len(events), prev):
        return ChainReport(
            contract_id, len(events), False, len(events) + 1, "the last events are missing"
        )
    return ChainReport(contract_id, len(events), True)
