"""The market and contract pages of the demo read as Japanese: names, not codes; status words by
meaning (a listing 募集中, an unanswered decision 未回答); amounts with a real minus sign."""

import re
from html.parser import HTMLParser

import pytest
from sqlmodel import Session, select

from contracts.models import Delivery, Invoice, InvoiceLine, OfftakeContract
from demo.organizations import DEMO_PASSWORD
from market.models import OfftakeRequest, Proposal, SupplyListing

# A code (copper_scrap, conforms_with_deductions, delivery.recorded), the old "¥-3,000", the old
# "Open" (公開中), English status words and transport modes.
CODE = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b|\b[a-z]+\.[a-z]+_?[a-z_]*\b")
ENGLISH = re.compile(
    r"\b(Open|Draft|Closed|Expired|Active|Completed|Issued|Paid|Refunded|Accepted|Declined|"
    r"Proposed|Superseded|road|sea|percent|Deliveries of|Platform fee|Quality adjustment|"
    r"Take-or-pay)\b"
)
# Proper nouns and units that stay as they are (domain names of the demo's e-mail addresses).
ALLOWED = re.compile(r"demo\.junkan\.jp|junkan\.jp")


class VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ("script", "style", "title"):
            self._skip += 1

    def handle_endtag(self, tag) -> None:
        if tag in ("script", "style", "title"):
            self._skip -= 1

    def handle_data(self, data) -> None:
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def visible(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts)


def _problems(text: str) -> list[str]:
    text = ALLOWED.sub("", text)
    found = [m.group(0) for m in CODE.finditer(text)]
    found += [m.group(0) for m in ENGLISH.finditer(text)]
    found += ["¥-"] * text.count("¥-") + ["公開中"] * text.count("公開中")
    return found


@pytest.fixture(scope="module")
def ids(demo_app):
    """Ids of the demo's interesting records (the story decides them; the test does not)."""
    with Session(demo_app.extensions["junkan.engine"]) as s:
        adjusted = s.exec(
            select(InvoiceLine.invoice_id).where(
                InvoiceLine.kind == "quality", InvoiceLine.amount_jpy < 0
            )
        ).first()
        disputed = s.exec(select(Delivery.id).where(Delivery.status == "settled")).first()
        contract = s.exec(select(OfftakeContract.id).order_by(OfftakeContract.id)).first()
        proposal = s.exec(select(Proposal)).first()
        listing = s.exec(select(SupplyListing.id).order_by(SupplyListing.id.desc())).first()
        request = s.exec(select(OfftakeRequest.id).order_by(OfftakeRequest.id.desc())).first()
        invoice = s.exec(select(Invoice.id).order_by(Invoice.id)).first()
        return {
            "adjusted_invoice": adjusted,
            "settled_delivery": disputed,
            "contract": contract,
            "proposal_request": proposal.request_id,
            "listing": listing,
            "request": request,
            "invoice": invoice,
        }


def _japanese_client(demo_app, email: str):
    client = demo_app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ja"
    client.post("/login", data={"email": email, "password": DEMO_PASSWORD})
    with client.session_transaction() as session:
        session["lang"] = "ja"
    return client


def _page(client, path: str) -> str:
    r = client.get(path)
    assert r.status_code == 200, path
    return visible(r.get_data(as_text=True))


def _paths(ids: dict) -> list[str]:
    c = ids["contract"]
    return [
        "/listings",
        "/listings/mine",
        f"/listings/{ids['listing']}",
        "/listings/new",
        "/requests",
        "/requests/mine",
        f"/requests/{ids['request']}",
        "/indices",
        "/proposals",
        "/notifications",
        "/contracts",
        f"/contracts/{c}",
        f"/contracts/{c}/print",
        f"/contracts/{c}/events",
        f"/contracts/{c}/events?page=2",
        f"/contracts/{c}/events?page=3",
        f"/contracts/{c}/deliveries",
        "/deliveries",
        f"/deliveries/{ids['settled_delivery']}",
        "/invoices",
        f"/invoices/{ids['invoice']}",
        "/settlements",
        "/performance",
        f"/contracts/{c}/performance",
    ]


@pytest.mark.parametrize(
    "email", ["recycler@demo.junkan.jp", "manufacturer@demo.junkan.jp", "operator@demo.junkan.jp"]
)
def test_market_and_contract_pages_show_no_codes_or_english_status_words(demo_app, ids, email):
    client = _japanese_client(demo_app, email)
    problems = {}
    checked = 0
    for path in _paths(ids):
        r = client.get(path)
        if r.status_code != 200:  # not every role sees every page (a 404 / 403 is theirs)
            continue
        checked += 1
        found = _problems(visible(r.get_data(as_text=True)))
        # Free text the organisations wrote (titles, messages) is theirs, in their words.
        found = [f for f in found if f not in ("from", "for")]
        if found:
            problems[path] = sorted(set(found))
    assert checked >= 12
    assert problems == {}


def test_listing_status_open_reads_boshuuchuu_and_codes_become_names(demo_app):
    client = _japanese_client(demo_app, "recycler@demo.junkan.jp")
    mine = _page(client, "/listings/mine")
    assert "募集中" in mine and "公開中" not in mine
    contracts = _page(client, "/contracts")
    assert "銅スクラップ" in contracts and "copper_scrap" not in contracts
    listings = _page(client, "/listings")
    assert "銅スクラップ・市原ヤード" in listings  # a demo title as a Japanese seller writes it
    requests = _page(client, "/requests")
    assert "銅スクラップ（尾張電線株式会社向け）" in requests


def test_an_unanswered_proposal_decision_reads_mikaitou_and_transport_is_named(demo_app, ids):
    client = _japanese_client(demo_app, "recycler@demo.junkan.jp")
    page = _page(client, "/proposals")
    assert "自社の判断: 未回答" in page and "相手方: 未回答" in page
    assert "陸送" in page and " road" not in page
    buyer = _japanese_client(demo_app, "manufacturer@demo.junkan.jp")
    candidates = _page(buyer, f"/requests/{ids['proposal_request']}/candidates")
    assert "陸送" in candidates


def test_notifications_offer_open_and_mark_read_and_mark_read_stays_on_the_list(demo_app):
    client = _japanese_client(demo_app, "recycler@demo.junkan.jp")
    html = client.get("/notifications").get_data(as_text=True)
    page = visible(html)
    assert "既読にする" in page and "開く" in page and "公開中" not in page
    note_id = re.search(
        r'action="/notifications/(\d+)/read"[^>]*>\s*<input[^>]*>\s*<input '
        r'type="hidden" name="stay"',
        html,
    ).group(1)
    r = client.post(f"/notifications/{note_id}/read", data={"stay": "1"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/notifications")


def test_contract_events_are_named(demo_app, ids):
    client = _japanese_client(demo_app, "recycler@demo.junkan.jp")
    page = _page(client, f"/contracts/{ids['contract']}/events")
    assert "納品の記録" in page and "納品月の受付開始" in page
    assert "delivery.recorded" not in page and "obligation.opened" not in page


def test_invoice_lines_read_in_japanese_with_a_real_minus_sign(demo_app, ids):
    client = _japanese_client(demo_app, "operator@demo.junkan.jp")
    page = _page(client, f"/invoices/{ids['adjusted_invoice']}")
    assert "の納品：" in page  # "2026-09 の納品：30.31 t × ¥379,430/t"
    assert "品質調整（" in page and "減額付きで適合" in page
    assert "−¥" in page and "¥-" not in page
    assert "プラットフォーム手数料：¥" in page
    assert "Platform fee" not in page and "Deliveries of" not in page
    english = _japanese_client(demo_app, "operator@demo.junkan.jp")
    with english.session_transaction() as session:
        session["lang"] = "en"
    text = _page(english, f"/invoices/{ids['adjusted_invoice']}")
    assert "Quality adjustment, delivery of" in text and "−¥" in text
