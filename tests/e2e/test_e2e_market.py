"""Demo story in Chromium: the Osaka wire maker finds the Saitama copper yard by search and by
proposal; both accept and a contract draft appears."""

from playwright.sync_api import expect


def test_wire_maker_and_copper_yard_find_each_other_and_agree(live_server, page, demo, log_in):
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
