"""Demo story in Chromium: the Osaka wire maker finds the Saitama copper yard by search and by
proposal; both accept and a contract draft appears."""

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from demo.organizations import DEMO_PASSWORD, load_demo


@pytest.fixture()
def demo(app):
    with Session(app.extensions["junkan.engine"], expire_on_commit=False) as session:
        load_demo(session, echo=lambda _msg: None)


def log_in(page, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(DEMO_PASSWORD)
    page.locator("main button[type=submit]").click()
    expect(page.locator("header form.inline button")).to_be_visible()  # the log-out button
    if page.locator("html").get_attribute("lang") == "ja":  # demo members read Japanese
        page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_wire_maker_and_copper_yard_find_each_other_and_agree(live_server, page, demo):
    log_in(page, live_server, "manufacturer@demo.junkan.jp")
    page.goto(live_server + "/listings?material=copper_scrap&near=27&sort=distance")
    rows = page.locator("table tbody tr", has_text="Sai-no-Kuni Metal Recycling")
    expect(rows.first).to_be_visible()
    expect(rows.filter(has_text="ISRI-BIRCH-CLIFF").first).to_contain_text("120")

    page.get_by_role("link", name="Proposals").click()
    proposal = page.locator("section.proposal", has_text="ISRI-BIRCH-CLIFF from Kawaguchi yard")
    expect(proposal).to_contain_text("Sai-no-Kuni Metal Recycling")
    expect(proposal).to_contain_text("Naniwa Electric Wire")
    expect(proposal).to_contain_text("Price spread")
    proposal.get_by_role("button", name="Accept").click()
    expect(page.locator(".flash")).to_contain_text("Waiting for the other side")

    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server, "recycler@demo.junkan.jp")
    page.goto(live_server + "/proposals")
    proposal = page.locator("section.proposal", has_text="ISRI-BIRCH-CLIFF from Kawaguchi yard")
    expect(proposal).not_to_contain_text("Your ceiling")
    proposal.get_by_role("button", name="Accept").click()
    expect(page.locator(".flash")).to_contain_text("contract draft")
    expect(page.locator("main")).to_contain_text("120.000")
