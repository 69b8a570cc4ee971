"""The recycled-product catalogue: who lists, the chain-of-custody cover of a claim, evidence,
flags, search, comparison."""

from decimal import Decimal

import pytest
from factories import as_actor, make_member, make_org
from proc_catalogue_factories import (
    FILE,
    give_custody,
    make_category,
    make_certificate,
    make_product,
)
from sqlmodel import func, select

from market.models import CatalogueProduct, ProductEvidence
from market.products import (
    CatalogueFilters,
    ProductInput,
    compare_products,
    covered_units,
    create_product,
    describe_product,
    describe_products,
    read_product,
    search_products,
    update_product,
    withdraw_product,
)
from participants.actors import UNVERIFIED_MESSAGE
from participants.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from quality.catalogue import seed_catalogue
from quality.custody import available_kg, claim_kg, debit_claim
from quality.errors import CustodyNotCovered


@pytest.fixture()
def w(db):
    seed_catalogue(db)

    class World:
        pass

    world = World()
    world.db = db
    world.maker = make_org(db, kind="manufacturer")
    world.trader = make_member(db, world.maker, roles="trader")
    world.category = make_category(db)
    give_custody(db, world.maker, 10)  # 10 kg of recycled PP: 285 files of 0.035 kg
    return world


def _input(category, **fields) -> ProductInput:
    return ProductInput.model_validate(FILE | {"category_id": category.id} | fields)


def _count(db, model) -> int:
    return db.exec(select(func.count()).select_from(model)).one()


def test_a_verified_manufacturer_lists_a_product_covered_by_its_custody_balance(w):
    cert = make_certificate(w.db, w.maker)
    actor = as_actor(w.db, w.trader)
    product = create_product(w.db, actor, _input(w.category, certificates=[cert.id]))
    w.db.commit()
    out = describe_product(w.db, product)
    assert (out.unit_price_jpy, out.lead_time_days, out.unit_mass_kg) == (480, 14, "0.050")
    assert (out.post_consumer_pct, out.total_recycled_pct) == ("40", "70")
    assert out.claim_kg_per_unit == "0.035"
    assert out.covered_units == 285  # floor(10 kg / 0.035 kg)
    assert out.flags == [] and out.certificates == [cert.id]
    assert out.organization.id == w.maker.id and out.category.min_total_pct == "40"
    assert product.created_by_member_id == w.trader.id


def test_a_claim_above_the_ledger_balance_is_refused_and_nothing_is_written(w):
    actor = as_actor(w.db, w.trader)
    # One 20 kg bench at 90 % claims 18 kg; the balance has 10 kg.
    data = _input(w.category, unit_mass_kg="20", post_consumer_pct="90", total_recycled_pct="90")
    with pytest.raises(CustodyNotCovered) as err:
        create_product(w.db, actor, data)
    assert str(err.value) == (
        "The recycled-content claim needs 0.018 t of recycled pp, but your chain-of-custody "
        "balance has 0.010 t available."
    )
    assert (err.value.status, err.value.field) == (422, "total_recycled_pct")
    assert _count(w.db, CatalogueProduct) == 0 and _count(w.db, ProductEvidence) == 0


def test_a_balance_of_another_material_does_not_cover_the_claim(w):
    actor = as_actor(w.db, w.trader)
    with pytest.raises(CustodyNotCovered):
        create_product(w.db, actor, _input(w.category, material="hdpe"))
    assert _count(w.db, CatalogueProduct) == 0


def test_a_certificate_of_another_organisation_is_refused_naming_it(w):
    other = make_org(w.db, kind="manufacturer")
    theirs = make_certificate(w.db, other)
    mine = make_certificate(w.db, w.maker)
    actor = as_actor(w.db, w.trader)
    with pytest.raises(ValidationFailed) as err:
        create_product(w.db, actor, _input(w.category, certificates=[mine.id, theirs.id]))
    assert str(err.value) == (
        f"Certificate {theirs.id} is not one of your organisation's: cite certificates you "
        "issued, of your own lots, or of lots delivered to you."
    )
    assert (err.value.status, err.value.field) == (422, "certificates")
    assert _count(w.db, CatalogueProduct) == 0 and _count(w.db, ProductEvidence) == 0


@pytest.mark.parametrize(
    ("kind", "roles", "status", "message"),
    [
        (
            "recycler",
            "admin trader",
            "verified",
            "Only manufacturers list products in the catalogue.",
        ),
        (
            "agency",
            "officer admin",
            "verified",
            "Only manufacturers list products in the catalogue.",
        ),
        (
            "manufacturer",
            "signatory inspector",
            "verified",
            "Only traders and administrators of a manufacturer manage catalogue products.",
        ),
        ("manufacturer", "admin trader", "unverified", UNVERIFIED_MESSAGE),
    ],
)
def test_only_traders_and_admins_of_verified_manufacturers_list_products(
    w, kind, roles, status, message
):
    org = make_org(w.db, kind=kind, status=status)
    give_custody(w.db, org, 10)
    actor = as_actor(w.db, make_member(w.db, org, roles=roles))
    with pytest.raises(PermissionDenied) as err:
        create_product(w.db, actor, _input(w.category))
    assert (str(err.value), err.value.status) == (message, 403)
    assert _count(w.db, CatalogueProduct) == 0


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"post_consumer_pct": "80"},
            "post_consumer_pct",
            "The post-consumer share cannot exceed the total recycled share.",
        ),
        (
            {"post_consumer_pct": "0", "total_recycled_pct": "0"},
            "total_recycled_pct",
            "A catalogue product has recycled content: enter a total share above zero.",
        ),
        ({"material": "unobtainium"}, "material", "Unknown material unobtainium."),
        ({"category_id": 999_999}, "category_id", "Choose a category of the catalogue."),
        ({"name_en": "   "}, "name_en", "This field is required."),
    ],
)
def test_inconsistent_products_are_refused(w, fields, field, message):
    actor = as_actor(w.db, w.trader)
    with pytest.raises(ValidationFailed) as err:
        create_product(w.db, actor, _input(w.category, **fields))
    assert (str(err.value), err.value.field) == (message, field)
    assert _count(w.db, CatalogueProduct) == 0


def test_input_bounds_refuse_bad_numbers():
    for bad in (
        {"unit_mass_kg": "0"},
        {"unit_mass_kg": "0.0001"},
        {"post_consumer_pct": "100.5"},
        {"total_recycled_pct": "-1"},
        {"unit_price_jpy": 0},
        {"lead_time_days": 366},
        {"certificates": [f"C{i}" for i in range(11)]},
        {"unknown": 1},
    ):
        with pytest.raises(ValueError):
            ProductInput.model_validate(FILE | {"category_id": 1} | bad)


def test_a_product_below_the_recommended_minimum_is_allowed_but_flagged(w):
    benches = make_category(
        w.db, min_post_consumer_pct=Decimal("90"), min_total_pct=Decimal("100"), source="EPA CPG"
    )
    actor = as_actor(w.db, w.trader)
    product = create_product(w.db, actor, _input(benches))
    out = describe_product(w.db, product)
    assert out.flags == ["below_recommended_post_consumer", "below_recommended_total"]
    assert (out.category.min_post_consumer_pct, out.category.min_total_pct) == ("90", "100")
    assert out.category.source == "EPA CPG"


def test_covered_units_fall_with_the_balance_and_flag_the_claim_not_covered(w):
    product = make_product(w.db, w.maker, w.category)
    assert describe_product(w.db, product).covered_units == 285
    debit_claim(
        w.db, organization_id=w.maker.id, material_code="pp", kg=9, source="order", source_id=1
    )
    w.db.commit()
    assert describe_product(w.db, product).covered_units == 28  # floor(1 / 0.035)
    debit_claim(
        w.db, organization_id=w.maker.id, material_code="pp", kg=1, source="order", source_id=2
    )
    w.db.commit()
    out = describe_product(w.db, product)
    assert (out.covered_units, out.flags) == (0, ["claim_not_covered"])


def test_covered_units_are_the_most_units_whose_claim_fits_the_balance():
    # A 12 g pen at 40 %: 4.8 g a pen; 1 kg covers 208 pens (claim ceil(0.9984) = 1 kg), and
    # a 209th would need ceil(1.0032) = 2 kg.
    assert covered_units(1, Decimal("0.012"), Decimal("40")) == 208
    assert claim_kg(208 * Decimal("0.012"), Decimal("40")) == 1
    assert claim_kg(209 * Decimal("0.012"), Decimal("40")) == 2
    assert covered_units(17, Decimal("20"), Decimal("90")) == 0
    assert covered_units(18, Decimal("20"), Decimal("90")) == 1


def test_search_filters_by_content_as_numbers_and_sorts(w):
    other = make_category(w.db)
    a = make_product(
        w.db,
        w.maker,
        w.category,
        name_en="Nine",
        post_consumer_pct=Decimal("9"),
        total_recycled_pct=Decimal("9.5"),
        unit_price_jpy=300,
    )
    b = make_product(w.db, w.maker, w.category, name_en="Forty", unit_price_jpy=480)
    c = make_product(
        w.db,
        w.maker,
        other,
        name_en="Hundred 100% file",
        post_consumer_pct=Decimal("100"),
        total_recycled_pct=Decimal("100"),
        unit_price_jpy=1_000,
    )
    actor = as_actor(w.db, make_member(w.db, make_org(w.db, kind="agency"), roles="officer"))

    def ids(**filters) -> list[int]:
        query = search_products(actor, CatalogueFilters.model_validate(filters))
        return [p.id for p in w.db.exec(query).all()]

    # As text "9" > "10"; as numbers 9 < 10.
    assert ids(min_post_consumer="10", sort="price") == [b.id, c.id]
    assert ids(min_total="9.5", sort="price") == [a.id, b.id, c.id]
    assert ids(sort="recycled") == [c.id, b.id, a.id]
    assert ids(sort="post_consumer") == [c.id, b.id, a.id]
    assert ids(sort="price") == [a.id, b.id, c.id]
    assert ids(max_unit_price="480", sort="price") == [a.id, b.id]
    assert ids(category_id=str(other.id)) == [c.id]
    assert ids(q="forty") == [b.id]
    assert ids(q="100%") == [c.id]  # a literal percent sign, not a wildcard
    assert ids(q="クリアファイル", sort="price") == [a.id, b.id, c.id]
    assert ids(q="_") == []


def test_a_withdrawn_product_leaves_the_catalogue_but_its_owner_still_reads_it(w):
    product = make_product(w.db, w.maker, w.category)
    actor = as_actor(w.db, w.trader)
    withdraw_product(w.db, actor, product.id)
    w.db.commit()
    with pytest.raises(Conflict) as err:
        withdraw_product(w.db, actor, product.id)
    assert str(err.value) == "This product is already withdrawn."
    with pytest.raises(Conflict):
        update_product(w.db, actor, product.id, _input(w.category))
    assert read_product(w.db, actor, product.id).status == "withdrawn"
    officer = as_actor(w.db, make_member(w.db, make_org(w.db, kind="agency"), roles="officer"))
    with pytest.raises(NotFound):
        read_product(w.db, officer, product.id)
    assert w.db.exec(search_products(officer, CatalogueFilters())).all() == []


def test_products_of_a_suspended_manufacturer_are_not_listed(w):
    suspended = make_org(w.db, kind="manufacturer", status="suspended")
    product = make_product(w.db, suspended, w.category)
    officer = as_actor(w.db, make_member(w.db, make_org(w.db, kind="agency"), roles="officer"))
    assert w.db.exec(search_products(officer, CatalogueFilters())).all() == []
    with pytest.raises(NotFound):
        read_product(w.db, officer, product.id)


def test_changing_a_product_rechecks_the_rules_and_rewrites_its_evidence(w):
    first, second = make_certificate(w.db, w.maker), make_certificate(w.db, w.maker)
    product = make_product(w.db, w.maker, w.category, certificates=[first])
    actor = as_actor(w.db, w.trader)
    update_product(
        w.db, actor, product.id, _input(w.category, unit_price_jpy=500, certificates=[second.id])
    )
    w.db.commit()
    out = describe_product(w.db, product)
    assert (out.unit_price_jpy, out.certificates) == (500, [second.id])
    with pytest.raises(CustodyNotCovered):
        update_product(w.db, actor, product.id, _input(w.category, unit_mass_kg="100"))
    w.db.rollback()
    other = as_actor(w.db, make_member(w.db, make_org(w.db, kind="manufacturer"), roles="admin"))
    with pytest.raises(NotFound):
        update_product(w.db, other, product.id, _input(w.category))


def test_up_to_four_products_are_compared_in_the_order_asked(w):
    products = [make_product(w.db, w.maker, w.category) for _ in range(5)]
    actor = as_actor(w.db, make_member(w.db, make_org(w.db, kind="agency"), roles="officer"))
    ids = [p.id for p in products]
    assert [p.id for p in compare_products(w.db, actor, [ids[2], ids[0]])] == [ids[2], ids[0]]
    with pytest.raises(ValidationFailed) as err:
        compare_products(w.db, actor, ids)
    assert str(err.value) == "Compare at most 4 products at a time."
    with pytest.raises(NotFound):
        compare_products(w.db, actor, [ids[0], 999_999])
    assert len(describe_products(w.db, compare_products(w.db, actor, ids[:4]))) == 4


def test_reading_the_catalogue_needs_a_login_only(w):
    product = make_product(w.db, w.maker, w.category)
    unverified = make_org(w.db, kind="recycler", status="unverified")
    actor = as_actor(w.db, make_member(w.db, unverified, roles="inspector"))
    assert read_product(w.db, actor, product.id).id == product.id
    assert available_kg(w.db, w.maker.id, "pp") == 10
