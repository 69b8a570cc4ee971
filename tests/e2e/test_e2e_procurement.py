"""Issue 9's "done when" in Chromium, through the real pages and forms (CSRF on) over the demo
story and a real localstripe.

1. The City of Yokohama's officer finds the recycled-PET clear files in the catalogue, checks
   which rule applies (a tender above the threshold, a direct purchase under it), orders,
   follows the order to its invoice and pays it with the Visa test card; localstripe's signed
   webhook marks it paid. The yen and the supplier's chain-of-custody debit are exact.
2. The officer publishes a tender for recycled-plastic park benches; the Fujisawa bench maker
   and the Shizuoka molder bid through the bid form (the molder below the minimum
   post-consumer content: accepted with a warning); the officer sees nothing of the bids
   while they are sealed; at the deadline the bids open, the molder is disqualified with its
   reason (on the evaluation and on its own result page), the officer awards the bench maker
   with a justification, the public tender page shows the award to anyone, and
   /ocds/releases.json validates against the official OCDS 1.1.5 schemas.

The test's clock. The pages take the time from the clock, and the tender form (rightly)
refuses a tender period that does not start in the future; the test does not wait. It moves
the tender's periods instead, with one UPDATE each (`move_periods`), as if time had passed:
after publication the enquiry period lies two days back and the tender period is running;
after the bids its end is now, so the bids are no longer sealed.
"""

import json
import re
import urllib.request
from datetime import timedelta

from playwright.sync_api import expect
from proc_ocds_factories import schema_errors
from sqlalchemy import update
from sqlmodel import select
from stripe_fixtures import wait_until

from contracts.models import Invoice, InvoiceLine, Payment
from market.models import (
    Award,
    Bid,
    CatalogueProduct,
    OcdsRelease,
    PurchaseOrder,
    Tender,
)
from market.tenders import TOKYO
from participants.columns import utcnow
from participants.models import Member, Organization
from quality.custody import claim_kg
from quality.models import CustodyAccount, CustodyEntry
from web.cli import main

OFFICER = "officer@demo.junkan.jp"
BENCH_MAKER = "bench@demo.junkan.jp"
MOLDER = "molding@demo.junkan.jp"
FILES_EN = "Recycled-PET clear files, A4 (pack of 10)"
STATIONERY = "Stationery (common criterion) — plastic parts"
BENCHES = "Park benches and picnic tables — plastic"
FILES_PRICE = 480  # yen a pack, tax excluded (the demo's catalogue)
PACKS = 237  # 47.4 kg of files, 80 percent recycled: a claim of 37.92 kg, 38 kg rounded up
TOO_MANY = 6_000  # 6,000 × ¥528 = ¥3,168,000 with tax: above the ¥3,000,000 threshold
TITLE_EN = "Recycled-plastic park benches for Kishine Park"
TITLE_JA = "再生プラスチック製公園ベンチ（岸根公園）"
BUDGET = 2_400_000
BENCH_BID = (2_150_000, 24 * 48)  # price, mass of 24 benches (kg)
MOLDER_BID = (1_980_000, 24 * 40)  # a lighter bench: its claim is covered at submission
JUSTIFICATION = (
    "The only qualified bid: 95 percent post-consumer HDPE, covered by the maker's "
    "chain-of-custody balance and its recycler's certificates."
)


def yen(amount: int) -> str:
    """As the pages print yen (the `yen` filter)."""
    return f"−¥{-amount:,}" if amount < 0 else f"¥{amount:,}"


def local(moment) -> str:
    """A datetime-local form value (Japan time)."""
    return moment.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M")


def move_periods(db, tender_id: int, **columns) -> None:
    """The test's clock: set a tender's period columns as if time had passed."""
    db.execute(update(Tender).where(Tender.id == tender_id).values(**columns))
    db.commit()
    db.expire_all()


def jobs(app, *args: str) -> str:
    """`junkan jobs run …` on the test app, as the scheduler runs it; its output."""
    result = app.test_cli_runner().invoke(main, ["jobs", "run", *args])
    assert result.exit_code == 0, result.output
    return result.output


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (local)
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/json")
        return json.loads(response.read())


def buy_and_pay_clear_files(page, base: str, db, log_in) -> None:
    """Part 1: the catalogue, the rule, the order, its invoice paid by card."""
    log_in(page, base, OFFICER)
    page.get_by_role("link", name="Catalogue", exact=True).click()
    page.get_by_label("Category").select_option(label=STATIONERY)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=FILES_EN).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(FILES_EN)
    page.get_by_role("link", name="Buy directly").click()

    # The rule for a quantity above the threshold, then for one under it.
    rule = page.locator("section", has_text="Which rule applies")
    rule.get_by_label("Quantity").fill(str(TOO_MANY))
    rule.get_by_role("button", name="Show the rule for this quantity").click()
    expect(page.locator("#verdict")).to_have_text("Needs a tender")
    expect(page.locator("#threshold")).to_have_text("¥3,000,000")
    expect(page.locator("#rule")).to_contain_text("Local Autonomy Act")
    rule.get_by_label("Quantity").fill(str(PACKS))
    rule.get_by_role("button", name="Show the rule for this quantity").click()
    subtotal = PACKS * FILES_PRICE
    total = subtotal + subtotal * 10 // 100
    expect(page.locator("#verdict")).to_have_text("Direct purchase allowed")
    expect(page.locator("#quote-total")).to_have_text(yen(total))

    order_section = page.locator("section", has_text="Place the order")
    expect(order_section.get_by_label("Quantity")).to_have_value(str(PACKS))
    order_section.get_by_role("button", name="Place the order").click()
    expect(page.locator(".flash")).to_contain_text("is placed")
    order_id = int(re.search(r"/catalogue/orders/(\d+)$", page.url).group(1))
    expect(page.locator("#order-total")).to_have_text(yen(total))

    order = db.get(PurchaseOrder, order_id)
    invoice = db.exec(select(Invoice).where(Invoice.purchase_order_id == order_id)).one()
    files = db.get(CatalogueProduct, order.product_id)
    assert files.name_en == FILES_EN
    assert (order.quantity, order.unit_price_jpy, order.subtotal_jpy, order.total_jpy) == (
        PACKS,
        480,
        113_760,
        125_136,
    )
    assert (invoice.subtotal_jpy, invoice.total_jpy, invoice.status) == (113_760, 125_136, "issued")
    lines = db.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)).all()
    assert [(line.kind, line.amount_jpy) for line in lines] == [("goods", 113_760)]
    # The supplier's custody debit: 237 × 0.2 kg × 80 percent = 37.92 kg, rounded up.
    assert order.recycled_kg == claim_kg(PACKS * files.unit_mass_kg, files.total_recycled_pct) == 38
    debit = db.exec(
        select(CustodyEntry).where(
            CustodyEntry.kind == "debit",
            CustodyEntry.source == "order",
            CustodyEntry.source_id == order_id,
        )
    ).one()
    assert (debit.organization_id, debit.material_code, debit.kg) == (
        files.organization_id,
        "pet",
        38,
    )
    account = db.exec(
        select(CustodyAccount).where(
            CustodyAccount.organization_id == files.organization_id,
            CustodyAccount.material_code == "pet",
        )
    ).one()
    assert account.available_kg == debit.available_after_kg

    # The order page links its invoice; the officer pays it with the Visa test card.
    page.get_by_role("link", name=invoice.number, exact=True).click()
    expect(page.locator("#payment-status")).to_have_text("Not paid")
    page.get_by_role("link", name=f"Pay {yen(total)}").click()
    assert page.url.endswith(f"/invoices/{invoice.id}/pay")
    expect(page.locator("#amount")).to_have_text(yen(total))
    page.get_by_label("Visa 4242 (succeeds)").check()
    page.get_by_role("button", name=f"Pay {yen(total)}").click()
    expect(page.locator("#payment-status")).to_contain_text("Payment pending")

    def paid() -> bool:
        db.expire_all()
        return db.get(Invoice, invoice.id).status == "paid"

    wait_until(paid)
    page.reload()
    expect(page.locator("#payment-status")).to_have_text("Paid")
    payment = db.exec(select(Payment).where(Payment.invoice_id == invoice.id)).one()
    assert (payment.status, payment.amount_jpy) == ("succeeded", 125_136)
    page.goto(f"{base}/catalogue/orders/{order_id}")
    expect(page.locator("#payment-state")).to_have_text("Paid")


def publish_bench_tender(page, base: str, db, log_in) -> int:
    """Part 2a: the officer drafts the bench tender on the form and publishes it."""
    log_in(page, base, OFFICER)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tenders").click()
    page.get_by_role("link", name="New tender").click()
    page.get_by_label("Start from a category").select_option(label=BENCHES)
    page.get_by_role("button", name="Fill in its recommended recycled content").click()
    expect(page.locator("main")).to_contain_text(
        f"Recommended for {BENCHES}: post-consumer 90 percent, total 100 percent"
    )
    expect(page.get_by_label("Minimum post-consumer recycled content (percent)")).to_have_value(
        "90"
    )
    page.get_by_label("Title (Japanese)").fill(TITLE_JA)
    page.get_by_label("Title (English)").fill(TITLE_EN)
    page.get_by_label("Description (English)", exact=True).fill(
        "24 three-seat benches with backrest; slats of recycled plastic, delivered and installed."
    )
    page.get_by_label("Budget (yen, tax excluded)").fill(str(BUDGET))
    page.get_by_label("Description (English) 1", exact=True).fill("Park bench, three seats")
    page.get_by_label("Description (Japanese) 1", exact=True).fill("公園用ベンチ（3人掛け）")
    page.get_by_label("Quantity 1", exact=True).fill("24")
    page.get_by_label("Unit 1", exact=True).fill("piece")
    page.get_by_label("Minimum total recycled content (percent)").fill("95")
    expect(page.get_by_label("Bids must cite a quality certificate")).to_be_checked()
    page.get_by_label("Weight of the price").fill("50")
    page.get_by_label("Weight of the recycled content").fill("40")
    page.get_by_label("Weight of the evidence and data quality").fill("10")
    now = utcnow()
    page.get_by_label("Enquiry period from").fill(local(now + timedelta(hours=1)))
    page.get_by_label("Enquiry period until").fill(local(now + timedelta(days=3)))
    page.get_by_label("Tender period from").fill(local(now + timedelta(days=3)))
    page.get_by_label("Tender period until").fill(local(now + timedelta(days=17)))
    page.get_by_role("button", name="Save the draft").click()
    expect(page.locator(".flash")).to_contain_text("saved as a draft")
    tender_id = int(re.search(r"/tenders/(\d+)$", page.url).group(1))
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".flash")).to_contain_text("The tender is published")
    expect(page.locator("main")).to_contain_text("Published: the enquiry period has not begun")

    tender = db.get(Tender, tender_id)
    assert (tender.status, tender.title_en, tender.budget_jpy) == ("active", TITLE_EN, BUDGET)
    assert (str(tender.min_post_consumer_pct), str(tender.min_total_pct)) == ("90", "95")
    assert (tender.weight_price, tender.weight_recycled, tender.weight_evidence) == (50, 40, 10)
    return tender_id


def bid(page, base: str, tender_id: int, price: int, mass: int, post_consumer: str, note: str):
    """Part 2b: a supplier's sealed bid through the bid form, citing its HDPE certificates."""
    page.goto(f"{base}/tenders/{tender_id}")
    expect(page.locator("main")).to_contain_text("Tender period: sealed bids are taken")
    page.get_by_role("link", name="Submit a bid").click()
    certificates = page.locator("#citable-certificates tbody tr", has_text="hdpe")
    # The click navigates: wait for the bid form's table (all_inner_texts does not wait).
    expect(certificates.first).to_be_visible()
    cited = certificates.locator("td code").all_inner_texts()[:2]
    assert cited, "the bid form lists the HDPE certificates the supplier may cite"
    page.get_by_label("Price for the whole tender (yen, tax excluded)").fill(str(price))
    delivery = (utcnow() + timedelta(days=60)).astimezone(TOKYO).date()
    page.get_by_label("Delivery date").fill(delivery.isoformat())
    page.get_by_label("Recycled material the content draws on").select_option("hdpe")
    page.get_by_label("Mass of all goods offered (kg)").fill(str(mass))
    page.get_by_label("Post-consumer recycled content (percent)").fill(post_consumer)
    page.get_by_label("Total recycled content (percent)").fill("95")
    page.get_by_label("Evidence certificates (ids, separated by spaces)").fill(" ".join(cited))
    page.get_by_label("Note").fill(note)
    page.get_by_role("button", name="Submit the sealed bid").click()
    expect(page.locator(".flash")).to_contain_text("Your bid is submitted and sealed")
    expect(page.locator("main")).to_contain_text(yen(price))
    return cited


def org_names(db, email: str) -> tuple[int, str]:
    member = db.exec(select(Member).where(Member.email == email)).one()
    org = db.get(Organization, member.organization_id)
    return org.id, org.name_en


def test_officer_buys_directly_and_awards_a_sealed_bench_tender(
    app, stripe_live_server, browser, page, demo, log_in, stripe_gateway, db
):
    base = stripe_live_server
    buy_and_pay_clear_files(page, base, db, log_in)

    # 2. The bench tender, published; the test's clock moves it into its tender period.
    tender_id = publish_bench_tender(page, base, db, log_in)
    now = utcnow()
    move_periods(
        db,
        tender_id,
        enquiry_start=now - timedelta(days=4),
        enquiry_end=now - timedelta(days=2),
        tender_start=now - timedelta(days=2),
    )

    # Two sealed bids: the bench maker's compliant one, the molder's below the minimum
    # post-consumer content (accepted, with a warning).
    bench_org, bench_name = org_names(db, BENCH_MAKER)
    molder_org, molder_name = org_names(db, MOLDER)
    log_in(page, base, BENCH_MAKER)
    cited = bid(page, base, tender_id, *BENCH_BID, "95", "HDPE slats from bottle bales.")
    expect(page.locator("main .warning")).to_have_count(0)
    log_in(page, base, MOLDER)
    bid(page, base, tender_id, *MOLDER_BID, "85", "Slats of recycled HDPE.")
    expect(page.locator("main .warning")).to_have_text(
        "The post-consumer content is below the tender's minimum of 90 percent: the bid would "
        "be disqualified at opening."
    )
    bench_bid, molder_bid = db.exec(
        select(Bid).where(Bid.tender_id == tender_id).order_by(Bid.id)
    ).all()
    assert (bench_bid.organization_id, bench_bid.status, bench_bid.price_jpy) == (
        bench_org,
        "submitted",
        BENCH_BID[0],
    )
    assert (molder_bid.organization_id, molder_bid.status, str(molder_bid.post_consumer_pct)) == (
        molder_org,
        "submitted",
        "85",
    )

    # SEALED: the officer reads nothing of the bids before the deadline.
    log_in(page, base, OFFICER)
    page.goto(f"{base}/tenders/{tender_id}")
    main = page.locator("main")
    expect(main).to_contain_text("Bids are sealed until the tender period ends")
    for secret in (bench_name, molder_name, yen(BENCH_BID[0]), yen(MOLDER_BID[0])):
        expect(main).not_to_contain_text(secret)
    expect(main).not_to_contain_text("Bids received")
    expect(page.get_by_role("link", name="Evaluation", exact=True)).to_have_count(0)
    page.goto(f"{base}/tenders/{tender_id}/evaluation")
    expect(main).to_contain_text("The bids are sealed until the tender period ends")
    for secret in (bench_name, molder_name, yen(BENCH_BID[0]), yen(MOLDER_BID[0])):
        expect(main).not_to_contain_text(secret)

    # The deadline passes (the test's clock); the scheduler's job opens the bids.
    move_periods(db, tender_id, tender_end=utcnow())
    jobs_output = jobs(app, "open_due_tenders")
    assert db.get(Tender, tender_id).status == "evaluation", jobs_output

    page.goto(f"{base}/tenders/{tender_id}")
    page.get_by_role("link", name="Evaluation", exact=True).click()
    molder_row = page.locator("table tbody tr", has_text=molder_name)
    expect(molder_row).to_contain_text("Disqualified")
    expect(molder_row).to_contain_text(
        "Post-consumer recycled content of 85 percent is below the tender's minimum of 90 percent."
    )
    bench_row = page.locator("table tbody tr", has_text=bench_name)
    expect(bench_row).to_contain_text("Qualified")
    expect(bench_row.locator("td").first).to_have_text("1")
    expect(bench_row).to_contain_text(", ".join(sorted(cited)))

    # The molder reads its reason on its result page.
    log_in(page, base, MOLDER)
    page.goto(f"{base}/tenders/{tender_id}")
    page.get_by_role("link", name="Your bid's result").click()
    expect(page.locator("main")).to_contain_text("Why your bid is disqualified")
    expect(page.locator("main li.fail")).to_have_text(
        "Post-consumer recycled content of 85 percent is below the tender's minimum of 90 percent."
    )

    # The officer awards the bench maker with a justification.
    log_in(page, base, OFFICER)
    page.goto(f"{base}/tenders/{tender_id}/evaluation")
    choice = page.get_by_label("Bid to award")
    options = choice.locator("option").all_inner_texts()
    assert len(options) == 2 and bench_name in options[1], options
    choice.select_option(label=options[1])
    page.get_by_label("Justification of the award").fill(JUSTIFICATION)
    page.get_by_role("button", name="Award the bid").click()
    expect(page.locator(".flash")).to_contain_text("The bid is awarded")
    expect(page.locator("main")).to_contain_text(JUSTIFICATION)
    award = db.exec(select(Award).where(Award.tender_id == tender_id)).one()
    assert (award.bid_id, award.supplier_org_id, award.value_jpy, award.status) == (
        bench_bid.id,
        bench_org,
        BENCH_BID[0],
        "pending",
    )
    reserved = claim_kg(BENCH_BID[1], 95)
    assert award.reserved_kg == reserved == 1_095  # 1,152 kg × 95 percent, rounded up
    reservation = db.exec(
        select(CustodyEntry).where(
            CustodyEntry.kind == "reserve",
            CustodyEntry.source == "award",
            CustodyEntry.source_id == award.id,
        )
    ).one()
    assert (reservation.organization_id, reservation.kg) == (bench_org, reserved)

    # Anyone (logged out) reads the award on the public tender page.
    public = browser.new_context(locale="en-GB").new_page()
    public.goto(f"{base}/tenders/{tender_id}")
    expect(public.locator("main")).to_contain_text("Awarded (standstill period)")
    expect(public.locator("main")).to_contain_text("Bids received: 2.")
    expect(public.locator("#award")).to_contain_text(f"to {bench_name} for {yen(BENCH_BID[0])}.")
    expect(public.locator("main")).not_to_contain_text(yen(MOLDER_BID[0]))
    public.context.close()

    # The OCDS release package, over HTTP, validates and holds the award release.
    package = get_json(base + "/ocds/releases.json")
    assert schema_errors(package, package=True) == []
    for release in package["releases"]:
        assert schema_errors(release) == [], release["id"]
    ours = [r for r in package["releases"] if r["ocid"].endswith(f"-tender-{tender_id}")]
    assert sorted(r["tag"] for r in ours) == [["award"], ["tender"]]
    (released,) = [r for r in ours if r["tag"] == ["award"]]
    (awarded,) = released["awards"]
    assert awarded["value"] == {"amount": BENCH_BID[0], "currency": "JPY"}
    assert [s["name"] for s in awarded["suppliers"]] == [bench_name]
    assert awarded["description"] == JUSTIFICATION
    assert released["tender"]["numberOfTenderers"] == 2  # named once the bids are open
    stored = db.exec(
        select(OcdsRelease).where(OcdsRelease.tender_id == tender_id, OcdsRelease.tag == "award")
    ).one()
    assert json.loads(stored.release_json)["id"] == released["id"]
