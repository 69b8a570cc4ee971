"""The contract lifecycle in Chromium, through the real forms (CSRF on): the Osaka wire maker
starts a draft from the Saitama copper listing, the yard answers with a counter-offer, both
signatories sign the same terms hash and the contract is active; the printable contract shows
the hash and the audit chain is intact."""

import re

from playwright.sync_api import expect
from sqlmodel import Session, select

from contracts.models import ContractTerms, OfftakeContract


def test_a_draft_is_negotiated_signed_by_both_and_printed(live_server, page, demo, app, log_in):
    listing = demo
    log_in(page, live_server, "manufacturer@demo.junkan.jp")
    page.goto(f"{live_server}/listings/{listing.id}")
    draft = page.locator("section", has_text="Start a contract draft")
    draft.locator("#monthly_t").fill("50")
    draft.get_by_role("button", name="Start a contract draft").click()
    expect(page.locator(".flash")).to_contain_text("Contract draft")
    contract_url = page.url
    assert re.search(r"/contracts/\d+$", contract_url)

    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server, "recycler@demo.junkan.jp")
    page.goto(live_server + "/notifications")
    expect(page.locator("main")).to_contain_text("was started with your organisation")
    page.goto(contract_url)
    page.get_by_role("link", name="Propose a new version").click()
    page.locator("#monthly_t").fill("45")
    page.locator("#comment").fill("45 t a month from our Kawaguchi yard")
    page.get_by_role("button", name="Propose this version").click()
    expect(page.locator(".flash")).to_contain_text("Version 2 proposed")
    expect(page.locator("main")).to_contain_text("version 1 → version 2")

    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server, "manufacturer@demo.junkan.jp")
    page.goto(contract_url)
    expect(page.locator("#thread")).to_contain_text("45 t a month from our Kawaguchi yard")
    page.get_by_role("button", name="Sign version 2").click()
    expect(page.locator(".flash")).to_contain_text("active when the other side signs")

    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server, "recycler@demo.junkan.jp")
    page.goto(contract_url)
    page.get_by_role("button", name="Sign version 2").click()
    expect(page.locator(".flash")).to_contain_text("the contract is active")
    expect(page.locator("h1")).to_contain_text("Active")
    expect(page.locator("main")).to_contain_text("intact")

    with Session(app.extensions["junkan.engine"]) as session:
        contract_id = int(contract_url.rsplit("/", 1)[1])
        contract = session.get(OfftakeContract, contract_id)
        assert (contract.status, contract.active_version, contract.reserved_kg) == (
            "active",
            2,
            45_000,
        )
        sha = session.exec(
            select(ContractTerms.sha256).where(
                ContractTerms.contract_id == contract_id, ContractTerms.version == 2
            )
        ).one()
    page.get_by_role("link", name="Printable contract").click()
    expect(page.locator("main")).to_contain_text(sha)
    expect(page.locator("main")).to_contain_text("Version 2, signed by both parties")
