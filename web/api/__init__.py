"""JSON API under /api/v1: every endpoint declares itself with `web.api.openapi.operation`
(bearer token, query and body models, responses); errors are RFC 9457 problem details."""

from flask import Blueprint

from web.security import csrf

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(api_bp)

from web.api import (  # noqa: E402,F401
    awards,
    catalogue,
    contracts,
    deliveries,
    invoices,
    market,
    matching,
    movements,
    ocds,
    openapi,
    participants,
    payments,
    performance,
    procurement,
    quality,
    reports,
    statistics,
    tenders,
    watch,
)
