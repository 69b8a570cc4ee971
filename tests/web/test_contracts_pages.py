"""The contract pages (issue 8, points 2–5): names instead of codes, amounts as yen, versions
and their diff, the thread, signatures, the audit chain, the buttons a member may use, the
counter-offer form, signing, withdrawal and the printable contract."""

from decimal import Decimal
from html.parser import HTMLParser

import pytest
from factories import as_actor, login, make_listing, make_member, make_org
from sqlmodel import func, select

from contracts.drafting import DraftFromListingIn, draft_from_listing
from contracts.events import events_of
from contracts.models import ContractComment, ContractTerms, OfftakeContract, Signature
from market.models import PriceIndex, SupplyListing
from quality.catalogue import latest_published, seed_catalogue
from web.views.market import yen


@pytest.fixture()
def world(db):
    seed_catalogue(db)
    version = latest_published(db, "HDPE-NAT-B")[1].id
    seller = make_org(db, kind="recycler", name_en="Saitama Recycling", name_ja="埼玉リサイクル")
    buyer = make_org(db, kind="manufacturer", name_en="Kanagawa Crates", name_ja="神奈川クレート")
    other = make_org(db, kind="manufacturer")
    index = PriceIndex(code="HDPE-JP", name_en="HDPE", name_ja="HDPE", material_code="hdpe")
    db.add(index)
    db.commit()
    listing = make_listing(
        db,
        seller,
        version,
        title="HDPE bales",
        price_kind="index",
        fixed_price_jpy_per_t=None,
        index_id=index.id,
        index_factor=Decimal("0.92"),
        premium_jpy_per_t=-3_000,
        floor_jpy_per_t=60_000,
    )
    members = {
        "seller signatory": make_member(db, seller, roles="signatory"),
        "seller trader": make_member(db, seller, roles="trader"),
        "buyer signatory": make_member(db, buyer, roles="signatory"),
        "buyer trader": make_member(db, buyer, roles="trader"),
        "buyer inspector": make_member(db, buyer, roles="inspector"),
        "outsider": make_member(db, other, roles="admin trader signatory"),
    }
    contract = draft_from_listing(
        db,
        as_actor(db, members["buyer trader"]),
        listing.id,
        DraftFromListingIn(monthly_t=Decimal(40), start_month="2027-02", term_months=6),
    )
    db.commit()
    return {
        "db": db,
        "listing": listing,
        "contract": contract,
        "members": members,
        "seller": seller,
        "buyer": buyer,
    }


def _as(client, world, who: str):
    client.post("/logout")
    login(client, world["members"][who].email)
    return client


def test_yen_amounts_read_with_a_minus_sign_for_negative_amounts():
    assert (yen(3_000), yen(-3_000), yen(0), yen(None)) == ("¥3,000", "−¥3,000", "¥0", "—")


def test_the_contract_page_names_parties_listing_material_grade_and_index(client, world):
    cid = world["contract"].id
    page = _as(client, world, "buyer signatory").get(f"/contracts/{cid}").get_data(as_text=True)
    seller, buyer = world["seller"], world["buyer"]
    assert f'href="/organizations?kind=recycler#org-{seller.id}">Saitama Recycling</a>' in page
    assert f'href="/organizations?kind=manufacturer#org-{buyer.id}">Kanagawa Crates</a>' in page
    assert f'href="/listings/{world["listing"].id}">#{world["listing"].id} HDPE bales</a>' in page
    assert "<code>hdpe</code>" not in page  # the material by its name, not its code
    assert "(HDPE-NAT-B v" in page  # the grade by name and code
    assert "HDPE-JP" in page and "index #" not in page
    assert "−¥3,000/t" in page and "¥60,000/t" in page  # premium and floor
    assert "0.92" in page and "40.000 t" in page
    assert "intact" in page and "copper_scrap" not in page
    assert "Sign version 1" in page and "Propose a new version" in page
    assert "Withdraw the draft" in page  # the buyer's side started the draft
    other_side = _as(client, world, "seller trader").get(f"/contracts/{cid}")
    assert "Decline: withdraw the draft" in other_side.get_data(as_text=True)
    assert world["db"].exec(select(ContractTerms.sha256)).one() in page


def test_the_buttons_follow_what_the_member_may_do(client, world):
    cid = world["contract"].id
    trader = _as(client, world, "buyer trader").get(f"/contracts/{cid}").get_data(as_text=True)
    assert "Sign version 1" not in trader and "Propose a new version" in trader
    assert "Withdraw the draft" in trader and 'name="body"' in trader
    inspector = _as(client, world, "buyer inspector").get(f"/contracts/{cid}")
    text = inspector.get_data(as_text=True)
    assert inspector.status_code == 200
    assert "Sign version" not in text and "Propose a new version" not in text
    assert "Withdraw" not in text and 'name="body"' not in text
    assert _as(client, world, "outsider").get(f"/contracts/{cid}").status_code == 404
    assert client.get(f"/contracts/{cid}/print").status_code == 404
    assert client.get(f"/contracts/{cid}/events").status_code == 404


def test_a_counter_offer_through_the_form_shows_versions_diff_and_thread(client, world):
    cid = world["contract"].id
    db = world["db"]
    _as(client, world, "seller trader")
    form = client.get(f"/contracts/{cid}/terms")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert 'name="monthly_t"' in html and 'value="40"' in html and 'value="-3000"' in html
    data = _form_of(html)
    data.update(monthly_t="35", premium_jpy_per_t="-2500", comment="35 t at most")
    r = client.post(f"/contracts/{cid}/terms", data=data)
    assert r.status_code == 302, r.get_data(as_text=True)
    assert db.exec(select(func.count()).select_from(ContractTerms)).one() == 2
    page = client.get(f"/contracts/{cid}").get_data(as_text=True)
    assert "version 1 → version 2" in page
    assert "<td>40.000 t</td><td>35.000 t</td>" in page
    assert "<td>−¥3,000/t</td><td>−¥2,500/t</td>" in page
    assert "35 t at most" in page
    page = client.get(f"/contracts/{cid}?a=2&b=1").get_data(as_text=True)
    assert "version 2 → version 1" in page
    assert client.get(f"/contracts/{cid}?a=1&b=7").status_code == 404
    assert "40.000 t" in client.get(f"/contracts/{cid}?version=1").get_data(as_text=True)


def _form_of(html: str) -> dict:
    """The values a browser would send from the counter-offer form."""

    class Form(HTMLParser):
        def __init__(self):
            super().__init__()
            self.values: dict = {}
            self._select = None
            self._textarea = None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "input" and a.get("name") and a.get("type") != "submit":
                self.values[a["name"]] = a.get("value", "")
            if tag == "select":
                self._select = a["name"]
                self.values.setdefault(self._select, "")
            if tag == "option" and self._select and ("selected" in a):
                self.values[self._select] = a.get("value", "")
            if tag == "textarea":
                self._textarea = a["name"]
                self.values[self._textarea] = ""

        def handle_endtag(self, tag):
            if tag == "select":
                self._select = None
            if tag == "textarea":
                self._textarea = None

    parser = Form()
    parser.feed(html)
    return parser.values


def test_the_counter_offer_form_shows_field_errors_and_writes_nothing(client, world):
    cid = world["contract"].id
    db = world["db"]
    _as(client, world, "seller trader")
    data = _form_of(client.get(f"/contracts/{cid}/terms").get_data(as_text=True))
    for change, message in [
        ({"tolerance_pct": "120"}, "The value must be at most 100."),
        ({"monthly_t": ""}, "This field is required."),
        ({"payment_days": "soon"}, "Enter a whole number."),
        ({"floor_jpy_per_t": "90000", "cap_jpy_per_t": "80000"}, "The floor lies above the cap."),
        ({}, "The new version changes no term."),
    ]:
        r = client.post(f"/contracts/{cid}/terms", data={**data, **change})
        text = r.get_data(as_text=True)
        assert r.status_code == 422 and message in text, (change, text[:300])
    assert db.exec(select(func.count()).select_from(ContractTerms)).one() == 1


def test_the_counter_offer_form_is_for_negotiators_of_a_draft(client, world):
    cid = world["contract"].id
    assert _as(client, world, "buyer inspector").get(f"/contracts/{cid}/terms").status_code == 403
    assert _as(client, world, "outsider").get(f"/contracts/{cid}/terms").status_code == 404


def test_signing_and_withdrawing_through_the_pages(client, world):
    cid = world["contract"].id
    db = world["db"]
    sha = db.exec(select(ContractTerms.sha256)).one()
    r = _as(client, world, "seller trader").post(
        f"/contracts/{cid}/sign", data={"version": "1", "terms_sha256": sha}
    )
    assert r.status_code == 403  # a trader may not sign; the attempt is recorded
    assert [e.kind for e in events_of(db, cid)][-1] == "signature.refused"
    _as(client, world, "buyer signatory").post(
        f"/contracts/{cid}/sign", data={"version": "1", "terms_sha256": sha}
    )
    r = _as(client, world, "seller signatory").post(
        f"/contracts/{cid}/sign", data={"version": "1", "terms_sha256": sha}, follow_redirects=True
    )
    assert "the contract is active" in r.get_data(as_text=True)
    db.expire_all()
    contract = db.get(OfftakeContract, cid)
    assert (contract.status, contract.reserved_kg) == ("active", 40_000)
    assert db.get(SupplyListing, world["listing"].id).committed_kg == 40_000
    assert db.exec(select(func.count()).select_from(Signature)).one() == 2
    r = client.post(f"/contracts/{cid}/withdraw", follow_redirects=True)
    assert "This contract is no longer a draft." in r.get_data(as_text=True)
    assert db.get(OfftakeContract, cid).status == "active"


def test_a_stale_signature_through_the_page_is_flashed_and_writes_nothing(client, world):
    cid = world["contract"].id
    db = world["db"]
    _as(client, world, "seller trader")
    data = _form_of(client.get(f"/contracts/{cid}/terms").get_data(as_text=True))
    client.post(f"/contracts/{cid}/terms", data={**data, "monthly_t": "30"})
    r = _as(client, world, "buyer signatory").post(
        f"/contracts/{cid}/sign", data={"version": "1"}, follow_redirects=True
    )
    assert "only version 2 can be signed" in r.get_data(as_text=True)
    assert db.exec(select(func.count()).select_from(Signature)).one() == 0


def test_the_thread_and_withdrawal_by_the_pages(client, world):
    cid = world["contract"].id
    db = world["db"]
    r = _as(client, world, "seller trader").post(
        f"/contracts/{cid}/comments", data={"body": "Can you deliver CPT?"}, follow_redirects=True
    )
    assert "Can you deliver CPT?" in r.get_data(as_text=True)
    r = client.post(f"/contracts/{cid}/comments", data={"body": " "}, follow_redirects=True)
    assert "Message: This field is required." in r.get_data(as_text=True)
    assert db.exec(select(func.count()).select_from(ContractComment)).one() == 1
    r = client.post(f"/contracts/{cid}/withdraw", follow_redirects=True)
    assert "The draft is withdrawn" in r.get_data(as_text=True)
    db.expire_all()
    assert db.get(OfftakeContract, cid).status == "withdrawn"
    listing = client.get("/contracts?status=withdrawn").get_data(as_text=True)
    assert f'href="/contracts/{cid}"' in listing and "Withdrawn" in listing
    assert f'href="/contracts/{cid}"' not in client.get("/contracts?status=draft").get_data(
        as_text=True
    )


def test_the_printable_contract_has_a_print_stylesheet_the_parties_terms_and_hash(client, world):
    cid = world["contract"].id
    db = world["db"]
    sha = db.exec(select(ContractTerms.sha256)).one()
    page = _as(client, world, "buyer trader").get(f"/contracts/{cid}/print")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'href="/static/contract-print.css?v=' in html
    assert "埼玉リサイクル" in html and "Kanagawa Crates" in html
    assert sha in html and "HDPE-JP" in html and "−¥3,000/t" in html
    assert "Version 1, not signed by both parties" in html
    css = client.get("/static/contract-print.css").get_data(as_text=True)
    assert "@media print" in css


def test_the_audit_trail_page(client, world):
    cid = world["contract"].id
    page = _as(client, world, "buyer inspector").get(f"/contracts/{cid}/events")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "The chain is intact" in html and "Draft started" in html


class PageAudit(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.h1 = 0
        self.labels: set[str] = set()
        self.controls: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag, attrs) -> None:
        a = dict(attrs)
        self.h1 += tag == "h1"
        if tag == "label":
            self.depth += 1
            if a.get("for"):
                self.labels.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            if not self.depth:
                self.controls.append(a.get("id") or "")

    def handle_endtag(self, tag) -> None:
        if tag == "label":
            self.depth -= 1


@pytest.mark.parametrize("path", ["", "/terms", "/print", "/events", "?a=1&b=1"])
def test_contract_pages_have_one_h1_and_a_label_for_every_control(client, world, path):
    cid = world["contract"].id
    _as(client, world, "buyer trader")
    html = client.get(f"/contracts/{cid}{path}").get_data(as_text=True)
    audit = PageAudit()
    audit.feed(html)
    assert audit.h1 == 1
    assert [c for c in audit.controls if c not in audit.labels] == []
    assert '<html lang="en">' in html


def test_the_contract_pages_speak_japanese(client, world):
    cid = world["contract"].id
    member = world["members"]["buyer signatory"]
    member.locale = "ja"
    world["db"].add(member)
    world["db"].commit()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ja"
    _as(client, world, "buyer signatory")
    html = client.get(f"/contracts/{cid}").get_data(as_text=True)
    assert '<html lang="ja">' in html and "埼玉リサイクル" in html and "神奈川クレート" in html


def test_the_list_shows_the_other_party_and_the_material_by_name(client, world):
    html = _as(client, world, "seller trader").get("/contracts").get_data(as_text=True)
    assert "Kanagawa Crates" in html and "40 t" in html and "Draft" in html
    assert client.get("/contracts?status=bogus").status_code == 200
    other = make_org(world["db"], kind="recycler")
    lonely = make_member(world["db"], other, roles="trader")
    make_listing(world["db"], other, world["listing"].standard_version_id)
    client.post("/logout")
    login(client, lonely.email)
    assert "No contracts yet." in client.get("/contracts").get_data(as_text=True)
