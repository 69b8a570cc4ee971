"""API: candidates for a request, matching proposals, the operator's allocation run, drafts.

Each side sees its own view of a proposal: a seller never sees the buyer's limit price.
"""

from flask import current_app, g, request
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from contracts.drafting import (
    accept_proposal,
    decline_proposal,
    draft_from_listing,
    draft_from_request,
    drafts_for_org,
)
from contracts.models import ContractTerms, OfftakeContract
from market.listings import kg_to_tonnes
from market.matching import (
    candidates_for_request,
    parse_month,
    proposal_view,
    proposals_for_org,
    run_market_allocation,
)
from market.models import MatchRun
from market.participants import record_audit, require_operator
from web.api import api_bp, parse_body, token_required
from web.api.openapi import schema
from web.config import transport_rates
from web.db import get_db


@schema
class CandidateOut(BaseModel):
    listing_id: int
    organization_id: int
    title: str
    grade_version_id: int
    stricter_grade: bool
    available_t: str
    minimum_t: str
    incoterm: str
    incoterm_place: str
    price_ok: bool
    score: int
    explanation: dict


@schema
class ProposalOut(BaseModel):
    id: int
    run_id: int | None
    side: str = Field(description="seller | buyer: the caller's side")
    status: str
    listing_id: int
    request_id: int
    monthly_t: str
    overlap_months: int
    my_decision: str | None
    other_decision: str | None
    created_at: str | None
    explanation: dict = Field(description="score breakdown; never the counterparty's limit")


@schema
class DecisionOut(BaseModel):
    proposal: ProposalOut
    contract_id: int | None


@schema
class MatchRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str | None = Field(default=None, max_length=7, description="YYYY-MM; default now")


@schema
class MatchRunOut(BaseModel):
    id: int
    month: str
    n_listings: int
    n_requests: int
    n_edges: int
    n_proposals: int
    surplus_jpy: int
    lp_bound_jpy: int
    solver_ms: int
    started_at: str | None
    finished_at: str | None


@schema
class ContractDraftOut(BaseModel):
    id: int
    status: str
    side: str
    seller_org_id: int
    buyer_org_id: int
    listing_id: int | None
    request_id: int | None
    proposal_id: int | None
    material_code: str
    terms: dict


def run_json(run: MatchRun) -> dict:
    return MatchRunOut(
        id=run.id,
        month=run.month.strftime("%Y-%m"),
        n_listings=run.n_listings,
        n_requests=run.n_requests,
        n_edges=run.n_edges,
        n_proposals=run.n_proposals,
        surplus_jpy=run.surplus_jpy,
        lp_bound_jpy=run.lp_bound_jpy,
        solver_ms=run.solver_ms,
        started_at=run.started_at.isoformat() if run.started_at else None,
        finished_at=run.finished_at.isoformat() if run.finished_at else None,
    ).model_dump()


def terms_json(t: ContractTerms) -> dict:
    return {
        "version": t.version,
        "start_month": t.start_month.strftime("%Y-%m"),
        "term_months": t.term_months,
        "monthly_t": str(kg_to_tonnes(t.monthly_kg)),
        "tolerance_pct": str(t.tolerance_pct),
        "take_or_pay_pct": str(t.take_or_pay_pct),
        "incoterm": t.incoterm,
        "incoterm_place": t.incoterm_place,
        "standard_version_id": t.standard_version_id,
        "price_kind": t.price_kind,
        "fixed_price_jpy_per_t": t.fixed_price_jpy_per_t,
        "index_id": t.index_id,
        "index_factor": str(t.index_factor) if t.index_factor is not None else None,
        "premium_jpy_per_t": t.premium_jpy_per_t,
        "floor_jpy_per_t": t.floor_jpy_per_t,
        "cap_jpy_per_t": t.cap_jpy_per_t,
        "payment_days": t.payment_days,
    }


def contract_json(c: OfftakeContract, t: ContractTerms, org_id: int) -> dict:
    return ContractDraftOut(
        id=c.id,
        status=c.status,
        side="seller" if c.seller_org_id == org_id else "buyer",
        seller_org_id=c.seller_org_id,
        buyer_org_id=c.buyer_org_id,
        listing_id=c.listing_id,
        request_id=c.request_id,
        proposal_id=c.proposal_id,
        material_code=c.material_code,
        terms=terms_json(t),
    ).model_dump()


def _my_proposal(proposal_id: int) -> dict:
    for row in proposals_for_org(get_db(), g.caller.org.id, include_superseded=True):
        if row.proposal.id == proposal_id:
            return proposal_view(row.proposal, row.side, row.request.term_months)
    raise AssertionError("decided proposal not found")  # decide() checked ownership


@api_bp.get("/requests/<int:request_id>/candidates")
@token_required
def request_candidates(request_id: int):
    """Compatible listings for one of the caller's requests, best score first.
    ---
    get:
      summary: Candidates for my request
      security: [{bearer: []}]
      parameters:
        - {name: request_id, in: path, required: true, schema: {type: integer}}
        - {name: month, in: query, schema: {type: string, pattern: '^[0-9]{4}-[0-9]{2}$'},
           description: prices evaluated for this month (default the current month)}
      responses:
        '200':
          content:
            application/json:
              schema:
                type: object
                properties:
                  month: {type: string}
                  items: {type: array, items: {$ref: '#/components/schemas/CandidateOut'}}
        '404':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
        '422':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    month = parse_month(request.args.get("month"))
    items = candidates_for_request(
        get_db(), request_id, g.caller.org.id, month, rates=transport_rates(current_app.config)
    )
    return {"month": month.strftime("%Y-%m"), "items": items}


@api_bp.get("/proposals")
@token_required
def my_proposals():
    """The caller's organisation's proposals as seller or buyer (superseded ones left out).
    ---
    get:
      summary: My proposals
      security: [{bearer: []}]
      responses:
        '200':
          content:
            application/json:
              schema:
                type: object
                properties:
                  items: {type: array, items: {$ref: '#/components/schemas/ProposalOut'}}
    """
    rows = proposals_for_org(get_db(), g.caller.org.id)
    return {"items": [proposal_view(r.proposal, r.side, r.request.term_months) for r in rows]}


@api_bp.post("/proposals/<int:proposal_id>/accept")
@token_required
def accept(proposal_id: int):
    """Accept for the caller's organisation; a contract draft once both sides accepted.
    ---
    post:
      summary: Accept a proposal
      security: [{bearer: []}]
      parameters:
        - {name: proposal_id, in: path, required: true, schema: {type: integer}}
      responses:
        '200':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/DecisionOut'}
        '403':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
        '404':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
        '409':
          description: already decided, no longer open, or the volume is gone
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    db = get_db()
    contract = accept_proposal(db, g.caller.member, proposal_id)
    db.commit()
    return {"proposal": _my_proposal(proposal_id), "contract_id": contract.id if contract else None}


@api_bp.post("/proposals/<int:proposal_id>/decline")
@token_required
def decline(proposal_id: int):
    """Decline for the caller's organisation (declines the proposal for both sides).
    ---
    post:
      summary: Decline a proposal
      security: [{bearer: []}]
      parameters:
        - {name: proposal_id, in: path, required: true, schema: {type: integer}}
      responses:
        '200':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/DecisionOut'}
        '403':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
        '404':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
        '409':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    db = get_db()
    decline_proposal(db, g.caller.member, proposal_id)
    db.commit()
    return {"proposal": _my_proposal(proposal_id), "contract_id": None}


@api_bp.post("/matching/runs")
@token_required
def create_run():
    """Run the market-wide allocation for a month (operator only).
    ---
    post:
      summary: Run the matching
      security: [{bearer: []}]
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/MatchRunIn'}
      responses:
        '201':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/MatchRunOut'}
        '403':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
        '422':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    db = get_db()
    require_operator(db, g.caller.member)
    body = parse_body(MatchRunIn) if request.get_data() else MatchRunIn()
    run = run_market_allocation(
        db,
        parse_month(body.month),
        run_by_member_id=g.caller.member.id,
        rates=transport_rates(current_app.config),
    )
    record_audit(
        db,
        g.caller.member,
        "matching.run",
        "matchrun",
        run.id,
        {"month": run.month.isoformat(), "proposals": run.n_proposals},
    )
    db.commit()
    return run_json(run), 201


@api_bp.get("/contracts")
@token_required
def my_contracts():
    """The caller's organisation's contract drafts with their latest terms.
    ---
    get:
      summary: My contract drafts
      security: [{bearer: []}]
      responses:
        '200':
          content:
            application/json:
              schema:
                type: object
                properties:
                  items: {type: array, items: {$ref: '#/components/schemas/ContractDraftOut'}}
    """
    org_id = g.caller.org.id
    return {"items": [contract_json(c, t, org_id) for c, t in drafts_for_org(get_db(), org_id)]}


@schema
class DraftFromListingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    monthly_t: str = Field(description="tonnes a month, kg precision", max_length=20)
    start_month: str = Field(description="YYYY-MM", max_length=7)
    term_months: int = Field(ge=1, le=120)


@schema
class DraftFromRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    listing_id: int = Field(description="one of the caller's own open listings")
    monthly_t: str = Field(max_length=20)
    start_month: str | None = Field(default=None, max_length=7)
    term_months: int | None = Field(default=None, ge=1, le=120)


def _draft_json(contract: OfftakeContract) -> dict:
    terms = (
        get_db()
        .exec(
            select(ContractTerms)
            .where(ContractTerms.contract_id == contract.id)
            .order_by(col(ContractTerms.version).desc())
        )
        .first()
    )
    return contract_json(contract, terms, g.caller.org.id)


@api_bp.post("/listings/<int:listing_id>/drafts")
@token_required
def draft_from_listing_api(listing_id: int):
    """A manufacturer starts a contract draft straight from a listing (reserves nothing).
    ---
    post:
      summary: Start a contract draft from a listing
      security: [{bearer: []}]
      parameters:
        - {name: listing_id, in: path, required: true, schema: {type: integer}}
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/DraftFromListingIn'}
      responses:
        '201':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/ContractDraftOut'}
        '403': {description: not a verified manufacturer with a dealing role}
        '404': {description: no such visible listing}
        '409': {description: the listing is not open or lacks the volume}
        '422':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    body = parse_body(DraftFromListingIn)
    db = get_db()
    contract = draft_from_listing(
        db, g.caller.member, listing_id, body.monthly_t, body.start_month, body.term_months
    )
    db.commit()
    return _draft_json(contract), 201


@api_bp.post("/requests/<int:request_id>/drafts")
@token_required
def draft_from_request_api(request_id: int):
    """A recycler answers a request from one of its own listings (reserves nothing).
    ---
    post:
      summary: Start a contract draft from a request
      security: [{bearer: []}]
      parameters:
        - {name: request_id, in: path, required: true, schema: {type: integer}}
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/DraftFromRequestIn'}
      responses:
        '201':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/ContractDraftOut'}
        '403': {description: not a verified recycler with a dealing role}
        '404': {description: no such open request or own listing}
        '409': {description: not enough volume}
        '422':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    body = parse_body(DraftFromRequestIn)
    db = get_db()
    contract = draft_from_request(
        db,
        g.caller.member,
        request_id,
        body.listing_id,
        body.monthly_t,
        body.start_month,
        body.term_months,
    )
    db.commit()
    return _draft_json(contract), 201
