"""How contracts perform, month by month: volume against the band, quality, money.

Read by the two parties of a contract (per contract) and by an organisation's members (all its
contracts). A fixed number of queries whatever the number of months or contracts.

Definitions (closed months only, so an open month never counts against anyone):
- fill rate: accepted tonnes ÷ due tonnes;
- on-time rate: share of months whose accepted tonnes reached the band's minimum by the close;
- conformance rate: share of graded lots that conform to the grade (with or without a
  deduction); rejected lots count as not conforming;
- invoiced: invoices less credit notes; paid: what the buyer's payments settled.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import case
from sqlmodel import Session, col, func, select

from contracts.drafting import SEE_CONTRACTS, own_contract
from contracts.models import (
    ContractStatus,
    Delivery,
    DeliveryObligation,
    DeliveryStatus,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    ObligationStatus,
    OfftakeContract,
)
from participants.actors import Actor

CONFORMING = ("conforms", "conforms_with_deductions")


@dataclass(frozen=True)
class MonthFigures:
    month: date
    status: str
    due_kg: int
    min_kg: int
    max_kg: int
    delivered_kg: int
    lots: int
    conforming_lots: int
    graded_lots: int
    invoiced_jpy: int
    paid_jpy: int

    @property
    def closed(self) -> bool:
        return self.status != ObligationStatus.OPEN

    @property
    def on_time(self) -> bool:
        return self.delivered_kg >= self.min_kg


def _rate(part: int, whole: int) -> Decimal | None:
    """A share in per cent with one decimal (half-up), or None when there is nothing to rate."""
    if whole <= 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass
class Rates:
    """Fill, on-time and conformance rates (per cent) over closed months."""

    months: int = 0
    due_kg: int = 0
    delivered_kg: int = 0
    on_time_months: int = 0
    graded_lots: int = 0
    conforming_lots: int = 0
    invoiced_jpy: int = 0
    paid_jpy: int = 0

    def add(self, m: MonthFigures) -> None:
        self.invoiced_jpy += m.invoiced_jpy
        self.paid_jpy += m.paid_jpy
        self.graded_lots += m.graded_lots
        self.conforming_lots += m.conforming_lots
        if m.closed:
            self.months += 1
            self.due_kg += m.due_kg
            self.delivered_kg += m.delivered_kg
            self.on_time_months += m.on_time

    @property
    def fill_rate(self) -> Decimal | None:
        return _rate(self.delivered_kg, self.due_kg)

    @property
    def on_time_rate(self) -> Decimal | None:
        return _rate(self.on_time_months, self.months)

    @property
    def conformance_rate(self) -> Decimal | None:
        return _rate(self.conforming_lots, self.graded_lots)


@dataclass
class ContractPerformance:
    contract: OfftakeContract
    months: list[MonthFigures]
    rates: Rates = field(default_factory=Rates)


def _months(session: Session, contract_ids: list[int]) -> dict[int, list[MonthFigures]]:
    """Every obligation of the contracts with its lots and money, in three queries."""
    if not contract_ids:
        return {}
    obligations = session.exec(
        select(DeliveryObligation)
        .where(col(DeliveryObligation.contract_id).in_(contract_ids))
        .order_by(DeliveryObligation.contract_id, DeliveryObligation.month)
    ).all()
    ids = [o.id for o in obligations]
    lots: dict[int, tuple[int, int, int]] = {}
    if ids:
        graded = Delivery.outcome != ""
        conforming = col(Delivery.outcome).in_(CONFORMING) & (
            Delivery.status != DeliveryStatus.REJECTED
        )
        for obligation_id, n, n_graded, n_conforming in session.exec(
            select(
                Delivery.obligation_id,
                func.count(),
                func.sum(case((graded, 1), else_=0)),
                func.sum(case((conforming, 1), else_=0)),
            )
            .where(col(Delivery.obligation_id).in_(ids))
            .group_by(Delivery.obligation_id)
        ).all():
            lots[obligation_id] = (n, int(n_graded or 0), int(n_conforming or 0))
    money: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    if ids:
        invoices = session.exec(
            select(Invoice.obligation_id, Invoice.id, Invoice.status, Invoice.total_jpy).where(
                col(Invoice.obligation_id).in_(ids), Invoice.kind == InvoiceKind.INVOICE
            )
        ).all()
        by_invoice = {}
        for obligation_id, invoice_id, status, total in invoices:
            money[obligation_id][0] += total
            if status == InvoiceStatus.PAID:
                money[obligation_id][1] += total
            by_invoice[invoice_id] = obligation_id
        if by_invoice:
            for credited, total in session.exec(
                select(Invoice.credits_invoice_id, Invoice.total_jpy).where(
                    col(Invoice.credits_invoice_id).in_(list(by_invoice)),
                    Invoice.kind == InvoiceKind.CREDIT_NOTE,
                )
            ).all():
                money[by_invoice[credited]][0] += total  # credit notes carry negative totals
    out: dict[int, list[MonthFigures]] = defaultdict(list)
    for o in obligations:
        n, n_graded, n_conforming = lots.get(o.id, (0, 0, 0))
        invoiced, paid = money.get(o.id, (0, 0))
        out[o.contract_id].append(
            MonthFigures(
                o.month,
                o.status,
                o.due_kg,
                o.min_kg,
                o.max_kg,
                o.delivered_kg,
                n,
                n_conforming,
                n_graded,
                invoiced,
                paid,
            )
        )
    return out


def contract_performance(session: Session, actor: Actor, contract_id: int) -> ContractPerformance:
    """One contract's months and rates, for a member of either party (else NotFound)."""
    contract, _terms = own_contract(session, actor, contract_id)
    months = _months(session, [contract.id]).get(contract.id, [])
    result = ContractPerformance(contract, months)
    for m in months:
        result.rates.add(m)
    return result


def organization_performance(session: Session, actor: Actor) -> list[ContractPerformance]:
    """Every active or finished contract of the actor's organisation with its rates."""
    SEE_CONTRACTS.check(actor)
    contracts = session.exec(
        select(OfftakeContract)
        .where(
            (OfftakeContract.seller_org_id == actor.organization_id)
            | (OfftakeContract.buyer_org_id == actor.organization_id),
            col(OfftakeContract.status).in_(
                [ContractStatus.ACTIVE, ContractStatus.COMPLETED, ContractStatus.TERMINATED]
            ),
        )
        .order_by(col(OfftakeContract.id))
    ).all()
    months = _months(session, [c.id for c in contracts])
    out = []
    for contract in contracts:
        perf = ContractPerformance(contract, months.get(contract.id, []))
        for m in perf.months:
            perf.rates.add(m)
        out.append(perf)
    return out


def overall(performances: list[ContractPerformance]) -> Rates:
    """The organisation's rates over all its contracts."""
    total = Rates()
    for perf in performances:
        for m in perf.months:
            total.add(m)
    return total
