"""Critical-scrap movements across Japan's border: export and import records (consents), and
the rule that a listing, request or contract moving a critical material across the border
runs under a valid one.

A *movement* exists when a critical material (`quality.export_regimes`) leaves one country for
another and one of them is Japan: out of Japan is an export, into Japan an import. Where it is
decided:
- a listing: from its organisation's country to its delivery country (a German recycler's
  e-scrap delivered CIF Yokohama is an import; black mass delivered CIF Busan an export);
- a request: from its delivery country to its organisation's country (a foreign buyer taking
  delivery FOB a Japanese port exports);
- a contract: from the seller's country to the buyer's, or to the delivery country when both
  parties are in one country (`contracts.crossborder`).

A *movement record* belongs to one organisation (exporter or importer) and carries the legal
route, the notification/consent reference, the competent authorities, the countries of export,
transit and import, the validity (dates, inclusive) and the consented tonnes. Publishing a
listing or request, and signing a contract, that needs one and lacks a valid one is refused
(409) with what is missing; a contract commits its whole term's tonnes on the record at
activation through one conditional UPDATE (`commit_consent`), so the committed tonnes never
exceed the consent and never outlive its validity, even when two contracts activate at once.

Who may do what (checked here): traders and administrators of a verified recycler or
manufacturer manage their organisation's records (`MANAGE_MOVEMENTS`); members read their
organisation's records; the operator reads all of them (the export watch). Anyone else: 404.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import update
from sqlmodel import Session, col, select

from market.models import (
    MovementDirection,
    MovementRecord,
    MovementRecordStatus,
    OfftakeRequest,
    SupplyListing,
)
from participants.actors import Actor, permission
from participants.audit import record_audit
from participants.columns import utcnow
from participants.countries import CountryCode, check_country
from participants.errors import N_, Conflict, NotFound, ValidationFailed
from participants.fields import Day, Line, Paragraphs, Tonnes
from participants.models import Organization, OrgKind, Role
from quality.custody import citable_certificates
from quality.export_regimes import Route, regime_of
from quality.models import Assay, Material

JAPAN = "JP"
KG = Decimal(1000)
MAX_TRANSIT = 10

MANAGE_MOVEMENTS = permission(
    N_("Only traders and administrators of recyclers and manufacturers manage movement records."),
    kinds=[OrgKind.RECYCLER, OrgKind.MANUFACTURER],
    roles=[Role.TRADER, Role.ADMIN],
)


# ---------------------------------------------------------------------------------------------
# Which movements need a record


@dataclass(frozen=True)
class Movement:
    """A material leaving `origin` for `destination` (ISO alpha-2), one of them Japan."""

    direction: MovementDirection
    origin: str
    destination: str


def movement(origin: str, destination: str) -> Movement | None:
    """The movement from `origin` to `destination`, or None when it does not cross Japan's
    border (the same country, or two foreign countries)."""
    if origin == destination:
        return None
    if origin == JAPAN:
        return Movement(MovementDirection.EXPORT, origin, destination)
    if destination == JAPAN:
        return Movement(MovementDirection.IMPORT, origin, destination)
    return None


def is_critical(session: Session, material_code: str) -> bool:
    material = session.exec(select(Material).where(Material.code == material_code)).first()
    return bool(material and material.critical and regime_of(material_code))


def listing_movement(session: Session, listing: SupplyListing) -> Movement | None:
    """The movement a listing of a critical material makes, or None."""
    if not is_critical(session, listing.material_code):
        return None
    org = session.get(Organization, listing.organization_id)
    return movement(org.country, listing.delivery_country)


def request_movement(session: Session, request: OfftakeRequest) -> Movement | None:
    """The movement a request of a critical material makes, or None."""
    if not is_critical(session, request.material_code):
        return None
    org = session.get(Organization, request.organization_id)
    return movement(request.delivery_country, org.country)


# ---------------------------------------------------------------------------------------------
# Is a record valid for a movement?


def _t(kg: int, grouped: bool = True) -> str:
    """Tonnes with kg precision: "1,234.500" in messages, "1234.500" in API output."""
    return f"{Decimal(kg) / KG:{',' if grouped else ''}.3f}"


def problems(
    session: Session,
    record: MovementRecord | None,
    holders: set[int],
    material_code: str,
    move: Movement,
    first_day: date,
    last_day: date,
    need_kg: int = 1,
) -> list[tuple[str, dict]]:
    """What keeps `record` from covering `move` of `material_code` from `first_day` to
    `last_day` (inclusive) for `need_kg`: (untranslated message, params) pairs; [] when valid.
    `holders`: the organisations whose records may be used (the lister; a contract's parties).
    """
    regime = regime_of(material_code)
    routes = ", ".join(r.value for r in regime.routes) if regime else ""
    base = {
        "material": material_code,
        "origin": move.origin,
        "destination": move.destination,
        "direction": move.direction.value,
        "routes": routes,
    }
    if record is None:
        return [
            (
                N_(
                    "%(material)s from %(origin)s to %(destination)s crosses Japan's border: "
                    "it needs a valid %(direction)s record (route: %(routes)s) with its consent "
                    "reference, countries, validity and consented tonnes; none is attached."
                ),
                base,
            )
        ]
    found: list[tuple[str, dict]] = []
    rid = {"id": record.id}
    if record.organization_id not in holders:
        return [(N_("Movement record %(id)s is not one of your organisation's."), rid)]
    if record.status != MovementRecordStatus.ACTIVE:
        found.append((N_("Movement record %(id)s is withdrawn."), rid))
    if record.material_code != material_code:
        found.append(
            (
                N_("Movement record %(id)s is for %(record_material)s, not %(material)s."),
                rid | {"record_material": record.material_code, "material": material_code},
            )
        )
    if (
        record.direction != move.direction
        or record.country_export != move.origin
        or record.country_import != move.destination
    ):
        found.append(
            (
                N_(
                    "Movement record %(id)s covers %(record_origin)s to %(record_destination)s,"
                    " not %(origin)s to %(destination)s."
                ),
                rid
                | {
                    "record_origin": record.country_export,
                    "record_destination": record.country_import,
                    "origin": move.origin,
                    "destination": move.destination,
                },
            )
        )
    if record.valid_from > first_day or record.valid_until < last_day:
        found.append(
            (
                N_(
                    "Movement record %(id)s is valid from %(valid_from)s to %(valid_until)s, "
                    "which does not cover %(first)s to %(last)s."
                ),
                rid
                | {
                    "valid_from": record.valid_from.isoformat(),
                    "valid_until": record.valid_until.isoformat(),
                    "first": first_day.isoformat(),
                    "last": last_day.isoformat(),
                },
            )
        )
    if record.remaining_kg < need_kg:
        found.append(
            (
                N_(
                    "Movement record %(id)s has %(remaining)s t of its consent left; %(needed)s t"
                    " are needed."
                ),
                rid | {"remaining": _t(record.remaining_kg), "needed": _t(need_kg)},
            )
        )
    return found


class MovementRecordMissing(Conflict):
    """A critical movement without a valid record: 409 with every missing piece, joined."""

    def __init__(self, found: list[tuple[str, dict]], field: str = "movement_record_id"):
        message, params = found[0]
        super().__init__(message, field=field, **params)
        self.all = found


def require_record(
    session: Session,
    record_id: int | None,
    holders: set[int],
    material_code: str,
    move: Movement,
    first_day: date,
    last_day: date,
    need_kg: int = 1,
) -> MovementRecord:
    """The valid record, or MovementRecordMissing (409) saying what is missing."""
    record = session.get(MovementRecord, record_id) if record_id else None
    found = problems(session, record, holders, material_code, move, first_day, last_day, need_kg)
    if found:
        raise MovementRecordMissing(found)
    return record


def require_listing_record(session: Session, listing: SupplyListing, today: date) -> None:
    """Publishing check: a critical listing crossing the border has a valid record of its
    organisation, valid from today (or its first month) and with consented tonnes left."""
    move = listing_movement(session, listing)
    if move is None:
        return
    first = max(today, listing.available_from)
    require_record(
        session,
        listing.movement_record_id,
        {listing.organization_id},
        listing.material_code,
        move,
        first,
        first,
    )


def require_request_record(session: Session, request: OfftakeRequest, today: date) -> None:
    """Publishing check of a request (the same rule as a listing's)."""
    move = request_movement(session, request)
    if move is None:
        return
    first = max(today, request.start_month)
    require_record(
        session,
        request.movement_record_id,
        {request.organization_id},
        request.material_code,
        move,
        first,
        first,
    )


# ---------------------------------------------------------------------------------------------
# Consented tonnes: one conditional UPDATE each way


def commit_consent(
    session: Session, record_id: int, kg: int, first_day: date, last_day: date
) -> None:
    """Commit `kg` on an active record whose validity covers `first_day`..`last_day`; never
    beyond the consented tonnes, even concurrently (the database checks and adds at once)."""
    if kg <= 0:
        raise ValidationFailed("The volume must be more than zero.", field="consented_t")
    result = session.execute(
        update(MovementRecord)
        .where(
            MovementRecord.id == record_id,
            MovementRecord.status == MovementRecordStatus.ACTIVE,
            MovementRecord.valid_from <= first_day,
            MovementRecord.valid_until >= last_day,
            MovementRecord.committed_kg + kg <= MovementRecord.consented_kg,
        )
        .values(committed_kg=MovementRecord.committed_kg + kg, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(
            N_(
                "The movement record's consent does not cover %(needed)s t more from %(first)s "
                "to %(last)s."
            ),
            field="movement_record_id",
            needed=_t(kg),
            first=first_day.isoformat(),
            last=last_day.isoformat(),
        )
    _refresh(session, record_id)


def release_consent(session: Session, record_id: int, kg: int) -> None:
    """Give back `kg` committed on a record; never below zero (one conditional UPDATE)."""
    if kg <= 0:
        return
    result = session.execute(
        update(MovementRecord)
        .where(MovementRecord.id == record_id, MovementRecord.committed_kg >= kg)
        .values(committed_kg=MovementRecord.committed_kg - kg, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("The movement record holds less committed volume than is being released.")
    _refresh(session, record_id)


def _refresh(session: Session, record_id: int) -> None:
    record = session.get(MovementRecord, record_id)
    if record is not None:
        session.refresh(record)


# ---------------------------------------------------------------------------------------------
# Records: input, create, change, withdraw, read


class RecordInput(BaseModel):
    """An export or import record of a critical material (page form fields and API body)."""

    model_config = ConfigDict(extra="forbid")
    direction: MovementDirection
    material: Line(40, min_length=1) = Field(description="a critical material code")
    route: Route
    reference: Line(80, min_length=1) = Field(
        description="notification, consent or confirmation number"
    )
    authorities: Line(300) = Field(default="", description="competent authorities")
    country_export: CountryCode
    countries_transit: list[CountryCode] = Field(default_factory=list, max_length=MAX_TRANSIT)
    country_import: CountryCode
    valid_from: Day
    valid_until: Day = Field(description="last day of validity (inclusive)")
    consented_t: Tonnes = Field(description="consented tonnes (more than zero)")
    certificate_id: Line(32) | None = Field(
        default=None, description="evidence of grade; required for the not_waste route"
    )
    note: Paragraphs(500) = ""


def _kg(tonnes: Decimal) -> int:
    if tonnes <= 0:
        raise ValidationFailed("The consented tonnes must be more than zero.", field="consented_t")
    if tonnes != tonnes.quantize(Decimal("0.001")):
        raise ValidationFailed("Tonnes have at most three decimals (kg).", field="consented_t")
    return int(tonnes * KG)


def _check(session: Session, actor: Actor, data: RecordInput) -> dict:
    """Cross-field rules; the column values of a valid record."""
    material = session.exec(select(Material).where(Material.code == data.material)).first()
    regime = regime_of(data.material)
    if material is None:
        raise ValidationFailed("Unknown material code.", field="material")
    if not material.critical or regime is None:
        raise ValidationFailed(
            N_(
                "%(material)s is not a critical material: its movements need no export or "
                "import record."
            ),
            field="material",
            material=data.material,
        )
    if data.route not in regime.routes:
        raise ValidationFailed(
            N_("The route %(route)s does not apply to %(material)s: use %(routes)s."),
            field="route",
            route=data.route.value,
            material=data.material,
            routes=", ".join(r.value for r in regime.routes),
        )
    export = check_country(data.country_export, "country_export")
    import_ = check_country(data.country_import, "country_import")
    transit = [check_country(c, "countries_transit") for c in data.countries_transit]
    if export == import_:
        raise ValidationFailed(
            "The countries of export and import must differ.", field="country_import"
        )
    if data.direction == MovementDirection.EXPORT and export != JAPAN:
        raise ValidationFailed("An export record leaves Japan: JP exports.", field="country_export")
    if data.direction == MovementDirection.IMPORT and import_ != JAPAN:
        raise ValidationFailed("An import record enters Japan: JP imports.", field="country_import")
    if set(transit) & {export, import_}:
        raise ValidationFailed(
            "A transit country is neither the country of export nor of import.",
            field="countries_transit",
        )
    if data.valid_until < data.valid_from:
        raise ValidationFailed("The end of validity comes before its start.", field="valid_until")
    certificate_id = (data.certificate_id or "").strip() or None
    if certificate_id:
        certificate = citable_certificates(
            session, actor.organization_id, [certificate_id], "certificate_id"
        )[0]
        assay = session.get(Assay, certificate.assay_id)
        if assay.material_code != data.material:
            raise ValidationFailed(
                N_("Certificate %(id)s is of %(other)s, not %(material)s."),
                field="certificate_id",
                id=certificate_id,
                other=assay.material_code,
                material=data.material,
            )
    elif data.route == Route.NOT_WASTE:
        raise ValidationFailed(
            "The not-waste route needs a certificate of the material's grade as evidence.",
            field="certificate_id",
        )
    return {
        "direction": data.direction.value,
        "material_code": data.material,
        "route": data.route.value,
        "reference": data.reference.strip(),
        "authorities": data.authorities.strip(),
        "country_export": export,
        "countries_transit": " ".join(dict.fromkeys(transit)),
        "country_import": import_,
        "valid_from": data.valid_from,
        "valid_until": data.valid_until,
        "consented_kg": _kg(data.consented_t),
        "certificate_id": certificate_id,
        "note": data.note.strip(),
    }


def create_record(session: Session, actor: Actor, data: RecordInput) -> MovementRecord:
    """A new record of the actor's organisation (`MANAGE_MOVEMENTS`)."""
    MANAGE_MOVEMENTS.check(actor)
    record = MovementRecord(
        organization_id=actor.organization_id,
        created_by_member_id=actor.member_id,
        **_check(session, actor, data),
    )
    session.add(record)
    session.flush()
    record_audit(
        session,
        actor,
        "movement_record.created",
        "movement_record",
        record.id,
        {"reference": record.reference, "consented_kg": record.consented_kg},
    )
    return record


def update_record(
    session: Session, actor: Actor, record_id: int, data: RecordInput
) -> MovementRecord:
    """Change a record (a renewed or amended consent). Tonnes already committed stay: the
    consented tonnes may not drop below them, and a record with commitments keeps its
    material, direction and countries (409)."""
    MANAGE_MOVEMENTS.check(actor)
    record = _own(session, actor, record_id)
    if record.status != MovementRecordStatus.ACTIVE:
        raise Conflict("A withdrawn movement record cannot be changed.")
    values = _check(session, actor, data)
    if record.committed_kg:
        if values["valid_from"] > record.valid_from or values["valid_until"] < record.valid_until:
            # The contracts committed on it run within the old validity: it may only grow.
            raise Conflict(
                N_(
                    "%(committed)s t are already committed: the validity (%(valid_from)s to "
                    "%(valid_until)s) may be extended but not shortened."
                ),
                field="valid_until",
                committed=_t(record.committed_kg),
                valid_from=record.valid_from.isoformat(),
                valid_until=record.valid_until.isoformat(),
            )
        fixed = ("material_code", "direction", "country_export", "country_import")
        if any(values[k] != getattr(record, k) for k in fixed):
            raise Conflict(
                "Contracts run under this record: its material, direction and countries stay."
            )
        if values["consented_kg"] < record.committed_kg:
            raise Conflict(
                N_("%(committed)s t are already committed: the consent cannot be smaller."),
                field="consented_t",
                committed=_t(record.committed_kg),
            )
    before = {"consented_kg": record.consented_kg, "valid_until": record.valid_until.isoformat()}
    for key, value in values.items():
        setattr(record, key, value)
    record.updated_at = utcnow()
    session.add(record)
    session.flush()
    record_audit(
        session, actor, "movement_record.updated", "movement_record", record.id, {"before": before}
    )
    return record


def withdraw_record(session: Session, actor: Actor, record_id: int) -> MovementRecord:
    """Withdraw a record no contract runs under (409 otherwise)."""
    MANAGE_MOVEMENTS.check(actor)
    record = _own(session, actor, record_id)
    result = session.execute(
        update(MovementRecord)
        .where(
            MovementRecord.id == record.id,
            MovementRecord.status == MovementRecordStatus.ACTIVE,
            MovementRecord.committed_kg == 0,
        )
        .values(status=MovementRecordStatus.WITHDRAWN, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("Only an active record that no contract runs under can be withdrawn.")
    session.refresh(record)
    record_audit(session, actor, "movement_record.withdrawn", "movement_record", record.id, {})
    return record


def _own(session: Session, actor: Actor, record_id: int) -> MovementRecord:
    record = session.get(MovementRecord, record_id)
    if record is None or not actor.owns(record.organization_id):
        raise NotFound()
    return record


def read_record(session: Session, actor: Actor, record_id: int) -> MovementRecord:
    """A record, for its organisation's members and the operator; 404 for anyone else."""
    record = session.get(MovementRecord, record_id)
    if record is None or not (actor.owns(record.organization_id) or actor.is_operator):
        raise NotFound()
    return record


def records_query(actor: Actor):
    """The records the actor may read, newest first (the operator: all of them)."""
    query = select(MovementRecord).order_by(col(MovementRecord.id).desc())
    if not actor.is_operator:
        query = query.where(MovementRecord.organization_id == (actor.organization_id or -1))
    return query


# ---------------------------------------------------------------------------------------------
# Output (pages and API)


class MovementRecordOut(BaseModel):
    """An export or import record: tonnes as decimal strings, dates inclusive."""

    id: int
    organization_id: int
    direction: str
    material: str
    route: str
    reference: str
    authorities: str
    country_export: str
    countries_transit: list[str]
    country_import: str
    valid_from: date
    valid_until: date = Field(description="last day of validity (inclusive)")
    consented_t: str = Field(examples=["500.000"])
    committed_t: str = Field(description="tonnes committed by contracts running under it")
    remaining_t: str
    certificate_id: str | None
    status: str
    note: str


def record_out(record: MovementRecord) -> MovementRecordOut:
    return MovementRecordOut(
        id=record.id,
        organization_id=record.organization_id,
        direction=record.direction,
        material=record.material_code,
        route=record.route,
        reference=record.reference,
        authorities=record.authorities,
        country_export=record.country_export,
        countries_transit=list(record.transit),
        country_import=record.country_import,
        valid_from=record.valid_from,
        valid_until=record.valid_until,
        consented_t=_t(record.consented_kg, grouped=False),
        committed_t=_t(record.committed_kg, grouped=False),
        remaining_t=_t(record.remaining_kg, grouped=False),
        certificate_id=record.certificate_id,
        status=record.status,
        note=record.note,
    )


def record_choices(
    session: Session, organization_id: int | None, material_code: str | None = None
) -> list[MovementRecord]:
    """An organisation's active records (of one material when given): what a listing, request
    or contract form offers."""
    if organization_id is None:
        return []
    query = select(MovementRecord).where(
        MovementRecord.organization_id == organization_id,
        MovementRecord.status == MovementRecordStatus.ACTIVE,
    )
    if material_code:
        query = query.where(MovementRecord.material_code == material_code)
    return list(session.exec(query.order_by(col(MovementRecord.id))))
