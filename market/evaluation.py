"""Evaluation and award of tenders: what happens after the tender period ends.

Opening (`open_tender`, the scheduler's `open_due_tenders`, and lazily whenever an officer or
a bidder reads a closed tender's results): an active tender whose `tender_end` has passed
moves to `evaluation` once — one conditional UPDATE (`market.tender_states.move_tender`), so a
second or concurrent opening does nothing — and its bids are evaluated in the same
transaction:
- withdrawn bids are ignored;
- `unconfirmed` bids (the tender was amended after them and they were never re-confirmed) are
  disqualified with that reason;
- every other bid is checked: post-consumer and total recycled content at or above the
  tender's minimums; a certificate cited when the tender requires one; its claim
  (`quality.custody.claim_kg(product_mass_kg, total_recycled_pct)`, rounded up to the kg)
  covered by the bidder's available chain-of-custody balance of its material at opening; the
  price within the budget. Every failed check is a reason (code, message id and params, kept
  as JSON in `Bid.disqualification_json` so that each reader sees it in their language).
Failing bids become `disqualified`, the others `qualified` and are scored.

Scores (exact `Decimal`; each part rounded half-up to 2 places; the total is the sum of the
rounded parts, so the parts shown add up to the total shown):
- price     = weight_price × lowest qualified price / bid price;
- recycled  = weight_recycled × bid's claimed TOTAL recycled share / highest claimed total
  share among the qualified bids (0 for all when that highest share is 0). The total share is
  the figure the chain-of-custody balance verifies (the claim checked above), so the score
  rewards only what the ledger backs; post-consumer content is a pass/fail minimum;
- evidence  = weight_evidence × level / 4, where level is the best data-quality level
  (`quality.dataquality`, 0–4) of the assays of the certificates the bid cites (0 without).
Ranking: highest total first; a tie goes to the earlier submission (then the lower bid id).

Award (`award_bid`): an officer of the tender's agency awards one qualified bid with a written
justification (required; awarding a bid that is not ranked first is allowed, and the audit
log records its rank and the top-ranked bid beside the justification). The winner's claim is
reserved in its custody ledger (`reserve_claim`, source "award"): not covered any more → 422
and nothing written; two awards drawing on one supplier's balance at once cannot overdraw
it (the ledger's conditional UPDATE). The tender becomes `awarded` with its standstill period,
the bid `awarded`, the other qualified bids `unsuccessful`; bidders are notified; an OCDS
`award` release is recorded. While the award is pending the officer may cancel it with a
reason: the reservation is released, the tender returns to `evaluation` and its bids to
`qualified` (a bid whose award was cancelled cannot be awarded again: its reservation key is
spent). With no bid qualified the officer may close the tender as `unsuccessful` (reason
required; OCDS `tenderUpdate`). The contract and purchase order follow the standstill period
(`contracts.tender_orders.complete_award`).

Who may: evaluate, award, cancel, close — procurement officers of the verified agency that owns
the tender (`EVALUATE_TENDERS`); read the evaluation — its officers (`SEE_EVALUATION`), and
only once the tender period has ended (before, the bids are sealed: nothing of them is shown);
another organisation's tender answers NotFound. A bidder reads its own bid's result
(`bid_result`); anyone reads a published award (`public_award`). Functions flush, never commit.
"""

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import update
from sqlmodel import Session, col, select

from market.alerts import notify_organization
from market.models import (
    Award,
    AwardStatus,
    Bid,
    BidEvidence,
    BidStatus,
    Notification,
    Tender,
    TenderStatus,
)
from market.ocds import record_release
from market.tender_states import (
    RESERVATION_SOURCE,
    move_tender,
    sealed,
    withdraw_pending_award,
)
from market.tenders import WeightsOut
from participants.actors import Actor, permission
from participants.audit import record_audit
from participants.columns import utcnow
from participants.errors import N_, Conflict, NotFound, ValidationFailed
from participants.fields import ID_MAX, Id, Paragraphs
from participants.models import AuditEntry, Organization, OrgKind, Role
from quality.assays import data_quality_levels
from quality.custody import claim_kg, reserve_claim, tonnes
from quality.errors import CustodyNotCovered
from quality.models import Certificate, CustodyAccount

TOKYO = ZoneInfo("Asia/Tokyo")
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
MAX_LEVEL = 4
NOTIFIED_ROLES = (Role.ADMIN, Role.TRADER, Role.SIGNATORY)

EVALUATE_TENDERS = permission(
    N_("Only procurement officers of the agency evaluate and award its tenders."),
    kinds=[OrgKind.AGENCY],
    roles=[Role.OFFICER],
)
SEE_EVALUATION = permission(
    N_("Only the agency's procurement officers see the evaluation of its tenders."),
    kinds=[OrgKind.AGENCY],
    roles=[Role.OFFICER],
    verified=False,
)
SEE_BID_RESULT = permission(
    N_("Only members of the bidding organisation see its bid's result."), verified=False
)

# Reasons of a disqualification (message ids; their params are filled in at opening).
R_UNCONFIRMED = N_(
    "The tender was amended after this bid was submitted, and the bid was not re-confirmed "
    "before the deadline."
)
R_POST_CONSUMER = N_(
    "Post-consumer recycled content of %(claimed)s percent is below the tender's minimum of "
    "%(minimum)s percent."
)
R_TOTAL = N_(
    "Total recycled content of %(claimed)s percent is below the tender's minimum of "
    "%(minimum)s percent."
)
R_NO_CERTIFICATE = N_("The tender requires a quality certificate as evidence; the bid cites none.")
R_NOT_COVERED = N_(
    "The bid claims %(claimed)s percent recycled content (%(claim_t)s t), but the "
    "chain-of-custody balance covers %(available_t)s t (%(covered)s percent)."
)
R_OVER_BUDGET = N_("The price of %(price)s is above the budget of %(budget)s.")

# Notifications to bidders.
OPENED_QUALIFIED = N_(
    "Tender #%(tender)s is opened: your bid is qualified and ranked %(rank)s of %(count)s."
)
OPENED_DISQUALIFIED = N_(
    "Tender #%(tender)s is opened: your bid is disqualified. The reasons are on your result page."
)
AWARDED_TO_YOU = N_(
    "Tender #%(tender)s: your bid is awarded (%(value)s). The standstill period ends at %(until)s."
)
NOT_AWARDED = N_("Tender #%(tender)s is awarded to another bid: your bid was not successful.")
AWARD_CANCELLED = N_(
    "Tender #%(tender)s: the award is cancelled and the bids are being evaluated again."
)
CLOSED_UNSUCCESSFUL = N_("Tender #%(tender)s is closed without an award (unsuccessful).")


def tokyo_time(moment: datetime) -> str:
    """A moment as people in Japan read it: "2027-01-20 17:00 JST"."""
    return f"{moment.astimezone(TOKYO):%Y-%m-%d %H:%M} JST"


def percent_text(value: Decimal) -> str:
    """A percentage written plainly: 95 → "95", 92.50 → "92.5"."""
    text = format(Decimal(value).normalize(), "f")
    return text


def yen_text(value: int) -> str:
    return f"¥{value:,}"


# ----------------------------------------------------------------------------------------------
# Functional core: checks, scores, ranks (plain values, no database)


def reason(code: str, message: str, **params: object) -> dict:
    """One reason of a disqualification: a stable code, the message id and its params."""
    return {"code": code, "message": message, "params": params}


def covered_percent(available: int, product_mass_kg: int) -> str:
    """The recycled share the balance covers of the goods' mass, rounded down to 0.1."""
    if product_mass_kg <= 0:
        return "0"
    share = (Decimal(available) * HUNDRED / Decimal(product_mass_kg)).quantize(
        Decimal("0.1"), rounding=ROUND_DOWN
    )
    return percent_text(share)


def check_bid(tender: Tender, bid: Bid, *, cites_certificate: bool, available: int) -> list[dict]:
    """Every reason that disqualifies a submitted bid ([] when it qualifies). `available` is
    the bidder's available custody balance of the bid's material now, in kg."""
    reasons: list[dict] = []
    if bid.post_consumer_pct < tender.min_post_consumer_pct:
        reasons.append(
            reason(
                "post_consumer_below_minimum",
                R_POST_CONSUMER,
                claimed=percent_text(bid.post_consumer_pct),
                minimum=percent_text(tender.min_post_consumer_pct),
            )
        )
    if bid.total_recycled_pct < tender.min_total_pct:
        reasons.append(
            reason(
                "total_below_minimum",
                R_TOTAL,
                claimed=percent_text(bid.total_recycled_pct),
                minimum=percent_text(tender.min_total_pct),
            )
        )
    if tender.requires_certificate and not cites_certificate:
        reasons.append(reason("no_certificate", R_NO_CERTIFICATE))
    needed = claim_kg(bid.product_mass_kg, bid.total_recycled_pct)
    if needed > available:
        reasons.append(
            reason(
                "claim_not_covered",
                R_NOT_COVERED,
                claimed=percent_text(bid.total_recycled_pct),
                claim_t=tonnes(needed),
                available_t=tonnes(max(available, 0)),
                covered=covered_percent(max(available, 0), bid.product_mass_kg),
            )
        )
    if bid.price_jpy > tender.budget_jpy:
        reasons.append(
            reason(
                "over_budget",
                R_OVER_BUDGET,
                price=yen_text(bid.price_jpy),
                budget=yen_text(tender.budget_jpy),
            )
        )
    return reasons


@dataclass(frozen=True)
class Scores:
    """A qualified bid's score parts (2 places each) and their sum."""

    price: Decimal
    recycled: Decimal
    evidence: Decimal

    @property
    def total(self) -> Decimal:
        return self.price + self.recycled + self.evidence


@dataclass(frozen=True)
class ScoreInput:
    bid_id: int
    price_jpy: int
    total_recycled_pct: Decimal
    evidence_level: int


def _two_places(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def score_bids(
    weight_price: int, weight_recycled: int, weight_evidence: int, bids: list[ScoreInput]
) -> dict[int, Scores]:
    """The scores of the qualified bids by the formulas of the module docstring."""
    if not bids:
        return {}
    lowest = min(b.price_jpy for b in bids)
    highest_share = max(Decimal(b.total_recycled_pct) for b in bids)
    out: dict[int, Scores] = {}
    for b in bids:
        price = Decimal(weight_price) * Decimal(lowest) / Decimal(b.price_jpy)
        recycled = (
            Decimal(weight_recycled) * Decimal(b.total_recycled_pct) / highest_share
            if highest_share > 0
            else Decimal(0)
        )
        level = max(0, min(MAX_LEVEL, b.evidence_level))
        evidence = Decimal(weight_evidence) * Decimal(level) / Decimal(MAX_LEVEL)
        out[b.bid_id] = Scores(_two_places(price), _two_places(recycled), _two_places(evidence))
    return out


def rank_key(bid: Bid) -> tuple:
    """Highest total first; a tie goes to the earlier submission, then the lower id."""
    return (-(bid.score_total or Decimal(0)), bid.submitted_at, bid.id)


def ranked(bids: Iterable[Bid]) -> list[Bid]:
    """The scored bids (qualified, awarded, unsuccessful) in rank order."""
    return sorted((b for b in bids if b.score_total is not None), key=rank_key)


def reasons_of(bid: Bid) -> list[dict]:
    try:
        value = json.loads(bid.disqualification_json or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []


# ----------------------------------------------------------------------------------------------
# Evidence: the certificates a bid cites and their best data-quality level (batched reads)


def bid_evidence(session: Session, bid_ids: list[int]) -> dict[int, tuple[list[str], int]]:
    """bid id → (certificate ids cited, best data-quality level of their assays; 0 if none)."""
    if not bid_ids:
        return {}
    cited: dict[int, list[str]] = {bid_id: [] for bid_id in bid_ids}
    for bid_id, cert_id in session.exec(
        select(BidEvidence.bid_id, BidEvidence.certificate_id)
        .where(col(BidEvidence.bid_id).in_(bid_ids))
        .order_by(col(BidEvidence.certificate_id))
    ).all():
        cited[bid_id].append(cert_id)
    cert_ids = {c for certs in cited.values() for c in certs}
    cert_assay = (
        dict(
            session.exec(
                select(Certificate.id, Certificate.assay_id).where(
                    col(Certificate.id).in_(cert_ids)
                )
            ).all()
        )
        if cert_ids
        else {}
    )
    levels = data_quality_levels(session, set(cert_assay.values()))
    out: dict[int, tuple[list[str], int]] = {}
    for bid_id, certs in cited.items():
        best = max((levels.get(cert_assay.get(c, -1), 0) for c in certs), default=0)
        out[bid_id] = (certs, best)
    return out


# ----------------------------------------------------------------------------------------------
# Opening


@dataclass
class Opening:
    """What an opening did."""

    tender_id: int
    qualified: int = 0
    disqualified: int = 0
    ignored: int = 0  # withdrawn bids
    notes: list[Notification] = field(default_factory=list)


def _balances(session: Session, bids: list[Bid]) -> dict[tuple[int, str], int]:
    """(organisation, material) → available custody kilograms now, for the bids' bidders
    (`quality.custody.available_kg` of each, in one query)."""
    orgs = {b.organization_id for b in bids}
    if not orgs:
        return {}
    rows = session.exec(
        select(
            CustodyAccount.organization_id,
            CustodyAccount.material_code,
            CustodyAccount.available_kg,
        ).where(col(CustodyAccount.organization_id).in_(orgs))
    ).all()
    return {(org, material): int(kg) for org, material, kg in rows}


def due_for_opening(tender: Tender, now: datetime | None = None) -> bool:
    return tender.status == TenderStatus.ACTIVE and not sealed(tender, now)


def open_tender(session: Session, tender: Tender, now: datetime | None = None) -> Opening | None:
    """Open an active tender whose tender period has ended and evaluate its bids (see the
    module docstring); None when it is not due, or another call opened it first. The system's
    step (the deadline decides, nobody's discretion): callers check who asks."""
    now = now or utcnow()
    if not due_for_opening(tender, now):
        return None
    try:
        move_tender(session, tender, TenderStatus.EVALUATION)
    except Conflict:
        return None  # another call (the job, a reader) moved it first: nothing to do
    opening = Opening(tender.id)
    bids = list(
        session.exec(
            select(Bid)
            .where(Bid.tender_id == tender.id)
            .order_by(col(Bid.id))
            .execution_options(populate_existing=True)  # as stored now, not as read earlier
        ).all()
    )
    live = [b for b in bids if b.status in (BidStatus.SUBMITTED, BidStatus.NEEDS_CONFIRMATION)]
    evidence = bid_evidence(session, [b.id for b in live])
    balances = _balances(session, live)
    qualified: list[Bid] = []
    disqualified: list[Bid] = []
    for bid in bids:
        if bid.status == BidStatus.WITHDRAWN:
            opening.ignored += 1
            continue
        if bid.status == BidStatus.NEEDS_CONFIRMATION:
            reasons = [reason("unconfirmed", R_UNCONFIRMED)]
        elif bid.status == BidStatus.SUBMITTED:
            certs, _level = evidence[bid.id]
            reasons = check_bid(
                tender,
                bid,
                cites_certificate=bool(certs),
                available=balances.get((bid.organization_id, bid.material_code), 0),
            )
        else:
            continue  # evaluated already (cannot happen on a tender that was active)
        bid.disqualification_json = json.dumps(reasons, ensure_ascii=False, sort_keys=True)
        bid.updated_at = now
        (disqualified if reasons else qualified).append(bid)
    scores = score_bids(
        tender.weight_price,
        tender.weight_recycled,
        tender.weight_evidence,
        [ScoreInput(b.id, b.price_jpy, b.total_recycled_pct, evidence[b.id][1]) for b in qualified],
    )
    for bid in qualified:
        s = scores[bid.id]
        bid.status = BidStatus.QUALIFIED
        bid.score_price, bid.score_recycled, bid.score_evidence = s.price, s.recycled, s.evidence
        bid.score_total = s.total
    for bid in disqualified:
        bid.status = BidStatus.DISQUALIFIED
        bid.score_price = bid.score_recycled = bid.score_evidence = bid.score_total = None
    session.add_all(qualified + disqualified)
    session.flush()
    order = ranked(qualified)
    for position, bid in enumerate(order, start=1):
        opening.notes += _notify_bidder(
            session,
            bid,
            OPENED_QUALIFIED,
            {"tender": tender.id, "rank": position, "count": len(order)},
            "opened",
        )
    for bid in disqualified:
        opening.notes += _notify_bidder(
            session, bid, OPENED_DISQUALIFIED, {"tender": tender.id}, "opened"
        )
    opening.qualified, opening.disqualified = len(qualified), len(disqualified)
    record_audit(
        session,
        None,
        "tender.opened",
        "tender",
        tender.id,
        {
            "qualified": opening.qualified,
            "disqualified": opening.disqualified,
            "withdrawn": opening.ignored,
        },
    )
    session.flush()
    return opening


def open_due_tenders(session: Session, now: datetime | None = None) -> list[Opening]:
    """Open every active tender whose tender period has ended (the scheduler's job; running it
    twice, or twice at once, opens each tender once)."""
    now = now or utcnow()
    due = session.exec(
        select(Tender)
        .where(Tender.status == TenderStatus.ACTIVE, Tender.tender_end <= now)
        .order_by(col(Tender.id))
    ).all()
    openings = []
    for tender in due:
        opening = open_tender(session, tender, now)
        if opening is not None:
            openings.append(opening)
    return openings


def _notify_bidder(
    session: Session, bid: Bid, message: str, params: dict, step: str
) -> list[Notification]:
    return notify_organization(
        session,
        bid.organization_id,
        message,
        params,
        f"/tenders/{bid.tender_id}/result",
        f"tender:{bid.tender_id}:{step}:bid:{bid.id}",
        roles=NOTIFIED_ROLES,
    )


# ----------------------------------------------------------------------------------------------
# Inputs


class AwardIn(BaseModel):
    """The award of one qualified bid, with its written justification."""

    model_config = ConfigDict(extra="forbid")
    bid_id: Id = Field(description="a qualified bid on this tender")
    justification: Paragraphs(4000) = Field(
        description="why this bid is awarded (required; say why when it is not ranked first)"
    )


class ReasonIn(BaseModel):
    """Why: the cancellation of an award, or the closing of a tender as unsuccessful."""

    model_config = ConfigDict(extra="forbid")
    reason: Paragraphs(2000) = Field(description="required")


# ----------------------------------------------------------------------------------------------
# The officer's steps


def _get_tender(session: Session, tender_id: int) -> Tender | None:
    return session.get(Tender, tender_id) if 1 <= tender_id <= ID_MAX else None


def own_tender(session: Session, actor: Actor, tender_id: int) -> Tender:
    """A tender of the actor's agency, or NotFound (another organisation's, or none)."""
    tender = _get_tender(session, tender_id)
    if tender is None or not actor.owns(tender.organization_id):
        raise NotFound(N_("No such tender."))
    return tender


def ensure_opened(session: Session, tender: Tender, now: datetime | None = None) -> Tender:
    """Open the tender now if its period has ended and nobody has opened it yet (readers and
    officers do not wait for the scheduler)."""
    if due_for_opening(tender, now):
        open_tender(session, tender, now)
        session.refresh(tender)
    return tender


def _not_in_evaluation(tender: Tender, step: str) -> Conflict:
    """Why a step that needs an opened tender (in evaluation) cannot be taken now."""
    if tender.status == TenderStatus.ACTIVE:
        return Conflict(
            N_("The bids are sealed until the tender period ends at %(end)s."),
            None,
            end=tokyo_time(tender.tender_end),
        )
    if tender.status == TenderStatus.PLANNING:
        return Conflict(N_("The tender is not published yet."))
    if tender.status == TenderStatus.AWARDED and step == "award":
        return Conflict(N_("The tender is already awarded: cancel that award first."))
    messages = {
        "award": N_("A tender that is %(status)s cannot be awarded."),
        "unsuccessful": N_("A tender that is %(status)s cannot be closed as unsuccessful."),
        "open": N_("A tender that is %(status)s cannot be opened."),
    }
    return Conflict(messages[step], None, status=tender.status)


def _required_text(value: str, field_name: str, message: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationFailed(message, field_name)
    return text


def _cancelled_award_of(session: Session, bid_id: int) -> Award | None:
    return session.exec(
        select(Award).where(Award.bid_id == bid_id, Award.status == AwardStatus.CANCELLED)
    ).first()


def _move_bids(session: Session, tender_id: int, sources: tuple[str, ...], target: str) -> int:
    """Move a tender's bids in `sources` states to `target` (one UPDATE); the bids loaded in
    the session are expired so that they read their new state."""
    session.flush()
    moved = session.execute(
        update(Bid)
        .where(Bid.tender_id == tender_id, col(Bid.status).in_(sources))
        .values(status=target, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Bid):
            session.expire(obj)
    return moved.rowcount


def award_bid(
    session: Session, actor: Actor, tender_id: int, data: AwardIn, now: datetime | None = None
) -> Award:
    """Award one qualified bid of the actor's tender (see the module docstring)."""
    EVALUATE_TENDERS.check(actor)
    now = now or utcnow()
    tender = ensure_opened(session, own_tender(session, actor, tender_id), now)
    justification = _required_text(
        data.justification,
        "justification",
        N_("Write why this bid is awarded: the justification is required."),
    )
    if tender.status != TenderStatus.EVALUATION:
        raise _not_in_evaluation(tender, "award")
    bid = session.get(Bid, data.bid_id)
    if bid is None or bid.tender_id != tender.id:
        raise ValidationFailed(
            N_("Bid #%(bid)s is not a bid on this tender."), "bid_id", bid=data.bid_id
        )
    if bid.status != BidStatus.QUALIFIED:
        messages = {
            BidStatus.DISQUALIFIED: N_(
                "Bid #%(bid)s is disqualified and cannot be awarded; its reasons are shown in "
                "the evaluation."
            ),
            BidStatus.WITHDRAWN: N_(
                "Bid #%(bid)s was withdrawn by its bidder and cannot be awarded."
            ),
        }
        raise Conflict(
            messages.get(bid.status, N_("Bid #%(bid)s is %(status)s and cannot be awarded.")),
            "bid_id",
            bid=bid.id,
            status=bid.status,
        )
    if _cancelled_award_of(session, bid.id) is not None:
        raise Conflict(
            N_(
                "The award of bid #%(bid)s was cancelled; it cannot be awarded again. Award "
                "another qualified bid, or close the tender."
            ),
            "bid_id",
            bid=bid.id,
        )
    order = ranked(
        session.exec(
            select(Bid).where(Bid.tender_id == tender.id, Bid.status == BidStatus.QUALIFIED)
        ).all()
    )
    rank = next(i for i, b in enumerate(order, start=1) if b.id == bid.id)
    until = now + timedelta(days=tender.standstill_days)
    move_tender(session, tender, TenderStatus.AWARDED, standstill_until=until)
    award = Award(
        tender_id=tender.id,
        bid_id=bid.id,
        supplier_org_id=bid.organization_id,
        status=AwardStatus.PENDING,
        value_jpy=bid.price_jpy,
        justification=justification,
        decided_by_member_id=actor.member_id,
        decided_at=now,
        standstill_until=until,
    )
    session.add(award)
    session.flush()
    needed = claim_kg(bid.product_mass_kg, bid.total_recycled_pct)
    try:
        reserve_claim(
            session,
            organization_id=bid.organization_id,
            material_code=bid.material_code,
            kg=needed,
            source=RESERVATION_SOURCE,
            source_id=award.id,
            note=f"tender {tender.id}, bid {bid.id}",
            member_id=actor.member_id,
        )
    except CustodyNotCovered as err:
        raise ValidationFailed(
            N_(
                "The claim of bid #%(bid)s is no longer covered: it needs %(needed)s t of "
                "recycled %(material)s, and the supplier's chain-of-custody balance has "
                "%(available)s t available now. Award another bid, or close the tender."
            ),
            "bid_id",
            bid=bid.id,
            needed=err.params["needed"],
            material=bid.material_code,
            available=err.params["available"],
        ) from None
    award.reserved_kg = needed
    session.add(award)
    session.flush()
    won = session.execute(
        update(Bid)
        .where(Bid.id == bid.id, Bid.status == BidStatus.QUALIFIED)
        .values(status=BidStatus.AWARDED, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:
        raise Conflict(N_("The tender has just been changed by someone else; reload it."))
    _move_bids(session, tender.id, (BidStatus.QUALIFIED,), BidStatus.UNSUCCESSFUL)
    record_audit(
        session,
        actor,
        "tender.awarded",
        "award",
        award.id,
        {
            "tender": tender.id,
            "bid": bid.id,
            "rank": rank,
            "top_ranked_bid": order[0].id,
            "justification": justification,
            "reserved_kg": needed,
        },
    )
    for other in session.exec(
        select(Bid).where(
            Bid.tender_id == tender.id,
            col(Bid.status).in_((BidStatus.AWARDED, BidStatus.UNSUCCESSFUL)),
        )
    ).all():
        if other.id == bid.id:
            _notify_bidder(
                session,
                other,
                AWARDED_TO_YOU,
                {"tender": tender.id, "value": yen_text(bid.price_jpy), "until": tokyo_time(until)},
                f"award:{award.id}",
            )
        else:
            _notify_bidder(session, other, NOT_AWARDED, {"tender": tender.id}, f"award:{award.id}")
    record_release(session, tender, "award", now)
    session.flush()
    return award


def _award_of(session: Session, tender: Tender, award_id: int) -> Award:
    award = session.get(Award, award_id) if 1 <= award_id <= ID_MAX else None
    if award is None or award.tender_id != tender.id:
        raise NotFound(N_("No such award."))
    return award


def cancel_award(
    session: Session, actor: Actor, tender_id: int, award_id: int, data: ReasonIn
) -> Award:
    """Cancel a pending award (before its contract is issued) with a reason: its reservation
    is released, the tender goes back to evaluation and its bids to qualified."""
    EVALUATE_TENDERS.check(actor)
    tender = own_tender(session, actor, tender_id)
    award = _award_of(session, tender, award_id)
    text = _required_text(
        data.reason, "reason", N_("Write why the award is cancelled: the reason is required.")
    )
    if award.status != AwardStatus.PENDING or tender.status != TenderStatus.AWARDED:
        raise Conflict(
            N_("This award is %(status)s: only a pending award can be cancelled."),
            None,
            status=award.status,
        )
    withdraw_pending_award(session, tender, award, text, actor)
    move_tender(session, tender, TenderStatus.EVALUATION, standstill_until=None)
    _move_bids(session, tender.id, (BidStatus.AWARDED, BidStatus.UNSUCCESSFUL), BidStatus.QUALIFIED)
    for bid in session.exec(
        select(Bid).where(Bid.tender_id == tender.id, Bid.status == BidStatus.QUALIFIED)
    ).all():
        _notify_bidder(
            session, bid, AWARD_CANCELLED, {"tender": tender.id}, f"award-cancelled:{award.id}"
        )
    record_release(session, tender, "awardCancellation")
    session.flush()
    session.refresh(award)
    return award


def mark_unsuccessful(
    session: Session, actor: Actor, tender_id: int, data: ReasonIn, now: datetime | None = None
) -> Tender:
    """Close a tender without an award when no bid qualified (or none came), with a reason."""
    EVALUATE_TENDERS.check(actor)
    now = now or utcnow()
    tender = ensure_opened(session, own_tender(session, actor, tender_id), now)
    text = _required_text(
        data.reason,
        "reason",
        N_("Write why the tender is closed without an award: the reason is required."),
    )
    if tender.status != TenderStatus.EVALUATION:
        raise _not_in_evaluation(tender, "unsuccessful")
    qualified = session.exec(
        select(Bid.id).where(Bid.tender_id == tender.id, Bid.status == BidStatus.QUALIFIED)
    ).all()
    if qualified:
        raise Conflict(
            N_(
                "Qualified bids: %(n)s. Award one of them, or cancel the tender instead of "
                "closing it as unsuccessful."
            ),
            None,
            n=len(qualified),
        )
    move_tender(session, tender, TenderStatus.UNSUCCESSFUL, closing_reason=text)
    record_audit(session, actor, "tender.unsuccessful", "tender", tender.id, {"reason": text})
    for bid in session.exec(
        select(Bid).where(Bid.tender_id == tender.id, Bid.status != BidStatus.WITHDRAWN)
    ).all():
        _notify_bidder(session, bid, CLOSED_UNSUCCESSFUL, {"tender": tender.id}, "unsuccessful")
    session.refresh(tender)
    record_release(session, tender, "tenderUpdate", now)
    session.flush()
    return tender


OPENED_STATES = (
    TenderStatus.EVALUATION,
    TenderStatus.AWARDED,
    TenderStatus.COMPLETE,
    TenderStatus.UNSUCCESSFUL,
)
EVALUATED_BIDS = (
    BidStatus.QUALIFIED,
    BidStatus.DISQUALIFIED,
    BidStatus.AWARDED,
    BidStatus.UNSUCCESSFUL,
)


def open_tender_now(
    session: Session, actor: Actor, tender_id: int, now: datetime | None = None
) -> Tender:
    """The officer opens the actor's tender at once when its tender period has ended (the
    scheduler does it every few minutes anyway); opened already: nothing happens."""
    EVALUATE_TENDERS.check(actor)
    now = now or utcnow()
    tender = ensure_opened(session, own_tender(session, actor, tender_id), now)
    if tender.status not in OPENED_STATES:
        raise _not_in_evaluation(tender, "open")
    return tender


def was_opened(session: Session, tender: Tender) -> bool:
    """True once the tender's bids have been opened (a tender cancelled during its tender
    period never opens them: they stay sealed)."""
    if tender.status in OPENED_STATES:
        return True
    if tender.status != TenderStatus.CANCELLED:
        return False
    evaluated = session.exec(
        select(Bid.id).where(Bid.tender_id == tender.id, col(Bid.status).in_(EVALUATED_BIDS))
    ).first()
    return evaluated is not None


# ----------------------------------------------------------------------------------------------
# Reading


@dataclass
class BidView:
    """A bid as the officer sees it after opening (no evidence beyond certificate ids and
    their data-quality level)."""

    bid: Bid
    organization: Organization
    rank: int | None
    certificate_ids: list[str]
    evidence_level: int
    claim_kg: int
    reasons: list[dict]
    award_cancelled: bool = False


@dataclass
class AwardView:
    award: Award
    supplier: Organization
    rank: int | None
    cancellation_reason: str = ""


@dataclass
class TenderResults:
    tender: Tender
    opened: bool
    bids: list[BidView]
    awards: list[AwardView]  # newest first, cancelled ones included

    @property
    def current_award(self) -> AwardView | None:
        return next((a for a in self.awards if a.award.status != AwardStatus.CANCELLED), None)

    @property
    def awardable(self) -> list[BidView]:
        return [
            v
            for v in self.bids
            if v.bid.status == BidStatus.QUALIFIED
            and not v.award_cancelled
            and self.tender.status == TenderStatus.EVALUATION
        ]

    @property
    def top_ranked(self) -> BidView | None:
        return next((v for v in self.bids if v.rank == 1), None)


def _views(session: Session, bids: list[Bid]) -> list[BidView]:
    if not bids:
        return []
    orgs = {
        o.id: o
        for o in session.exec(
            select(Organization).where(col(Organization.id).in_({b.organization_id for b in bids}))
        ).all()
    }
    evidence = bid_evidence(session, [b.id for b in bids])
    cancelled = set(
        session.exec(
            select(Award.bid_id).where(
                col(Award.bid_id).in_([b.id for b in bids]), Award.status == AwardStatus.CANCELLED
            )
        ).all()
    )
    ranks = {b.id: i for i, b in enumerate(ranked(bids), start=1)}
    order = sorted(bids, key=lambda b: (ranks.get(b.id, len(bids) + 1), b.submitted_at, b.id))
    return [
        BidView(
            bid=b,
            organization=orgs[b.organization_id],
            rank=ranks.get(b.id),
            certificate_ids=evidence[b.id][0],
            evidence_level=evidence[b.id][1],
            claim_kg=claim_kg(b.product_mass_kg, b.total_recycled_pct),
            reasons=reasons_of(b),
            award_cancelled=b.id in cancelled,
        )
        for b in order
    ]


def _award_views(session: Session, tender: Tender, views: list[BidView]) -> list[AwardView]:
    awards = session.exec(
        select(Award).where(Award.tender_id == tender.id).order_by(col(Award.id).desc())
    ).all()
    if not awards:
        return []
    by_bid = {v.bid.id: v for v in views}
    suppliers = {
        o.id: o
        for o in session.exec(
            select(Organization).where(
                col(Organization.id).in_({a.supplier_org_id for a in awards})
            )
        ).all()
    }
    reasons: dict[int, str] = {}
    cancelled = [a.id for a in awards if a.status == AwardStatus.CANCELLED]
    if cancelled:
        for entry in session.exec(
            select(AuditEntry).where(
                AuditEntry.action == "tender.award_cancelled",
                AuditEntry.target_type == "award",
                col(AuditEntry.target_id).in_(cancelled),
            )
        ).all():
            reasons[entry.target_id] = json.loads(entry.detail or "{}").get("reason", "")
    return [
        AwardView(
            award=a,
            supplier=suppliers[a.supplier_org_id],
            rank=by_bid[a.bid_id].rank if a.bid_id in by_bid else None,
            cancellation_reason=reasons.get(a.id, ""),
        )
        for a in awards
    ]


def tender_results(
    session: Session, actor: Actor, tender_id: int, now: datetime | None = None
) -> TenderResults:
    """The evaluation of the actor's tender: every bid (not withdrawn) with its scores, rank
    and reasons, and its awards — once the tender period has ended (opening it now if nobody
    has yet); before, the bids are sealed and none is shown."""
    SEE_EVALUATION.check(actor)
    now = now or utcnow()
    tender = ensure_opened(session, own_tender(session, actor, tender_id), now)
    if not was_opened(session, tender):
        return TenderResults(tender, False, [], [])
    bids = list(
        session.exec(
            select(Bid).where(Bid.tender_id == tender.id, Bid.status != BidStatus.WITHDRAWN)
        ).all()
    )
    views = _views(session, bids)
    return TenderResults(tender, True, views, _award_views(session, tender, views))


@dataclass
class PublicAward:
    """What the public tender page shows of an award."""

    tender_id: int
    award_id: int
    status: str
    supplier_org_id: int
    supplier_name_en: str
    supplier_name_ja: str
    value_jpy: int
    decided_on: date  # Asia/Tokyo
    standstill_until: datetime


def public_award(session: Session, tender_id: int) -> PublicAward | None:
    """The award of a published tender (pending during the standstill period, or active),
    or None. Public: anyone may read it."""
    tender = _get_tender(session, tender_id)
    if tender is None or tender.status not in (TenderStatus.AWARDED, TenderStatus.COMPLETE):
        return None
    row = session.exec(
        select(Award, Organization)
        .join(Organization, Organization.id == Award.supplier_org_id)
        .where(Award.tender_id == tender.id, Award.status != AwardStatus.CANCELLED)
        .order_by(col(Award.id).desc())
    ).first()
    if row is None:
        return None
    award, supplier = row
    return PublicAward(
        tender_id=tender.id,
        award_id=award.id,
        status=award.status,
        supplier_org_id=supplier.id,
        supplier_name_en=supplier.name_en,
        supplier_name_ja=supplier.name_ja,
        value_jpy=award.value_jpy,
        decided_on=award.decided_at.astimezone(TOKYO).date(),
        standstill_until=award.standstill_until,
    )


@dataclass
class BidResult:
    """A bidder's view of its own bid after (or before) opening."""

    tender: Tender
    bid: Bid
    opened: bool
    rank: int | None
    ranked_count: int
    certificate_ids: list[str]
    evidence_level: int
    claim_kg: int
    reasons: list[dict]
    award: PublicAward | None


def bid_result(
    session: Session, actor: Actor, tender_id: int, now: datetime | None = None
) -> BidResult:
    """The actor's organisation's bid on a tender with its result: before the tender period
    ends only its state; after, its scores, rank and reasons (opening the tender now if
    nobody has yet), and the award once there is one. No own bid: NotFound."""
    SEE_BID_RESULT.check(actor)
    now = now or utcnow()
    tender = _get_tender(session, tender_id)
    bid = (
        session.exec(
            select(Bid).where(
                Bid.tender_id == tender.id, Bid.organization_id == actor.organization_id
            )
        ).first()
        if tender is not None and actor.organization_id is not None
        else None
    )
    if bid is None:
        raise NotFound(N_("Your organisation has no bid on this tender."))
    ensure_opened(session, tender, now)
    session.refresh(bid)
    opened = was_opened(session, tender)
    certs, level = bid_evidence(session, [bid.id])[bid.id]
    rank, count = None, 0
    if opened and bid.score_total is not None:
        order = ranked(
            session.exec(
                select(Bid).where(Bid.tender_id == tender.id, col(Bid.score_total).is_not(None))
            ).all()
        )
        count = len(order)
        rank = next((i for i, b in enumerate(order, start=1) if b.id == bid.id), None)
    return BidResult(
        tender=tender,
        bid=bid,
        opened=opened,
        rank=rank,
        ranked_count=count,
        certificate_ids=certs,
        evidence_level=level,
        claim_kg=claim_kg(bid.product_mass_kg, bid.total_recycled_pct),
        reasons=reasons_of(bid) if opened else [],
        award=public_award(session, tender.id),
    )


# ----------------------------------------------------------------------------------------------
# Output shapes (shared by the pages and the API). Messages are translated by the caller.

Translate = Callable[[str, dict], str]


def _plain(message: str, params: dict) -> str:
    return message % params if params else message


class ReasonOut(BaseModel):
    """A reason of a disqualification: a stable code and the message in the caller's
    language."""

    code: str
    message: str


class ScoresOut(BaseModel):
    """Score parts (2 decimals each) and their sum."""

    price: Decimal
    recycled: Decimal
    evidence: Decimal
    total: Decimal


class EvaluatedBidOut(BaseModel):
    """A bid as its tender's officer sees it after opening."""

    id: int
    organization_id: int
    organization_name_en: str
    organization_name_ja: str
    status: str
    rank: int | None = Field(description="1 = best; None when not scored (disqualified)")
    price_jpy: int = Field(description="tax excluded, the whole tender")
    delivery_date: date
    material: str
    product_mass_kg: int
    post_consumer_pct: Decimal
    total_recycled_pct: Decimal
    claim_t: str = Field(description="recycled tonnes the claim needs (3 decimals)")
    certificate_ids: list[str]
    data_quality_level: int = Field(description="best level of the cited certificates, 0–4")
    scores: ScoresOut | None
    reasons: list[ReasonOut]
    submitted_at: datetime
    award_cancelled: bool = Field(description="an award of this bid was cancelled")


class AwardOut(BaseModel):
    """An award of a tender."""

    id: int
    tender_id: int
    bid_id: int
    status: str = Field(description="pending (standstill), active (contract issued), cancelled")
    supplier_org_id: int
    supplier_name_en: str
    supplier_name_ja: str
    value_jpy: int = Field(description="the bid's price, tax excluded")
    justification: str
    rank: int | None = Field(description="the awarded bid's rank in the evaluation")
    reserved_t: str = Field(description="recycled tonnes reserved in the supplier's ledger")
    decided_at: datetime
    standstill_until: datetime
    cancellation_reason: str


class TenderEvaluationOut(BaseModel):
    """The evaluation of a tender: bids in rank order (disqualified ones last) and awards."""

    tender_id: int
    status: str
    tender_end: datetime
    opened: bool = Field(description="false while the bids are sealed")
    budget_jpy: int
    weights: WeightsOut
    bids: list[EvaluatedBidOut]
    awards: list[AwardOut] = Field(description="newest first, cancelled ones included")
    standstill_until: datetime | None


class PublicAwardOut(BaseModel):
    """A tender's award as the public sees it."""

    award_id: int
    status: str
    supplier_org_id: int
    supplier_name_en: str
    supplier_name_ja: str
    value_jpy: int
    decided_on: date
    standstill_until: datetime


class BidResultOut(BaseModel):
    """The caller's own bid on a tender and its result."""

    tender_id: int
    tender_status: str
    tender_end: datetime
    bid_id: int
    status: str
    opened: bool
    price_jpy: int
    post_consumer_pct: Decimal
    total_recycled_pct: Decimal
    claim_t: str
    certificate_ids: list[str]
    data_quality_level: int
    scores: ScoresOut | None
    rank: int | None
    ranked_bids: int = Field(description="how many bids were scored")
    reasons: list[ReasonOut]
    award: PublicAwardOut | None


class TenderStateOut(BaseModel):
    """A tender's state after a step."""

    id: int
    status: str
    closing_reason: str
    standstill_until: datetime | None


def reasons_out(reasons: list[dict], translate: Translate = _plain) -> list[ReasonOut]:
    return [
        ReasonOut(code=r.get("code", ""), message=translate(r["message"], r.get("params") or {}))
        for r in reasons
        if isinstance(r, dict) and "message" in r
    ]


def scores_out(bid: Bid) -> ScoresOut | None:
    if bid.score_total is None:
        return None
    return ScoresOut(
        price=bid.score_price,
        recycled=bid.score_recycled,
        evidence=bid.score_evidence,
        total=bid.score_total,
    )


def evaluated_bid_out(view: BidView, translate: Translate = _plain) -> EvaluatedBidOut:
    b = view.bid
    return EvaluatedBidOut(
        id=b.id,
        organization_id=b.organization_id,
        organization_name_en=view.organization.name_en,
        organization_name_ja=view.organization.name_ja,
        status=b.status,
        rank=view.rank,
        price_jpy=b.price_jpy,
        delivery_date=b.delivery_date,
        material=b.material_code,
        product_mass_kg=b.product_mass_kg,
        post_consumer_pct=b.post_consumer_pct,
        total_recycled_pct=b.total_recycled_pct,
        claim_t=tonnes(view.claim_kg),
        certificate_ids=view.certificate_ids,
        data_quality_level=view.evidence_level,
        scores=scores_out(b),
        reasons=reasons_out(view.reasons, translate),
        submitted_at=b.submitted_at,
        award_cancelled=view.award_cancelled,
    )


def award_out(view: AwardView) -> AwardOut:
    a = view.award
    return AwardOut(
        id=a.id,
        tender_id=a.tender_id,
        bid_id=a.bid_id,
        status=a.status,
        supplier_org_id=a.supplier_org_id,
        supplier_name_en=view.supplier.name_en,
        supplier_name_ja=view.supplier.name_ja,
        value_jpy=a.value_jpy,
        justification=a.justification,
        rank=view.rank,
        reserved_t=tonnes(a.reserved_kg),
        decided_at=a.decided_at,
        standstill_until=a.standstill_until,
        cancellation_reason=view.cancellation_reason,
    )


def evaluation_out(results: TenderResults, translate: Translate = _plain) -> TenderEvaluationOut:
    t = results.tender
    return TenderEvaluationOut(
        tender_id=t.id,
        status=t.status,
        tender_end=t.tender_end,
        opened=results.opened,
        budget_jpy=t.budget_jpy,
        weights=WeightsOut(
            price=t.weight_price, recycled_content=t.weight_recycled, evidence=t.weight_evidence
        ),
        bids=[evaluated_bid_out(v, translate) for v in results.bids],
        awards=[award_out(a) for a in results.awards],
        standstill_until=t.standstill_until,
    )


def public_award_out(award: PublicAward) -> PublicAwardOut:
    return PublicAwardOut(
        award_id=award.award_id,
        status=award.status,
        supplier_org_id=award.supplier_org_id,
        supplier_name_en=award.supplier_name_en,
        supplier_name_ja=award.supplier_name_ja,
        value_jpy=award.value_jpy,
        decided_on=award.decided_on,
        standstill_until=award.standstill_until,
    )


def bid_result_out(result: BidResult, translate: Translate = _plain) -> BidResultOut:
    b = result.bid
    return BidResultOut(
        tender_id=result.tender.id,
        tender_status=result.tender.status,
        tender_end=result.tender.tender_end,
        bid_id=b.id,
        status=b.status,
        opened=result.opened,
        price_jpy=b.price_jpy,
        post_consumer_pct=b.post_consumer_pct,
        total_recycled_pct=b.total_recycled_pct,
        claim_t=tonnes(result.claim_kg),
        certificate_ids=result.certificate_ids,
        data_quality_level=result.evidence_level,
        scores=scores_out(b) if result.opened else None,
        rank=result.rank,
        ranked_bids=result.ranked_count,
        reasons=reasons_out(result.reasons, translate),
        award=public_award_out(result.award) if result.award else None,
    )


def tender_state_out(tender: Tender) -> TenderStateOut:
    return TenderStateOut(
        id=tender.id,
        status=tender.status,
        closing_reason=tender.closing_reason,
        standstill_until=tender.standstill_until,
    )
