"""API: green-purchasing reports — an agency's results of a fiscal year by category, the same
figures as the page and its CSV (`market.reports`)."""

from flask import g

from market.reports import GreenPurchasingReportOut, ReportQuery, green_purchasing_report
from web.api import api_bp
from web.api.openapi import operation
from web.db import get_db


@api_bp.get("/procurement/reports")
@operation(
    "Green-purchasing report of a fiscal year",
    query=ReportQuery,
    responses={200: GreenPurchasingReportOut},
    errors=(403, 404, 422),
    tag="procurement",
)
def get_green_purchasing_report(query: ReportQuery):
    """An agency's purchase orders of a Japanese fiscal year (April 1 to March 31; the order
    date in Japan decides), not cancelled, by category: orders, value tax excluded and
    included, product mass, recycled and post-consumer tonnes, the mass-weighted recycled
    share, and the orders and mass meeting the category's recommended minimum recycled
    content — for direct purchases, tender orders and both. An agency's members read their
    own agency's report; the marketplace operator names the agency (`organization_id`)."""
    report = green_purchasing_report(
        get_db(), g.caller.actor, query.fiscal_year, query.organization_id
    )
    return report.out()
