"""Tenders up to the end of the tender period: drafting, publication, amendment, cancellation,
phases by the clock, enquiries (the asker never named)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from factories import as_actor, make_member, make_org
from proc_tenders_factories import (
    DAY,
    HOUR,
    credit,
    make_agency,
    make_bid,
    make_category,
    make_officer,
    make_tender,
    seeded,
    tender_body,
)
from sqlmodel import func, select

from market.models import (
    Award,
    Bid,
    Enquiry,
    Notification,
    OcdsRelease,
    Tender,
    TenderItem,
)
from market.tenders import (
    AnswerIn,
    CancelIn,
    EnquiryIn,
    TenderAmendmentIn,
    TenderIn,
    amend_tender,
    answer_question,
    ask_question,
    cancel_tender,
    create_tender,
    enquiry_out,
    publish_tender,
    read_tender,
    tender_detail,
    tender_phase,
    update_tender,
    visible_enquiries,
)
from participants.columns import utcnow
from participants.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from quality.custody import available_kg, reserve_claim


def _count(db, model) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model)).one()


@pytest.fixture()
def city(db):
    agency = make_agency(db, name_en="City of Yokohama")
    return agency, as_actor(db, make_officer(db, agency))


@pytest.fixture()
def category(db):
    return make_category(db)


# ---------------------------------------------------------------------------------------------
# Drafting


def test_an_officer_drafts_a_tender_with_the_categorys_recommended_content_in_utc(db, city):
    agency, officer = city
    category = make_category(db, min_post_consumer_pct=Decimal("90"), min_total_pct=None)
    body = tender_body(category.id) | {
        "enquiry_start": "2099-04-01T09:00",
        "enquiry_end": "2099-04-10T17:00",
        "tender_start": "2099-04-11T09:00",
        "tender_end": "2099-04-25T12:00",
    }
    del body["min_post_consumer_pct"], body["min_total_pct"]
    tender = create_tender(db, officer, TenderIn.model_validate(body))
    db.commit()
    assert tender.status == "planning" and tender.organization_id == agency.id
    assert tender.min_post_consumer_pct == Decimal("90") and tender.min_total_pct == Decimal("90")
    assert tender.enquiry_start == datetime(2099, 4, 1, 0, 0, tzinfo=UTC)
    assert tender.tender_end == datetime(2099, 4, 25, 3, 0, tzinfo=UTC)
    items = db.exec(select(TenderItem).where(TenderItem.tender_id == tender.id)).all()
    assert [(i.position, i.description_en, i.quantity, i.unit) for i in items] == [
        (1, "Bench, 1.8 m", 40, "piece")
    ]
    assert _count(db, OcdsRelease) == 0  # a draft is not published


@pytest.mark.parametrize(
    "who, message",
    [
        (
            "manufacturer trader",
            "Only procurement officers of verified public agencies create and manage tenders.",
        ),
        (
            "agency admin",
            "Only procurement officers of verified public agencies create and manage tenders.",
        ),
        (
            "unverified officer",
            "Only members of verified organisations may do this; the marketplace operator "
            "verifies organisations after sign-up.",
        ),
    ],
)
def test_a_tender_by_a_non_officer_is_refused_and_nothing_is_written(db, category, who, message):
    if who == "manufacturer trader":
        member = make_member(db, make_org(db, kind="manufacturer"), roles="admin trader")
    elif who == "agency admin":
        member = make_member(db, make_agency(db), roles="admin")
    else:
        member = make_officer(db, make_agency(db, status="unverified"))
    with pytest.raises(PermissionDenied) as err:
        create_tender(db, as_actor(db, member), TenderIn.model_validate(tender_body(category.id)))
    db.rollback()
    assert str(err.value) == message
    assert _count(db, Tender) == 0 and _count(db, TenderItem) == 0


def _shift(body: dict, **hours: int) -> dict:
    """The body with times moved: enquiry_end=+5 → five hours after enquiry_start, …"""
    start = datetime.fromisoformat(body["enquiry_start"])
    return body | {
        k: (start + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M") for k, h in hours.items()
    }


@pytest.mark.parametrize(
    "change, field, message",
    [
        (
            {"enquiry_end": 0},
            "enquiry_end",
            "The enquiry period must end after it starts.",
        ),
        (
            {"enquiry_end": 48, "tender_start": 47},
            "tender_start",
            "The tender period may start only when the enquiry period has ended.",
        ),
        (
            {"enquiry_end": 48, "tender_start": 48, "tender_end": 71},
            "tender_end",
            "The tender period must last at least a day.",
        ),
        (
            {"weight_price": 60},
            "weight_price",
            "The evaluation weights add up to 110; they must add up to 100.",
        ),
        (
            {"min_post_consumer_pct": "96"},
            "min_post_consumer_pct",
            "The minimum post-consumer content cannot exceed the minimum total recycled content "
            "(post-consumer content is part of it).",
        ),
        ({"category_id": 999}, "category_id", "No such procurement category."),
    ],
)
def test_inconsistent_tenders_are_refused_with_the_field_and_nothing_is_written(
    db, city, category, change, field, message
):
    body = tender_body(category.id)
    hours = {k: v for k, v in change.items() if k.endswith(("_start", "_end"))}
    body = _shift(body, **hours) | {k: v for k, v in change.items() if k not in hours}
    with pytest.raises(ValidationFailed) as err:
        create_tender(db, city[1], TenderIn.model_validate(body))
    db.rollback()
    assert (err.value.field, str(err.value)) == (field, message)
    assert _count(db, Tender) == 0


def test_a_tender_period_starting_in_the_past_is_refused(db, city, category):
    body = tender_body(category.id, phase="awaiting_tenders")
    body |= {"tender_start": tender_body(category.id, phase="tendering")["tender_start"]}
    with pytest.raises(ValidationFailed) as err:
        create_tender(db, city[1], TenderIn.model_validate(body))
    assert err.value.field == "tender_start"
    assert str(err.value).startswith("The tender period must start in the future (it starts at ")


def test_a_draft_is_seen_by_its_agency_only_and_edited_while_planning(db, city, category):
    agency, officer = city
    tender = make_tender(db, agency, category, phase="upcoming", status="planning")
    inspector = as_actor(db, make_member(db, agency, roles="inspector"))
    assert read_tender(db, inspector, tender.id).id == tender.id
    for stranger in (
        None,
        as_actor(db, make_officer(db)),
        as_actor(db, make_member(db, make_org(db))),
    ):
        with pytest.raises(NotFound):
            read_tender(db, stranger, tender.id)
    body = tender_body(category.id) | {"title_en": "Benches, revised", "budget_jpy": 11_000_000}
    update_tender(db, officer, tender.id, TenderIn.model_validate(body))
    db.commit()
    db.refresh(tender)
    assert (tender.title_en, tender.budget_jpy, tender.status) == (
        "Benches, revised",
        11_000_000,
        "planning",
    )
    assert _count(db, TenderItem) == 1


# ---------------------------------------------------------------------------------------------
# Publication and the lifecycle


def test_publishing_makes_the_tender_public_and_records_an_ocds_tender_release(db, city, category):
    agency, officer = city
    tender = make_tender(db, agency, category, phase="upcoming", status="planning")
    publish_tender(db, officer, tender.id)
    db.commit()
    db.refresh(tender)
    assert tender.status == "active" and tender.published_at is not None
    assert read_tender(db, None, tender.id).id == tender.id
    releases = db.exec(select(OcdsRelease).where(OcdsRelease.tender_id == tender.id)).all()
    assert [r.tag for r in releases] == ["tender"]


def test_illegal_steps_answer_409_and_change_nothing(db, city, category):
    agency, officer = city
    tender = make_tender(db, agency, category, phase="upcoming")
    with pytest.raises(Conflict) as err:
        publish_tender(db, officer, tender.id)
    assert str(err.value) == "A tender that is active cannot become active."
    db.rollback()
    with pytest.raises(Conflict) as err:
        update_tender(db, officer, tender.id, TenderIn.model_validate(tender_body(category.id)))
    assert str(err.value) == "A published tender is changed only by an amendment."
    db.rollback()
    cancelled = make_tender(db, agency, category, status="cancelled")
    with pytest.raises(Conflict) as err:
        cancel_tender(db, officer, cancelled.id, CancelIn(reason="again"))
    assert str(err.value) == "A tender that is cancelled cannot become cancelled."
    db.rollback()
    with pytest.raises(Conflict):
        amend_tender(db, officer, cancelled.id, TenderAmendmentIn(description_en="x"))
    db.rollback()
    assert _count(db, OcdsRelease) == 0


def test_a_past_draft_cannot_be_published(db, city, category):
    agency, officer = city
    tender = make_tender(db, agency, category, phase="tendering", status="planning")
    with pytest.raises(ValidationFailed) as err:
        publish_tender(db, officer, tender.id)
    db.rollback()
    assert err.value.field == "tender_start"
    db.refresh(tender)
    assert tender.status == "planning"


def test_another_agencys_officer_may_not_manage_a_published_tender(db, city, category):
    tender = make_tender(db, city[0], category, phase="enquiries")
    other = as_actor(db, make_officer(db))
    with pytest.raises(PermissionDenied) as err:
        cancel_tender(db, other, tender.id, CancelIn(reason="not mine"))
    assert str(err.value) == "Only the buying agency's officers manage this tender."


def test_the_phase_of_an_active_tender_follows_the_clock():
    t = Tender(
        status="active",
        enquiry_start=datetime(2027, 4, 1, tzinfo=UTC),
        enquiry_end=datetime(2027, 4, 10, tzinfo=UTC),
        tender_start=datetime(2027, 4, 11, tzinfo=UTC),
        tender_end=datetime(2027, 4, 25, tzinfo=UTC),
    )
    at = lambda *d: datetime(*d, tzinfo=UTC)  # noqa: E731
    assert tender_phase(t, at(2027, 3, 31)) == "upcoming"
    assert tender_phase(t, at(2027, 4, 1)) == "enquiries"
    assert tender_phase(t, at(2027, 4, 10)) == "awaiting_tenders"
    assert tender_phase(t, at(2027, 4, 11)) == "tendering"
    assert tender_phase(t, at(2027, 4, 24, 23, 59)) == "tendering"
    assert tender_phase(t, at(2027, 4, 25)) == "closed"
    t.status = "evaluation"
    assert tender_phase(t, at(2027, 4, 25)) == "evaluation"


# ---------------------------------------------------------------------------------------------
# Amendment


def test_an_amendment_marks_every_live_bid_unconfirmed_and_notifies_its_bidders(db, city, category):
    agency, officer = city
    seeded(db)
    tender = make_tender(db, agency, category, phase="tendering")
    first, second, gone = (make_org(db, kind="manufacturer") for _ in range(3))
    traders = [make_member(db, org, roles="trader") for org in (first, second, gone)]
    make_member(db, first, roles="inspector")  # not a bidding role: not notified
    bids = [
        make_bid(db, tender, first),
        make_bid(db, tender, second, status="unconfirmed"),
        make_bid(db, tender, gone, status="withdrawn"),
    ]
    old_end = tender.tender_end
    amendment = amend_tender(
        db,
        officer,
        tender.id,
        TenderAmendmentIn.model_validate(
            {
                "min_total_pct": "96",
                "tender_end": (old_end + 2 * DAY).isoformat(),
                "items": [
                    {
                        "description_en": "Bench",
                        "description_ja": "ベンチ",
                        "quantity": 60,
                        "unit": "piece",
                    }
                ],
            }
        ),
    )
    db.commit()
    db.expire_all()
    assert tender.amendment_count == 1 and tender.min_total_pct == Decimal("96")
    assert tender.tender_end == old_end + 2 * DAY
    assert [db.get(Bid, b.id).status for b in bids] == ["unconfirmed", "unconfirmed", "withdrawn"]
    assert sorted(n.member_id for n in amendment.notifications) == sorted(
        [traders[0].id, traders[1].id]
    )
    note = db.exec(select(Notification).where(Notification.member_id == traders[0].id)).one()
    assert note.link == f"/tenders/{tender.id}/bid"
    assert [
        i.quantity for i in db.exec(select(TenderItem).where(TenderItem.tender_id == tender.id))
    ] == [60]
    tags = db.exec(select(OcdsRelease.tag).where(OcdsRelease.tender_id == tender.id)).all()
    assert tags == ["tenderUpdate"]


@pytest.mark.parametrize(
    "change, field, message",
    [
        (
            {"tender_end": -HOUR},
            "tender_end",
            "An amendment may only extend a period: this time may not move before %(at)s.",
        ),
        (
            {"tender_start": DAY},
            "tender_start",
            "The tender period has already begun: its start can no longer move.",
        ),
    ],
)
def test_an_amendment_may_only_extend_the_periods(db, city, category, change, field, message):
    agency, officer = city
    tender = make_tender(db, agency, category, phase="tendering")
    body = {k: (getattr(tender, k) + v).isoformat() for k, v in change.items()}
    with pytest.raises(ValidationFailed) as err:
        amend_tender(db, officer, tender.id, TenderAmendmentIn.model_validate(body))
    db.rollback()
    assert (err.value.field, err.value.message) == (field, message)
    db.refresh(tender)
    assert tender.amendment_count == 0


def test_an_amendment_after_the_tender_period_is_refused(db, city, category):
    agency, officer = city
    tender = make_tender(db, agency, category, phase="closed")
    with pytest.raises(Conflict) as err:
        amend_tender(db, officer, tender.id, TenderAmendmentIn(description_en="Late"))
    assert (
        err.value.message
        == "The tender period closed at %(at)s: the tender can no longer be amended."
    )


def test_an_amendment_may_not_change_the_weights(db):
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        TenderAmendmentIn.model_validate({"weight_price": 70})


# ---------------------------------------------------------------------------------------------
# Cancellation


def test_cancelling_needs_a_reason_and_publishes_a_cancellation_once_published(db, city, category):
    agency, officer = city
    seeded(db)
    tender = make_tender(db, agency, category, phase="tendering")
    bidder = make_org(db, kind="recycler")
    trader = make_member(db, bidder, roles="trader")
    make_bid(db, tender, bidder)
    with pytest.raises(ValidationFailed) as err:
        cancel_tender(db, officer, tender.id, CancelIn(reason="  "))
    db.rollback()
    assert (err.value.field, str(err.value)) == ("reason", "Give the reason for the cancellation.")
    result = cancel_tender(db, officer, tender.id, CancelIn(reason="Budget withdrawn."))
    db.commit()
    db.refresh(tender)
    assert (tender.status, tender.closing_reason) == ("cancelled", "Budget withdrawn.")
    assert [n.member_id for n in result.notifications] == [trader.id]
    assert db.exec(select(OcdsRelease.tag)).all() == ["tenderCancellation"]
    draft = make_tender(db, agency, category, phase="upcoming", status="planning")
    cancel_tender(db, officer, draft.id, CancelIn(reason="Not needed."))
    db.commit()
    assert _count(db, OcdsRelease) == 1  # a draft was never published: no release


# ---------------------------------------------------------------------------------------------
# Enquiries


def test_a_supplier_asks_during_the_enquiry_period_and_the_answer_is_public_without_the_asker(
    db, city, category
):
    agency, officer = city
    tender = make_tender(db, agency, category, phase="enquiries")
    asker_org = make_org(db, kind="manufacturer", name_en="Asking Plastics KK")
    asker = as_actor(db, make_member(db, asker_org, roles="inspector"))
    enquiry = ask_question(db, asker, tender.id, EnquiryIn(question="Is a 1.5 m bench allowed?"))
    db.commit()
    assert enquiry.asked_by_org_id == asker_org.id  # kept for the record
    assert visible_enquiries(db, None, tender) == []  # unanswered: not public
    assert [e.id for e in visible_enquiries(db, asker, tender)] == [enquiry.id]
    assert [e.id for e in visible_enquiries(db, officer, tender)] == [enquiry.id]
    answer_question(db, officer, tender.id, enquiry.id, AnswerIn(answer="No: 1.8 m only."))
    db.commit()
    public = tender_detail(db, None, tender.id).enquiries
    out = enquiry_out(public[0]).model_dump()
    assert out["question"] == "Is a 1.5 m bench allowed?" and out["answer"] == "No: 1.8 m only."
    assert set(out) == {"id", "question", "answer", "asked_at", "answered_at"}
    with pytest.raises(Conflict) as err:
        answer_question(db, officer, tender.id, enquiry.id, AnswerIn(answer="Again"))
    assert str(err.value) == "This question is already answered."


@pytest.mark.parametrize("phase", ["upcoming", "tendering", "closed"])
def test_a_question_outside_the_enquiry_period_is_refused_and_nothing_is_written(
    db, city, category, phase
):
    tender = make_tender(db, city[0], category, phase=phase)
    asker = as_actor(db, make_member(db, make_org(db), roles="trader"))
    with pytest.raises(Conflict) as err:
        ask_question(db, asker, tender.id, EnquiryIn(question="May we?"))
    db.rollback()
    assert err.value.message == (
        "Questions are taken during the enquiry period only, from %(start)s to %(end)s."
    )
    assert err.value.params["start"].endswith(" JST")
    assert _count(db, Enquiry) == 0


def test_the_buying_agency_and_non_suppliers_do_not_ask(db, city, category):
    agency, officer = city
    tender = make_tender(db, agency, category, phase="enquiries")
    for actor in (officer, as_actor(db, make_member(db, make_org(db, kind="operator")))):
        with pytest.raises(PermissionDenied) as err:
            ask_question(db, actor, tender.id, EnquiryIn(question="?"))
        assert str(err.value) == (
            "Only members of verified recyclers and manufacturers ask questions about a tender."
        )
    assert _count(db, Enquiry) == 0


def test_a_question_about_a_draft_is_not_found(db, city, category):
    tender = make_tender(db, city[0], category, phase="enquiries", status="planning")
    asker = as_actor(db, make_member(db, make_org(db)))
    with pytest.raises(NotFound):
        ask_question(db, asker, tender.id, EnquiryIn(question="?"), now=utcnow())


def test_cancelling_an_awarded_tender_gives_the_awards_custody_reservation_back(db, city, category):
    agency, officer = city
    seeded(db)
    tender = make_tender(db, agency, category, phase="closed", status="awarded")
    supplier = make_org(db, kind="manufacturer")
    credit(db, supplier, 5_000)
    bid = make_bid(db, tender, supplier, status="awarded")
    award = Award(
        tender_id=tender.id,
        bid_id=bid.id,
        supplier_org_id=supplier.id,
        value_jpy=bid.price_jpy,
        justification="Best score.",
        reserved_kg=3_800,
        standstill_until=utcnow() + 10 * DAY,
    )
    db.add(award)
    db.flush()
    reserve_claim(
        db,
        organization_id=supplier.id,
        material_code="hdpe",
        kg=3_800,
        source="award",
        source_id=award.id,
    )
    db.commit()
    assert available_kg(db, supplier.id, "hdpe") == 1_200
    cancel_tender(db, officer, tender.id, CancelIn(reason="Complaint upheld."))
    db.commit()
    db.refresh(award)
    assert award.status == "cancelled"
    assert available_kg(db, supplier.id, "hdpe") == 5_000
