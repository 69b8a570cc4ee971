"""Evaluation and award through the pages and the API: what the officer and a bidder see, the
award form's errors under their fields with nothing written, the API's problem details, and
pages whose query count does not grow with the bids."""

from datetime import timedelta

import pytest
from factories import login
from proc_awards_factories import (
    credit,
    make_agency,
    make_bid,
    make_certificate,
    make_supplier,
    make_tender,
)
from sqlmodel import func, select
from test_accessibility import FormAudit
from test_query_counts import counted

from market.evaluation import AwardIn, award_bid, open_tender
from market.models import Award, Bid, PurchaseOrder, Tender
from participants.columns import utcnow
from quality.custody import available_kg


class World:
    def __init__(self, db):
        self.db = db
        self.city = make_agency(db)
        self.a = make_supplier(db, "Alpha Benches")
        self.b = make_supplier(db, "Beta Plastics")
        self.c = make_supplier(db, "Gamma Recycling")
        for s in (self.a, self.b):
            credit(db, s, 5_000)
        credit(db, self.c, 1_200)
        t = self.tender = make_tender(db, self.city)
        early = t.tender_end - timedelta(days=3)
        self.bid_a = make_bid(
            db,
            t,
            self.a,
            2_400_000,
            total="95",
            certificates=(make_certificate(db, self.a, 3),),
            submitted_at=early,
        )
        self.bid_b = make_bid(
            db,
            t,
            self.b,
            2_000_000,
            total="90",
            certificates=(make_certificate(db, self.b, 2),),
            submitted_at=early + timedelta(hours=1),
        )
        self.bid_c = make_bid(
            db,
            t,
            self.c,
            1_900_000,
            total="95",
            certificates=(make_certificate(db, self.c, 4),),
            submitted_at=early + timedelta(hours=2),
        )

    def count(self, model) -> int:
        self.db.expire_all()
        return self.db.exec(select(func.count()).select_from(model)).one()

    def status(self, model, record_id: int) -> str:
        self.db.expire_all()
        return self.db.get(model, record_id).status


@pytest.fixture()
def w(db):
    return World(db)


def _audit(html: str) -> list[str]:
    audit = FormAudit()
    audit.feed(html)
    problems = [f"unlabelled {c}" for c in audit.unlabelled()]
    if audit.h1 != 1:
        problems.append(f"{audit.h1} h1")
    return problems


# ----------------------------------------------------------------------------------------------
# Pages


def test_the_officer_sees_the_opened_bids_with_scores_ranks_and_reasons(client, w):
    login(client, w.city.officer.email)
    r = client.get(f"/tenders/{w.tender.id}/evaluation")
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    assert w.status(Tender, w.tender.id) == "evaluation"  # opened by reading it
    assert page.index("Beta Plastics") < page.index("Alpha Benches") < page.index("Gamma")
    for score in ("41.67", "40.00", "7.50", "89.17", "50.00", "37.89", "5.00", "92.89"):
        assert score in page
    assert (
        "The bid claims 95 percent recycled content (1.900 t), but the chain-of-custody "
        "balance covers 1.200 t (60 percent)." in page
    )
    assert "data-quality level 4" in page and "Award the bid" in page
    assert "Close the tender as unsuccessful" not in page
    assert _audit(page) == []


def test_before_the_deadline_the_evaluation_page_shows_no_bid(client, w):
    tender = make_tender(w.db, w.city, closed=False)
    make_bid(w.db, tender, w.a, 1_234_567, certificates=())
    login(client, w.city.officer.email)
    page = client.get(f"/tenders/{tender.id}/evaluation").get_data(as_text=True)
    assert "The bids are sealed until the tender period ends" in page
    assert "Alpha Benches" not in page and "1,234,567" not in page


def test_awarding_through_the_page(client, w):
    login(client, w.city.officer.email)
    client.get(f"/tenders/{w.tender.id}/evaluation")
    r = client.post(
        f"/tenders/{w.tender.id}/awards",
        data={"bid_id": str(w.bid_b.id), "justification": "Highest score."},
    )
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/tenders/{w.tender.id}/award")
    page = client.get(f"/tenders/{w.tender.id}/award").get_data(as_text=True)
    assert "Beta Plastics" in page and "¥2,000,000" in page and "Highest score." in page
    assert "1.8 t" in page or "1.800 t" in page
    assert "Cancel the award" in page
    assert "Issue the contract and the purchase order" not in page  # standstill period
    assert _audit(page) == []


def test_the_award_form_shows_errors_under_their_fields_and_writes_nothing(client, w):
    login(client, w.city.officer.email)
    missing = client.post(
        f"/tenders/{w.tender.id}/awards", data={"bid_id": str(w.bid_b.id), "justification": ""}
    )
    assert missing.status_code == 422
    assert 'id="justification-error"' in missing.get_data(as_text=True)
    assert "This field is required." in missing.get_data(as_text=True)
    disqualified = client.post(
        f"/tenders/{w.tender.id}/awards",
        data={"bid_id": str(w.bid_c.id), "justification": "Cheapest."},
    )
    assert disqualified.status_code == 409
    assert 'id="bid_id-error"' in disqualified.get_data(as_text=True)
    assert f"Bid #{w.bid_c.id} is disqualified and cannot be awarded" in disqualified.get_data(
        as_text=True
    )
    assert w.count(Award) == 0 and w.status(Tender, w.tender.id) == "evaluation"


def test_the_bidders_result_page_says_why_it_is_disqualified(client, w):
    login(client, w.c.member.email)
    page = client.get(f"/tenders/{w.tender.id}/result").get_data(as_text=True)
    assert "Why your bid is disqualified" in page
    assert "covers 1.200 t (60 percent)" in page
    assert "Alpha Benches" not in page and "Beta Plastics" not in page
    assert _audit(page) == []
    login(client, w.b.member.email)
    page = client.get(f"/tenders/{w.tender.id}/result").get_data(as_text=True)
    assert "92.89" in page and "1 of 2" in page and "41.67" not in page


def test_pages_of_someone_elses_tender_are_not_found_or_forbidden(client, w):
    other = make_agency(w.db, name_en="City of Kawasaki")
    login(client, other.officer.email)
    assert client.get(f"/tenders/{w.tender.id}/evaluation").status_code == 404
    assert client.get(f"/tenders/{w.tender.id}/result").status_code == 404
    login(client, w.a.member.email)
    assert client.get(f"/tenders/{w.tender.id}/evaluation").status_code == 403
    r = client.post(
        f"/tenders/{w.tender.id}/awards", data={"bid_id": str(w.bid_a.id), "justification": "me"}
    )
    assert r.status_code == 403 and w.count(Award) == 0


def test_the_evaluation_page_costs_the_same_queries_for_more_bids(app, client, w):
    login(client, w.city.officer.email)
    client.get(f"/tenders/{w.tender.id}/evaluation")  # opens it
    engine = app.extensions["junkan.engine"]
    with counted(engine) as before:
        assert client.get(f"/tenders/{w.tender.id}/evaluation").status_code == 200
    tender = make_tender(w.db, w.city)
    for i in range(6):
        s = make_supplier(w.db, f"Supplier {i}")
        credit(w.db, s, 5_000)
        make_bid(w.db, tender, s, 2_000_000 + i, certificates=(make_certificate(w.db, s, 2),))
    client.get(f"/tenders/{tender.id}/evaluation")  # opens it
    with counted(engine) as after:
        page = client.get(f"/tenders/{tender.id}/evaluation").get_data(as_text=True)
    assert "Supplier 5" in page
    assert len(after) == len(before)


# ----------------------------------------------------------------------------------------------
# API


def test_the_api_evaluation_has_the_exact_scores(client, w, api_token):
    headers = api_token(w.city.officer.email)
    body = client.get(f"/api/v1/tenders/{w.tender.id}/evaluation", headers=headers).get_json()
    assert (body["status"], body["opened"], body["weights"]) == (
        "evaluation",
        True,
        {"price": 50, "recycled_content": 40, "evidence": 10},
    )
    rows = [
        (b["id"], b["rank"], b["status"], b["scores"], b["data_quality_level"])
        for b in body["bids"]
    ]
    assert rows == [
        (
            w.bid_b.id,
            1,
            "qualified",
            {"price": "50.00", "recycled": "37.89", "evidence": "5.00", "total": "92.89"},
            2,
        ),
        (
            w.bid_a.id,
            2,
            "qualified",
            {"price": "41.67", "recycled": "40.00", "evidence": "7.50", "total": "89.17"},
            3,
        ),
        (w.bid_c.id, None, "disqualified", None, 4),
    ]
    assert body["bids"][2]["reasons"] == [
        {
            "code": "claim_not_covered",
            "message": "The bid claims 95 percent recycled content (1.900 t), but the "
            "chain-of-custody balance covers 1.200 t (60 percent).",
        }
    ]
    assert body["bids"][0]["claim_t"] == "1.800"


def test_the_api_awards_refuses_what_cannot_win_and_cancels(client, w, api_token):
    headers = api_token(w.city.officer.email)
    url = f"/api/v1/tenders/{w.tender.id}/awards"
    refused = client.post(url, headers=headers, json={"bid_id": w.bid_c.id, "justification": "x"})
    assert refused.status_code == 409
    assert refused.get_json()["errors"][0]["field"] == "bid_id"
    no_reason = client.post(url, headers=headers, json={"bid_id": w.bid_b.id})
    assert no_reason.status_code == 422
    assert w.count(Award) == 0
    r = client.post(url, headers=headers, json={"bid_id": w.bid_b.id, "justification": "Best."})
    assert r.status_code == 201, r.get_json()
    award = r.get_json()
    assert (award["status"], award["value_jpy"], award["rank"], award["reserved_t"]) == (
        "pending",
        2_000_000,
        1,
        "1.800",
    )
    early = client.post(f"/api/v1/tenders/{w.tender.id}/complete", headers=headers)
    assert early.status_code == 409
    assert early.get_json()["detail"].startswith("The standstill period ends at ")
    cancel = client.post(
        f"/api/v1/tenders/{w.tender.id}/awards/{award['id']}/cancel",
        headers=headers,
        json={"reason": "Complaint upheld."},
    )
    assert cancel.status_code == 200
    assert (cancel.get_json()["status"], cancel.get_json()["cancellation_reason"]) == (
        "cancelled",
        "Complaint upheld.",
    )
    assert available_kg(w.db, w.b.org.id, "mixed_polyolefins") == 5_000


def test_the_api_award_of_an_uncovered_claim_is_422_and_writes_nothing(client, w, api_token):
    from quality.custody import reserve_claim

    open_tender(w.db, w.tender)
    reserve_claim(
        w.db,
        organization_id=w.b.org.id,
        material_code="mixed_polyolefins",
        kg=4_000,
        source="order",
        source_id=77,
    )
    w.db.commit()
    headers = api_token(w.city.officer.email)
    r = client.post(
        f"/api/v1/tenders/{w.tender.id}/awards",
        headers=headers,
        json={"bid_id": w.bid_b.id, "justification": "Best."},
    )
    assert r.status_code == 422
    assert "is no longer covered" in r.get_json()["detail"]
    assert w.count(Award) == 0 and w.status(Tender, w.tender.id) == "evaluation"
    assert w.status(Bid, w.bid_b.id) == "qualified"


def test_the_api_completes_after_the_standstill_period(client, w, api_token):
    open_tender(w.db, w.tender)
    award_bid(
        w.db,
        w.city.actor,
        w.tender.id,
        AwardIn(bid_id=w.bid_b.id, justification="Best."),
        now=utcnow() - timedelta(days=11),
    )
    w.db.commit()
    headers = api_token(w.city.officer.email)
    r = client.post(f"/api/v1/tenders/{w.tender.id}/complete", headers=headers)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    order = w.db.exec(select(PurchaseOrder)).one()
    assert (body["order_number"], body["quantity"], body["unit_price_jpy"], body["total_jpy"]) == (
        order.number,
        40,
        50_000,
        2_200_000,
    )
    assert body["invoice_number"].startswith("JK-")
    page_client = client.application.test_client()
    page_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(page_client, w.city.officer.email)
    page = page_client.get(f"/tenders/{w.tender.id}/award").get_data(as_text=True)
    assert order.number in page and body["invoice_number"] in page


def test_the_api_closes_a_tender_without_qualified_bids(client, w, api_token):
    tender = make_tender(w.db, w.city)
    headers = api_token(w.city.officer.email)
    r = client.post(
        f"/api/v1/tenders/{tender.id}/unsuccessful", headers=headers, json={"reason": "No bids."}
    )
    assert r.status_code == 200
    assert (r.get_json()["status"], r.get_json()["closing_reason"]) == ("unsuccessful", "No bids.")
    busy = client.post(
        f"/api/v1/tenders/{w.tender.id}/unsuccessful", headers=headers, json={"reason": "x"}
    )
    assert busy.status_code == 409


def test_the_api_result_is_the_callers_own_bid(client, w, api_token):
    r = client.get(f"/api/v1/tenders/{w.tender.id}/result", headers=api_token(w.c.member.email))
    body = r.get_json()
    assert (body["status"], body["opened"], body["rank"], body["scores"]) == (
        "disqualified",
        True,
        None,
        None,
    )
    assert [x["code"] for x in body["reasons"]] == ["claim_not_covered"]
    winner = client.get(
        f"/api/v1/tenders/{w.tender.id}/result", headers=api_token(w.b.member.email)
    ).get_json()
    assert (winner["rank"], winner["ranked_bids"], winner["scores"]["total"]) == (1, 2, "92.89")
    outsider = make_supplier(w.db, "Nobody")
    missing = client.get(
        f"/api/v1/tenders/{w.tender.id}/result", headers=api_token(outsider.member.email)
    )
    assert missing.status_code == 404


def test_the_api_opens_only_a_due_tender(client, w, api_token):
    headers = api_token(w.city.officer.email)
    sealed = make_tender(w.db, w.city, closed=False)
    assert client.post(f"/api/v1/tenders/{sealed.id}/open", headers=headers).status_code == 409
    r = client.post(f"/api/v1/tenders/{w.tender.id}/open", headers=headers)
    assert r.status_code == 200 and r.get_json()["opened"] is True
    again = client.post(f"/api/v1/tenders/{w.tender.id}/open", headers=headers)
    assert again.status_code == 200 and len(again.get_json()["bids"]) == 3


def test_the_scheduler_opens_due_tenders_every_five_minutes():
    from contracts.jobs import JOBS
    from web.scheduler import SCHEDULE, schedule_text

    assert SCHEDULE["open_due_tenders"] == {"minute": "*/5"}
    assert schedule_text("open_due_tenders") == "every 5 minutes"
    assert JOBS["open_due_tenders"].summary.startswith("open the tenders whose tender period")
