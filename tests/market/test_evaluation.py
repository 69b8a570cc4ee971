"""Evaluation and award of tenders: bids open once at the deadline; non-compliant bids are
disqualified with reasons that say what failed; qualified bids are scored exactly by the
weights and ranked; the officer awards one qualified bid with a justification, reserving its
claim in the chain-of-custody ledger (never overdrawn, even by two awards at once); a pending
award can be cancelled; a tender with nothing to award closes as unsuccessful."""

import json
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from factories import as_actor, make_member
from proc_awards_factories import (
    MATERIAL,
    credit,
    make_agency,
    make_bid,
    make_certificate,
    make_supplier,
    make_tender,
)
from proc_ocds_factories import schema_errors
from sqlmodel import Session, func, select

from contracts.jobs import JOBS, JobContext
from market.evaluation import (
    AwardIn,
    ReasonIn,
    ScoreInput,
    award_bid,
    bid_result,
    cancel_award,
    mark_unsuccessful,
    open_due_tenders,
    open_tender,
    open_tender_now,
    public_award,
    reasons_out,
    score_bids,
    tender_results,
    withdraw_pending_award,
)
from market.models import (
    Award,
    Bid,
    Notification,
    OcdsRelease,
    Tender,
)
from market.tender_states import move_tender
from participants.actors import SYSTEM
from participants.columns import utcnow
from participants.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from participants.models import AuditEntry
from quality.custody import available_kg, reserve_claim
from quality.models import CustodyAccount


class World:
    """The City of Yokohama's park-bench tender (weights 50/40/10, budget ¥2,500,000,
    minimums 50 percent post-consumer and 80 percent total) and three bidders."""

    def __init__(self, db):
        self.db = db
        self.city = make_agency(db)
        self.a = make_supplier(db, "Alpha Benches")
        self.b = make_supplier(db, "Beta Plastics")
        self.c = make_supplier(db, "Gamma Recycling")
        for s in (self.a, self.b):
            credit(db, s, 5_000)
        credit(db, self.c, 1_200)
        self.cert_a = make_certificate(db, self.a, level=3)
        self.cert_b = make_certificate(db, self.b, level=2)
        self.cert_c = make_certificate(db, self.c, level=4)
        self.tender = make_tender(db, self.city)

    def bids(self):
        """A: ¥2,400,000, 95 percent, level 3; B: ¥2,000,000, 90 percent, level 2; C claims
        95 percent of 2 t (1.900 t) on a balance of 1.200 t."""
        t = self.tender
        early = t.tender_end - timedelta(days=3)
        self.bid_a = make_bid(
            self.db,
            t,
            self.a,
            2_400_000,
            total="95",
            certificates=(self.cert_a,),
            submitted_at=early,
        )
        self.bid_b = make_bid(
            self.db,
            t,
            self.b,
            2_000_000,
            total="90",
            certificates=(self.cert_b,),
            submitted_at=early + timedelta(hours=1),
        )
        self.bid_c = make_bid(
            self.db,
            t,
            self.c,
            1_900_000,
            total="95",
            certificates=(self.cert_c,),
            submitted_at=early + timedelta(hours=2),
        )
        return self

    def open(self):
        opening = open_tender(self.db, self.tender)
        self.db.commit()
        return opening

    def bid(self, bid) -> Bid:
        self.db.expire_all()
        return self.db.get(Bid, bid.id)

    def fresh(self, record):
        self.db.expire_all()
        return self.db.get(type(record), record.id)

    def count(self, model) -> int:
        self.db.expire_all()
        return self.db.exec(select(func.count()).select_from(model)).one()

    def officer(self):
        return self.city.actor

    def award(self, bid, justification="Best value for money.", **kw) -> Award:
        award = award_bid(
            self.db,
            self.officer(),
            self.tender.id,
            AwardIn(bid_id=bid.id, justification=justification),
            **kw,
        )
        self.db.commit()
        return award


@pytest.fixture()
def w(db):
    return World(db)


def _english(reasons: list[dict]) -> list[str]:
    return [r.message for r in reasons_out(reasons)]


# ----------------------------------------------------------------------------------------------
# Scores and ranks


def test_scores_follow_the_weights_exactly():
    scores = score_bids(
        50,
        40,
        10,
        [
            ScoreInput(1, 2_400_000, Decimal("95"), 3),
            ScoreInput(2, 2_000_000, Decimal("90"), 2),
        ],
    )
    assert (scores[1].price, scores[1].recycled, scores[1].evidence) == (
        Decimal("41.67"),
        Decimal("40.00"),
        Decimal("7.50"),
    )
    assert (scores[2].price, scores[2].recycled, scores[2].evidence) == (
        Decimal("50.00"),
        Decimal("37.89"),
        Decimal("5.00"),
    )
    assert (scores[1].total, scores[2].total) == (Decimal("89.17"), Decimal("92.89"))


def test_no_recycled_content_anywhere_scores_zero_and_evidence_without_certificates_zero():
    scores = score_bids(60, 30, 10, [ScoreInput(7, 1_000, Decimal(0), 0)])
    assert scores[7] == type(scores[7])(Decimal("60.00"), Decimal("0.00"), Decimal("0.00"))


def test_opening_qualifies_scores_and_ranks_the_compliant_bids(w):
    w.bids()
    opening = w.open()
    assert (opening.qualified, opening.disqualified, opening.ignored) == (2, 1, 0)
    assert w.fresh(w.tender).status == "evaluation"
    a, b = w.bid(w.bid_a), w.bid(w.bid_b)
    assert (a.status, a.score_price, a.score_recycled, a.score_evidence, a.score_total) == (
        "qualified",
        Decimal("41.67"),
        Decimal("40.00"),
        Decimal("7.50"),
        Decimal("89.17"),
    )
    assert (b.status, b.score_price, b.score_recycled, b.score_evidence, b.score_total) == (
        "qualified",
        Decimal("50.00"),
        Decimal("37.89"),
        Decimal("5.00"),
        Decimal("92.89"),
    )
    results = tender_results(w.db, w.officer(), w.tender.id)
    assert [(v.bid.id, v.rank) for v in results.bids] == [
        (w.bid_b.id, 1),
        (w.bid_a.id, 2),
        (w.bid_c.id, None),
    ]
    assert [(v.certificate_ids, v.evidence_level) for v in results.bids] == [
        ([w.cert_b.id], 2),
        ([w.cert_a.id], 3),
        ([w.cert_c.id], 4),
    ]
    assert [v.organization.name_en for v in results.bids] == [
        "Beta Plastics",
        "Alpha Benches",
        "Gamma Recycling",
    ]


def test_a_claim_above_the_custody_balance_is_disqualified_with_what_the_balance_covers(w):
    w.bids().open()
    c = w.bid(w.bid_c)
    assert (c.status, c.score_total) == ("disqualified", None)
    assert [r["code"] for r in json.loads(c.disqualification_json)] == ["claim_not_covered"]
    assert _english(json.loads(c.disqualification_json)) == [
        "The bid claims 95 percent recycled content (1.900 t), but the chain-of-custody "
        "balance covers 1.200 t (60 percent)."
    ]


def test_every_failed_check_is_a_reason_of_its_own(w):
    poor = make_supplier(w.db, "Delta Works")
    bid = make_bid(w.db, w.tender, poor, 2_600_000, post_consumer="40", total="75")
    w.open()
    reasons = json.loads(w.bid(bid).disqualification_json)
    assert [r["code"] for r in reasons] == [
        "post_consumer_below_minimum",
        "total_below_minimum",
        "no_certificate",
        "claim_not_covered",
        "over_budget",
    ]
    assert _english(reasons) == [
        "Post-consumer recycled content of 40 percent is below the tender's minimum of 50 percent.",
        "Total recycled content of 75 percent is below the tender's minimum of 80 percent.",
        "The tender requires a quality certificate as evidence; the bid cites none.",
        "The bid claims 75 percent recycled content (1.500 t), but the chain-of-custody "
        "balance covers 0.000 t (0 percent).",
        "The price of ¥2,600,000 is above the budget of ¥2,500,000.",
    ]


def test_limits_are_inclusive_and_evidence_is_optional_when_the_tender_does_not_ask(w):
    tender = make_tender(w.db, w.city, requires_certificate=False)
    bid = make_bid(w.db, tender, w.a, 2_500_000, post_consumer="50", total="80")
    open_tender(w.db, tender)
    w.db.commit()
    bid = w.bid(bid)
    # 80 percent of 2,000 kg is exactly 1,600 kg of the 5,000 kg balance; price = budget.
    assert (bid.status, bid.score_total) == ("qualified", Decimal("90.00"))


def test_unconfirmed_bids_are_disqualified_and_withdrawn_bids_ignored(w):
    unconfirmed = make_bid(
        w.db, w.tender, w.a, 2_000_000, certificates=(w.cert_a,), status="unconfirmed"
    )
    withdrawn = make_bid(
        w.db, w.tender, w.b, 1_000_000, certificates=(w.cert_b,), status="withdrawn"
    )
    opening = w.open()
    assert (opening.qualified, opening.disqualified, opening.ignored) == (0, 1, 1)
    u = w.bid(unconfirmed)
    assert u.status == "disqualified"
    assert _english(json.loads(u.disqualification_json)) == [
        "The tender was amended after this bid was submitted, and the bid was not re-confirmed "
        "before the deadline."
    ]
    assert (w.bid(withdrawn).status, w.bid(withdrawn).disqualification_json) == ("withdrawn", "[]")
    assert [v.bid.id for v in tender_results(w.db, w.officer(), w.tender.id).bids] == [u.id]


def test_a_tie_goes_to_the_earlier_submission(w):
    t = w.tender
    later = make_bid(
        w.db,
        t,
        w.a,
        2_000_000,
        certificates=(w.cert_b,),
        submitted_at=t.tender_end - timedelta(hours=1),
    )
    earlier = make_bid(
        w.db,
        t,
        w.b,
        2_000_000,
        certificates=(w.cert_b,),
        submitted_at=t.tender_end - timedelta(hours=5),
    )
    w.open()
    assert w.bid(later).score_total == w.bid(earlier).score_total == Decimal("95.00")
    ranks = [(v.bid.id, v.rank) for v in tender_results(w.db, w.officer(), t.id).bids]
    assert ranks == [(earlier.id, 1), (later.id, 2)]


def test_bidders_are_told_their_result_once(w):
    w.bids().open()
    assert open_tender(w.db, w.fresh(w.tender)) is None  # opened already: nothing happens
    w.db.commit()
    messages = {
        n.member_id: (n.message, json.loads(n.params))
        for n in w.db.exec(select(Notification)).all()
    }
    assert len(messages) == 3
    message, params = messages[w.b.member.id]
    assert message.startswith("Tender #%(tender)s is opened: your bid is qualified")
    assert params == {"tender": w.tender.id, "rank": 1, "count": 2}
    assert messages[w.c.member.id][0].endswith("The reasons are on your result page.")


# ----------------------------------------------------------------------------------------------
# Opening: once, by the job or a reader, never before the deadline


def test_a_tender_in_its_period_stays_sealed(w):
    tender = make_tender(w.db, w.city, closed=False)
    bid = make_bid(w.db, tender, w.a, 2_000_000, certificates=(w.cert_a,))
    assert open_tender(w.db, tender) is None
    results = tender_results(w.db, w.officer(), tender.id)
    assert (results.opened, results.bids) == (False, [])
    assert w.bid(bid).status == "submitted"
    with pytest.raises(Conflict) as err:
        open_tender_now(w.db, w.officer(), tender.id)
    assert err.value.message == "The bids are sealed until the tender period ends at %(end)s."


def test_the_job_opens_each_due_tender_once(w):
    w.bids()
    other = make_tender(w.db, w.city, ended_ago=timedelta(minutes=1))
    make_tender(w.db, w.city, closed=False)
    first = JOBS["open_due_tenders"].run(w.db, SYSTEM, JobContext(today=utcnow().date()))
    w.db.commit()
    second = JOBS["open_due_tenders"].run(w.db, SYSTEM, JobContext(today=utcnow().date()))
    w.db.commit()
    assert first.counts == {"opened": 2, "qualified": 2, "disqualified": 1}
    assert second.counts == {"opened": 0, "qualified": 0, "disqualified": 0}
    assert w.fresh(other).status == "evaluation"
    assert w.bid(w.bid_b).score_total == Decimal("92.89")
    opened = w.db.exec(select(AuditEntry).where(AuditEntry.action == "tender.opened")).all()
    assert sorted(e.target_id for e in opened) == sorted([w.tender.id, other.id])


def test_two_openings_at_once_open_the_tender_once(app, w):
    w.bids()
    engine = app.extensions["junkan.engine"]
    barrier = threading.Barrier(2)
    results: list[int] = []

    def run() -> None:
        with Session(engine) as session:
            barrier.wait()
            results.append(len(open_due_tenders(session)))
            session.commit()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1]
    assert w.count(Notification) == 3
    assert w.bid(w.bid_a).score_total == Decimal("89.17")


def test_a_bidder_reading_its_result_opens_the_closed_tender(w):
    w.bids()
    result = bid_result(w.db, w.b.actor, w.tender.id)
    w.db.commit()
    assert w.fresh(w.tender).status == "evaluation"
    assert (result.opened, result.bid.status, result.rank, result.ranked_count) == (
        True,
        "qualified",
        1,
        2,
    )
    assert (result.certificate_ids, result.evidence_level, result.claim_kg) == (
        [w.cert_b.id],
        2,
        1_800,
    )
    loser = bid_result(w.db, w.c.actor, w.tender.id)
    assert (loser.rank, [r["code"] for r in loser.reasons]) == (None, ["claim_not_covered"])


def test_before_the_deadline_a_bidder_sees_only_its_bids_state(w):
    tender = make_tender(w.db, w.city, closed=False)
    make_bid(w.db, tender, w.a, 2_000_000, certificates=(w.cert_a,))
    result = bid_result(w.db, w.a.actor, tender.id)
    assert (result.opened, result.bid.status, result.rank, result.reasons) == (
        False,
        "submitted",
        None,
        [],
    )


def test_only_the_agencys_officers_read_the_evaluation_and_only_bidders_their_result(w):
    w.bids().open()
    other_city = make_agency(w.db, name_en="City of Kawasaki")
    trader = as_actor(w.db, make_member(w.db, w.city.org, roles="admin trader"))
    with pytest.raises(NotFound):
        tender_results(w.db, other_city.actor, w.tender.id)
    with pytest.raises(PermissionDenied):
        tender_results(w.db, trader, w.tender.id)
    with pytest.raises(PermissionDenied):
        tender_results(w.db, w.a.actor, w.tender.id)
    outsider = make_supplier(w.db, "Epsilon")
    with pytest.raises(NotFound) as err:
        bid_result(w.db, outsider.actor, w.tender.id)
    assert err.value.message == "Your organisation has no bid on this tender."


# ----------------------------------------------------------------------------------------------
# Award


def test_the_award_reserves_the_claim_and_decides_the_bids(w):
    w.bids().open()
    now = utcnow()
    award = w.award(w.bid_b, now=now)
    tender = w.fresh(w.tender)
    assert (tender.status, tender.standstill_until) == ("awarded", now + timedelta(days=10))
    award = w.fresh(award)
    assert (award.status, award.value_jpy, award.reserved_kg, award.bid_id) == (
        "pending",
        2_000_000,
        1_800,
        w.bid_b.id,
    )
    assert award.justification == "Best value for money."
    assert [w.bid(b).status for b in (w.bid_a, w.bid_b, w.bid_c)] == [
        "unsuccessful",
        "awarded",
        "disqualified",
    ]
    account = w.db.exec(
        select(CustodyAccount).where(CustodyAccount.organization_id == w.b.org.id)
    ).one()
    assert (account.available_kg, account.reserved_kg) == (3_200, 1_800)
    assert [r.tag for r in w.db.exec(select(OcdsRelease)).all()] == ["award"]
    notes = w.db.exec(
        select(Notification).where(Notification.dedupe_key.like(f"%award:{award.id}%"))  # type: ignore[attr-defined]
    ).all()
    assert sorted(n.member_id for n in notes) == sorted([w.a.member.id, w.b.member.id])
    public = public_award(w.db, w.tender.id)
    assert (public.supplier_name_en, public.value_jpy, public.status) == (
        "Beta Plastics",
        2_000_000,
        "pending",
    )


def test_awarding_a_lower_ranked_bid_records_its_rank_beside_the_justification(w):
    w.bids().open()
    award = w.award(w.bid_a, justification="Beta's delivery date is too late for the park.")
    entry = w.db.exec(select(AuditEntry).where(AuditEntry.action == "tender.awarded")).one()
    assert (entry.target_type, entry.target_id) == ("award", award.id)
    assert json.loads(entry.detail) == {
        "tender": w.tender.id,
        "bid": w.bid_a.id,
        "rank": 2,
        "top_ranked_bid": w.bid_b.id,
        "justification": "Beta's delivery date is too late for the park.",
        "reserved_kg": 1_900,
    }
    assert tender_results(w.db, w.officer(), w.tender.id).current_award.rank == 2


@pytest.mark.parametrize(
    ("which", "error", "message"),
    [
        (
            "c",
            Conflict,
            "Bid #%(bid)s is disqualified and cannot be awarded; its reasons are "
            "shown in the evaluation.",
        ),
        ("withdrawn", Conflict, "Bid #%(bid)s was withdrawn by its bidder and cannot be awarded."),
        ("other tender", ValidationFailed, "Bid #%(bid)s is not a bid on this tender."),
        ("missing", ValidationFailed, "Bid #%(bid)s is not a bid on this tender."),
    ],
)
def test_an_award_to_a_bid_that_cannot_win_is_refused_and_writes_nothing(w, which, error, message):
    w.bids()
    withdrawn = make_bid(w.db, w.tender, make_supplier(w.db, "Zeta"), 1_000, status="withdrawn")
    elsewhere = make_bid(w.db, make_tender(w.db, w.city), w.a, 1_000, certificates=(w.cert_a,))
    w.open()
    bid_id = {
        "c": w.bid_c.id,
        "withdrawn": withdrawn.id,
        "other tender": elsewhere.id,
        "missing": 999_999,
    }[which]
    with pytest.raises(error) as err:
        award_bid(w.db, w.officer(), w.tender.id, AwardIn(bid_id=bid_id, justification="x"))
    w.db.rollback()
    assert (err.value.message, err.value.field, err.value.params["bid"]) == (
        message,
        "bid_id",
        bid_id,
    )
    assert (w.count(Award), w.fresh(w.tender).status) == (0, "evaluation")
    assert available_kg(w.db, w.a.org.id, MATERIAL) == 5_000


def test_the_justification_is_required(w):
    w.bids().open()
    with pytest.raises(ValidationFailed) as err:
        award_bid(w.db, w.officer(), w.tender.id, AwardIn(bid_id=w.bid_b.id, justification="  \n"))
    assert (err.value.field, err.value.message) == (
        "justification",
        "Write why this bid is awarded: the justification is required.",
    )


def test_a_claim_no_longer_covered_at_award_is_refused_and_nothing_is_written(w):
    w.bids().open()
    # Since the opening, B sold 4,000 kg elsewhere: 1,000 kg left for a 1,800 kg claim.
    reserve_claim(
        w.db,
        organization_id=w.b.org.id,
        material_code=MATERIAL,
        kg=4_000,
        source="order",
        source_id=1,
    )
    w.db.commit()
    with pytest.raises(ValidationFailed) as err:
        award_bid(w.db, w.officer(), w.tender.id, AwardIn(bid_id=w.bid_b.id, justification="ok"))
    w.db.rollback()
    assert err.value.status == 422 and err.value.field == "bid_id"
    assert str(err.value) == (
        f"The claim of bid #{w.bid_b.id} is no longer covered: it needs 1.800 t of recycled "
        "mixed_polyolefins, and the supplier's chain-of-custody balance has 1.000 t available "
        "now. Award another bid, or close the tender."
    )
    assert (w.count(Award), w.count(OcdsRelease), w.fresh(w.tender).status) == (0, 0, "evaluation")
    assert w.bid(w.bid_b).status == "qualified"
    assert available_kg(w.db, w.b.org.id, MATERIAL) == 1_000


def test_two_awards_at_once_never_overdraw_the_suppliers_balance(app, db):
    """Two cities' tenders opened while Alpha had 2,000 kg: each claim of 1,900 kg was
    covered then; both officers award Alpha at the same moment: one award only."""
    alpha = make_supplier(db, "Alpha Benches")
    credit(db, alpha, 2_000)
    cert = make_certificate(db, alpha, level=3)
    cities = [make_agency(db), make_agency(db, name_en="City of Kawasaki")]
    tenders = [make_tender(db, city) for city in cities]
    bids = [make_bid(db, t, alpha, 2_000_000, certificates=(cert,)) for t in tenders]
    for t in tenders:
        open_tender(db, t)
    db.commit()
    assert [db.get(Bid, b.id).status for b in bids] == ["qualified", "qualified"]
    engine = app.extensions["junkan.engine"]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    actors = [city.actor for city in cities]

    def award(i: int) -> None:
        with Session(engine) as session:
            barrier.wait()
            try:
                award_bid(
                    session,
                    actors[i],
                    tenders[i].id,
                    AwardIn(bid_id=bids[i].id, justification="best"),
                )
                session.commit()
                outcomes.append("awarded")
            except ValidationFailed:
                session.rollback()
                outcomes.append("not covered")

    threads = [threading.Thread(target=award, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["awarded", "not covered"]
    db.expire_all()
    account = db.exec(
        select(CustodyAccount).where(CustodyAccount.organization_id == alpha.org.id)
    ).one()
    assert (account.available_kg, account.reserved_kg) == (100, 1_900)
    assert db.exec(select(func.count()).select_from(Award)).one() == 1
    assert sorted(db.get(Tender, t.id).status for t in tenders) == ["awarded", "evaluation"]


def test_no_award_before_the_opening_nor_twice(w):
    sealed_tender = make_tender(w.db, w.city, closed=False)
    bid = make_bid(w.db, sealed_tender, w.a, 2_000_000, certificates=(w.cert_a,))
    with pytest.raises(Conflict) as err:
        award_bid(w.db, w.officer(), sealed_tender.id, AwardIn(bid_id=bid.id, justification="x"))
    assert err.value.message == "The bids are sealed until the tender period ends at %(end)s."
    w.db.rollback()
    w.bids().open()
    w.award(w.bid_b)
    with pytest.raises(Conflict) as err:
        award_bid(w.db, w.officer(), w.tender.id, AwardIn(bid_id=w.bid_a.id, justification="x"))
    assert err.value.message == "The tender is already awarded: cancel that award first."


def test_an_officer_awards_a_closed_tender_without_waiting_for_the_job(w):
    w.bids()
    award = w.award(w.bid_b)
    assert (w.fresh(award).status, w.fresh(w.tender).status) == ("pending", "awarded")


def test_only_the_agencys_officers_award(w):
    w.bids().open()
    data = AwardIn(bid_id=w.bid_b.id, justification="x")
    with pytest.raises(PermissionDenied):
        award_bid(w.db, w.b.actor, w.tender.id, data)
    with pytest.raises(PermissionDenied):
        award_bid(
            w.db, as_actor(w.db, make_member(w.db, w.city.org, roles="admin")), w.tender.id, data
        )
    with pytest.raises(NotFound):
        award_bid(w.db, make_agency(w.db, name_en="City of Kawasaki").actor, w.tender.id, data)


# ----------------------------------------------------------------------------------------------
# Cancelling an award; closing a tender as unsuccessful


def test_cancelling_an_award_releases_the_reservation_and_reopens_the_evaluation(w):
    w.bids().open()
    award = w.award(w.bid_b)
    cancelled = cancel_award(
        w.db, w.officer(), w.tender.id, award.id, ReasonIn(reason="Complaint upheld.")
    )
    w.db.commit()
    assert cancelled.status == "cancelled"
    tender = w.fresh(w.tender)
    assert (tender.status, tender.standstill_until) == ("evaluation", None)
    assert [w.bid(b).status for b in (w.bid_a, w.bid_b, w.bid_c)] == [
        "qualified",
        "qualified",
        "disqualified",
    ]
    assert available_kg(w.db, w.b.org.id, MATERIAL) == 5_000
    releases = w.db.exec(select(OcdsRelease).order_by(OcdsRelease.id)).all()
    assert [r.tag for r in releases] == ["award", "awardCancellation"]
    cancelled_release = json.loads(releases[-1].release_json)
    assert schema_errors(cancelled_release) == []
    assert [a["status"] for a in cancelled_release["awards"]] == ["cancelled"]
    results = tender_results(w.db, w.officer(), w.tender.id)
    assert [(a.award.status, a.cancellation_reason) for a in results.awards] == [
        ("cancelled", "Complaint upheld.")
    ]
    assert [v.bid.id for v in results.awardable] == [w.bid_a.id]
    with pytest.raises(Conflict) as err:
        award_bid(w.db, w.officer(), w.tender.id, AwardIn(bid_id=w.bid_b.id, justification="x"))
    assert err.value.field == "bid_id" and "cannot be awarded again" in err.value.message
    w.db.rollback()
    second = w.award(w.bid_a, justification="Next in rank after the upheld complaint.")
    assert (w.fresh(second).status, w.fresh(second).reserved_kg) == ("pending", 1_900)
    assert public_award(w.db, w.tender.id).supplier_name_en == "Alpha Benches"


def test_only_a_pending_award_is_cancelled_and_a_reason_is_required(w):
    w.bids().open()
    award = w.award(w.bid_b)
    with pytest.raises(ValidationFailed) as err:
        cancel_award(w.db, w.officer(), w.tender.id, award.id, ReasonIn(reason=""))
    assert err.value.field == "reason"
    cancel_award(w.db, w.officer(), w.tender.id, award.id, ReasonIn(reason="Wrong"))
    w.db.commit()
    with pytest.raises(Conflict) as err:
        cancel_award(w.db, w.officer(), w.tender.id, award.id, ReasonIn(reason="Again"))
    assert err.value.params == {"status": "cancelled"}
    with pytest.raises(NotFound):
        cancel_award(w.db, w.officer(), w.tender.id, 999_999, ReasonIn(reason="x"))


def test_cancelling_an_awarded_tender_gives_the_reservation_back(w):
    """What the tenders area calls when it cancels a tender during the standstill period."""
    w.bids().open()
    award = w.award(w.bid_b)
    tender = w.fresh(w.tender)
    withdraw_pending_award(w.db, tender, award, "Budget withdrawn.", w.officer())
    move_tender(w.db, tender, "cancelled", closing_reason="Budget withdrawn.")
    w.db.commit()
    assert (w.fresh(award).status, w.fresh(w.tender).status) == ("cancelled", "cancelled")
    assert available_kg(w.db, w.b.org.id, MATERIAL) == 5_000
    assert public_award(w.db, w.tender.id) is None


def test_a_tender_without_a_qualified_bid_closes_as_unsuccessful(w):
    make_bid(w.db, w.tender, w.c, 1_900_000, certificates=(w.cert_c,))  # not covered
    tender = mark_unsuccessful(w.db, w.officer(), w.tender.id, ReasonIn(reason="No bid qualified."))
    w.db.commit()
    assert (tender.status, tender.closing_reason) == ("unsuccessful", "No bid qualified.")
    assert [r.tag for r in w.db.exec(select(OcdsRelease)).all()] == ["tenderUpdate"]
    assert w.db.exec(
        select(Notification)
        .where(Notification.member_id == w.c.member.id)
        .order_by(Notification.id)
    ).all()[-1].message == ("Tender #%(tender)s is closed without an award (unsuccessful).")


def test_a_tender_with_qualified_bids_cannot_close_as_unsuccessful(w):
    w.bids().open()
    with pytest.raises(Conflict) as err:
        mark_unsuccessful(w.db, w.officer(), w.tender.id, ReasonIn(reason="Too dear."))
    assert err.value.params == {"n": 2}
    no_bids = make_tender(w.db, w.city)
    with pytest.raises(ValidationFailed):
        mark_unsuccessful(w.db, w.officer(), no_bids.id, ReasonIn(reason=" "))
    w.db.rollback()
    closed = mark_unsuccessful(w.db, w.officer(), no_bids.id, ReasonIn(reason="No bids came."))
    assert closed.status == "unsuccessful"
