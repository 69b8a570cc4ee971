"""Tenders of public agencies up to the end of their tender period, and their enquiries.

A procurement officer of a verified agency drafts a tender (`planning`: only its agency sees
it), edits it, publishes it (`active`), amends it while it is active and before the tender
period ends, and cancels it from any open state. Every change of state goes through
`market.tender_states.move_tender`; each published step stores an OCDS release
(`market.ocds.record_release`: tender, tenderUpdate, tenderCancellation).

Time: an active tender's phase follows the clock (`tender_phase`): `upcoming` before the
enquiry period, `enquiries` during it, `awaiting_tenders` between the two periods, `tendering`
during the tender period (sealed bids, `market.bids`), `closed` once it has ended (the
evaluation opens the bids). Times are entered in Asia/Tokyo and stored in UTC; the periods
follow enquiry_start < enquiry_end ≤ tender_start < tender_end, and the tender period lasts
at least a day.

An amendment changes the description, the items, the minimum recycled content and the
periods (which may only be extended); it counts (`amendment_count`), marks every live bid
`unconfirmed` (its bidder confirms or modifies it) and notifies the bidders.

Enquiries: during the enquiry period a member of a verified recycler or manufacturer asks; the
buying agency's officer answers; the answer is public. The asking organisation is stored for
the record and never shown — not publicly, not to the officer (`EnquiryOut` has no field for
it).

Who may (checked here):
- create, edit, publish, amend, cancel, answer: procurement officers (role officer) of a
  verified agency (`MANAGE_TENDERS`), on their own agency's tenders only (another agency's
  draft is not found; its published tender is forbidden);
- ask: members of verified recyclers and manufacturers (`ASK_QUESTIONS`);
- read: anyone (without logging in) reads published tenders and answered enquiries; a draft
  only its agency's members.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError
from sqlalchemy import case, delete, update
from sqlmodel import Session, col, func, or_, select

from market.alerts import notify_organization
from market.categories import get_category
from market.models import (
    Award,
    AwardStatus,
    Bid,
    BidStatus,
    Enquiry,
    Notification,
    ProcurementCategory,
    Tender,
    TenderItem,
    TenderStatus,
)
from market.ocds import record_release
from market.tender_states import OPEN_STATES, move_tender, sealed, withdraw_pending_award
from participants.actors import Actor, permission
from participants.audit import record_audit
from participants.columns import utcnow
from participants.errors import N_, Conflict, NotFound, PermissionDenied, ValidationFailed
from participants.fields import (
    ID_MAX,
    LARGE_YEN_MAX,
    Id,
    Line,
    Paging,
    Paragraphs,
    Percent,
    _no_bool,
)
from participants.models import Organization, OrgKind, Role

TOKYO = ZoneInfo("Asia/Tokyo")
MAX_ITEMS = 20
MAX_QUESTIONS = 20  # per organisation and tender
MIN_TENDER_PERIOD = timedelta(days=1)
S = TenderStatus
PUBLISHED_STATES = (
    S.ACTIVE,
    S.EVALUATION,
    S.AWARDED,
    S.COMPLETE,
    S.CANCELLED,
    S.UNSUCCESSFUL,
)
LIVE_BIDS = (BidStatus.SUBMITTED, BidStatus.NEEDS_CONFIRMATION)
BIDDER_ROLES = (Role.ADMIN, Role.TRADER)

MANAGE_TENDERS = permission(
    N_("Only procurement officers of verified public agencies create and manage tenders."),
    kinds=[OrgKind.AGENCY],
    roles=[Role.OFFICER],
)
ASK_QUESTIONS = permission(
    N_("Only members of verified recyclers and manufacturers ask questions about a tender."),
    kinds=[OrgKind.RECYCLER, OrgKind.MANUFACTURER],
)


# ---------------------------------------------------------------------------------------------
# Time: entered in Asia/Tokyo, stored in UTC


def tokyo_time(value: datetime) -> str:
    """A UTC datetime as people in Japan read it: "2027-01-10 09:00 JST"."""
    return value.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M JST")


def tokyo_date(value: datetime) -> date:
    return value.astimezone(TOKYO).date()


DATETIME_PATTERN = "^20[0-9]{2}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?$"
_DATETIME = re.compile(DATETIME_PATTERN)


def _tokyo_datetime(value: Any) -> datetime:
    """An aware UTC datetime from "YYYY-MM-DDTHH:MM" in Asia/Tokyo (or with its own offset)."""
    message = "Enter a date and time as YYYY-MM-DDTHH:MM (Japan time)."
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and _DATETIME.fullmatch(value.strip()):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise PydanticCustomError("datetime_value", message) from None
    else:
        raise PydanticCustomError("datetime_value", message)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TOKYO)
    moment = moment.astimezone(UTC)
    if not 2000 <= moment.year <= 2099:
        raise PydanticCustomError("datetime_value", message)
    return moment


TokyoDateTime = Annotated[
    datetime,
    BeforeValidator(_tokyo_datetime),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DATETIME_PATTERN,
            "description": "date and time, Asia/Tokyo unless an offset is given",
            "examples": ["2027-04-01T09:00"],
        }
    ),
]

# ---------------------------------------------------------------------------------------------
# Bounded types

Weight = Annotated[int, Field(ge=0, le=100), BeforeValidator(_no_bool)]
Quantity = Annotated[int, Field(ge=1, le=1_000_000_000), BeforeValidator(_no_bool)]
StandstillDays = Annotated[int, Field(ge=0, le=90), BeforeValidator(_no_bool)]
BudgetYen = Annotated[int, Field(ge=1, le=LARGE_YEN_MAX), BeforeValidator(_no_bool)]


def pct_text(value: Decimal | None) -> str | None:
    """A percentage as a plain decimal string without trailing zeros ("90", "12.5")."""
    if value is None:
        return None
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in ("-0", "0") else text


# ---------------------------------------------------------------------------------------------
# Input (the page forms' field names are these names)


class TenderItemIn(BaseModel):
    """One item of a tender: what, how many, in which unit."""

    model_config = ConfigDict(extra="forbid")
    description_en: Line(300, min_length=1)
    description_ja: Line(300, min_length=1)
    quantity: Quantity
    unit: Line(20, min_length=1) = Field(description="e.g. piece, set, m")


_ITEMS = Field(
    description="1 to 20 items", json_schema_extra={"minItems": 1, "maxItems": MAX_ITEMS}
)


class TenderIn(BaseModel):
    """A tender as its officer drafts it. Times are Asia/Tokyo unless an offset is given; the
    minimum recycled content defaults to the category's recommendation."""

    model_config = ConfigDict(extra="forbid")
    title_en: Line(200, min_length=1)
    title_ja: Line(200, min_length=1)
    description_en: Paragraphs(10_000) = ""
    description_ja: Paragraphs(10_000) = ""
    category_id: Id = Field(description="a procurement category")
    items: list[TenderItemIn] = _ITEMS
    min_post_consumer_pct: Percent | None = Field(
        default=None, description="minimum post-consumer recycled content (default: recommended)"
    )
    min_total_pct: Percent | None = Field(
        default=None, description="minimum total recycled content (default: recommended)"
    )
    requires_certificate: bool = Field(
        default=True, description="bids must cite at least one quality certificate"
    )
    custody_model: Literal["mass_balance"] = "mass_balance"
    weight_price: Weight = 50
    weight_recycled: Weight = 40
    weight_evidence: Weight = 10
    enquiry_start: TokyoDateTime
    enquiry_end: TokyoDateTime
    tender_start: TokyoDateTime
    tender_end: TokyoDateTime
    standstill_days: StandstillDays = 10
    budget_jpy: BudgetYen = Field(description="yen, tax excluded")


class TenderAmendmentIn(BaseModel):
    """What an amendment of a published tender changes (only the fields sent). Periods may
    only be extended; the tender's other terms stay as published."""

    model_config = ConfigDict(extra="forbid")
    description_en: Paragraphs(10_000) | None = None
    description_ja: Paragraphs(10_000) | None = None
    items: list[TenderItemIn] | None = Field(
        default=None,
        description="replaces every item (1 to 20)",
        json_schema_extra={"maxItems": MAX_ITEMS},
    )
    min_post_consumer_pct: Percent | None = None
    min_total_pct: Percent | None = None
    enquiry_end: TokyoDateTime | None = Field(default=None, description="only later")
    tender_start: TokyoDateTime | None = Field(
        default=None, description="only later, and only before the tender period has begun"
    )
    tender_end: TokyoDateTime | None = Field(default=None, description="only later")


class CancelIn(BaseModel):
    """Why the tender is cancelled (published with the cancellation)."""

    model_config = ConfigDict(extra="forbid")
    reason: Paragraphs(2000)


class EnquiryIn(BaseModel):
    """A question about a tender (the asker is never named)."""

    model_config = ConfigDict(extra="forbid")
    question: Paragraphs(2000)


class AnswerIn(BaseModel):
    """The buying agency's public answer to a question."""

    model_config = ConfigDict(extra="forbid")
    answer: Paragraphs(5000)


TenderStatusName = Literal[tuple(s.value for s in TenderStatus)]


class TenderQuery(Paging):
    """Filters of the tender list."""

    model_config = ConfigDict(extra="forbid")
    category_id: Id | None = None
    status: TenderStatusName | None = None
    mine: bool = Field(default=False, description="only the caller's agency's tenders")


# ---------------------------------------------------------------------------------------------
# Output


class TenderItemOut(BaseModel):
    position: int
    description_en: str
    description_ja: str
    quantity: int
    unit: str


class CategoryRef(BaseModel):
    """The tender's category with its recommended minimum recycled content and its source."""

    id: int
    code: str
    name_en: str
    name_ja: str
    classification_scheme: str
    classification_id: str
    recommended_post_consumer_pct: str | None
    recommended_total_pct: str | None
    source: str


class AgencyRef(BaseModel):
    id: int
    name_en: str
    name_ja: str


class WeightsOut(BaseModel):
    price: int
    recycled_content: int
    evidence: int


class EnquiryOut(BaseModel):
    """A question and its answer (the asker is never named)."""

    id: int
    question: str
    answer: str | None = Field(description="null until answered")
    asked_at: datetime
    answered_at: datetime | None


class TenderSummaryOut(BaseModel):
    """A tender in a list."""

    id: int
    status: str
    phase: str = Field(
        description="planning, upcoming, enquiries, awaiting_tenders, tendering, closed, or "
        "the status once the tender is no longer active"
    )
    title_en: str
    title_ja: str
    agency: AgencyRef
    category: CategoryRef
    budget_jpy: int = Field(description="yen, tax excluded")
    enquiry_start: datetime
    enquiry_end: datetime
    tender_start: datetime
    tender_end: datetime
    published_at: datetime | None
    amendment_count: int


class TenderOut(TenderSummaryOut):
    """A tender: items, minimum recycled content, evidence, weights, periods, enquiries.
    Nothing of the bids is shown before the tender period ends, not even their number."""

    description_en: str
    description_ja: str
    items: list[TenderItemOut]
    min_post_consumer_pct: str
    min_total_pct: str
    requires_certificate: bool
    custody_model: str
    weights: WeightsOut
    standstill_days: int
    closing_reason: str
    number_of_bids: int | None = Field(
        description="bids received (withdrawn ones not counted); null while bids are sealed"
    )
    enquiries: list[EnquiryOut]
    created_at: datetime
    updated_at: datetime


def category_ref(category: ProcurementCategory) -> CategoryRef:
    return CategoryRef(
        id=category.id,
        code=category.code,
        name_en=category.name_en,
        name_ja=category.name_ja,
        classification_scheme=category.classification_scheme,
        classification_id=category.classification_id,
        recommended_post_consumer_pct=pct_text(category.min_post_consumer_pct),
        recommended_total_pct=pct_text(category.min_total_pct),
        source=category.source,
    )


def agency_ref(org: Organization) -> AgencyRef:
    return AgencyRef(id=org.id, name_en=org.name_en, name_ja=org.name_ja)


def enquiry_out(enquiry: Enquiry) -> EnquiryOut:
    return EnquiryOut(
        id=enquiry.id,
        question=enquiry.question,
        answer=enquiry.answer if enquiry.answered_at is not None else None,
        asked_at=enquiry.asked_at,
        answered_at=enquiry.answered_at,
    )


def _summary_values(
    tender: Tender, category: ProcurementCategory, agency: Organization, now: datetime
) -> dict:
    return dict(
        id=tender.id,
        status=tender.status,
        phase=tender_phase(tender, now),
        title_en=tender.title_en,
        title_ja=tender.title_ja,
        agency=agency_ref(agency),
        category=category_ref(category),
        budget_jpy=tender.budget_jpy,
        enquiry_start=tender.enquiry_start,
        enquiry_end=tender.enquiry_end,
        tender_start=tender.tender_start,
        tender_end=tender.tender_end,
        published_at=tender.published_at,
        amendment_count=tender.amendment_count,
    )


def tender_summary_out(
    tender: Tender, category: ProcurementCategory, agency: Organization, now: datetime | None = None
) -> TenderSummaryOut:
    return TenderSummaryOut(**_summary_values(tender, category, agency, now or utcnow()))


# ---------------------------------------------------------------------------------------------
# Phase and reading


def tender_phase(tender: Tender, now: datetime | None = None) -> str:
    """Where an active tender stands by the clock: upcoming, enquiries, awaiting_tenders,
    tendering or closed; any other tender: its status."""
    if tender.status != S.ACTIVE:
        return tender.status
    now = now or utcnow()
    if now >= tender.tender_end:
        return "closed"
    if now >= tender.tender_start:
        return "tendering"
    if tender.enquiry_start <= now < tender.enquiry_end:
        return "enquiries"
    return "upcoming" if now < tender.enquiry_start else "awaiting_tenders"


def tender_visible_to(actor: Actor | None, tender: Tender) -> bool:
    """Published tenders: anyone; a draft: its agency's members only."""
    if tender.status != S.PLANNING:
        return True
    return actor is not None and actor.owns(tender.organization_id)


def read_tender(session: Session, actor: Actor | None, tender_id: int) -> Tender:
    """A tender the actor (None: anyone) may read, or NotFound."""
    tender = session.get(Tender, tender_id) if 1 <= tender_id <= ID_MAX else None
    if tender is None or not tender_visible_to(actor, tender):
        raise NotFound(N_("No such tender."))
    return tender


def managed_tender(session: Session, actor: Actor, tender_id: int) -> Tender:
    """A tender of the officer's own agency (another agency's draft: NotFound; its published
    tender: PermissionDenied)."""
    MANAGE_TENDERS.check(actor)
    tender = read_tender(session, actor, tender_id)
    if not actor.owns(tender.organization_id):
        raise PermissionDenied(N_("Only the buying agency's officers manage this tender."))
    return tender


def tender_items(session: Session, tender_id: int) -> list[TenderItem]:
    return list(
        session.exec(
            select(TenderItem)
            .where(TenderItem.tender_id == tender_id)
            .order_by(col(TenderItem.position))
        ).all()
    )


def number_of_bids(session: Session, tender: Tender, now: datetime | None = None) -> int | None:
    """Bids received (not withdrawn), or None while the bids are sealed: before the tender
    period ends nobody learns even how many bids there are."""
    if sealed(tender, now):
        return None
    return session.exec(
        select(func.count())
        .select_from(Bid)
        .where(Bid.tender_id == tender.id, Bid.status != BidStatus.WITHDRAWN)
    ).one()


def visible_enquiries(session: Session, actor: Actor | None, tender: Tender) -> list[Enquiry]:
    """Answered questions for everyone; the buying agency also sees unanswered ones, and an
    asking organisation its own unanswered ones. Oldest first."""
    query = select(Enquiry).where(Enquiry.tender_id == tender.id)
    if actor is None or not actor.owns(tender.organization_id):
        answered = col(Enquiry.answered_at).is_not(None)
        if actor is not None and actor.organization_id is not None:
            answered = or_(answered, Enquiry.asked_by_org_id == actor.organization_id)
        query = query.where(answered)
    return list(session.exec(query.order_by(col(Enquiry.asked_at), col(Enquiry.id))).all())


@dataclass
class TenderDetail:
    """A tender with what its page and the API show, and what the actor may do with it."""

    tender: Tender
    category: ProcurementCategory
    agency: Organization
    items: list[TenderItem]
    enquiries: list[Enquiry]
    phase: str
    number_of_bids: int | None
    actions: dict[str, bool] = field(default_factory=dict)


def tender_detail(
    session: Session, actor: Actor | None, tender_id: int, now: datetime | None = None
) -> TenderDetail:
    """The tender as the actor (None: anyone) reads it, with the actions it may take."""
    now = now or utcnow()
    tender = read_tender(session, actor, tender_id)
    own = actor is not None and actor.owns(tender.organization_id)
    phase = tender_phase(tender, now)
    manages = own and MANAGE_TENDERS.allows(actor)
    running = tender.status == S.ACTIVE and now < tender.tender_end
    actions = {
        "edit": manages and tender.status == S.PLANNING,
        "publish": manages and tender.status == S.PLANNING,
        "amend": manages and running,
        "cancel": manages and tender.status in OPEN_STATES,
        "answer": manages and running,
        "ask": not own and ASK_QUESTIONS.allows(actor) and phase == "enquiries",
    }
    return TenderDetail(
        tender=tender,
        category=session.get(ProcurementCategory, tender.category_id),
        agency=session.get(Organization, tender.organization_id),
        items=tender_items(session, tender.id),
        enquiries=visible_enquiries(session, actor, tender),
        phase=phase,
        number_of_bids=number_of_bids(session, tender, now),
        actions=actions,
    )


def tender_out(detail: TenderDetail, now: datetime | None = None) -> TenderOut:
    t = detail.tender
    return TenderOut(
        **_summary_values(t, detail.category, detail.agency, now or utcnow()),
        description_en=t.description_en,
        description_ja=t.description_ja,
        items=[
            TenderItemOut(
                position=i.position,
                description_en=i.description_en,
                description_ja=i.description_ja,
                quantity=i.quantity,
                unit=i.unit,
            )
            for i in detail.items
        ],
        min_post_consumer_pct=pct_text(t.min_post_consumer_pct),
        min_total_pct=pct_text(t.min_total_pct),
        requires_certificate=t.requires_certificate,
        custody_model=t.custody_model,
        weights=WeightsOut(
            price=t.weight_price, recycled_content=t.weight_recycled, evidence=t.weight_evidence
        ),
        standstill_days=t.standstill_days,
        closing_reason=t.closing_reason,
        number_of_bids=detail.number_of_bids,
        enquiries=[enquiry_out(e) for e in detail.enquiries],
        created_at=t.created_at,
        updated_at=t.updated_at,
    )


def tenders_query(actor: Actor | None, query: TenderQuery | None = None):
    """Published tenders (and the actor's agency's drafts) with category and agency: open
    ones first (closing soonest first), then past ones (newest first). One query a page."""
    query = query or TenderQuery()
    visible = col(Tender.status) != S.PLANNING
    if actor is not None and actor.organization_id is not None:
        visible = or_(visible, Tender.organization_id == actor.organization_id)
    stmt = (
        select(Tender, ProcurementCategory, Organization)
        .join(ProcurementCategory, ProcurementCategory.id == Tender.category_id)
        .join(Organization, Organization.id == Tender.organization_id)
        .where(visible)
    )
    if query.mine:
        stmt = stmt.where(Tender.organization_id == (actor.organization_id if actor else -1))
    if query.category_id is not None:
        stmt = stmt.where(Tender.category_id == query.category_id)
    if query.status is not None:
        stmt = stmt.where(Tender.status == query.status)
    rank = case((Tender.status == S.PLANNING, 0), (Tender.status == S.ACTIVE, 1), else_=2)
    closing = case((Tender.status == S.ACTIVE, Tender.tender_end), else_=None)
    return stmt.order_by(
        rank,
        closing.asc(),
        col(Tender.published_at).desc(),
        col(Tender.id).desc(),
    )


# ---------------------------------------------------------------------------------------------
# Rules


def _text(value: str | None) -> str:
    return (value or "").strip()


def _required(value: str, field_name: str) -> str:
    text = _text(value)
    if not text:
        raise ValidationFailed(N_("This field is required."), field_name)
    return text


def _clean_items(items: list[TenderItemIn], field_name: str = "items") -> list[dict]:
    if not items:
        raise ValidationFailed(N_("A tender has at least one item."), field_name)
    if len(items) > MAX_ITEMS:
        raise ValidationFailed(N_("A tender has at most %(n)s items."), field_name, n=MAX_ITEMS)
    out = []
    for n, item in enumerate(items):
        out.append(
            dict(
                position=n + 1,
                description_en=_required(item.description_en, f"{field_name}.{n}.description_en"),
                description_ja=_required(item.description_ja, f"{field_name}.{n}.description_ja"),
                quantity=item.quantity,
                unit=_required(item.unit, f"{field_name}.{n}.unit"),
            )
        )
    return out


def _item_values(item: TenderItem) -> dict:
    return dict(
        position=item.position,
        description_en=item.description_en,
        description_ja=item.description_ja,
        quantity=item.quantity,
        unit=item.unit,
    )


def _replace_items(session: Session, tender_id: int, items: list[dict]) -> None:
    session.execute(delete(TenderItem).where(TenderItem.tender_id == tender_id))
    session.flush()
    for values in items:
        session.add(TenderItem(tender_id=tender_id, **values))
    session.flush()


def _check_content(post_consumer: Decimal, total: Decimal) -> None:
    if post_consumer > total:
        raise ValidationFailed(
            N_(
                "The minimum post-consumer content cannot exceed the minimum total recycled "
                "content (post-consumer content is part of it)."
            ),
            "min_post_consumer_pct",
        )


def _check_periods(enquiry_start, enquiry_end, tender_start, tender_end) -> None:
    if enquiry_end <= enquiry_start:
        raise ValidationFailed(N_("The enquiry period must end after it starts."), "enquiry_end")
    if tender_start < enquiry_end:
        raise ValidationFailed(
            N_("The tender period may start only when the enquiry period has ended."),
            "tender_start",
        )
    if tender_end - tender_start < MIN_TENDER_PERIOD:
        raise ValidationFailed(N_("The tender period must last at least a day."), "tender_end")


def _check_draft(tender: Tender, now: datetime) -> None:
    """The rules of a whole tender (a draft being saved or published)."""
    total = tender.weight_price + tender.weight_recycled + tender.weight_evidence
    if total != 100:
        raise ValidationFailed(
            N_("The evaluation weights add up to %(sum)s; they must add up to 100."),
            "weight_price",
            sum=total,
        )
    _check_content(tender.min_post_consumer_pct, tender.min_total_pct)
    _check_periods(tender.enquiry_start, tender.enquiry_end, tender.tender_start, tender.tender_end)
    if tender.tender_start <= now:
        raise ValidationFailed(
            N_("The tender period must start in the future (it starts at %(at)s)."),
            "tender_start",
            at=tokyo_time(tender.tender_start),
        )


def _category(session: Session, category_id: int) -> ProcurementCategory:
    try:
        return get_category(session, category_id)
    except NotFound:
        raise ValidationFailed(N_("No such procurement category."), "category_id") from None


def _apply_draft(session: Session, tender: Tender, data: TenderIn) -> list[dict]:
    category = _category(session, data.category_id)
    items = _clean_items(data.items)
    tender.title_en = _required(data.title_en, "title_en")
    tender.title_ja = _required(data.title_ja, "title_ja")
    tender.description_en = _text(data.description_en)
    tender.description_ja = _text(data.description_ja)
    tender.category_id = category.id
    recommended_post = category.min_post_consumer_pct or Decimal(0)
    # Post-consumer content is part of the total: a total left open is at least that.
    recommended_total = (
        category.min_total_pct if category.min_total_pct is not None else recommended_post
    )
    tender.min_post_consumer_pct = (
        data.min_post_consumer_pct if data.min_post_consumer_pct is not None else recommended_post
    )
    tender.min_total_pct = (
        data.min_total_pct if data.min_total_pct is not None else recommended_total
    )
    tender.requires_certificate = data.requires_certificate
    tender.custody_model = data.custody_model
    tender.weight_price = data.weight_price
    tender.weight_recycled = data.weight_recycled
    tender.weight_evidence = data.weight_evidence
    tender.enquiry_start = data.enquiry_start
    tender.enquiry_end = data.enquiry_end
    tender.tender_start = data.tender_start
    tender.tender_end = data.tender_end
    tender.standstill_days = data.standstill_days
    tender.budget_jpy = data.budget_jpy
    return items


# ---------------------------------------------------------------------------------------------
# The officer's steps


def create_tender(
    session: Session, actor: Actor, data: TenderIn, now: datetime | None = None
) -> Tender:
    """Draft a tender of the officer's agency (status planning: only the agency sees it)."""
    MANAGE_TENDERS.check(actor)
    now = now or utcnow()
    tender = Tender(
        organization_id=actor.organization_id,
        created_by_member_id=actor.member_id,
        title_en="",
        title_ja="",
        category_id=0,
        budget_jpy=0,
        enquiry_start=now,
        enquiry_end=now,
        tender_start=now,
        tender_end=now,
    )
    items = _apply_draft(session, tender, data)
    _check_draft(tender, now)
    session.add(tender)
    session.flush()
    _replace_items(session, tender.id, items)
    record_audit(session, actor, "tender.created", "tender", tender.id, {"title": tender.title_en})
    return tender


def _still(session: Session, tender: Tender, status: str) -> None:
    """Conflict unless the tender is still in `status` (a conditional no-op UPDATE that also
    holds the row until the transaction ends, so a concurrent step waits or loses)."""
    held = session.execute(
        update(Tender)
        .where(Tender.id == tender.id, Tender.status == status)
        .values(amendment_count=Tender.amendment_count)
        .execution_options(synchronize_session=False)
    )
    if held.rowcount != 1:
        raise Conflict(N_("The tender has just been changed by someone else; reload it."))


def update_tender(
    session: Session, actor: Actor, tender_id: int, data: TenderIn, now: datetime | None = None
) -> Tender:
    """Replace a draft's content (planning only; a published tender changes by amendment)."""
    now = now or utcnow()
    tender = managed_tender(session, actor, tender_id)
    if tender.status != S.PLANNING:
        raise Conflict(N_("A published tender is changed only by an amendment."), "status")
    _still(session, tender, S.PLANNING)
    items = _apply_draft(session, tender, data)
    _check_draft(tender, now)
    tender.updated_at = now
    session.add(tender)
    session.flush()
    _replace_items(session, tender.id, items)
    return tender


def publish_tender(
    session: Session, actor: Actor, tender_id: int, now: datetime | None = None
) -> Tender:
    """Publish a draft (planning → active): anyone may read it from now on; an OCDS
    `tender` release is stored."""
    now = now or utcnow()
    tender = managed_tender(session, actor, tender_id)
    if tender.status == S.PLANNING:
        _check_draft(tender, now)
    move_tender(session, tender, S.ACTIVE, published_at=now)
    record_release(session, tender, "tender", now)
    record_audit(session, actor, "tender.published", "tender", tender.id, {})
    return tender


@dataclass
class Amendment:
    tender: Tender
    notifications: list[Notification]


def _later(new: datetime | None, old: datetime, name: str) -> datetime:
    if new is None:
        return old
    if new < old:
        raise ValidationFailed(
            N_("An amendment may only extend a period: this time may not move before %(at)s."),
            name,
            at=tokyo_time(old),
        )
    return new


def amend_tender(
    session: Session,
    actor: Actor,
    tender_id: int,
    data: TenderAmendmentIn,
    now: datetime | None = None,
) -> Amendment:
    """Amend a published tender before its tender period ends: description, items, minimum
    content, periods (only extended). Every live bid becomes `unconfirmed` and its bidder is
    notified; an OCDS `tenderUpdate` release is stored."""
    now = now or utcnow()
    tender = managed_tender(session, actor, tender_id)
    if tender.status != S.ACTIVE:
        raise Conflict(N_("Only a published tender that is still open can be amended."), "status")
    if now >= tender.tender_end:
        raise Conflict(
            N_("The tender period closed at %(at)s: the tender can no longer be amended."),
            at=tokyo_time(tender.tender_end),
        )
    sent = {k for k in data.model_fields_set if getattr(data, k) is not None}
    items = _clean_items(data.items) if "items" in sent else None
    post = data.min_post_consumer_pct if "min_post_consumer_pct" in sent else None
    total = data.min_total_pct if "min_total_pct" in sent else None
    post = tender.min_post_consumer_pct if post is None else post
    total = tender.min_total_pct if total is None else total
    _check_content(post, total)
    enquiry_end = _later(data.enquiry_end, tender.enquiry_end, "enquiry_end")
    tender_start = _later(data.tender_start, tender.tender_start, "tender_start")
    tender_end = _later(data.tender_end, tender.tender_end, "tender_end")
    if tender_start != tender.tender_start and now >= tender.tender_start:
        raise ValidationFailed(
            N_("The tender period has already begun: its start can no longer move."),
            "tender_start",
        )
    _check_periods(tender.enquiry_start, enquiry_end, tender_start, tender_end)
    new_values = {
        "description_en": _text(data.description_en)
        if "description_en" in sent
        else tender.description_en,
        "description_ja": _text(data.description_ja)
        if "description_ja" in sent
        else tender.description_ja,
        "min_post_consumer_pct": post,
        "min_total_pct": total,
        "enquiry_end": enquiry_end,
        "tender_start": tender_start,
        "tender_end": tender_end,
    }
    changed = {k for k, v in new_values.items() if v != getattr(tender, k)}
    if items is not None and items != [_item_values(i) for i in tender_items(session, tender.id)]:
        changed.add("items")
    if not changed:
        raise ValidationFailed(N_("The amendment changes nothing: send at least one change."))
    # One conditional UPDATE counts the amendment while the tender is still active and its
    # period still running: it also holds the row, so a bid written at the same moment waits.
    counted = session.execute(
        update(Tender)
        .where(Tender.id == tender.id, Tender.status == S.ACTIVE, Tender.tender_end > now)
        .values(amendment_count=Tender.amendment_count + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if counted.rowcount != 1:
        raise Conflict(N_("The tender has just been changed by someone else; reload it."))
    session.refresh(tender)
    for name, value in new_values.items():
        setattr(tender, name, value)
    session.add(tender)
    session.flush()
    if "items" in changed:
        _replace_items(session, tender.id, items)
    bidders = session.exec(
        select(Bid.organization_id).where(
            Bid.tender_id == tender.id, col(Bid.status).in_(LIVE_BIDS)
        )
    ).all()
    session.execute(
        update(Bid)
        .where(Bid.tender_id == tender.id, Bid.status == BidStatus.SUBMITTED)
        .values(status=BidStatus.NEEDS_CONFIRMATION)
        .execution_options(synchronize_session=False)
    )
    notes: list[Notification] = []
    for org_id in sorted(set(bidders)):
        notes += notify_organization(
            session,
            org_id,
            N_(
                "Tender #%(tender)s was amended (amendment %(n)s): confirm or modify your bid "
                "before %(deadline)s, or it will not be considered."
            ),
            {
                "tender": tender.id,
                "n": tender.amendment_count,
                "deadline": tokyo_time(tender.tender_end),
            },
            f"/tenders/{tender.id}/bid",
            f"tender-amended:{tender.id}:{tender.amendment_count}",
            roles=BIDDER_ROLES,
        )
    session.flush()
    record_release(session, tender, "tenderUpdate", now)
    record_audit(
        session,
        actor,
        "tender.amended",
        "tender",
        tender.id,
        {"amendment": tender.amendment_count, "changed": sorted(changed)},
    )
    return Amendment(tender, notes)


@dataclass
class Cancellation:
    tender: Tender
    notifications: list[Notification]


def cancel_tender(
    session: Session, actor: Actor, tender_id: int, data: CancelIn, now: datetime | None = None
) -> Cancellation:
    """Cancel a tender in any open state, with the reason (published with it: an OCDS
    `tenderCancellation` release when the tender had been published). Bidders are notified;
    a pending award's custody reservation is given back."""
    tender = managed_tender(session, actor, tender_id)
    reason = _text(data.reason)
    if not reason:
        raise ValidationFailed(N_("Give the reason for the cancellation."), "reason")
    was_published = tender.published_at is not None
    move_tender(session, tender, S.CANCELLED, closing_reason=reason)
    for award in session.exec(
        select(Award).where(Award.tender_id == tender.id, Award.status == AwardStatus.PENDING)
    ).all():
        withdraw_pending_award(session, tender, award, f"tender {tender.id} cancelled", actor)
    notes: list[Notification] = []
    bidders = session.exec(
        select(Bid.organization_id).where(
            Bid.tender_id == tender.id, Bid.status != BidStatus.WITHDRAWN
        )
    ).all()
    for org_id in sorted(set(bidders)):
        notes += notify_organization(
            session,
            org_id,
            N_("Tender #%(tender)s was cancelled by the buying agency."),
            {"tender": tender.id},
            f"/tenders/{tender.id}",
            f"tender-cancelled:{tender.id}",
            roles=BIDDER_ROLES,
        )
    session.flush()
    if was_published:
        record_release(session, tender, "tenderCancellation", now)
    record_audit(session, actor, "tender.cancelled", "tender", tender.id, {"reason": reason})
    return Cancellation(tender, notes)


# ---------------------------------------------------------------------------------------------
# Enquiries


def ask_question(
    session: Session, actor: Actor, tender_id: int, data: EnquiryIn, now: datetime | None = None
) -> Enquiry:
    """Ask a question during the enquiry period (members of verified recyclers and
    manufacturers). The asking organisation is stored, never shown."""
    ASK_QUESTIONS.check(actor)
    now = now or utcnow()
    tender = read_tender(session, actor, tender_id)
    if actor.owns(tender.organization_id):
        raise PermissionDenied(N_("The buying agency does not ask questions about its tender."))
    question = _text(data.question)
    if not question:
        raise ValidationFailed(N_("Write your question."), "question")
    if tender.status != S.ACTIVE:
        raise Conflict(N_("This tender no longer takes questions."))
    if not tender.enquiry_start <= now < tender.enquiry_end:
        raise Conflict(
            N_("Questions are taken during the enquiry period only, from %(start)s to %(end)s."),
            start=tokyo_time(tender.enquiry_start),
            end=tokyo_time(tender.enquiry_end),
        )
    asked = session.exec(
        select(func.count())
        .select_from(Enquiry)
        .where(Enquiry.tender_id == tender.id, Enquiry.asked_by_org_id == actor.organization_id)
    ).one()
    if asked >= MAX_QUESTIONS:
        raise Conflict(
            N_("Your organisation has asked %(n)s questions about this tender, the most allowed."),
            n=MAX_QUESTIONS,
        )
    enquiry = Enquiry(
        tender_id=tender.id,
        asked_by_org_id=actor.organization_id,
        asked_by_member_id=actor.member_id,
        question=question,
        asked_at=now,
    )
    session.add(enquiry)
    session.flush()
    return enquiry


def answer_question(
    session: Session,
    actor: Actor,
    tender_id: int,
    enquiry_id: int,
    data: AnswerIn,
    now: datetime | None = None,
) -> Enquiry:
    """Answer a question publicly (the buying agency's officers, once, until the tender
    period ends)."""
    now = now or utcnow()
    tender = managed_tender(session, actor, tender_id)
    enquiry = session.get(Enquiry, enquiry_id) if 1 <= enquiry_id <= ID_MAX else None
    if enquiry is None or enquiry.tender_id != tender.id:
        raise NotFound(N_("No such question."))
    answer = _text(data.answer)
    if not answer:
        raise ValidationFailed(N_("Write the answer."), "answer")
    if tender.status != S.ACTIVE or now >= tender.tender_end:
        raise Conflict(N_("Questions are answered only until the tender period ends."))
    done = session.execute(
        update(Enquiry)
        .where(Enquiry.id == enquiry.id, col(Enquiry.answered_at).is_(None))
        .values(answer=answer, answered_at=now, answered_by_member_id=actor.member_id)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise Conflict(N_("This question is already answered."))
    session.expire(enquiry)
    return enquiry


def enquiries_of(session: Session, actor: Actor | None, tender_id: int) -> list[Enquiry]:
    """The questions of a tender the actor (None: anyone) may read."""
    return visible_enquiries(session, actor, read_tender(session, actor, tender_id))
