"""Negotiating a draft: counter-offers as new versions, the thread, withdrawal, notices to the
other side, and who may do which (issue 8, points 2 and 4)."""

import hashlib
import json
from datetime import date
from decimal import Decimal

import pytest
from contract_world import (
    build_world,
    draft_of_listing,
    draft_of_proposal,
    draft_of_request,
)
from sqlalchemy import text
from sqlmodel import func, select

from contracts.events import events_of, verify_chain
from contracts.models import ContractComment, ContractTerms, OfftakeContract, Signature
from contracts.negotiation import (
    CommentIn,
    add_comment,
    contract_detail,
    contracts_query,
    pending_notices,
    propose_terms,
    verify_contracts,
    withdraw_contract,
)
from contracts.signing import SignIn, sign_contract
from contracts.terms import TermsProposalIn, terms_sha256
from market.models import Notification, OfftakeRequest, PriceIndex, SupplyListing
from participants.actors import SYSTEM
from participants.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from participants.models import Organization
from quality.catalogue import latest_published


@pytest.fixture()
def w(db):
    return build_world(db)


def _proposal(**terms) -> TermsProposalIn:
    return TermsProposalIn.model_validate_json(json.dumps(terms), strict=True)


def _count(db, model, *where) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model).where(*where)).one()


def _notes(db, member) -> list[Notification]:
    db.expire_all()
    return list(db.exec(select(Notification).where(Notification.member_id == member.id)).all())


def test_a_one_sided_draft_reaches_the_other_sides_signatories_and_traders(w):
    contract = draft_of_listing(w)
    for who in ("seller signatory", "seller trader"):
        [note] = _notes(w.db, w.members[who])
        assert note.message.startswith("Contract draft %(id)s was started with your organisation")
        assert (json.loads(note.params), note.link) == (
            {"id": contract.id},
            f"/contracts/{contract.id}",
        )
    assert _notes(w.db, w.members["seller inspector"]) == []
    assert _notes(w.db, w.members["buyer trader"]) == []  # the side that started it
    [event] = events_of(w.db, contract.id)
    assert event.kind == "contract.drafted"
    assert json.loads(event.detail) == {
        "listing": w.listing.id,
        "request": None,
        "proposal": None,
        "version": 1,
        "sha256": w.db.exec(select(ContractTerms.sha256)).one(),
        "monthly_kg": 40_000,
        "held_kg": 0,
    }


def test_a_counter_offer_is_a_new_sealed_version_with_its_comment_and_a_notice(w):
    contract = draft_of_listing(w)
    pending_notices(w.db)
    seller = w.actor("seller trader")
    v2 = propose_terms(
        w.db,
        seller,
        contract.id,
        _proposal(monthly_t="35", tolerance_pct="7.5", payment_days=45, comment="  35 t at most "),
    )
    w.db.commit()
    assert (v2.version, v2.monthly_kg, v2.tolerance_pct, v2.payment_days) == (
        2,
        35_000,
        Decimal("7.5"),
        45,
    )
    assert (v2.start_month, v2.fixed_price_jpy_per_t, v2.comment) == (
        date(2027, 2, 1),
        70_000,
        "35 t at most",
    )
    assert v2.proposed_by_org_id == w.seller.id
    assert v2.sha256 == terms_sha256(contract, v2)
    [comment] = w.db.exec(select(ContractComment)).all()
    assert (comment.terms_id, comment.organization_id, comment.body) == (
        v2.id,
        w.seller.id,
        "35 t at most",
    )
    kinds = [e.kind for e in events_of(w.db, contract.id)]
    assert kinds == ["contract.drafted", "terms.proposed"]
    detail = json.loads(events_of(w.db, contract.id)[-1].detail)
    assert detail == {
        "version": 2,
        "sha256": v2.sha256,
        "changed": ["monthly_t", "tolerance_pct", "payment_days"],
        "comment": comment.id,
    }
    notes = pending_notices(w.db)
    assert {n.member_id for n in notes} == {
        w.members["buyer signatory"].id,
        w.members["buyer trader"].id,
    }
    assert json.loads(notes[0].params) == {"id": contract.id, "version": 2}


def test_a_new_version_voids_earlier_signatures_and_only_the_latest_can_be_signed(w):
    contract = draft_of_listing(w)
    sign_contract(w.db, w.actor("buyer signatory"), contract.id, SignIn(version=1))
    w.db.commit()
    propose_terms(w.db, w.actor("seller trader"), contract.id, _proposal(monthly_t="30"))
    w.db.commit()
    [signature] = w.db.exec(select(Signature)).all()
    w.db.refresh(signature)
    assert signature.voided_at is not None
    voided = events_of(w.db, contract.id)[-1]
    assert (voided.kind, json.loads(voided.detail)) == (
        "signatures.voided",
        {"by_version": 2, "signatures": [{"organization": w.buyer.id, "version": 1}]},
    )
    with pytest.raises(Conflict, match="only version 2 can be signed"):
        sign_contract(w.db, w.actor("seller signatory"), contract.id, SignIn(version=1))
    w.db.rollback()
    # the seller's signature of version 2 alone does not make the contract active
    sign_contract(w.db, w.actor("seller signatory"), contract.id, SignIn(version=2))
    w.db.commit()
    w.db.refresh(contract)
    assert contract.status == "draft"


def test_a_counter_offer_that_changes_nothing_or_breaks_a_rule_is_refused_and_writes_nothing(w):
    contract = draft_of_listing(w)
    seller = w.actor("seller trader")
    w.db.add(PriceIndex(code="HDPE-JP", name_en="HDPE", name_ja="HDPE", material_code="hdpe"))
    w.db.commit()
    copper = latest_published(w.db, "ISRI-BIRCH-CLIFF")[1].id
    cases = [
        ({"monthly_t": "40.000"}, None, "The new version changes no term."),
        ({"comment": "only a word"}, None, "The new version changes no term."),
        ({"monthly_t": "0"}, "monthly_t", "The volume must be more than zero."),
        (
            {"grade_version_id": copper},
            "grade_version_id",
            "This grade belongs to another material.",
        ),
        (
            {"grade_version_id": 99_999},
            "grade_version_id",
            "Unknown grade, or not a published version.",
        ),
        ({"price_kind": "index"}, "index", "An index formula needs a price index."),
        ({"price_kind": "index", "index": "NOPE"}, "index", "Unknown price index %(code)s."),
        (
            {"price_kind": "index", "index": "HDPE-JP"},
            "index_factor",
            "Enter the index factor as a number, e.g. 0.92.",
        ),
        (
            {
                "price_kind": "index",
                "index": "HDPE-JP",
                "index_factor": "0.9",
                "floor_jpy_per_t": 80_000,
                "cap_jpy_per_t": 70_000,
            },
            "floor_jpy_per_t",
            "The floor lies above the cap.",
        ),
        ({"fixed_price_jpy_per_t": None}, "fixed_price_jpy_per_t", "This field is required."),
        ({"start_month": None}, "start_month", "This field is required."),
    ]
    for terms, field, message in cases:
        with pytest.raises(ValidationFailed) as caught:
            propose_terms(w.db, seller, contract.id, _proposal(**terms))
        w.db.rollback()
        assert (caught.value.field, caught.value.message) == (field, message), terms
    assert _count(w.db, ContractTerms) == 1 and _count(w.db, ContractComment) == 0
    assert len(events_of(w.db, contract.id)) == 1


def test_an_index_price_counter_offer_keeps_the_formula_and_switching_back_clears_it(w):
    contract = draft_of_listing(w)
    w.db.add(PriceIndex(code="HDPE-JP", name_en="HDPE", name_ja="HDPE", material_code="hdpe"))
    w.db.commit()
    seller = w.actor("seller trader")
    v2 = propose_terms(
        w.db,
        seller,
        contract.id,
        _proposal(
            price_kind="index",
            index="HDPE-JP",
            index_factor="0.92",
            premium_jpy_per_t=-3000,
            floor_jpy_per_t=60_000,
            pricing_period="previous",
        ),
    )
    w.db.commit()
    assert (v2.fixed_price_jpy_per_t, v2.index_factor, v2.premium_jpy_per_t) == (
        None,
        Decimal("0.92"),
        -3000,
    )
    assert (v2.floor_jpy_per_t, v2.cap_jpy_per_t, v2.pricing_period) == (60_000, None, "previous")
    v3 = propose_terms(
        w.db,
        w.actor("buyer trader"),
        contract.id,
        _proposal(price_kind="fixed", fixed_price_jpy_per_t=72_000),
    )
    w.db.commit()
    assert (v3.index_id, v3.index_factor, v3.premium_jpy_per_t, v3.floor_jpy_per_t) == (
        None,
        None,
        0,
        None,
    )
    assert v3.pricing_period == "previous"  # not a price-basis field: carried over
    detail = contract_detail(w.db, w.actor("buyer signatory"), contract.id)
    assert [(c.term.name, c.old, c.new) for c in detail.diff(2, 3)] == [
        ("price_kind", "index", "fixed"),
        ("fixed_price_jpy_per_t", None, 72_000),
        ("index", "HDPE-JP", None),
        ("index_factor", Decimal("0.92"), None),
        ("premium_jpy_per_t", -3000, 0),
        ("floor_jpy_per_t", 60_000, None),
    ]
    with pytest.raises(NotFound):
        detail.diff(1, 4)


def test_who_may_negotiate(w, db):
    contract = draft_of_listing(w)
    data = _proposal(monthly_t="30")
    for who in ("seller inspector", "buyer admin"):
        with pytest.raises(PermissionDenied, match="Only a signatory or trader may do this."):
            propose_terms(db, w.actor(who), contract.id, data)
    with pytest.raises(NotFound, match="No such contract."):
        propose_terms(db, w.actor("outsider"), contract.id, data)
    with pytest.raises(NotFound):
        propose_terms(db, w.actor("seller trader"), 2**40, data)
    seller_org = db.get(Organization, w.seller.id)
    seller_org.status = "suspended"
    db.add(seller_org)
    db.commit()
    with pytest.raises(PermissionDenied, match="suspended"):
        propose_terms(db, w.actor("seller signatory"), contract.id, data)
    # a suspended party still reads its contract
    assert contract_detail(db, w.actor("seller inspector"), contract.id).actions == frozenset()
    db.rollback()
    assert _count(db, ContractTerms) == 1


def test_the_thread_takes_plain_messages_from_both_sides(w):
    contract = draft_of_listing(w)
    pending_notices(w.db)
    add_comment(w.db, w.actor("seller trader"), contract.id, CommentIn(body="Can you take 50 t?"))
    add_comment(w.db, w.actor("buyer signatory"), contract.id, CommentIn(body="行数\n二行目"))
    w.db.commit()
    detail = contract_detail(w.db, w.actor("buyer trader"), contract.id)
    assert [(c.organization_id, c.body, c.terms_id) for c, _m in detail.comments] == [
        (w.seller.id, "Can you take 50 t?", None),
        (w.buyer.id, "行数\n二行目", None),
    ]
    event = events_of(w.db, contract.id)[1]
    assert event.kind == "comment.added"
    assert json.loads(event.detail) == {
        "comment": detail.comments[0][0].id,
        "sha256": hashlib.sha256(b"Can you take 50 t?").hexdigest(),
    }
    notes = pending_notices(w.db)
    assert {n.member_id for n in notes} == {
        w.members["buyer signatory"].id,
        w.members["buyer trader"].id,
        w.members["seller signatory"].id,
        w.members["seller trader"].id,
    }
    with pytest.raises(ValidationFailed, match="Write a message."):
        add_comment(w.db, w.actor("seller trader"), contract.id, CommentIn(body="  \n "))
    w.db.rollback()
    with pytest.raises(NotFound):
        add_comment(w.db, w.actor("outsider"), contract.id, CommentIn(body="hello"))
    w.db.rollback()
    withdraw_contract(w.db, w.actor("buyer trader"), contract.id)
    w.db.commit()
    with pytest.raises(Conflict, match="thread of this contract is closed"):
        add_comment(w.db, w.actor("seller trader"), contract.id, CommentIn(body="Why?"))
    w.db.rollback()
    assert _count(w.db, ContractComment) == 2


def test_withdrawing_a_draft_from_a_proposal_releases_its_volume_on_listing_and_request(w):
    contract = draft_of_proposal(w)
    w.db.refresh(w.listing)
    w.db.refresh(w.request)
    assert (contract.reserved_kg, contract.filled_kg) == (60_000, 60_000)
    assert (w.listing.committed_kg, w.request.filled_kg) == (60_000, 60_000)
    pending_notices(w.db)
    withdraw_contract(w.db, w.actor("seller signatory"), contract.id)
    w.db.commit()
    w.db.expire_all()
    contract = w.db.get(OfftakeContract, contract.id)
    assert (contract.status, contract.reserved_kg, contract.filled_kg) == ("withdrawn", 0, 0)
    assert contract.ended_at is not None
    assert w.db.get(SupplyListing, w.listing.id).committed_kg == 0
    assert w.db.get(OfftakeRequest, w.request.id).filled_kg == 0
    event = events_of(w.db, contract.id)[-1]
    assert (event.kind, json.loads(event.detail)) == (
        "contract.withdrawn",
        {"released": {"listing_kg": 60_000, "request_kg": 60_000}},
    )
    assert {n.member_id for n in pending_notices(w.db)} == {
        w.members["buyer signatory"].id,
        w.members["buyer trader"].id,
    }
    with pytest.raises(Conflict, match="no longer a draft"):
        withdraw_contract(w.db, w.actor("buyer trader"), contract.id)
    w.db.rollback()
    assert w.db.get(SupplyListing, w.listing.id).committed_kg == 0  # released once only


def test_declining_a_one_sided_draft_withdraws_it_and_releases_nothing(w):
    contract = draft_of_request(w)
    withdraw_contract(w.db, w.actor("buyer trader"), contract.id)
    w.db.commit()
    w.db.expire_all()
    assert w.db.get(OfftakeContract, contract.id).status == "withdrawn"
    assert w.db.get(SupplyListing, w.listing.id).committed_kg == 0
    assert w.db.get(OfftakeRequest, w.request.id).filled_kg == 0


def test_a_release_never_takes_a_listing_below_zero(w):
    contract = draft_of_proposal(w)
    w.db.execute(text("UPDATE supplylisting SET committed_kg = 10000"))  # someone broke it
    w.db.commit()
    with pytest.raises(Conflict, match="holds less committed volume"):
        withdraw_contract(w.db, w.actor("seller signatory"), contract.id)
    w.db.rollback()
    w.db.expire_all()
    assert w.db.get(SupplyListing, w.listing.id).committed_kg == 10_000
    assert w.db.get(OfftakeContract, contract.id).status == "draft"


def test_the_list_filters_by_state_and_shows_only_the_own_organisations(w):
    first, second = draft_of_listing(w), draft_of_listing(w, "30")
    withdraw_contract(w.db, w.actor("buyer trader"), first.id)
    w.db.commit()
    buyer = w.actor("buyer admin")
    ids = w.db.exec(contracts_query(buyer)).all()
    assert [c.id for c in ids] == [second.id, first.id]
    assert [c.id for c in w.db.exec(contracts_query(buyer, "withdrawn")).all()] == [first.id]
    assert w.db.exec(contracts_query(w.actor("outsider"))).all() == []


def test_the_operator_verifies_every_chain_and_sees_a_tampered_one(w):
    good, bad = draft_of_listing(w), draft_of_listing(w, "30")
    add_comment(w.db, w.actor("seller trader"), bad.id, CommentIn(body="A"))
    w.db.commit()
    assert [(r.contract_id, r.intact) for r in verify_contracts(w.db, SYSTEM)] == [
        (good.id, True),
        (bad.id, True),
    ]
    w.db.execute(
        text("UPDATE contractevent SET detail = :d WHERE contract_id = :c AND seq = 1"),
        {"d": '{"forged":true}', "c": bad.id},
    )
    w.db.commit()
    [report] = verify_contracts(w.db, SYSTEM, bad.id)
    assert (report.intact, report.broken_at, report.reason) == (False, 1, "an event was changed")
    assert verify_chain(w.db, good.id).intact
    with pytest.raises(PermissionDenied):
        verify_contracts(w.db, w.actor("buyer admin"))
    with pytest.raises(NotFound):
        verify_contracts(w.db, SYSTEM, 999_999)
