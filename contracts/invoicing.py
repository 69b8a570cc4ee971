"""Quality-adjusted invoicing per contract month, credit notes, and reading invoices.

When a contract month is closed, `issue_invoices` (the scheduler's ``issue_invoices`` job)
writes one invoice of it, from the signed terms of its obligation and the deliveries of the
month that count (accepted or settled: `contracts.models.COUNTED`; recorded, disputed and
rejected lots are not billed). The lines, in this order:

- ``base``: min(delivered, the month's maximum) × the month's price;
- ``quality``: one line per counted delivery with a price adjustment: its net tonnes × its
  adjustment (yen per tonne, negative: a deduction), naming its date and grade outcome;
- ``excess``: tonnes above the month's maximum × price × ``excess_price_pct`` % (0 %: no line,
  those tonnes are not bought);
- ``shortfall`` (take-or-pay): when delivered < due × ``take_or_pay_pct`` %, the missing
  tonnes × price × ``shortfall_price_pct`` %;
- ``fee``: the platform fee, `PLATFORM_FEE_PCT` of the goods lines above.

The month's price comes from the terms' formula through `market.indices.evaluate` (fixed, or
index × factor + premium, half-up, clamped to floor and cap) with the index value of the
delivery month or of the month before (``pricing_period``). Without that month's index value
the obligation is not invoiced: it stays closed, the run reports it, and a later run picks it
up once the value is entered.

Rounding — one rule: every amount is rounded toward zero to whole yen (切り捨て: the yen
fraction is dropped; a deduction of ¥1,234.5 is −¥1,234). Weights are integer kilograms,
prices yen per tonne: amount = kg × yen/t × share / 1000, computed exactly with integers and
Decimal, then rounded once. Consumption tax (`CONSUMPTION_TAX_PCT`, 10 %) is computed once per
invoice and rate on the sum of that rate's lines and rounded the same way (Japan's qualified
invoice rule: one rounding per invoice and rate, never per line). Subtotal, tax and total are
stored on the invoice; the total is what the buyer pays.

The platform fee is charged to the buyer on the invoice; the settlement ledger (payments)
records the seller's payable as the total less the fee and the fee's share of the tax
(`platform_fee_of`).

Numbers are JK-YYYY-NNNNNN: the year of issue and a per-year sequence taken in blocks from
`InvoiceNumberCounter` by one conditional UPDATE, so concurrent runs never share a number
(a rolled-back run may leave a gap). Issued on: today in Asia/Tokyo, and never before the
first day after the month; due on: issued on + the terms' payment days. The seller's
qualified-invoice registration number is copied onto the invoice; a seller without one is
still invoiced (the money is owed either way), and the invoice and its page say it is not a
qualified invoice (the buyer cannot deduct its input tax from it).

Once only: the obligations are moved from ``closed`` to ``invoiced`` by one conditional UPDATE
before anything is written, so a second or concurrent run finds nothing to invoice (on
PostgreSQL it waits for the first run's commit, then skips its rows); the unique (obligation,
kind) of `Invoice` is the last guard. Writes are batched (`contracts.batches`); one
``invoice.issued`` event is appended to each contract's chain.

Credit notes: a delivery decided after its month was invoiced (a dispute settled, a late
acceptance) changes what the month is worth. `issue_credit_note` recomputes the month's lines
with the deliveries that count now (at the price the invoice used) and writes the difference
to what was billed (the invoice and its earlier credit notes) as a credit note of the invoice
(kind ``credit_note``, ``credits_invoice_id`` the invoice, its own number, tax computed once on
its own lines): negative totals credit the buyer (refunded through payments); positive totals
are a supplementary charge (a lot that counts now and was not billed). One credit note per
delivery at most (unique ``delivery_id``).

Who may read: members of the seller or the buyer, whatever their organisation's state
(`SEE_INVOICES`); the marketplace operator reads all. Anyone else: no such invoice (NotFound).
Functions flush, never commit.
"""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import update
from sqlmodel import Session, col, or_, select

from contracts.batches import NewEvent, append_events, chunks, insert_new, insert_rows, new_ids
from contracts.models import (
    COUNTED,
    ContractTerms,
    Delivery,
    DeliveryObligation,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceNumberCounter,
    InvoiceStatus,
    ObligationStatus,
    OfftakeContract,
    Payment,
    PricingPeriod,
    Refund,
)
from contracts.obligations import first_of_month, previous_month
from market.indices import Formula, evaluate
from market.listings import add_months
from market.models import IndexValue, PurchaseOrder
from participants.actors import SYSTEM, Actor, permission
from participants.columns import tokyo_today, utcnow
from participants.errors import N_, NotFound
from participants.fields import Id, Paging
from participants.models import Organization

log = logging.getLogger(__name__)
TOKYO = ZoneInfo("Asia/Tokyo")

PLATFORM_FEE_PCT = Decimal("0.5")
"""The marketplace's fee, in percent of an invoice's goods lines (base, quality, excess,
shortfall). It is a line of the invoice, charged to the buyer and taxed with the rest; the
settlement ledger pays the seller the total less the fee and its tax (`platform_fee_of`)."""

CONSUMPTION_TAX_PCT = Decimal("10")
"""Japan's standard consumption tax rate (metals and plastics scrap are not reduced-rate)."""

NUMBER_PREFIX = "JK"
GOODS_KINDS = ("base", "quality", "excess", "shortfall")
LINE_KINDS = (*GOODS_KINDS, "fee")

SEE_INVOICES = permission(
    N_("Only members of the two parties see a contract's invoices."), verified=False
)


# ----------------------------------------------------------------------------------------------
# Arithmetic (pure)
# ----------------------------------------------------------------------------------------------


def _toward_zero(numerator: int, denominator: int) -> int:
    quotient = abs(numerator) // denominator
    return quotient if numerator >= 0 else -quotient


def to_yen(value: Decimal | int) -> int:
    """The one rounding rule: toward zero to whole yen (切り捨て)."""
    if isinstance(value, int):
        return value
    numerator, denominator = Decimal(value).as_integer_ratio()
    return _toward_zero(numerator, denominator)


def amount_of(kg: int, yen_per_t: int, pct: Decimal | int = 100) -> int:
    """kg × yen/t × pct % ÷ 1000, exact (integers), then rounded toward zero."""
    numerator, denominator = Decimal(pct).as_integer_ratio()
    return _toward_zero(kg * yen_per_t * numerator, 100_000 * denominator)


def tax_by_rate(lines: Iterable["LineDraft"]) -> dict[Decimal, int]:
    """Consumption tax once per rate on the sum of that rate's line amounts."""
    sums: dict[Decimal, int] = defaultdict(int)
    for line in lines:
        sums[line.tax_rate_pct] += line.amount_jpy
    return {Decimal(rate): amount_of(1000, total, rate) for rate, total in sorted(sums.items())}


def totals(lines: Sequence["LineDraft"]) -> tuple[int, int, int]:
    """(subtotal, tax, total) of an invoice's lines."""
    subtotal = sum(line.amount_jpy for line in lines)
    tax = sum(tax_by_rate(lines).values())
    return subtotal, tax, subtotal + tax


def platform_fee_of(lines: Sequence) -> tuple[int, int]:
    """(fee, the fee's tax) of an invoice's or a credit note's lines: the fee lines' sum and
    their tax at the same rounding (the platform's share of the total)."""
    fee_lines = [line for line in lines if line.kind == "fee"]
    fee = sum(line.amount_jpy for line in fee_lines)
    return fee, sum(tax_by_rate(fee_lines).values())


@dataclass(slots=True)
class LineDraft:
    kind: str
    description: str
    amount_jpy: int
    quantity_kg: int | None = None
    unit_price_jpy_per_t: int | None = None
    delivery_id: int | None = None
    tax_rate_pct: Decimal = CONSUMPTION_TAX_PCT


@dataclass(frozen=True)
class MonthTerms:
    """What the lines of a month need from its obligation and signed terms."""

    month: date
    due_kg: int
    max_kg: int
    take_or_pay_pct: Decimal
    shortfall_price_pct: Decimal
    excess_price_pct: Decimal


@dataclass(frozen=True)
class CountedDelivery:
    id: int
    delivered_on: date
    net_kg: int
    outcome: str
    adjustment_jpy_per_t: int


def _t(kg: int | Decimal) -> str:
    """Tonnes with three decimals from kilograms (whole kg)."""
    grams = int(kg)
    sign = "-" if grams < 0 else ""
    return f"{sign}{abs(grams) // 1000:,}.{abs(grams) % 1000:03d} t"


@lru_cache(maxsize=256)
def _pct_text(pct: Decimal) -> str:
    return format(pct.normalize(), "f")


@lru_cache(maxsize=4096)
def _share(price: int, pct: Decimal) -> int:
    """A unit price at `pct` % of `price` (for display; amounts are computed exactly)."""
    return amount_of(1000, price, pct)


def invoice_lines(
    terms: MonthTerms, price: int, deliveries: Sequence[CountedDelivery]
) -> list[LineDraft]:
    """The lines of a month at `price` yen per tonne with the deliveries that count. Pure."""
    label = f"{terms.month:%Y-%m}"
    delivered = sum(d.net_kg for d in deliveries)
    lines: list[LineDraft] = []
    billed = min(delivered, terms.max_kg)
    if billed > 0:
        lines.append(
            LineDraft(
                "base",
                f"Deliveries of {label}: {_t(billed)} at ¥{price:,}/t",
                amount_of(billed, price),
                billed,
                price,
            )
        )
    for d in sorted(deliveries, key=lambda d: (d.delivered_on, d.id)):
        if d.adjustment_jpy_per_t:
            lines.append(
                LineDraft(
                    "quality",
                    f"Quality adjustment, delivery of {d.delivered_on.isoformat()} "
                    f"({d.outcome or 'graded'}): {_t(d.net_kg)} at "
                    f"¥{d.adjustment_jpy_per_t:,}/t",
                    amount_of(d.net_kg, d.adjustment_jpy_per_t),
                    d.net_kg,
                    d.adjustment_jpy_per_t,
                    d.id,
                )
            )
    excess = delivered - terms.max_kg
    if excess > 0 and terms.excess_price_pct > 0:
        pct = terms.excess_price_pct
        lines.append(
            LineDraft(
                "excess",
                f"Above the month's maximum of {_t(terms.max_kg)}: {_t(excess)} at "
                f"{_pct_text(pct)} percent of the price",
                amount_of(excess, price, pct),
                excess,
                _share(price, pct),
            )
        )
    # Take-or-pay: the minimum is due × take_or_pay_pct % (exact), the shortfall whole kg.
    top_n, top_d = terms.take_or_pay_pct.as_integer_ratio()
    missing = _toward_zero(terms.due_kg * top_n - delivered * 100 * top_d, 100 * top_d)
    if missing > 0 and terms.shortfall_price_pct > 0:
        pct = terms.shortfall_price_pct
        lines.append(
            LineDraft(
                "shortfall",
                f"Take-or-pay shortfall: {_t(missing)} below {_pct_text(terms.take_or_pay_pct)}"
                f" percent of {_t(terms.due_kg)} due, at {_pct_text(pct)} percent of the price",
                amount_of(missing, price, pct),
                missing,
                _share(price, pct),
            )
        )
    goods = sum(line.amount_jpy for line in lines)
    fee = amount_of(1000, goods, PLATFORM_FEE_PCT)
    if fee:
        lines.append(
            LineDraft(
                "fee",
                f"Platform fee: {_pct_text(PLATFORM_FEE_PCT)} percent of ¥{goods:,}",
                fee,
            )
        )
    return lines


# ----------------------------------------------------------------------------------------------
# Prices
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceTerms:
    price_kind: str
    fixed_price_jpy_per_t: int | None
    index_id: int | None
    index_factor: Decimal | None
    premium_jpy_per_t: int
    floor_jpy_per_t: int | None
    cap_jpy_per_t: int | None
    pricing_period: str

    def formula(self) -> Formula:
        return Formula(
            self.price_kind,
            self.fixed_price_jpy_per_t,
            self.index_id,
            self.index_factor,
            self.premium_jpy_per_t,
            self.floor_jpy_per_t,
            self.cap_jpy_per_t,
        )

    def index_month(self, month: date) -> date:
        """The month whose index value prices `month`."""
        if self.pricing_period == PricingPeriod.PREVIOUS_MONTH:
            return previous_month(month)
        return first_of_month(month)


PRICE_COLUMNS = (
    ContractTerms.price_kind,
    ContractTerms.fixed_price_jpy_per_t,
    ContractTerms.index_id,
    ContractTerms.index_factor,
    ContractTerms.premium_jpy_per_t,
    ContractTerms.floor_jpy_per_t,
    ContractTerms.cap_jpy_per_t,
    ContractTerms.pricing_period,
)


def index_values(session: Session, wanted: set[tuple[int, date]]) -> dict[tuple[int, date], int]:
    """The exact values of (index, month) pairs, in one query per 1,000 indices."""
    if not wanted:
        return {}
    ids = sorted({i for i, _ in wanted})
    months = sorted({m for _, m in wanted})
    values: dict[tuple[int, date], int] = {}
    for part in chunks(ids):
        rows = session.exec(
            select(IndexValue.index_id, IndexValue.month, IndexValue.value_jpy_per_t).where(
                col(IndexValue.index_id).in_(list(part)), col(IndexValue.month).in_(months)
            )
        ).all()
        for index_id, month, value in rows:
            values[(index_id, month)] = value
    return values


def month_price(
    pricing: PriceTerms, month: date, values: dict[tuple[int, date], int]
) -> int | None:
    """The month's price per `market.indices.evaluate`; None when its index value is missing."""
    value = None
    if pricing.price_kind != "fixed" and pricing.index_id is not None:
        value = values.get((pricing.index_id, pricing.index_month(month)))
    return evaluate(pricing.formula(), value)


# ----------------------------------------------------------------------------------------------
# Issuing
# ----------------------------------------------------------------------------------------------


def issue_day(month: date, today: date | None = None) -> date:
    """Today in Tokyo, never before the first day after the month."""
    return max(today or tokyo_today(), add_months(first_of_month(month), 1))


def invoice_number(year: int, seq: int) -> str:
    return f"{NUMBER_PREFIX}-{year}-{seq:06d}"


def take_numbers(session: Session, year: int, count: int) -> list[str]:
    """`count` new numbers of `year`: one conditional UPDATE of the year's counter (its row
    lock makes a concurrent run wait and then take the next block)."""
    if count <= 0:
        return []
    table = InvoiceNumberCounter.__table__
    insert_new(session, table, [{"year": year, "last_seq": 0}], ("year",), ("year",))
    last = (
        session.connection()
        .execute(
            update(table)
            .where(table.c.year == year)
            .values(last_seq=table.c.last_seq + count)
            .returning(table.c.last_seq)
        )
        .scalar_one()
    )
    return [invoice_number(year, seq) for seq in range(last - count + 1, last + 1)]


@dataclass
class InvoiceRun:
    """What `invoice_month` did: invoices issued, and the obligations it left closed because
    their index value is missing (the next run picks them up)."""

    month: date
    issued: int = 0
    waiting_for_index: list[int] = field(default_factory=list)
    invoice_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Candidate:
    obligation_id: int
    contract_id: int
    seller_org_id: int
    buyer_org_id: int
    registration_number: str
    payment_days: int
    terms: MonthTerms
    price: int


def _say(progress: Callable[[str], None] | None, message: str) -> None:
    if progress is not None:
        progress(message)


def _candidates(session: Session, month: date) -> tuple[list[_Candidate], list[int]]:
    """The month's closed obligations with their prices; those waiting for an index value."""
    Ob, C, T, Org = DeliveryObligation, OfftakeContract, ContractTerms, Organization
    rows = session.exec(
        select(
            Ob.id,
            Ob.contract_id,
            Ob.due_kg,
            Ob.max_kg,
            C.seller_org_id,
            C.buyer_org_id,
            Org.qualified_invoice_number,
            T.payment_days,
            T.take_or_pay_pct,
            T.shortfall_price_pct,
            T.excess_price_pct,
            *PRICE_COLUMNS,
        )
        .join(C, C.id == Ob.contract_id)
        .join(T, T.id == Ob.terms_id)
        .join(Org, Org.id == C.seller_org_id)
        .where(Ob.month == month, Ob.status == ObligationStatus.CLOSED)
        .order_by(Ob.id)
    ).all()
    pricings = [PriceTerms(*row[11:]) for row in rows]
    wanted = {
        (p.index_id, p.index_month(month))
        for p in pricings
        if p.price_kind != "fixed" and p.index_id is not None
    }
    values = index_values(session, wanted)
    ready: list[_Candidate] = []
    waiting: list[int] = []
    for row, pricing in zip(rows, pricings, strict=True):
        price = month_price(pricing, month, values)
        if price is None:
            waiting.append(row[0])
            continue
        terms = MonthTerms(month, row[2], row[3], row[8], row[9], row[10])
        ready.append(_Candidate(row[0], row[1], row[4], row[5], row[6] or "", row[7], terms, price))
    return ready, waiting


def _claim(session: Session, ids: list[int]) -> set[int]:
    """Move closed obligations to invoiced (one conditional UPDATE per 1,000): the ones this
    run won."""
    Ob = DeliveryObligation
    won: set[int] = set()
    for part in chunks(ids):
        rows = session.execute(
            update(Ob)
            .where(col(Ob.id).in_(list(part)), Ob.status == ObligationStatus.CLOSED)
            .values(status=ObligationStatus.INVOICED)
            .returning(Ob.id)
            .execution_options(synchronize_session=False)
        ).all()
        won.update(row[0] for row in rows)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, DeliveryObligation) and obj.id in won:
            session.expire(obj)
    return won


def counted_deliveries(
    session: Session, obligation_ids: Sequence[int]
) -> dict[int, list[CountedDelivery]]:
    """The deliveries that count, per obligation (one query per 1,000 obligations)."""
    out: dict[int, list[CountedDelivery]] = defaultdict(list)
    D = Delivery
    for part in chunks(list(obligation_ids)):
        rows = session.exec(
            select(
                D.id, D.obligation_id, D.delivered_on, D.net_kg, D.outcome, D.adjustment_jpy_per_t
            )
            .where(col(D.obligation_id).in_(list(part)), col(D.status).in_(list(COUNTED)))
            .order_by(D.id)
        ).all()
        for did, oid, day, kg, outcome, adjustment in rows:
            out[oid].append(CountedDelivery(did, day, kg, outcome, adjustment))
    return out


def _line_rows(invoice_id: int, lines: Sequence[LineDraft]) -> list[dict]:
    return [
        {
            "invoice_id": invoice_id,
            "position": n,
            "kind": line.kind,
            "description": line.description[:300],
            "quantity_kg": line.quantity_kg,
            "unit_price_jpy_per_t": line.unit_price_jpy_per_t,
            "amount_jpy": line.amount_jpy,
            "tax_rate_pct": line.tax_rate_pct,
            "delivery_id": line.delivery_id,
        }
        for n, line in enumerate(lines, start=1)
    ]


INSERTED = ("id", "obligation_id", "contract_id", "number", "total_jpy")


def _insert_invoices(session: Session, rows: list[dict]) -> list[tuple]:
    """Write the invoices of obligations this run claimed; (id, obligation, contract, number,
    total) of each. PostgreSQL: ids from the sequence and one COPY (the claim makes a conflict
    impossible; the unique (obligation, kind) would still stop the run); elsewhere an INSERT …
    ON CONFLICT DO NOTHING RETURNING."""
    ids = new_ids(session, Invoice.__table__, len(rows))
    if ids is None:
        return insert_new(session, Invoice.__table__, rows, ("obligation_id", "kind"), INSERTED)
    for row, invoice_id in zip(rows, ids, strict=True):
        row["id"] = invoice_id
    insert_rows(session, Invoice.__table__, rows)
    return [tuple(row[name] for name in INSERTED) for row in rows]


def invoice_month(
    session: Session,
    month: date,
    today: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> InvoiceRun:
    """Invoice every closed obligation of `month` (see the module docstring). Flushes."""
    month = first_of_month(month)
    run = InvoiceRun(month)
    _say(progress, f"reading the closed obligations of {month:%Y-%m} …")
    ready, run.waiting_for_index = _candidates(session, month)
    if run.waiting_for_index:
        log.warning(
            "invoicing %s: %d obligations wait for their index value: %s",
            f"{month:%Y-%m}",
            len(run.waiting_for_index),
            run.waiting_for_index[:20],
        )
    if not ready:
        return run
    _say(progress, f"claiming {len(ready)} obligations …")
    won = _claim(session, [c.obligation_id for c in ready])
    ready = [c for c in ready if c.obligation_id in won]
    if not ready:
        return run
    _say(progress, f"computing {len(ready)} invoices …")
    deliveries = counted_deliveries(session, [c.obligation_id for c in ready])
    issued_on = issue_day(month, today)
    numbers = take_numbers(session, issued_on.year, len(ready))
    now = utcnow()
    drafts: dict[int, list[LineDraft]] = {}
    rows = []
    for candidate, number in zip(ready, numbers, strict=True):
        lines = invoice_lines(candidate.terms, candidate.price, deliveries[candidate.obligation_id])
        drafts[candidate.obligation_id] = lines
        subtotal, tax, total = totals(lines)
        rows.append(
            {
                "number": number,
                "kind": InvoiceKind.INVOICE.value,
                "contract_id": candidate.contract_id,
                "obligation_id": candidate.obligation_id,
                "credits_invoice_id": None,
                "delivery_id": None,
                "seller_org_id": candidate.seller_org_id,
                "buyer_org_id": candidate.buyer_org_id,
                "seller_registration_number": candidate.registration_number,
                "issued_on": issued_on,
                "due_on": issued_on + timedelta(days=candidate.payment_days),
                "subtotal_jpy": subtotal,
                "tax_jpy": tax,
                "total_jpy": total,
                "status": InvoiceStatus.ISSUED.value,
                "paid_at": None,
                "created_at": now,
            }
        )
    _say(progress, f"writing {len(rows)} invoices …")
    inserted = _insert_invoices(session, rows)
    line_rows = [row for inv in inserted for row in _line_rows(inv[0], drafts[inv[1]])]
    insert_rows(session, InvoiceLine.__table__, line_rows)
    _say(progress, f"appending {len(inserted)} events …")
    label = f"{month:%Y-%m}"
    append_events(
        session,
        [
            NewEvent(
                contract_id,
                "invoice.issued",
                {
                    "invoice": iid,
                    "number": number,
                    "obligation": oid,
                    "month": label,
                    "total_jpy": total,
                },
            )
            for iid, oid, contract_id, number, total in inserted
        ],
        SYSTEM,
    )
    run.issued = len(inserted)
    run.invoice_ids = [row[0] for row in inserted]
    return run


def issue_invoices(session: Session, month: date, today: date | None = None) -> int:
    """The scheduler's entry point: invoice `month`'s closed obligations; how many invoices
    were issued (obligations waiting for an index value are logged and left closed)."""
    return invoice_month(session, month, today).issued


# ----------------------------------------------------------------------------------------------
# Credit notes
# ----------------------------------------------------------------------------------------------


def _billed(session: Session, invoice_ids: Sequence[int]) -> list[InvoiceLine]:
    return list(
        session.exec(
            select(InvoiceLine)
            .where(col(InvoiceLine.invoice_id).in_(list(invoice_ids)))
            .order_by(InvoiceLine.invoice_id, InvoiceLine.position)
        ).all()
    )


def _invoiced_price(
    session: Session, invoice: Invoice, obligation: DeliveryObligation
) -> int | None:
    """The price the invoice used: its base line's, else the formula's (same index value)."""
    base = session.exec(
        select(InvoiceLine.unit_price_jpy_per_t).where(
            InvoiceLine.invoice_id == invoice.id, InvoiceLine.kind == "base"
        )
    ).first()
    if base is not None:
        return base
    terms = session.get(ContractTerms, obligation.terms_id)
    pricing = PriceTerms(*(getattr(terms, c.key) for c in PRICE_COLUMNS))
    values = index_values(session, {(pricing.index_id, pricing.index_month(obligation.month))})
    return month_price(pricing, obligation.month, values)


def correction_lines(
    billed: Sequence, now: Sequence[LineDraft], delivery: Delivery
) -> list[LineDraft]:
    """What changed between the lines billed (invoice and earlier credit notes) and the lines
    the month has now: one line per kind (and delivery, for quality) whose amount differs."""
    key = lambda line: (line.kind, line.delivery_id if line.kind == "quality" else None)  # noqa: E731
    old: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    new: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for line in billed:
        old[key(line)][0] += line.amount_jpy
        old[key(line)][1] += line.quantity_kg or 0
    for line in now:
        new[key(line)][0] += line.amount_jpy
        new[key(line)][1] += line.quantity_kg or 0
    reason = f"after the decision on delivery of {delivery.delivered_on.isoformat()}"
    out: list[LineDraft] = []
    order = {kind: n for n, kind in enumerate(LINE_KINDS)}
    for k in sorted(set(old) | set(new), key=lambda k: (order.get(k[0], 99), k[1] or 0)):
        amount = new[k][0] - old[k][0]
        if amount == 0:
            continue
        kg = new[k][1] - old[k][1]
        out.append(
            LineDraft(
                k[0],
                f"Correction of the {k[0]} line {reason}"
                + (f": {'+' if kg > 0 else ''}{_t(kg)}" if kg else ""),
                amount,
                kg or None,
                None,
                k[1],
            )
        )
    return out


def issue_credit_note(
    session: Session, actor: Actor | None, delivery: Delivery, today: date | None = None
) -> Invoice | None:
    """The credit note of a delivery decided after its month was invoiced, or None (month not
    invoiced yet, nothing changed, or this delivery's credit note already exists). Called by
    `contracts.deliveries` after the decision's conditional UPDATE. Flushes."""
    session.flush()
    obligation = session.get(DeliveryObligation, delivery.obligation_id)
    if obligation is None:
        return None
    session.refresh(obligation)
    if obligation.status != ObligationStatus.INVOICED:
        return None  # the month's invoice (when issued) counts the delivery as decided
    invoice = session.exec(
        select(Invoice).where(
            Invoice.obligation_id == obligation.id, Invoice.kind == InvoiceKind.INVOICE
        )
    ).first()
    if invoice is None:
        return None
    exists = session.exec(select(Invoice.id).where(Invoice.delivery_id == delivery.id)).first()
    if exists is not None:
        return None
    price = _invoiced_price(session, invoice, obligation)
    if price is None:
        return None
    terms = session.get(ContractTerms, obligation.terms_id)
    month_terms = MonthTerms(
        obligation.month,
        obligation.due_kg,
        obligation.max_kg,
        terms.take_or_pay_pct,
        terms.shortfall_price_pct,
        terms.excess_price_pct,
    )
    now_lines = invoice_lines(
        month_terms, price, counted_deliveries(session, [obligation.id])[obligation.id]
    )
    notes = session.exec(select(Invoice.id).where(Invoice.credits_invoice_id == invoice.id)).all()
    billed = _billed(session, [invoice.id, *notes])
    lines = correction_lines(billed, now_lines, delivery)
    if not lines:
        return None
    issued_on = max(today or tokyo_today(), invoice.issued_on)  # never before the invoice
    number = take_numbers(session, issued_on.year, 1)[0]
    subtotal, tax, total = totals(lines)
    inserted = insert_new(
        session,
        Invoice.__table__,
        [
            {
                "number": number,
                "kind": InvoiceKind.CREDIT_NOTE.value,
                "contract_id": invoice.contract_id,
                "obligation_id": None,
                "credits_invoice_id": invoice.id,
                "delivery_id": delivery.id,
                "seller_org_id": invoice.seller_org_id,
                "buyer_org_id": invoice.buyer_org_id,
                "seller_registration_number": invoice.seller_registration_number,
                "issued_on": issued_on,
                "due_on": issued_on + timedelta(days=terms.payment_days),
                "subtotal_jpy": subtotal,
                "tax_jpy": tax,
                "total_jpy": total,
                "status": InvoiceStatus.ISSUED.value,
                "paid_at": None,
                "created_at": utcnow(),
            }
        ],
        key=("delivery_id",),
        returning=("id",),
    )
    if not inserted:
        return None  # a concurrent decision on the same delivery wrote it
    note_id = inserted[0][0]
    insert_rows(session, InvoiceLine.__table__, _line_rows(note_id, lines))
    append_events(
        session,
        [
            NewEvent(
                invoice.contract_id,
                "credit_note.issued",
                {
                    "credit_note": note_id,
                    "number": number,
                    "invoice": invoice.id,
                    "delivery": delivery.id,
                    "total_jpy": total,
                },
            )
        ],
        actor,
    )
    return session.get(Invoice, note_id)


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------

InvoiceKindName = Literal["invoice", "credit_note"]
InvoiceStatusName = Literal["issued", "paid", "refunded", "void"]


class InvoiceQuery(Paging):
    status: InvoiceStatusName | None = None
    contract_id: Id | None = None
    kind: InvoiceKindName | None = None


class InvoiceLineOut(BaseModel):
    position: int
    kind: str = Field(description="base, quality, excess, shortfall, fee, or goods (an order)")
    description: str
    quantity_kg: int | None
    unit_price_jpy_per_t: int | None
    amount_jpy: int = Field(description="integer yen; negative: a deduction or a credit")
    tax_rate_pct: str
    delivery_id: int | None


class TaxOut(BaseModel):
    rate_pct: str
    base_jpy: int
    tax_jpy: int


class InvoiceSummaryOut(BaseModel):
    """An invoice or credit note (amounts in integer yen, tax once per invoice and rate)."""

    id: int
    number: str = Field(description="JK-YYYY-NNNNNN")
    kind: InvoiceKindName
    status: InvoiceStatusName
    contract_id: int | None = Field(description="the contract billed; null for an order")
    purchase_order_id: int | None = Field(description="the public purchase order billed")
    month: str | None = Field(description="YYYY-MM of an invoice's contract month")
    credits_invoice_id: int | None
    seller_org_id: int
    buyer_org_id: int
    seller_registration_number: str = Field(description="T + 13 digits; empty: not qualified")
    qualified: bool = Field(description="carries the seller's registration number")
    issued_on: date
    due_on: date
    subtotal_jpy: int
    tax_jpy: int
    total_jpy: int
    paid_at: datetime | None


class InvoiceOut(InvoiceSummaryOut):
    lines: list[InvoiceLineOut]
    taxes: list[TaxOut]
    credit_notes: list[InvoiceSummaryOut]
    payment_status: str | None = Field(description="the Stripe payment's state, if any")


def _visible(actor: Actor):
    SEE_INVOICES.check(actor)
    if actor.is_operator:
        return None
    org = actor.organization_id
    return or_(Invoice.seller_org_id == org, Invoice.buyer_org_id == org)


def invoices_query(actor: Actor, query: InvoiceQuery | None = None):
    """The invoices and credit notes the actor may see (its organisation's, as seller or
    buyer; all for the operator), newest first, filtered."""
    where = _visible(actor)
    stmt = select(Invoice)
    if where is not None:
        stmt = stmt.where(where)
    if query is not None:
        if query.status is not None:
            stmt = stmt.where(Invoice.status == query.status)
        if query.contract_id is not None:
            stmt = stmt.where(Invoice.contract_id == query.contract_id)
        if query.kind is not None:
            stmt = stmt.where(Invoice.kind == query.kind)
    return stmt.order_by(col(Invoice.issued_on).desc(), col(Invoice.id).desc())


@dataclass
class InvoiceView:
    """An invoice with what its page and its API answer show."""

    invoice: Invoice
    lines: list[InvoiceLine]
    contract: OfftakeContract | None  # None: the invoice of a purchase order
    seller: Organization
    buyer: Organization
    month: date | None
    credit_notes: list[Invoice]
    credited: Invoice | None  # the invoice a credit note credits
    payment: Payment | None
    refund: Refund | None
    deliveries: dict[int, Delivery]
    order: PurchaseOrder | None = None  # the public purchase order it bills

    @property
    def qualified(self) -> bool:
        return bool(self.invoice.seller_registration_number)

    @property
    def taxes(self) -> list[tuple[Decimal, int, int]]:
        """(rate, base, tax) per rate, the tax computed once on the base."""
        bases: dict[Decimal, int] = defaultdict(int)
        for line in self.lines:
            bases[Decimal(line.tax_rate_pct)] += line.amount_jpy
        return [(rate, bases[rate], tax) for rate, tax in tax_by_rate(self.lines).items()]


@dataclass
class InvoiceRow:
    """A row of the invoice list: the invoice with its month (or purchase order) and the
    parties' names."""

    invoice: Invoice
    month: date | None
    seller: Organization
    buyer: Organization
    order_number: str | None = None


def invoice_rows(session: Session, invoices: Sequence[Invoice]) -> list[InvoiceRow]:
    """Rows of a page of invoices (two queries, whatever the page size)."""
    ob_ids = {i.obligation_id for i in invoices if i.obligation_id}
    credited = {i.credits_invoice_id for i in invoices if i.credits_invoice_id}
    months: dict[int, date] = {}
    if ob_ids or credited:
        rows = session.exec(
            select(Invoice.id, Invoice.obligation_id, DeliveryObligation.month)
            .join(DeliveryObligation, DeliveryObligation.id == Invoice.obligation_id)
            .where(
                or_(
                    col(Invoice.obligation_id).in_(list(ob_ids)),
                    col(Invoice.id).in_(list(credited)),
                )
            )
        ).all()
        by_ob = {oid: m for _iid, oid, m in rows}
        by_inv = {iid: m for iid, _oid, m in rows}
        for inv in invoices:
            months[inv.id] = by_ob.get(inv.obligation_id) or by_inv.get(inv.credits_invoice_id)
    org_ids = {i.seller_org_id for i in invoices} | {i.buyer_org_id for i in invoices}
    orgs = (
        {
            o.id: o
            for o in session.exec(
                select(Organization).where(col(Organization.id).in_(list(org_ids)))
            ).all()
        }
        if org_ids
        else {}
    )
    order_ids = [i.purchase_order_id for i in invoices if i.purchase_order_id]
    orders = (
        dict(
            session.exec(
                select(PurchaseOrder.id, PurchaseOrder.number).where(
                    col(PurchaseOrder.id).in_(order_ids)
                )
            ).all()
        )
        if order_ids
        else {}
    )
    return [
        InvoiceRow(
            inv,
            months.get(inv.id),
            orgs[inv.seller_org_id],
            orgs[inv.buyer_org_id],
            orders.get(inv.purchase_order_id),
        )
        for inv in invoices
    ]


def _visible_invoice(session: Session, actor: Actor, invoice_id: int) -> Invoice:
    SEE_INVOICES.check(actor)
    invoice = session.get(Invoice, invoice_id) if 1 <= invoice_id < 2**31 else None
    if invoice is None or not (
        actor.is_operator or actor.owns(invoice.seller_org_id) or actor.owns(invoice.buyer_org_id)
    ):
        raise NotFound("No such invoice.")
    return invoice


def read_invoice(session: Session, actor: Actor, invoice_id: int) -> InvoiceView:
    """An invoice or credit note of the actor's organisation (any, for the operator)."""
    invoice = _visible_invoice(session, actor, invoice_id)
    lines = _billed(session, [invoice.id])
    credited = (
        session.get(Invoice, invoice.credits_invoice_id) if invoice.credits_invoice_id else None
    )
    month_of = invoice.obligation_id or (credited.obligation_id if credited else None)
    obligation = session.get(DeliveryObligation, month_of) if month_of else None
    notes = list(
        session.exec(
            select(Invoice)
            .where(Invoice.credits_invoice_id == invoice.id)
            .order_by(col(Invoice.id))
        ).all()
    )
    payment = session.exec(select(Payment).where(Payment.invoice_id == invoice.id)).first()
    refund = session.exec(select(Refund).where(Refund.credit_note_id == invoice.id)).first()
    delivery_ids = [line.delivery_id for line in lines if line.delivery_id]
    if invoice.delivery_id:
        delivery_ids.append(invoice.delivery_id)
    deliveries = (
        {
            d.id: d
            for d in session.exec(select(Delivery).where(col(Delivery.id).in_(delivery_ids))).all()
        }
        if delivery_ids
        else {}
    )
    return InvoiceView(
        invoice=invoice,
        lines=lines,
        contract=session.get(OfftakeContract, invoice.contract_id) if invoice.contract_id else None,
        seller=session.get(Organization, invoice.seller_org_id),
        buyer=session.get(Organization, invoice.buyer_org_id),
        month=obligation.month if obligation else None,
        credit_notes=notes,
        credited=credited,
        payment=payment,
        refund=refund,
        deliveries=deliveries,
        order=(
            session.get(PurchaseOrder, invoice.purchase_order_id)
            if invoice.purchase_order_id
            else None
        ),
    )


def invoice_summary_out(invoice: Invoice, month: date | None) -> InvoiceSummaryOut:
    return InvoiceSummaryOut(
        id=invoice.id,
        number=invoice.number,
        kind=invoice.kind,
        status=invoice.status,
        contract_id=invoice.contract_id,
        purchase_order_id=invoice.purchase_order_id,
        month=f"{month:%Y-%m}" if month else None,
        credits_invoice_id=invoice.credits_invoice_id,
        seller_org_id=invoice.seller_org_id,
        buyer_org_id=invoice.buyer_org_id,
        seller_registration_number=invoice.seller_registration_number,
        qualified=bool(invoice.seller_registration_number),
        issued_on=invoice.issued_on,
        due_on=invoice.due_on,
        subtotal_jpy=invoice.subtotal_jpy,
        tax_jpy=invoice.tax_jpy,
        total_jpy=invoice.total_jpy,
        paid_at=invoice.paid_at,
    )


def invoice_out(view: InvoiceView) -> InvoiceOut:
    summary = invoice_summary_out(view.invoice, view.month)
    return InvoiceOut(
        **summary.model_dump(),
        lines=[
            InvoiceLineOut(
                position=line.position,
                kind=line.kind,
                description=line.description,
                quantity_kg=line.quantity_kg,
                unit_price_jpy_per_t=line.unit_price_jpy_per_t,
                amount_jpy=line.amount_jpy,
                tax_rate_pct=format(Decimal(line.tax_rate_pct).normalize(), "f"),
                delivery_id=line.delivery_id,
            )
            for line in view.lines
        ],
        taxes=[
            TaxOut(rate_pct=format(rate.normalize(), "f"), base_jpy=base, tax_jpy=tax)
            for rate, base, tax in view.taxes
        ],
        credit_notes=[invoice_summary_out(n, view.month) for n in view.credit_notes],
        payment_status=view.payment.status if view.payment else None,
    )
