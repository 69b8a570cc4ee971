"""Sealed bids on tenders, up to the end of the tender period.

A verified recycler or manufacturer (its traders and administrators) submits one bid per
tender during the tender period only: price (yen, tax excluded, the whole tender), delivery
date (after the tender period), the material its recycled content draws on, the mass of all
goods offered (kg), the recycled content claimed (post-consumer and total, per cent), evidence
certificates and a note. The claim — mass × total share, rounded up to the kilogram
(`quality.custody.claim_kg`) — must be covered by the bidder's chain-of-custody balance of that
material at submission (checked again at opening); the certificates must be the bidder's own
(`quality.custody.citable_certificates`) and of that material, and at least one is needed when
the tender requires it. A bid below the tender's minimum content is accepted with a warning:
the evaluation disqualifies it.

The bid keeps `content_sha256`: the SHA-256 of its canonical content (tender, bidder, every
field, the certificates, the second it was written) — the bidder's receipt. Until the tender
period ends the bidder may modify or withdraw it (a withdrawn bid may be submitted again); an
amendment of the tender makes it `unconfirmed`, and the bidder confirms it (the same content,
checked again against the amended tender) or modifies it.

SEALED: before the tender period ends nobody but the bidder's own organisation reads anything
of a bid — not the buying agency, not the operator; not even how many there are
(`market.tenders.number_of_bids`). `read_own_bid` is the bidder's door; `bids_of_tender`
(internal, no actor) is the evaluation's, and refuses while the bids are sealed. No audit
entry is written for bids: the operator reads the audit log.

Every write first holds the tender's row with a conditional UPDATE that requires it active, in
its tender period and not amended since it was read, so a bid written while an amendment
commits either waits for it (and is then marked unconfirmed) or is refused.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from market.models import Bid, BidEvidence, BidStatus, Tender, TenderStatus
from market.tender_states import sealed
from market.tenders import (
    pct_text,
    read_tender,
    tokyo_date,
    tokyo_time,
)
from participants.actors import Actor, permission
from participants.columns import utcnow
from participants.errors import N_, Conflict, NotFound, PermissionDenied, ValidationFailed
from participants.fields import LARGE_YEN_MAX, Day, Line, Paragraphs, Percent, _no_bool
from participants.models import OrgKind, Role
from quality.certificates import content_sha256
from quality.custody import available_kg, check_covered, citable_certificates, claim_kg, tonnes
from quality.models import Assay, Certificate, Material

MAX_CERTIFICATES = 20
LIVE = (BidStatus.SUBMITTED, BidStatus.NEEDS_CONFIRMATION)

SUBMIT_BIDS = permission(
    N_("Only traders and administrators of verified recyclers and manufacturers bid in tenders."),
    kinds=[OrgKind.RECYCLER, OrgKind.MANUFACTURER],
    roles=[Role.TRADER, Role.ADMIN],
)
SEE_OWN_BIDS = permission(
    N_("Only the bidding organisation reads its bid."),
    kinds=[OrgKind.RECYCLER, OrgKind.MANUFACTURER],
    verified=False,
)

BidYen = Annotated[int, Field(ge=1, le=LARGE_YEN_MAX), BeforeValidator(_no_bool)]
MassKg = Annotated[int, Field(ge=1, le=1_000_000_000), BeforeValidator(_no_bool)]


class BidIn(BaseModel):
    """A bid: the whole tender's price, delivery, the recycled content claimed and its
    evidence. The claim (mass × total share) must be covered by the bidder's chain-of-custody
    balance of the material."""

    model_config = ConfigDict(extra="forbid")
    price_jpy: BidYen = Field(description="yen, tax excluded, for the whole tender")
    delivery_date: Day = Field(description="YYYY-MM-DD, after the tender period")
    material_code: Line(40, min_length=1) = Field(
        description="the recycled material the content draws on, e.g. mixed_plastics"
    )
    product_mass_kg: MassKg = Field(description="mass of all goods offered, kg")
    post_consumer_pct: Percent
    total_recycled_pct: Percent
    certificate_ids: list[Line(32, min_length=1)] = Field(
        default_factory=list,
        description="quality certificates of the bidder's own or of lots delivered to it",
        json_schema_extra={"maxItems": MAX_CERTIFICATES},
    )
    note: Paragraphs(2000) = ""


class ConfirmIn(BaseModel):
    """Confirm an unconfirmed bid as it stands (its current receipt)."""

    model_config = ConfigDict(extra="forbid")
    content_sha256: Line(64, min_length=1) = Field(description="the bid's current receipt")


class BidOut(BaseModel):
    """The caller's own bid with its receipt, its claim and the balance that covers it."""

    id: int
    tender_id: int
    status: str = Field(description="submitted, unconfirmed, withdrawn, … (after opening)")
    price_jpy: int
    delivery_date: date
    material_code: str
    product_mass_kg: int
    post_consumer_pct: str
    total_recycled_pct: str
    claim_kg: int = Field(description="recycled kilograms the claim needs (rounded up)")
    claim_t: str
    available_t: str = Field(description="the bidder's available balance of the material now")
    certificate_ids: list[str]
    note: str
    content_sha256: str = Field(description="SHA-256 of the bid's canonical content: the receipt")
    submitted_at: datetime
    updated_at: datetime
    warnings: list[str] = Field(description="e.g. a claim below the tender's minimum content")


# ---------------------------------------------------------------------------------------------
# Content and receipt


def bid_content(bid: Bid, certificate_ids: list[str]) -> dict:
    """The canonical content a bid's receipt hashes."""
    return {
        "tender": bid.tender_id,
        "bidder": bid.organization_id,
        "price_jpy": bid.price_jpy,
        "delivery_date": bid.delivery_date.isoformat(),
        "material_code": bid.material_code,
        "product_mass_kg": bid.product_mass_kg,
        "post_consumer_pct": pct_text(bid.post_consumer_pct),
        "total_recycled_pct": pct_text(bid.total_recycled_pct),
        "certificates": sorted(certificate_ids),
        "note": bid.note,
        "written_at": bid.updated_at.isoformat(timespec="seconds"),
    }


def bid_sha256(bid: Bid, certificate_ids: list[str]) -> str:
    return content_sha256(bid_content(bid, certificate_ids))


def bid_certificates(session: Session, bid_ids: list[int]) -> dict[int, list[str]]:
    """The certificates each bid cites, by bid id (one query)."""
    out: dict[int, list[str]] = {i: [] for i in bid_ids}
    if not bid_ids:
        return out
    for row in session.exec(
        select(BidEvidence)
        .where(col(BidEvidence.bid_id).in_(bid_ids))
        .order_by(col(BidEvidence.certificate_id))
    ).all():
        out[row.bid_id].append(row.certificate_id)
    return out


# ---------------------------------------------------------------------------------------------
# Rules


def _hold_tender(session: Session, tender: Tender, now: datetime) -> None:
    """Refuse (409) unless the tender is active and in its tender period, and hold its row
    (a no-op conditional UPDATE that also requires no amendment since it was read)."""
    if tender.status != TenderStatus.ACTIVE:
        raise Conflict(N_("This tender is no longer open for bids."))
    if now < tender.tender_start:
        raise Conflict(N_("The tender period opens at %(at)s."), at=tokyo_time(tender.tender_start))
    if now >= tender.tender_end:
        raise Conflict(N_("The tender period closed at %(at)s."), at=tokyo_time(tender.tender_end))
    held = session.execute(
        update(Tender)
        .where(
            Tender.id == tender.id,
            Tender.status == TenderStatus.ACTIVE,
            Tender.amendment_count == tender.amendment_count,
            Tender.tender_end > now,
        )
        .values(amendment_count=Tender.amendment_count)
        .execution_options(synchronize_session=False)
    )
    if held.rowcount != 1:
        raise Conflict(N_("The tender has just been amended or closed; reload it."))


def _check_bid(session: Session, actor: Actor, tender: Tender, data: BidIn) -> list[str]:
    """Every rule of a bid's content against the tender and the bidder's ledger (nothing is
    written); the certificate ids, in the order given, without repeats."""
    if data.delivery_date <= tokyo_date(tender.tender_end):
        raise ValidationFailed(
            N_("The delivery date must lie after the end of the tender period (%(at)s)."),
            "delivery_date",
            at=tokyo_time(tender.tender_end),
        )
    if data.post_consumer_pct > data.total_recycled_pct:
        raise ValidationFailed(
            N_(
                "The post-consumer content cannot exceed the total recycled content "
                "(post-consumer content is part of it)."
            ),
            "post_consumer_pct",
        )
    material = data.material_code.strip()
    if session.exec(select(Material.id).where(Material.code == material)).first() is None:
        raise ValidationFailed(N_("Unknown material %(code)s."), "material_code", code=material)
    if len(data.certificate_ids) > MAX_CERTIFICATES:
        raise ValidationFailed(
            N_("At most %(n)s certificates."), "certificate_ids", n=MAX_CERTIFICATES
        )
    wanted = list(dict.fromkeys(c.strip() for c in data.certificate_ids if c.strip()))
    if tender.requires_certificate and not wanted:
        raise ValidationFailed(
            N_("This tender requires at least one quality certificate as evidence."),
            "certificate_ids",
        )
    certificates = citable_certificates(
        session, actor.organization_id, wanted, field="certificate_ids"
    )
    if certificates:
        materials = dict(
            session.exec(
                select(Certificate.id, Assay.material_code)
                .join(Assay, Assay.id == Certificate.assay_id)
                .where(col(Certificate.id).in_([c.id for c in certificates]))
            ).all()
        )
        for cert in certificates:
            if materials.get(cert.id) != material:
                raise ValidationFailed(
                    N_("Certificate %(id)s is of another material (%(material)s)."),
                    "certificate_ids",
                    id=cert.id,
                    material=materials.get(cert.id, "?"),
                )
    needed = claim_kg(data.product_mass_kg, data.total_recycled_pct)
    check_covered(session, actor.organization_id, material, needed)
    return wanted


def _write(session: Session, bid: Bid, data: BidIn, certificates: list[str], now: datetime):
    bid.price_jpy = data.price_jpy
    bid.delivery_date = data.delivery_date
    bid.material_code = data.material_code.strip()
    bid.product_mass_kg = data.product_mass_kg
    bid.post_consumer_pct = data.post_consumer_pct
    bid.total_recycled_pct = data.total_recycled_pct
    bid.note = data.note.strip()
    bid.status = BidStatus.SUBMITTED
    bid.updated_at = now.replace(microsecond=0)
    bid.content_sha256 = bid_sha256(bid, certificates)
    session.add(bid)
    session.flush()
    session.execute(delete(BidEvidence).where(BidEvidence.bid_id == bid.id))
    for cert_id in certificates:
        session.add(BidEvidence(bid_id=bid.id, certificate_id=cert_id))
    session.flush()


def _own_bid(session: Session, actor: Actor, tender_id: int) -> Bid | None:
    return session.exec(
        select(Bid).where(Bid.tender_id == tender_id, Bid.organization_id == actor.organization_id)
    ).first()


def _bidding_on(session: Session, actor: Actor, tender_id: int) -> Tender:
    SUBMIT_BIDS.check(actor)
    tender = read_tender(session, actor, tender_id)
    if actor.owns(tender.organization_id):
        raise PermissionDenied(N_("The buying agency does not bid on its own tender."))
    return tender


# ---------------------------------------------------------------------------------------------
# The bidder's steps


def submit_bid(
    session: Session, actor: Actor, tender_id: int, data: BidIn, now: datetime | None = None
) -> Bid:
    """Submit the organisation's bid during the tender period (one per tender; a withdrawn
    bid may be submitted again)."""
    now = now or utcnow()
    tender = _bidding_on(session, actor, tender_id)
    _hold_tender(session, tender, now)
    existing = _own_bid(session, actor, tender.id)
    if existing is not None and existing.status != BidStatus.WITHDRAWN:
        raise Conflict(
            N_("Your organisation has already bid on this tender: modify that bid instead.")
        )
    certificates = _check_bid(session, actor, tender, data)
    if existing is not None:
        existing.submitted_by_member_id = actor.member_id
        existing.submitted_at = now
        _write(session, existing, data, certificates, now)
        return existing
    bid = Bid(
        tender_id=tender.id,
        organization_id=actor.organization_id,
        submitted_by_member_id=actor.member_id,
        price_jpy=0,
        delivery_date=data.delivery_date,
        material_code="",
        product_mass_kg=0,
        post_consumer_pct=Decimal(0),
        total_recycled_pct=Decimal(0),
        submitted_at=now,
    )
    try:
        with session.begin_nested():
            session.add(bid)
            session.flush()
    except IntegrityError:  # the same organisation's other request won
        raise Conflict(
            N_("Your organisation has already bid on this tender: modify that bid instead.")
        ) from None
    _write(session, bid, data, certificates, now)
    return bid


def _live_bid(session: Session, actor: Actor, tender_id: int, now: datetime) -> Bid:
    tender = _bidding_on(session, actor, tender_id)
    bid = _own_bid(session, actor, tender.id)
    if bid is None:
        raise NotFound(N_("Your organisation has no bid on this tender."))
    _hold_tender(session, tender, now)
    if bid.status == BidStatus.WITHDRAWN:
        raise Conflict(N_("Your bid is withdrawn: submit a new bid instead."))
    if bid.status not in LIVE:
        raise Conflict(N_("Your bid can no longer be changed."))
    return bid


def modify_bid(
    session: Session, actor: Actor, tender_id: int, data: BidIn, now: datetime | None = None
) -> Bid:
    """Replace the bid's content until the tender period ends (this also confirms an
    unconfirmed bid)."""
    now = now or utcnow()
    bid = _live_bid(session, actor, tender_id, now)
    tender = session.get(Tender, bid.tender_id)
    certificates = _check_bid(session, actor, tender, data)
    _write(session, bid, data, certificates, now)
    return bid


def withdraw_bid(
    session: Session, actor: Actor, tender_id: int, now: datetime | None = None
) -> Bid:
    """Withdraw the bid until the tender period ends (it is then not considered)."""
    now = now or utcnow()
    bid = _live_bid(session, actor, tender_id, now)
    bid.status = BidStatus.WITHDRAWN
    bid.updated_at = now.replace(microsecond=0)
    session.add(bid)
    session.flush()
    return bid


def confirm_bid(
    session: Session, actor: Actor, tender_id: int, data: ConfirmIn, now: datetime | None = None
) -> Bid:
    """Confirm an unconfirmed bid as it stands, after an amendment: its content is checked
    again against the amended tender (a delivery date inside an extended period, a claim the
    balance no longer covers: modify the bid instead). A new receipt is issued."""
    now = now or utcnow()
    bid = _live_bid(session, actor, tender_id, now)
    if bid.status != BidStatus.NEEDS_CONFIRMATION:
        raise Conflict(N_("Your bid needs no confirmation."))
    if data.content_sha256.strip().lower() != bid.content_sha256:
        raise Conflict(N_("Your bid has changed since you read it; read it again and confirm."))
    certificates = bid_certificates(session, [bid.id])[bid.id]
    as_input = bid_input(bid, certificates)
    tender = session.get(Tender, bid.tender_id)
    _check_bid(session, actor, tender, as_input)
    _write(session, bid, as_input, certificates, now)
    return bid


def bid_input(bid: Bid, certificate_ids: list[str]) -> BidIn:
    """A stored bid as the input that would submit it again (the form's values)."""
    return BidIn(
        price_jpy=bid.price_jpy,
        delivery_date=bid.delivery_date,
        material_code=bid.material_code,
        product_mass_kg=bid.product_mass_kg,
        post_consumer_pct=bid.post_consumer_pct,
        total_recycled_pct=bid.total_recycled_pct,
        certificate_ids=certificate_ids,
        note=bid.note,
    )


# ---------------------------------------------------------------------------------------------
# Reading: the bidder's own bid; the evaluation's (internal) door once the period has ended


def read_own_bid(session: Session, actor: Actor, tender_id: int) -> Bid:
    """The actor's organisation's bid on a tender (any state), or NotFound."""
    SEE_OWN_BIDS.check(actor)
    tender = read_tender(session, actor, tender_id)
    bid = _own_bid(session, actor, tender.id)
    if bid is None:
        raise NotFound(N_("Your organisation has no bid on this tender."))
    return bid


def bids_of_tender(
    session: Session,
    tender_id: int,
    now: datetime | None = None,
    include_withdrawn: bool = False,
) -> list[Bid]:
    """Every bid of a tender, oldest first (INTERNAL: no actor; for the evaluation once the
    tender period has ended). Conflict while the bids are sealed."""
    tender = session.get(Tender, tender_id) if 1 <= tender_id < 2**31 else None
    if tender is None:
        raise NotFound(N_("No such tender."))
    if sealed(tender, now):
        raise Conflict(
            N_("The bids stay sealed until the tender period ends at %(at)s."),
            at=tokyo_time(tender.tender_end),
        )
    query = select(Bid).where(Bid.tender_id == tender_id)
    if not include_withdrawn:
        query = query.where(Bid.status != BidStatus.WITHDRAWN)
    return list(session.exec(query.order_by(col(Bid.id))).all())


@dataclass
class Coverage:
    """A claim and the bidder's available balance of its material."""

    claim_kg: int
    available_kg: int

    @property
    def covered(self) -> bool:
        return self.claim_kg <= self.available_kg


def coverage(
    session: Session, organization_id: int, material_code: str, mass_kg: int, total_pct: Decimal
) -> Coverage:
    return Coverage(
        claim_kg(mass_kg, total_pct), available_kg(session, organization_id, material_code)
    )


def bid_warnings(tender: Tender, bid: Bid) -> list[tuple[str, dict]]:
    """What would disqualify the bid at opening that the bidder may still fix (msgid, params)."""
    out: list[tuple[str, dict]] = []
    if bid.post_consumer_pct < tender.min_post_consumer_pct:
        out.append(
            (
                N_(
                    "The post-consumer content is below the tender's minimum of %(min)s "
                    "percent: the bid would be disqualified at opening."
                ),
                {"min": pct_text(tender.min_post_consumer_pct)},
            )
        )
    if bid.total_recycled_pct < tender.min_total_pct:
        out.append(
            (
                N_(
                    "The total recycled content is below the tender's minimum of %(min)s "
                    "percent: the bid would be disqualified at opening."
                ),
                {"min": pct_text(tender.min_total_pct)},
            )
        )
    if bid.status == BidStatus.NEEDS_CONFIRMATION:
        out.append(
            (
                N_(
                    "The tender was amended after this bid: confirm or modify it before "
                    "%(deadline)s, or it will not be considered."
                ),
                {"deadline": tokyo_time(tender.tender_end)},
            )
        )
    return out


def bid_out(
    session: Session,
    bid: Bid,
    translate: Callable[..., str] = lambda message, **params: message % params,
) -> BidOut:
    """The bidder's view of its bid; `translate(msgid, **params)` renders the warnings."""
    tender = session.get(Tender, bid.tender_id)
    certificates = bid_certificates(session, [bid.id])[bid.id]
    needed = claim_kg(bid.product_mass_kg, bid.total_recycled_pct)
    return BidOut(
        id=bid.id,
        tender_id=bid.tender_id,
        status=bid.status,
        price_jpy=bid.price_jpy,
        delivery_date=bid.delivery_date,
        material_code=bid.material_code,
        product_mass_kg=bid.product_mass_kg,
        post_consumer_pct=pct_text(bid.post_consumer_pct),
        total_recycled_pct=pct_text(bid.total_recycled_pct),
        claim_kg=needed,
        claim_t=tonnes(needed),
        available_t=tonnes(available_kg(session, bid.organization_id, bid.material_code)),
        certificate_ids=certificates,
        note=bid.note,
        content_sha256=bid.content_sha256,
        submitted_at=bid.submitted_at,
        updated_at=bid.updated_at,
        warnings=[
            translate(message, **params) if params else translate(message)
            for message, params in bid_warnings(tender, bid)
        ],
    )
