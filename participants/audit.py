"""The audit log: one append-only entry per operator or administrator action."""

import json

from sqlmodel import Session, col, select

from participants.actors import OPERATE_MARKETPLACE, Actor
from participants.models import AuditEntry, Member


def record_audit(
    session: Session,
    actor: Actor | None,
    action: str,
    target_type: str,
    target_id: int | None,
    detail: dict | None = None,
) -> AuditEntry:
    """Append one audit-log entry (`actor` None or SYSTEM: the marketplace itself, e.g. a job)."""
    entry = AuditEntry(
        actor_member_id=actor.member_id if actor else None,
        actor_organization_id=actor.organization_id if actor else None,
        action=action,
        target_type=target_type,
        target_id=target_id,
        detail=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True),
    )
    session.add(entry)
    return entry


def audit_log(actor: Actor):
    """The operator's query of the audit log, newest first (the caller pages it)."""
    OPERATE_MARKETPLACE.check(actor)
    return select(AuditEntry).order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())


def audit_actors(session: Session, actor: Actor, entries: list[AuditEntry]) -> dict[int, Member]:
    """The members who acted in these audit entries, by id (operator)."""
    OPERATE_MARKETPLACE.check(actor)
    ids = {e.actor_member_id for e in entries if e.actor_member_id is not None}
    if not ids:
        return {}
    return {m.id: m for m in session.exec(select(Member).where(col(Member.id).in_(ids))).all()}
