"""Every page of the demo has one h1, a lang attribute, and a label for every form control."""

import re
from html.parser import HTMLParser

import pytest

from demo.organizations import DEMO_PASSWORD

PAGES = [
    "/",
    "/organizations",
    "/login",
    "/signup",
    "/password/forgot",
    "/materials",
    "/standards",
    "/standards/ISRI-18-8",
    "/standards/ISRI-18-8/v1",
    "/standards/RPET-FLAKE-A/diff?a=1&b=2",
    "/standards/RPET-FLAKE-A/v2/consultation",
    "/standards/new",
    "/assays",
    "/assays/new",
    "/assays/1",
    "/listings",
    "/listings/1",
    "/listings/new",
    "/listings/mine",
    "/requests",
    "/requests/1",
    "/requests/new",
    "/requests/mine",
    "/requests/1/candidates",
    "/indices",
    "/indices/CU-SCRAP-JP",
    "/proposals",
    "/contracts",
    "/saved-searches",
    "/notifications",
    "/account",
    "/organization/",
    "/operator/organizations",
    "/operator/audit",
    "/operator/matching",
    "/procurement/categories",
    "/procurement/categories/1",
    "/custody",
    "/catalogue",
    "/catalogue/products/1",
    "/catalogue/compare?ids=1,3",
    "/catalogue/orders",
    "/catalogue/mine",
    "/tenders",
    "/tenders/1",
    "/tenders/2",
    "/tenders/1/result",
    "/procurement/reports",
    "/catalogue/products/1/order?quantity=10",
    "/catalogue/policy",
    "/tenders/new",
    "/tenders/1/evaluation",
    "/tenders/1/award",
]


class FormAudit(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.labels_for: set[str] = set()
        self.controls: list[dict] = []
        self.h1 = 0
        self.lang = None
        self._label_depth = 0

    def handle_starttag(self, tag, attrs) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "h1":
            self.h1 += 1
        if tag == "label":
            self._label_depth += 1
            if a.get("for"):
                self.labels_for.add(a["for"])
        if tag in ("input", "select", "textarea"):
            if a.get("type") in ("hidden", "submit", "button"):
                return
            self.controls.append({**a, "_inside_label": self._label_depth > 0, "_tag": tag})

    def handle_endtag(self, tag) -> None:
        if tag == "label":
            self._label_depth -= 1

    def unlabelled(self) -> list[str]:
        return [
            f"{c['_tag']} name={c.get('name')}"
            for c in self.controls
            if not c["_inside_label"]
            and c.get("id") not in self.labels_for
            and not c.get("aria-label")
        ]


@pytest.fixture()
def demo_client(demo_app):
    """A browser asking for English on the demo story (loaded once for the module: the
    pages are only read)."""
    client = demo_app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.mark.parametrize(
    "email", ["operator@demo.junkan.jp", "manufacturer@demo.junkan.jp", "officer@demo.junkan.jp"]
)
def test_pages_have_a_heading_a_language_and_labelled_controls(demo_client, email):
    demo_client.post("/login", data={"email": email, "password": DEMO_PASSWORD})
    problems = []
    for path in PAGES:
        r = demo_client.get(path)
        if r.status_code in (302, 403, 404):  # not this member's page
            continue
        assert r.status_code == 200, path
        audit = FormAudit()
        audit.feed(r.get_data(as_text=True))
        if audit.h1 != 1:
            problems.append(f"{path}: {audit.h1} h1")
        if audit.lang not in ("ja", "en"):
            problems.append(f"{path}: lang={audit.lang}")
        problems += [f"{path}: unlabelled {c}" for c in audit.unlabelled()]
    assert problems == []


def test_the_header_folds_into_a_menu_without_script_and_links_the_favicon(client):
    """On a phone the header's links sit behind a "Menu" summary that opens without script
    (a <details>); the page links its favicon. (The browser walk checks the layout.)"""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ja"
    html = client.get("/").get_data(as_text=True)
    header = html[html.index('<header class="top">') : html.index("</header>")]
    menu = header[header.index('<details class="menu">') : header.index("</details>")]
    assert "<summary>メニュー</summary>" in menu or "<summary>Menu</summary>" in menu
    assert '<nav aria-label="' in menu and "<script" not in html
    assert re.search(
        r'<link rel="icon" href="/static/favicon.svg\?v=[0-9a-f]{12}" type="image/svg\+xml">', html
    )
