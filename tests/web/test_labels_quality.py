"""Names instead of codes on the quality, operator, procurement and public pages, in Japanese.

The demo story is rendered for each role; the visible text (outside <code>, which documents a
format, and outside elements marked lang="en", which cite English references) must carry no
internal code such as `cu_pct`, `none_detected` or `organization.verified`."""

import re
from html.parser import HTMLParser

import pytest
from factories import login
from sqlalchemy import event
from sqlmodel import Session, select

from participants.models import Organization
from web.labels import label

CODE = re.compile(r"\b[a-z]+_[a-z_]+\b|\b[a-z]+\.[a-z_]+\b")
SKIPPED = {"code", "script", "style", "textarea", "title"}
VOID = {"br", "img", "input", "meta", "link", "hr", "source", "wbr", "col"}

PAGES = {
    None: [
        "/materials",
        "/standards",
        "/standards/RPET-FLAKE-A/v2",
        "/standards/RPET-FLAKE-A/diff?a=1&b=2",
        "/standards/HDPE-NAT-A/v1",
        "/standards/PCB-HIGH/v1",
        "/standards/BM-NCM-EU/v1",
        "/tenders",
        "/tenders/1",
        "/organizations",
    ],
    "operator@demo.junkan.jp": [
        "/operator/audit",
        "/operator/organizations",
        "/watch",
        "/movements",
        "/movements/1",
        "/movements/4",
        "/organization/",
    ],
    "standards@demo.junkan.jp": [
        "/standards/RPET-FLAKE-A/revise",
        "/standards/new",
        "/standards/RPET-FLAKE-A/v2/consultation",
        "/standards/PCB-HIGH/revise",
    ],
    "officer@demo.junkan.jp": ["/tenders/1", "/tenders/1/award", "/tenders/1/evaluation"],
    "recycler@demo.junkan.jp": ["/assays", "/assays/1", "/organization/", "/account"],
}


class _VisibleText(HTMLParser):
    """The text a person reads, without <code>, scripts, form text areas and English citations."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden: list[bool] = []
        self.pieces: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag in VOID:
            return
        lang = dict(attrs).get("lang") or ""
        self.hidden.append(tag in SKIPPED or lang.startswith("en"))

    def handle_endtag(self, tag) -> None:
        if tag not in VOID and self.hidden:
            self.hidden.pop()

    def handle_data(self, data) -> None:
        if not any(self.hidden) and data.strip():
            self.pieces.append(data.strip())


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " | ".join(parser.pieces)


def codes_in(html: str) -> set[str]:
    text = re.sub(r"\S+@\S+", "", visible_text(html))  # e-mail addresses are not codes
    return set(CODE.findall(text))


@pytest.fixture()
def ja(demo_app):
    def client_for(email: str | None):
        client = demo_app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ja"
        if email:
            login(client, email, "junkan-demo")
        return client

    return client_for


@pytest.mark.parametrize("who", list(PAGES), ids=lambda w: (w or "anonymous").split("@")[0])
def test_pages_show_names_not_internal_codes_in_japanese(ja, who):
    client = ja(who)
    found = {}
    for path in PAGES[who]:
        r = client.get(path)
        assert r.status_code == 200, path
        leaks = codes_in(r.get_data(as_text=True))
        if leaks:
            found[path] = sorted(leaks)
    assert found == {}


def test_standards_diff_names_the_part_the_change_and_the_parameter(ja):
    html = ja(None).get("/standards/RPET-FLAKE-A/diff?a=1&b=2").get_data(as_text=True)
    text = visible_text(html)
    assert "規格値 | PVC" in text
    assert "≤ 50 (不合格) | ≤ 40 (不合格)" in text
    for code in ("limit", "changed", "reject"):
        assert f"| {code} |" not in text and f" {code})" not in text
    assert "<code>pvc_ppm</code>" in html  # the key the JSON editor uses, marked as code


def test_audit_log_names_actions_targets_and_states(ja):
    html = ja("operator@demo.junkan.jp").get("/operator/audit").get_data(as_text=True)
    text = visible_text(html)
    assert "organization.verified" not in html and "offtakecontract" not in html
    assert "変更後: 確認済み" in text and "変更前: 未確認" in text
    assert "同意数量: 1,200 t" in text
    # a target the operator may open is a link; a contract the operator may not read is not
    assert 'href="/movements/1"' in html and 'href="/tenders/1"' in html
    assert 'href="/contracts/13"' not in html


def test_verifying_an_organisation_says_the_state_in_words(ja, demo_app):
    with Session(demo_app.extensions["junkan.engine"]) as db:
        kobe = db.exec(select(Organization).where(Organization.status == "unverified")).first()
    assert kobe is not None
    client = ja("operator@demo.junkan.jp")
    r = client.post(
        f"/operator/organizations/{kobe.id}/status",
        data={"status": "verified", "reason": "登記事項証明書を確認"},
        follow_redirects=True,
    )
    text = visible_text(r.get_data(as_text=True))
    assert f"{kobe.name_ja}の状態を「確認済み」に変更しました。" in text
    assert "verified" not in text


def test_watch_finding_names_materials_and_parameters(ja):
    text = visible_text(ja("operator@demo.junkan.jp").get("/watch").get_data(as_text=True))
    assert "銅スクラップとして申告されていますが、分析 #" in text
    assert "廃プリント基板の規格だけが規定する項目（銀（Ag）、金（Au）、パラジウム（Pd））" in text
    assert "copper_scrap" not in text and "waste_pcb" not in text


def test_standards_editor_marks_json_keys_as_code_and_references_as_english(ja):
    html = ja("standards@demo.junkan.jp").get("/standards/new").get_data(as_text=True)
    assert "<code>none_detected</code>" in html and "<code>downgrade_to</code>" in html
    materials = ja(None).get("/materials").get_data(as_text=True)
    assert '<cite lang="en">Basel Convention Annex VIII A1160' in materials


def test_label_kinds_name_mandates_statuses_and_audit_actions(demo_app):
    with demo_app.test_request_context("/", headers={"Accept-Language": "ja"}):
        assert label("EU-BATT-2031", "mandate") == "EU電池規則：2031年からの再生材含有義務"
        assert label("organization.verified", "audit_action") == "組織の確認"
        assert label("offtakecontract", "audit_target") == "契約"
        assert label("none_detected", "limit_kind") == "検出されないこと"
        assert label("changed", "standard_change") == "変更"
        assert label("active", "tender_status") == "公告中"
        assert label("unknown_code", "mandate") == "unknown_code"  # shown as it is, no error


def test_parameter_names_come_from_one_query_per_request(demo_app):
    engine = demo_app.extensions["junkan.engine"]
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    with demo_app.test_request_context("/", headers={"Accept-Language": "ja"}):
        event.listen(engine, "before_cursor_execute", count)
        try:
            names = [label(c, "parameter") for c in ("cu_pct", "ni_co_pct", "au_gpt", "cu_pct")]
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert names[0] == "銅（Cu）" and names[2] == "金（Au）"
    assert len([s for s in statements if "parameter" in s.lower()]) == 1
