"""Invoice pages and API: the parties read their invoices (others: 404, anonymous: 401), the
list costs the same queries whatever its length, the printable invoice, the registration
number form and endpoint, and `junkan jobs run issue_invoices` end to end."""

from datetime import date

import pytest
from click.testing import CliRunner
from factories import corporate_number, login, make_member, make_org
from operations_factories import copper_version, make_active_contract
from sqlmodel import select
from test_query_counts import counted

from contracts.invoicing import issue_invoices
from contracts.models import Delivery, DeliveryObligation, Invoice
from contracts.obligations import close_months, open_month
from participants.actors import SYSTEM
from participants.models import Organization
from quality.catalogue import seed_catalogue
from web.cli import main

JAN = date(2027, 1, 1)
NUMBER = "T" + corporate_number(7_200_001)


class World:
    def __init__(self, db, registration: str | None = NUMBER):
        seed_catalogue(db)
        self.db = db
        self.version = copper_version(db)
        self.seller = make_org(db, kind="recycler", qualified_invoice_number=registration)
        self.buyer = make_org(db, kind="manufacturer")
        self.other = make_org(db, kind="manufacturer")
        self.seller_admin = make_member(db, self.seller, roles="admin")
        self.seller_trader = make_member(db, self.seller, roles="trader")
        self.buyer_trader = make_member(db, self.buyer, roles="trader")
        self.outsider = make_member(db, self.other, roles="admin trader")
        self.contract = make_active_contract(db, self.seller, self.buyer, self.version)

    def invoice_month(self, quality: int = -7_500) -> Invoice:
        """January opened, one accepted 60 t lot (with a quality adjustment), closed, invoiced."""
        open_month(self.db, SYSTEM, JAN)
        self.db.commit()
        ob = self.db.exec(
            select(DeliveryObligation).where(DeliveryObligation.contract_id == self.contract.id)
        ).one()
        self.db.add(
            Delivery(
                contract_id=self.contract.id,
                obligation_id=ob.id,
                delivered_on=date(2027, 1, 20),
                net_kg=60_000,
                status="accepted",
                outcome="conforms_with_deductions",
                adjustment_jpy_per_t=quality,
            )
        )
        self.db.commit()
        close_months(self.db, SYSTEM, date(2027, 2, 1))
        issue_invoices(self.db, JAN, today=date(2027, 2, 1))
        self.db.commit()
        return self.db.exec(select(Invoice).where(Invoice.contract_id == self.contract.id)).one()


@pytest.fixture()
def w(db):
    return World(db)


def test_the_invoice_page_shows_lines_tax_total_registration_and_due_date(client, w):
    invoice = w.invoice_month()
    login(client, w.buyer_trader.email)
    page = client.get(f"/invoices/{invoice.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "JK-2027-000001" in html and NUMBER in html
    assert "¥72,000,000" in html  # 60 t × ¥1,200,000
    assert "−¥450,000" in html  # 60 t × −¥7,500: a deduction
    assert "Consumption tax 10 % on" in html
    assert f"¥{invoice.total_jpy:,}" in html and f"¥{invoice.tax_jpy:,}" in html
    assert "2027-03-03" in html  # due: 30 days after 2027-02-01
    assert f'href="/contracts/{w.contract.id}"' in html
    assert "Not a qualified invoice" not in html


def test_an_invoice_without_the_sellers_registration_number_says_it_is_not_qualified(client, db):
    w = World(db, registration=None)
    invoice = w.invoice_month()
    login(client, w.seller_trader.email)
    html = client.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    assert "Not a qualified invoice: the seller has no registration number." in html


def test_the_printable_invoice_has_its_print_stylesheet(client, w):
    invoice = w.invoice_month()
    login(client, w.seller_trader.email)
    page = client.get(f"/invoices/{invoice.id}/print")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "invoice-print.css" in html and "JK-2027-000001" in html
    assert client.get("/static/invoice-print.css").status_code == 200


def test_another_organisations_invoice_is_not_found_through_either_door(client, w, api_token):
    invoice = w.invoice_month()
    login(client, w.outsider.email)
    assert client.get(f"/invoices/{invoice.id}").status_code == 404
    assert client.get(f"/invoices/{invoice.id}/print").status_code == 404
    assert "JK-2027" not in client.get("/invoices").get_data(as_text=True)
    headers = api_token(w.outsider.email)
    assert client.get(f"/api/v1/invoices/{invoice.id}", headers=headers).status_code == 404
    assert client.get("/api/v1/invoices", headers=headers).get_json()["items"] == []


def test_the_api_needs_a_token(client, w):
    invoice = w.invoice_month()
    assert client.get("/api/v1/invoices").status_code == 401
    assert client.get(f"/api/v1/invoices/{invoice.id}").status_code == 401


def test_the_api_reads_an_invoice_with_lines_and_tax_once(client, w, api_token):
    invoice = w.invoice_month()
    headers = api_token(w.buyer_trader.email)
    body = client.get(f"/api/v1/invoices/{invoice.id}", headers=headers).get_json()
    assert (body["number"], body["kind"], body["month"], body["qualified"]) == (
        "JK-2027-000001",
        "invoice",
        "2027-01",
        True,
    )
    assert [(x["kind"], x["amount_jpy"]) for x in body["lines"]] == [
        ("base", 72_000_000),
        ("quality", -450_000),
        ("shortfall", 4_800_000),  # 20 t short of 80 t at 20 percent of ¥1,200,000
        ("fee", 381_750),  # 0.5 percent of ¥76,350,000
    ]
    assert body["taxes"] == [{"rate_pct": "10", "base_jpy": 76_731_750, "tax_jpy": 7_673_175}]
    assert (body["subtotal_jpy"], body["tax_jpy"], body["total_jpy"]) == (
        76_731_750,
        7_673_175,
        84_404_925,
    )
    assert body["payment_status"] is None and body["credit_notes"] == []
    listed = client.get("/api/v1/invoices?status=issued", headers=headers).get_json()
    assert [i["id"] for i in listed["items"]] == [invoice.id]
    assert client.get("/api/v1/invoices?status=paid", headers=headers).get_json()["items"] == []
    bad = client.get("/api/v1/invoices?status=lost", headers=headers)
    assert bad.status_code in (400, 422)


def test_the_list_filters_by_state_and_contract_and_nonsense_is_refused(client, w):
    invoice = w.invoice_month()
    login(client, w.seller_trader.email)
    mine = client.get(f"/invoices?contract_id={w.contract.id}").get_data(as_text=True)
    assert invoice.number in mine
    assert invoice.number not in client.get("/invoices?status=paid").get_data(as_text=True)
    odd = client.get("/invoices?status=lost").get_data(as_text=True)
    assert "Choose one of the allowed values." in odd and invoice.number in odd


def test_the_list_page_and_api_do_not_query_per_invoice(app, client, w, api_token):
    w.invoice_month()
    login(client, w.seller_trader.email)
    headers = api_token(w.seller_trader.email)
    engine = app.extensions["junkan.engine"]
    with counted(engine) as page_one:
        assert client.get("/invoices").status_code == 200
    with counted(engine) as api_one:
        assert client.get("/api/v1/invoices", headers=headers).status_code == 200
    for _ in range(4):  # four more contracts with other buyers, invoiced in February
        buyer = make_org(w.db, kind="manufacturer")
        make_active_contract(w.db, w.seller, buyer, w.version)
    open_month(w.db, SYSTEM, date(2027, 2, 1))
    close_months(w.db, SYSTEM, date(2027, 3, 1))
    assert issue_invoices(w.db, date(2027, 2, 1), today=date(2027, 3, 1)) == 5
    w.db.commit()
    with counted(engine) as page_six:
        html = client.get("/invoices").get_data(as_text=True)
    with counted(engine) as api_six:
        body = client.get("/api/v1/invoices", headers=headers).get_json()
    assert html.count("JK-2027-") >= 6 and body["total"] == 6
    assert len(page_six) == len(page_one)
    assert len(api_six) <= len(api_one)  # the first call also records the token's use


def test_the_contract_page_links_its_invoices_and_the_nav_links_the_list(client, w):
    w.invoice_month()
    login(client, w.seller_trader.email)
    html = client.get(f"/contracts/{w.contract.id}").get_data(as_text=True)
    assert f'href="/invoices?contract_id={w.contract.id}"' in html
    assert 'href="/invoices"' in html


# ----------------------------------------------------------------------------------------------
# The registration number


def test_an_admin_sets_the_registration_number_on_the_organisation_page(client, w):
    login(client, w.seller_admin.email)
    bad = client.post(
        "/organization/registration-number",
        data={"registration-qualified_invoice_number": "T1234567890123"},
    )
    assert bad.status_code == 422
    assert "The check digit of this registration number is wrong." in bad.get_data(as_text=True)
    other = "T" + corporate_number(7_200_002)
    ok = client.post(
        "/organization/registration-number",
        data={"registration-qualified_invoice_number": other.lower()},
    )
    assert ok.status_code == 302
    w.db.expire_all()
    assert w.db.get(Organization, w.seller.id).qualified_invoice_number == other
    assert other in client.get("/organization/").get_data(as_text=True)


def test_the_registration_number_endpoint_answers_a_problem_for_bad_input(client, w, api_token):
    headers = api_token(w.seller_admin.email)
    url = "/api/v1/organization/registration-number"
    bad = client.put(url, json={"qualified_invoice_number": "T12345"}, headers=headers)
    assert bad.status_code == 422
    problem = bad.get_json()
    assert problem["errors"][0]["field"] == "qualified_invoice_number"
    assert "T followed by 13 digits" in problem["errors"][0]["message"]
    w.db.expire_all()
    assert w.db.get(Organization, w.seller.id).qualified_invoice_number == NUMBER  # unchanged
    cleared = client.put(url, json={"qualified_invoice_number": None}, headers=headers)
    assert cleared.status_code == 200 and cleared.get_json()["qualified_invoice_number"] is None
    trader = api_token(w.seller_trader.email)
    assert (
        client.put(url, json={"qualified_invoice_number": NUMBER}, headers=trader).status_code
        == 403
    )


# ----------------------------------------------------------------------------------------------
# The job from the command line


def test_jobs_run_issue_invoices_invoices_the_month_once(
    app, database_url, w, monkeypatch, tmp_path
):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LOG_JSON", "0")
    monkeypatch.setenv("MAIL_OUTBOX", str(tmp_path / "outbox"))
    open_month(w.db, SYSTEM, JAN)
    close_months(w.db, SYSTEM, date(2027, 2, 1))
    w.db.commit()
    runner = CliRunner()
    first = runner.invoke(main, ["jobs", "run", "issue_invoices", "--month", "2027-01"])
    second = runner.invoke(main, ["jobs", "run", "issue_invoices", "--month", "2027-01"])
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == ["month: 2027-01", "issued: 1"]
    assert second.stdout.splitlines() == ["month: 2027-01", "issued: 0"]
    w.db.expire_all()
    invoice = w.db.exec(select(Invoice)).one()
    # Nothing delivered: 80 t short × ¥240,000 + 0.5 percent fee, plus 10 percent tax.
    assert (invoice.subtotal_jpy, invoice.total_jpy) == (19_296_000, 21_225_600)
