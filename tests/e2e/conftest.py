"""Browser tests: the app served by waitress in a thread, driven by Debian's Chromium.

Shared by the browser tests: `live_server` (the test app, CSRF on), `stripe_live_server` (the
same, paying through the session's localstripe, which sends its signed webhooks to it), the
`demo` story and `log_in` as a demo member (in English)."""

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from demo_rows import load_demo_rows
from flask import Flask
from playwright.sync_api import expect, sync_playwright
from sqlmodel import Session, select
from stripe_fixtures import WEBHOOK_SECRET
from waitress.server import create_server

from demo.organizations import DEMO_PASSWORD
from market.models import SupplyListing
from participants.models import Member

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@contextmanager
def _served(app: Flask) -> Iterator[str]:
    """`app` served on a free port of 127.0.0.1 through the real forms (CSRF on); its base URL."""
    app.config["WTF_CSRF_ENABLED"] = True
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = create_server(app, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


@pytest.fixture()
def live_server(app):
    with _served(app) as url:
        yield url


@pytest.fixture()
def stripe_live_server(stripe_app, local_stripe):
    """The app paying through localstripe (demo test cards on the pay page), registered as
    localstripe's webhook endpoint so that payments come back signed to this server."""
    stripe_app.config["STRIPE_DEMO"] = True
    with _served(stripe_app) as url:
        local_stripe.register_webhook(url + "/api/v1/stripe/webhook", WEBHOOK_SECRET)
        yield url


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(locale="en-GB")
    p = context.new_page()
    p.set_default_timeout(10_000)
    # A page load waits longer than an element: the server draws a cold page (the statistics
    # maps, the first matplotlib import of a worker) on CPUs it shares with the other worker.
    p.set_default_navigation_timeout(30_000)
    yield p
    context.close()


@pytest.fixture()
def demo(app) -> SupplyListing:
    """The demo story loaded; returns the Saitama yard's first open copper listing
    (ISRI-BIRCH-CLIFF, available from next month)."""
    load_demo_rows(app.extensions["junkan.engine"])
    with Session(app.extensions["junkan.engine"], expire_on_commit=False) as session:
        recycler = session.exec(
            select(Member).where(Member.email == "recycler@demo.junkan.jp")
        ).one()
        return session.exec(
            select(SupplyListing)
            .where(
                SupplyListing.organization_id == recycler.organization_id,
                SupplyListing.status == "open",
                SupplyListing.material_code == "copper_scrap",
            )
            .order_by(SupplyListing.id)
        ).first()


def _log_in(page, base: str, email: str) -> None:
    """Log in as a demo member (logging out whoever is logged in) and read English."""
    log_out = page.get_by_role("button", name="Log out")
    if log_out.count():
        log_out.click()
        expect(log_out).to_have_count(0)  # logged out before the next navigation
    page.goto(base + "/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(DEMO_PASSWORD)
    page.locator("main button[type=submit]").click()
    expect(page.locator("header form.inline button")).to_be_visible()  # the log-out button
    if page.locator("html").get_attribute("lang") == "ja":  # demo members read Japanese
        page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")


@pytest.fixture()
def log_in():
    """`log_in(page, base_url, email)`: as that demo member, in English."""
    return _log_in


@pytest.fixture(scope="module")
def demo_server(demo_story_app):
    """The demo story, loaded once for the test module (`demo_story_app`), served through the
    real forms (CSRF on); its base URL. For tests that each leave the story fit for the next."""
    with _served(demo_story_app) as url:
        yield url
