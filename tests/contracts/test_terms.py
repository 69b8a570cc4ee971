"""The terms of a contract: one input model with bounds, a canonical form and its SHA-256, and
the differences between two versions."""

import hashlib
from datetime import date
from decimal import Decimal

import pytest
from contract_world import build_world, draft_of_listing, draft_of_proposal
from pydantic import ValidationError
from sqlmodel import Session, select

from contracts.models import ContractTerms, OfftakeContract
from contracts.terms import (
    TERMS,
    TermsInput,
    TermsProposalIn,
    diff_terms,
    merge_changes,
    terms_content,
    terms_sha256,
    terms_values,
)
from participants.errors import ValidationFailed
from quality.certificates import canonical_json


def _terms(**changes) -> ContractTerms:
    values = dict(
        id=7,
        contract_id=3,
        version=2,
        start_month=date(2027, 3, 1),
        term_months=12,
        monthly_kg=60_000,
        tolerance_pct=Decimal("5.00"),
        annual_tolerance_pct=Decimal("2.5"),
        take_or_pay_pct=Decimal("80"),
        shortfall_price_pct=Decimal("20"),
        excess_price_pct=Decimal("100"),
        incoterm="FCA",
        incoterm_place="Saitama yard",
        standard_version_id=11,
        price_kind="index",
        index_id=4,
        index_factor=Decimal("0.920"),
        premium_jpy_per_t=-3_000,
        floor_jpy_per_t=600_000,
        cap_jpy_per_t=None,
        pricing_period="previous",
        payment_days=30,
        renewal_months=12,
        termination_notice_days=90,
        governing_language="ja",
        comment="not part of the terms",
    )
    return ContractTerms(**(values | changes))


CONTRACT = OfftakeContract(id=3, seller_org_id=21, buyer_org_id=22, material_code="copper_scrap")


def test_the_canonical_terms_name_contract_parties_material_and_every_term_exactly():
    assert canonical_json(terms_content(CONTRACT, _terms())) == (
        b'{"annual_tolerance_pct":"2.5","buyer_organization":22,"cap_jpy_per_t":null,'
        b'"contract":3,"excess_price_pct":"100","fixed_price_jpy_per_t":null,'
        b'"floor_jpy_per_t":600000,"governing_language":"ja","grade_version":11,"incoterm":"FCA",'
        b'"incoterm_place":"Saitama yard","index":4,"index_factor":"0.92","material":"copper_scrap",'
        b'"monthly_kg":60000,"payment_days":30,"premium_jpy_per_t":-3000,'
        b'"price_kind":"index","pricing_period":"previous","renewal_months":12,'
        b'"seller_organization":21,"shortfall_price_pct":"20","start_month":"2027-03",'
        b'"take_or_pay_pct":"80","term_months":12,"termination_notice_days":90,'
        b'"tolerance_pct":"5","version":2}'
    )
    expected = hashlib.sha256(canonical_json(terms_content(CONTRACT, _terms()))).hexdigest()
    assert terms_sha256(CONTRACT, _terms()) == expected


def test_the_hash_ignores_how_a_decimal_is_written_and_the_comment_but_not_a_term():
    sha = terms_sha256(CONTRACT, _terms())
    assert terms_sha256(CONTRACT, _terms(tolerance_pct=Decimal("5"), comment="")) == sha
    assert terms_sha256(CONTRACT, _terms(index_factor=Decimal("0.92"))) == sha
    assert terms_sha256(CONTRACT, _terms(monthly_kg=60_001)) != sha
    assert terms_sha256(CONTRACT, _terms(governing_language="en")) != sha
    other_buyer = OfftakeContract(
        id=3, seller_org_id=21, buyer_org_id=23, material_code="copper_scrap"
    )
    assert terms_sha256(other_buyer, _terms()) != sha


def test_every_draft_gets_its_first_version_sealed_and_the_seal_survives_the_database(app, db):
    w = build_world(db)
    one_sided, from_proposal = draft_of_listing(w), draft_of_proposal(w)
    with Session(app.extensions["junkan.engine"]) as fresh:
        for contract_id in (one_sided.id, from_proposal.id):
            contract = fresh.get(OfftakeContract, contract_id)
            [v1] = fresh.exec(
                select(ContractTerms).where(ContractTerms.contract_id == contract_id)
            ).all()
            assert len(v1.sha256) == 64
            assert v1.sha256 == terms_sha256(contract, v1)


def test_the_terms_input_keeps_every_term_in_its_bounds():
    good = {
        "start_month": "2027-03",
        "term_months": 12,
        "monthly_t": "60",
        "incoterm_place": "Yard",
        "grade_version_id": 1,
        "fixed_price_jpy_per_t": 70_000,
    }
    data = TermsInput.model_validate_json(_json(good), strict=True)
    assert (data.tolerance_pct, data.take_or_pay_pct, data.payment_days) == (5, 80, 30)
    assert (data.pricing_period, data.governing_language, data.renewal_months) == (
        "delivery",
        "ja",
        0,
    )
    for change, field in [
        ({"tolerance_pct": "100.5"}, "tolerance_pct"),
        ({"take_or_pay_pct": -1}, "take_or_pay_pct"),
        ({"shortfall_price_pct": "12.345"}, "shortfall_price_pct"),
        ({"excess_price_pct": True}, "excess_price_pct"),
        ({"annual_tolerance_pct": "5%"}, "annual_tolerance_pct"),
        ({"payment_days": 366}, "payment_days"),
        ({"termination_notice_days": "90"}, "termination_notice_days"),
        ({"renewal_months": 121}, "renewal_months"),
        ({"governing_language": "de"}, "governing_language"),
        ({"incoterm": "XYZ"}, "incoterm"),
        ({"pricing_period": "next"}, "pricing_period"),
        ({"incoterm_place": "Yard\u202e"}, "incoterm_place"),
        ({"index_factor": "0"}, "index_factor"),
        ({"premium_jpy_per_t": 100_000_001}, "premium_jpy_per_t"),
    ]:
        with pytest.raises(ValidationError) as caught:
            TermsInput.model_validate_json(_json(good | change), strict=True)
        assert caught.value.errors()[0]["loc"][0] == field, change


def _json(data: dict) -> str:
    import json

    return json.dumps(data)


def test_a_counter_offer_carries_over_what_it_does_not_send_and_the_price_follows_its_basis():
    current = terms_values(_terms(), "LME-CU")
    changes = TermsProposalIn.model_validate_json(
        '{"price_kind": "fixed", "fixed_price_jpy_per_t": 900000, "comment": "flat"}', strict=True
    )
    merged = merge_changes(current, changes)
    assert merged["fixed_price_jpy_per_t"] == 900_000
    assert (merged["index"], merged["index_factor"], merged["floor_jpy_per_t"]) == (
        None,
        None,
        None,
    )
    assert merged["monthly_t"] == Decimal("60.000") and merged["payment_days"] == 30
    with pytest.raises(ValidationFailed) as caught:
        merge_changes(current, TermsProposalIn.model_validate_json('{"monthly_t": null}'))
    assert (caught.value.field, caught.value.message) == ("monthly_t", "This field is required.")
    reset = merge_changes(current, TermsProposalIn.model_validate_json('{"payment_days": null}'))
    assert reset["payment_days"] == 30  # a null resets a term to its default


def test_the_diff_names_each_changed_term_with_its_label_in_reading_order():
    old = _terms()
    new = _terms(monthly_kg=50_000, premium_jpy_per_t=-2_500, index_id=5, governing_language="en")
    changes = diff_terms(old, new, {4: "LME-CU", 5: "JX-CU"})
    assert [(c.term.name, c.term.label, c.old, c.new) for c in changes] == [
        ("monthly_t", "Tonnes per month", Decimal("60.000"), Decimal("50.000")),
        ("index", "Price index", "LME-CU", "JX-CU"),
        ("premium_jpy_per_t", "Premium", -3_000, -2_500),
        ("governing_language", "Governing language", "ja", "en"),
    ]
    assert diff_terms(old, _terms(tolerance_pct=Decimal("5")), {4: "LME-CU"}) == []


def test_every_input_term_has_a_label():
    assert [t.name for t in TERMS] == list(TermsInput.model_fields)
