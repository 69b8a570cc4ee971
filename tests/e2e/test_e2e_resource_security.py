"""Issue 10's "done when", in headless Chromium over the demo story:

1. a logged-out visitor opens /statistics and sees the charts and the maps of Japan, with small
   cells marked "suppressed";
2. the operator opens the export watch and finds the demo's expiring consent and its anomaly;
3. the black-mass recycler presses "Publish" on its draft delivered CIF Busan without an export
   consent and is refused with the reason; the listing stays a draft;
4. the smelter's import consent shows the German e-scrap contract running under it, with the
   term's tonnes committed.
"""

from playwright.sync_api import expect
from sqlmodel import select

from contracts.models import OfftakeContract
from demo.resource_security import BLACK_MASS_DRAFT_TITLE
from market.models import MovementRecord, SupplyListing


def test_statistics_watch_refusal_and_the_import_contract(live_server, page, demo, log_in, db):
    base = live_server

    # 1. Logged out: charts, two maps, suppressed cells.
    page.goto(base + "/statistics")
    main = page.locator("main")
    expect(main.locator("h1")).to_have_text("Market statistics")
    expect(main.locator("img.chart")).to_have_count(2)
    expect(main.locator(".maps svg")).to_have_count(2)
    expect(main.locator(".maps svg path").first).to_be_visible()
    expect(main.locator("table.statistics").first).to_contain_text("suppressed")
    assert main.locator("table.statistics td", has_text="suppressed").count() > 0
    expect(main.locator(".maps")).to_contain_text("suppressed")

    # 2. The operator's export watch: the anomaly and the consent expiring within 30 days.
    log_in(page, base, "operator@demo.junkan.jp")
    page.goto(base + "/watch")
    anomalies = page.locator("#anomalies + p + table tbody tr")
    expect(anomalies).to_have_count(1)
    expect(anomalies.first).to_contain_text("Material mismatch")
    expect(anomalies.first).to_contain_text("Declared as Copper scrap")
    expect(anomalies.first).to_contain_text("Waste printed circuit boards")
    expect(page.locator("main")).to_contain_text("METI-BA-2025-0388")  # lead-acid export
    expect(page.locator("#flows + img")).to_be_visible()  # the flows chart (the import)

    # 3. The black-mass draft CIF Busan: publishing is refused with what is missing.
    draft = db.exec(
        select(SupplyListing).where(SupplyListing.title == BLACK_MASS_DRAFT_TITLE)
    ).one()
    log_in(page, base, "blackmass@demo.junkan.jp")
    page.goto(f"{base}/listings/{draft.id}")
    page.get_by_role("button", name="Publish").click()
    flash = page.locator(".flash")
    expect(flash).to_contain_text("crosses Japan's border")
    expect(flash).to_contain_text("KR")
    db.expire_all()
    assert db.get(SupplyListing, draft.id).status == "draft"

    # 4. The smelter's import consent with the German contract under it.
    record = db.exec(
        select(MovementRecord).where(MovementRecord.reference == "METI-BA-2026-0417")
    ).one()
    contract = db.exec(
        select(OfftakeContract).where(OfftakeContract.movement_record_id == record.id)
    ).one()
    assert contract.status == "active"
    assert record.committed_kg == contract.consent_committed_kg == 240_000
    log_in(page, base, "smelter@demo.junkan.jp")
    page.goto(f"{base}/movements/{record.id}")
    expect(page.locator("main")).to_contain_text("METI-BA-2026-0417")
    expect(page.locator("main")).to_contain_text("240.000")
    expect(page.locator("main")).to_contain_text("600.000")
    expect(page.locator(f"main a[href='/contracts/{contract.id}']").first).to_be_visible()
