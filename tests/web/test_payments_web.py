"""Payments through the pages and the API: a real round trip (localstripe sends its signed
webhook to the app served by a threaded server), signature checks, replays, the settlement
ledger, the payment box of the invoice page."""

import json
import urllib.request

import pytest
from factories import login, make_member, make_org
from payments_factories import make_contract, make_credit_note, make_invoice
from sqlmodel import func, select
from stripe_fixtures import event_of, intents_of_invoice, signed, wait_until

from contracts.models import Invoice, Payment, SettlementEntry, StripeEvent
from quality.catalogue import seed_catalogue


@pytest.fixture()
def parties(db):
    seed_catalogue(db)
    seller = make_org(db, kind="recycler")
    buyer = make_org(db, kind="manufacturer")
    other = make_org(db, kind="manufacturer")
    members = {
        "buyer": make_member(db, buyer, roles="trader"),
        "seller": make_member(db, seller, roles="admin signatory"),
        "other": make_member(db, other, roles="admin trader signatory"),
        "operator": make_member(db, make_org(db, kind="operator"), roles="admin"),
    }
    invoice = make_invoice(db, make_contract(db, seller, buyer))
    return invoice, members


def _count(db, model) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model)).one()


def _post_json(url: str, body: dict, headers: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    for name, value in {"Content-Type": "application/json", **headers}.items():
        req.add_header(name, value)
    with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310 (local)
        return response.status, json.loads(response.read())


def test_paying_through_the_api_and_stripes_webhook_pays_the_invoice(
    db, parties, live_server, api_token, stripe_gateway
):
    invoice, members = parties
    headers = api_token(members["buyer"].email)
    status, body = _post_json(
        f"{live_server}/api/v1/invoices/{invoice.id}/pay",
        {"payment_method": "pm_card_visa"},
        headers,
    )
    assert status == 202 and body["status"] == "pending" and body["amount_jpy"] == 1_105_500

    def paid():
        db.expire_all()
        return db.get(Invoice, invoice.id).status == "paid"

    wait_until(paid)  # localstripe → POST /api/v1/stripe/webhook (signed) → paid
    entries = {e.kind: e.amount_jpy for e in db.exec(select(SettlementEntry)).all()}
    assert entries == {"seller_payable": 1_100_000, "platform_fee": 5_500}
    assert db.exec(select(Payment)).one().status == "succeeded"
    assert _count(db, StripeEvent) >= 1
    assert len(intents_of_invoice(stripe_gateway, invoice.id)) == 1


def test_a_bad_signature_is_refused_and_a_replay_changes_nothing(
    db, client, parties, stripe_app, api_token, stripe_gateway
):
    invoice, members = parties
    r = client.post(
        f"/api/v1/invoices/{invoice.id}/pay",
        json={"payment_method": "pm_card_visa"},
        headers=api_token(members["buyer"].email),
    )
    assert r.status_code == 202
    event = event_of(
        stripe_gateway, r.get_json()["stripe_payment_intent_id"], "payment_intent.succeeded"
    )
    payload = json.dumps(event)

    forged = signed(payload, secret="whsec_wrong")
    r = client.post("/api/v1/stripe/webhook", data=payload, headers=forged)
    assert r.status_code == 400 and r.content_type == "application/problem+json"
    r = client.post(
        "/api/v1/stripe/webhook", data=payload, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400
    r = client.post("/api/v1/stripe/webhook", data="{not json", headers=signed("{not json"))
    assert r.status_code == 400
    old = signed(payload, at=1_000_000_000)  # signed long ago: a replay of a captured request
    assert client.post("/api/v1/stripe/webhook", data=payload, headers=old).status_code == 400
    assert _count(db, StripeEvent) == 0 and db.get(Invoice, invoice.id).status == "issued"

    r = client.post("/api/v1/stripe/webhook", data=payload, headers=signed(payload))
    assert r.status_code == 200 and r.get_json() == {"received": True, "processed": True}
    ledger = _count(db, SettlementEntry)
    r = client.post("/api/v1/stripe/webhook", data=payload, headers=signed(payload))
    assert r.status_code == 200 and r.get_json()["processed"] is False
    assert (_count(db, SettlementEntry), _count(db, StripeEvent)) == (ledger, 1)
    db.expire_all()
    assert db.get(Invoice, invoice.id).status == "paid"


def test_the_pay_page_offers_test_cards_and_shows_the_payment_pending(
    db, client, parties, stripe_app
):
    invoice, members = parties
    stripe_app.config["STRIPE_DEMO"] = True
    login(client, members["buyer"].email)
    page = client.get(f"/invoices/{invoice.id}/pay")
    assert page.status_code == 200
    assert "Visa 4242 (succeeds)" in page.text and "Card declined" in page.text
    assert "¥1,105,500" in page.text
    r = client.post(f"/invoices/{invoice.id}/pay", data={"payment_method": "pm_card_visa"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/invoices/{invoice.id}")
    page = client.get(f"/invoices/{invoice.id}/pay")
    assert "Payment pending — waiting for Stripe" in page.text
    assert db.exec(select(Payment)).one().status == "pending"


def test_the_payment_partial_shows_the_state_and_the_buttons(db, client, parties, stripe_app):
    """The invoicing slice's page includes invoices/_payment.html with `view.invoice`."""
    invoice, members = parties
    from flask import render_template_string

    def invoice_page(invoice_id: int):
        view = {"invoice": db.get(Invoice, invoice_id)}
        return render_template_string('{% include "invoices/_payment.html" %}', view=view)

    stripe_app.add_url_rule("/test-invoice/<int:invoice_id>", view_func=invoice_page)
    login(client, members["buyer"].email)
    html = client.get(f"/test-invoice/{invoice.id}").text
    assert "Not paid" in html and f"/invoices/{invoice.id}/pay" in html
    client.post("/logout")
    login(client, members["other"].email)
    assert "Payment" not in client.get(f"/test-invoice/{invoice.id}").text


@pytest.mark.parametrize(("who", "status"), [("other", 404), ("seller", 403)])
def test_another_organisation_or_the_seller_cannot_pay(
    client, parties, stripe_app, api_token, who, status
):
    invoice, members = parties
    r = client.post(
        f"/api/v1/invoices/{invoice.id}/pay", json={}, headers=api_token(members[who].email)
    )
    assert r.status_code == status


def test_refund_and_settlements_through_the_api(
    db, client, parties, stripe_app, api_token, stripe_gateway
):
    invoice, members = parties
    buyer = api_token(members["buyer"].email)
    r = client.post(f"/api/v1/invoices/{invoice.id}/pay", json={}, headers=buyer)
    event = event_of(
        stripe_gateway, r.get_json()["stripe_payment_intent_id"], "payment_intent.succeeded"
    )
    payload = json.dumps(event)
    assert (
        client.post("/api/v1/stripe/webhook", data=payload, headers=signed(payload)).status_code
        == 200
    )
    note = make_credit_note(db, db.get(Invoice, invoice.id))
    seller = api_token(members["seller"].email)
    r = client.post(f"/api/v1/credit-notes/{note.id}/refund", headers=seller)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["amount_jpy"] == 110_550 and r.get_json()["invoice_id"] == invoice.id
    assert client.post(f"/api/v1/credit-notes/{note.id}/refund", headers=seller).status_code == 409

    body = client.get("/api/v1/settlements", headers=seller).get_json()
    assert body["totals"] == {
        "seller_payable_jpy": 1_100_000,
        "refund_jpy": -110_000,
        "platform_fee_jpy": None,
        "net_jpy": 990_000,
    }
    assert [e["kind"] for e in body["items"]] == ["refund", "seller_payable"]
    operator = client.get("/api/v1/settlements", headers=api_token(members["operator"].email))
    assert operator.get_json()["totals"]["platform_fee_jpy"] == 4_950
    login(client, members["operator"].email)
    page = client.get("/settlements")
    assert page.status_code == 200 and "¥4,950" in page.text and "−¥110,000" in page.text
