"""Matching on the database: compatibility, allocation run, proposals, decisions, drafts."""

import json
from datetime import date
from decimal import Decimal

import pytest
from factories import as_actor, make_listing, make_member, make_org, make_request
from sqlmodel import func, select

from contracts.drafting import (
    DraftFromListingIn,
    DraftFromRequestIn,
    accept_proposal,
    decline_proposal,
    draft_from_listing,
    draft_from_request,
)
from contracts.models import ContractTerms, OfftakeContract
from market.listings import commit_volume
from market.matching import (
    candidates_for_request,
    decide,
    grade_acceptance,
    load_sides,
    proposal_out,
    proposals_for_org,
    run_market_allocation,
)
from market.models import MatchRun, Notification, OfftakeRequest, Proposal, SupplyListing
from participants.actors import SYSTEM
from participants.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from quality.catalogue import latest_published, seed_catalogue

TODAY = date(2026, 11, 24)
MONTH = date(2027, 1, 1)
LIMIT = 87_654  # a buyer limit that must never reach the seller


@pytest.fixture()
def mk(db):
    seed_catalogue(db)
    recycler = make_org(db, kind="recycler", lat=35.86, lon=139.65)
    recycler2 = make_org(db, kind="recycler", lat=35.86, lon=139.65)
    maker = make_org(db, kind="manufacturer", lat=35.45, lon=139.64)
    maker2 = make_org(db, kind="manufacturer", lat=35.45, lon=139.64)
    versions = {
        code: latest_published(db, code)[1].id
        for code in ("HDPE-NAT-A", "HDPE-NAT-B", "HDPE-NAT-C", "ISRI-BIRCH-CLIFF")
    }
    return {
        "db": db,
        "recycler": recycler,
        "recycler2": recycler2,
        "maker": maker,
        "maker2": maker2,
        "seller": make_member(db, recycler, roles="signatory"),
        "seller2": make_member(db, recycler2, roles="trader"),
        "buyer": make_member(db, maker, roles="signatory"),
        "buyer2": make_member(db, maker2, roles="signatory"),
        "v": versions,
    }


EXPIRY = date(2027, 6, 30)


def add_listing(db, org, version_id, material="hdpe", **fields) -> SupplyListing:
    """The factory listing, expiring at the end of June 2027 unless told otherwise."""
    return make_listing(
        db, org, version_id, material_code=material, **({"expires_on": EXPIRY} | fields)
    )


def add_request(db, org, version_id, material="hdpe", **fields) -> OfftakeRequest:
    """The factory request (delivered to the Yokohama plant), expiring with the listings."""
    values = {
        "expires_on": EXPIRY,
        "delivery_place": "Yokohama plant",
        "max_price_jpy_per_t": LIMIT,
    }
    return make_request(db, org, version_id, material_code=material, **(values | fields))


def count(db, model, *where) -> int:
    return db.exec(select(func.count()).select_from(model).where(*where)).one()


def run(db, month=MONTH):
    """The market-wide run as the marketplace itself (the CLI and jobs)."""
    return run_market_allocation(db, SYSTEM, month, today=TODAY)


def candidates(db, member, request_id, month=MONTH):
    found = candidates_for_request(db, as_actor(db, member), request_id, month, today=TODAY)
    return [c.model_dump(mode="json") for c in found.items]


def from_listing(monthly_t, start_month, term_months) -> DraftFromListingIn:
    return DraftFromListingIn(monthly_t=monthly_t, start_month=start_month, term_months=term_months)


def from_request(listing_id, monthly_t, **period) -> DraftFromRequestIn:
    return DraftFromRequestIn(listing_id=listing_id, monthly_t=monthly_t, **period)


# --- compatibility ---------------------------------------------------------------------------


def test_grade_acceptance_same_version_and_published_stricter_ones(mk):
    db, v = mk["db"], mk["v"]
    strict = add_request(db, mk["maker"], v["HDPE-NAT-C"])
    exact = add_request(db, mk["maker"], v["HDPE-NAT-C"], accept_stricter=False)
    got = grade_acceptance(db, [strict, exact])
    assert got[strict.id] == {v["HDPE-NAT-A"], v["HDPE-NAT-B"], v["HDPE-NAT-C"]}
    assert got[exact.id] == {v["HDPE-NAT-C"]}


def test_candidates_apply_material_grade_period_minimum_and_visibility(mk):
    db, v = mk["db"], mk["v"]
    request = add_request(db, mk["maker"], v["HDPE-NAT-B"])
    ok = add_listing(db, mk["recycler"], v["HDPE-NAT-B"])
    stricter = add_listing(db, mk["recycler"], v["HDPE-NAT-A"], fixed_price_jpy_per_t=75_000)
    add_listing(db, mk["recycler"], v["HDPE-NAT-C"])  # laxer grade
    add_listing(db, mk["recycler"], v["ISRI-BIRCH-CLIFF"], material="copper_scrap")
    add_listing(db, mk["recycler"], v["HDPE-NAT-B"], available_from=date(2027, 9, 1))  # period
    add_listing(db, mk["recycler"], v["HDPE-NAT-B"], min_kg_per_contract=70_000)  # > need
    add_listing(db, mk["recycler"], v["HDPE-NAT-B"], committed_kg=90_000)  # avail < minimum
    add_listing(
        db,
        mk["recycler"],
        v["HDPE-NAT-B"],
        visibility="invited",
        invited_org_ids=str(mk["maker2"].id),
    )
    invited = add_listing(
        db,
        mk["recycler"],
        v["HDPE-NAT-B"],
        visibility="invited",
        invited_org_ids=str(mk["maker"].id),
    )
    add_listing(db, mk["recycler"], v["HDPE-NAT-B"], status="draft")

    found = candidates(db, mk["buyer"], request.id)
    assert {c["listing_id"] for c in found} == {ok.id, stricter.id, invited.id}
    scores = [c["score"] for c in found]
    assert scores == sorted(scores, reverse=True)
    by_id = {c["listing_id"]: c for c in found}
    assert by_id[stricter.id]["explanation"]["grade_margin"]["score"] == 1.0
    assert by_id[ok.id]["explanation"]["grade_margin"]["score"] == 0.0  # no assay
    assert by_id[ok.id]["explanation"]["limit_jpy_per_t"] == LIMIT  # the buyer's own limit
    assert set(by_id[ok.id]["explanation"]) >= {"price_spread", "transport", "term_fit", "score"}


def test_only_the_requests_own_organisation_sees_its_candidates(mk):
    db = mk["db"]
    request = add_request(db, mk["maker"], mk["v"]["HDPE-NAT-B"])
    with pytest.raises(NotFound):
        candidates(db, mk["buyer2"], request.id)
    with pytest.raises(NotFound):
        candidates(db, mk["buyer"], 999_999)


def test_load_sides_evaluates_index_prices_and_skips_items_without_one(mk):
    from market.models import IndexValue, PriceIndex

    db, v = mk["db"], mk["v"]
    index = PriceIndex(code="HDPE-IDX", name_en="HDPE", name_ja="HDPE", material_code="hdpe")
    db.add(index)
    db.commit()
    db.add(IndexValue(index_id=index.id, month=date(2026, 12, 1), value_jpy_per_t=80_000))
    db.commit()
    linked = add_listing(
        db,
        mk["recycler"],
        v["HDPE-NAT-B"],
        price_kind="index",
        fixed_price_jpy_per_t=None,
        index_id=index.id,
        index_factor=Decimal("0.9"),
        premium_jpy_per_t=1_000,
    )
    add_listing(db, mk["recycler"], v["HDPE-NAT-B"], committed_kg=100_000)  # nothing left
    add_listing(db, mk["recycler"], v["HDPE-NAT-B"], expires_on=date(2026, 11, 1))  # expired
    add_request(db, mk["maker"], v["HDPE-NAT-B"], filled_kg=15_000)
    supplies, demands, listings, requests = load_sides(db, MONTH, today=TODAY)
    assert [s.id for s in supplies] == [linked.id]
    assert supplies[0].ask_jpy_per_t == 73_000  # 80,000 × 0.9 + 1,000
    assert supplies[0].available_t == Decimal("100.000")
    assert demands[0].need_t == Decimal("45.000")
    # before the index has any value the linked listing has no price and is skipped
    supplies, *_ = load_sides(db, date(2026, 6, 1), today=TODAY)
    assert supplies == []


# --- allocation run ----------------------------------------------------------------------------


def test_run_writes_proposals_and_supersedes_them_on_re_run(mk):
    db, v = mk["db"], mk["v"]
    listing = add_listing(db, mk["recycler"], v["HDPE-NAT-B"])
    request = add_request(db, mk["maker"], v["HDPE-NAT-B"])
    add_request(db, mk["maker2"], v["HDPE-NAT-B"], monthly_kg=30_000)
    first = run(db)
    db.commit()
    assert (first.n_listings, first.n_requests, first.n_edges) == (1, 2, 2)
    assert first.n_proposals == 2
    assert first.surplus_jpy > 0 and first.lp_bound_jpy >= first.surplus_jpy
    proposals = db.exec(select(Proposal).order_by(Proposal.request_id)).all()
    assert sum(p.monthly_kg for p in proposals) == 90_000  # 60 t + 30 t out of 100 t
    first = next(p for p in proposals if p.request_id == request.id)
    assert first.listing_id == listing.id and first.ask_jpy_per_t == 70_000
    assert first.limit_jpy_per_t == LIMIT and first.score > 0

    again = run(db)
    db.commit()
    assert again.n_proposals == 2
    assert count(db, Proposal, Proposal.status == "superseded") == 2
    assert count(db, Proposal, Proposal.status == "proposed", Proposal.run_id == again.id) == 2


def test_a_run_records_a_plain_min_cost_flow_as_proven_optimal_with_no_gap(mk):
    db, v = mk["db"], mk["v"]
    add_listing(db, mk["recycler"], v["HDPE-NAT-B"])
    add_request(db, mk["maker"], v["HDPE-NAT-B"])
    add_request(db, mk["maker2"], v["HDPE-NAT-B"], monthly_kg=30_000)  # above the 20 t minimum
    recorded = run(db)
    db.commit()
    db.expire_all()
    stored = db.get(MatchRun, recorded.id)
    assert (stored.solver_method, stored.mip_gap, stored.optimal) == ("mcf", 0.0, True)


def binding_minimum(mk) -> None:
    """60 t wanted; 50 t on offer cheaply and 100 t dearer with a 40 t minimum: the flow without
    minimums buys 50 t + 10 t, short of the second listing's minimum."""
    db, v = mk["db"], mk["v"]
    add_listing(db, mk["recycler"], v["HDPE-NAT-B"], monthly_kg=50_000)
    add_listing(
        db,
        mk["recycler2"],
        v["HDPE-NAT-B"],
        min_kg_per_contract=40_000,
        fixed_price_jpy_per_t=75_000,
    )
    add_request(db, mk["maker"], v["HDPE-NAT-B"])


def test_a_run_records_the_exact_model_its_proven_gap_and_optimality_when_minimums_bind(mk):
    db = mk["db"]
    binding_minimum(mk)
    recorded = run(db)
    db.commit()
    db.expire_all()
    stored = db.get(MatchRun, recorded.id)
    assert stored.solver_method == "mcf+mip" and stored.optimal is True
    assert 0.0 <= stored.mip_gap <= 1e-4  # HiGHS proves it: 0.0 here
    assert (stored.n_proposals, stored.surplus_jpy, stored.lp_bound_jpy) == (1, 825_700, 940_840)


def test_a_run_out_of_time_for_the_exact_model_records_its_proven_gap_as_not_optimal(mk):
    db = mk["db"]
    binding_minimum(mk)
    recorded = run_market_allocation(db, SYSTEM, MONTH, today=TODAY, time_limit_s=0)
    db.commit()
    db.expire_all()
    stored = db.get(MatchRun, recorded.id)
    assert stored.solver_method == "mcf+rounding" and stored.optimal is False
    # No exact model ran: the heuristic's 50 t is measured against the flow's bound.
    assert (stored.surplus_jpy, stored.lp_bound_jpy) == (825_700, 940_840)
    assert stored.mip_gap == pytest.approx((940_840 - 825_700) / 940_840)  # 12.2 %


def test_re_run_keeps_half_accepted_proposals_and_never_duplicates_accepted_ones(mk):
    db, v = mk["db"], mk["v"]
    add_listing(db, mk["recycler"], v["HDPE-NAT-B"])
    add_request(db, mk["maker"], v["HDPE-NAT-B"])
    run(db)
    db.commit()
    p = db.exec(select(Proposal)).one()
    decide(db, as_actor(db, mk["seller"]), p.id, accept=True)
    db.commit()
    run(db)
    db.commit()
    assert db.exec(select(Proposal)).all() == [p]  # kept, no duplicate of the pair
    contract = accept_proposal(db, as_actor(db, mk["buyer"]), p.id).contract
    db.commit()
    assert contract is not None
    rerun = run(db)
    db.commit()
    assert rerun.n_proposals == 0  # the request is filled
    assert count(db, Proposal) == 1


def test_the_sellers_view_never_contains_the_buyers_limit(mk):
    db, v = mk["db"], mk["v"]
    add_listing(db, mk["recycler"], v["HDPE-NAT-B"])
    add_request(db, mk["maker"], v["HDPE-NAT-B"])
    run(db)
    db.commit()
    [seller_row] = proposals_for_org(db, as_actor(db, mk["seller"]))
    [buyer_row] = proposals_for_org(db, as_actor(db, mk["buyer"]))
    assert (seller_row.side, buyer_row.side) == ("seller", "buyer")
    seller_view = proposal_out(seller_row).model_dump(mode="json")
    text = json.dumps(seller_view)
    assert str(LIMIT) not in text and "limit" not in text
    spread = LIMIT - seller_row.proposal.ask_jpy_per_t - seller_row.proposal.transport_jpy_per_t
    assert str(spread) not in text
    assert seller_view["explanation"]["ask_jpy_per_t"] == 70_000
    buyer_view = proposal_out(buyer_row).model_dump(mode="json")
    assert buyer_view["explanation"]["limit_jpy_per_t"] == LIMIT
    assert proposals_for_org(db, as_actor(db, mk["buyer2"])) == []


# --- decisions and drafts ----------------------------------------------------------------------


def _one_proposal(mk, **listing_fields):
    db, v = mk["db"], mk["v"]
    listing = add_listing(db, mk["recycler"], v["HDPE-NAT-A"], **listing_fields)
    request = add_request(db, mk["maker"], v["HDPE-NAT-B"])
    run(db)
    db.commit()
    return listing, request, db.exec(select(Proposal)).one()


def test_decline_by_either_side_declines_and_a_side_decides_once(mk):
    db = mk["db"]
    _, _, p = _one_proposal(mk)
    with pytest.raises(NotFound):
        decide(db, as_actor(db, mk["buyer2"]), p.id, accept=True)
    decide(db, as_actor(db, mk["buyer"]), p.id, accept=True)
    db.commit()
    with pytest.raises(Conflict):
        decide(db, as_actor(db, mk["buyer"]), p.id, accept=False)
    db.rollback()
    declined = decline_proposal(db, as_actor(db, mk["seller"]), p.id).row.proposal
    db.commit()
    assert declined.status == "declined" and declined.seller_decision == "decline"
    with pytest.raises(Conflict):
        accept_proposal(db, as_actor(db, mk["buyer"]), p.id)
    db.rollback()
    assert count(db, OfftakeContract) == 0


def test_both_accept_gives_one_draft_with_the_proposed_terms_and_commits_volume(mk):
    db = mk["db"]
    listing, request, p = _one_proposal(mk)
    assert accept_proposal(db, as_actor(db, mk["seller"]), p.id).contract is None
    db.commit()
    contract = accept_proposal(db, as_actor(db, mk["buyer"]), p.id).contract
    db.commit()
    assert contract.status == "draft" and contract.proposal_id == p.id
    assert (contract.seller_org_id, contract.buyer_org_id) == (mk["recycler"].id, mk["maker"].id)
    terms = db.exec(select(ContractTerms).where(ContractTerms.contract_id == contract.id)).one()
    assert terms.version == 1
    assert terms.start_month == date(2027, 3, 1)  # max(listing Jan, request Mar)
    assert terms.term_months == 6  # overlap of Jan–Dec with Mar–Aug
    assert terms.monthly_kg == p.monthly_kg == 60_000
    assert (terms.incoterm, terms.incoterm_place) == ("FCA", "Saitama yard")
    assert terms.standard_version_id == listing.standard_version_id  # the listing's grade
    assert (terms.price_kind, terms.fixed_price_jpy_per_t) == ("fixed", 70_000)
    assert (terms.tolerance_pct, terms.take_or_pay_pct, terms.payment_days) == (
        Decimal("5"),
        Decimal("80"),
        30,
    )
    db.refresh(listing)
    db.refresh(request)
    assert listing.committed_kg == 60_000 and request.filled_kg == 60_000
    assert db.get(Proposal, p.id).status == "accepted"
    assert count(db, OfftakeContract) == 1


def test_acceptance_needs_a_verified_organisation_and_a_dealing_role(mk):
    db = mk["db"]
    _, _, p = _one_proposal(mk)
    inspector = make_member(db, mk["maker"], roles="inspector")
    with pytest.raises(PermissionDenied):
        accept_proposal(db, as_actor(db, inspector), p.id)
    mk["maker"].status = "unverified"
    db.add(mk["maker"])
    db.commit()
    with pytest.raises(PermissionDenied):
        accept_proposal(db, as_actor(db, mk["buyer"]), p.id)


def test_a_proposal_that_can_no_longer_be_honoured_writes_nothing(mk):
    db = mk["db"]
    listing, request, p = _one_proposal(mk)
    accept_proposal(db, as_actor(db, mk["seller"]), p.id)
    db.commit()
    # meanwhile the seller's volume was committed to another contract
    commit_volume(db, listing.id, 50_000)
    db.commit()
    with pytest.raises(Conflict, match="no longer be honoured"):
        accept_proposal(db, as_actor(db, mk["buyer"]), p.id)
    db.rollback()
    db.refresh(request)
    assert request.filled_kg == 0
    assert db.get(Proposal, p.id).status == "proposed"
    assert count(db, OfftakeContract) == 0


def test_draft_from_listing_checks_volume_and_period_but_reserves_nothing(mk):
    db, v = mk["db"], mk["v"]
    listing = add_listing(db, mk["recycler"], v["HDPE-NAT-B"])
    buyer = as_actor(db, mk["buyer"])
    contract = draft_from_listing(db, buyer, listing.id, from_listing("40", "2027-02", 10))
    db.commit()
    terms = db.exec(select(ContractTerms).where(ContractTerms.contract_id == contract.id)).one()
    assert (terms.start_month, terms.term_months, terms.monthly_kg) == (
        date(2027, 2, 1),
        10,
        40_000,
    )
    assert contract.request_id is None
    db.refresh(listing)
    assert listing.committed_kg == 0  # a one-sided draft reserves nothing
    with pytest.raises(ValidationFailed):
        draft_from_listing(db, buyer, listing.id, from_listing("20", "2027-06", 12))  # past Dec
    with pytest.raises(ValidationFailed):
        draft_from_listing(db, buyer, listing.id, from_listing("10", "2027-02", 3))  # < minimum
    with pytest.raises(Conflict):
        draft_from_listing(db, buyer, listing.id, from_listing("101", "2027-02", 3))  # 100 t
    with pytest.raises(PermissionDenied):  # a recycler
        draft_from_listing(
            db, as_actor(db, mk["seller2"]), listing.id, from_listing("20", "2027-02", 3)
        )


def test_draft_from_request_uses_an_own_acceptable_listing(mk):
    db, v = mk["db"], mk["v"]
    request = add_request(db, mk["maker"], v["HDPE-NAT-B"])
    laxer = add_listing(db, mk["recycler"], v["HDPE-NAT-C"])
    other = add_listing(db, mk["recycler2"], v["HDPE-NAT-B"])
    seller, seller2 = as_actor(db, mk["seller"]), as_actor(db, mk["seller2"])
    with pytest.raises(ValidationFailed):
        draft_from_request(db, seller, request.id, from_request(laxer.id, "30"))
    with pytest.raises(NotFound):
        draft_from_request(db, seller, request.id, from_request(other.id, "30"))
    contract = draft_from_request(db, seller2, request.id, from_request(other.id, "30"))
    db.commit()
    terms = db.exec(select(ContractTerms).where(ContractTerms.contract_id == contract.id)).one()
    assert (terms.start_month, terms.term_months) == (date(2027, 3, 1), 6)
    db.refresh(request)
    assert request.filled_kg == 0  # reserved only once both sides agree
    with pytest.raises(Conflict, match="does not need that much"):
        draft_from_request(db, seller2, request.id, from_request(other.id, "61"))  # needs 60 t


def test_invited_only_listing_is_never_proposed_to_an_uninvited_buyer(mk):
    db, v = mk["db"], mk["v"]
    listing = add_listing(
        db,
        mk["recycler"],
        v["HDPE-NAT-B"],
        visibility="invited",
        invited_org_ids=str(mk["maker2"].id),
    )
    add_request(db, mk["maker"], v["HDPE-NAT-B"])
    uninvited = run(db)
    db.commit()
    assert uninvited.n_proposals == 0
    listing.invited_org_ids = f"{mk['maker'].id}"
    db.add(listing)
    db.commit()
    invited = run(db)
    db.commit()
    assert invited.n_proposals == 1


def test_a_run_notifies_the_trading_members_of_both_sides_once(mk):
    db, v = mk["db"], mk["v"]
    add_listing(db, mk["recycler"], v["HDPE-NAT-B"])
    add_request(db, mk["maker"], v["HDPE-NAT-B"])
    match_run = run(db)
    db.commit()
    notes = db.exec(
        select(Notification).where(Notification.dedupe_key == f"matchrun:{match_run.id}")
    ).all()
    assert sorted(n.member_id for n in notes) == sorted([mk["seller"].id, mk["buyer"].id])
    assert all(n.link == "/proposals" for n in notes)


# --- who may (issue 7: authorisation inside the domain) ----------------------------------------


def _status(db, org, status: str) -> None:
    org.status = status
    db.add(org)
    db.commit()


def test_only_the_operator_or_the_marketplace_itself_runs_the_matching_and_is_audited(mk):
    from participants.models import AuditEntry

    db, v = mk["db"], mk["v"]
    add_listing(db, mk["recycler"], v["HDPE-NAT-B"])
    add_request(db, mk["maker"], v["HDPE-NAT-B"])
    with pytest.raises(PermissionDenied, match="Only the marketplace operator may do this."):
        run_market_allocation(db, as_actor(db, mk["buyer"]), MONTH, today=TODAY)
    db.rollback()
    assert count(db, MatchRun) == 0
    operator = make_member(db, make_org(db, kind="operator"), roles="admin")
    by_operator = run_market_allocation(db, as_actor(db, operator), MONTH, today=TODAY)
    by_system = run(db)
    db.commit()
    assert by_operator.run_by_member_id == operator.id and by_system.run_by_member_id is None
    entries = db.exec(
        select(AuditEntry).where(AuditEntry.action == "matching.run").order_by(AuditEntry.id)
    ).all()
    assert [(e.actor_member_id, e.actor_organization_id, e.target_id) for e in entries] == [
        (operator.id, operator.organization_id, by_operator.id),
        (None, None, by_system.id),  # the marketplace itself (CLI, demo, jobs)
    ]
    assert json.loads(entries[0].detail) == {"month": "2027-01-01", "proposals": 1}


@pytest.mark.parametrize("status", ["unverified", "suspended"])
def test_an_unverified_or_suspended_organisation_sees_no_candidates_or_proposals(mk, status):
    db, v = mk["db"], mk["v"]
    request = add_request(db, mk["maker"], v["HDPE-NAT-B"])
    add_listing(db, mk["recycler"], v["HDPE-NAT-B"])
    run(db)
    db.commit()
    _status(db, mk["maker"], status)
    buyer = as_actor(db, mk["buyer"])
    with pytest.raises(PermissionDenied):
        candidates_for_request(db, buyer, request.id, MONTH, today=TODAY)
    with pytest.raises(PermissionDenied):
        proposals_for_org(db, buyer)
    # the other side, still verified, keeps seeing the proposal
    assert len(proposals_for_org(db, as_actor(db, mk["seller"]))) == 1


def test_only_a_signatory_or_trader_of_one_side_decides(mk):
    db = mk["db"]
    _, _, p = _one_proposal(mk)
    admin = make_member(db, mk["maker"], roles="admin")
    with pytest.raises(PermissionDenied, match="Only a signatory or trader may do this."):
        accept_proposal(db, as_actor(db, admin), p.id)
    with pytest.raises(PermissionDenied):
        decline_proposal(db, as_actor(db, admin), p.id)
    with pytest.raises(NotFound, match="No such proposal."):
        accept_proposal(db, as_actor(db, mk["buyer2"]), p.id)  # a stranger: no hint it exists
    with pytest.raises(NotFound):
        decline_proposal(db, as_actor(db, mk["seller2"]), p.id)
    db.rollback()
    assert db.get(Proposal, p.id).buyer_decision is None
    trader = make_member(db, mk["maker"], roles="trader")
    assert accept_proposal(db, as_actor(db, trader), p.id).row.side == "buyer"


def test_drafts_need_a_verified_organisation_of_the_right_side_and_a_dealing_role(mk):
    db, v = mk["db"], mk["v"]
    listing = add_listing(db, mk["recycler"], v["HDPE-NAT-B"])
    request = add_request(db, mk["maker"], v["HDPE-NAT-B"])
    inspector = make_member(db, mk["maker"], roles="inspector")
    with pytest.raises(PermissionDenied, match="Only a signatory or trader may do this."):
        draft_from_listing(
            db, as_actor(db, inspector), listing.id, from_listing("25", "2027-02", 6)
        )
    with pytest.raises(PermissionDenied, match="cannot take this side"):
        draft_from_request(
            db, as_actor(db, mk["buyer"]), request.id, from_request(listing.id, "30")
        )
    _status(db, mk["maker2"], "unverified")
    with pytest.raises(PermissionDenied, match="Only members of verified organisations"):
        draft_from_listing(
            db, as_actor(db, mk["buyer2"]), listing.id, from_listing("25", "2027-02", 6)
        )
    assert count(db, OfftakeContract) == 0


def test_a_draft_from_a_request_defaults_the_missing_start_or_term_to_the_overlap(mk):
    db, v = mk["db"], mk["v"]
    request = add_request(db, mk["maker"], v["HDPE-NAT-B"])  # 2027-03 for 6 months
    listing = add_listing(db, mk["recycler"], v["HDPE-NAT-B"])  # 2027-01 for 12 months
    seller = as_actor(db, mk["seller"])
    later = draft_from_request(
        db, seller, request.id, from_request(listing.id, "30", start_month="2027-05")
    )
    shorter = draft_from_request(
        db, seller, request.id, from_request(listing.id, "30", term_months=2)
    )
    db.flush()
    terms = {
        t.contract_id: (t.start_month, t.term_months) for t in db.exec(select(ContractTerms)).all()
    }
    assert terms[later.id] == (date(2027, 5, 1), 4)  # to the end of the overlap (August)
    assert terms[shorter.id] == (date(2027, 3, 1), 2)
    with pytest.raises(ValidationFailed, match="outside the listing's or request's period"):
        draft_from_request(
            db, seller, request.id, from_request(listing.id, "30", start_month="2027-09")
        )


def test_domain_functions_flush_and_leave_the_commit_to_the_caller(mk):
    db, v = mk["db"], mk["v"]
    listing = add_listing(db, mk["recycler"], v["HDPE-NAT-B"])
    add_request(db, mk["maker"], v["HDPE-NAT-B"])
    run(db)
    db.rollback()
    assert (count(db, MatchRun), count(db, Proposal)) == (0, 0)
    run(db)
    db.commit()
    p = db.exec(select(Proposal)).one()
    accept_proposal(db, as_actor(db, mk["seller"]), p.id)
    assert accept_proposal(db, as_actor(db, mk["buyer"]), p.id).contract is not None
    draft_from_listing(db, as_actor(db, mk["buyer2"]), listing.id, from_listing("25", "2027-02", 6))
    db.rollback()
    db.refresh(listing)
    assert count(db, OfftakeContract) == 0 and listing.committed_kg == 0
    assert db.get(Proposal, p.id).status == "proposed"


def test_contracts_are_read_by_their_two_parties_only_in_any_state(mk):
    from contracts.drafting import drafts_for_org, own_contract

    db, v = mk["db"], mk["v"]
    listing = add_listing(db, mk["recycler"], v["HDPE-NAT-B"])
    contract = draft_from_listing(
        db, as_actor(db, mk["buyer"]), listing.id, from_listing("25", "2027-02", 6)
    )
    db.commit()
    with pytest.raises(NotFound, match="No such contract."):
        own_contract(db, as_actor(db, mk["buyer2"]), contract.id)
    assert drafts_for_org(db, as_actor(db, mk["seller2"])) == []
    _status(db, mk["maker"], "suspended")
    [(mine, terms)] = drafts_for_org(db, as_actor(db, mk["buyer"]))
    assert (mine.id, terms.monthly_kg) == (contract.id, 25_000)
    assert own_contract(db, as_actor(db, mk["seller"]), contract.id)[0].id == contract.id
    assert drafts_for_org(db, SYSTEM) == []  # the marketplace itself is no party


@pytest.mark.parametrize("status", ["unverified", "suspended"])
def test_an_unverified_or_suspended_organisations_listings_and_requests_are_not_matched(mk, status):
    db, v = mk["db"], mk["v"]
    ok = add_listing(db, mk["recycler"], v["HDPE-NAT-B"])
    add_listing(db, mk["recycler2"], v["HDPE-NAT-B"], fixed_price_jpy_per_t=60_000)  # cheaper
    request = add_request(db, mk["maker"], v["HDPE-NAT-B"])
    add_request(db, mk["maker2"], v["HDPE-NAT-B"], monthly_kg=30_000)
    _status(db, mk["recycler2"], status)
    _status(db, mk["maker2"], status)
    assert [c["listing_id"] for c in candidates(db, mk["buyer"], request.id)] == [ok.id]
    result = run(db)
    db.commit()
    assert (result.n_listings, result.n_requests, result.n_proposals) == (1, 1, 1)
    [p] = db.exec(select(Proposal)).all()
    assert (p.listing_id, p.request_id) == (ok.id, request.id)
