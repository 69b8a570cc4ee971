"""API: market statistics — the public, disclosure-controlled figures (no token), and an
organisation's own figures beside them (`contracts.statistics`)."""

from flask import current_app, g

from contracts.statistics import (
    StatisticsOut,
    StatisticsOwnOut,
    StatisticsQuery,
    market_statistics,
    own_statistics,
)
from web.api import api_bp
from web.api.openapi import operation
from web.config import disclosure_rules
from web.db import get_db


@api_bp.get("/statistics")
@operation(
    "Market statistics (public)",
    query=StatisticsQuery,
    responses={200: StatisticsOut},
    errors=(422,),
    auth=False,
    tag="statistics",
)
def get_statistics(query: StatisticsQuery):
    """Contracted tonnes and volume-weighted contract prices by month × material (and family,
    and all materials) × region or prefecture (and all Japan), and today's open supply and
    demand, under disclosure control: a cell with fewer than `rules.min_contributors`
    organisations (on the seller and on the buyer side), or one organisation above
    `rules.dominance_pct` percent of its tonnes, is `{"suppressed": true}` with no value, and so
    are the cells that would let it be worked out from the totals. A row with `month` null is
    the whole window's total; null place or material fields mean all of them. Months outside
    the window, an unknown material or a material of another family answer 422."""
    return market_statistics(get_db(), disclosure_rules(current_app.config), query)


@api_bp.get("/organization/statistics")
@operation(
    "The caller's organisation's own statistics",
    query=StatisticsQuery,
    responses={200: StatisticsOwnOut},
    errors=(403, 422),
    tag="statistics",
)
def get_own_statistics(query: StatisticsQuery):
    """The caller's organisation's own contracted tonnes and average prices (as seller and as
    buyer) by month, material and place, beside the published market figure of the same cell
    (suppressed where the public figure is). Never another organisation's figures."""
    return own_statistics(get_db(), g.caller.actor, disclosure_rules(current_app.config), query)
