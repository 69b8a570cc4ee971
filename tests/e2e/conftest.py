"""Browser tests: the app served by waitress in a thread, driven by Debian's Chromium."""

import socket
import threading

import pytest
from playwright.sync_api import sync_playwright
from waitress.server import create_server

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


@pytest.fixture()
def live_server(app):
    app.config["WTF_CSRF_ENABLED"] = True  # the browser goes through the real forms
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = create_server(app, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.close()


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
    yield p
    context.close()
