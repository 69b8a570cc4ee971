"""API: export and import records of critical scrap (movement records) and the record a draft
contract runs under. The rules live in `market.movements` and `contracts.crossborder`; the
pages call the same functions."""

from flask import g
from pydantic import BaseModel, ConfigDict, Field

from contracts.crossborder import (
    ContractUnderRecordOut,
    attach_movement_record,
    contract_under_out,
    contracts_under,
)
from contracts.negotiation import ContractDetailOut, contract_detail, contract_detail_out
from market.movements import (
    MovementRecordOut,
    RecordInput,
    create_record,
    read_record,
    record_out,
    records_query,
    update_record,
    withdraw_record,
)
from participants.fields import Id, Paging
from web.api import api_bp
from web.api.openapi import Page, operation
from web.db import get_db
from web.pagination import paginate
from web.views.contracts import send_contract_notices


class MovementRecordDetailOut(MovementRecordOut):
    """A movement record with the contracts running under it."""

    contracts: list[ContractUnderRecordOut]


class RecordsQuery(Paging):
    model_config = ConfigDict(extra="forbid")


class ContractRecordIn(BaseModel):
    """The movement record a draft runs under (null: none)."""

    model_config = ConfigDict(extra="forbid")
    movement_record_id: Id | None = Field(description="one of the caller's organisation's records")


def _detail(record_id: int) -> MovementRecordDetailOut:
    db, actor = get_db(), g.caller.actor
    record = read_record(db, actor, record_id)
    contracts = contracts_under(db, actor, record_id)
    return MovementRecordDetailOut(
        **record_out(record).model_dump(), contracts=[contract_under_out(c) for c in contracts]
    )


@api_bp.get("/movement-records")
@operation(
    "Export and import records",
    query=RecordsQuery,
    responses={200: Page[MovementRecordOut]},
    tag="movements",
)
def movement_records(query: RecordsQuery):
    """The caller's organisation's export and import records of critical materials (consents,
    notifications, confirmations), newest first; the marketplace operator sees every
    organisation's."""
    db = get_db()
    page = paginate(db, records_query(g.caller.actor), paging=query)
    return page.as_json([record_out(r).model_dump(mode="json") for r in page.items])


@api_bp.post("/movement-records")
@operation(
    "Create an export or import record",
    body=RecordInput,
    responses={201: MovementRecordDetailOut},
    errors=(403,),
    tag="movements",
)
def create_movement_record(body: RecordInput):
    """A record of the caller's organisation (traders and administrators of verified
    recyclers and manufacturers). 422: not a critical material, a route that does not apply to
    it, an unknown country code, export not from JP or import not into JP, validity ending
    before it starts, consented tonnes ≤ 0, the not-waste route without a certificate."""
    record = create_record(get_db(), g.caller.actor, body)
    get_db().commit()
    return _detail(record.id), 201


@api_bp.get("/movement-records/<int:record_id>")
@operation(
    "Read an export or import record",
    responses={200: MovementRecordDetailOut},
    tag="movements",
)
def movement_record(record_id: int):
    """One record with its committed and remaining tonnes and the contracts running under it
    (its organisation's members and the operator; 404 for anyone else)."""
    return _detail(record_id)


@api_bp.put("/movement-records/<int:record_id>")
@operation(
    "Change an export or import record",
    body=RecordInput,
    responses={200: MovementRecordDetailOut},
    errors=(403, 409),
    tag="movements",
)
def change_movement_record(record_id: int, body: RecordInput):
    """Replace a record's fields (a renewed or amended consent). 409: withdrawn; or contracts
    run under it and the change would drop the consent below the committed tonnes, shorten
    the validity, or change its material, direction or countries."""
    update_record(get_db(), g.caller.actor, record_id, body)
    get_db().commit()
    return _detail(record_id)


@api_bp.post("/movement-records/<int:record_id>/withdraw")
@operation(
    "Withdraw an export or import record",
    responses={200: MovementRecordDetailOut},
    errors=(403, 409),
    tag="movements",
)
def withdraw_movement_record(record_id: int):
    """Withdraw a record no contract has committed tonnes on (409 otherwise)."""
    withdraw_record(get_db(), g.caller.actor, record_id)
    get_db().commit()
    return _detail(record_id)


@api_bp.put("/contracts/<int:contract_id>/movement-record")
@operation(
    "Attach a movement record to a draft contract",
    body=ContractRecordIn,
    responses={200: ContractDetailOut},
    errors=(403, 409),
    tag="contracts",
)
def attach_contract_movement_record(contract_id: int, body: ContractRecordIn):
    """A party's trader or administrator names one of its organisation's active records as
    the one a draft runs under (null detaches). Signing checks that it covers the movement,
    the whole term and the term's tonnes. 422: another organisation's or a withdrawn record;
    409: the contract is no longer a draft."""
    db, actor = get_db(), g.caller.actor
    attach_movement_record(db, actor, contract_id, body.movement_record_id)
    db.commit()
    send_contract_notices(db)
    return contract_detail_out(contract_detail(db, actor, contract_id), actor)
