"""Tender pages and API: public reading without login, the officer's steps, enquiries whose
asker is never named, sealed bids that neither the officer nor the operator can read, and the
bad inputs of the issue answered with clear 4xx messages, nothing written."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from factories import login, make_member, make_org
from proc_tenders_factories import (
    DAY,
    HOUR,
    bid_body,
    bid_form,
    credit,
    make_agency,
    make_bid,
    make_category,
    make_certificate,
    make_officer,
    make_tender,
    seeded,
    tender_body,
    tender_form,
)
from sqlmodel import func, select
from test_query_counts import counted

from market.models import Bid, Enquiry, Notification, OcdsRelease, Tender
from market.tenders import tokyo_time
from participants.columns import utcnow


def _count(db, model) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model)).one()


@pytest.fixture()
def city(db):
    seeded(db)
    agency = make_agency(db, name_en="City of Yokohama", name_ja="横浜市")
    return agency, make_officer(db, agency), make_category(db)


def _ids(page: str, tenders) -> list[int]:
    """The tenders' ids in the order the page links them."""
    found = [(page.find(f'href="/tenders/{t.id}"'), t.id) for t in tenders]
    return [i for pos, i in sorted(found) if pos >= 0]


# ---------------------------------------------------------------------------------------------
# Public reading


def test_the_public_list_shows_published_tenders_open_first_without_login(
    client, db, city, api_token
):
    agency, officer, category = city
    other_category = make_category(db, name_en="Delineators")
    later = make_tender(db, agency, category, phase="enquiries", title_en="Later benches")
    sooner = make_tender(db, agency, other_category, phase="tendering", title_en="Sooner posts")
    past = make_tender(db, agency, category, phase="closed", status="cancelled", title_en="Old")
    draft = make_tender(
        db, agency, category, phase="upcoming", status="planning", title_en="Draft X"
    )
    page = client.get("/tenders").get_data(as_text=True)
    assert 'href="/tenders"' in page  # the "Tenders" link of the main navigation
    assert _ids(page, [later, sooner, past, draft]) == [sooner.id, later.id, past.id]
    assert "Draft X" not in page
    assert _ids(
        client.get("/tenders?status=cancelled").get_data(as_text=True), [later, sooner, past]
    ) == [past.id]
    assert _ids(
        client.get(f"/tenders?category_id={other_category.id}").get_data(as_text=True),
        [later, sooner, past],
    ) == [sooner.id]
    body = client.get("/api/v1/tenders").get_json()
    assert [t["id"] for t in body["items"]] == [sooner.id, later.id, past.id]
    assert body["items"][0]["phase"] == "tendering" and body["items"][1]["phase"] == "enquiries"
    own = client.get("/api/v1/tenders", headers=api_token(officer.email)).get_json()
    assert [t["id"] for t in own["items"]] == [draft.id, sooner.id, later.id, past.id]
    supplier = make_member(db, make_org(db))
    theirs = client.get("/api/v1/tenders?mine=true", headers=api_token(supplier.email)).get_json()
    assert theirs["items"] == []
    assert client.get(f"/api/v1/tenders/{draft.id}").status_code == 404
    assert client.get(f"/tenders/{draft.id}").status_code == 404
    assert (
        client.get(f"/api/v1/tenders/{draft.id}", headers=api_token(officer.email)).status_code
        == 200
    )


def test_the_tender_list_page_and_api_cost_the_same_queries_whatever_the_number_of_tenders(
    app, client, db, city
):
    agency, _officer, category = city
    make_tender(db, agency, category)
    engine = app.extensions["junkan.engine"]
    with counted(engine) as page_before:
        assert client.get("/tenders").status_code == 200
    with counted(engine) as api_before:
        assert client.get("/api/v1/tenders").status_code == 200
    for n in range(8):
        make_tender(db, make_agency(db), make_category(db), phase="enquiries", title_en=f"T{n}")
    with counted(engine) as page_after:
        assert "T7" in client.get("/tenders").get_data(as_text=True)
    with counted(engine) as api_after:
        assert client.get("/api/v1/tenders").get_json()["total"] == 9
    assert len(page_after) == len(page_before)
    assert len(api_after) == len(api_before)


def test_the_tender_page_shows_japan_time_recommended_and_minimum_content_weights_budget(
    client, db, city
):
    agency, _officer, category = city
    tender = make_tender(
        db,
        agency,
        category,
        phase="enquiries",
        min_post_consumer_pct=Decimal("92.5"),
        min_total_pct=Decimal("96"),
        tender_end=datetime(2099, 4, 25, 3, 0, tzinfo=UTC),
        amendment_count=2,
    )
    page = client.get(f"/tenders/{tender.id}").get_data(as_text=True)
    assert "2099-04-25 12:00 JST" in page
    assert "¥12,000,000" in page and "City of Yokohama" in page
    flat = re.sub(r">\s+<", "><", page)
    assert '<td class="num">90 %</td><td class="num">95 %</td>' in flat
    assert '<td class="num">92.5 %</td><td class="num">96 %</td>' in flat
    assert "US EPA CPG, park and recreation products" in page
    assert "price 50, recycled content 40, evidence and data quality 10" in page
    assert "<dt>Amendments</dt><dd>2</dd>" in page
    body = client.get(f"/api/v1/tenders/{tender.id}").get_json()
    assert body["category"]["recommended_post_consumer_pct"] == "90"
    assert (body["min_post_consumer_pct"], body["min_total_pct"]) == ("92.5", "96")
    assert body["weights"] == {"price": 50, "recycled_content": 40, "evidence": 10}
    assert body["tender_end"] == "2099-04-25T03:00:00Z" and body["number_of_bids"] is None
    assert [i["quantity"] for i in body["items"]] == [40, 40]


# ---------------------------------------------------------------------------------------------
# The officer's steps through the API


def test_an_officer_drafts_and_publishes_a_tender_through_the_api(client, db, city, api_token):
    _agency, officer, category = city
    headers = api_token(officer.email)
    r = client.post("/api/v1/tenders", json=tender_body(category.id), headers=headers)
    assert r.status_code == 201, r.get_json()
    tender = r.get_json()
    assert (tender["status"], tender["phase"]) == ("planning", "planning")
    assert client.get(f"/api/v1/tenders/{tender['id']}").status_code == 404
    r = client.post(f"/api/v1/tenders/{tender['id']}/publish", headers=headers)
    assert r.status_code == 200 and r.get_json()["status"] == "active"
    assert client.get(f"/api/v1/tenders/{tender['id']}").get_json()["phase"] == "upcoming"
    assert db.exec(select(OcdsRelease.tag)).all() == ["tender"]
    r = client.put(
        f"/api/v1/tenders/{tender['id']}", json=tender_body(category.id), headers=headers
    )
    assert r.status_code == 409
    assert r.get_json()["detail"] == "A published tender is changed only by an amendment."
    r = client.post(f"/api/v1/tenders/{tender['id']}/publish", headers=headers)
    assert (
        r.status_code == 409
        and r.get_json()["detail"] == "A tender that is active cannot become active."
    )


def test_a_tender_by_a_non_officer_is_refused_and_nothing_is_written(client, db, city, api_token):
    _agency, _officer, category = city
    trader = make_member(db, make_org(db, kind="manufacturer"), roles="admin trader")
    r = client.post(
        "/api/v1/tenders", json=tender_body(category.id), headers=api_token(trader.email)
    )
    assert r.status_code == 403
    assert r.get_json()["detail"] == (
        "Only procurement officers of verified public agencies create and manage tenders."
    )
    login(client, trader.email)
    assert client.get("/tenders/new").status_code == 403
    assert client.post("/tenders/new", data=tender_form(category.id)).status_code == 403
    assert "New tender" not in client.get("/tenders").get_data(as_text=True)
    assert _count(db, Tender) == 0


def test_the_tender_form_shows_errors_under_the_field_and_writes_nothing(client, db, city):
    _agency, officer, category = city
    login(client, officer.email)
    page = client.get(f"/tenders/new?category_id={category.id}").get_data(as_text=True)
    assert 'name="min_post_consumer_pct" type="text" value="90"' in page
    assert (
        "Recommended for Park benches (plastic lumber): post-consumer 90 percent, total 95 percent"
        in page
    )
    form = tender_form(category.id)
    form["tender_end"] = form["tender_start"]
    r = client.post("/tenders/new", data=form)
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert (
        '<p class="error" id="tender_end-error">The tender period must last at least a day.</p>'
        in page
    )
    r = client.post("/tenders/new", data=tender_form(category.id) | {"items-0-quantity": "0"})
    assert r.status_code == 422
    assert 'id="items-0-quantity-error">The value must be at least 1.</p>' in r.get_data(
        as_text=True
    )
    assert _count(db, Tender) == 0
    r = client.post("/tenders/new", data=tender_form(category.id))
    assert r.status_code == 302 and _count(db, Tender) == 1


# ---------------------------------------------------------------------------------------------
# Enquiries: the asker is never named


def test_the_asker_is_named_nowhere_public_nor_to_the_officer(client, db, city, api_token):
    agency, officer, category = city
    tender = make_tender(db, agency, category, phase="enquiries")
    asker_org = make_org(db, kind="recycler", name_en="Secret Asker KK", name_ja="秘密質問株式会社")
    asker = make_member(db, asker_org, roles="inspector", email="asker@secret.example")
    r = client.post(
        f"/api/v1/tenders/{tender.id}/enquiries",
        json={"question": "Are 1.5 m benches acceptable?"},
        headers=api_token(asker.email),
    )
    assert r.status_code == 201
    enquiry_id = r.get_json()["id"]
    login(client, officer.email)
    officer_page = client.get(f"/tenders/{tender.id}").get_data(as_text=True)
    assert "Are 1.5 m benches acceptable?" in officer_page
    answer_url = f"/tenders/{tender.id}/enquiries/{enquiry_id}/answer"
    assert answer_url in officer_page
    answer_page = client.get(answer_url).get_data(as_text=True)
    assert client.post(answer_url, data={"answer": "No: 1.8 m only."}).status_code == 302
    officer_api = client.get(
        f"/api/v1/tenders/{tender.id}/enquiries", headers=api_token(officer.email)
    ).get_data(as_text=True)
    client.post("/logout")
    public_page = client.get(f"/tenders/{tender.id}").get_data(as_text=True)
    public_api = client.get(f"/api/v1/tenders/{tender.id}").get_data(as_text=True)
    public_list = client.get(f"/api/v1/tenders/{tender.id}/enquiries").get_json()
    assert "No: 1.8 m only." in public_page and "No: 1.8 m only." in public_api
    assert [e["answer"] for e in public_list["items"]] == ["No: 1.8 m only."]
    for text in (officer_page, answer_page, officer_api, public_page, public_api, str(public_list)):
        for secret in ("Secret Asker KK", "秘密質問株式会社", "asker@secret.example", asker.name):
            assert secret not in text
        assert "asked_by" not in text


def test_a_question_outside_the_enquiry_period_is_409_and_nothing_is_written(
    client, db, city, api_token
):
    agency, _officer, category = city
    tender = make_tender(db, agency, category, phase="tendering")
    asker = make_member(db, make_org(db), roles="trader")
    r = client.post(
        f"/api/v1/tenders/{tender.id}/enquiries",
        json={"question": "Late?"},
        headers=api_token(asker.email),
    )
    assert r.status_code == 409
    assert r.get_json()["detail"] == (
        "Questions are taken during the enquiry period only, from "
        f"{tokyo_time(tender.enquiry_start)} to {tokyo_time(tender.enquiry_end)}."
    )
    assert _count(db, Enquiry) == 0


# ---------------------------------------------------------------------------------------------
# Sealed bids


def test_nobody_but_the_bidder_reads_a_bid_before_the_tender_period_ends(
    client, db, city, api_token
):
    agency, officer, category = city
    tender = make_tender(db, agency, category, phase="tendering")
    bidder = make_org(db, kind="manufacturer")
    trader = make_member(db, bidder, roles="trader")
    make_bid(db, tender, bidder, price_jpy=9_876_543, note="Sealed note 7f3a")
    operator = make_member(db, make_org(db, kind="operator"), roles="admin")
    secrets = ("9,876,543", "9876543", "Sealed note 7f3a")
    for member in (officer, operator):
        headers = api_token(member.email)
        body = client.get(f"/api/v1/tenders/{tender.id}", headers=headers).get_data(as_text=True)
        assert '"number_of_bids":null' in body.replace(" ", "")
        r = client.get(f"/api/v1/tenders/{tender.id}/bid", headers=headers)
        assert r.status_code == 403
        assert r.get_json()["detail"] == "Only the bidding organisation reads its bid."
        login(client, member.email)
        page = client.get(f"/tenders/{tender.id}").get_data(as_text=True)
        assert (
            "Bids are sealed until the tender period ends" in page and "Bids received" not in page
        )
        assert client.get(f"/tenders/{tender.id}/bid").status_code == 403
        for text in (body, page):
            assert not any(s in text for s in secrets)
        client.post("/logout")
    own = client.get(f"/api/v1/tenders/{tender.id}/bid", headers=api_token(trader.email)).get_json()
    assert (own["price_jpy"], own["note"]) == (9_876_543, "Sealed note 7f3a")
    # Once the period has ended the number is public (reading the bids is the evaluation's).
    tender.tender_end = utcnow() - HOUR
    db.add(tender)
    db.commit()
    assert client.get(f"/api/v1/tenders/{tender.id}").get_json()["number_of_bids"] == 1
    page = client.get(f"/tenders/{tender.id}").get_data(as_text=True)
    assert "Bids received: 1." in page and not any(s in page for s in secrets)


def test_a_bid_through_the_api_gets_a_receipt_and_bad_bids_get_clear_messages(
    client, db, city, api_token
):
    agency, _officer, category = city
    tender = make_tender(db, agency, category, phase="tendering")
    bidder = make_org(db, kind="recycler")
    headers = api_token(make_member(db, bidder, roles="trader").email)
    credit(db, bidder, 3_000)
    url = f"/api/v1/tenders/{tender.id}/bid"
    r = client.post(url, json=bid_body(tender), headers=headers)  # needs 3.800 t
    assert r.status_code == 422
    assert r.get_json()["errors"] == [
        {
            "field": "recycled_content",
            "message": "The recycled-content claim needs 3.800 t of recycled hdpe, but your "
            "chain-of-custody balance has 3.000 t available.",
        }
    ]
    foreign = make_certificate(db, make_org(db, kind="manufacturer"))
    r = client.post(url, json=bid_body(tender, certificate_ids=[foreign.id]), headers=headers)
    assert r.status_code == 422 and foreign.id in r.get_json()["detail"]
    assert r.get_json()["errors"][0]["field"] == "certificate_ids"
    assert _count(db, Bid) == 0
    credit(db, bidder, 1_000)
    r = client.post(url, json=bid_body(tender), headers=headers)
    assert r.status_code == 201
    bid = r.get_json()
    assert (bid["status"], bid["claim_t"], bid["available_t"]) == ("submitted", "3.800", "4.000")
    assert len(bid["content_sha256"]) == 64
    assert bid["warnings"] == []  # 92 and 95 percent meet the minimum
    assert client.get(url, headers=headers).get_json()["content_sha256"] == bid["content_sha256"]
    r = client.post(url, json=bid_body(tender), headers=headers)
    assert r.status_code == 409


@pytest.mark.parametrize("phase", ["awaiting_tenders", "closed"])
def test_a_bid_before_the_tender_opens_or_after_the_deadline_is_409(
    client, db, city, api_token, phase
):
    agency, _officer, category = city
    tender = make_tender(db, agency, category, phase=phase)
    bidder = make_org(db, kind="recycler")
    credit(db, bidder, 5_000)
    r = client.post(
        f"/api/v1/tenders/{tender.id}/bid",
        json=bid_body(tender),
        headers=api_token(make_member(db, bidder, roles="trader").email),
    )
    assert r.status_code == 409
    expected = (
        f"The tender period opens at {tokyo_time(tender.tender_start)}."
        if phase == "awaiting_tenders"
        else f"The tender period closed at {tokyo_time(tender.tender_end)}."
    )
    assert r.get_json()["detail"] == expected
    assert _count(db, Bid) == 0


def test_the_bid_form_shows_the_coverage_and_refuses_an_uncovered_claim(client, db, city):
    agency, _officer, category = city
    tender = make_tender(db, agency, category, phase="tendering")
    bidder = make_org(db, kind="manufacturer")
    credit(db, bidder, 2_500)
    login(client, make_member(db, bidder, roles="admin").email)
    page = client.get(f"/tenders/{tender.id}").get_data(as_text=True)
    assert f"/tenders/{tender.id}/bid/new" in page
    form_page = client.get(f"/tenders/{tender.id}/bid/new").get_data(as_text=True)
    assert '<td class="num">2.500</td>' in form_page and "<td>hdpe</td>" not in form_page
    r = client.post(f"/tenders/{tender.id}/bid/new", data=bid_form(tender))
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "This claim needs 3.800 t of recycled input; 2.500 t are available." in page
    assert "balance has 2.500 t available." in page
    assert _count(db, Bid) == 0


def test_an_amendment_marks_the_bid_unconfirmed_and_the_bidder_confirms_it(
    client, db, city, api_token
):
    agency, officer, category = city
    tender = make_tender(db, agency, category, phase="tendering")
    bidder = make_org(db, kind="manufacturer")
    trader = make_member(db, bidder, roles="trader")
    credit(db, bidder, 5_000)
    bid = make_bid(db, tender, bidder)
    r = client.post(
        f"/api/v1/tenders/{tender.id}/amend",
        json={"tender_end": (tender.tender_end + 2 * DAY).isoformat()},
        headers=api_token(officer.email),
    )
    assert r.status_code == 200 and r.get_json()["amendment_count"] == 1
    db.refresh(bid)
    assert bid.status == "unconfirmed"
    note = db.exec(select(Notification).where(Notification.member_id == trader.id)).one()
    assert note.message.startswith("Tender #%(tender)s was amended (amendment %(n)s)")
    login(client, trader.email)
    page = client.get(f"/tenders/{tender.id}/bid").get_data(as_text=True)
    assert "Needs your confirmation (the tender was amended)" in page
    assert "Confirm the bid as it stands" in page
    r = client.post(
        f"/tenders/{tender.id}/bid/confirm", data={"content_sha256": bid.content_sha256}
    )
    assert r.status_code == 302
    db.refresh(bid)
    assert bid.status == "submitted"


def test_the_amendment_page_changes_only_what_the_officer_changed(client, db, city):
    agency, officer, category = city
    tender = make_tender(db, agency, category, phase="tendering")
    login(client, officer.email)
    page = client.get(f"/tenders/{tender.id}/amend").get_data(as_text=True)
    assert 'value="Bench type 1"' in page
    r = client.post(
        f"/tenders/{tender.id}/amend",
        data={"description_en": tender.description_en, "description_ja": tender.description_ja},
    )
    assert r.status_code == 422
    assert "The amendment changes nothing: send at least one change." in r.get_data(as_text=True)
    shorter = (tender.tender_end - timedelta(days=1)).astimezone(UTC)
    from market.tenders import TOKYO

    r = client.post(
        f"/tenders/{tender.id}/amend",
        data={
            "description_en": tender.description_en,
            "description_ja": tender.description_ja,
            "tender_end": shorter.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert r.status_code == 422
    assert "An amendment may only extend a period: this time may not move before" in r.get_data(
        as_text=True
    )
    db.refresh(tender)
    assert tender.amendment_count == 0


def test_the_tender_page_offers_each_member_only_what_it_may_do(client, db, city):
    agency, officer, category = city
    tender = make_tender(db, agency, category, phase="tendering")
    draft = make_tender(db, agency, category, phase="upcoming", status="planning")
    links = (f"/tenders/{tender.id}/amend", f"/tenders/{tender.id}/cancel")
    login(client, officer.email)
    page = client.get(f"/tenders/{tender.id}").get_data(as_text=True)
    assert all(link in page for link in links) and "/bid/new" not in page
    assert f"/tenders/{draft.id}/publish" in client.get(f"/tenders/{draft.id}").get_data(
        as_text=True
    )
    client.post("/logout")
    login(client, make_officer(db).email)  # another city's officer
    page = client.get(f"/tenders/{tender.id}").get_data(as_text=True)
    assert not any(link in page for link in links)
    assert client.get(links[0]).status_code == 403
    client.post("/logout")
    supplier = make_org(db, kind="recycler")
    login(client, make_member(db, supplier, roles="inspector").email)
    assert "/bid/new" not in client.get(f"/tenders/{tender.id}").get_data(as_text=True)
    client.post("/logout")
    login(client, make_member(db, supplier, roles="trader", locale="ja").email)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ja"
    page = client.get(f"/tenders/{tender.id}").get_data(as_text=True)
    assert f"/tenders/{tender.id}/bid/new" in page and "再生プラスチック製公園ベンチ" in page
    assert not any(link in page for link in links)


def test_every_tender_page_has_one_heading_and_labelled_controls(client, db, city):
    from test_accessibility import FormAudit

    agency, officer, category = city
    open_tender = make_tender(db, agency, category, phase="enquiries")
    running = make_tender(db, agency, category, phase="tendering")
    draft = make_tender(db, agency, category, phase="upcoming", status="planning")
    supplier = make_org(db, kind="manufacturer")
    trader = make_member(db, supplier, roles="trader")
    credit(db, supplier, 5_000)
    make_bid(db, running, supplier, status="unconfirmed")
    enquiry = Enquiry(tender_id=open_tender.id, asked_by_org_id=supplier.id, question="?")
    db.add(enquiry)
    db.commit()
    pages = {
        officer.email: [
            "/tenders",
            f"/tenders/{draft.id}",
            f"/tenders/new?category_id={category.id}",
            f"/tenders/{draft.id}/edit",
            f"/tenders/{running.id}/amend",
            f"/tenders/{running.id}/cancel",
            f"/tenders/{open_tender.id}/enquiries/{enquiry.id}/answer",
        ],
        trader.email: [
            f"/tenders/{open_tender.id}",
            f"/tenders/{open_tender.id}/ask",
            f"/tenders/{running.id}/bid",
            f"/tenders/{running.id}/bid/edit",
        ],
    }
    problems = []
    for email, paths in pages.items():
        login(client, email)
        for path in paths:
            r = client.get(path)
            assert r.status_code == 200, path
            audit = FormAudit()
            audit.feed(r.get_data(as_text=True))
            if audit.h1 != 1:
                problems.append(f"{path}: {audit.h1} h1")
            problems += [f"{path}: unlabelled {c}" for c in audit.unlabelled()]
        client.post("/logout")
    assert problems == []
