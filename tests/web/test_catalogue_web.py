"""The catalogue's pages and API: search and compare, the product form, the order form that
shows which rule applies, orders, the invoice of an order, its payment through localstripe and
by a recorded bank transfer, the agency's policy."""

import json
import urllib.request
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from factories import login, make_member, make_org
from proc_catalogue_factories import (
    FILE,
    give_custody,
    make_category,
    make_certificate,
    make_product,
)
from sqlmodel import func, select
from stripe_fixtures import wait_until
from test_query_counts import counted

from contracts.models import Invoice, SettlementEntry
from market.models import AgencyPolicy, CatalogueProduct, PurchaseOrder
from participants.columns import tokyo_today
from quality.catalogue import seed_catalogue


class Shop:
    def __init__(self, db) -> None:
        seed_catalogue(db)
        self.db = db
        self.maker = make_org(db, kind="manufacturer", name_en="Kanagawa Plastics")
        self.city = make_org(db, kind="agency", name_en="City of Yokohama")
        self.officer = make_member(db, self.city, roles="officer")
        self.supplier = make_member(db, self.maker, roles="admin trader signatory")
        self.other = make_member(db, make_org(db, kind="manufacturer"), roles="admin trader")
        self.category = make_category(db, name_en="Stationery", source="Green Purchasing Act")
        give_custody(db, self.maker, 10)
        self.product = make_product(db, self.maker, self.category)

    def count(self, model) -> int:
        self.db.expire_all()
        return self.db.exec(select(func.count()).select_from(model)).one()


@pytest.fixture()
def shop(db) -> Shop:
    return Shop(db)


def _form(values: dict) -> dict:
    return {k: (v if isinstance(v, list) else str(v)) for k, v in values.items()}


# ---------------------------------------------------------------------------------------------
# Catalogue pages


def test_the_catalogue_page_lists_products_with_cover_and_flags(client, shop):
    make_product(
        shop.db,
        shop.maker,
        shop.category,
        name_en="Low-content file",
        post_consumer_pct=Decimal("10"),
        total_recycled_pct=Decimal("20"),
    )
    login(client, shop.officer.email)
    page = client.get("/catalogue?sort=price")
    assert page.status_code == 200
    assert "Recycled-PP clear file A4" in page.text and "Low-content file" in page.text
    assert "Total recycled content below the recommended minimum of 40 percent" in page.text
    assert "(Green Purchasing Act)" in page.text and "285" in page.text
    assert 'href="/catalogue"' in page.text  # the main navigation's "Catalogue"
    assert client.get("/catalogue?min_total=abc").status_code == 400


def test_catalogue_search_costs_the_same_queries_whatever_the_number_of_products(
    app, client, shop, api_token
):
    login(client, shop.officer.email)
    headers = api_token(shop.officer.email)
    client.get("/api/v1/catalogue/products", headers=headers)  # the token's first use is noted
    engine = app.extensions["junkan.engine"]
    with counted(engine) as before_page:
        assert client.get("/catalogue").status_code == 200
    with counted(engine) as before_api:
        assert client.get("/api/v1/catalogue/products", headers=headers).status_code == 200
    other_maker = make_org(shop.db, kind="manufacturer")
    give_custody(shop.db, other_maker, 5, material="hdpe")
    for i in range(6):
        category = make_category(shop.db)
        make_product(shop.db, other_maker, category, name_en=f"Bench {i}", material_code="hdpe")
        make_certificate(shop.db, other_maker)
    with counted(engine) as after_page:
        page = client.get("/catalogue").text
    with counted(engine) as after_api:
        body = client.get("/api/v1/catalogue/products", headers=headers).get_json()
    assert "Bench 5" in page and body["total"] == 7
    assert len(after_page) == len(before_page)
    assert len(after_api) == len(before_api)


def test_comparing_shows_the_products_side_by_side(client, shop):
    second = make_product(
        shop.db, shop.maker, shop.category, name_en="Second file", unit_price_jpy=510
    )
    login(client, shop.officer.email)
    page = client.get(f"/catalogue/compare?ids={shop.product.id}&ids={second.id}")
    assert page.status_code == 200 and "¥480" in page.text and "¥510" in page.text
    too_many = ",".join(str(shop.product.id) for _ in range(1)) + ",2,3,4,5"
    r = client.get(f"/catalogue/compare?ids={too_many}", follow_redirects=True)
    assert "Compare at most 4 products at a time." in r.text


def test_a_manufacturer_lists_a_product_through_the_form(client, shop):
    cert = make_certificate(shop.db, shop.maker)
    login(client, shop.supplier.email)
    assert client.get("/catalogue/products/new").status_code == 200
    values = FILE | {"category_id": shop.category.id, "certificates": [cert.id]}
    r = client.post("/catalogue/products/new", data=_form(values))
    assert r.status_code == 302, r.text
    product = shop.db.exec(select(CatalogueProduct).order_by(CatalogueProduct.id.desc())).first()
    page = client.get(r.headers["Location"]).text
    assert product.name_en == "Recycled-PP clear file A4" and cert.id in page
    assert f"/catalogue/products/{product.id}/edit" in page


def test_the_product_form_shows_a_claim_the_ledger_does_not_cover_and_writes_nothing(client, shop):
    login(client, shop.supplier.email)
    before = shop.count(CatalogueProduct)
    values = FILE | {
        "category_id": shop.category.id,
        "unit_mass_kg": "20",
        "total_recycled_pct": "90",
    }
    r = client.post("/catalogue/products/new", data=_form(values))
    assert r.status_code == 422
    assert (
        "The recycled-content claim needs 0.018 t of recycled pp, but your chain-of-custody "
        "balance has 0.010 t available."
    ) in r.text
    assert 'id="total_recycled_pct-error"' in r.text
    assert shop.count(CatalogueProduct) == before


def test_the_product_api_refuses_another_organisations_certificate(client, shop, api_token):
    theirs = make_certificate(shop.db, make_org(shop.db, kind="manufacturer"))
    body = FILE | {"category_id": shop.category.id, "certificates": [theirs.id]}
    headers = api_token(shop.supplier.email)
    before = shop.count(CatalogueProduct)
    r = client.post("/api/v1/catalogue/products", json=body, headers=headers)
    assert r.status_code == 422
    assert r.get_json()["errors"] == [
        {
            "field": "certificates",
            "message": f"Certificate {theirs.id} is not one of your organisation's: cite "
            "certificates you issued, of your own lots, or of lots delivered to you.",
        }
    ]
    assert shop.count(CatalogueProduct) == before
    r = client.post("/api/v1/catalogue/products", json=body, headers=api_token(shop.officer.email))
    assert r.status_code == 403
    assert r.get_json()["detail"] == "Only manufacturers list products in the catalogue."


def test_products_through_the_api(client, shop, api_token):
    headers = api_token(shop.supplier.email)
    body = FILE | {"category_id": shop.category.id}
    r = client.post("/api/v1/catalogue/products", json=body, headers=headers)
    assert r.status_code == 201, r.get_json()
    created = r.get_json()
    assert (created["covered_units"], created["claim_kg_per_unit"], created["flags"]) == (
        285,
        "0.035",
        [],
    )
    url = f"/api/v1/catalogue/products/{created['id']}"
    r = client.put(url, json=body | {"unit_price_jpy": 450}, headers=headers)
    assert r.status_code == 200 and r.get_json()["unit_price_jpy"] == 450
    r = client.post(f"{url}/withdraw", headers=headers)
    assert r.status_code == 200 and r.get_json()["status"] == "withdrawn"
    assert client.post(f"{url}/withdraw", headers=headers).status_code == 409
    officer = api_token(shop.officer.email)
    assert client.get(url, headers=officer).status_code == 404
    mine = client.get("/api/v1/catalogue/products?mine=true", headers=headers).get_json()
    assert {p["status"] for p in mine["items"]} == {"active", "withdrawn"}
    listed = client.get(
        "/api/v1/catalogue/products?min_post_consumer=40&sort=recycled", headers=officer
    ).get_json()
    assert [p["id"] for p in listed["items"]] == [shop.product.id]
    compared = client.get(
        f"/api/v1/catalogue/compare?ids={shop.product.id}", headers=officer
    ).get_json()
    assert [p["id"] for p in compared["items"]] == [shop.product.id]


# ---------------------------------------------------------------------------------------------
# The order form and the orders


def test_the_order_form_shows_which_rule_applies_before_ordering(client, shop):
    login(client, shop.officer.email)
    url = f"/catalogue/products/{shop.product.id}/order"
    page = client.get(f"{url}?quantity=120")
    assert page.status_code == 200
    assert "¥57,600" in page.text and "¥5,760" in page.text and "¥63,360" in page.text
    assert "¥3,000,000" in page.text and "Direct purchase allowed" in page.text
    assert "Local Autonomy Act Enforcement Order art. 167-2(1)(i)" in page.text
    shop.db.add(
        AgencyPolicy(
            organization_id=shop.city.id,
            direct_purchase_threshold_jpy=60_000,
            rule_en="Yokohama contract rules art. 20",
            rule_ja="横浜市契約規則第20条",
        )
    )
    shop.db.commit()
    page = client.get(f"{url}?quantity=120")
    assert "Needs a tender" in page.text and "Yokohama contract rules art. 20" in page.text
    assert "¥60,000" in page.text
    r = client.post(url, data={"quantity": "120"})
    assert r.status_code == 422
    assert (
        "The order total of 63,360 yen (tax included) is above your agency&#39;s direct-"
        "purchase threshold of 60,000 yen: an order of this size must go to a tender."
    ) in r.text
    assert shop.count(PurchaseOrder) == 0 and shop.count(Invoice) == 0
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ja"
    client.post("/language", data={"lang": "ja"})
    assert "横浜市契約規則第20条" in client.get(f"{url}?quantity=120").text


def test_others_do_not_get_the_order_form(client, shop):
    login(client, shop.supplier.email)
    assert client.get(f"/catalogue/products/{shop.product.id}/order").status_code == 403


def test_an_officer_orders_and_both_sides_follow_the_order_and_its_invoice(client, shop):
    login(client, shop.officer.email)
    r = client.post(f"/catalogue/products/{shop.product.id}/order", data={"quantity": "120"})
    assert r.status_code == 302, r.text
    order = shop.db.exec(select(PurchaseOrder)).one()
    invoice = shop.db.exec(select(Invoice)).one()
    page = client.get(r.headers["Location"]).text
    assert order.number in page and "¥63,360" in page and invoice.number in page
    assert f"/invoices/{invoice.id}/pay" in page and "Mark delivered" not in page
    pay_page = client.get(f"/invoices/{invoice.id}/pay")
    assert pay_page.status_code == 200 and "¥63,360" in pay_page.text
    invoice_page = client.get(f"/invoices/{invoice.id}").text
    assert f'href="/catalogue/orders/{order.id}"' in invoice_page
    assert "Purchase order" in invoice_page and "Goods" in invoice_page
    assert "/contracts/" not in invoice_page
    listing = client.get("/invoices")
    assert listing.status_code == 200 and f"Order {order.number}" in listing.text
    print_page = client.get(f"/invoices/{invoice.id}/print")
    assert print_page.status_code == 200 and order.number in print_page.text
    assert order.number in client.get("/catalogue/orders").text

    client.post("/logout")
    login(client, shop.supplier.email)
    page = client.get(f"/catalogue/orders/{order.id}").text
    assert "Mark delivered" in page and "Record a bank transfer received" in page
    r = client.post(f"/catalogue/orders/{order.id}/delivered")
    assert r.status_code == 302
    shop.db.expire_all()
    assert shop.db.get(PurchaseOrder, order.id).status == "delivered"

    client.post("/logout")
    login(client, shop.other.email)
    assert client.get(f"/catalogue/orders/{order.id}").status_code == 404
    assert client.get(f"/invoices/{invoice.id}").status_code == 404


def test_orders_through_the_api(client, shop, api_token):
    officer = api_token(shop.officer.email)
    body = {"product_id": shop.product.id, "quantity": 120}
    r = client.post("/api/v1/catalogue/orders", json=body, headers=officer)
    assert r.status_code == 201, r.get_json()
    order = r.get_json()
    assert (order["subtotal_jpy"], order["tax_jpy"], order["total_jpy"]) == (57_600, 5_760, 63_360)
    assert (order["recycled_kg"], order["payment_status"], order["status"]) == (
        5,
        "unpaid",
        "ordered",
    )
    assert order["number"] == f"PO-{tokyo_today().year}-{order['id']:06d}"
    quote = client.get(
        f"/api/v1/catalogue/products/{shop.product.id}/quote?quantity=200", headers=officer
    ).get_json()
    # 5 kg are left: 142 files are covered; 200 files cost ¥105,600 with tax.
    assert (quote["total_jpy"], quote["direct_allowed"], quote["covered_units"]) == (
        105_600,
        True,
        142,
    )
    r = client.post("/api/v1/catalogue/orders", json=body | {"quantity": 200}, headers=officer)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "quantity"
    supplier = api_token(shop.supplier.email)
    r = client.post("/api/v1/catalogue/orders", json=body, headers=supplier)
    assert r.status_code == 403
    url = f"/api/v1/catalogue/orders/{order['id']}"
    assert client.get(url, headers=api_token(shop.other.email)).status_code == 404
    assert client.get("/api/v1/catalogue/orders", headers=supplier).get_json()["total"] == 1
    assert client.post(f"{url}/delivered", headers=officer).status_code == 403
    r = client.post(f"{url}/delivered", headers=supplier)
    assert r.status_code == 200 and r.get_json()["status"] == "delivered"
    assert client.post(f"{url}/delivered", headers=supplier).status_code == 409


def test_the_seller_records_a_bank_transfer_through_the_page_and_the_api(client, shop, api_token):
    officer = api_token(shop.officer.email)
    order = client.post(
        "/api/v1/catalogue/orders",
        json={"product_id": shop.product.id, "quantity": 120},
        headers=officer,
    ).get_json()
    invoice_id = order["invoice_id"]
    login(client, shop.supplier.email)
    url = f"/invoices/{invoice_id}/bank-transfer"
    page = client.get(url)
    assert page.status_code == 200 and 'value="63360"' in page.text
    r = client.post(url, data={"amount_jpy": "60000", "received_on": tokyo_today().isoformat()})
    assert r.status_code == 422
    assert "The transfer must be the invoice&#39;s total of 63,360 yen." in r.text
    assert shop.count(SettlementEntry) == 0
    headers = api_token(shop.supplier.email)
    body = {"amount_jpy": 63_360, "received_on": tokyo_today().isoformat(), "reference": "R1"}
    assert client.post(f"/api/v1{url}", json=body, headers=officer).status_code == 403
    r = client.post(f"/api/v1{url}", json=body, headers=headers)
    assert r.status_code == 200 and r.get_json()["status"] == "paid"
    assert r.get_json()["purchase_order_id"] == order["id"] and r.get_json()["contract_id"] is None
    assert client.post(f"/api/v1{url}", json=body, headers=headers).status_code == 409
    assert shop.count(SettlementEntry) == 1
    paid = client.get(f"/api/v1/catalogue/orders/{order['id']}", headers=officer).get_json()
    assert paid["payment_status"] == "paid"
    listed = client.get("/api/v1/invoices", headers=officer).get_json()
    assert [(i["purchase_order_id"], i["contract_id"]) for i in listed["items"]] == [
        (order["id"], None)
    ]


def _post_json(url: str, body: dict, headers: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    for name, value in {"Content-Type": "application/json", **headers}.items():
        req.add_header(name, value)
    with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310 (local)
        return response.status, json.loads(response.read())


def test_the_officer_pays_the_orders_invoice_through_localstripe(db, shop, live_server, api_token):
    officer = api_token(shop.officer.email)
    status, order = _post_json(
        f"{live_server}/api/v1/catalogue/orders",
        {"product_id": shop.product.id, "quantity": 120},
        officer,
    )
    assert status == 201
    status, payment = _post_json(
        f"{live_server}/api/v1/invoices/{order['invoice_id']}/pay",
        {"payment_method": "pm_card_visa"},
        officer,
    )
    assert status == 202 and payment["amount_jpy"] == 63_360 and payment["status"] == "pending"

    def paid():
        db.expire_all()
        return db.get(Invoice, order["invoice_id"]).status == "paid"

    wait_until(paid)  # localstripe → POST /api/v1/stripe/webhook (signed) → paid
    entries = {e.kind: (e.organization_id, e.amount_jpy) for e in db.exec(select(SettlementEntry))}
    assert entries == {"seller_payable": (shop.maker.id, 63_360)}


def test_the_order_list_costs_the_same_queries_whatever_the_number_of_orders(
    app, client, shop, api_token
):
    from contracts.public_orders import OrderIn, buy_direct
    from participants.actors import load_actor

    officer = load_actor(shop.db, shop.officer.id)

    def buy() -> None:
        buy_direct(shop.db, officer, OrderIn(product_id=shop.product.id, quantity=2))
        shop.db.commit()

    buy()
    login(client, shop.officer.email)
    headers = api_token(shop.officer.email)
    client.get("/api/v1/catalogue/orders", headers=headers)  # the token's first use is noted
    engine = app.extensions["junkan.engine"]
    with counted(engine) as before_page:
        assert client.get("/catalogue/orders").status_code == 200
    with counted(engine) as before_api:
        assert client.get("/api/v1/catalogue/orders", headers=headers).status_code == 200
    for _ in range(5):
        buy()
    with counted(engine) as after_page:
        page = client.get("/catalogue/orders").text
    with counted(engine) as after_api:
        body = client.get("/api/v1/catalogue/orders", headers=headers).get_json()
    assert page.count("/catalogue/orders/") == 6 and body["total"] == 6
    assert len(after_page) == len(before_page)
    assert len(after_api) == len(before_api)


# ---------------------------------------------------------------------------------------------
# The agency's policy


def test_the_officer_sets_the_policy_through_the_page_and_the_api(client, shop, api_token):
    login(client, shop.officer.email)
    page = client.get("/catalogue/policy")
    assert page.status_code == 200 and "¥3,000,000" in page.text
    r = client.post(
        "/catalogue/policy",
        data={"direct_purchase_threshold_jpy": "0", "rule_ja": "x", "rule_en": ""},
    )
    assert r.status_code == 422 and shop.count(AgencyPolicy) == 0
    r = client.post(
        "/catalogue/policy",
        data={"direct_purchase_threshold_jpy": "1500000", "rule_ja": "町の規則", "rule_en": ""},
    )
    assert r.status_code == 302
    headers = api_token(shop.officer.email)
    body = client.get("/api/v1/procurement/policy", headers=headers).get_json()
    assert (body["direct_purchase_threshold_jpy"], body["rule_ja"], body["is_default"]) == (
        1_500_000,
        "町の規則",
        False,
    )
    r = client.put(
        "/api/v1/procurement/policy",
        json={"direct_purchase_threshold_jpy": 1_000_000, "rule_en": "Rule"},
        headers=headers,
    )
    assert r.status_code == 200 and r.get_json()["direct_purchase_threshold_jpy"] == 1_000_000
    assert (
        client.get("/api/v1/procurement/policy", headers=api_token(shop.supplier.email)).status_code
        == 403
    )
    client.post("/logout")
    login(client, shop.supplier.email)
    assert client.get("/catalogue/policy").status_code == 403


# ---------------------------------------------------------------------------------------------
# Every page: one h1, a language, a label for every control


class _Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.h1, self.labels, self.controls, self.depth = 0, set(), [], 0

    def handle_starttag(self, tag, attrs) -> None:
        a = dict(attrs)
        self.h1 += tag == "h1"
        if tag == "label":
            self.depth += 1
            self.labels.add(a.get("for"))
        if tag in ("input", "select", "textarea") and a.get("type") not in (
            "hidden",
            "submit",
            "button",
        ):
            if not self.depth and a.get("id") not in self.labels and not a.get("aria-label"):
                self.controls.append(a.get("name"))

    def handle_endtag(self, tag) -> None:
        self.depth -= tag == "label"


def test_the_catalogue_pages_have_a_heading_and_labelled_controls(client, shop):
    officer_pages = [
        "/catalogue",
        f"/catalogue/products/{shop.product.id}",
        f"/catalogue/products/{shop.product.id}/order?quantity=3",
        f"/catalogue/compare?ids={shop.product.id}",
        "/catalogue/orders",
        "/catalogue/policy",
    ]
    login(client, shop.officer.email)
    r = client.post(f"/catalogue/products/{shop.product.id}/order", data={"quantity": "3"})
    order_url = r.headers["Location"]
    invoice_id = shop.db.exec(select(Invoice)).one().id
    problems = []

    def audit(paths):
        for path in paths:
            r = client.get(path)
            assert r.status_code == 200, path
            parser = _Audit()
            parser.feed(r.text)
            if parser.h1 != 1 or parser.controls:
                problems.append((path, parser.h1, parser.controls))

    audit([*officer_pages, order_url, f"/invoices/{invoice_id}"])
    client.post("/logout")
    login(client, shop.supplier.email)
    audit(
        [
            "/catalogue/mine",
            "/catalogue/products/new",
            f"/catalogue/products/{shop.product.id}/edit",
            f"/invoices/{invoice_id}/bank-transfer",
        ]
    )
    assert problems == []
