"""Supply listings and offtake requests: validation, lifecycle, committed volume.

Volumes arrive as Decimal tonnes and are stored as integer kilograms; prices are integer yen
per tonne. Every state change goes through `transition`.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import update
from sqlmodel import Session, select

from market.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from market.geography import BY_CODE
from market.models import (
    ListingStatus,
    OfftakeRequest,
    Organization,
    OrgKind,
    PriceIndex,
    PriceKind,
    SupplyListing,
)
from market.participants import require_verified
from quality.dbtypes import utcnow
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
KG = Decimal(1000)

# Allowed moves of the listing / request lifecycle.
TRANSITIONS: dict[str, set[str]] = {
    ListingStatus.DRAFT: {ListingStatus.OPEN, ListingStatus.CLOSED},
    ListingStatus.OPEN: {ListingStatus.CLOSED, ListingStatus.EXPIRED},
    ListingStatus.CLOSED: set(),
    ListingStatus.EXPIRED: set(),
}


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


def _yen(
    value: object, field_name: str, required: bool = True, positive: bool = True
) -> int | None:
    if value is None or str(value).strip() == "":
        if required:
            raise ValidationFailed("This field is required.", field=field_name)
        return None
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed("Enter an amount in whole yen.", field=field_name) from None
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise ValidationFailed("Enter an amount in whole yen.", field=field_name)
    if positive and amount <= 0:
        raise ValidationFailed("The price must be more than zero.", field=field_name)
    if abs(amount) > 100_000_000:
        raise ValidationFailed("The amount is implausibly large.", field=field_name)
    return int(amount)


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


def _date(value: object, field_name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise ValidationFailed("Enter a date as YYYY-MM-DD.", field=field_name) from None


def months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def add_months(start: date, months: int) -> date:
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass
class PriceInput:
    kind: str = PriceKind.FIXED
    fixed_jpy_per_t: object = None
    index_code: str = ""
    factor: object = None
    premium_jpy_per_t: object = 0
    floor_jpy_per_t: object = None
    cap_jpy_per_t: object = None


@dataclass
class ValidPrice:
    kind: str
    fixed: int | None
    index_id: int | None
    factor: Decimal | None
    premium: int
    floor: int | None
    cap: int | None


def validate_price(session: Session, price: PriceInput, fixed_field: str) -> ValidPrice:
    """A fixed price or an index formula (index × factor + premium, optional floor and cap)."""
    if price.kind == PriceKind.FIXED:
        return ValidPrice(
            PriceKind.FIXED, _yen(price.fixed_jpy_per_t, fixed_field), None, None, 0, None, None
        )
    if price.kind != PriceKind.INDEX:
        raise ValidationFailed("Choose a fixed price or an index formula.", field="price_kind")
    if not price.index_code:
        raise ValidationFailed("An index formula needs a price index.", field="index")
    index = session.exec(select(PriceIndex).where(PriceIndex.code == price.index_code)).first()
    if index is None:
        raise ValidationFailed(
            "Unknown price index %(code)s.", field="index", code=price.index_code
        )
    try:
        factor = Decimal(str(price.factor).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(
            "Enter the index factor as a number, e.g. 0.92.", field="factor"
        ) from None
    if not factor.is_finite() or not Decimal("0") < factor <= Decimal("5"):
        raise ValidationFailed("The index factor lies between 0 and 5.", field="factor")
    premium = _yen(price.premium_jpy_per_t or 0, "premium", required=False, positive=False) or 0
    floor = _yen(price.floor_jpy_per_t, "floor", required=False)
    cap = _yen(price.cap_jpy_per_t, "cap", required=False)
    if floor is not None and cap is not None and floor > cap:
        raise ValidationFailed("The floor lies above the cap.", field="floor")
    return ValidPrice(PriceKind.INDEX, None, index.id, factor, premium, floor, cap)


def grade_version(session: Session, version_id: object, material_code: str) -> StandardVersion:
    """A published grade version of the given material, or ValidationFailed."""
    try:
        vid = int(str(version_id))
    except ValueError:
        raise ValidationFailed("Choose a grade.", field="grade") from None
    version = session.get(StandardVersion, vid)
    if version is None or version.status != "published":
        raise ValidationFailed("Unknown grade, or not a published version.", field="grade")
    standard = session.get(GradeStandard, version.standard_id)
    if standard.material_code != material_code:
        raise ValidationFailed("This grade belongs to another material.", field="grade")
    return version


def _material(session: Session, code: str) -> Material:
    material = session.exec(select(Material).where(Material.code == code)).first()
    if material is None:
        raise ValidationFailed("Unknown material %(code)s.", field="material", code=code)
    return material


def _place(prefecture: str | None, lat: object, lon: object, field_name: str) -> tuple:
    pref = (prefecture or "").strip() or None
    if pref is not None and pref not in BY_CODE:
        raise ValidationFailed("Unknown prefecture code.", field=field_name)
    if lat in (None, "") or lon in (None, ""):
        if pref is None:
            raise ValidationFailed("Give a prefecture or coordinates.", field=field_name)
        return pref, BY_CODE[pref].lat, BY_CODE[pref].lon
    try:
        la, lo = float(lat), float(lon)
    except (TypeError, ValueError):
        raise ValidationFailed("Coordinates are numbers.", field="lat") from None
    if not (20 <= la <= 46 and 122 <= lo <= 154) and not (-90 <= la <= 90 and -180 <= lo <= 180):
        raise ValidationFailed("Coordinates out of range.", field="lat")
    return pref, la, lo


def _require_kind(session: Session, org_id: int, kind: str) -> Organization:
    org = session.get(Organization, org_id)
    require_verified(org)
    if org.kind != kind:
        if kind == OrgKind.RECYCLER:
            raise PermissionDenied("Only recyclers publish supply listings.")
        raise PermissionDenied("Only manufacturers publish offtake requests.")
    return org


@dataclass
class ListingInput:
    material: str
    grade_version_id: object
    monthly_t: object
    min_t_per_contract: object
    available_from: object
    max_term_months: object
    origin_prefecture: str = ""
    origin_port: str = ""
    lat: object = None
    lon: object = None
    incoterm: str = "FCA"
    incoterm_place: str = ""
    price: PriceInput = field(default_factory=PriceInput)
    assay_id: object = None
    certificate_id: str = ""
    visibility: str = "public"
    invited_org_ids: list[int] = field(default_factory=list)
    expires_on: object = None
    title: str = ""


def parse_term(value: object, field_name: str) -> int:
    try:
        months = int(str(value).strip())
    except ValueError:
        raise ValidationFailed("Enter a whole number of months.", field=field_name) from None
    if not 1 <= months <= MAX_TERM_MONTHS:
        raise ValidationFailed("The term lies between 1 and 120 months.", field=field_name)
    return months


def _incoterm(rule: str, place: str) -> tuple[str, str]:
    rule = (rule or "").strip().upper()
    if rule not in INCOTERMS_2020:
        raise ValidationFailed("Choose an Incoterms 2020 rule.", field="incoterm")
    place = (place or "").strip()
    if not place or len(place) > 200:
        raise ValidationFailed(
            "Name the Incoterms place (at most 200 characters).", field="incoterm_place"
        )
    return rule, place


def _expiry(value: object, today: date) -> date:
    expires = _date(value, "expires_on") if value not in (None, "") else add_months(today, 3)
    if expires < today:
        raise ValidationFailed("The expiry date lies in the past.", field="expires_on")
    return expires


def _listing_fields(session: Session, org: Organization, data: ListingInput, today: date) -> dict:
    material = _material(session, data.material)
    version = grade_version(session, data.grade_version_id, material.code)
    monthly = tonnes_to_kg(data.monthly_t, "monthly_t")
    minimum = tonnes_to_kg(data.min_t_per_contract, "min_t_per_contract")
    if minimum > monthly:
        raise ValidationFailed(
            "The minimum per contract exceeds the monthly volume.", field="min_t_per_contract"
        )
    start = parse_month(data.available_from, "available_from")
    term = parse_term(data.max_term_months, "max_term_months")
    pref, lat, lon = _place(data.origin_prefecture, data.lat, data.lon, "origin_prefecture")
    incoterm, place = _incoterm(data.incoterm, data.incoterm_place)
    price = validate_price(session, data.price, "fixed_price")
    if data.visibility not in ("public", "invited"):
        raise ValidationFailed("Choose who may see the listing.", field="visibility")
    invited = sorted({int(i) for i in data.invited_org_ids})
    if data.visibility == "invited":
        if not invited:
            raise ValidationFailed("Invite at least one organisation.", field="invited_org_ids")
        found = session.exec(select(Organization.id).where(Organization.id.in_(invited))).all()
        if len(found) != len(invited):
            raise ValidationFailed("Unknown invited organisation.", field="invited_org_ids")
    assay_id, certificate_id, level = _evidence(session, org, data, material.code)
    return dict(
        title=(data.title or "").strip()[:200],
        material_code=material.code,
        standard_version_id=version.id,
        monthly_kg=monthly,
        min_kg_per_contract=minimum,
        available_from=start,
        max_term_months=term,
        origin_prefecture=pref,
        origin_port=(data.origin_port or "").strip()[:80] or None,
        lat=lat,
        lon=lon,
        incoterm=incoterm,
        incoterm_place=place,
        price_kind=price.kind,
        fixed_price_jpy_per_t=price.fixed,
        index_id=price.index_id,
        index_factor=price.factor,
        premium_jpy_per_t=price.premium,
        floor_jpy_per_t=price.floor,
        cap_jpy_per_t=price.cap,
        assay_id=assay_id,
        certificate_id=certificate_id,
        data_quality_level=level,
        visibility=data.visibility,
        invited_org_ids=" ".join(str(i) for i in invited) if data.visibility == "invited" else "",
        expires_on=_expiry(data.expires_on, today),
    )


def _evidence(session: Session, org: Organization, data: ListingInput, material: str):
    """The listing's assay or certificate (own organisation's, same material) and DQ level."""
    from quality.assays import assay_evidence
    from quality.dataquality import data_quality_level

    assay = None
    certificate_id = (data.certificate_id or "").strip() or None
    if certificate_id:
        cert = session.get(Certificate, certificate_id)
        if cert is None or cert.issuer_org_id != org.id:
            raise ValidationFailed("Unknown certificate.", field="certificate_id")
        assay = session.get(Assay, cert.assay_id)
    if data.assay_id not in (None, ""):
        try:
            assay = session.get(Assay, int(str(data.assay_id)))
        except ValueError:
            assay = None
        if assay is None or assay.organization_id != org.id:
            raise ValidationFailed("Unknown assay.", field="assay_id")
    if assay is None:
        return None, certificate_id, 1  # declared composition only
    if assay.material_code != material:
        raise ValidationFailed("The assay is of another material.", field="assay_id")
    return assay.id, certificate_id, max(1, data_quality_level(assay_evidence(session, assay)))


def create_listing(session: Session, org_id: int, data: ListingInput, today: date) -> SupplyListing:
    """A draft listing of a verified recycler; flushes."""
    org = _require_kind(session, org_id, OrgKind.RECYCLER)
    listing = SupplyListing(organization_id=org.id, **_listing_fields(session, org, data, today))
    session.add(listing)
    session.flush()
    return listing


def own_listing(session: Session, org_id: int, listing_id: int) -> SupplyListing:
    listing = session.get(SupplyListing, listing_id)
    if listing is None or listing.organization_id != org_id:
        raise NotFound("No such listing.")
    return listing


def update_listing(
    session: Session, org_id: int, listing_id: int, data: ListingInput, today: date
) -> SupplyListing:
    """Edit a draft or open listing; the monthly volume never drops below what is committed."""
    listing = own_listing(session, org_id, listing_id)
    if listing.status not in (ListingStatus.DRAFT, ListingStatus.OPEN):
        raise Conflict("A closed or expired listing cannot be edited.")
    org = _require_kind(session, org_id, OrgKind.RECYCLER)
    values = _listing_fields(session, org, data, today)
    if values["monthly_kg"] < listing.committed_kg:
        raise ValidationFailed(
            "The monthly volume cannot drop below the committed %(t)s t.",
            field="monthly_t",
            t=kg_to_tonnes(listing.committed_kg),
        )
    for key, value in values.items():
        setattr(listing, key, value)
    listing.version += 1
    listing.updated_at = utcnow()
    session.add(listing)
    session.flush()
    return listing


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


def publish_listing(session: Session, org_id: int, listing_id: int) -> SupplyListing:
    listing = own_listing(session, org_id, listing_id)
    _require_kind(session, org_id, OrgKind.RECYCLER)
    transition(listing, ListingStatus.OPEN)
    session.add(listing)
    return listing


def close_listing(session: Session, org_id: int, listing_id: int) -> SupplyListing:
    listing = own_listing(session, org_id, listing_id)
    transition(listing, ListingStatus.CLOSED)
    session.add(listing)
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


@dataclass
class RequestInput:
    material: str
    grade_version_id: object
    monthly_t: object
    start_month: object
    term_months: object = None
    end_month: object = None
    accept_stricter: bool = True
    delivery_prefecture: str = ""
    delivery_place: str = ""
    lat: object = None
    lon: object = None
    price: PriceInput = field(default_factory=PriceInput)
    purpose: str = ""
    mandate: str = ""
    expires_on: object = None
    title: str = ""


def _request_fields(session: Session, data: RequestInput, today: date) -> dict:
    material = _material(session, data.material)
    version = grade_version(session, data.grade_version_id, material.code)
    monthly = tonnes_to_kg(data.monthly_t, "monthly_t")
    start = parse_month(data.start_month, "start_month")
    if data.end_month not in (None, ""):
        end = parse_month(data.end_month, "end_month")
        if end <= start:
            raise ValidationFailed("The start lies after the end.", field="end_month")
        term = parse_term(months_between(start, end), "end_month")
    else:
        term = parse_term(data.term_months, "term_months")
    pref, lat, lon = _place(data.delivery_prefecture, data.lat, data.lon, "delivery_prefecture")
    place = (data.delivery_place or "").strip()
    if not place or len(place) > 200:
        raise ValidationFailed(
            "Name the delivery place (at most 200 characters).", field="delivery_place"
        )
    price = validate_price(session, data.price, "max_price")
    if data.mandate not in MANDATES:
        raise ValidationFailed("Unknown recycled-content mandate.", field="mandate")
    purpose = (data.purpose or "").strip()
    if len(purpose) > 1000:
        raise ValidationFailed("At most %(n)s characters.", field="purpose", n=1000)
    return dict(
        title=(data.title or "").strip()[:200],
        material_code=material.code,
        standard_version_id=version.id,
        accept_stricter=bool(data.accept_stricter),
        monthly_kg=monthly,
        start_month=start,
        term_months=term,
        delivery_prefecture=pref,
        delivery_place=place,
        lat=lat,
        lon=lon,
        price_kind=price.kind,
        max_price_jpy_per_t=price.fixed,
        index_id=price.index_id,
        index_factor=price.factor,
        premium_jpy_per_t=price.premium,
        purpose=purpose,
        mandate=data.mandate,
        expires_on=_expiry(data.expires_on, today),
    )


def create_request(
    session: Session, org_id: int, data: RequestInput, today: date
) -> OfftakeRequest:
    """A draft offtake request of a verified manufacturer; flushes."""
    org = _require_kind(session, org_id, OrgKind.MANUFACTURER)
    request = OfftakeRequest(organization_id=org.id, **_request_fields(session, data, today))
    session.add(request)
    session.flush()
    return request


def own_request(session: Session, org_id: int, request_id: int) -> OfftakeRequest:
    request = session.get(OfftakeRequest, request_id)
    if request is None or request.organization_id != org_id:
        raise NotFound("No such request.")
    return request


def update_request(
    session: Session, org_id: int, request_id: int, data: RequestInput, today: date
) -> OfftakeRequest:
    request = own_request(session, org_id, request_id)
    if request.status not in (ListingStatus.DRAFT, ListingStatus.OPEN):
        raise Conflict("A closed or expired request cannot be edited.")
    _require_kind(session, org_id, OrgKind.MANUFACTURER)
    values = _request_fields(session, data, today)
    if values["monthly_kg"] < request.filled_kg:
        raise ValidationFailed(
            "The monthly volume cannot drop below the contracted %(t)s t.",
            field="monthly_t",
            t=kg_to_tonnes(request.filled_kg),
        )
    for key, value in values.items():
        setattr(request, key, value)
    request.version += 1
    request.updated_at = utcnow()
    session.add(request)
    session.flush()
    return request


def publish_request(session: Session, org_id: int, request_id: int) -> OfftakeRequest:
    request = own_request(session, org_id, request_id)
    _require_kind(session, org_id, OrgKind.MANUFACTURER)
    transition(request, ListingStatus.OPEN)
    session.add(request)
    return request


def close_request(session: Session, org_id: int, request_id: int) -> OfftakeRequest:
    request = own_request(session, org_id, request_id)
    transition(request, ListingStatus.CLOSED)
    session.add(request)
    return request


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


def can_see_listing(listing: SupplyListing, org_id: int | None) -> bool:
    """Owner always; others only open listings, and invited-only ones when invited."""
    if org_id is not None and listing.organization_id == org_id:
        return True
    if listing.status != ListingStatus.OPEN:
        return False
    return listing.visibility == "public" or (org_id is not None and org_id in listing.invited)


def can_see_request(request: OfftakeRequest | None, org_id: int | None) -> bool:
    """Open requests are visible to every member; drafts and closed ones to their owner only."""
    if request is None:
        return False
    return request.organization_id == org_id or request.status == ListingStatus.OPEN
