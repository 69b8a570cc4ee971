"""HTML views, one module per area."""

from flask import Flask
from flask_babel import lazy_gettext as _l

from web.forms import ORG_KIND_LABELS, ROLE_LABELS, STATUS_LABELS, prefecture_name

# Main navigation: (endpoint, label); each area adds its entry here.
NAV_LINKS: list[tuple[str, object]] = [("public.organizations", _l("Organisations"))]
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

NAV_LINKS += [("matching.proposals", _l("Proposals")), ("matching.contracts", _l("Contracts"))]


def register_views(app: Flask) -> None:
    from web.views import account, market, matching, operator, organization, public, quality

    for module in (public, account, organization, operator, quality, market, matching):
        app.register_blueprint(module.bp)

    @app.context_processor
    def _template_helpers() -> dict:
        return {
            "nav_links": lambda: [(e, str(label)) for e, label in NAV_LINKS],
            "org_kind_labels": lambda: {str(k): str(v) for k, v in ORG_KIND_LABELS.items()},
            "role_labels": lambda: {str(k): str(v) for k, v in ROLE_LABELS.items()},
            "status_labels": lambda: {str(k): str(v) for k, v in STATUS_LABELS.items()},
            "prefecture_name": prefecture_name,
        }
