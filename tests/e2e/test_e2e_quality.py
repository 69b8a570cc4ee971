"""A recycler enters an assay, sees it graded with a deduction and certifies it; anyone can
verify the certificate without logging in."""

import pytest
from factories import PASSWORD, make_member, make_org
from playwright.sync_api import expect

from quality.catalogue import seed_catalogue

BIRCH_CLIFF_CHECKS = ("no_brass", "no_excess_oil", "no_insulation", "no_burnt_brittle_wire")


@pytest.fixture()
def yard(db):
    seed_catalogue(db)
    org = make_org(db, kind="recycler", name_en="Kawaguchi Copper Yard")
    return make_member(db, org, roles="admin inspector", locale="en")


def test_assay_is_graded_certified_and_verified(live_server, browser, page, yard):
    page.goto(live_server + "/login")
    page.get_by_label("E-mail").fill(yard.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main button[type=submit]").click()
    page.goto(live_server + "/assays/new")
    page.get_by_label("Lot reference").fill("KWG-2026-11-B")
    page.get_by_label("Material", exact=True).select_option("copper_scrap")
    page.get_by_label("Tonnes", exact=True).fill("22.4")
    page.get_by_label("Laboratory", exact=True).fill("Japan Assay Centre")
    page.get_by_label("The laboratory is accredited (ISO/IEC 17025)").check()
    page.get_by_label("Method", exact=True).fill("JIS H 1051")
    page.get_by_label("Sampled on").fill("2026-11-10")
    page.get_by_label("Reported on").fill("2026-11-14")
    page.get_by_label("Declared composition (metals)").fill("No.2 copper wire")
    page.get_by_label("Parameter 1", exact=True).fill("cu_pct")
    page.get_by_label("Value 1", exact=True).fill("93.5")
    page.get_by_label("Uncertainty (±) 1", exact=True).fill("0.2")
    page.get_by_role("button", name="Save the assay").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("KWG-2026-11-B")
    page.get_by_label("Grade standard version").select_option("ISRI-BIRCH-CLIFF:1")
    page.get_by_role("button", name="Assess").click()
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "incomplete")
    for code in BIRCH_CLIFF_CHECKS:
        page.locator(f"#req-{code}").select_option("yes")
    page.get_by_role("button", name="Save the inspection").click()
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "conforms_with_deductions")
    expect(page.locator("#adjustment")).to_have_text("-7500")

    page.get_by_role("button", name="Issue a certificate for ISRI-BIRCH-CLIFF v1").click()
    certificate_url = page.url
    cert_id = certificate_url.rstrip("/").rsplit("/", 1)[1]

    public = browser.new_context(locale="en-GB").new_page()
    public.goto(f"{live_server}/verify/{cert_id}")
    expect(public.locator("#verdict")).to_contain_text("Genuine")
    expect(public.locator("main")).to_contain_text("22.400")
    expect(public.locator("main")).not_to_contain_text("¥")
    public.context.close()
