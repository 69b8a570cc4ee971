"""API: the operator's export watch — anomalies, flows across Japan's border, consents
expiring (`market.watch`, `contracts.watch`)."""

from datetime import date

from flask import current_app, g
from flask_babel import gettext
from pydantic import BaseModel, ConfigDict, Field

from contracts.watch import anomalies, expiring_records, flows
from market.movements import MovementRecordOut, record_out
from participants.columns import tokyo_today
from participants.fields import Month
from web.api import api_bp
from web.api.openapi import operation
from web.db import get_db


class AnomalyOut(BaseModel):
    """One anomaly: what was declared and what the evidence or the market shows."""

    kind: str = Field(description="material_mismatch or price_below_market")
    subject: str = Field(description="listing or movement_record")
    subject_id: int
    organization_id: int
    organization: str
    material: str
    declared: str
    shown: str
    message: str
    figures: dict


class AnomaliesOut(BaseModel):
    floor_pct: int = Field(description="WATCH_PRICE_FLOOR_PCT: the price threshold in percent")
    items: list[AnomalyOut]


class FlowOut(BaseModel):
    direction: str
    material: str
    country: str
    month: Month
    contracted_t: str
    delivered_t: str


class FlowsOut(BaseModel):
    items: list[FlowOut]


class FlowsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_month: Month | None = Field(default=None, description="first month, YYYY-MM")
    to_month: Month | None = Field(default=None, description="last month, YYYY-MM")


class ExpiringQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    within_days: int = Field(default=90, ge=1, le=366)


class ExpiringOut(BaseModel):
    today: date
    within_days: int
    items: list[MovementRecordOut]


def floor_pct() -> int:
    return int(current_app.config.get("WATCH_PRICE_FLOOR_PCT", 70))


@api_bp.get("/watch/anomalies")
@operation("Export-watch anomalies", responses={200: AnomaliesOut}, errors=(403,), tag="watch")
def watch_anomalies():
    """Open listings and active movement records declared as one material whose assay or
    certificate shows another, and critical listings priced below WATCH_PRICE_FLOOR_PCT
    percent of their grade's market (the marketplace operator only)."""
    pct = floor_pct()
    found = anomalies(get_db(), g.caller.actor, floor_pct=pct)
    return AnomaliesOut(
        floor_pct=pct,
        items=[
            AnomalyOut(
                kind=a.kind,
                subject=a.subject,
                subject_id=a.subject_id,
                organization_id=a.organization_id,
                organization=a.organization,
                material=a.material,
                declared=a.declared,
                shown=a.shown,
                message=gettext(a.message, **a.params),
                figures=a.figures,
            )
            for a in found
        ],
    )


@api_bp.get("/watch/flows")
@operation(
    "Critical scrap leaving and entering Japan",
    query=FlowsQuery,
    responses={200: FlowsOut},
    errors=(403,),
    tag="watch",
)
def watch_flows(query: FlowsQuery):
    """Contracted and delivered tonnes of contracts running under export and import records,
    by direction, material, partner country and month (the marketplace operator only)."""
    found = flows(get_db(), g.caller.actor, query.from_month, query.to_month)
    return FlowsOut(
        items=[
            FlowOut(
                direction=f.direction,
                material=f.material,
                country=f.country,
                month=f.month,
                contracted_t=f"{f.contracted_kg / 1000:.3f}",
                delivered_t=f"{f.delivered_kg / 1000:.3f}",
            )
            for f in found
        ]
    )


@api_bp.get("/watch/expiring")
@operation(
    "Consents expiring soon",
    query=ExpiringQuery,
    responses={200: ExpiringOut},
    errors=(403,),
    tag="watch",
)
def watch_expiring(query: ExpiringQuery):
    """Active movement records whose validity ends within `within_days` days (default 90),
    soonest first (the marketplace operator only)."""
    today = tokyo_today()
    found = expiring_records(get_db(), g.caller.actor, today, query.within_days)
    return ExpiringOut(
        today=today, within_days=query.within_days, items=[record_out(r) for r in found]
    )
