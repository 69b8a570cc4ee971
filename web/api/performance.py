"""API: contract performance (the dashboards' figures)."""

from flask import g
from pydantic import BaseModel, Field

from contracts.performance import (
    ContractPerformance,
    Rates,
    contract_performance,
    organization_performance,
    overall,
)
from market.listings import kg_to_tonnes
from web.api import api_bp
from web.api.openapi import operation
from web.db import get_db


class RatesOut(BaseModel):
    """Rates over closed months (per cent with one decimal; null when there is nothing yet)."""

    closed_months: int
    fill_rate_pct: str | None = Field(description="accepted ÷ due tonnes")
    on_time_rate_pct: str | None = Field(description="months that reached the band's minimum")
    conformance_rate_pct: str | None = Field(description="graded lots that met the grade")
    invoiced_jpy: int
    paid_jpy: int


class MonthOut(BaseModel):
    month: str = Field(description="YYYY-MM")
    status: str
    due_t: str
    min_t: str
    max_t: str
    delivered_t: str
    lots: int
    graded_lots: int
    conforming_lots: int
    invoiced_jpy: int
    paid_jpy: int


class ContractPerformanceOut(BaseModel):
    """One contract's performance month by month."""

    contract_id: int
    rates: RatesOut
    months: list[MonthOut]


class OrganizationPerformanceOut(BaseModel):
    """The caller's organisation: its rates over all contracts, and by contract."""

    rates: RatesOut
    contracts: list[ContractPerformanceOut]


def _pct(value) -> str | None:
    return None if value is None else str(value)


def rates_out(r: Rates) -> RatesOut:
    return RatesOut(
        closed_months=r.months,
        fill_rate_pct=_pct(r.fill_rate),
        on_time_rate_pct=_pct(r.on_time_rate),
        conformance_rate_pct=_pct(r.conformance_rate),
        invoiced_jpy=r.invoiced_jpy,
        paid_jpy=r.paid_jpy,
    )


def performance_out(p: ContractPerformance, months: bool = True) -> ContractPerformanceOut:
    return ContractPerformanceOut(
        contract_id=p.contract.id,
        rates=rates_out(p.rates),
        months=[
            MonthOut(
                month=m.month.strftime("%Y-%m"),
                status=m.status,
                due_t=str(kg_to_tonnes(m.due_kg)),
                min_t=str(kg_to_tonnes(m.min_kg)),
                max_t=str(kg_to_tonnes(m.max_kg)),
                delivered_t=str(kg_to_tonnes(m.delivered_kg)),
                lots=m.lots,
                graded_lots=m.graded_lots,
                conforming_lots=m.conforming_lots,
                invoiced_jpy=m.invoiced_jpy,
                paid_jpy=m.paid_jpy,
            )
            for m in p.months
        ]
        if months
        else [],
    )


@api_bp.get("/contracts/<int:contract_id>/performance")
@operation(
    "Read a contract's performance",
    responses={200: ContractPerformanceOut},
    errors=(403,),
    tag="performance",
)
def contract_performance_view(contract_id: int):
    """Delivered against due with the band, lots graded and conforming, invoiced and paid, by
    month; for members of either party."""
    return performance_out(contract_performance(get_db(), g.caller.actor, contract_id))


@api_bp.get("/performance")
@operation(
    "Read the organisation's contract performance",
    responses={200: OrganizationPerformanceOut},
    errors=(403,),
    tag="performance",
)
def organization_performance_view():
    """Fill, on-time and conformance rates over all the caller's organisation's contracts."""
    perfs = organization_performance(get_db(), g.caller.actor)
    return OrganizationPerformanceOut(
        rates=rates_out(overall(perfs)),
        contracts=[performance_out(p, months=False) for p in perfs],
    )
