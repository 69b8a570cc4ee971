# ruff: noqa: F811  (pytest fixtures imported from the listing page tests)
"""Forms that never lose work: drafts before verification, a banner before typing, every field
error at once, typed values kept, grades of the chosen material, price fields of the chosen kind."""

import re

import pytest
from factories import login, make_member, make_org
from forms_html import field_errors, form_values
from sqlmodel import select
from test_market_listings_views import count, listing_form, market, request_form  # noqa: F401

from market.models import OfftakeRequest, SupplyListing
from participants.models import Member

BANNER = "Your organisation is not verified yet"


@pytest.fixture()
def newcomer(db, market):
    """A manufacturer and a recycler that have just signed up (unverified)."""
    return {
        "maker": make_member(db, make_org(db, kind="manufacturer", status="unverified")),
        "recycler": make_member(db, make_org(db, kind="recycler", status="unverified")),
    }


def test_unverified_manufacturer_sees_the_banner_before_typing_and_saves_a_draft_request(
    client,
    db,
    market,
    newcomer,
):
    login(client, newcomer["maker"].email)
    page = client.get("/requests/new").get_data(as_text=True)
    assert BANNER in page and page.index(BANNER) < page.index('name="title"')
    assert "Publishing needs a verified organisation." in page
    assert "marketplace operator" in page and "corporate number" in page
    r = client.post("/requests/new", data=request_form(market, title="Cathode copper"))
    assert r.status_code == 302
    item = db.exec(select(OfftakeRequest)).one()
    assert (item.status, item.title, item.organization_id) == (
        "draft",
        "Cathode copper",
        newcomer["maker"].organization_id,
    )
    # The draft can be edited; publishing waits for verification, said on the draft's page.
    assert client.get(f"/requests/{item.id}/edit").status_code == 200
    r = client.post(f"/requests/{item.id}/publish")
    assert r.status_code == 403
    page = r.get_data(as_text=True)
    assert "Only members of verified organisations may do this" in page
    assert "Cathode copper" in page
    db.refresh(item)
    assert item.status == "draft"


def test_unverified_recycler_saves_a_draft_listing_but_cannot_publish_it(
    client,
    db,
    market,
    newcomer,
):
    login(client, newcomer["recycler"].email)
    assert BANNER in client.get("/listings/new").get_data(as_text=True)
    r = client.post("/listings/new", data=listing_form(market))
    assert r.status_code == 302
    listing = db.exec(select(SupplyListing)).one()
    r = client.post(f"/listings/{listing.id}/publish")
    assert r.status_code == 403 and "verified organisations" in r.get_data(as_text=True)
    db.refresh(listing)
    assert listing.status == "draft"


def test_verified_members_see_no_banner(client, market):
    login(client, market["recycler"].email)
    assert BANNER not in client.get("/listings/new").get_data(as_text=True)


def test_suspended_organisation_drafts_nothing(client, db, market):
    member = make_member(db, make_org(db, kind="recycler", status="suspended"))
    login(client, member.email)
    assert client.get("/listings/new").status_code == 403


def test_empty_listing_form_names_every_missing_field(client, db, market):
    login(client, market["recycler"].email)
    blank = {k: "" for k in listing_form(market)} | {
        "price_kind": "fixed",
        "visibility": "public",
        "incoterm": "FCA",
        "premium_jpy_per_t": "0",
    }
    r = client.post("/listings/new", data=blank)
    assert r.status_code == 422
    errors = field_errors(r.get_data(as_text=True))
    required = "This field is required."
    for name in (
        "material",
        "grade_version_id",
        "monthly_t",
        "min_t_per_contract",
        "available_from",
        "max_term_months",
        "origin_prefecture",
        "incoterm_place",
        "fixed_price_jpy_per_t",
    ):
        assert errors.get(name) == [required], name
    assert "title" not in errors and "index" not in errors
    assert count(db, SupplyListing) == 0


def test_index_formula_without_index_or_factor_says_so_beside_the_other_errors(
    client,
    db,
    market,
):
    login(client, market["recycler"].email)
    form = listing_form(market, index="", index_factor="", monthly_t="", incoterm_place="")
    errors = field_errors(client.post("/listings/new", data=form).get_data(as_text=True))
    assert errors["index"] == ["An index formula needs a price index."]
    assert errors["index_factor"] == ["Enter the index factor as a number, e.g. 0.92."]
    assert errors["monthly_t"] == ["This field is required."]
    assert errors["incoterm_place"] == ["This field is required."]
    assert "fixed_price_jpy_per_t" not in errors


def test_empty_request_form_names_every_missing_field(client, db, market):
    login(client, market["maker"].email)
    blank = {k: "" for k in request_form(market)} | {"price_kind": "fixed"}
    errors = field_errors(client.post("/requests/new", data=blank).get_data(as_text=True))
    for name in (
        "material",
        "grade_version_id",
        "monthly_t",
        "start_month",
        "term_months",
        "delivery_prefecture",
        "delivery_place",
        "max_price_jpy_per_t",
    ):
        assert errors.get(name) == ["This field is required."], name
    assert count(db, OfftakeRequest) == 0


def test_a_form_with_errors_keeps_every_typed_value(client, db, market):
    login(client, market["recycler"].email)
    typed = listing_form(
        market,
        title="Birch/Cliff from Saitama",
        grade_version_id=str(market["ferrous_grade"]),  # a grade of another material
        origin_port="Tokyo",
        expires_on="2027-01-31",
        floor_jpy_per_t="950000",
        cap_jpy_per_t="900000",
    )
    r = client.post("/listings/new", data=typed)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert field_errors(html)["grade_version_id"] == [
        "This grade is a grade of Ferrous scrap. Choose a grade of Copper scrap."
    ]
    kept = form_values(html)
    for name, value in typed.items():
        assert kept[name] == [value], name
    request_typed = request_form(market, monthly_t="-1", purpose="Wire rod\nfor cables")
    login(client, market["maker"].email)
    html = client.post("/requests/new", data=request_typed).get_data(as_text=True)
    kept = form_values(html)
    for name, value in request_typed.items():
        assert kept[name] == [value], name


def test_grades_are_grouped_by_material_and_the_price_fields_by_kind(client, market):
    login(client, market["recycler"].email)
    html = client.get("/listings/new").get_data(as_text=True)
    copper = html.index('<optgroup label="Copper scrap">')
    birch = html.index(f'value="{market["birch"]}"')
    assert copper < birch < html.index("</optgroup>", copper)
    assert f'data-material="copper_scrap" value="{market["birch"]}"' in html
    assert 'id="price_kind-0"' in html and 'value="fixed"' in html
    assert html.index('class="fixed-fields"') < html.index('id="fixed_price_jpy_per_t"')
    assert html.index('class="index-fields"') < html.index('id="index_factor"')
    assert "/static/forms.css" in html and "/static/forms.js" in html
    assert "<script>" not in html  # the CSP allows only script files of our own


def test_the_form_stylesheet_hides_the_other_price_kind_and_the_script_is_served(client):
    css = client.get("/static/forms.css").get_data(as_text=True)
    assert "form:has(#price_kind-0:checked) .index-fields { display: none; }" in css
    assert "form:has(#price_kind-1:checked) .fixed-fields { display: none; }" in css
    assert client.get("/static/forms.js").status_code == 200


def test_the_listing_shows_the_data_quality_level_of_its_assay_page_and_blank_uncertainty_as_dash(
    demo_app,
):
    from factories import login as log_in
    from sqlmodel import Session

    from market.models import SupplyListing as Listing

    engine = demo_app.extensions["junkan.engine"]
    with Session(engine) as session:
        listing = session.exec(select(Listing).where(Listing.assay_id.is_not(None))).first()
        seller = session.exec(
            select(Member).where(Member.organization_id == listing.organization_id)
        ).first()
    client = demo_app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    log_in(client, seller.email, "junkan-demo")
    assay_page = client.get(f"/assays/{listing.assay_id}").get_data(as_text=True)
    listing_page = client.get(f"/listings/{listing.id}").get_data(as_text=True)
    assay_level = re.search(r"レベル (\d)（4段階中）", assay_page)  # the demo sellers read Japanese
    shown = re.search(r"<dt>データ品質</dt><dd>(\d)</dd>", listing_page)
    assert assay_level, assay_page[-3000:]
    assert shown, listing_page[-3000:]
    assert assay_level.group(1) == shown.group(1)
    cells = re.findall(r"<td>([^<]*)</td><td>[^<]*</td></tr>", assay_page)
    assert "0" not in cells  # a blank uncertainty reads "—"
