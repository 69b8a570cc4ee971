"""Matching on the database: compatibility, allocation run, proposals, decisions, drafts."""

import json
from datetime import date
from decimal import Decimal

import pytest
from factories import make_member, make_org
from sqlmodel import func, select

from contracts.drafting import (
    accept_proposal,
    decline_proposal,
    draft_from_listing,
    draft_from_request,
)
from contracts.models import ContractTerms, OfftakeContract
from market.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from market.listings import commit_volume
from market.matching import (
    candidates_for_request,
    grade_acceptance,
    load_sides,
    proposal_view,
    proposals_for_org,
    record_decision,
    run_market_allocation,
)
from market.models import Notification, OfftakeRequest, Proposal, SupplyListing
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


def add_listing(db, org, version_id, material="hdpe", **fields) -> SupplyListing:
    values = dict(
        organization_id=org.id,
        status="open",
        title="HDPE bales",
        material_code=material,
        standard_version_id=version_id,
        monthly_kg=100_000,
        min_kg_per_contract=20_000,
        available_from=date(2027, 1, 1),
        max_term_months=12,
        lat=35.86,
        lon=139.65,
        incoterm="FCA",
        incoterm_place="Saitama yard",
        price_kind="fixed",
        fixed_price_jpy_per_t=70_000,
        data_quality_level=1,
        expires_on=date(2027, 6, 30),
    )
    values.update(fields)
    listing = SupplyListing(**values)
    db.add(listing)
    db.commit()
    return listing


def add_request(db, org, version_id, material="hdpe", **fields) -> OfftakeRequest:
    values = dict(
        organization_id=org.id,
        status="open",
        title="HDPE for crates",
        material_code=material,
        standard_version_id=version_id,
        accept_stricter=True,
        monthly_kg=60_000,
        start_month=date(2027, 3, 1),
        term_months=6,
        delivery_place="Yokohama plant",
        lat=35.45,
        lon=139.64,
        price_kind="fixed",
        max_price_jpy_per_t=LIMIT,
        expires_on=date(2027, 6, 30),
    )
    values.update(fields)
    request = OfftakeRequest(**values)
    db.add(request)
    db.commit()
    return request


def count(db, model, *where) -> int:
    return db.exec(select(func.count()).select_from(model).where(*where)).one()


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

    found = candidates_for_request(db, request.id, mk["maker"].id, MONTH, today=TODAY)
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
        candidates_for_request(db, request.id, mk["maker2"].id, MONTH, today=TODAY)
    with pytest.raises(NotFound):
        candidates_for_request(db, 999_999, mk["maker"].id, MONTH, today=TODAY)


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
    run = run_market_allocation(db, MONTH, today=TODAY)
    db.commit()
    assert (run.n_listings, run.n_requests, run.n_edges) == (1, 2, 2)
    assert run.n_proposals == 2 and run.surplus_jpy > 0 and run.lp_bound_jpy >= run.surplus_jpy
    proposals = db.exec(select(Proposal).order_by(Proposal.request_id)).all()
    assert sum(p.monthly_kg for p in proposals) == 90_000  # 60 t + 30 t out of 100 t
    first = next(p for p in proposals if p.request_id == request.id)
    assert first.listing_id == listing.id and first.ask_jpy_per_t == 70_000
    assert first.limit_jpy_per_t == LIMIT and first.score > 0

    again = run_market_allocation(db, MONTH, today=TODAY)
    db.commit()
    assert again.n_proposals == 2
    assert count(db, Proposal, Proposal.status == "superseded") == 2
    assert count(db, Proposal, Proposal.status == "proposed", Proposal.run_id == again.id) == 2


def test_re_run_keeps_half_accepted_proposals_and_never_duplicates_accepted_ones(mk):
    db, v = mk["db"], mk["v"]
    add_listing(db, mk["recycler"], v["HDPE-NAT-B"])
    add_request(db, mk["maker"], v["HDPE-NAT-B"])
    run_market_allocation(db, MONTH, today=TODAY)
    db.commit()
    p = db.exec(select(Proposal)).one()
    record_decision(db, mk["recycler"].id, p.id, accept=True)
    db.commit()
    run_market_allocation(db, MONTH, today=TODAY)
    db.commit()
    assert db.exec(select(Proposal)).all() == [p]  # kept, no duplicate of the pair
    contract = accept_proposal(db, mk["buyer"], p.id)
    db.commit()
    assert contract is not None
    rerun = run_market_allocation(db, MONTH, today=TODAY)
    db.commit()
    assert rerun.n_proposals == 0  # the request is filled
    assert count(db, Proposal) == 1


def test_the_sellers_view_never_contains_the_buyers_limit(mk):
    db, v = mk["db"], mk["v"]
    add_listing(db, mk["recycler"], v["HDPE-NAT-B"])
    add_request(db, mk["maker"], v["HDPE-NAT-B"])
    run_market_allocation(db, MONTH, today=TODAY)
    db.commit()
    [seller_row] = proposals_for_org(db, mk["recycler"].id)
    [buyer_row] = proposals_for_org(db, mk["maker"].id)
    assert (seller_row.side, buyer_row.side) == ("seller", "buyer")
    seller_view = proposal_view(seller_row.proposal, "seller", seller_row.request.term_months)
    text = json.dumps(seller_view)
    assert str(LIMIT) not in text and "limit" not in text
    spread = LIMIT - seller_row.proposal.ask_jpy_per_t - seller_row.proposal.transport_jpy_per_t
    assert str(spread) not in text
    assert seller_view["explanation"]["ask_jpy_per_t"] == 70_000
    buyer_view = proposal_view(buyer_row.proposal, "buyer", buyer_row.request.term_months)
    assert buyer_view["explanation"]["limit_jpy_per_t"] == LIMIT
    assert proposals_for_org(db, mk["maker2"].id) == []


# --- decisions and drafts ----------------------------------------------------------------------


def _one_proposal(mk, **listing_fields):
    db, v = mk["db"], mk["v"]
    listing = add_listing(db, mk["recycler"], v["HDPE-NAT-A"], **listing_fields)
    request = add_request(db, mk["maker"], v["HDPE-NAT-B"])
    run_market_allocation(db, MONTH, today=TODAY)
    db.commit()
    return listing, request, db.exec(select(Proposal)).one()


def test_decline_by_either_side_declines_and_a_side_decides_once(mk):
    db = mk["db"]
    _, _, p = _one_proposal(mk)
    with pytest.raises(NotFound):
        record_decision(db, mk["maker2"].id, p.id, accept=True)
    record_decision(db, mk["maker"].id, p.id, accept=True)
    db.commit()
    with pytest.raises(Conflict):
        record_decision(db, mk["maker"].id, p.id, accept=False)
    db.rollback()
    declined = decline_proposal(db, mk["seller"], p.id)
    db.commit()
    assert declined.status == "declined" and declined.seller_decision == "decline"
    with pytest.raises(Conflict):
        accept_proposal(db, mk["buyer"], p.id)
    db.rollback()
    assert count(db, OfftakeContract) == 0


def test_both_accept_gives_one_draft_with_the_proposed_terms_and_commits_volume(mk):
    db = mk["db"]
    listing, request, p = _one_proposal(mk)
    assert accept_proposal(db, mk["seller"], p.id) is None
    db.commit()
    contract = accept_proposal(db, mk["buyer"], p.id)
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
        accept_proposal(db, inspector, p.id)
    mk["maker"].status = "unverified"
    db.add(mk["maker"])
    db.commit()
    with pytest.raises(PermissionDenied):
        accept_proposal(db, mk["buyer"], p.id)


def test_a_proposal_that_can_no_longer_be_honoured_writes_nothing(mk):
    db = mk["db"]
    listing, request, p = _one_proposal(mk)
    accept_proposal(db, mk["seller"], p.id)
    db.commit()
    # meanwhile the seller's volume was committed to another contract
    commit_volume(db, listing.id, 50_000)
    db.commit()
    with pytest.raises(Conflict, match="no longer be honoured"):
        accept_proposal(db, mk["buyer"], p.id)
    db.rollback()
    db.refresh(request)
    assert request.filled_kg == 0
    assert db.get(Proposal, p.id).status == "proposed"
    assert count(db, OfftakeContract) == 0


def test_draft_from_listing_checks_volume_and_period_but_reserves_nothing(mk):
    db, v = mk["db"], mk["v"]
    listing = add_listing(db, mk["recycler"], v["HDPE-NAT-B"])
    contract = draft_from_listing(db, mk["buyer"], listing.id, "40", "2027-02", 10)
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
        draft_from_listing(db, mk["buyer"], listing.id, "20", "2027-06", 12)  # past Dec
    with pytest.raises(ValidationFailed):
        draft_from_listing(db, mk["buyer"], listing.id, "10", "2027-02", 3)  # below minimum
    with pytest.raises(Conflict):
        draft_from_listing(db, mk["buyer"], listing.id, "101", "2027-02", 3)  # only 100 t
    with pytest.raises(PermissionDenied):
        draft_from_listing(db, mk["seller2"], listing.id, "20", "2027-02", 3)  # a recycler


def test_draft_from_request_uses_an_own_acceptable_listing(mk):
    db, v = mk["db"], mk["v"]
    request = add_request(db, mk["maker"], v["HDPE-NAT-B"])
    laxer = add_listing(db, mk["recycler"], v["HDPE-NAT-C"])
    other = add_listing(db, mk["recycler2"], v["HDPE-NAT-B"])
    with pytest.raises(ValidationFailed):
        draft_from_request(db, mk["seller"], request.id, laxer.id, "30")
    with pytest.raises(NotFound):
        draft_from_request(db, mk["seller"], request.id, other.id, "30")
    contract = draft_from_request(db, mk["seller2"], request.id, other.id, "30")
    db.commit()
    terms = db.exec(select(ContractTerms).where(ContractTerms.contract_id == contract.id)).one()
    assert (terms.start_month, terms.term_months) == (date(2027, 3, 1), 6)
    db.refresh(request)
    assert request.filled_kg == 0  # reserved only once both sides agree
    with pytest.raises(Conflict, match="does not need that much"):
        draft_from_request(db, mk["seller2"], request.id, other.id, "61")  # it needs 60 t


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
    run = run_market_allocation(db, MONTH, today=TODAY)
    db.commit()
    assert run.n_proposals == 0
    listing.invited_org_ids = f"{mk['maker'].id}"
    db.add(listing)
    db.commit()
    run = run_market_allocation(db, MONTH, today=TODAY)
    db.commit()
    assert run.n_proposals == 1


def test_a_run_notifies_the_trading_members_of_both_sides_once(mk):
    db, v = mk["db"], mk["v"]
    add_listing(db, mk["recycler"], v["HDPE-NAT-B"])
    add_request(db, mk["maker"], v["HDPE-NAT-B"])
    run = run_market_allocation(db, MONTH, today=TODAY)
    db.commit()
    notes = db.exec(
        select(Notification).where(Notification.dedupe_key == f"matchrun:{run.id}")
    ).all()
    assert sorted(n.member_id for n in notes) == sorted([mk["seller"].id, mk["buyer"].id])
    assert all(n.link == "/proposals" for n in notes)
