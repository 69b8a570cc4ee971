"""Supply listings and offtake requests: one input shape, lifecycle, committed volume, who reads.

Each record has one typed input model (`ListingInput`, `RequestInput`) shared by the page form
and the API body, one PATCH model (the same fields, all optional: only what was sent changes)
and one output model (`ListingOut`, `RequestOut`) built by one function. Volumes arrive as
Decimal tonnes and are stored as integer kilograms; prices are integer yen per tonne. Every
state change goes through `transition`.

Who may do what (checked here, so that page, API, CLI and jobs agree):
- listings are published, closed and changed once open by traders or administrators of a
  verified recycler (`MANAGE_LISTINGS`); requests by those of a verified manufacturer
  (`MANAGE_REQUESTS`); drafts are created and changed by the same members before their
  organisation is verified (`DRAFT_LISTINGS`, `DRAFT_REQUESTS`), so that nothing typed is lost;
- others' open listings and requests are read by members of verified organisations only
  (`VERIFIED_MEMBER`); invited-only listings by the invited organisations only; a member
  always reads its own organisation's records in any state. What a caller may not read is
  NotFound, never a hint that it exists.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from market.alerts import alert_matching_searches
from market.indices import (
    YenPerTonne,
    evaluate,
    formula_of,
    index_codes,
    latest_values,
    refresh_prices,
)
from market.models import (
    ListingStatus,
    MovementRecord,
    Notification,
    OfftakeRequest,
    PriceIndex,
    PriceKind,
    Proposal,
    ProposalStatus,
    SupplyListing,
)
from market.movements import require_listing_record, require_request_record
from market.visibility import (
    listing_visible_to,
    request_visible_to,
)
from participants.accounts import organizations_by_id
from participants.actors import Actor, drafting, permission
from participants.columns import tokyo_today, utcnow
from participants.countries import CountryCode, check_country
from participants.errors import N_, Conflict, NotFound, ValidationFailed
from participants.fields import (
    ID_MAX,
    Day,
    Factor,
    Id,
    Latitude,
    Line,
    Longitude,
    Month,
    Months,
    Paragraphs,
    Tonnes,
    Yen,
    partial_model,
)
from participants.geography import BY_CODE, PREFECTURES
from participants.models import Organization, OrgKind, OrgStatus, Role
from quality.models import Assay, Certificate, GradeStandard, Material, StandardVersion

INCOTERMS_2020 = ("EXW", "FCA", "CPT", "CIP", "DAP", "DPU", "DDP", "FAS", "FOB", "CFR", "CIF")
MANDATES = (
    "",
    "EU-BATT-2031",
    "EU-BATT-2036",
    "EU-PPWR-2030",
    "EU-PPWR-2040",
    "EU-ELV",
    "JP-GREEN",
)
MAX_TERM_MONTHS = 120
MAX_MONTHLY_T = Decimal("1000000")
MAX_INVITED = 50
KG = Decimal(1000)

# Who manages listings and requests (declared beside the entry points that check them).
MANAGE_LISTINGS = permission(
    N_("Only traders and administrators manage listings and requests."),
    kinds=[OrgKind.RECYCLER],
    roles=[Role.TRADER, Role.ADMIN],
    kind_message=N_("Only recyclers publish supply listings."),
)
MANAGE_REQUESTS = permission(
    N_("Only traders and administrators manage listings and requests."),
    kinds=[OrgKind.MANUFACTURER],
    roles=[Role.TRADER, Role.ADMIN],
    kind_message=N_("Only manufacturers publish offtake requests."),
)
# Drafts: the same members, before their organisation is verified (publishing still needs it).
DRAFT_LISTINGS = drafting(MANAGE_LISTINGS)
DRAFT_REQUESTS = drafting(MANAGE_REQUESTS)

# Allowed moves of the listing / request lifecycle.
TRANSITIONS: dict[str, set[str]] = {
    ListingStatus.DRAFT: {ListingStatus.OPEN, ListingStatus.CLOSED},
    ListingStatus.OPEN: {ListingStatus.CLOSED, ListingStatus.EXPIRED},
    ListingStatus.CLOSED: set(),
    ListingStatus.EXPIRED: set(),
}

PrefectureCode = Literal[tuple(p.code for p in PREFECTURES)]
Incoterm = Literal[INCOTERMS_2020]
PriceKindName = Literal["fixed", "index"]
Visibility = Literal["public", "invited"]
Mandate = Literal[MANDATES]


# ---------------------------------------------------------------------------------------------
# Units and months (also used by matching and contracts)


def tonnes_to_kg(value: object, field_name: str, allow_zero: bool = False) -> int:
    """Decimal tonnes (kg precision) → integer kilograms, or ValidationFailed."""
    try:
        tonnes = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed("Enter a number of tonnes.", field=field_name) from None
    if not tonnes.is_finite():
        raise ValidationFailed("Enter a number of tonnes.", field=field_name)
    if tonnes < 0 or (tonnes == 0 and not allow_zero):
        raise ValidationFailed("The volume must be more than zero.", field=field_name)
    if tonnes > MAX_MONTHLY_T:
        raise ValidationFailed("The volume is implausibly large.", field=field_name)
    if tonnes != tonnes.quantize(Decimal("0.001")):
        raise ValidationFailed("Tonnes have at most three decimals (kg).", field=field_name)
    return int(tonnes * KG)


def kg_to_tonnes(kg: int) -> Decimal:
    return (Decimal(kg) / KG).quantize(Decimal("0.001"))


def parse_month(value: object, field_name: str = "month") -> date:
    """A month as the first day (accepts dates and 'YYYY-MM' / 'YYYY-MM-DD' strings)."""
    if isinstance(value, date):
        return value.replace(day=1)
    text = str(value or "").strip()
    try:
        parts = [int(p) for p in text.split("-")[:2]]
        return date(parts[0], parts[1], 1)
    except (ValueError, IndexError):
        raise ValidationFailed("Enter a month as YYYY-MM.", field=field_name) from None


def parse_term(value: object, field_name: str) -> int:
    try:
        months = int(str(value).strip())
    except ValueError:
        raise ValidationFailed("Enter a whole number of months.", field=field_name) from None
    if not 1 <= months <= MAX_TERM_MONTHS:
        raise ValidationFailed("The term lies between 1 and 120 months.", field=field_name)
    return months


def months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def add_months(start: date, months: int) -> date:
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


# ---------------------------------------------------------------------------------------------
# Input: one model a record (the page form's fields and the API body's keys are these names)


class ListingInput(BaseModel):
    """A supply listing: what, how much a month, from when, where, at which price, for whom."""

    model_config = ConfigDict(extra="forbid")
    title: Line(200) = ""
    material: Line(40, min_length=1) = Field(description="material code, e.g. copper_scrap")
    grade_version_id: Id = Field(description="a published grade version of the material")
    monthly_t: Tonnes = Field(description="tonnes a month (more than zero)")
    min_t_per_contract: Tonnes = Field(
        description="smallest tonnes a month one contract may take (more than zero)"
    )
    available_from: Month
    max_term_months: Months
    origin_prefecture: PrefectureCode | None = Field(
        default=None, description="JIS X 0401 code; gives the coordinates unless lat/lon are sent"
    )
    origin_port: Line(80) | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    incoterm: Incoterm = "FCA"
    incoterm_place: Line(200, min_length=1)
    price_kind: PriceKindName = "fixed"
    fixed_price_jpy_per_t: YenPerTonne | None = Field(
        default=None, description="the price when price_kind is fixed"
    )
    index: Line(40, min_length=1) | None = Field(
        default=None, description="price index code when price_kind is index"
    )
    index_factor: Factor | None = None
    premium_jpy_per_t: Yen = Field(
        default=0, description="added to index × factor; may be negative"
    )
    floor_jpy_per_t: YenPerTonne | None = None
    cap_jpy_per_t: YenPerTonne | None = None
    assay_id: Id | None = Field(default=None, description="an assay of the caller's organisation")
    certificate_id: Line(32) | None = None
    visibility: Visibility = "public"
    invited_org_ids: list[Id] = Field(default_factory=list, max_length=MAX_INVITED)
    delivery_country: CountryCode = Field(
        default="JP", description="country of the incoterm place (ISO 3166-1 alpha-2)"
    )
    movement_record_id: Id | None = Field(
        default=None,
        description="the organisation's export/import record; required before publishing a "
        "critical material that crosses Japan's border",
    )
    expires_on: Day | None = Field(default=None, description="default: three months from today")


class RequestInput(BaseModel):
    """An offtake request: what, at which grade, how much a month, for how long, where, up to
    which price (the ceiling stays private to the requesting organisation)."""

    model_config = ConfigDict(extra="forbid")
    title: Line(200) = ""
    material: Line(40, min_length=1) = Field(description="material code, e.g. copper_scrap")
    grade_version_id: Id = Field(description="a published grade version of the material")
    accept_stricter: bool = True
    monthly_t: Tonnes = Field(description="tonnes a month (more than zero)")
    start_month: Month
    term_months: Months | None = Field(default=None, description="the term, or send end_month")
    end_month: Month | None = Field(
        default=None, description="first month after the term (instead of term_months)"
    )
    delivery_prefecture: PrefectureCode | None = None
    delivery_place: Line(200, min_length=1)
    lat: Latitude | None = None
    lon: Longitude | None = None
    price_kind: PriceKindName = "fixed"
    max_price_jpy_per_t: YenPerTonne | None = Field(
        default=None, description="the ceiling when price_kind is fixed"
    )
    index: Line(40, min_length=1) | None = None
    index_factor: Factor | None = None
    premium_jpy_per_t: Yen = 0
    purpose: Paragraphs(1000) = ""
    mandate: Mandate = ""
    delivery_country: CountryCode = Field(
        default="JP", description="country of the delivery place (ISO 3166-1 alpha-2)"
    )
    movement_record_id: Id | None = Field(
        default=None, description="the organisation's export/import record (critical materials)"
    )
    expires_on: Day | None = Field(default=None, description="default: three months from today")


ListingPatch = partial_model(ListingInput)
RequestPatch = partial_model(RequestInput)


def _changes(data: BaseModel, model: type[BaseModel], names) -> dict[str, Any]:
    """The input fields to apply, by name, with their values.

    A null for a field that has a default resets it; for a required field it is an error.
    """
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(data, name)
        info = model.model_fields[name]
        if value is None and info.is_required():
            raise ValidationFailed("This field is required.", field=name)
        if value is None:
            value = info.get_default(call_default_factory=True)
        out[name] = value
    return out


# ---------------------------------------------------------------------------------------------
# Rules shared by listings and requests


def _get(session: Session, model, item_id: int):
    """A row by id, or None (ids outside the database's integer range do not exist)."""
    if not 1 <= item_id <= ID_MAX:
        return None
    return session.get(model, item_id)


def _kg(tonnes: Decimal, field: str) -> int:
    if tonnes <= 0:
        raise ValidationFailed("The volume must be more than zero.", field=field)
    return int(tonnes * KG)


def _check_grade(session: Session, item: SupplyListing | OfftakeRequest) -> None:
    """A known material and a published grade version of that material."""
    if session.exec(select(Material.id).where(Material.code == item.material_code)).first() is None:
        raise ValidationFailed(
            "Unknown material %(code)s.", field="material", code=item.material_code
        )
    version = _get(session, StandardVersion, item.standard_version_id)
    if version is None or version.status != "published":
        raise ValidationFailed(
            "Unknown grade, or not a published version.", field="grade_version_id"
        )
    standard = session.get(GradeStandard, version.standard_id)
    if standard.material_code != item.material_code:
        raise ValidationFailed("This grade belongs to another material.", field="grade_version_id")


def _apply_place(item, changes: dict, prefecture_field: str) -> None:
    """Prefecture and coordinates: sent coordinates win, else the prefecture's."""
    if not changes.keys() & {prefecture_field, "lat", "lon"}:
        return
    pref = changes.get(prefecture_field, getattr(item, prefecture_field))
    if pref == getattr(item, prefecture_field) and not changes.keys() & {"lat", "lon"}:
        return  # the same prefecture: coordinates stay as they are
    lat, lon = changes.get("lat"), changes.get("lon")
    if (lat is None) != (lon is None):
        raise ValidationFailed("Give both coordinates.", field="lon" if lon is None else "lat")
    if lat is None:
        if pref is None:
            raise ValidationFailed("Give a prefecture or coordinates.", field=prefecture_field)
        lat, lon = BY_CODE[pref].lat, BY_CODE[pref].lon
    setattr(item, prefecture_field, pref)
    item.lat, item.lon = lat, lon


def _apply_price(session: Session, item, changes: dict, fixed: str, with_bounds: bool) -> None:
    """A fixed price, or an index formula (index × factor + premium, optional floor and cap)."""
    if "price_kind" in changes:
        item.price_kind = changes["price_kind"]
    if fixed in changes:
        setattr(item, fixed, changes[fixed])
    if "index" in changes:
        code = changes["index"]
        item.index_id = None
        if code:
            index_id = session.exec(select(PriceIndex.id).where(PriceIndex.code == code)).first()
            if index_id is None:
                raise ValidationFailed("Unknown price index %(code)s.", field="index", code=code)
            item.index_id = index_id
    if "index_factor" in changes:
        item.index_factor = changes["index_factor"]
    if "premium_jpy_per_t" in changes:
        item.premium_jpy_per_t = changes["premium_jpy_per_t"]
    bounds = ("floor_jpy_per_t", "cap_jpy_per_t") if with_bounds else ()
    for name in bounds:
        if name in changes:
            setattr(item, name, changes[name])
    if item.price_kind == PriceKind.FIXED:
        if getattr(item, fixed) is None:
            raise ValidationFailed("This field is required.", field=fixed)
        item.index_id, item.index_factor, item.premium_jpy_per_t = None, None, 0
        for name in bounds:
            setattr(item, name, None)
        return
    if item.index_id is None:
        raise ValidationFailed("An index formula needs a price index.", field="index")
    if item.index_factor is None:
        raise ValidationFailed(
            "Enter the index factor as a number, e.g. 0.92.", field="index_factor"
        )
    setattr(item, fixed, None)
    if with_bounds and item.floor_jpy_per_t is not None and item.cap_jpy_per_t is not None:
        if item.floor_jpy_per_t > item.cap_jpy_per_t:
            raise ValidationFailed("The floor lies above the cap.", field="floor_jpy_per_t")


def _apply_expiry(item, changes: dict, today: date) -> None:
    if "expires_on" not in changes:
        return
    expires = changes["expires_on"] or add_months(today, 3)
    if expires < today:
        raise ValidationFailed("The expiry date lies in the past.", field="expires_on")
    item.expires_on = expires


def _text(value: str | None) -> str:
    return (value or "").strip()


def _required_text(value: str | None, field: str) -> str:
    text = _text(value)
    if not text:
        raise ValidationFailed("This field is required.", field=field)
    return text


def _offered_kg(session: Session, column, item_id: int) -> int:
    """Tonnes a month (kg) that live proposals offer on a listing or ask on a request."""
    return session.exec(
        select(func.coalesce(func.sum(Proposal.monthly_kg), 0)).where(
            column == item_id, Proposal.status == ProposalStatus.PROPOSED
        )
    ).one()


def _guard_volume(session: Session, model, item, used, proposal_column, message: str) -> None:
    """Refuse (409) a monthly volume below what is used plus what live proposals offer.

    Checked by a conditional UPDATE after the change is flushed, so that a commit of volume
    running at the same moment cannot slip between the check and the write.
    """
    offered = _offered_kg(session, proposal_column, item.id)
    session.flush()
    result = session.execute(
        update(model)
        .where(model.id == item.id, used + offered <= model.monthly_kg)
        .values(version=model.version)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        used_kg = session.exec(select(used).where(model.id == item.id)).one()
        raise Conflict(
            message,
            field="monthly_t",
            used=kg_to_tonnes(used_kg),
            offered=kg_to_tonnes(offered),
        )


def transition(item: SupplyListing | OfftakeRequest, target: str) -> None:
    """The one place a listing or request changes state."""
    if target not in TRANSITIONS.get(item.status, set()):
        raise Conflict(
            "Cannot move from %(current)s to %(target)s.",
            field="status",
            current=item.status,
            target=target,
        )
    item.status = target
    item.version += 1
    item.updated_at = utcnow()


@dataclass
class Publication:
    """A listing or request just opened to the market, and the alerts it raised."""

    item: SupplyListing | OfftakeRequest
    notifications: list[Notification]


def _publish(session: Session, item, today: date | None) -> Publication:
    transition(item, ListingStatus.OPEN)
    session.add(item)
    session.flush()
    return Publication(item, alert_matching_searches(session, item, today))


# ---------------------------------------------------------------------------------------------
# Supply listings


def _apply_listing(
    session: Session, actor: Actor, listing: SupplyListing, c: dict, today: date
) -> None:
    """Apply input fields to a listing and check the rules that span fields."""
    if "title" in c:
        listing.title = _text(c["title"])
    if "material" in c:
        listing.material_code = _text(c["material"])
    if "grade_version_id" in c:
        listing.standard_version_id = c["grade_version_id"]
    if c.keys() & {"material", "grade_version_id"}:
        _check_grade(session, listing)
    if "monthly_t" in c:
        listing.monthly_kg = _kg(c["monthly_t"], "monthly_t")
    if "min_t_per_contract" in c:
        listing.min_kg_per_contract = _kg(c["min_t_per_contract"], "min_t_per_contract")
    if listing.min_kg_per_contract > listing.monthly_kg:
        raise ValidationFailed(
            "The minimum per contract exceeds the monthly volume.", field="min_t_per_contract"
        )
    if "available_from" in c:
        listing.available_from = c["available_from"]
    if "max_term_months" in c:
        listing.max_term_months = c["max_term_months"]
    _apply_place(listing, c, "origin_prefecture")
    if "origin_port" in c:
        listing.origin_port = _text(c["origin_port"]) or None
    if "incoterm" in c:
        listing.incoterm = c["incoterm"]
    if "incoterm_place" in c:
        listing.incoterm_place = _required_text(c["incoterm_place"], "incoterm_place")
    _apply_price(session, listing, c, "fixed_price_jpy_per_t", with_bounds=True)
    if c.keys() & {"visibility", "invited_org_ids"}:
        _apply_visibility(session, listing, c)
    if c.keys() & {"material", "assay_id", "certificate_id"}:
        _apply_evidence(session, actor, listing, c)
    _apply_movement(session, listing, c)
    _apply_expiry(listing, c, today)


MOVEMENT_FIELDS = {
    "delivery_country",
    "movement_record_id",
    "material",
    "available_from",
    "start_month",
}


def _apply_movement(session: Session, item: SupplyListing | OfftakeRequest, c: dict) -> None:
    """Delivery country and movement record (the record must be the organisation's own;
    whether it covers the movement is checked when the item is published)."""
    if "delivery_country" in c:
        item.delivery_country = check_country(c["delivery_country"], "delivery_country")
    if "movement_record_id" in c:
        record_id = c["movement_record_id"]
        if record_id is not None:
            record = session.get(MovementRecord, record_id)
            if record is None or record.organization_id != item.organization_id:
                raise ValidationFailed(
                    "Choose one of your organisation's movement records.",
                    field="movement_record_id",
                )
        item.movement_record_id = record_id


def _apply_visibility(session: Session, listing: SupplyListing, c: dict) -> None:
    visibility = c.get("visibility", listing.visibility)
    invited = sorted(set(c["invited_org_ids"] if "invited_org_ids" in c else listing.invited))
    if visibility == "invited":
        if not invited:
            raise ValidationFailed("Invite at least one organisation.", field="invited_org_ids")
        found = session.exec(select(Organization.id).where(col(Organization.id).in_(invited)))
        if len(found.all()) != len(invited):
            raise ValidationFailed("Unknown invited organisation.", field="invited_org_ids")
    listing.visibility = visibility
    listing.invited_org_ids = " ".join(map(str, invited)) if visibility == "invited" else ""


def _apply_evidence(session: Session, actor: Actor, listing: SupplyListing, c: dict) -> None:
    """The listing's assay or certificate (own organisation's, same material) and DQ level:
    the assay's own level (`quality.assays.data_quality_levels`, as its page shows), or 1
    (declared composition) without an assay."""
    from quality.assays import data_quality_levels

    certificate_id = _text(c.get("certificate_id", listing.certificate_id)) or None
    assay_id = c.get("assay_id", listing.assay_id)
    assay = None
    if certificate_id:
        cert = session.get(Certificate, certificate_id)
        if cert is None or not actor.owns(cert.issuer_org_id):
            raise ValidationFailed("Unknown certificate.", field="certificate_id")
        assay = session.get(Assay, cert.assay_id)
    if assay_id is not None:
        assay = _get(session, Assay, assay_id)
        if assay is None or not actor.owns(assay.organization_id):
            raise ValidationFailed("Unknown assay.", field="assay_id")
    listing.certificate_id = certificate_id
    if assay is None:
        listing.assay_id, listing.data_quality_level = None, 1  # declared composition only
        return
    if assay.material_code != listing.material_code:
        raise ValidationFailed("The assay is of another material.", field="assay_id")
    listing.assay_id = assay.id
    listing.data_quality_level = data_quality_levels(session, {assay.id})[assay.id]


def create_listing(
    session: Session, actor: Actor, data: ListingInput, today: date | None = None
) -> SupplyListing:
    """A draft listing of a recycler (trader or admin; verified or not yet); flushes."""
    DRAFT_LISTINGS.check(actor)
    today = today or date.today()
    listing = SupplyListing(
        organization_id=actor.organization_id,
        monthly_kg=0,
        min_kg_per_contract=0,
        expires_on=add_months(today, 3),
    )
    _apply_listing(
        session, actor, listing, _changes(data, ListingInput, ListingInput.model_fields), today
    )
    session.add(listing)
    session.flush()
    refresh_prices(session, today, listing_ids=[listing.id])
    return listing


def own_listing(session: Session, actor: Actor, listing_id: int, needs=None) -> SupplyListing:
    """One of the actor's organisation's listings (any state), else NotFound.

    `needs` is the permission the caller is about to use (checked first: 403 before 404).
    """
    if needs is not None:
        needs.check(actor)
    listing = _get(session, SupplyListing, listing_id)
    if listing is None or not actor.owns(listing.organization_id):
        raise NotFound("No such listing.")
    return listing


def update_listing(
    session: Session,
    actor: Actor,
    listing_id: int,
    changes: BaseModel,
    today: date | None = None,
    fields: set[str] | None = None,
) -> SupplyListing:
    """Change a draft or open listing: the fields sent in `changes` (a `ListingPatch`), or
    `fields` of a whole `ListingInput` (those a form edits). The monthly volume never drops
    below what is committed plus what live proposals offer (409)."""
    listing = own_listing(session, actor, listing_id, DRAFT_LISTINGS)
    if listing.status != ListingStatus.DRAFT:
        MANAGE_LISTINGS.check(actor)  # an open listing is changed by verified members only
    if listing.status not in (ListingStatus.DRAFT, ListingStatus.OPEN):
        raise Conflict("A closed or expired listing cannot be edited.")
    c = _changes(changes, ListingInput, fields if fields is not None else changes.model_fields_set)
    if not c:
        return listing  # nothing sent, nothing changes
    _apply_listing(session, actor, listing, c, today or date.today())
    if listing.status == ListingStatus.OPEN and c.keys() & MOVEMENT_FIELDS:
        # An open listing stays covered: moving it across the border needs its record too.
        require_listing_record(session, listing, today or tokyo_today())
    listing.version += 1
    listing.updated_at = utcnow()
    session.add(listing)
    if "monthly_t" in c:
        _guard_volume(
            session,
            SupplyListing,
            listing,
            SupplyListing.committed_kg,
            Proposal.listing_id,
            N_(
                "The monthly volume cannot drop below the %(used)s t committed plus the"
                " %(offered)s t offered in open proposals."
            ),
        )
    session.flush()
    refresh_prices(session, listing_ids=[listing.id])
    return listing


def publish_listing(
    session: Session, actor: Actor, listing_id: int, today: date | None = None
) -> Publication:
    """Open a draft listing to the market; matching saved searches get their notifications.

    A critical material crossing Japan's border needs a valid movement record first (409
    saying what is missing: `market.movements.require_listing_record`)."""
    listing = own_listing(session, actor, listing_id, MANAGE_LISTINGS)
    require_listing_record(session, listing, today or tokyo_today())
    refresh_prices(session, listing_ids=[listing.id])
    return _publish(session, listing, today)


def close_listing(session: Session, actor: Actor, listing_id: int) -> SupplyListing:
    """Withdraw a listing from the market."""
    listing = own_listing(session, actor, listing_id, MANAGE_LISTINGS)
    transition(listing, ListingStatus.CLOSED)
    session.add(listing)
    session.flush()
    return listing


def commit_volume(session: Session, listing_id: int, kg: int) -> None:
    """Commit monthly kg of an open listing; never more than is available, even concurrently.

    One conditional UPDATE: the database checks and adds atomically, so two simultaneous
    commits cannot both pass the check (works the same on PostgreSQL and SQLite).
    """
    if kg <= 0:
        raise ValidationFailed("The volume must be more than zero.", field="monthly_t")
    result = session.execute(
        update(SupplyListing)
        .where(
            SupplyListing.id == listing_id,
            SupplyListing.status == ListingStatus.OPEN,
            SupplyListing.committed_kg + kg <= SupplyListing.monthly_kg,
        )
        .values(committed_kg=SupplyListing.committed_kg + kg, version=SupplyListing.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("Not enough volume is available on this listing.", field="monthly_t")
    listing = session.get(SupplyListing, listing_id)
    if listing is not None:
        session.refresh(listing)


def fill_request(session: Session, request_id: int, kg: int) -> None:
    """Record kg a month as contracted on a request; never beyond what it asked for."""
    result = session.execute(
        update(OfftakeRequest)
        .where(
            OfftakeRequest.id == request_id,
            OfftakeRequest.status == ListingStatus.OPEN,
            OfftakeRequest.filled_kg + kg <= OfftakeRequest.monthly_kg,
        )
        .values(filled_kg=OfftakeRequest.filled_kg + kg, version=OfftakeRequest.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("The request does not need that much volume any more.", field="monthly_t")


def release_volume(session: Session, listing_id: int, kg: int) -> None:
    """Give back monthly kg committed on a listing (in any state); never below zero.

    The counterpart of `commit_volume`: one conditional UPDATE, so two releases at once cannot
    both take the same kilograms back (a contract releases only what it holds).
    """
    if kg <= 0:
        raise ValidationFailed("The volume must be more than zero.", field="monthly_t")
    result = session.execute(
        update(SupplyListing)
        .where(SupplyListing.id == listing_id, SupplyListing.committed_kg >= kg)
        .values(committed_kg=SupplyListing.committed_kg - kg, version=SupplyListing.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("The listing holds less committed volume than is being released.")
    listing = session.get(SupplyListing, listing_id)
    if listing is not None:
        session.refresh(listing)


def release_fill(session: Session, request_id: int, kg: int) -> None:
    """Give back monthly kg recorded as contracted on a request; never below zero (the
    counterpart of `fill_request`, one conditional UPDATE)."""
    if kg <= 0:
        raise ValidationFailed("The volume must be more than zero.", field="monthly_t")
    result = session.execute(
        update(OfftakeRequest)
        .where(OfftakeRequest.id == request_id, OfftakeRequest.filled_kg >= kg)
        .values(filled_kg=OfftakeRequest.filled_kg - kg, version=OfftakeRequest.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("The request holds less contracted volume than is being released.")
    request = session.get(OfftakeRequest, request_id)
    if request is not None:
        session.refresh(request)


def _own_items(actor: Actor, model):
    """The query of the actor's organisation's items of `model` in every state, newest first."""
    return (
        select(model)
        .where(model.organization_id == actor.organization_id)
        .order_by(col(model.created_at).desc(), col(model.id).desc())
    )


def read_listing(session: Session, actor: Actor, listing_id: int) -> SupplyListing:
    """A listing the actor may read, else NotFound."""
    listing = _get(session, SupplyListing, listing_id)
    if listing is None or not listing_visible_to(actor, listing):
        raise NotFound("No such listing.")
    return listing


def own_listings(actor: Actor):
    """The query of the actor's organisation's listings in every state, newest first."""
    return _own_items(actor, SupplyListing)


def offerable_listings(
    session: Session, actor: Actor, request: OfftakeRequest
) -> list[SupplyListing]:
    """The actor's own open listings of a request's material (what it could offer to it)."""
    if actor.owns(request.organization_id):
        return []
    return list(
        session.exec(
            select(SupplyListing)
            .where(
                SupplyListing.organization_id == actor.organization_id,
                SupplyListing.status == ListingStatus.OPEN,
                SupplyListing.material_code == request.material_code,
            )
            .order_by(SupplyListing.id)
        )
    )


# ---------------------------------------------------------------------------------------------
# Offtake requests


def _apply_request(session: Session, request: OfftakeRequest, c: dict, today: date) -> None:
    if "title" in c:
        request.title = _text(c["title"])
    if "material" in c:
        request.material_code = _text(c["material"])
    if "grade_version_id" in c:
        request.standard_version_id = c["grade_version_id"]
    if c.keys() & {"material", "grade_version_id"}:
        _check_grade(session, request)
    if "accept_stricter" in c:
        request.accept_stricter = c["accept_stricter"]
    if "monthly_t" in c:
        request.monthly_kg = _kg(c["monthly_t"], "monthly_t")
    if "start_month" in c:
        request.start_month = c["start_month"]
    if c.get("end_month") is not None:
        end = c["end_month"]
        if end <= request.start_month:
            raise ValidationFailed("The start lies after the end.", field="end_month")
        if months_between(request.start_month, end) > MAX_TERM_MONTHS:
            raise ValidationFailed("The term lies between 1 and 120 months.", field="end_month")
        request.term_months = months_between(request.start_month, end)
    elif "term_months" in c:
        if c["term_months"] is None:
            raise ValidationFailed("This field is required.", field="term_months")
        request.term_months = c["term_months"]
    _apply_place(request, c, "delivery_prefecture")
    if "delivery_place" in c:
        request.delivery_place = _required_text(c["delivery_place"], "delivery_place")
    _apply_price(session, request, c, "max_price_jpy_per_t", with_bounds=False)
    if "purpose" in c:
        request.purpose = _text(c["purpose"])
    if "mandate" in c:
        request.mandate = c["mandate"]
    _apply_movement(session, request, c)
    _apply_expiry(request, c, today)


def create_request(
    session: Session, actor: Actor, data: RequestInput, today: date | None = None
) -> OfftakeRequest:
    """A draft offtake request of a manufacturer (trader or admin; verified or not yet);
    flushes."""
    DRAFT_REQUESTS.check(actor)
    today = today or date.today()
    request = OfftakeRequest(
        organization_id=actor.organization_id, monthly_kg=0, expires_on=add_months(today, 3)
    )
    _apply_request(session, request, _changes(data, RequestInput, RequestInput.model_fields), today)
    session.add(request)
    session.flush()
    return request


def own_request(session: Session, actor: Actor, request_id: int, needs=None) -> OfftakeRequest:
    """One of the actor's organisation's requests (any state), else NotFound.

    `needs` is the permission the caller is about to use (checked first: 403 before 404).
    """
    if needs is not None:
        needs.check(actor)
    request = _get(session, OfftakeRequest, request_id)
    if request is None or not actor.owns(request.organization_id):
        raise NotFound("No such request.")
    return request


def update_request(
    session: Session,
    actor: Actor,
    request_id: int,
    changes: BaseModel,
    today: date | None = None,
    fields: set[str] | None = None,
) -> OfftakeRequest:
    """Change a draft or open request: the fields sent in `changes` (a `RequestPatch`), or
    `fields` of a whole `RequestInput` (those a form edits). The monthly volume never drops
    below what is contracted plus what live proposals ask (409)."""
    request = own_request(session, actor, request_id, DRAFT_REQUESTS)
    if request.status != ListingStatus.DRAFT:
        MANAGE_REQUESTS.check(actor)  # an open request is changed by verified members only
    if request.status not in (ListingStatus.DRAFT, ListingStatus.OPEN):
        raise Conflict("A closed or expired request cannot be edited.")
    c = _changes(changes, RequestInput, fields if fields is not None else changes.model_fields_set)
    if not c:
        return request  # nothing sent, nothing changes
    _apply_request(session, request, c, today or date.today())
    if request.status == ListingStatus.OPEN and c.keys() & MOVEMENT_FIELDS:
        require_request_record(session, request, today or tokyo_today())
    request.version += 1
    request.updated_at = utcnow()
    session.add(request)
    if "monthly_t" in c:
        _guard_volume(
            session,
            OfftakeRequest,
            request,
            OfftakeRequest.filled_kg,
            Proposal.request_id,
            N_(
                "The monthly volume cannot drop below the %(used)s t contracted plus the"
                " %(offered)s t offered in open proposals."
            ),
        )
    session.flush()
    return request


def publish_request(
    session: Session, actor: Actor, request_id: int, today: date | None = None
) -> Publication:
    """Open a draft request to the market; matching saved searches get their notifications
    (a critical material crossing the border needs a valid movement record first, 409)."""
    request = own_request(session, actor, request_id, MANAGE_REQUESTS)
    require_request_record(session, request, today or tokyo_today())
    return _publish(session, request, today)


def close_request(session: Session, actor: Actor, request_id: int) -> OfftakeRequest:
    """Withdraw a request from the market."""
    request = own_request(session, actor, request_id, MANAGE_REQUESTS)
    transition(request, ListingStatus.CLOSED)
    session.add(request)
    session.flush()
    return request


def read_request(session: Session, actor: Actor, request_id: int) -> OfftakeRequest:
    """A request the actor may read, else NotFound (its ceiling shows only to its owner)."""
    request = _get(session, OfftakeRequest, request_id)
    if request is None or not request_visible_to(actor, request):
        raise NotFound("No such request.")
    return request


def own_requests(actor: Actor):
    """The query of the actor's organisation's requests in every state, newest first."""
    return _own_items(actor, OfftakeRequest)


def expire_due(session: Session, today: date) -> int:
    """Expire open listings and requests whose expiry date has passed (idempotent job)."""
    count = 0
    for model in (SupplyListing, OfftakeRequest):
        for item in session.exec(
            select(model).where(model.status == ListingStatus.OPEN, model.expires_on < today)
        ):
            transition(item, ListingStatus.EXPIRED)
            session.add(item)
            count += 1
    return count


# ---------------------------------------------------------------------------------------------
# What the forms offer (asked by the form pages: an unauthorised GET is a 403 too)


@dataclass
class FormChoices:
    materials: list[Material]
    grades: list[tuple[int, str, int, str]]  # version id, standard code, number, material
    indices: list[PriceIndex]
    assays: list[Assay]
    organizations: list[Organization]  # verified organisations a listing may invite


def _choices(session: Session, actor: Actor, for_listing: bool) -> FormChoices:
    grades = session.exec(
        select(
            StandardVersion.id,
            GradeStandard.code,
            StandardVersion.number,
            GradeStandard.material_code,
        )
        .join(GradeStandard, GradeStandard.id == StandardVersion.standard_id)
        .where(StandardVersion.status == "published")
        .order_by(GradeStandard.material_code, GradeStandard.code, StandardVersion.number)
    ).all()
    assays, orgs = [], []
    if for_listing:
        assays = session.exec(
            select(Assay)
            .where(Assay.organization_id == actor.organization_id)
            .order_by(col(Assay.id).desc())
            .limit(200)
        ).all()
        orgs = session.exec(
            select(Organization)
            .where(
                Organization.status == OrgStatus.VERIFIED,
                Organization.id != actor.organization_id,
            )
            .order_by(Organization.name_en)
        ).all()
    return FormChoices(
        materials=list(session.exec(select(Material).order_by(Material.code))),
        grades=[tuple(g) for g in grades],
        indices=list(session.exec(select(PriceIndex).order_by(PriceIndex.code))),
        assays=list(assays),
        organizations=list(orgs),
    )


def listing_form_choices(session: Session, actor: Actor) -> FormChoices:
    """What the listing form offers (materials, grades, indices, own assays, organisations)."""
    DRAFT_LISTINGS.check(actor)
    return _choices(session, actor, for_listing=True)


def request_form_choices(session: Session, actor: Actor) -> FormChoices:
    """What the request form offers (materials, grades, indices)."""
    DRAFT_REQUESTS.check(actor)
    return _choices(session, actor, for_listing=False)


# ---------------------------------------------------------------------------------------------
# Output: one model a record, built by one function


class OrganizationRef(BaseModel):
    """The organisation behind a listing or request."""

    id: int
    name_ja: str
    name_en: str


class ListingOut(BaseModel):
    """A supply listing. The input fields keep their names (a PATCH body is a subset of this);
    the rest is read-only. `invited_org_ids` shows only to the listing's organisation."""

    id: int
    status: str
    title: str
    organization: OrganizationRef
    material: str
    grade_version_id: int
    grade_code: str
    grade_version: int
    monthly_t: str = Field(description="tonnes a month", examples=["120.000"])
    available_t: str = Field(description="tonnes a month not yet committed")
    min_t_per_contract: str
    available_from: Month
    max_term_months: int
    origin_prefecture: str | None
    origin_port: str | None
    lat: float
    lon: float
    incoterm: str
    incoterm_place: str
    price_kind: str
    fixed_price_jpy_per_t: int | None
    index: str | None = Field(description="price index code")
    index_factor: str | None
    premium_jpy_per_t: int
    floor_jpy_per_t: int | None
    cap_jpy_per_t: int | None
    price_jpy_per_t: int | None = Field(
        description="the price for the month asked (this month by default), when known"
    )
    distance_km: float | None = Field(description="from the search's `near` prefecture")
    data_quality_level: int
    assay_id: int | None
    certificate_id: str | None
    visibility: str
    invited_org_ids: list[int] | None
    delivery_country: str = Field(description="country of the incoterm place (ISO alpha-2)")
    movement_record_id: int | None = Field(
        description="the export/import record it runs under; only for its own organisation"
    )
    expires_on: date
    version: int
    updated_at: datetime


class RequestOut(BaseModel):
    """An offtake request. The input fields keep their names; the price fields (the ceiling)
    are null except for the request's own organisation."""

    id: int
    status: str
    title: str
    organization: OrganizationRef
    material: str
    grade_version_id: int
    grade_code: str
    grade_version: int
    accept_stricter: bool
    monthly_t: str = Field(description="tonnes a month", examples=["300.000"])
    open_t: str = Field(description="tonnes a month not yet contracted")
    start_month: Month
    term_months: int
    delivery_prefecture: str | None
    delivery_place: str
    lat: float
    lon: float
    price_kind: str | None
    max_price_jpy_per_t: int | None
    index: str | None
    index_factor: str | None
    premium_jpy_per_t: int | None
    distance_km: float | None
    purpose: str
    mandate: str
    delivery_country: str = Field(description="country of the delivery place (ISO alpha-2)")
    movement_record_id: int | None = Field(
        description="the export/import record it runs under; only for its own organisation"
    )
    expires_on: date
    version: int
    updated_at: datetime


def _grades(session: Session, version_ids: set[int]) -> dict[int, tuple[str, int]]:
    """(standard code, version number) by version id, one query."""
    if not version_ids:
        return {}
    rows = session.exec(
        select(StandardVersion.id, GradeStandard.code, StandardVersion.number)
        .join(GradeStandard, GradeStandard.id == StandardVersion.standard_id)
        .where(col(StandardVersion.id).in_(version_ids))
    ).all()
    return {vid: (code, number) for vid, code, number in rows}


@dataclass(frozen=True)
class KnownRefs:
    """What a search has loaded with its rows: organisations by id, and (standard code,
    version number) by grade version id."""

    orgs: dict[int, Organization]
    grades: dict[int, tuple[str, int]]

    @classmethod
    def of_rows(cls, rows) -> "KnownRefs":
        """From search rows (each with `org`, `standard` and `version`)."""
        return cls(
            orgs={r.org.id: r.org for r in rows},
            grades={r.version.id: (r.standard.code, r.version.number) for r in rows},
        )


def _references(
    session: Session, items: list, known: KnownRefs | None
) -> tuple[dict[int, Organization], dict[int, tuple[str, int]]]:
    """The organisations and grades of `items` (listings or requests): those `known`, the rest
    read in one query each."""
    orgs = dict(known.orgs) if known else {}
    grades = dict(known.grades) if known else {}
    missing_orgs = {x.organization_id for x in items} - orgs.keys()
    if missing_orgs:
        orgs.update(organizations_by_id(session, missing_orgs))
    missing_grades = {x.standard_version_id for x in items} - grades.keys()
    if missing_grades:
        grades.update(_grades(session, missing_grades))
    return orgs, grades


def _factor(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def describe_listings(
    session: Session,
    viewer: Actor,
    listings: list[SupplyListing],
    prices: dict[int, int | None] | None = None,
    distances: dict[int, float | None] | None = None,
    month: date | None = None,
    known: KnownRefs | None = None,
) -> list[ListingOut]:
    """Listings as `ListingOut`, in a fixed number of queries whatever their number.

    Prices are those given (a search's), else each listing's price for `month` (this month).
    Organisations and grades a search has loaded already (`known`) are not read again.
    """
    orgs, grades = _references(session, listings, known)
    codes = index_codes(session, {x.index_id for x in listings})
    if prices is None:
        month = (month or date.today()).replace(day=1)
        values = latest_values(session, {x.index_id for x in listings if x.index_id}, month)
        prices = {
            x.id: evaluate(formula_of(x), values.get(x.index_id) if x.index_id else None)
            for x in listings
        }
    distances = distances or {}
    out = []
    for x in listings:
        org = orgs[x.organization_id]
        code, number = grades[x.standard_version_id]
        distance = distances.get(x.id)
        out.append(
            ListingOut(
                id=x.id,
                status=x.status,
                title=x.title,
                organization=OrganizationRef(id=org.id, name_ja=org.name_ja, name_en=org.name_en),
                material=x.material_code,
                grade_version_id=x.standard_version_id,
                grade_code=code,
                grade_version=number,
                monthly_t=str(kg_to_tonnes(x.monthly_kg)),
                available_t=str(kg_to_tonnes(x.available_kg)),
                min_t_per_contract=str(kg_to_tonnes(x.min_kg_per_contract)),
                available_from=x.available_from,
                max_term_months=x.max_term_months,
                origin_prefecture=x.origin_prefecture,
                origin_port=x.origin_port,
                lat=x.lat,
                lon=x.lon,
                incoterm=x.incoterm,
                incoterm_place=x.incoterm_place,
                price_kind=x.price_kind,
                fixed_price_jpy_per_t=x.fixed_price_jpy_per_t,
                index=codes.get(x.index_id),
                index_factor=_factor(x.index_factor),
                premium_jpy_per_t=x.premium_jpy_per_t,
                floor_jpy_per_t=x.floor_jpy_per_t,
                cap_jpy_per_t=x.cap_jpy_per_t,
                price_jpy_per_t=prices.get(x.id),
                distance_km=None if distance is None else round(distance, 1),
                data_quality_level=x.data_quality_level,
                assay_id=x.assay_id,
                certificate_id=x.certificate_id,
                visibility=x.visibility,
                invited_org_ids=sorted(x.invited) if viewer.owns(x.organization_id) else None,
                delivery_country=x.delivery_country,
                movement_record_id=x.movement_record_id if viewer.owns(x.organization_id) else None,
                expires_on=x.expires_on,
                version=x.version,
                updated_at=x.updated_at,
            )
        )
    return out


def describe_requests(
    session: Session,
    viewer: Actor,
    requests: list[OfftakeRequest],
    distances: dict[int, float | None] | None = None,
    known: KnownRefs | None = None,
) -> list[RequestOut]:
    """Requests as `RequestOut` (ceilings for their own organisation only), fixed queries;
    organisations and grades a search has loaded already (`known`) are not read again."""
    orgs, grades = _references(session, requests, known)
    codes = index_codes(session, {x.index_id for x in requests if viewer.owns(x.organization_id)})
    distances = distances or {}
    out = []
    for x in requests:
        org = orgs[x.organization_id]
        code, number = grades[x.standard_version_id]
        own = viewer.owns(x.organization_id)
        distance = distances.get(x.id)
        out.append(
            RequestOut(
                id=x.id,
                status=x.status,
                title=x.title,
                organization=OrganizationRef(id=org.id, name_ja=org.name_ja, name_en=org.name_en),
                material=x.material_code,
                grade_version_id=x.standard_version_id,
                grade_code=code,
                grade_version=number,
                accept_stricter=x.accept_stricter,
                monthly_t=str(kg_to_tonnes(x.monthly_kg)),
                open_t=str(kg_to_tonnes(x.open_kg)),
                start_month=x.start_month,
                term_months=x.term_months,
                delivery_prefecture=x.delivery_prefecture,
                delivery_place=x.delivery_place,
                lat=x.lat,
                lon=x.lon,
                price_kind=x.price_kind if own else None,
                max_price_jpy_per_t=x.max_price_jpy_per_t if own else None,
                index=codes.get(x.index_id) if own else None,
                index_factor=_factor(x.index_factor) if own else None,
                premium_jpy_per_t=x.premium_jpy_per_t if own else None,
                distance_km=None if distance is None else round(distance, 1),
                purpose=x.purpose,
                mandate=x.mandate,
                delivery_country=x.delivery_country,
                movement_record_id=x.movement_record_id if own else None,
                expires_on=x.expires_on,
                version=x.version,
                updated_at=x.updated_at,
            )
        )
    return out
