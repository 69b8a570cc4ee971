"""HTML views, one module per area."""

from flask import Flask
from flask_babel import lazy_gettext as _l

from contracts.deliveries import SEE_DELIVERIES
from contracts.invoicing import SEE_INVOICES
from contracts.negotiation import SEE_CONTRACTS
from contracts.payments import SEE_SETTLEMENTS
from market.matching import SEE_MATCHES
from market.movements import MANAGE_MOVEMENTS
from market.products import READ_CATALOGUE
from market.reports import SEE_GREEN_PURCHASING
from participants.actors import OPERATE_MARKETPLACE
from web.auth import current_actor
from web.forms import ORG_KIND_LABELS, ROLE_LABELS, STATUS_LABELS, prefecture_name

# Main navigation: (endpoint, label[, permission the link needs]); each area adds its entry.
NAV_LINKS: list[tuple] = [("public.organizations", _l("Organisations"))]
NAV_LINKS += [
    ("quality.materials", _l("Materials")),
    ("quality.standards", _l("Standards")),
    ("quality.assays", _l("Assays")),
]
NAV_LINKS += [
    ("market.listings", _l("Supply")),
    ("market.requests", _l("Demand")),
    ("market.indices", _l("Price indices")),
]

NAV_LINKS += [
    ("matching.proposals", _l("Proposals"), SEE_MATCHES),
    ("contracts.contracts", _l("Contracts"), SEE_CONTRACTS),
    ("performance.organization", _l("Performance"), SEE_CONTRACTS),
]
NAV_LINKS += [("deliveries.deliveries", _l("Deliveries"), SEE_DELIVERIES)]
NAV_LINKS += [("invoices.invoices", _l("Invoices"), SEE_INVOICES)]
NAV_LINKS += [("payments.settlements", _l("Settlements"), SEE_SETTLEMENTS)]
NAV_LINKS += [("reports.reports", _l("Green purchasing"), SEE_GREEN_PURCHASING)]
NAV_LINKS += [("procurement.categories", _l("Procurement"))]
NAV_LINKS += [("tenders.tenders", _l("Tenders"))]
NAV_LINKS += [("catalogue.search", _l("Catalogue"), READ_CATALOGUE)]
NAV_LINKS += [("movements.records", _l("Export and import records"), MANAGE_MOVEMENTS)]


def _nav_links() -> list[tuple[str, str]]:
    """The links the current visitor may follow (a link to a page that would answer 403 is left
    out: the domain's permission decides, the menu only asks)."""
    actor = current_actor()
    return [
        (link[0], str(link[1]))
        for link in NAV_LINKS
        if len(link) == 2 or (actor is not None and link[2].allows(actor))
    ]


def register_views(app: Flask) -> None:
    from web.views import (
        account,
        awards,
        catalogue,
        contracts,
        deliveries,
        invoices,
        market,
        matching,
        movements,
        ocds,
        operator,
        organization,
        payments,
        performance,
        procurement,
        public,
        quality,
        reports,
        statistics,
        tenders,
        watch,
    )

    for module in (
        public,
        account,
        organization,
        operator,
        quality,
        market,
        matching,
        contracts,
        deliveries,
        invoices,
        performance,
        payments,
        ocds,
        reports,
        procurement,
        tenders,
        awards,
        catalogue,
        movements,
        watch,
        statistics,
    ):
        app.register_blueprint(module.bp)

    @app.context_processor
    def _template_helpers() -> dict:
        return {
            "nav_links": _nav_links,
            "may_operate_marketplace": lambda: OPERATE_MARKETPLACE.allows(current_actor()),
            "org_kind_labels": lambda: {str(k): str(v) for k, v in ORG_KIND_LABELS.items()},
            "role_labels": lambda: {str(k): str(v) for k, v in ROLE_LABELS.items()},
            "status_labels": lambda: {str(k): str(v) for k, v in STATUS_LABELS.items()},
            "prefecture_name": prefecture_name,
        }
