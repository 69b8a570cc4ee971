"""Stripe in the tests: ONE localstripe per test session (on a free local port, its own data
folder), reset between the tests that use it, a gateway of the domain over it, an app served by
a real threaded server so that localstripe's signed webhooks reach it, and a fake gateway for
tests that only need "Stripe said yes" (the parity table)."""

import threading
import time
from collections.abc import Callable

import pytest
import stripe
from werkzeug.serving import make_server

from web.localstripe import LocalStripe
from web.stripe_gateway import GATEWAY_KEY, StripeGateway

WEBHOOK_SECRET = "whsec_test_junkan"
POLL_S = 0.05
TIMEOUT_S = 10.0


@pytest.fixture(scope="session")
def local_stripe():
    server = LocalStripe.start()
    yield server
    server.stop()


@pytest.fixture()
def stripe_gateway(local_stripe) -> StripeGateway:
    """The domain's gateway over a localstripe emptied for this test."""
    local_stripe.reset()
    client = stripe.StripeClient(
        local_stripe.key, base_addresses={"api": local_stripe.url}, max_network_retries=0
    )
    return StripeGateway(client)


@pytest.fixture()
def stripe_app(app, stripe_gateway):
    """The test app paying through localstripe (events are delivered by the tests)."""
    app.config["STRIPE_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    app.extensions[GATEWAY_KEY] = stripe_gateway
    return app


@pytest.fixture()
def live_server(stripe_app, local_stripe):
    """`stripe_app` served on 127.0.0.1 by a threaded werkzeug server, registered as
    localstripe's webhook endpoint; yields its base URL."""
    server = make_server("127.0.0.1", 0, stripe_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    local_stripe.register_webhook(url + "/api/v1/stripe/webhook", WEBHOOK_SECRET)
    yield url
    server.shutdown()
    thread.join(5)


def wait_until(condition: Callable[[], object], timeout: float = TIMEOUT_S):
    """Poll `condition` every 50 ms until it is truthy (its value), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(POLL_S)


def events_of_intent(gateway: StripeGateway, intent_id: str, kind: str) -> list[dict]:
    """localstripe's events of one type about one PaymentIntent, as plain dicts."""
    listed = gateway.client.v1.events.list(params={"limit": 100, "type": kind})
    return [e.to_dict() for e in listed.data if e.data.object.id == intent_id]


def event_of(gateway: StripeGateway, intent_id: str, kind: str) -> dict:
    return wait_until(lambda: events_of_intent(gateway, intent_id, kind))[0]


def intents_of_invoice(gateway: StripeGateway, invoice_id: int) -> list:
    listed = gateway.client.v1.payment_intents.list(params={"limit": 100})
    return [i for i in listed.data if i.metadata.to_dict().get("invoice_id") == str(invoice_id)]


def signed(payload: str, secret: str = WEBHOOK_SECRET, at: int | None = None) -> dict:
    """The Stripe-Signature header of a payload, as Stripe computes it."""
    at = at or int(time.time())
    signature = stripe.WebhookSignature._compute_signature(f"{at}.{payload}", secret)
    return {"Stripe-Signature": f"t={at},v1={signature}", "Content-Type": "application/json"}


class FakeGateway:
    """A gateway that accepts every card and counts its intents (no Stripe at all)."""

    def __init__(self) -> None:
        self.intents: dict[str, dict] = {}
        self.refunds: list[tuple[str, int]] = []

    def create_customer(self, name: str, organization_id: int) -> str:
        return f"cus_fake{organization_id}"

    def create_intent(self, amount_jpy, customer_id, payment_method, metadata) -> str:
        intent = f"pi_fake{len(self.intents) + 1}"
        self.intents[intent] = {"amount": amount_jpy, "status": "requires_confirmation"}
        return intent

    def confirm_intent(self, intent_id: str) -> str:
        self.intents[intent_id]["status"] = "succeeded"
        return "succeeded"

    def cancel_intent(self, intent_id: str) -> str:
        self.intents[intent_id]["status"] = "canceled"
        return "canceled"

    def intent_status(self, intent_id: str) -> str:
        return self.intents[intent_id]["status"]

    def refund(self, intent_id, amount_jpy, metadata) -> tuple[str, str]:
        self.refunds.append((intent_id, amount_jpy))
        return f"re_fake{len(self.refunds)}", "succeeded"
