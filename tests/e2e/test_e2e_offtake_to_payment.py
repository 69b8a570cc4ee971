"""Issue 8's story end to end in Chromium, through the real forms (CSRF on) and a real
localstripe: the Osaka wire maker drafts an offtake from the Saitama yard's copper listing, the
yard counter-offers, both sign; the scheduler's job opens the month; the yard records an assay
(Cu 93.5 percent: a deduction) and a delivery with its weighbridge ticket, the wire maker
accepts it; the jobs close the month and issue the quality-adjusted invoice; the wire maker pays
it with the Visa test card, localstripe's signed webhook marks it paid and the performance page
shows the money; the audit chain verifies, and a replayed webhook changes nothing."""

import json
import re
import urllib.request
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, func, select
from stripe_fixtures import event_of, signed, wait_until

from contracts.models import (
    ContractEvent,
    DeliveryObligation,
    Invoice,
    InvoiceLine,
    Payment,
    SettlementEntry,
    StripeEvent,
)
from contracts.obligations import last_day_of_month
from market.listings import ListingPatch, update_listing
from participants.actors import actor_of
from participants.columns import tokyo_today
from participants.models import Member, Organization
from web.cli import main

MANUFACTURER = "manufacturer@demo.junkan.jp"
RECYCLER = "recycler@demo.junkan.jp"
CHECKS = ("no_brass", "no_excess_oil", "no_insulation", "no_burnt_brittle_wire")
TICKET_PDF = b"%PDF-1.4\n% weighbridge ticket WB-E2E-001, net 40.000 t\n%%EOF\n"


def yen(amount: int) -> str:
    """As the pages print yen (the `yen` filter)."""
    return f"−¥{-amount:,}" if amount < 0 else f"¥{amount:,}"


@pytest.fixture()
def listing(app, demo):
    """The yard's open Birch/Cliff listing, brought forward to start this month (Asia/Tokyo),
    so that a delivery of today falls into the contract's first month."""
    with Session(app.extensions["junkan.engine"], expire_on_commit=False) as session:
        member = session.exec(select(Member).where(Member.email == RECYCLER)).one()
        actor = actor_of(member, session.get(Organization, member.organization_id))
        patch = ListingPatch(available_from=tokyo_today().replace(day=1))
        update_listing(session, actor, demo.id, patch)
        session.commit()
    return demo


def jobs(app, *args: str) -> str:
    """`junkan jobs run …` on the test app, as the scheduler runs it; its output."""
    result = app.test_cli_runner().invoke(main, ["jobs", "run", *args])
    assert result.exit_code == 0, result.output
    return result.output


def post_webhook(base: str, payload: str) -> tuple[int, dict]:
    req = urllib.request.Request(
        base + "/api/v1/stripe/webhook", data=payload.encode(), method="POST"
    )
    for name, value in signed(payload).items():
        req.add_header(name, value)
    with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310 (local)
        return response.status, json.loads(response.read())


def ledger(session: Session, invoice_id: int) -> dict[str, int]:
    session.expire_all()
    rows = session.exec(
        select(SettlementEntry.kind, func.sum(SettlementEntry.amount_jpy))
        .where(SettlementEntry.invoice_id == invoice_id)
        .group_by(SettlementEntry.kind)
    ).all()
    return {kind: int(total) for kind, total in rows}


def count(session: Session, model, *where) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


def negotiate_and_sign(page, base: str, listing_id: int, log_in, month: str) -> int:
    """Step 1: draft from the listing, the yard's counter-offer, both signatures."""
    log_in(page, base, MANUFACTURER)
    page.goto(f"{base}/listings/{listing_id}")
    draft = page.locator("section", has_text="Start a contract draft")
    draft.locator("#monthly_t").fill("50")
    expect(draft.locator("#start_month")).to_have_value(month)
    draft.locator("#term_months").fill("6")
    draft.get_by_role("button", name="Start a contract draft").click()
    expect(page.locator(".flash")).to_contain_text("Contract draft")
    match = re.search(r"/contracts/(\d+)$", page.url)
    assert match, page.url
    contract_url = page.url

    log_in(page, base, RECYCLER)
    page.goto(contract_url)
    page.get_by_role("link", name="Propose a new version").click()
    page.locator("#monthly_t").fill("40")
    page.locator("#comment").fill("40 t a month while the new granulator ramps up")
    page.get_by_role("button", name="Propose this version").click()
    expect(page.locator(".flash")).to_contain_text("Version 2 proposed")

    log_in(page, base, MANUFACTURER)
    page.goto(contract_url)
    expect(page.locator("#thread")).to_contain_text("while the new granulator ramps up")
    page.get_by_role("button", name="Sign version 2").click()
    expect(page.locator(".flash")).to_contain_text("active when the other side signs")

    log_in(page, base, RECYCLER)
    page.goto(contract_url)
    page.get_by_role("button", name="Sign version 2").click()
    expect(page.locator(".flash")).to_contain_text("the contract is active")
    expect(page.locator("h1")).to_contain_text("Active")
    return int(match.group(1))


def record_assay(page, base: str, today: str) -> int:
    """Step 3a: the yard's assay of the lot, Cu 93.5 percent, inspected: ¥7,500/t off."""
    page.goto(base + "/assays/new")
    page.get_by_label("Lot reference").fill("KWG-E2E-01")
    page.get_by_label("Material", exact=True).select_option("copper_scrap")
    page.get_by_label("Tonnes", exact=True).fill("40")
    page.get_by_label("Laboratory", exact=True).fill("Japan Assay Centre")
    page.get_by_label("The laboratory is accredited (ISO/IEC 17025)").check()
    page.get_by_label("Method", exact=True).fill("JIS H 1051")
    page.get_by_label("Sampled on").fill(today)
    page.get_by_label("Reported on").fill(today)
    page.get_by_label("Declared composition (metals)").fill("No.2 copper wire")
    page.get_by_label("Parameter 1", exact=True).fill("cu_pct")
    page.get_by_label("Value 1", exact=True).fill("93.5")
    page.get_by_label("Uncertainty (±) 1", exact=True).fill("0.2")
    page.get_by_role("button", name="Save the assay").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("KWG-E2E-01")
    assay_id = int(re.search(r"/assays/(\d+)", page.url).group(1))
    page.get_by_label("Grade standard version").select_option("ISRI-BIRCH-CLIFF:1")
    page.get_by_role("button", name="Assess").click()
    for code in CHECKS:
        page.locator(f"#req-{code}").select_option("yes")
    page.get_by_role("button", name="Save the inspection").click()
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "conforms_with_deductions")
    expect(page.locator("#adjustment")).to_have_text("-7500")
    return assay_id


def record_and_accept_delivery(page, base, contract_id, assay_id, today, log_in) -> None:
    """Step 3b: the yard records 40 t with the assay and the weighbridge ticket; the wire
    maker accepts the delivery."""
    page.goto(f"{base}/contracts/{contract_id}/deliveries")
    page.get_by_role("link", name="Record a delivery").click()
    page.get_by_label("Delivery date").fill(today)
    page.get_by_label("Net tonnes").fill("40")
    page.get_by_label("Vehicle or container").fill("大宮 100 か 12-34")
    page.get_by_label("Assay of the lot").select_option(str(assay_id))
    page.get_by_label("Weighbridge ticket").set_input_files(
        {"name": "WB-E2E-001.pdf", "mimeType": "application/pdf", "buffer": TICKET_PDF}
    )
    page.get_by_role("button", name="Record the delivery").click()
    expect(page.locator("main")).to_contain_text("Awaiting the buyer")
    delivery_url = page.url
    assert re.search(r"/deliveries/\d+$", delivery_url), delivery_url

    log_in(page, base, MANUFACTURER)
    page.goto(delivery_url)
    expect(page.locator("main")).to_contain_text("WB-E2E-001.pdf")
    page.get_by_role("button", name="Accept the delivery").click()
    expect(page.locator("main")).to_contain_text("Accepted by the buyer")


def month_row(page, base: str, contract_id: int, month: str):
    page.goto(f"{base}/contracts/{contract_id}/performance")
    return page.locator("table tbody tr", has_text=month)


def test_offtake_from_draft_to_a_paid_quality_adjusted_invoice(
    app, stripe_live_server, page, listing, log_in, stripe_gateway, db
):
    base = stripe_live_server
    today = tokyo_today()
    month = today.strftime("%Y-%m")

    contract_id = negotiate_and_sign(page, base, listing.id, log_in, month)

    # 2. The scheduler's job opens the month; the yard sees it open.
    jobs(app, "open_obligations", "--month", month)
    opened = db.exec(
        select(DeliveryObligation).where(DeliveryObligation.contract_id == contract_id)
    ).one()
    assert (opened.month, opened.status, opened.due_kg) == (today.replace(day=1), "open", 40_000)
    page.goto(f"{base}/contracts/{contract_id}/deliveries")
    expect(page.locator("table tbody tr", has_text=month)).to_contain_text("Open for deliveries")

    # 3. Assay, delivery with its ticket, the buyer's acceptance.
    assay_id = record_assay(page, base, today.isoformat())
    record_and_accept_delivery(page, base, contract_id, assay_id, today.isoformat(), log_in)

    # 4. The month closes and is invoiced; the wire maker reads the invoice.
    after_month = last_day_of_month(today) + timedelta(days=1)
    jobs(app, "close_months", "--today", after_month.isoformat())
    jobs(app, "issue_invoices", "--month", month)
    invoice = db.exec(
        select(Invoice).where(Invoice.contract_id == contract_id, Invoice.kind == "invoice")
    ).one()
    lines = {
        line.kind: line.amount_jpy
        for line in db.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
    }
    assert set(lines) == {"base", "quality", "fee"}
    assert lines["quality"] == -7_500 * 40 and lines["fee"] > 0

    page.goto(base + "/invoices")
    page.get_by_role("link", name=invoice.number, exact=True).click()
    document = page.locator("table.invoice-lines")
    expect(document.locator("tr", has_text="Deliveries at the month's price")).to_contain_text(
        yen(lines["base"])
    )
    expect(document.locator("tr", has_text="Quality adjustment")).to_contain_text("−¥300,000")
    expect(document.locator("tr", has_text="Platform fee")).to_contain_text(yen(lines["fee"]))
    tax_row = document.locator("tr", has_text="Consumption tax")
    expect(tax_row).to_contain_text(f"10 % on {yen(invoice.subtotal_jpy)}")
    expect(tax_row).to_contain_text(yen(invoice.total_jpy - invoice.subtotal_jpy))
    expect(document.locator("tr.total")).to_contain_text(yen(invoice.total_jpy))
    expect(page.locator("#payment-status")).to_have_text("Not paid")
    row = month_row(page, base, contract_id, month)
    expect(row).to_contain_text(yen(invoice.total_jpy))
    expect(row.locator("td").last).to_have_text("¥0")

    # 5. The wire maker pays with the Visa test card; localstripe's webhook marks it paid.
    page.goto(f"{base}/invoices/{invoice.id}/pay")
    expect(page.locator("#amount")).to_have_text(yen(invoice.total_jpy))
    page.get_by_label("Visa 4242 (succeeds)").check()
    page.get_by_role("button", name=f"Pay {yen(invoice.total_jpy)}").click()
    expect(page.locator("#payment-status")).to_contain_text("Payment pending")

    def paid() -> bool:
        db.expire_all()
        return db.get(Invoice, invoice.id).status == "paid"

    wait_until(paid)
    page.reload()
    expect(page.locator("#payment-status")).to_have_text("Paid")
    payment = db.exec(select(Payment).where(Payment.invoice_id == invoice.id)).one()
    assert (payment.status, payment.amount_jpy) == ("succeeded", invoice.total_jpy)
    entries = ledger(db, invoice.id)
    assert entries["platform_fee"] > 0
    assert sum(entries.values()) == invoice.total_jpy

    # 6. The dashboard moved: the month is paid in full.
    row = month_row(page, base, contract_id, month)
    expect(row.locator("td").last).to_have_text(yen(invoice.total_jpy))

    # 7. The audit chain is intact, in the browser and from the command line.
    page.goto(f"{base}/contracts/{contract_id}/events")
    expect(page.locator("main")).to_contain_text("The chain is intact")
    verify = app.test_cli_runner().invoke(
        main, ["contracts", "verify", "--contract", str(contract_id)]
    )
    assert verify.exit_code == 0 and "intact" in verify.output, verify.output

    # 8. A replay of Stripe's event (validly signed) changes nothing.
    event = event_of(stripe_gateway, payment.stripe_payment_intent_id, "payment_intent.succeeded")
    before = (
        count(db, StripeEvent),
        ledger(db, invoice.id),
        count(db, ContractEvent, ContractEvent.contract_id == contract_id),
    )
    status, body = post_webhook(base, json.dumps(event))
    assert (status, body) == (200, {"received": True, "processed": False})
    after = (
        count(db, StripeEvent),
        ledger(db, invoice.id),
        count(db, ContractEvent, ContractEvent.contract_id == contract_id),
    )
    assert after == before
    assert db.get(Invoice, invoice.id).status == "paid"
    assert count(db, Payment, Payment.invoice_id == invoice.id) == 1
