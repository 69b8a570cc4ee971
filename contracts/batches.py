"""Set-based writes of the scheduled jobs: rows inserted once by their unique key, and one
event appended to each of many contracts' chains in a few statements.

The jobs touch every active contract of the marketplace at once (10,000 and more): a loop of
single-row round trips would take minutes. These functions write in batches and stay exactly
as safe as the single-row versions:
- `insert_new` inserts with ``ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite) and returns the
  rows actually inserted now, so a second run, a concurrent one (which waits for the first to
  commit and then finds its rows) or a run after a crash never inserts a row twice;
- `append_events` follows the rule of `contracts.events` (the same hashed content; the head of
  each chain moves only by a conditional UPDATE from the head read before): heads are read in
  one query, moved in one batched UPDATE, and the events inserted in one batched INSERT; a
  chain whose head another transaction moved meanwhile gets its events through
  `contracts.events.append_event`, which retries.
Both flush and never commit: the caller owns the transaction.
"""

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from contracts.events import append_event, event_content
from contracts.models import ContractEvent, OfftakeContract
from participants.actors import Actor
from participants.columns import utcnow
from quality.certificates import canonical_json, content_sha256

CHUNK = 1000  # ids in one IN list / rows in one statement
COPY_FROM = 200  # rows from which PostgreSQL inserts go through COPY


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert_new(
    session: Session,
    table: Table,
    rows: list[dict[str, Any]],
    key: Sequence[str],
    returning: Sequence[str],
) -> list[Any]:
    """Insert the rows whose unique `key` columns are not taken yet; the inserted rows'
    `returning` columns. SQLite: batched multi-row INSERTs, one statement per 1,000 rows.
    PostgreSQL, from `COPY_FROM` rows: the rows are copied (COPY) into a temporary table dropped at commit, then moved
    by one ``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING`` — the same once-only rule
    without the driver parsing thousands of placeholders."""
    if not rows:
        return []
    session.flush()
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name == "postgresql" and len(rows) >= COPY_FROM:
        return _insert_new_by_copy(connection, table, rows, key, returning)
    insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table).on_conflict_do_nothing(index_elements=list(key))
    stmt = stmt.returning(*(table.c[name] for name in returning))
    inserted: list[Any] = []
    for part in chunks(rows):
        inserted.extend(connection.execute(stmt, list(part)).all())
    return inserted


def _insert_new_by_copy(
    connection: Any,
    table: Table,
    rows: list[dict[str, Any]],
    key: Sequence[str],
    returning: Sequence[str],
) -> list[Any]:
    quote = connection.dialect.identifier_preparer.quote
    target = connection.dialect.identifier_preparer.format_table(table)
    names = list(rows[0])
    columns = ", ".join(quote(name) for name in names)
    staging = quote(f"_new_{table.name}_{uuid.uuid4().hex[:12]}")
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS "
        f"SELECT {columns} FROM {target} WITH NO DATA"
    )
    _copy(connection, staging, table, names, rows)
    keys = ", ".join(quote(name) for name in key)
    back = ", ".join(quote(name) for name in returning)
    result = connection.exec_driver_sql(
        f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {staging} "
        f"ON CONFLICT ({keys}) DO NOTHING RETURNING {back}"
    ).all()
    connection.exec_driver_sql(f"DROP TABLE {staging}")
    return result


def _copy(
    connection: Any, target: str, table: Table, names: list[str], rows: list[dict[str, Any]]
) -> None:
    """COPY `rows` into `target` (a quoted table name), through `table`'s columns' bind
    processing as in any INSERT."""
    processors = [table.c[name].type.bind_processor(connection.dialect) for name in names]
    quote = connection.dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    with connection.connection.driver_connection.cursor() as cursor:
        with cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [
                        process(row[name]) if process else row[name]
                        for name, process in zip(names, processors, strict=True)
                    ]
                )


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> int:
    """Insert rows that cannot conflict (no returning): on PostgreSQL one COPY stream (a
    1,000-row multi-VALUES INSERT costs the driver a tenth of a second just to parse its
    placeholders), elsewhere batched INSERTs. Values go through the columns' bind processing
    as in any INSERT. In the session's transaction; flushes first."""
    if not rows:
        return 0
    session.flush()
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        for part in chunks(rows):
            connection.execute(table.insert(), list(part))
        return len(rows)
    target = connection.dialect.identifier_preparer.format_table(table)
    _copy(connection, target, table, list(rows[0]), rows)
    return len(rows)


def new_ids(session: Session, table: Table, count: int) -> list[int] | None:
    """`count` ids from the PostgreSQL sequence of `table.id` (None elsewhere): rows written
    with `insert_rows` then need no RETURNING."""
    if count <= 0 or session.get_bind().dialect.name != "postgresql":
        return None
    return list(
        session.connection()
        .execute(
            text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
            {"t": table.name, "n": count},
        )
        .scalars()
        .all()
    )


@dataclass(frozen=True)
class NewEvent:
    """An event to append to one contract's chain."""

    contract_id: int
    kind: str
    detail: dict


def append_events(session: Session, events: Sequence[NewEvent], actor: Actor | None) -> int:
    """Append the events, each to its contract's chain (in the given order within a contract);
    returns how many were appended. Flushes; the caller commits."""
    if not events:
        return 0
    session.flush()
    member_id = actor.member_id if actor else None
    org_id = actor.organization_id if actor else None
    by_contract: dict[int, list[NewEvent]] = {}
    for event in events:
        by_contract.setdefault(event.contract_id, []).append(event)
    ids = sorted(by_contract)  # one lock order for every batch
    contracts = OfftakeContract.__table__
    connection = session.connection()
    heads: dict[int, tuple[int, str]] = {}
    for part in chunks(ids):
        for cid, seq, sha in connection.execute(
            select(contracts.c.id, contracts.c.last_event_seq, contracts.c.last_event_sha256).where(
                contracts.c.id.in_(part)
            )
        ):
            heads[cid] = (seq, sha)

    at = utcnow()
    rows: dict[int, list[dict[str, Any]]] = {}
    moves: list[dict[str, Any]] = []
    for cid in ids:
        if cid not in heads:
            continue  # no such contract: nothing to chain to
        prev_seq, prev_sha = heads[cid]
        seq, sha = prev_seq, prev_sha
        chain: list[dict[str, Any]] = []
        for event in by_contract[cid]:
            detail = json.loads(canonical_json(event.detail or {}))
            content = event_content(cid, seq + 1, event.kind, at, member_id, org_id, detail, sha)
            new_sha = content_sha256(content)
            chain.append(
                {
                    "contract_id": cid,
                    "seq": seq + 1,
                    "kind": event.kind,
                    "at": at,
                    "actor_member_id": member_id,
                    "actor_organization_id": org_id,
                    "detail": canonical_json(detail).decode("utf-8"),
                    "prev_sha256": sha,
                    "sha256": new_sha,
                }
            )
            seq, sha = seq + 1, new_sha
        rows[cid] = chain
        moves.append({"b_id": cid, "b_prev": prev_seq, "b_seq": seq, "b_sha": sha})

    _move_heads(connection, moves)
    # Which heads moved: ours now carries the hash we computed (it covers time and content, so
    # no other transaction's head can carry it); our UPDATE holds those rows until we commit.
    wanted = {m["b_id"]: m["b_sha"] for m in moves}
    moved: set[int] = set()
    for part in chunks(list(wanted)):
        for cid, sha in connection.execute(
            select(contracts.c.id, contracts.c.last_event_sha256).where(contracts.c.id.in_(part))
        ):
            if sha == wanted[cid]:
                moved.add(cid)

    inserts = [row for cid in ids if cid in moved for row in rows[cid]]
    appended = insert_rows(session, ContractEvent.__table__, inserts)
    for cid in ids:  # raced: another transaction moved the head between our read and update
        if cid in rows and cid not in moved:
            for event in by_contract[cid]:
                append_event(session, cid, event.kind, actor, event.detail)
                appended += 1
    _forget_heads(session, moved)
    return appended


# PostgreSQL: each chunk of heads moves in one statement over arrays (an executemany would
# send one UPDATE a contract).
MOVE_HEADS_PG = text(
    "UPDATE offtakecontract AS c SET last_event_seq = v.seq, last_event_sha256 = v.sha "
    "FROM unnest(CAST(:ids AS integer[]), CAST(:prev AS integer[]), CAST(:seq AS integer[]), "
    "CAST(:sha AS varchar[])) AS v(id, prev, seq, sha) "
    "WHERE c.id = v.id AND c.last_event_seq = v.prev"
)


def _move_heads(connection, moves: list[dict[str, Any]]) -> None:
    """Move each chain head from the sequence number read before (a conditional UPDATE)."""
    if connection.dialect.name == "postgresql":
        for part in chunks(moves):
            connection.execute(
                MOVE_HEADS_PG,
                {
                    "ids": [m["b_id"] for m in part],
                    "prev": [m["b_prev"] for m in part],
                    "seq": [m["b_seq"] for m in part],
                    "sha": [m["b_sha"] for m in part],
                },
            )
        return
    contracts = OfftakeContract.__table__
    move = (
        update(contracts)
        .where(
            contracts.c.id == bindparam("b_id"), contracts.c.last_event_seq == bindparam("b_prev")
        )
        .values(last_event_seq=bindparam("b_seq"), last_event_sha256=bindparam("b_sha"))
    )
    for part in chunks(moves):
        connection.execute(move, list(part))


def _forget_heads(session: Session, contract_ids: set[int]) -> None:
    """Contracts loaded in the session re-read their chain head (it moved under them)."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, OfftakeContract) and obj.id in contract_ids:
            session.expire(obj, ["last_event_seq", "last_event_sha256"])
