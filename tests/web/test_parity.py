"""Page and API of every operation allow and deny the same people.

OPERATIONS is the one table of the state-changing operations that exist both as a page and as
an API endpoint. Each is tried by every actor of ACTORS — verified, unverified and suspended
organisations of every kind × role × own or other organisation — through both doors, and both
must give the outcome the table names: "ok" (done), 403 or 404. A new state-changing endpoint
joins the table (or API_ONLY, with the reason): `test_every_state_changing_endpoint_is_listed`
fails until it does.
"""

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from factories import (
    COPPER_ASSAY_FORM,
    COPPER_ASSAY_JSON,
    corporate_number,
    login,
    make_listing,
    make_member,
    make_org,
    make_request,
)
from operations_factories import make_active_contract, make_copper_assay
from payments_factories import make_contract as make_payments_contract
from payments_factories import make_credit_note, make_invoice
from sqlmodel import func, select
from stripe_fixtures import FakeGateway

from contracts.models import (
    ContractComment,
    ContractTerms,
    Delivery,
    DeliveryDocument,
    DeliveryObligation,
    Invoice,
    OfftakeContract,
    Payment,
    Signature,
)
from contracts.obligations import open_month
from contracts.terms import seal_terms
from market.models import (
    IndexValue,
    MatchRun,
    Notification,
    OfftakeRequest,
    PriceIndex,
    Proposal,
    SavedSearch,
    SupplyListing,
)
from participants.actors import SYSTEM
from participants.columns import tokyo_today
from quality.catalogue import latest_published, seed_catalogue
from quality.models import Assay, AssayResult, Certificate
from web.stripe_gateway import GATEWAY_KEY

# organisation key → (kind, status)
ORGS = {
    "recycler": ("recycler", "verified"),
    "recycler2": ("recycler", "verified"),
    "recycler_unverified": ("recycler", "unverified"),
    "recycler_suspended": ("recycler", "suspended"),
    "maker": ("manufacturer", "verified"),
    "maker2": ("manufacturer", "verified"),
    "maker_unverified": ("manufacturer", "unverified"),
    "maker_suspended": ("manufacturer", "suspended"),
    "city": ("agency", "verified"),
    "city_unverified": ("agency", "unverified"),
    "council": ("standards_body", "verified"),
    "operator": ("operator", "verified"),
}
# actor → (organisation key, roles)
ACTORS = {
    "seller admin": ("recycler", "admin"),
    "seller trader": ("recycler", "trader"),
    "seller signatory": ("recycler", "signatory"),
    "seller inspector": ("recycler", "inspector"),
    "buyer admin": ("maker", "admin"),
    "buyer trader": ("maker", "trader"),
    "buyer signatory": ("maker", "signatory"),
    "buyer inspector": ("maker", "inspector"),
    "other recycler": ("recycler2", "admin trader signatory inspector"),
    "other manufacturer": ("maker2", "admin trader signatory inspector"),
    "unverified recycler": ("recycler_unverified", "admin trader signatory inspector"),
    "suspended recycler": ("recycler_suspended", "admin trader signatory inspector"),
    "unverified manufacturer": ("maker_unverified", "admin trader signatory inspector"),
    "suspended manufacturer": ("maker_suspended", "admin trader signatory inspector"),
    "officer": ("city", "officer"),
    "unverified officer": ("city_unverified", "officer"),
    "standards body": ("council", "admin"),
    "operator": ("operator", "admin"),
}
SELLERS = {"seller admin", "seller trader", "seller signatory", "seller inspector"}
BUYERS = {"buyer admin", "buyer trader", "buyer signatory", "buyer inspector"}
UNVERIFIED = {
    "unverified recycler",
    "suspended recycler",
    "unverified manufacturer",
    "suspended manufacturer",
    "unverified officer",
}
EVERYONE = set(ACTORS)
VERIFIED = EVERYONE - UNVERIFIED


@dataclass
class World:
    db: object
    version: int
    orgs: dict
    members: dict
    index: str

    def org_of(self, actor: str):
        return self.orgs[ACTORS[actor][0]]

    def count(self, model) -> int:
        self.db.expire_all()
        return self.db.exec(select(func.count()).select_from(model)).one()


@dataclass
class Multipart:
    """An API body sent as multipart/form-data (a file upload) instead of JSON."""

    fields: dict


@dataclass
class Doors:
    """One try: the page request, the API request, and how to see that the page did it."""

    page: tuple[str, str, dict]
    api: tuple[str, str, dict | Multipart | None]
    done: Callable[[], bool]


@dataclass(frozen=True)
class Operation:
    name: str
    page_rule: str  # "METHOD /rule" of the page in the URL map
    api_rule: str  # "METHOD /api/v1/rule" of the endpoint
    ok: frozenset[str]
    hidden: frozenset[str]
    prepare: Callable[[World, str], Doors]

    def expected(self) -> dict[str, object]:
        return {a: "ok" if a in self.ok else 404 if a in self.hidden else 403 for a in ACTORS}


# ---------------------------------------------------------------------------------------------
# Records the operations act on (fresh for every try)


def _listing(w: World, org, status: str = "open") -> SupplyListing:
    return make_listing(w.db, org, w.version, status=status)


def _request(w: World, org, status: str = "open") -> OfftakeRequest:
    return make_request(w.db, org, w.version, status=status)


def _owner(w: World, actor: str, kind: str):
    """The actor's own organisation when it is of `kind`, else the verified one of that kind."""
    org = w.org_of(actor)
    return org if org.kind == kind else w.orgs["recycler" if kind == "recycler" else "maker"]


def _proposal(w: World) -> Proposal:
    proposal = Proposal(
        listing_id=_listing(w, w.orgs["recycler"]).id,
        request_id=_request(w, w.orgs["maker"]).id,
        monthly_kg=60_000,
        ask_jpy_per_t=70_000,
        limit_jpy_per_t=87_654,
        transport_jpy_per_t=1_200,
        distance_km=48.0,
        overlap_months=6,
    )
    w.db.add(proposal)
    w.db.commit()
    return proposal


def _status_is(w: World, model, record_id: int, status: str) -> Callable[[], bool]:
    def done() -> bool:
        w.db.expire_all()
        return w.db.get(model, record_id).status == status

    return done


def _grew(w: World, model) -> Callable[[], bool]:
    before = w.count(model)
    return lambda: w.count(model) == before + 1


LISTING_BODY = {
    "material": "hdpe",
    "monthly_t": "50",
    "min_t_per_contract": "10",
    "available_from": "2027-01",
    "max_term_months": 12,
    "origin_prefecture": "11",
    "incoterm": "FCA",
    "incoterm_place": "Yard",
    "price_kind": "fixed",
    "fixed_price_jpy_per_t": 70_000,
}
REQUEST_BODY = {
    "material": "hdpe",
    "monthly_t": "50",
    "start_month": "2027-01",
    "term_months": 12,
    "delivery_prefecture": "27",
    "delivery_place": "Plant",
    "price_kind": "fixed",
    "max_price_jpy_per_t": 90_000,
}


def _form(body: dict) -> dict:
    return {k: str(v) for k, v in body.items()}


# ---------------------------------------------------------------------------------------------
# The operations


def create_listing(w: World, actor: str) -> Doors:
    body = LISTING_BODY | {"grade_version_id": w.version}
    return Doors(
        ("POST", "/listings/new", _form(body)),
        ("POST", "/api/v1/listings", body),
        _grew(w, SupplyListing),
    )


def edit_listing(w: World, actor: str) -> Doors:
    listing = _listing(w, _owner(w, actor, "recycler"))
    body = LISTING_BODY | {"grade_version_id": w.version, "title": "Edited"}

    def done() -> bool:
        w.db.expire_all()
        return w.db.get(SupplyListing, listing.id).title == "Edited"

    return Doors(
        ("POST", f"/listings/{listing.id}/edit", _form(body)),
        ("PATCH", f"/api/v1/listings/{listing.id}", {"title": "Edited"}),
        done,
    )


def publish_listing(w: World, actor: str) -> Doors:
    listing = _listing(w, _owner(w, actor, "recycler"), status="draft")
    return Doors(
        ("POST", f"/listings/{listing.id}/publish", {}),
        ("POST", f"/api/v1/listings/{listing.id}/publish", None),
        _status_is(w, SupplyListing, listing.id, "open"),
    )


def close_listing(w: World, actor: str) -> Doors:
    listing = _listing(w, _owner(w, actor, "recycler"))
    return Doors(
        ("POST", f"/listings/{listing.id}/close", {}),
        ("POST", f"/api/v1/listings/{listing.id}/close", None),
        _status_is(w, SupplyListing, listing.id, "closed"),
    )


def create_request(w: World, actor: str) -> Doors:
    body = REQUEST_BODY | {"grade_version_id": w.version}
    return Doors(
        ("POST", "/requests/new", _form(body)),
        ("POST", "/api/v1/requests", body),
        _grew(w, OfftakeRequest),
    )


def edit_request(w: World, actor: str) -> Doors:
    request = _request(w, _owner(w, actor, "manufacturer"))
    body = REQUEST_BODY | {"grade_version_id": w.version, "title": "Edited"}

    def done() -> bool:
        w.db.expire_all()
        return w.db.get(OfftakeRequest, request.id).title == "Edited"

    return Doors(
        ("POST", f"/requests/{request.id}/edit", _form(body)),
        ("PATCH", f"/api/v1/requests/{request.id}", {"title": "Edited"}),
        done,
    )


def publish_request(w: World, actor: str) -> Doors:
    request = _request(w, _owner(w, actor, "manufacturer"), status="draft")
    return Doors(
        ("POST", f"/requests/{request.id}/publish", {}),
        ("POST", f"/api/v1/requests/{request.id}/publish", None),
        _status_is(w, OfftakeRequest, request.id, "open"),
    )


def close_request(w: World, actor: str) -> Doors:
    request = _request(w, _owner(w, actor, "manufacturer"))
    return Doors(
        ("POST", f"/requests/{request.id}/close", {}),
        ("POST", f"/api/v1/requests/{request.id}/close", None),
        _status_is(w, OfftakeRequest, request.id, "closed"),
    )


_codes = iter(range(10_000))


def create_index(w: World, actor: str) -> Doors:
    code = f"PX-{next(_codes)}"
    body = {"code": code, "name_en": "Index", "name_ja": "指数", "material": "hdpe"}
    return Doors(
        ("POST", "/indices", body),
        ("POST", "/api/v1/indices", body | {"code": code + "-A"}),
        _grew(w, PriceIndex),
    )


def set_index_value(w: World, actor: str) -> Doors:
    month = f"20{30 + next(_codes) // 12 % 60}-{next(_codes) % 12 + 1:02d}"
    body = {"month": month, "value_jpy_per_t": 101_000}
    return Doors(
        ("POST", f"/indices/{w.index}/values", _form(body)),
        ("POST", f"/api/v1/indices/{w.index}/values", body),
        _grew(w, IndexValue),
    )


def save_search(w: World, actor: str) -> Doors:
    return Doors(
        (
            "POST",
            "/saved-searches",
            {"target": "listings", "name": "HDPE", "query": "material=hdpe"},
        ),
        (
            "POST",
            "/api/v1/saved-searches",
            {"target": "listings", "name": "HDPE", "query": {"material": "hdpe"}},
        ),
        _grew(w, SavedSearch),
    )


def _saved_search(w: World, member) -> SavedSearch:
    search = SavedSearch(member_id=member.id, target="listings", name="HDPE", query="{}")
    w.db.add(search)
    w.db.commit()
    return search


def delete_own_saved_search(w: World, actor: str) -> Doors:
    search_id = _saved_search(w, w.members[actor]).id

    def done() -> bool:
        w.db.expire_all()
        return w.db.get(SavedSearch, search_id) is None

    return Doors(
        ("POST", f"/saved-searches/{search_id}/delete", {}),
        ("DELETE", f"/api/v1/saved-searches/{search_id}", None),
        done,
    )


def delete_someone_elses_saved_search(w: World, actor: str) -> Doors:
    other = w.members["buyer trader" if actor != "buyer trader" else "seller trader"]
    return delete_own_saved_search(w, next(a for a, m in w.members.items() if m is other))


def _notification(w: World, member) -> Notification:
    note = Notification(
        member_id=member.id, message="Hello", link="/listings", dedupe_key=f"k{next(_codes)}"
    )
    w.db.add(note)
    w.db.commit()
    return note


def read_own_notification(w: World, actor: str) -> Doors:
    note = _notification(w, w.members[actor])

    def done() -> bool:
        w.db.expire_all()
        return w.db.get(Notification, note.id).read_at is not None

    return Doors(
        ("POST", f"/notifications/{note.id}/read", {}),
        ("POST", f"/api/v1/notifications/{note.id}/read", None),
        done,
    )


def read_someone_elses_notification(w: World, actor: str) -> Doors:
    other = "buyer trader" if actor != "buyer trader" else "seller trader"
    return read_own_notification(w, other)


def _decided(w: World, proposal_id: int) -> Callable[[], bool]:
    def done() -> bool:
        w.db.expire_all()
        p = w.db.get(Proposal, proposal_id)
        return p.seller_decision is not None or p.buyer_decision is not None

    return done


def accept_proposal(w: World, actor: str) -> Doors:
    proposal = _proposal(w)
    return Doors(
        ("POST", f"/proposals/{proposal.id}/accept", {}),
        ("POST", f"/api/v1/proposals/{proposal.id}/accept", None),
        _decided(w, proposal.id),
    )


def decline_proposal(w: World, actor: str) -> Doors:
    proposal = _proposal(w)
    return Doors(
        ("POST", f"/proposals/{proposal.id}/decline", {}),
        ("POST", f"/api/v1/proposals/{proposal.id}/decline", None),
        _decided(w, proposal.id),
    )


def run_matching(w: World, actor: str) -> Doors:
    return Doors(
        ("POST", "/operator/matching", {"month": "2027-01"}),
        ("POST", "/api/v1/matching/runs", {"month": "2027-01"}),
        _grew(w, MatchRun),
    )


def draft_from_listing(w: World, actor: str) -> Doors:
    listing = _listing(w, w.orgs["recycler"])
    return Doors(
        (
            "POST",
            f"/listings/{listing.id}/draft",
            {"monthly_t": "25", "start_month": "2027-02", "term_months": "6"},
        ),
        (
            "POST",
            f"/api/v1/listings/{listing.id}/drafts",
            {"monthly_t": "25", "start_month": "2027-02", "term_months": 6},
        ),
        _grew(w, OfftakeContract),
    )


def draft_from_request(w: World, actor: str) -> Doors:
    """A recycler offers one of its own listings against a manufacturer's request."""
    request = _request(w, w.orgs["maker"])
    listing = _listing(w, _owner(w, actor, "recycler"))
    body = {"listing_id": listing.id, "monthly_t": "30"}
    return Doors(
        ("POST", f"/requests/{request.id}/draft", _form(body)),
        ("POST", f"/api/v1/requests/{request.id}/drafts", body),
        _grew(w, OfftakeContract),
    )


def draft_from_request_with_the_sellers_listing(w: World, actor: str) -> Doors:
    """Every recycler offers the Saitama seller's listing: only its own members may."""
    request = _request(w, w.orgs["maker"])
    listing = _listing(w, w.orgs["recycler"])
    body = {"listing_id": listing.id, "monthly_t": "30"}
    return Doors(
        ("POST", f"/requests/{request.id}/draft", _form(body)),
        ("POST", f"/api/v1/requests/{request.id}/drafts", body),
        _grew(w, OfftakeContract),
    )


def _contract(w: World) -> OfftakeContract:
    """A one-sided draft between the Saitama seller and the verified manufacturer (v1 sealed)."""
    listing = _listing(w, w.orgs["recycler"])
    contract = OfftakeContract(
        seller_org_id=w.orgs["recycler"].id,
        buyer_org_id=w.orgs["maker"].id,
        listing_id=listing.id,
        material_code="hdpe",
    )
    w.db.add(contract)
    w.db.flush()
    terms = ContractTerms(
        contract_id=contract.id,
        start_month=date(2027, 2, 1),
        term_months=6,
        monthly_kg=40_000,
        incoterm="FCA",
        incoterm_place="Saitama yard",
        standard_version_id=w.version,
        price_kind="fixed",
        fixed_price_jpy_per_t=70_000,
        proposed_by_org_id=w.orgs["maker"].id,
    )
    seal_terms(contract, terms)
    w.db.add(terms)
    w.db.commit()
    return contract


def propose_contract_terms(w: World, actor: str) -> Doors:
    contract = _contract(w)
    form = {
        "start_month": "2027-02",
        "term_months": "6",
        "monthly_t": "30",
        "incoterm": "FCA",
        "incoterm_place": "Saitama yard",
        "grade_version_id": str(w.version),
        "price_kind": "fixed",
        "fixed_price_jpy_per_t": "70000",
    }

    def done() -> bool:
        w.db.expire_all()
        versions = select(func.count()).where(ContractTerms.contract_id == contract.id)
        return w.db.exec(versions.select_from(ContractTerms)).one() == 2

    return Doors(
        ("POST", f"/contracts/{contract.id}/terms", form),
        ("POST", f"/api/v1/contracts/{contract.id}/terms", {"monthly_t": "30"}),
        done,
    )


def comment_on_contract(w: World, actor: str) -> Doors:
    contract = _contract(w)

    def done() -> bool:
        w.db.expire_all()
        comments = select(func.count()).where(ContractComment.contract_id == contract.id)
        return w.db.exec(comments.select_from(ContractComment)).one() == 1

    return Doors(
        ("POST", f"/contracts/{contract.id}/comments", {"body": "Can you take 30 t?"}),
        ("POST", f"/api/v1/contracts/{contract.id}/comments", {"body": "Can you take 30 t?"}),
        done,
    )


def sign_contract(w: World, actor: str) -> Doors:
    contract = _contract(w)
    org_id = w.org_of(actor).id

    def done() -> bool:
        w.db.expire_all()
        signed = select(func.count()).where(
            Signature.contract_id == contract.id, Signature.organization_id == org_id
        )
        return w.db.exec(signed.select_from(Signature)).one() == 1

    return Doors(
        ("POST", f"/contracts/{contract.id}/sign", {"version": "1"}),
        ("POST", f"/api/v1/contracts/{contract.id}/sign", {"version": 1}),
        done,
    )


def withdraw_contract(w: World, actor: str) -> Doors:
    contract = _contract(w)
    return Doors(
        ("POST", f"/contracts/{contract.id}/withdraw", {}),
        ("POST", f"/api/v1/contracts/{contract.id}/withdraw", None),
        _status_is(w, OfftakeContract, contract.id, "withdrawn"),
    )


INSPECTED = {
    "no_brass": True,
    "no_excess_oil": True,
    "no_insulation": True,
    "no_burnt_brittle_wire": True,
}


def record_assay(w: World, actor: str) -> Doors:
    return Doors(
        ("POST", "/assays/new", COPPER_ASSAY_FORM),
        ("POST", "/api/v1/assays", COPPER_ASSAY_JSON),
        _grew(w, Assay),
    )


def _conforming_assay(w: World, org) -> Assay:
    """A No.2 copper lot of `org` that conforms to ISRI Birch/Cliff (inspected, 96.1 % Cu)."""
    assay = Assay(
        organization_id=org.id,
        lot_ref="KWG-2026-10-A",
        material_code="copper_scrap",
        lab_name="Japan Assay Centre",
        lab_accredited=True,
        method="JIS H 1051",
        sampled_on=date(2026, 10, 1),
        reported_on=date(2026, 10, 3),
        evidence_json=json.dumps(
            {"declared": {"composition": "No.2 copper"}, "inspections": INSPECTED}
        ),
        tonnes_kg=24_500,
    )
    w.db.add(assay)
    w.db.flush()
    w.db.add(AssayResult(assay_id=assay.id, parameter="cu_pct", value=Decimal("96.1")))
    w.db.commit()
    return assay


def _certify(w: World, org) -> Doors:
    assay_id = _conforming_assay(w, org).id
    return Doors(
        ("POST", f"/assays/{assay_id}/certify", {"grade": "ISRI-BIRCH-CLIFF:1"}),
        (
            "POST",
            "/api/v1/certificates",
            {"assay_id": assay_id, "standard": "ISRI-BIRCH-CLIFF", "version": 1},
        ),
        _grew(w, Certificate),
    )


def certify_own_assay(w: World, actor: str) -> Doors:
    return _certify(w, w.org_of(actor))


def certify_the_sellers_assay(w: World, actor: str) -> Doors:
    return _certify(w, w.orgs["recycler"])


def _operation(name, page_rule, api_rule, prepare, ok, hidden=frozenset()) -> Operation:
    return Operation(name, page_rule, api_rule, frozenset(ok), frozenset(hidden), prepare)


LISTING_MANAGERS = {"seller admin", "seller trader"}
REQUEST_MANAGERS = {"buyer admin", "buyer trader"}
OPERATIONS = [
    # traders and administrators of a verified recycler; another recycler's listing is not found
    _operation(
        "create a listing",
        "POST /listings/new",
        "POST /api/v1/listings",
        create_listing,
        LISTING_MANAGERS | {"other recycler", "unverified recycler"},  # a draft (forms)
    ),
    _operation(
        "edit a listing",
        "POST /listings/<int:listing_id>/edit",
        "PATCH /api/v1/listings/<int:listing_id>",
        edit_listing,
        LISTING_MANAGERS | {"other recycler"},
    ),
    _operation(
        "publish a listing",
        "POST /listings/<int:listing_id>/publish",
        "POST /api/v1/listings/<int:listing_id>/publish",
        publish_listing,
        LISTING_MANAGERS | {"other recycler"},
    ),
    _operation(
        "close a listing",
        "POST /listings/<int:listing_id>/close",
        "POST /api/v1/listings/<int:listing_id>/close",
        close_listing,
        LISTING_MANAGERS | {"other recycler"},
    ),
    # traders and administrators of a verified manufacturer
    _operation(
        "create a request",
        "POST /requests/new",
        "POST /api/v1/requests",
        create_request,
        REQUEST_MANAGERS | {"other manufacturer", "unverified manufacturer"},  # a draft (forms)
    ),
    _operation(
        "edit a request",
        "POST /requests/<int:request_id>/edit",
        "PATCH /api/v1/requests/<int:request_id>",
        edit_request,
        REQUEST_MANAGERS | {"other manufacturer"},
    ),
    _operation(
        "publish a request",
        "POST /requests/<int:request_id>/publish",
        "POST /api/v1/requests/<int:request_id>/publish",
        publish_request,
        REQUEST_MANAGERS | {"other manufacturer"},
    ),
    _operation(
        "close a request",
        "POST /requests/<int:request_id>/close",
        "POST /api/v1/requests/<int:request_id>/close",
        close_request,
        REQUEST_MANAGERS | {"other manufacturer"},
    ),
    # the marketplace operator
    _operation(
        "create a price index", "POST /indices", "POST /api/v1/indices", create_index, {"operator"}
    ),
    _operation(
        "enter an index value",
        "POST /indices/<code>/values",
        "POST /api/v1/indices/<code>/values",
        set_index_value,
        {"operator"},
    ),
    _operation(
        "run the matching",
        "POST /operator/matching",
        "POST /api/v1/matching/runs",
        run_matching,
        {"operator"},
    ),
    # any member of a verified organisation
    _operation(
        "save a search",
        "POST /saved-searches",
        "POST /api/v1/saved-searches",
        save_search,
        VERIFIED,
    ),
    # the member's own, in any state; another member's is not found
    _operation(
        "delete an own saved search",
        "POST /saved-searches/<int:search_id>/delete",
        "DELETE /api/v1/saved-searches/<int:search_id>",
        delete_own_saved_search,
        EVERYONE,
    ),
    _operation(
        "delete another member's saved search",
        "POST /saved-searches/<int:search_id>/delete",
        "DELETE /api/v1/saved-searches/<int:search_id>",
        delete_someone_elses_saved_search,
        set(),
        EVERYONE,
    ),
    _operation(
        "mark an own notification read",
        "POST /notifications/<int:note_id>/read",
        "POST /api/v1/notifications/<int:note_id>/read",
        read_own_notification,
        EVERYONE,
    ),
    _operation(
        "mark another member's notification read",
        "POST /notifications/<int:note_id>/read",
        "POST /api/v1/notifications/<int:note_id>/read",
        read_someone_elses_notification,
        set(),
        EVERYONE,
    ),
    # a signatory or trader of a verified organisation on one side; others: no such proposal
    _operation(
        "accept a proposal",
        "POST /proposals/<int:proposal_id>/<any(accept, decline):decision>",
        "POST /api/v1/proposals/<int:proposal_id>/accept",
        accept_proposal,
        {"seller trader", "seller signatory", "buyer trader", "buyer signatory"},
        {"other recycler", "other manufacturer"},
    ),
    _operation(
        "decline a proposal",
        "POST /proposals/<int:proposal_id>/<any(accept, decline):decision>",
        "POST /api/v1/proposals/<int:proposal_id>/decline",
        decline_proposal,
        {"seller trader", "seller signatory", "buyer trader", "buyer signatory"},
        {"other recycler", "other manufacturer"},
    ),
    # a signatory or trader of a verified manufacturer
    _operation(
        "start a draft from a listing",
        "POST /listings/<int:listing_id>/draft",
        "POST /api/v1/listings/<int:listing_id>/drafts",
        draft_from_listing,
        {"buyer trader", "buyer signatory", "other manufacturer"},
    ),
    # a signatory or trader of a verified recycler, offering its own listing
    _operation(
        "offer an own listing against a request",
        "POST /requests/<int:request_id>/draft",
        "POST /api/v1/requests/<int:request_id>/drafts",
        draft_from_request,
        {"seller trader", "seller signatory", "other recycler"},
    ),
    _operation(
        "offer the seller's listing against a request",
        "POST /requests/<int:request_id>/draft",
        "POST /api/v1/requests/<int:request_id>/drafts",
        draft_from_request_with_the_sellers_listing,
        {"seller trader", "seller signatory"},
        {"other recycler"},
    ),
]

# A signatory or trader of a verified party negotiates; only its signatories sign; for other
# organisations the contract does not exist.
NEGOTIATORS = {"seller trader", "seller signatory", "buyer trader", "buyer signatory"}
OTHER_PARTIES = {"other recycler", "other manufacturer"}
OPERATIONS += [
    _operation(
        "propose a new version of a contract's terms",
        "POST /contracts/<int:contract_id>/terms",
        "POST /api/v1/contracts/<int:contract_id>/terms",
        propose_contract_terms,
        NEGOTIATORS,
        OTHER_PARTIES,
    ),
    _operation(
        "write in a contract's thread",
        "POST /contracts/<int:contract_id>/comments",
        "POST /api/v1/contracts/<int:contract_id>/comments",
        comment_on_contract,
        NEGOTIATORS,
        OTHER_PARTIES,
    ),
    _operation(
        "sign a contract",
        "POST /contracts/<int:contract_id>/sign",
        "POST /api/v1/contracts/<int:contract_id>/sign",
        sign_contract,
        {"seller signatory", "buyer signatory"},
        OTHER_PARTIES,
    ),
    _operation(
        "withdraw a contract draft",
        "POST /contracts/<int:contract_id>/withdraw",
        "POST /api/v1/contracts/<int:contract_id>/withdraw",
        withdraw_contract,
        NEGOTIATORS,
        OTHER_PARTIES,
    ),
]

# Who may record assays or certify: verified organisations' members holding the role.
ASSAYERS = {"admin", "trader", "inspector"}
CERTIFIERS = {"admin", "inspector", "signatory"}


def _verified_with(roles: set[str]) -> set[str]:
    return {a for a in VERIFIED if set(ACTORS[a][1].split()) & roles}


OPERATIONS += [
    _operation(
        "record an assay",
        "POST /assays/new",
        "POST /api/v1/assays",
        record_assay,
        _verified_with(ASSAYERS),
    ),
    # the own organisation's assay; another organisation's is not found
    _operation(
        "certify an own assay",
        "POST /assays/<int:assay_id>/certify",
        "POST /api/v1/certificates",
        certify_own_assay,
        _verified_with(CERTIFIERS),
    ),
    _operation(
        "certify another organisation's assay",
        "POST /assays/<int:assay_id>/certify",
        "POST /api/v1/certificates",
        certify_the_sellers_assay,
        _verified_with(CERTIFIERS) & SELLERS,
        _verified_with(CERTIFIERS) - SELLERS,
    ),
]

# ---------------------------------------------------------------------------------------------
# Deliveries: an active copper contract of the Saitama recycler (seller) and the verified
# manufacturer (buyer), its current month open; a fresh contract and delivery for every try.

PDF = b"%PDF-1.7\n%%EOF\n"


def _active_contract(w: World) -> OfftakeContract:
    version = latest_published(w.db, "ISRI-BIRCH-CLIFF")[1].id
    month = tokyo_today().replace(day=1)
    contract = make_active_contract(w.db, w.orgs["recycler"], w.orgs["maker"], version, start=month)
    open_month(w.db, SYSTEM, month)
    w.db.commit()
    return contract


def _delivery(w: World, status: str = "recorded", buyer_cu: str | None = None) -> Delivery:
    """A delivery of 24.5 t graded from the seller's 93.5 % Cu assay; disputed ones may carry
    the buyer's assay (0.6 points lower: beyond the splitting limit, the umpire is needed)."""
    contract = _active_contract(w)
    obligation = w.db.exec(
        select(DeliveryObligation).where(DeliveryObligation.contract_id == contract.id)
    ).one()
    seller_assay = make_copper_assay(w.db, w.orgs["recycler"], "93.5", "0.1", lab="Seller Lab")
    buyer_assay = None
    if buyer_cu is not None:
        buyer_assay = make_copper_assay(w.db, w.orgs["maker"], buyer_cu, "0.1", lab="Buyer Lab")
    delivery = Delivery(
        contract_id=contract.id,
        obligation_id=obligation.id,
        delivered_on=tokyo_today(),
        net_kg=24_500,
        status=status,
        assay_id=seller_assay.id,
        outcome="conforms_with_deductions",
        adjustment_jpy_per_t=-7_500,
        buyer_assay_id=buyer_assay.id if buyer_assay else None,
        dispute_reason="Low copper." if status == "disputed" else "",
    )
    w.db.add(delivery)
    w.db.commit()
    return delivery


def record_delivery(w: World, actor: str) -> Doors:
    contract = _active_contract(w)
    assay = make_copper_assay(w.db, w.orgs["recycler"], "96.1")
    body = {
        "delivered_on": tokyo_today().isoformat(),
        "net_t": "24.5",
        "vehicle": "TCKU 123456-7",
        "assay_id": assay.id,
    }
    return Doors(
        ("POST", f"/contracts/{contract.id}/deliveries/new", _form(body)),
        ("POST", "/api/v1/deliveries", body | {"contract_id": contract.id}),
        _grew(w, Delivery),
    )


def add_delivery_document(w: World, actor: str) -> Doors:
    delivery = _delivery(w)
    return Doors(
        (
            "POST",
            f"/deliveries/{delivery.id}/documents",
            {"kind": "weighbridge_ticket", "file": (io.BytesIO(PDF), "ticket.pdf")},
        ),
        (
            "POST",
            f"/api/v1/deliveries/{delivery.id}/documents",
            Multipart({"kind": "weighbridge_ticket", "file": (io.BytesIO(PDF), "ticket.pdf")}),
        ),
        _grew(w, DeliveryDocument),
    )


def accept_delivery(w: World, actor: str) -> Doors:
    delivery = _delivery(w)
    return Doors(
        ("POST", f"/deliveries/{delivery.id}/accept", {}),
        ("POST", f"/api/v1/deliveries/{delivery.id}/accept", None),
        _status_is(w, Delivery, delivery.id, "accepted"),
    )


def dispute_delivery(w: World, actor: str) -> Doors:
    delivery = _delivery(w)
    return Doors(
        ("POST", f"/deliveries/{delivery.id}/dispute", {"reason": "Wet lot."}),
        ("POST", f"/api/v1/deliveries/{delivery.id}/dispute", {"reason": "Wet lot."}),
        _status_is(w, Delivery, delivery.id, "disputed"),
    )


def settle_with_the_umpires_assay(w: World, actor: str) -> Doors:
    """Either party enters the umpire laboratory's assay (as an assay of its own)."""
    delivery = _delivery(w, "disputed", buyer_cu="92.9")
    umpire = make_copper_assay(w.db, w.org_of(actor), "93.1", "0.1", lab="Umpire Lab")
    return Doors(
        ("POST", f"/deliveries/{delivery.id}/settle", {"umpire_assay_id": str(umpire.id)}),
        ("POST", f"/api/v1/deliveries/{delivery.id}/settle", {"umpire_assay_id": umpire.id}),
        _status_is(w, Delivery, delivery.id, "settled"),
    )


def settle_with_the_buyers_assay(w: World, actor: str) -> Doors:
    """Everyone offers an assay of its own as the buyer's: only the buyer may."""
    delivery = _delivery(w, "disputed")
    own = make_copper_assay(w.db, w.org_of(actor), "93.3", "0.2", lab="Buyer Lab")

    def done() -> bool:
        w.db.expire_all()
        return w.db.get(Delivery, delivery.id).buyer_assay_id == own.id

    return Doors(
        ("POST", f"/deliveries/{delivery.id}/settle", {"buyer_assay_id": str(own.id)}),
        ("POST", f"/api/v1/deliveries/{delivery.id}/settle", {"buyer_assay_id": own.id}),
        done,
    )


SELLER_HANDS = {"seller trader", "seller signatory", "seller inspector"}
BUYER_HANDS = {"buyer trader", "buyer signatory", "buyer inspector"}
OPERATIONS += [
    # the seller's traders, signatories and inspectors; another recycler: no such contract
    _operation(
        "record a delivery",
        "POST /contracts/<int:contract_id>/deliveries/new",
        "POST /api/v1/deliveries",
        record_delivery,
        SELLER_HANDS,
        {"other recycler"},
    ),
    # traders, signatories and inspectors of either party
    _operation(
        "add a document to a delivery",
        "POST /deliveries/<int:delivery_id>/documents",
        "POST /api/v1/deliveries/<int:delivery_id>/documents",
        add_delivery_document,
        SELLER_HANDS | BUYER_HANDS,
        {"other recycler", "other manufacturer"},
    ),
    # the buyer's traders, signatories and inspectors
    _operation(
        "accept a delivery",
        "POST /deliveries/<int:delivery_id>/accept",
        "POST /api/v1/deliveries/<int:delivery_id>/accept",
        accept_delivery,
        BUYER_HANDS,
        {"other manufacturer"},
    ),
    _operation(
        "dispute a delivery",
        "POST /deliveries/<int:delivery_id>/dispute",
        "POST /api/v1/deliveries/<int:delivery_id>/dispute",
        dispute_delivery,
        BUYER_HANDS,
        {"other manufacturer"},
    ),
    _operation(
        "settle a dispute with the umpire's assay",
        "POST /deliveries/<int:delivery_id>/settle",
        "POST /api/v1/deliveries/<int:delivery_id>/settle",
        settle_with_the_umpires_assay,
        SELLER_HANDS | BUYER_HANDS,
        {"other recycler", "other manufacturer"},
    ),
    _operation(
        "attach the buyer's own assay to a dispute",
        "POST /deliveries/<int:delivery_id>/settle",
        "POST /api/v1/deliveries/<int:delivery_id>/settle",
        settle_with_the_buyers_assay,
        BUYER_HANDS,
        {"other recycler", "other manufacturer"},
    ),
]

# ---------------------------------------------------------------------------------------------
# Payments: an issued invoice of the verified recycler (seller) to the verified manufacturer
# (buyer), paid through a fake Stripe that accepts every card; refunds of a credit note on a
# paid invoice.


@pytest.fixture(autouse=True)
def _fake_stripe(app):
    app.extensions[GATEWAY_KEY] = FakeGateway()


def _invoice(w: World, paid: bool = False):
    contract = make_payments_contract(w.db, w.orgs["recycler"], w.orgs["maker"])
    invoice = make_invoice(w.db, contract, status="paid" if paid else "issued")
    if paid:
        w.db.add(
            Payment(
                invoice_id=invoice.id,
                stripe_payment_intent_id=f"pi_paid{invoice.id}",
                amount_jpy=invoice.total_jpy,
                status="succeeded",
            )
        )
        w.db.commit()
    return invoice


def _paid_by_card(w: World, invoice_id: int) -> Callable[[], bool]:
    def done() -> bool:
        w.db.expire_all()
        payment = w.db.exec(select(Payment).where(Payment.invoice_id == invoice_id)).first()
        return payment is not None and payment.status == "pending"

    return done


def pay_invoice(w: World, actor: str) -> Doors:
    invoice = _invoice(w)
    return Doors(
        ("POST", f"/invoices/{invoice.id}/pay", {}),
        ("POST", f"/api/v1/invoices/{invoice.id}/pay", {"payment_method": "pm_card_visa"}),
        _paid_by_card(w, invoice.id),
    )


def refund_credit_note(w: World, actor: str) -> Doors:
    note = make_credit_note(w.db, _invoice(w, paid=True))
    return Doors(
        ("POST", f"/credit-notes/{note.id}/refund", {}),
        ("POST", f"/api/v1/credit-notes/{note.id}/refund", None),
        _status_is(w, Invoice, note.id, "refunded"),
    )


OPERATIONS += [
    # the buyer's admins, traders and signatories; another manufacturer: no such invoice
    _operation(
        "pay an invoice",
        "POST /invoices/<int:invoice_id>/pay",
        "POST /api/v1/invoices/<int:invoice_id>/pay",
        pay_invoice,
        {"buyer admin", "buyer trader", "buyer signatory"},
        {"other manufacturer", "officer"},  # an agency pays its orders' invoices only
    ),
    # the seller's admins and signatories, or the operator; another recycler: not found
    _operation(
        "refund a credit note",
        "POST /credit-notes/<int:credit_note_id>/refund",
        "POST /api/v1/credit-notes/<int:credit_note_id>/refund",
        refund_credit_note,
        {"seller admin", "seller signatory", "operator"},
        {"other recycler"},
    ),
]

# An administrator of any organisation sets its qualified-invoice registration number.
REGISTRATION_NUMBER = "T" + corporate_number(7_100_001)


def set_the_registration_number(w: World, actor: str) -> Doors:
    org = w.org_of(actor)
    org.qualified_invoice_number = None
    w.db.add(org)
    w.db.commit()

    def done() -> bool:
        w.db.expire_all()
        return w.db.get(type(org), org.id).qualified_invoice_number == REGISTRATION_NUMBER

    return Doors(
        (
            "POST",
            "/organization/registration-number",
            {"registration-qualified_invoice_number": REGISTRATION_NUMBER},
        ),
        (
            "PUT",
            "/api/v1/organization/registration-number",
            {"qualified_invoice_number": REGISTRATION_NUMBER},
        ),
        done,
    )


ADMINS = {a for a, (_org, roles) in ACTORS.items() if "admin" in roles.split()}
OPERATIONS += [
    _operation(
        "set the registration number",
        "POST /organization/registration-number",
        "PUT /api/v1/organization/registration-number",
        set_the_registration_number,
        ADMINS,
    ),
]

# --- proc-tenders ---
# Tenders of the verified city (its officer manages them); questions and sealed bids of
# verified recyclers and manufacturers. Every try gets a fresh tender whose periods put it in
# the phase the step needs.


def _tenders_world(w: World):
    import proc_tenders_factories as ptf

    return ptf, ptf.make_category(w.db)


def _city_tender(w: World, phase: str, status: str = "active", **fields):
    ptf, category = _tenders_world(w)
    return ptf.make_tender(w.db, w.orgs["city"], category, phase=phase, status=status, **fields)


_BIDDER_KINDS = ("recycler", "manufacturer")


def _bidder(w: World, actor: str):
    """The actor's organisation when it may bid at all, else the verified recycler."""
    org = w.org_of(actor)
    return org if org.kind in _BIDDER_KINDS else w.orgs["recycler"]


def _tender_attr_is(w: World, tender_id: int, name: str, value) -> Callable[[], bool]:
    from market.models import Tender

    def done() -> bool:
        w.db.expire_all()
        return getattr(w.db.get(Tender, tender_id), name) == value

    return done


def create_tender(w: World, actor: str) -> Doors:
    from market.models import Tender

    ptf, category = _tenders_world(w)
    return Doors(
        ("POST", "/tenders/new", ptf.tender_form(category.id)),
        ("POST", "/api/v1/tenders", ptf.tender_body(category.id)),
        _grew(w, Tender),
    )


def edit_tender(w: World, actor: str) -> Doors:
    ptf, category = _tenders_world(w)
    tender = _city_tender(w, "upcoming", status="planning")
    return Doors(
        ("POST", f"/tenders/{tender.id}/edit", ptf.tender_form(category.id, title_en="Edited")),
        ("PUT", f"/api/v1/tenders/{tender.id}", ptf.tender_body(category.id, title_en="Edited")),
        _tender_attr_is(w, tender.id, "title_en", "Edited"),
    )


def publish_tender(w: World, actor: str) -> Doors:
    tender = _city_tender(w, "upcoming", status="planning")
    return Doors(
        ("POST", f"/tenders/{tender.id}/publish", {}),
        ("POST", f"/api/v1/tenders/{tender.id}/publish", None),
        _tender_attr_is(w, tender.id, "status", "active"),
    )


def amend_tender(w: World, actor: str) -> Doors:
    tender = _city_tender(w, "tendering")
    change = {"description_en": "Amended", "description_ja": tender.description_ja}
    return Doors(
        ("POST", f"/tenders/{tender.id}/amend", change),
        ("POST", f"/api/v1/tenders/{tender.id}/amend", {"description_en": "Amended"}),
        _tender_attr_is(w, tender.id, "amendment_count", 1),
    )


def cancel_tender(w: World, actor: str) -> Doors:
    tender = _city_tender(w, "enquiries")
    reason = {"reason": "The budget was withdrawn."}
    return Doors(
        ("POST", f"/tenders/{tender.id}/cancel", reason),
        ("POST", f"/api/v1/tenders/{tender.id}/cancel", reason),
        _tender_attr_is(w, tender.id, "status", "cancelled"),
    )


def ask_about_a_tender(w: World, actor: str) -> Doors:
    from market.models import Enquiry

    tender = _city_tender(w, "enquiries")
    question = {"question": "May the benches be 1.5 m long?"}
    return Doors(
        ("POST", f"/tenders/{tender.id}/ask", question),
        ("POST", f"/api/v1/tenders/{tender.id}/enquiries", question),
        _grew(w, Enquiry),
    )


def answer_a_question(w: World, actor: str) -> Doors:
    from market.models import Enquiry

    tender = _city_tender(w, "enquiries")
    enquiry = Enquiry(tender_id=tender.id, asked_by_org_id=w.orgs["maker2"].id, question="1.5 m?")
    w.db.add(enquiry)
    w.db.commit()

    def done() -> bool:
        w.db.expire_all()
        return w.db.get(Enquiry, enquiry.id).answered_at is not None

    answer = {"answer": "No, 1.8 m."}
    return Doors(
        ("POST", f"/tenders/{tender.id}/enquiries/{enquiry.id}/answer", answer),
        ("POST", f"/api/v1/tenders/{tender.id}/enquiries/{enquiry.id}/answer", answer),
        done,
    )


def _covered(w: World, actor: str):
    ptf, _category = _tenders_world(w)
    org = _bidder(w, actor)
    ptf.credit(w.db, org, 5_000)
    return ptf, org


def submit_a_bid(w: World, actor: str) -> Doors:
    from market.models import Bid

    ptf, _org = _covered(w, actor)
    tender = _city_tender(w, "tendering")
    return Doors(
        ("POST", f"/tenders/{tender.id}/bid/new", ptf.bid_form(tender)),
        ("POST", f"/api/v1/tenders/{tender.id}/bid", ptf.bid_body(tender)),
        _grew(w, Bid),
    )


def _bid_of(w: World, actor: str, status: str = "submitted"):
    ptf, org = _covered(w, actor)
    tender = _city_tender(w, "tendering")
    return ptf, tender, ptf.make_bid(w.db, tender, org, status=status)


def _bid_attr_is(w: World, bid_id: int, name: str, value) -> Callable[[], bool]:
    from market.models import Bid

    def done() -> bool:
        w.db.expire_all()
        return getattr(w.db.get(Bid, bid_id), name) == value

    return done


def modify_a_bid(w: World, actor: str) -> Doors:
    ptf, tender, bid = _bid_of(w, actor)
    return Doors(
        ("POST", f"/tenders/{tender.id}/bid/edit", ptf.bid_form(tender, price_jpy="9000000")),
        ("PUT", f"/api/v1/tenders/{tender.id}/bid", ptf.bid_body(tender, price_jpy=9_000_000)),
        _bid_attr_is(w, bid.id, "price_jpy", 9_000_000),
    )


def withdraw_a_bid(w: World, actor: str) -> Doors:
    _ptf, tender, bid = _bid_of(w, actor)
    return Doors(
        ("POST", f"/tenders/{tender.id}/bid/withdraw", {}),
        ("POST", f"/api/v1/tenders/{tender.id}/bid/withdraw", None),
        _bid_attr_is(w, bid.id, "status", "withdrawn"),
    )


def confirm_a_bid(w: World, actor: str) -> Doors:
    _ptf, tender, bid = _bid_of(w, actor, status="unconfirmed")
    receipt = {"content_sha256": bid.content_sha256}
    return Doors(
        ("POST", f"/tenders/{tender.id}/bid/confirm", receipt),
        ("POST", f"/api/v1/tenders/{tender.id}/bid/confirm", receipt),
        _bid_attr_is(w, bid.id, "status", "submitted"),
    )


SUPPLIERS = SELLERS | BUYERS | {"other recycler", "other manufacturer"}
BIDDERS = {"seller admin", "seller trader", "buyer admin", "buyer trader"} | {
    "other recycler",
    "other manufacturer",
}
OPERATIONS += [
    # the procurement officer of the verified agency, on its own tenders
    _operation(
        "create a tender", "POST /tenders/new", "POST /api/v1/tenders", create_tender, {"officer"}
    ),
    _operation(
        "edit a draft tender",
        "POST /tenders/<int:tender_id>/edit",
        "PUT /api/v1/tenders/<int:tender_id>",
        edit_tender,
        {"officer"},
    ),
    _operation(
        "publish a tender",
        "POST /tenders/<int:tender_id>/publish",
        "POST /api/v1/tenders/<int:tender_id>/publish",
        publish_tender,
        {"officer"},
    ),
    _operation(
        "amend a tender",
        "POST /tenders/<int:tender_id>/amend",
        "POST /api/v1/tenders/<int:tender_id>/amend",
        amend_tender,
        {"officer"},
    ),
    _operation(
        "cancel a tender",
        "POST /tenders/<int:tender_id>/cancel",
        "POST /api/v1/tenders/<int:tender_id>/cancel",
        cancel_tender,
        {"officer"},
    ),
    _operation(
        "answer a question",
        "POST /tenders/<int:tender_id>/enquiries/<int:enquiry_id>/answer",
        "POST /api/v1/tenders/<int:tender_id>/enquiries/<int:enquiry_id>/answer",
        answer_a_question,
        {"officer"},
    ),
    # any member of a verified recycler or manufacturer asks
    _operation(
        "ask about a tender",
        "POST /tenders/<int:tender_id>/ask",
        "POST /api/v1/tenders/<int:tender_id>/enquiries",
        ask_about_a_tender,
        SUPPLIERS,
    ),
    # traders and administrators of verified recyclers and manufacturers bid
    _operation(
        "submit a bid",
        "POST /tenders/<int:tender_id>/bid/new",
        "POST /api/v1/tenders/<int:tender_id>/bid",
        submit_a_bid,
        BIDDERS,
    ),
    _operation(
        "modify a bid",
        "POST /tenders/<int:tender_id>/bid/edit",
        "PUT /api/v1/tenders/<int:tender_id>/bid",
        modify_a_bid,
        BIDDERS,
    ),
    _operation(
        "withdraw a bid",
        "POST /tenders/<int:tender_id>/bid/withdraw",
        "POST /api/v1/tenders/<int:tender_id>/bid/withdraw",
        withdraw_a_bid,
        BIDDERS,
    ),
    _operation(
        "confirm a bid",
        "POST /tenders/<int:tender_id>/bid/confirm",
        "POST /api/v1/tenders/<int:tender_id>/bid/confirm",
        confirm_a_bid,
        BIDDERS,
    ),
]

# --- proc-awards ---
# A closed tender of the verified city (its period ended an hour ago; bids of the verified
# manufacturer need no certificate); only the city's procurement officer evaluates, awards,
# cancels, completes and closes it.


def _closed_city_tender(w: World, opened: bool = True, bid: bool = True, **fields):
    from proc_awards_factories import Agency, Supplier, credit, make_bid, make_tender

    from market.evaluation import open_tender

    agency = Agency(w.orgs["city"], w.members["officer"], w.db)
    tender = make_tender(w.db, agency, requires_certificate=False, **fields)
    made = None
    if bid:
        maker = Supplier(w.orgs["maker"], w.members["buyer admin"], w.db)
        credit(w.db, maker, 2_000)
        made = make_bid(w.db, tender, maker, 2_000_000)
    if opened:
        open_tender(w.db, tender)
        w.db.commit()
    return tender, made


def _awarded(w: World, days_ago: int = 0):
    from datetime import timedelta

    from factories import as_actor

    from market.evaluation import AwardIn, award_bid
    from participants.columns import utcnow

    tender, bid = _closed_city_tender(w, ended_ago=timedelta(days=days_ago + 1))
    officer = as_actor(w.db, w.members["officer"])
    award = award_bid(
        w.db,
        officer,
        tender.id,
        AwardIn(bid_id=bid.id, justification="Best."),
        now=utcnow() - timedelta(days=days_ago),
    )
    w.db.commit()
    return tender, award


def open_tender_bids(w: World, actor: str) -> Doors:
    from market.models import Tender

    tender, _bid = _closed_city_tender(w, opened=False, bid=False)
    return Doors(
        ("POST", f"/tenders/{tender.id}/open", {}),
        ("POST", f"/api/v1/tenders/{tender.id}/open", None),
        _status_is(w, Tender, tender.id, "evaluation"),
    )


def award_a_bid(w: World, actor: str) -> Doors:
    from market.models import Tender

    tender, bid = _closed_city_tender(w)
    body = {"bid_id": bid.id, "justification": "Best value."}
    return Doors(
        ("POST", f"/tenders/{tender.id}/awards", _form(body)),
        ("POST", f"/api/v1/tenders/{tender.id}/awards", body),
        _status_is(w, Tender, tender.id, "awarded"),
    )


def cancel_an_award(w: World, actor: str) -> Doors:
    from market.models import Award

    tender, award = _awarded(w)
    body = {"reason": "Complaint upheld."}
    return Doors(
        ("POST", f"/tenders/{tender.id}/awards/{award.id}/cancel", body),
        ("POST", f"/api/v1/tenders/{tender.id}/awards/{award.id}/cancel", body),
        _status_is(w, Award, award.id, "cancelled"),
    )


def complete_an_award(w: World, actor: str) -> Doors:
    from market.models import Tender

    tender, _award = _awarded(w, days_ago=11)
    return Doors(
        ("POST", f"/tenders/{tender.id}/complete", {}),
        ("POST", f"/api/v1/tenders/{tender.id}/complete", None),
        _status_is(w, Tender, tender.id, "complete"),
    )


def close_a_tender_as_unsuccessful(w: World, actor: str) -> Doors:
    from market.models import Tender

    tender, _bid = _closed_city_tender(w, bid=False)
    body = {"reason": "No bids came."}
    return Doors(
        ("POST", f"/tenders/{tender.id}/unsuccessful", body),
        ("POST", f"/api/v1/tenders/{tender.id}/unsuccessful", body),
        _status_is(w, Tender, tender.id, "unsuccessful"),
    )


OPERATIONS += [
    _operation(
        "open a tender's bids",
        "POST /tenders/<int:tender_id>/open",
        "POST /api/v1/tenders/<int:tender_id>/open",
        open_tender_bids,
        {"officer"},
    ),
    _operation(
        "award a bid",
        "POST /tenders/<int:tender_id>/awards",
        "POST /api/v1/tenders/<int:tender_id>/awards",
        award_a_bid,
        {"officer"},
    ),
    _operation(
        "cancel an award",
        "POST /tenders/<int:tender_id>/awards/<int:award_id>/cancel",
        "POST /api/v1/tenders/<int:tender_id>/awards/<int:award_id>/cancel",
        cancel_an_award,
        {"officer"},
    ),
    _operation(
        "issue the contract and order of an award",
        "POST /tenders/<int:tender_id>/complete",
        "POST /api/v1/tenders/<int:tender_id>/complete",
        complete_an_award,
        {"officer"},
    ),
    _operation(
        "close a tender as unsuccessful",
        "POST /tenders/<int:tender_id>/unsuccessful",
        "POST /api/v1/tenders/<int:tender_id>/unsuccessful",
        close_a_tender_as_unsuccessful,
        {"officer"},
    ),
]

# --- proc-catalogue ---
# The recycled-product catalogue: products of the verified manufacturer "maker" (or the
# actor's own manufacturer), a direct purchase by the city's procurement officer, the order's
# delivery and its invoice settled by a recorded bank transfer, the agency's policy.


def _catalogue_category(w: World):
    from proc_catalogue_factories import make_category

    return make_category(w.db)


def _catalogue_covered(w: World, org) -> None:
    from proc_catalogue_factories import give_custody

    give_custody(w.db, org, 10)


def _catalogue_body(w: World, **fields) -> dict:
    from proc_catalogue_factories import FILE

    return FILE | {"category_id": _catalogue_category(w).id} | fields


def _catalogue_product(w: World, actor: str):
    from proc_catalogue_factories import make_product

    owner = _owner(w, actor, "manufacturer")
    _catalogue_covered(w, owner)
    return make_product(w.db, owner, _catalogue_category(w))


def list_a_catalogue_product(w: World, actor: str) -> Doors:
    from market.models import CatalogueProduct

    _catalogue_covered(w, w.org_of(actor))
    body = _catalogue_body(w)
    return Doors(
        ("POST", "/catalogue/products/new", _form(body)),
        ("POST", "/api/v1/catalogue/products", body),
        _grew(w, CatalogueProduct),
    )


def change_a_catalogue_product(w: World, actor: str) -> Doors:
    from market.models import CatalogueProduct

    product = _catalogue_product(w, actor)
    body = _catalogue_body(w, name_en="Edited")

    def done() -> bool:
        w.db.expire_all()
        return w.db.get(CatalogueProduct, product.id).name_en == "Edited"

    return Doors(
        ("POST", f"/catalogue/products/{product.id}/edit", _form(body)),
        ("PUT", f"/api/v1/catalogue/products/{product.id}", body),
        done,
    )


def withdraw_a_catalogue_product(w: World, actor: str) -> Doors:
    from market.models import CatalogueProduct

    product = _catalogue_product(w, actor)
    return Doors(
        ("POST", f"/catalogue/products/{product.id}/withdraw", {}),
        ("POST", f"/api/v1/catalogue/products/{product.id}/withdraw", None),
        _status_is(w, CatalogueProduct, product.id, "withdrawn"),
    )


def buy_from_the_catalogue(w: World, actor: str) -> Doors:
    from market.models import PurchaseOrder

    product = _catalogue_product(w, "buyer admin")
    return Doors(
        ("POST", f"/catalogue/products/{product.id}/order", {"quantity": "12"}),
        ("POST", "/api/v1/catalogue/orders", {"product_id": product.id, "quantity": 12}),
        _grew(w, PurchaseOrder),
    )


def _catalogue_order(w: World):
    from contracts.public_orders import OrderIn, buy_direct
    from participants.actors import load_actor

    product = _catalogue_product(w, "buyer admin")
    officer = load_actor(w.db, w.members["officer"].id)
    order = buy_direct(w.db, officer, OrderIn(product_id=product.id, quantity=12))
    w.db.commit()
    return order


def mark_an_order_delivered(w: World, actor: str) -> Doors:
    from market.models import PurchaseOrder

    order = _catalogue_order(w)
    return Doors(
        ("POST", f"/catalogue/orders/{order.id}/delivered", {}),
        ("POST", f"/api/v1/catalogue/orders/{order.id}/delivered", None),
        _status_is(w, PurchaseOrder, order.id, "delivered"),
    )


def record_a_bank_transfer(w: World, actor: str) -> Doors:
    order = _catalogue_order(w)
    invoice = w.db.exec(select(Invoice).where(Invoice.purchase_order_id == order.id)).one()
    body = {"amount_jpy": invoice.total_jpy, "received_on": invoice.issued_on.isoformat()}
    return Doors(
        ("POST", f"/invoices/{invoice.id}/bank-transfer", _form(body)),
        ("POST", f"/api/v1/invoices/{invoice.id}/bank-transfer", body),
        _status_is(w, Invoice, invoice.id, "paid"),
    )


def set_the_procurement_policy(w: World, actor: str) -> Doors:
    from market.models import AgencyPolicy

    for policy in w.db.exec(select(AgencyPolicy)).all():
        w.db.delete(policy)
    w.db.commit()
    body = {"direct_purchase_threshold_jpy": 1_234_567, "rule_ja": "市契約規則"}

    def done() -> bool:
        w.db.expire_all()
        policy = w.db.get(AgencyPolicy, w.orgs["city"].id)
        return policy is not None and policy.direct_purchase_threshold_jpy == 1_234_567

    return Doors(
        ("POST", "/catalogue/policy", _form(body)),
        ("PUT", "/api/v1/procurement/policy", body),
        done,
    )


PRODUCT_MANAGERS = {"buyer admin", "buyer trader", "other manufacturer"}
OPERATIONS += [
    # traders and administrators of verified manufacturers, on their own products
    _operation(
        "list a catalogue product",
        "POST /catalogue/products/new",
        "POST /api/v1/catalogue/products",
        list_a_catalogue_product,
        PRODUCT_MANAGERS,
    ),
    _operation(
        "change a catalogue product",
        "POST /catalogue/products/<int:product_id>/edit",
        "PUT /api/v1/catalogue/products/<int:product_id>",
        change_a_catalogue_product,
        PRODUCT_MANAGERS,
    ),
    _operation(
        "withdraw a catalogue product",
        "POST /catalogue/products/<int:product_id>/withdraw",
        "POST /api/v1/catalogue/products/<int:product_id>/withdraw",
        withdraw_a_catalogue_product,
        PRODUCT_MANAGERS,
    ),
    # procurement officers of verified agencies only
    _operation(
        "buy from the catalogue",
        "POST /catalogue/products/<int:product_id>/order",
        "POST /api/v1/catalogue/orders",
        buy_from_the_catalogue,
        {"officer"},
    ),
    # the supplier's traders and administrators; other suppliers: no such order
    _operation(
        "mark an order delivered",
        "POST /catalogue/orders/<int:order_id>/delivered",
        "POST /api/v1/catalogue/orders/<int:order_id>/delivered",
        mark_an_order_delivered,
        {"buyer admin", "buyer trader"},
        {"seller admin", "seller trader", "other recycler", "other manufacturer"},
    ),
    # the seller's admins and signatories; other suppliers: no such invoice
    _operation(
        "record a bank transfer",
        "POST /invoices/<int:invoice_id>/bank-transfer",
        "POST /api/v1/invoices/<int:invoice_id>/bank-transfer",
        record_a_bank_transfer,
        {"buyer admin", "buyer signatory"},
        {"seller admin", "seller signatory", "other recycler", "other manufacturer"},
    ),
    # the agency's administrators and procurement officers
    _operation(
        "set the procurement policy",
        "POST /catalogue/policy",
        "PUT /api/v1/procurement/policy",
        set_the_procurement_policy,
        {"officer"},
    ),
]

# --- watch ---
WATCH_RECORD_BODY = {
    "direction": "export",
    "material": "waste_pcb",
    "route": "basel_act",
    "reference": "BA-2027-001",
    "country_export": "JP",
    "country_import": "KR",
    "valid_from": "2027-01-01",
    "valid_until": "2027-12-31",
    "consented_t": "500",
}


def watch_record(w: World, actor: str):
    """An active export record of the actor's organisation (recyclers and manufacturers), else
    of the verified recycler."""
    from market.models import MovementRecord

    org = w.org_of(actor)
    if org.kind not in ("recycler", "manufacturer"):
        org = w.orgs["recycler"]
    record = MovementRecord(
        organization_id=org.id,
        direction="export",
        material_code="waste_pcb",
        route="basel_act",
        reference="BA-1",
        country_export="JP",
        country_import="KR",
        valid_from=date(2027, 1, 1),
        valid_until=date(2027, 12, 31),
        consented_kg=500_000,
    )
    w.db.add(record)
    w.db.commit()
    return record


def watch_create_record(w: World, actor: str) -> Doors:
    from market.models import MovementRecord

    return Doors(
        ("POST", "/movements/new", _form(WATCH_RECORD_BODY)),
        ("POST", "/api/v1/movement-records", WATCH_RECORD_BODY),
        _grew(w, MovementRecord),
    )


def watch_edit_record(w: World, actor: str) -> Doors:
    from market.models import MovementRecord

    record = watch_record(w, actor)
    body = WATCH_RECORD_BODY | {"reference": "EDITED"}

    def done() -> bool:
        w.db.expire_all()
        return w.db.get(MovementRecord, record.id).reference == "EDITED"

    return Doors(
        ("POST", f"/movements/{record.id}/edit", _form(body)),
        ("PUT", f"/api/v1/movement-records/{record.id}", body),
        done,
    )


def watch_withdraw_record(w: World, actor: str) -> Doors:
    from market.models import MovementRecord

    record = watch_record(w, actor)
    return Doors(
        ("POST", f"/movements/{record.id}/withdraw", {}),
        ("POST", f"/api/v1/movement-records/{record.id}/withdraw", None),
        _status_is(w, MovementRecord, record.id, "withdrawn"),
    )


def watch_attach_record(w: World, actor: str) -> Doors:
    contract = _contract(w)
    record = watch_record(w, actor)

    def done() -> bool:
        w.db.expire_all()
        return w.db.get(OfftakeContract, contract.id).movement_record_id == record.id

    return Doors(
        ("POST", f"/contracts/{contract.id}/movement-record", {"movement_record_id": record.id}),
        (
            "PUT",
            f"/api/v1/contracts/{contract.id}/movement-record",
            {"movement_record_id": record.id},
        ),
        done,
    )


WATCH_MANAGERS = {
    "seller admin",
    "seller trader",
    "buyer admin",
    "buyer trader",
    "other recycler",
    "other manufacturer",
}
OPERATIONS += [
    # traders and administrators of verified recyclers and manufacturers, their own records
    _operation(
        "create a movement record",
        "POST /movements/new",
        "POST /api/v1/movement-records",
        watch_create_record,
        WATCH_MANAGERS,
    ),
    _operation(
        "edit a movement record",
        "POST /movements/<int:record_id>/edit",
        "PUT /api/v1/movement-records/<int:record_id>",
        watch_edit_record,
        WATCH_MANAGERS,
    ),
    _operation(
        "withdraw a movement record",
        "POST /movements/<int:record_id>/withdraw",
        "POST /api/v1/movement-records/<int:record_id>/withdraw",
        watch_withdraw_record,
        WATCH_MANAGERS,
    ),
    # a party's traders and administrators; other organisations: no such contract
    _operation(
        "attach a movement record to a draft contract",
        "POST /contracts/<int:contract_id>/movement-record",
        "PUT /api/v1/contracts/<int:contract_id>/movement-record",
        watch_attach_record,
        {"seller admin", "seller trader", "buyer admin", "buyer trader"},
        {"other recycler", "other manufacturer"},
    ),
]

# --- hub ---
# An administrator of an organisation outside Japan corrects its registration number (the
# try makes the actor's organisation a German one first).
HUB_REGISTRY_ID = "Köln HRB 48213"


def hub_set_the_registry_id(w: World, actor: str) -> Doors:
    org = w.org_of(actor)
    org.country, org.registry_id = "DE", None
    w.db.add(org)
    w.db.commit()

    def done() -> bool:
        w.db.expire_all()
        return w.db.get(type(org), org.id).registry_id == HUB_REGISTRY_ID

    return Doors(
        ("POST", "/organization/registry-id", {"registry-registry_id": HUB_REGISTRY_ID}),
        ("PUT", "/api/v1/organization/registry-id", {"registry_id": HUB_REGISTRY_ID}),
        done,
    )


OPERATIONS += [
    _operation(
        "set the registration number abroad",
        "POST /organization/registry-id",
        "PUT /api/v1/organization/registry-id",
        hub_set_the_registry_id,
        ADMINS,
    ),
]

# --- flows ---
# A standards body publishes a version whose consultation has closed without objection (a new
# version for every try).


def flows_publish_a_standard_version(w: World, actor: str) -> Doors:
    from datetime import UTC, datetime, timedelta

    from quality.models import StandardVersion

    base = w.db.get(StandardVersion, w.version)
    number = (
        w.db.exec(
            select(func.max(StandardVersion.number)).where(
                StandardVersion.standard_id == base.standard_id
            )
        ).one()
        + 1
    )
    version = StandardVersion(
        standard_id=base.standard_id,
        number=number,
        status="consultation",
        spec_json=base.spec_json,
        consultation_ends_at=datetime.now(UTC) - timedelta(days=1),
    )
    w.db.add(version)
    w.db.commit()
    return Doors(
        ("POST", f"/standards/HDPE-NAT-B/v{number}/publish", {"effective_from": "2027-01-01"}),
        (
            "POST",
            f"/api/v1/standards/HDPE-NAT-B/versions/{number}/publish",
            {"effective_from": "2027-01-01"},
        ),
        _status_is(w, StandardVersion, version.id, "published"),
    )


OPERATIONS += [
    _operation(
        "publish a standard version",
        "POST /standards/<code>/v<int:number>/publish",
        "POST /api/v1/standards/<code>/versions/<int:number>/publish",
        flows_publish_a_standard_version,
        {"standards body"},
    ),
]


def message_the_seller(w: World, actor: str) -> Doors:
    listing = _listing(w, w.orgs["recycler"])
    body = {"message": "Can you deliver 20 t in March?"}
    before = w.count(Notification)
    return Doors(
        ("POST", f"/listings/{listing.id}/message", body),
        ("POST", f"/api/v1/listings/{listing.id}/messages", body),
        lambda: w.count(Notification) > before,
    )


OPERATIONS += [
    # administrators, traders and signatories of verified organisations write to the seller of
    # a listing they may read; the seller's own listing is not one to write about (not found)
    _operation(
        "message the seller",
        "POST /listings/<int:listing_id>/message",
        "POST /api/v1/listings/<int:listing_id>/messages",
        message_the_seller,
        _verified_with({"admin", "trader", "signatory"}) - SELLERS,
        SELLERS - {"seller inspector"},
    ),
]

# State-changing endpoints with no page of the same operation, and why.
API_ONLY = {
    "POST /api/v1/tokens": "exchanges e-mail and password for a token: no acting member yet",
    "POST /api/v1/assessments": "grades the values sent; reads nothing confidential, stores nothing",
    "POST /api/v1/assay-settlements": "settles the values sent; stores nothing",
    "POST /api/v1/stripe/webhook": "Stripe calls it, signed with the webhook secret; no member",
}

# ---------------------------------------------------------------------------------------------
# The test


@pytest.fixture()
def world(db):
    seed_catalogue(db)
    version = latest_published(db, "HDPE-NAT-B")[1].id
    orgs = {key: make_org(db, kind=kind, status=status) for key, (kind, status) in ORGS.items()}
    members = {a: make_member(db, orgs[o], roles=r) for a, (o, r) in ACTORS.items()}
    db.add(PriceIndex(code="HDPE-JP", name_en="HDPE", name_ja="HDPE", material_code="hdpe"))
    db.commit()
    return World(db, version, orgs, members, "HDPE-JP")


def _page_outcome(response, done: bool) -> object:
    if response.status_code in (403, 404):
        return response.status_code
    if response.status_code in (200, 302, 303) and done:
        return "ok"
    return f"page {response.status_code}, not done"


def _api_outcome(response) -> object:
    if response.status_code in (200, 201, 202, 204):
        return "ok"
    if response.status_code in (403, 404):
        return response.status_code
    return f"api {response.status_code}: {response.get_json()}"


@pytest.mark.parametrize("operation", OPERATIONS, ids=[o.name for o in OPERATIONS])
def test_page_and_api_allow_and_deny_the_same_actors(app, world, api_token, operation):
    pages, apis = {}, {}
    for actor, member in world.members.items():
        client = app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        login(client, member.email)
        doors = operation.prepare(world, actor)
        method, url, form = doors.page
        pages[actor] = _page_outcome(client.open(url, method=method, data=form), doors.done())
        method, url, body = operation.prepare(world, actor).api
        headers = api_token(member.email)
        send = {"data": body.fields} if isinstance(body, Multipart) else {"json": body}
        apis[actor] = _api_outcome(client.open(url, method=method, headers=headers, **send))
    assert pages == operation.expected()
    assert apis == operation.expected()


def test_every_endpoint_is_allowed_to_someone_and_denied_to_someone_else():
    # A table row that only allows (or only denies) would not show that page and API agree on
    # the line between the two; an endpoint's rows together must draw that line.
    by_endpoint: dict[str, set] = {}
    for operation in OPERATIONS:
        by_endpoint.setdefault(operation.api_rule, set()).update(operation.expected().values())
    for endpoint, outcomes in by_endpoint.items():
        assert "ok" in outcomes and outcomes & {403, 404}, endpoint


def _rules(app, prefix_api: bool) -> set[str]:
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") != prefix_api:
            continue
        for method in rule.methods - {"GET", "HEAD", "OPTIONS"}:
            out.add(f"{method} {rule.rule}")
    return out


def test_every_state_changing_endpoint_is_listed(app):
    listed = {o.api_rule for o in OPERATIONS} | set(API_ONLY)
    assert _rules(app, prefix_api=True) - listed == set()
    pages = _rules(app, prefix_api=False)
    assert {o.page_rule for o in OPERATIONS} - pages == set()
