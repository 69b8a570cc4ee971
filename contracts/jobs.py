"""The scheduled jobs: plain functions over a session, run by the scheduler process, the
in-process demo scheduler and ``junkan jobs run NAME`` alike (``web.scheduler`` runs them in an
app context, commits, then e-mails the notifications they created).

Every job is idempotent by a unique key, so running it twice, twice at once, or again after a
crash (its transaction rolled back) produces nothing twice:
- ``open_obligations``: the unique (contract, month) of `DeliveryObligation`;
- ``close_months``: one conditional UPDATE (only open months close, once);
- ``issue_invoices``: `contracts.invoicing.issue_invoices` (months claimed by a conditional
  UPDATE; an invoice is unique per obligation and kind);
- ``remind_late_deliveries``, ``remind_overdue_invoices``: a notification is unique per member
  and dedupe key (one per obligation / invoice);
- ``notify_contract_expiry``: a `JobClaim` per contract and threshold (90 and 30 days), taken in
  the job's transaction, for the notices and the ``contract.expiry_notice`` event;
- ``remind_consent_expiry``: a notification is unique per member and dedupe key (one per
  movement record and threshold, 90 and 30 days);
- ``expire_listings``, ``nightly_matching``: a `JobClaim` per day (Asia/Tokyo), taken before
  the work in the same transaction: a concurrent run waits for it and then skips;
- ``open_due_tenders``: each tender moves from active to evaluation by one conditional UPDATE
  (`market.evaluation.open_tender`): a tender opens once, however many runs (or readers) try.
Jobs act as `participants.actors.SYSTEM` (the marketplace operator; `OPERATE_MARKETPLACE`).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import extract
from sqlmodel import Session, col, select

from contracts.batches import NewEvent, append_events, insert_new
from contracts.invoicing import invoice_month
from contracts.models import (
    ContractStatus,
    ContractTerms,
    DeliveryObligation,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    JobClaim,
    OfftakeContract,
)
from contracts.obligations import (
    close_months,
    first_of_month,
    last_day_of_month,
    month_index,
    open_month,
    previous_month,
)
from contracts.watch import remind_consent_expiry
from market.alerts import notify_organization
from market.allocation import TransportRates
from market.evaluation import open_due_tenders
from market.indices import refresh_prices
from market.listings import add_months, expire_due, kg_to_tonnes
from market.matching import BATCH_MATCHING_TIME_LIMIT_S, run_market_allocation
from market.models import Notification
from participants.actors import OPERATE_MARKETPLACE, Actor
from participants.columns import utcnow
from participants.errors import N_
from participants.models import Role

TOKYO = ZoneInfo("Asia/Tokyo")
EXPIRY_NOTICE_DAYS = (90, 30)
REMINDER_WINDOW_DAYS = 31  # reminders look back this far (older months were reminded of)
REMINDED_ROLES = (Role.ADMIN, Role.TRADER, Role.SIGNATORY)

LATE_DELIVERY = N_(
    "Contract #%(contract)s: deliveries for %(month)s are below the minimum "
    "(%(delivered)s t of at least %(minimum)s t)."
)
OVERDUE_INVOICE = N_("Invoice %(number)s of %(amount)s was due on %(due)s and is not paid yet.")
CONTRACT_EXPIRY = N_("Contract #%(contract)s ends on %(end)s, in %(days)s days.")


@dataclass(frozen=True)
class JobContext:
    """What a run is about: the day (in Asia/Tokyo), an explicit month, freight rates for the
    matching, and where to report progress."""

    today: date
    month: date | None = None
    rates: TransportRates | None = None
    progress: Callable[[str], None] | None = None

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)


@dataclass
class JobReport:
    """What a run did: counts for the log and the command line, and the notifications it
    created (e-mailed after the caller commits)."""

    job: str
    counts: dict[str, Any] = field(default_factory=dict)
    notes: list[Notification] = field(default_factory=list)

    def summary(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return f"{self.job}: {parts}" if parts else self.job


@dataclass(frozen=True)
class Job:
    name: str
    summary: str
    run: Callable[[Session, Actor, JobContext], JobReport]
    month_default: str = ""  # what --month means when given: "" (not used) or its default


# ----------------------------------------------------------------------------------------------
# Once-only claims


def claim_keys(session: Session, job: str, keys: list[str]) -> set[str]:
    """Claim `keys` for `job` in the caller's transaction; the keys claimed now (those another
    run took — committed, or about to be: PostgreSQL waits for it — are not returned)."""
    now = utcnow()
    rows = [{"job": job, "key": key[:80], "claimed_at": now} for key in dict.fromkeys(keys)]
    inserted = insert_new(session, JobClaim.__table__, rows, ("job", "key"), ("key",))
    return {row[0] for row in inserted}


def claim(session: Session, job: str, key: str) -> bool:
    return bool(claim_keys(session, job, [key]))


# ----------------------------------------------------------------------------------------------
# The jobs


def run_open_obligations(session: Session, actor: Actor, ctx: JobContext) -> JobReport:
    month = first_of_month(ctx.month or ctx.today)
    result = open_month(session, actor, month, ctx.progress)
    return JobReport(
        "open_obligations",
        {"month": f"{month:%Y-%m}", "opened": result.opened, "events": result.events},
    )


def run_close_months(session: Session, actor: Actor, ctx: JobContext) -> JobReport:
    # With --month M: close the months up to M (as on the first day of the month after it).
    today = add_months(first_of_month(ctx.month), 1) if ctx.month else ctx.today
    result = close_months(session, actor, today, ctx.progress)
    months = ", ".join(f"{m:%Y-%m}" for m in result.months) or "none"
    return JobReport(
        "close_months", {"closed": result.closed, "months": months, "events": result.events}
    )


def run_issue_invoices(session: Session, actor: Actor, ctx: JobContext) -> JobReport:
    OPERATE_MARKETPLACE.check(actor)
    month = first_of_month(ctx.month) if ctx.month else previous_month(ctx.today)
    ctx.say(f"issuing invoices for {month:%Y-%m} …")
    result = invoice_month(session, month, ctx.today, ctx.progress)
    counts = {"month": f"{month:%Y-%m}", "issued": result.issued}
    if result.waiting_for_index:
        counts["waiting_for_index"] = len(result.waiting_for_index)
    return JobReport("issue_invoices", counts)


def _tonnes(kg: int) -> str:
    return format(kg_to_tonnes(kg).normalize(), "f")


def run_remind_late_deliveries(session: Session, actor: Actor, ctx: JobContext) -> JobReport:
    """Both parties of each obligation past its due date below its minimum (due within the
    last 31 days): once per obligation."""
    OPERATE_MARKETPLACE.check(actor)
    Ob, C = DeliveryObligation, OfftakeContract
    rows = session.exec(
        select(
            Ob.id,
            Ob.contract_id,
            Ob.month,
            Ob.delivered_kg,
            Ob.min_kg,
            C.seller_org_id,
            C.buyer_org_id,
        )
        .join(C, C.id == Ob.contract_id)
        .where(
            Ob.due_on < ctx.today,
            Ob.due_on >= ctx.today - timedelta(days=REMINDER_WINDOW_DAYS),
            Ob.delivered_kg < Ob.min_kg,
        )
        .order_by(Ob.id)
    ).all()
    notes: list[Notification] = []
    for oid, contract_id, month, delivered, minimum, seller, buyer in rows:
        params = {
            "contract": contract_id,
            "month": f"{month:%Y-%m}",
            "delivered": _tonnes(delivered),
            "minimum": _tonnes(minimum),
        }
        for org in (seller, buyer):
            notes += notify_organization(
                session,
                org,
                LATE_DELIVERY,
                params,
                f"/contracts/{contract_id}/deliveries",
                f"late-delivery:{oid}",
                roles=REMINDED_ROLES,
            )
    return JobReport("remind_late_deliveries", {"late": len(rows), "notified": len(notes)}, notes)


def run_remind_overdue_invoices(session: Session, actor: Actor, ctx: JobContext) -> JobReport:
    """The buyer of each issued invoice past its due date (due within the last 31 days), once
    per invoice. Reads invoices only (the money slice writes them)."""
    OPERATE_MARKETPLACE.check(actor)
    invoices = session.exec(
        select(Invoice)
        .where(
            Invoice.kind == InvoiceKind.INVOICE,
            Invoice.status == InvoiceStatus.ISSUED,
            Invoice.due_on < ctx.today,
            Invoice.due_on >= ctx.today - timedelta(days=REMINDER_WINDOW_DAYS),
        )
        .order_by(col(Invoice.id))
    ).all()
    notes: list[Notification] = []
    for invoice in invoices:
        notes += notify_organization(
            session,
            invoice.buyer_org_id,
            OVERDUE_INVOICE,
            {
                "number": invoice.number,
                "amount": f"¥{invoice.total_jpy:,}",
                "due": invoice.due_on.isoformat(),
            },
            f"/invoices/{invoice.id}",
            f"overdue-invoice:{invoice.id}",
            roles=REMINDED_ROLES,
        )
    return JobReport(
        "remind_overdue_invoices", {"overdue": len(invoices), "notified": len(notes)}, notes
    )


def contract_end(start_month: date, term_months: int) -> date:
    """The last day of a contract's last month."""
    return last_day_of_month(add_months(first_of_month(start_month), term_months - 1))


def expiry_threshold(days_left: int) -> int | None:
    """The notice due with `days_left` days to go: 30, 90, or None (more than 90, or over)."""
    if days_left < 0:
        return None
    for days in sorted(EXPIRY_NOTICE_DAYS):
        if days_left <= days:
            return days
    return None


def run_notify_contract_expiry(session: Session, actor: Actor, ctx: JobContext) -> JobReport:
    """Both parties of each active contract 90 and 30 days before its last day (only the
    nearer notice when a contract is first seen inside 30 days), with an event on its chain."""
    OPERATE_MARKETPLACE.check(actor)
    C, T = OfftakeContract, ContractTerms
    # Contracts whose last month starts within ~4 months (a cheap filter in SQL, exact below).
    horizon = month_index(ctx.today) + 4
    start = extract("year", T.start_month) * 12 + extract("month", T.start_month)
    rows = session.exec(
        select(C.id, C.seller_org_id, C.buyer_org_id, T.start_month, T.term_months)
        .join(T, (T.contract_id == C.id) & (T.version == C.active_version))
        .where(C.status == ContractStatus.ACTIVE, start + T.term_months - 1 <= horizon)
        .order_by(C.id)
    ).all()
    due: dict[str, tuple] = {}
    for cid, seller, buyer, start_month, term in rows:
        end = contract_end(start_month, term)
        days = expiry_threshold((end - ctx.today).days)
        if days is not None:
            due[f"{cid}:{days}"] = (cid, seller, buyer, end, days)
    claimed = claim_keys(session, "contract_expiry", list(due))
    notes: list[Notification] = []
    events = []
    for key in sorted(claimed, key=lambda k: due[k][0]):
        cid, seller, buyer, end, days = due[key]
        left = (end - ctx.today).days
        for org in (seller, buyer):
            notes += notify_organization(
                session,
                org,
                CONTRACT_EXPIRY,
                {"contract": cid, "end": end.isoformat(), "days": left},
                f"/contracts/{cid}",
                f"contract-expiry:{cid}:{days}",
                roles=REMINDED_ROLES,
            )
        events.append(
            NewEvent(cid, "contract.expiry_notice", {"days": days, "ends_on": end.isoformat()})
        )
    append_events(session, events, actor)
    return JobReport(
        "notify_contract_expiry", {"notices": len(claimed), "notified": len(notes)}, notes
    )


def run_remind_consent_expiry(session: Session, actor: Actor, ctx: JobContext) -> JobReport:
    """The holders of movement records (and the operator) 90 and 30 days before a consent's
    validity ends: once per member, record and threshold (`contracts.watch`)."""
    notes = remind_consent_expiry(session, actor, ctx.today)
    return JobReport("remind_consent_expiry", {"notified": len(notes)}, notes)


def run_expire_listings(session: Session, actor: Actor, ctx: JobContext) -> JobReport:
    """Expire listings and requests past their expiry date, once a day; and store every
    listing's price for the month (the search's sort key: a new month, or prices left to work
    out after an index value changed — idempotent, so also when the day's run is done)."""
    OPERATE_MARKETPLACE.check(actor)
    prices = refresh_prices(session, ctx.today)
    if not claim(session, "expire_listings", ctx.today.isoformat()):
        return JobReport("expire_listings", {"skipped": "already run today", "prices": prices})
    expired = expire_due(session, ctx.today)
    session.flush()
    return JobReport("expire_listings", {"expired": expired, "prices": prices})


def run_nightly_matching(session: Session, actor: Actor, ctx: JobContext) -> JobReport:
    """The market-wide matching for this month (or --month), once a day."""
    OPERATE_MARKETPLACE.check(actor)
    if not claim(session, "nightly_matching", ctx.today.isoformat()):
        return JobReport("nightly_matching", {"skipped": "already run today"})
    month = first_of_month(ctx.month or ctx.today)
    run = run_market_allocation(
        session,
        actor,
        month,
        today=ctx.today,
        rates=ctx.rates,
        progress=ctx.progress,
        time_limit_s=BATCH_MATCHING_TIME_LIMIT_S,
    )
    return JobReport(
        "nightly_matching",
        {"run": run.id, "month": f"{month:%Y-%m}", "proposals": run.n_proposals},
    )


def run_open_due_tenders(session: Session, actor: Actor, ctx: JobContext) -> JobReport:
    """Open the tenders whose tender period has ended and evaluate their bids (bidders are
    notified in the app)."""
    OPERATE_MARKETPLACE.check(actor)
    openings = open_due_tenders(session)
    return JobReport(
        "open_due_tenders",
        {
            "opened": len(openings),
            "qualified": sum(o.qualified for o in openings),
            "disqualified": sum(o.disqualified for o in openings),
        },
    )


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job("close_months", "close the delivery months that are over", run_close_months, "close"),
        Job(
            "open_obligations",
            "open this month's delivery obligation of every active contract",
            run_open_obligations,
            "this",
        ),
        Job(
            "issue_invoices",
            "invoice the closed months (contracts.invoicing)",
            run_issue_invoices,
            "previous",
        ),
        Job(
            "remind_late_deliveries",
            "remind both parties of months past due below their minimum",
            run_remind_late_deliveries,
        ),
        Job(
            "remind_overdue_invoices",
            "remind buyers of issued invoices past their due date",
            run_remind_overdue_invoices,
        ),
        Job(
            "notify_contract_expiry",
            "notify both parties 90 and 30 days before a contract ends",
            run_notify_contract_expiry,
        ),
        Job(
            "remind_consent_expiry",
            "notify holders of movement records 90 and 30 days before a consent ends",
            run_remind_consent_expiry,
        ),
        Job(
            "expire_listings",
            "expire listings and requests past their expiry date; store this month's prices",
            run_expire_listings,
        ),
        Job(
            "nightly_matching",
            "run the market-wide matching (proposals for this month)",
            run_nightly_matching,
            "this",
        ),
        Job(
            "open_due_tenders",
            "open the tenders whose tender period has ended and score their bids",
            run_open_due_tenders,
        ),
    )
}


def report_json(report: JobReport) -> str:
    return json.dumps({"job": report.job, **report.counts}, ensure_ascii=False, default=str)
