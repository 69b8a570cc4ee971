"""One translated name for every code shown to a person.

Templates write `{{ value|label("listing_status") }}`; views call `label(value, "listing_status")`.
A kind is a table of lazy translations registered here (one section per area), or a provider
function for codes that live in the database (materials, parameters). Status words that read
differently by meaning carry a message context (`pgettext`), so that "Open" can be 募集中 for a
listing and 未回答 for a proposal decision.

An unknown code is shown as it is (never an error page), and the Japanese page walk of the test
suite fails on it: add the name here.
"""

from collections.abc import Callable, Mapping
from enum import Enum

from flask_babel import lazy_gettext as _l  # noqa: F401  (used by the sections below)
from flask_babel import lazy_pgettext as _p  # noqa: F401

LABELS: dict[str, Mapping] = {}
PROVIDERS: dict[str, Callable[[str], str | None]] = {}


def register(kind: str, names: Mapping) -> Mapping:
    """Register (or extend) the names of one kind of code; returns the table for local use."""
    table = dict(LABELS.get(kind, {}))
    table.update({_key(k): v for k, v in names.items()})
    LABELS[kind] = table
    return names


def register_provider(kind: str, provider: Callable[[str], str | None]) -> None:
    """Codes whose names live elsewhere (the database): provider(code) -> name or None."""
    PROVIDERS[kind] = provider


def _key(value) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    return "" if value is None else str(value)


def label(value, kind: str) -> str:
    """The person-facing name of `value` (a code or an enum member) of `kind`."""
    key = _key(value)
    if key == "":
        return "—"
    name = LABELS.get(kind, {}).get(key)
    if name is not None:
        return str(name)
    provider = PROVIDERS.get(kind)
    if provider is not None:
        found = provider(key)
        if found:
            return found
    return key


def labels_of(kind: str) -> dict[str, str]:
    """The whole table of one kind, translated now (for choices and JSON)."""
    return {k: str(v) for k, v in LABELS.get(kind, {}).items()}


def init_app(app) -> None:
    app.jinja_env.filters["label"] = label
    app.jinja_env.globals["labels_of"] = labels_of


# ---------------------------------------------------------------------------------------------
# Sections: each area registers its kinds below its own marker (keeps merges apart).

# --- labels-market ---
# Market and contract side: listings, requests, proposals, contracts, deliveries, invoices,
# payments, settlements and notifications. Status words that read differently by meaning carry a
# context: a listing that is "open" is 募集中, a decision still "open" is 未回答.

register(
    "listing_status",
    {
        "draft": _p("listing status", "Draft"),
        "open": _p("listing status", "Open"),
        "closed": _p("listing status", "Closed"),
        "expired": _p("listing status", "Expired"),
    },
)
register(
    "request_status",
    {
        "draft": _p("listing status", "Draft"),
        "open": _p("listing status", "Open"),
        "closed": _p("listing status", "Closed"),
        "expired": _p("listing status", "Expired"),
    },
)
register(
    "proposal_status",
    {
        "proposed": _p("proposal status", "Proposed"),
        "accepted": _p("proposal status", "Accepted"),
        "declined": _p("proposal status", "Declined"),
        "superseded": _p("proposal status", "Superseded"),
    },
)
register(
    "proposal_decision",
    {
        "accept": _p("proposal decision", "Accepted"),
        "decline": _p("proposal decision", "Declined"),
        "open": _p("proposal decision", "Open"),
    },
)
register(
    "contract_status",
    {
        "draft": _p("contract status", "Draft"),
        "active": _p("contract status", "Active"),
        "completed": _p("contract status", "Completed"),
        "terminated": _p("contract status", "Terminated"),
        "withdrawn": _p("contract status", "Withdrawn"),
    },
)
register("side", {"seller": _l("Seller"), "buyer": _l("Buyer")})
register("price_kind", {"fixed": _l("Fixed price"), "index": _l("Index formula")})
register(
    "index_period",
    {
        "delivery": _l("Index of the delivery month"),
        "previous": _l("Index of the previous month"),
    },
)
register("contract_language", {"ja": _l("Japanese"), "en": _l("English")})
register(
    "transport_mode",
    {
        "road": _p("transport mode", "Road"),
        "road+sea": _p("transport mode", "Road and sea"),
        "sea": _p("transport mode", "Sea"),
        "rail": _p("transport mode", "Rail"),
    },
)
register(
    "contract_event",
    {
        "contract.drafted": _l("Draft started"),
        "terms.proposed": _l("New version proposed"),
        "comment.added": _l("Message written"),
        "signatures.voided": _l("Earlier signatures voided"),
        "contract.signed": _l("Signed"),
        "signature.refused": _l("Signature refused"),
        "contract.activated": _l("Contract active"),
        "contract.withdrawn": _l("Draft withdrawn"),
        "contract.movement_record": _l("Movement record linked"),
        "obligation.opened": _l("Delivery month opened"),
        "obligation.closed": _l("Delivery month closed"),
        "delivery.recorded": _l("Delivery recorded"),
        "delivery.document_added": _l("Delivery document added"),
        "delivery.accepted": _l("Delivery accepted"),
        "delivery.rejected": _l("Delivery rejected"),
        "delivery.disputed": _l("Delivery disputed"),
        "delivery.umpire_required": _l("Umpire assay required"),
        "delivery.settled": _l("Dispute settled"),
        "invoice.issued": _l("Invoice issued"),
        "credit_note.issued": _l("Credit note issued"),
        "invoice_paid": _l("Invoice paid"),
        "invoice.bank_transfer": _l("Bank transfer recorded"),
        "credit_note_refunded": _l("Credit note refunded"),
    },
)
register(
    "obligation_status",
    {
        "open": _p("delivery month", "Open for deliveries"),
        "closed": _p("delivery month", "Closed"),
        "invoiced": _p("delivery month", "Invoiced"),
    },
)
register(
    "delivery_status",
    {
        "recorded": _l("Awaiting the buyer"),
        "accepted": _l("Accepted by the buyer"),
        "disputed": _l("Disputed"),
        "settled": _l("Settled"),
        "rejected": _l("Rejected"),
    },
)
register(
    "delivery_document",
    {
        "weighbridge_ticket": _l("Weighbridge ticket"),
        "assay_report": _l("Assay report"),
        "other": _l("Other document"),
    },
)
register(
    "settlement_basis",
    {
        "seller": _l("Seller's value (not measured by the buyer)"),
        "average": _l("Average (within the splitting limit)"),
        "umpire": _l("Umpire's value"),
        "pending": _l("Awaiting the umpire's assay"),
    },
)
register(
    "invoice_status",
    {
        "issued": _p("invoice status", "Issued"),
        "paid": _p("invoice status", "Paid"),
        "refunded": _p("invoice status", "Refunded"),
        "void": _p("invoice status", "Void"),
    },
)
register("invoice_kind", {"invoice": _l("Invoice"), "credit_note": _l("Credit note")})
register(
    "invoice_line",
    {
        "base": _l("Deliveries at the month's price"),
        "quality": _l("Quality adjustment"),
        "excess": _l("Above the month's maximum"),
        "shortfall": _l("Take-or-pay shortfall"),
        "fee": _l("Platform fee"),
        "goods": _l("Goods"),
    },
)
register(
    "payment_status",
    {
        "unpaid": _l("Not paid"),
        "claiming": _l("Payment pending — waiting for Stripe"),
        "pending": _l("Payment pending — waiting for Stripe"),
        "succeeded": _p("payment status", "Paid"),
        "failed": _l("Payment failed"),
        "refunded": _p("payment status", "Refunded"),
    },
)
register(
    "settlement_kind",
    {
        "seller_payable": _l("Payable to the seller"),
        "platform_fee": _l("Platform fee"),
        "refund": _l("Refund"),
    },
)
register(
    "notification_state",
    {"unread": _p("notification", "Unread"), "read": _p("notification", "Read")},
)


def _names(model_name: str) -> dict[str, tuple[str, str]]:
    """code -> (name_ja, name_en) of every row of a quality table (Material, Parameter): one
    query a request, kept in flask.g (pages name many codes; no query per code)."""
    from flask import g, has_app_context

    key = f"label_names_{model_name}"
    if has_app_context() and key in g:
        return g.get(key)
    from sqlmodel import select

    from quality import models
    from web.db import get_db

    model = getattr(models, model_name)
    rows = get_db().exec(select(model.code, model.name_ja, model.name_en)).all()
    names = {code: (ja, en) for code, ja, en in rows}
    if has_app_context():
        setattr(g, key, names)
    return names


def _named(model_name: str, code: str) -> str | None:
    from flask_babel import get_locale

    found = _names(model_name).get(code)
    if found is None:
        return None
    ja, en = found
    return ja if str(get_locale()) == "ja" else en


def material_name(code: str) -> str | None:
    """A material code named in the reader's language (Material.name_ja / name_en)."""
    return _named("Material", code)


def parameter_name(code: str) -> str | None:
    """An assay parameter code (cu_pct) named in the reader's language (Parameter names)."""
    return _named("Parameter", code)


register_provider("material", material_name)
register_provider("parameter", parameter_name)

# --- labels-quality ---

# --- labels-forms ---

# --- labels-flows ---
