"""The Stripe gateway of `contracts.payments`: a StripeClient with the settings of the app.

`STRIPE_SECRET_KEY` selects the account; `STRIPE_API_BASE` (optional) points the SDK at another
server — localstripe in the demo and the tests. Network retries are off: the domain decides
what to do when a call fails (and localstripe ignores idempotency keys anyway); the keys are
still sent, for the real Stripe.
"""

import secrets

import stripe
from flask import Flask, current_app

from contracts.payments import GatewayError

GATEWAY_KEY = "junkan.stripe_gateway"
LOCALSTRIPE_KEY = "junkan.localstripe"
WEBHOOK_PATH = "/api/v1/stripe/webhook"


class StripeGateway:
    """`contracts.payments.PaymentGateway` over the Stripe SDK."""

    def __init__(self, client: stripe.StripeClient):
        self.client = client

    def create_customer(self, name: str, organization_id: int) -> str:
        params = {"name": name, "metadata": {"organization_id": str(organization_id)}}
        return self._call(lambda: self.client.v1.customers.create(params=params)).id

    def create_intent(
        self, amount_jpy: int, customer_id: str, payment_method: str, metadata: dict[str, str]
    ) -> str:
        params = {
            "amount": amount_jpy,
            "currency": "jpy",
            "customer": customer_id,
            "payment_method": payment_method,
            "metadata": metadata,
        }
        return self._call(lambda: self.client.v1.payment_intents.create(params=params)).id

    def confirm_intent(self, intent_id: str) -> str:
        try:
            return self.client.v1.payment_intents.confirm(intent_id).status
        except stripe.CardError:
            return "requires_payment_method"  # declined: the webhook reports it
        except stripe.StripeError as err:
            raise GatewayError(str(err)) from err

    def cancel_intent(self, intent_id: str) -> str:
        try:
            return self.client.v1.payment_intents.cancel(intent_id).status
        except stripe.InvalidRequestError as err:  # already canceled, or not cancelable
            status = self.intent_status(intent_id)
            if status == "canceled":
                return status
            raise GatewayError(str(err)) from err
        except stripe.StripeError as err:
            raise GatewayError(str(err)) from err

    def intent_status(self, intent_id: str) -> str:
        return self._call(lambda: self.client.v1.payment_intents.retrieve(intent_id)).status

    def refund(self, intent_id: str, amount_jpy: int, metadata: dict[str, str]) -> tuple[str, str]:
        params = {"payment_intent": intent_id, "amount": amount_jpy, "metadata": metadata}
        options = {"idempotency_key": f"refund-{metadata.get('credit_note_id', '')}"}
        refund = self._call(lambda: self.client.v1.refunds.create(params=params, options=options))
        return refund.id, refund.status

    def events(self, kind: str) -> list[dict]:
        """The newest 100 events of one type, as plain dicts (the demo loader reads the
        payments it made from them: `demo.contracts.DemoGateway`)."""
        params = {"limit": 100, "type": kind}
        listed = self._call(lambda: self.client.v1.events.list(params=params))
        return [event.to_dict() for event in listed.data]

    @staticmethod
    def _call(action):
        try:
            return action()
        except stripe.StripeError as err:
            raise GatewayError(str(err)) from err


def client_of(config: dict) -> stripe.StripeClient | None:
    key = config.get("STRIPE_SECRET_KEY") or ""
    if not key:
        return None
    base = config.get("STRIPE_API_BASE") or ""
    options: dict = {"max_network_retries": 0}
    if base:
        options["base_addresses"] = {"api": base}
    return stripe.StripeClient(key, **options)


class UnconfiguredGateway:
    """No Stripe key: every call fails before anything is charged (503)."""

    def __getattr__(self, _name: str):
        def fail(*_args, **_kwargs):
            raise GatewayError("Stripe is not configured (STRIPE_SECRET_KEY)")

        return fail


def payment_gateway():
    """The app's gateway (tests may put their own in app.extensions[GATEWAY_KEY])."""
    app = current_app
    gateway = app.extensions.get(GATEWAY_KEY)
    if gateway is None:
        client = client_of(app.config)
        gateway = StripeGateway(client) if client else UnconfiguredGateway()
        app.extensions[GATEWAY_KEY] = gateway
    return gateway


def demo_mode(app: Flask | None = None) -> bool:
    """True when payments go to a local Stripe (test cards are offered)."""
    app = app or current_app
    return bool(app.config.get("STRIPE_DEMO"))


def local_gateway(server) -> StripeGateway:
    """The gateway over a `web.localstripe.LocalStripe` server."""
    client = stripe.StripeClient(
        server.key, base_addresses={"api": server.url}, max_network_retries=0
    )
    return StripeGateway(client)


def start_local_stripe(app: Flask, webhook_base_url: str):
    """The demo without a Stripe key: start localstripe, point the app at it and have it send
    its webhooks to `webhook_base_url` + /api/v1/stripe/webhook. Returns the server (stop it)."""
    from web.localstripe import LocalStripe

    server = LocalStripe.start()
    secret = app.config.get("STRIPE_WEBHOOK_SECRET") or f"whsec_{secrets.token_hex(16)}"
    server.register_webhook(webhook_base_url.rstrip("/") + WEBHOOK_PATH, secret)
    app.config.update(
        STRIPE_SECRET_KEY=server.key,
        STRIPE_PUBLISHABLE_KEY="pk_test_localstripe",
        STRIPE_API_BASE=server.url,
        STRIPE_WEBHOOK_SECRET=secret,
        STRIPE_DEMO=True,
    )
    app.extensions.pop(GATEWAY_KEY, None)
    app.extensions[LOCALSTRIPE_KEY] = server
    return server
