"""Sealed bids: submitted during the tender period only, claims covered by the bidder's
chain-of-custody balance, its own certificates as evidence, a receipt; modified, withdrawn
and confirmed until the period ends; nobody else reads them before it ends."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from factories import as_actor, make_member, make_org
from proc_tenders_factories import (
    DAY,
    bid_body,
    credit,
    make_agency,
    make_bid,
    make_category,
    make_certificate,
    make_officer,
    make_tender,
    seeded,
)
from sqlmodel import func, select

from market.bids import (
    BidIn,
    ConfirmIn,
    bid_certificates,
    bid_out,
    bid_sha256,
    bids_of_tender,
    confirm_bid,
    modify_bid,
    read_own_bid,
    submit_bid,
    withdraw_bid,
)
from market.models import Bid, BidEvidence
from market.tenders import TenderAmendmentIn, amend_tender
from participants.columns import utcnow
from participants.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from quality.errors import CustodyNotCovered


def _count(db, model) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model)).one()


@pytest.fixture()
def world(db):
    seeded(db)
    agency = make_agency(db)
    officer = as_actor(db, make_officer(db, agency))
    category = make_category(db)
    supplier = make_org(db, kind="manufacturer", name_en="Bench Makers KK")
    trader = as_actor(db, make_member(db, supplier, roles="trader"))
    credit(db, supplier, 5_000)
    return agency, officer, category, supplier, trader


def _tender(db, world, phase="tendering", **fields):
    agency, _officer, category, *_ = world
    return make_tender(db, agency, category, phase=phase, **fields)


def test_a_bid_in_the_tender_period_is_stored_with_its_receipt(db, world):
    *_, supplier, trader = world
    tender = _tender(db, world, requires_certificate=True)
    cert = make_certificate(db, supplier)
    bid = submit_bid(
        db, trader, tender.id, BidIn.model_validate(bid_body(tender, certificate_ids=[cert.id]))
    )
    db.commit()
    db.expire_all()
    stored = db.get(Bid, bid.id)
    assert (stored.status, stored.price_jpy, stored.product_mass_kg) == (
        "submitted",
        9_800_000,
        4_000,
    )
    assert stored.total_recycled_pct == Decimal("95") and stored.material_code == "hdpe"
    assert bid_certificates(db, [bid.id]) == {bid.id: [cert.id]}
    assert (
        stored.content_sha256 == bid_sha256(stored, [cert.id]) and len(stored.content_sha256) == 64
    )
    out = bid_out(db, stored)
    assert (out.claim_kg, out.claim_t, out.available_t) == (3_800, "3.800", "5.000")
    assert out.warnings == []


@pytest.mark.parametrize(
    "phase, message",
    [
        ("awaiting_tenders", "The tender period opens at %(at)s."),
        ("closed", "The tender period closed at %(at)s."),
    ],
)
def test_a_bid_before_the_tender_opens_or_after_the_deadline_is_refused(db, world, phase, message):
    *_, trader = world
    tender = _tender(db, world, phase=phase)
    with pytest.raises(Conflict) as err:
        submit_bid(db, trader, tender.id, BidIn.model_validate(bid_body(tender)))
    db.rollback()
    assert err.value.message == message and err.value.status == 409
    at = tender.tender_start if phase == "awaiting_tenders" else tender.tender_end
    from market.tenders import tokyo_time

    assert err.value.params == {"at": tokyo_time(at)}
    assert _count(db, Bid) == 0


def test_a_claim_above_the_ledger_balance_is_refused_and_nothing_is_written(db, world):
    *_, trader = world
    tender = _tender(db, world)
    body = bid_body(tender, product_mass_kg=6_000)  # 95 percent of 6,000 kg = 5,700 kg > 5,000
    with pytest.raises(CustodyNotCovered) as err:
        submit_bid(db, trader, tender.id, BidIn.model_validate(body))
    db.rollback()
    assert err.value.status == 422 and err.value.field == "recycled_content"
    assert str(err.value) == (
        "The recycled-content claim needs 5.700 t of recycled hdpe, but your "
        "chain-of-custody balance has 5.000 t available."
    )
    assert _count(db, Bid) == 0 and _count(db, BidEvidence) == 0


def test_an_evidence_certificate_of_another_organisation_is_refused_naming_it(db, world):
    *_, trader = world
    tender = _tender(db, world)
    foreign = make_certificate(db, make_org(db, kind="recycler"))
    with pytest.raises(ValidationFailed) as err:
        submit_bid(
            db,
            trader,
            tender.id,
            BidIn.model_validate(bid_body(tender, certificate_ids=[foreign.id])),
        )
    db.rollback()
    assert err.value.field == "certificate_ids"
    assert str(err.value) == (
        f"Certificate {foreign.id} is not one of your organisation's: cite certificates you "
        "issued, of your own lots, or of lots delivered to you."
    )
    assert _count(db, Bid) == 0


@pytest.mark.parametrize(
    "fields, field, message",
    [
        (
            {},
            "certificate_ids",
            "This tender requires at least one quality certificate as evidence.",
        ),
        (
            {"delivery_date": "TENDER_END"},
            "delivery_date",
            "The delivery date must lie after the end of the tender period (%(at)s).",
        ),
        (
            {"post_consumer_pct": "96"},
            "post_consumer_pct",
            "The post-consumer content cannot exceed the total recycled content "
            "(post-consumer content is part of it).",
        ),
        ({"material_code": "unobtainium"}, "material_code", "Unknown material %(code)s."),
    ],
)
def test_invalid_bids_are_refused_with_the_field_and_nothing_is_written(
    db, world, fields, field, message
):
    *_, trader = world
    tender = _tender(db, world, requires_certificate=True)
    if fields.get("delivery_date") == "TENDER_END":
        from market.tenders import tokyo_date

        fields = {"delivery_date": tokyo_date(tender.tender_end).isoformat()}
    with pytest.raises(ValidationFailed) as err:
        submit_bid(db, trader, tender.id, BidIn.model_validate(bid_body(tender, **fields)))
    db.rollback()
    assert (err.value.field, err.value.message) == (field, message)
    assert _count(db, Bid) == 0


def test_a_certificate_of_another_material_is_refused(db, world):
    *_, supplier, trader = world
    tender = _tender(db, world)
    copper = make_certificate(db, supplier, material="copper_scrap")
    with pytest.raises(ValidationFailed) as err:
        submit_bid(
            db,
            trader,
            tender.id,
            BidIn.model_validate(bid_body(tender, certificate_ids=[copper.id])),
        )
    assert str(err.value) == f"Certificate {copper.id} is of another material (copper_scrap)."


def test_who_may_bid(db, world):
    agency, officer, _c, supplier, _t = world
    tender = _tender(db, world)
    inspector = as_actor(db, make_member(db, supplier, roles="inspector signatory"))
    for actor, message in [
        (
            inspector,
            "Only traders and administrators of verified recyclers and manufacturers bid in tenders.",
        ),
        (
            officer,
            "Only traders and administrators of verified recyclers and manufacturers bid in tenders.",
        ),
        (
            as_actor(
                db,
                make_member(db, make_org(db, kind="recycler", status="unverified"), roles="trader"),
            ),
            "Only members of verified organisations may do this; the marketplace operator "
            "verifies organisations after sign-up.",
        ),
    ]:
        with pytest.raises(PermissionDenied) as err:
            submit_bid(db, actor, tender.id, BidIn.model_validate(bid_body(tender)))
        assert str(err.value) == message
    assert _count(db, Bid) == 0


def test_one_bid_per_tender_modified_withdrawn_and_submitted_again(db, world):
    *_, trader = world
    tender = _tender(db, world)
    bid = submit_bid(db, trader, tender.id, BidIn.model_validate(bid_body(tender)))
    db.commit()
    first_receipt = bid.content_sha256
    with pytest.raises(Conflict) as err:
        submit_bid(db, trader, tender.id, BidIn.model_validate(bid_body(tender)))
    db.rollback()
    assert (
        str(err.value)
        == "Your organisation has already bid on this tender: modify that bid instead."
    )
    later = utcnow() + timedelta(seconds=5)
    modify_bid(
        db,
        trader,
        tender.id,
        BidIn.model_validate(bid_body(tender, price_jpy=9_500_000)),
        now=later,
    )
    db.commit()
    db.refresh(bid)
    assert bid.price_jpy == 9_500_000 and bid.content_sha256 != first_receipt
    withdraw_bid(db, trader, tender.id)
    db.commit()
    db.refresh(bid)
    assert bid.status == "withdrawn"
    with pytest.raises(Conflict) as err:
        withdraw_bid(db, trader, tender.id)
    db.rollback()
    assert str(err.value) == "Your bid is withdrawn: submit a new bid instead."
    again = submit_bid(
        db, trader, tender.id, BidIn.model_validate(bid_body(tender, price_jpy=9_000_000))
    )
    db.commit()
    assert again.id == bid.id and again.status == "submitted" and again.price_jpy == 9_000_000
    assert _count(db, Bid) == 1


def test_after_the_deadline_a_bid_is_neither_modified_nor_withdrawn(db, world):
    *_, supplier, trader = world
    tender = _tender(db, world, phase="closed")
    bid = make_bid(db, tender, supplier)
    for step in (
        lambda: modify_bid(
            db, trader, tender.id, BidIn.model_validate(bid_body(tender, price_jpy=1))
        ),
        lambda: withdraw_bid(db, trader, tender.id),
    ):
        with pytest.raises(Conflict) as err:
            step()
        db.rollback()
        assert err.value.message == "The tender period closed at %(at)s."
    db.refresh(bid)
    assert (bid.status, bid.price_jpy) == ("submitted", 9_800_000)


def test_an_amended_tender_needs_the_bid_confirmed_against_its_new_terms(db, world):
    _a, officer, _c, supplier, trader = world
    tender = _tender(db, world)
    bid = submit_bid(db, trader, tender.id, BidIn.model_validate(bid_body(tender)))
    db.commit()
    amend_tender(db, officer, tender.id, TenderAmendmentIn(min_total_pct=Decimal("96")))
    db.commit()
    db.refresh(bid)
    assert bid.status == "unconfirmed"
    out = bid_out(db, bid)
    assert out.warnings == [
        "The total recycled content is below the tender's minimum of 96 percent: the bid would "
        "be disqualified at opening.",
        "The tender was amended after this bid: confirm or modify it before "
        f"{out.warnings[1].split('before ')[1]}",
    ]
    with pytest.raises(Conflict) as err:
        confirm_bid(db, trader, tender.id, ConfirmIn(content_sha256="0" * 64))
    db.rollback()
    assert str(err.value) == "Your bid has changed since you read it; read it again and confirm."
    receipt = bid.content_sha256
    confirm_bid(
        db,
        trader,
        tender.id,
        ConfirmIn(content_sha256=receipt),
        now=utcnow() + timedelta(seconds=3),
    )
    db.commit()
    db.refresh(bid)
    assert bid.status == "submitted" and bid.content_sha256 != receipt
    with pytest.raises(Conflict) as err:
        confirm_bid(db, trader, tender.id, ConfirmIn(content_sha256=bid.content_sha256))
    assert str(err.value) == "Your bid needs no confirmation."


def test_confirming_a_bid_whose_delivery_now_falls_inside_the_extended_period_is_refused(db, world):
    _a, officer, _c, supplier, trader = world
    tender = _tender(db, world)
    bid = submit_bid(db, trader, tender.id, BidIn.model_validate(bid_body(tender)))
    db.commit()
    amend_tender(db, officer, tender.id, TenderAmendmentIn(tender_end=tender.tender_end + 40 * DAY))
    db.commit()
    db.refresh(bid)
    with pytest.raises(ValidationFailed) as err:
        confirm_bid(db, trader, tender.id, ConfirmIn(content_sha256=bid.content_sha256))
    db.rollback()
    assert err.value.field == "delivery_date"
    db.refresh(bid)
    assert bid.status == "unconfirmed"


def test_bids_are_sealed_from_everyone_but_the_bidder_until_the_period_ends(db, world):
    _a, officer, _c, supplier, trader = world
    tender = _tender(db, world)
    bid = make_bid(db, tender, supplier)
    assert read_own_bid(db, trader, tender.id).id == bid.id
    inspector = as_actor(db, make_member(db, supplier, roles="inspector"))
    assert read_own_bid(db, inspector, tender.id).id == bid.id  # the whole organisation
    competitor = as_actor(db, make_member(db, make_org(db, kind="recycler"), roles="admin trader"))
    with pytest.raises(NotFound):
        read_own_bid(db, competitor, tender.id)
    operator = as_actor(db, make_member(db, make_org(db, kind="operator"), roles="admin"))
    for actor in (officer, operator):
        with pytest.raises(PermissionDenied) as err:
            read_own_bid(db, actor, tender.id)
        assert str(err.value) == "Only the bidding organisation reads its bid."
    with pytest.raises(Conflict) as err:
        bids_of_tender(db, tender.id)
    assert err.value.message == "The bids stay sealed until the tender period ends at %(at)s."
    assert [b.id for b in bids_of_tender(db, tender.id, now=tender.tender_end)] == [bid.id]


def test_the_evaluation_reads_the_bids_once_the_period_has_ended(db, world):
    *_, supplier, _t = world
    tender = _tender(db, world, phase="closed")
    kept = make_bid(db, tender, supplier)
    gone = make_bid(db, tender, make_org(db, kind="recycler"), status="withdrawn")
    assert [b.id for b in bids_of_tender(db, tender.id)] == [kept.id]
    assert [b.id for b in bids_of_tender(db, tender.id, include_withdrawn=True)] == [
        kept.id,
        gone.id,
    ]
    assert bids_of_tender(db, tender.id)[0].delivery_date > date(2000, 1, 1)
