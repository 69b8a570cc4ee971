"""One translated name for every code shown to a person.

Templates write `{{ value|label("listing_status") }}`; views call `label(value, "listing_status")`.
A kind is a table of lazy translations registered here (one section per area), or a provider
function for codes that live in the database (materials, parameters). Status words that read
differently by meaning carry a message context (`pgettext`), so that "Open" can be 募集中 for a
listing and 未回答 for a proposal decision.

An unknown code is shown as it is (never an error page), and the Japanese page walk of the test
suite fails on it: add the name here.
"""

import re
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
    app.jinja_env.filters["custody_note"] = custody_note


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
    "solver_method",  # MatchRun.solver_method (market.allocation.solve_allocation)
    {
        "mcf": _l("Min-cost flow"),
        "lp": _l("Linear programme"),
        "mcf+mip": _l("Min-cost flow + exact model"),
        "mcf+rounding": _l("Min-cost flow + rounding heuristic"),
        "lp+mip": _l("Linear programme + exact model"),
        "lp+rounding": _l("Linear programme + rounding heuristic"),
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
    return (ja or en) if str(get_locale()) == "ja" else (en or ja)


def material_name(code: str) -> str | None:
    """A material code named in the reader's language (Material.name_ja / name_en)."""
    return _named("Material", code)


def parameter_name(code: str) -> str | None:
    """An assay parameter code (cu_pct) named in the reader's language (Parameter names)."""
    return _named("Parameter", code)


register_provider("material", material_name)
register_provider("parameter", parameter_name)

# --- labels-quality ---
# Quality, operator, procurement and public pages. Materials, parameters and grade standards
# are named from the database by the providers above (one query a request, kept in flask.g).


register_provider("grade_standard", lambda code: _named("GradeStandard", code))

register(
    "standard_status",
    {
        "draft": _l("Draft"),
        "consultation": _l("In consultation"),
        "published": _l("Published"),
        "withdrawn": _l("Withdrawn"),
        "retired": _l("Retired"),
    },
)
register(
    "assay_outcome",
    {
        "conforms": _l("Conforms"),
        "conforms_with_deductions": _l("Conforms with deductions"),
        "downgraded": _l("Downgraded"),
        "rejected": _l("Rejected"),
        "incomplete": _l("Incomplete"),
    },
)
register(
    "material_family",
    {
        "metal": _l("Metal"),
        "plastic": _l("Plastic"),
        "e-scrap": _l("E-scrap"),
        "battery": _l("Battery"),
    },
)
register(
    "consultation_position",
    {
        "endorse": _l("Endorse"),
        "object": _l("Object"),
        "comment": _p("consultation position", "Comment"),
    },
)
register(
    "decision_rule",
    {
        "simple": _l("Simple (the measured value is compared)"),
        "guarded": _l("Guarded (the uncertainty counts against the claimant)"),
    },
)
# The standards diff: what part changed, and how.
register(
    "standard_part",
    {
        "decision_rule": _l("Decision rule"),
        "limit": _l("Limit"),
        "requirement": _l("Requirement checked by inspection"),
        "derived": _l("Derived parameter"),
    },
)
register(
    "standard_change",
    {
        "added": _p("diff", "Added"),
        "removed": _p("diff", "Removed"),
        "changed": _p("diff", "Changed"),
    },
)
register(
    "limit_kind",
    {
        "min": _l("Minimum"),
        "max": _l("Maximum"),
        "range": _l("Range"),
        "none_detected": _l("none detected"),
    },
)
register(
    "breach_action",
    {"reject": _l("reject"), "deduct": _l("deduct"), "downgrade": _l("downgrade")},
)

# Organisations and members (web.forms keeps its names for the importers).
register(
    "org_kind",
    {
        "recycler": _l("Recycler"),
        "manufacturer": _l("Manufacturer"),
        "agency": _l("Public agency"),
        "standards_body": _l("Standards body"),
        "operator": _l("Marketplace operator"),
    },
)
register(
    "role",
    {
        "admin": _l("Administrator"),
        "trader": _l("Trader"),
        "signatory": _l("Signatory"),
        "inspector": _l("Inspector"),
        "officer": _l("Procurement officer"),
    },
)
register(
    "org_status",
    {
        "unverified": _l("Unverified"),
        "verified": _l("Verified"),
        "suspended": _l("Suspended"),
    },
)

# The operator's audit log: actions, the kinds of their targets, the keys of their details.
register(
    "audit_action",
    {
        "organization.signed_up": _l("Organisation signed up"),
        "organization.verified": _l("Organisation verified"),
        "organization.unverified": _l("Organisation set back to unverified"),
        "organization.suspended": _l("Organisation suspended"),
        "organization.registration_number_changed": _l("Corporate number changed"),
        "organization.registry_id_changed": _l("Registration number changed"),
        "member.invited": _l("Member invited"),
        "member.removed": _l("Member removed"),
        "member.roles_changed": _l("Member roles changed"),
        "member.password_changed": _l("Password changed"),
        "member.password_reset": _l("Password reset"),
        "index.created": _l("Price index created"),
        "index.value_set": _l("Price index value entered"),
        "policy.set": _l("Green purchasing policy set"),
        "matching.run": _l("Matching run"),
        "proposal.accepted": _l("Proposal accepted"),
        "proposal.declined": _l("Proposal declined"),
        "contract.drafted": _l("Contract drafted"),
        "invoice.bank_transfer": _l("Bank transfer recorded"),
        "tender.created": _l("Tender created"),
        "tender.published": _l("Tender published"),
        "tender.amended": _l("Tender amended"),
        "tender.cancelled": _l("Tender cancelled"),
        "tender.opened": _l("Bids opened"),
        "tender.awarded": _l("Tender awarded"),
        "tender.award_cancelled": _l("Award cancelled"),
        "tender.completed": _l("Tender completed (contract issued)"),
        "tender.unsuccessful": _l("Tender closed without award"),
        "order.delivered": _l("Purchase order delivered"),
        "movement_record.created": _l("Export or import record created"),
        "movement_record.updated": _l("Export or import record updated"),
        "movement_record.withdrawn": _l("Export or import record withdrawn"),
    },
)
register(
    "audit_target",
    {
        "organization": _l("Organisation"),
        "member": _l("Member"),
        "offtakecontract": _l("Contract"),
        "proposal": _l("Proposal"),
        "matchrun": _l("Matching run"),
        "invoice": _l("Invoice"),
        "tender": _l("Tender"),
        "award": _l("Award"),
        "purchaseorder": _l("Purchase order"),
        "priceindex": _l("Price index"),
        "agencypolicy": _l("Green purchasing policy"),
        "movement_record": _l("Export or import record"),
    },
)
register(
    "audit_detail",
    {
        "amount_jpy": _l("Amount"),
        "amendment": _l("Amendment"),
        "award": _l("Award"),
        "before": _l("Before"),
        "bid": _l("Bid"),
        "changed": _l("Changed"),
        "code": _l("Code"),
        "consented_kg": _l("Consented quantity"),
        "contract": _l("Contract"),
        "disqualified": _l("Disqualified"),
        "email": _l("E-mail"),
        "from": _p("audit", "From"),
        "justification": _l("Justification"),
        "kg": _l("Quantity"),
        "listing": _l("Listing"),
        "month": _l("Month"),
        "order": _l("Purchase order"),
        "proposals": _l("Proposals"),
        "qualified": _l("Qualified"),
        "rank": _l("Rank"),
        "reason": _l("Reason"),
        "received_on": _l("Received on"),
        "reference": _l("Reference"),
        "request": _l("Request"),
        "reserved_kg": _l("Reserved quantity"),
        "tender": _l("Tender"),
        "threshold_jpy": _l("Threshold"),
        "title": _l("Title"),
        "to": _p("audit", "To"),
        "top_ranked_bid": _l("Top-ranked bid"),
        "withdrawn": _l("Withdrawn"),
    },
)

# Recycled-content mandates a request can be bought for (market.listings.MANDATES).
register(
    "mandate",
    {
        "EU-BATT-2031": _l("EU Batteries Regulation: recycled content from 2031"),
        "EU-BATT-2036": _l("EU Batteries Regulation: recycled content from 2036"),
        "EU-PPWR-2030": _l("EU Packaging Regulation: recycled plastic from 2030"),
        "EU-PPWR-2040": _l("EU Packaging Regulation: recycled plastic from 2040"),
        "EU-ELV": _l("EU End-of-Life Vehicles Regulation: recycled plastic"),
        "JP-GREEN": _l("Japan's Green Purchasing Act criteria"),
    },
)

# Procurement: tenders, bids, awards.
register(
    "tender_status",
    {
        "planning": _l("Draft (planning)"),
        "active": _p("tender", "Published"),
        "evaluation": _l("Under evaluation"),
        "awarded": _l("Awarded (standstill period)"),
        "complete": _l("Complete"),
        "cancelled": _l("Cancelled"),
        "unsuccessful": _l("Unsuccessful"),
    },
)
register(
    "bid_status",
    {
        "submitted": _l("Submitted (sealed)"),
        "unconfirmed": _l("Needs your confirmation (the tender was amended)"),
        "withdrawn": _l("Withdrawn"),
        "qualified": _l("Qualified"),
        "disqualified": _l("Disqualified"),
        "awarded": _l("Awarded"),
        "unsuccessful": _l("Not successful"),
    },
)
register(
    "award_status",
    {
        "pending": _l("Pending (standstill period)"),
        "active": _l("Active: contract issued"),
        "cancelled": _l("Cancelled"),
    },
)

# Procurement: the chain-of-custody ledger and the catalogue.
register(
    "custody_entry",
    {
        "credit": _l("Credit: recycled input received"),
        "debit": _l("Debit: recycled-content claim sold"),
        "reserve": _l("Reserved for an award"),
        "release": _l("Reservation released"),
        "reversal": _l("Credit reversed"),
    },
)
register(
    "custody_source",
    {
        "delivery": _l("Delivery"),
        "order": _l("Purchase order"),
        "award": _l("Award"),
    },
)
register(
    "catalogue_sort",
    {
        "newest": _l("Newest first"),
        "price": _l("Lowest price"),
        "recycled": _l("Most recycled content"),
        "post_consumer": _l("Most post-consumer content"),
    },
)
register(
    "order_status",
    {
        "ordered": _l("Ordered"),
        "delivered": _l("Delivered"),
        "cancelled": _l("Cancelled"),
    },
)
register("product_status", {"active": _l("In the catalogue"), "withdrawn": _l("Withdrawn")})
register(
    "order_payment",
    {
        "unpaid": _l("Not paid"),
        "claiming": _l("Payment pending — waiting for Stripe"),
        "pending": _l("Payment pending — waiting for Stripe"),
        "failed": _l("Payment failed"),
        "paid": _l("Paid"),
    },
)
register(
    "evidence_item",
    {
        "polymer": _l("polymer declared"),
        "source": _l("source declared (PCR or PIR)"),
        "form": _l("form declared (flake, pellet, bale …)"),
        "colour": _l("colour declared"),
        "composition": _l("declared composition"),
        "lab_assay": _l("a lab assay"),
        "lab_accredited": _l("an accredited laboratory"),
        "method_stated": _l("the test method"),
        "third_party_inspected": _l("third-party inspection"),
        "radioactivity_checked": _l("radioactivity check"),
        "identification_method": _l("identification by IR or DSC"),
    },
)

# Resource security: movement records, the export watch, the statistics.
register(
    "movement_direction",
    {"export": _l("Export (leaving Japan)"), "import": _l("Import (entering Japan)")},
)


def _movement_routes() -> dict:
    from quality.export_regimes import ROUTE_LABELS

    return {str(k): _l(v) for k, v in ROUTE_LABELS.items()}


register("movement_route", _movement_routes())
register("movement_status", {"active": _l("active"), "withdrawn": _l("withdrawn")})
register(
    "anomaly_kind",
    {"material_mismatch": _l("Material mismatch"), "price_below_market": _l("Price below market")},
)
register(
    "statistics_family",
    {
        "metal": _l("Metals"),
        "plastic": _l("Plastics"),
        "e-scrap": _l("E-scrap"),
        "battery": _l("Batteries"),
    },
)
register(
    "statistics_measure",
    {
        "contracted_t": _l("Contracted tonnes"),
        "price_jpy_per_t": _l("Average contract price (yen per tonne)"),
        "supply_t": _l("Open supply (tonnes a month)"),
        "demand_t": _l("Open demand (tonnes a month)"),
    },
)

# --- labels-forms ---

# --- labels-flows ---

# --- labels-units ---
# Units of procurement categories and catalogue products (piece, box, pack …).
from market.categories import UNITS as _UNITS  # noqa: E402

register("unit", {k: _l(v) for k, v in _UNITS.items()} | {"box": _l("box"), "pack": _l("pack")})

# --- labels-custody ---
# Chain-of-custody entry notes are written by the marketplace in a fixed English form (the
# record, also in the API); pages read them back in the reader's language.
_CUSTODY_NOTES = (
    (re.compile(r"Contract #(\d+), delivery #(\d+)"), _l("Contract #%(a)s, delivery #%(b)s")),
    (re.compile(r"tender (\d+), bid (\d+)"), _l("Tender #%(a)s, bid #%(b)s")),
)


def custody_note(note: str | None) -> str:
    """A custody entry's note in the page's language (a note people typed stays as typed)."""
    text = note or ""
    for pattern, message in _CUSTODY_NOTES:
        found = pattern.fullmatch(text)
        if found:
            return str(message) % {"a": found.group(1), "b": found.group(2)}
    return text
