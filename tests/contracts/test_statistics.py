"""Market statistics from contracts, listings and requests: figures, places, prices from the
formula and the index, the own view, and refusals."""

from datetime import date
from decimal import Decimal

import pytest
from factories import as_actor, make_listing, make_member, make_org, make_request
from operations_factories import copper_version, make_active_contract
from sqlmodel import select

from contracts.models import ContractTerms
from contracts.statistics import (
    StatisticsQuery,
    market_statistics,
    own_statistics,
    statistics_window,
)
from market.disclosure import DisclosureRules
from market.models import IndexValue, PriceIndex
from participants.columns import tokyo_today
from participants.errors import PermissionDenied, ValidationFailed
from quality.catalogue import seed_catalogue

RULES = DisclosureRules()
THIS_MONTH = tokyo_today().replace(day=1)


@pytest.fixture(autouse=True)
def catalogue(db):
    seed_catalogue(db)
    db.commit()


def _month(offset: int) -> date:
    from market.listings import add_months

    return add_months(THIS_MONTH, offset)


def _row(out, month, region=None, prefecture=None, material="copper_scrap"):
    for r in out.contracted:
        if (r.month, r.region, r.prefecture, r.material) == (month, region, prefecture, material):
            if material is not None or r.family is None:
                return r
    return None


@pytest.fixture()
def copper_market(db):
    """Three sellers and three buyers in Saitama, copper: two fixed at ¥1,200,000 (100 t and
    60 t a month), one on the index × 0.92 + ¥4,000 (80 t a month), one month."""
    version = copper_version(db)
    sellers = [make_org(db, prefecture="11") for _ in range(3)]
    buyers = [make_org(db, kind="manufacturer", prefecture="27") for _ in range(3)]
    index = PriceIndex(code="CU-T", name_en="Cu", name_ja="銅", material_code="copper_scrap")
    db.add(index)
    db.flush()
    db.add(IndexValue(index_id=index.id, month=_month(-2), value_jpy_per_t=1_300_000))
    db.commit()
    contracts = []
    for (s, b), kg in zip(
        zip(sellers, buyers, strict=True), (100_000, 60_000, 80_000), strict=True
    ):
        contracts.append(
            make_active_contract(db, s, b, version, start=_month(-1), term_months=1, monthly_kg=kg)
        )
    terms = db.exec(select(ContractTerms).where(ContractTerms.contract_id == contracts[2].id)).one()
    terms.price_kind, terms.fixed_price_jpy_per_t = "index", None
    terms.index_id, terms.index_factor, terms.premium_jpy_per_t = index.id, Decimal("0.92"), 4000
    db.add(terms)
    db.commit()
    return sellers, buyers, contracts


def test_contracted_tonnes_and_the_volume_weighted_price_of_a_published_cell(db, copper_market):
    out = market_statistics(db, RULES, StatisticsQuery(material="copper_scrap", by="prefecture"))
    row = _row(out, _month(-1), region="kanto", prefecture="11")
    assert row.contracted_t.value == Decimal("240.000")
    # The index month −1 has no value: the latest before it (month −2, ¥1,300,000) prices it:
    # 1,300,000 × 0.92 + 4,000 = ¥1,200,000 — so all three at 1.2M, and the average too.
    assert row.price_jpy_per_t.value == 1_200_000
    assert not row.contracted_t.suppressed
    # The Kanto region and all Japan carry the same figure; the whole window too.
    assert _row(out, None, region=None).contracted_t.value == Decimal("240.000")


def test_a_price_off_the_index_weights_by_tonnes(db, copper_market):
    index = db.exec(select(PriceIndex).where(PriceIndex.code == "CU-T")).one()
    db.add(IndexValue(index_id=index.id, month=_month(-1), value_jpy_per_t=1_400_000))
    db.commit()
    out = market_statistics(db, RULES, StatisticsQuery(material="copper_scrap"))
    # Index contract: 1,400,000 × 0.92 + 4,000 = 1,292,000 on 80 t; 160 t at 1,200,000.
    expected = (160 * 1_200_000 + 80 * 1_292_000) / 240
    assert _row(out, _month(-1)).price_jpy_per_t.value == round(expected)


def test_two_buyers_suppress_the_cell_and_its_price_without_a_value(db):
    version = copper_version(db)
    sellers = [make_org(db, prefecture="11") for _ in range(3)]
    buyers = [make_org(db, kind="manufacturer") for _ in range(2)]
    for i, s in enumerate(sellers):
        make_active_contract(db, s, buyers[i % 2], version, start=_month(-1), term_months=1)
    out = market_statistics(db, RULES, StatisticsQuery(material="copper_scrap"))
    row = _row(out, _month(-1))
    assert row.contracted_t.suppressed and row.contracted_t.value is None
    assert row.contracted_t.model_dump(mode="json") == {"suppressed": True}
    assert row.price_jpy_per_t.model_dump(mode="json") == {"suppressed": True}


def test_a_contract_counts_where_its_listing_comes_from_else_where_its_seller_is(db):
    version = copper_version(db)
    seller = make_org(db, prefecture="11")  # Saitama
    buyer = make_org(db, kind="manufacturer")
    contract = make_active_contract(db, seller, buyer, version, start=_month(-1), term_months=1)
    out = market_statistics(db, RULES, StatisticsQuery(by="prefecture", material="copper_scrap"))
    assert _row(out, _month(-1), "kanto", "11") is not None
    from market.models import SupplyListing

    listing = db.get(SupplyListing, contract.listing_id)
    listing.origin_prefecture = "28"  # Hyogo
    db.add(listing)
    db.commit()
    out = market_statistics(db, RULES, StatisticsQuery(by="prefecture", material="copper_scrap"))
    assert _row(out, _month(-1), "kanto", "11") is None
    assert _row(out, _month(-1), "kinki", "28") is not None


def test_open_supply_and_demand_by_prefecture(db):
    version = copper_version(db)
    orgs = [make_org(db) for _ in range(3)]
    for org, kg in zip(orgs, (100_000, 90_000, 80_000), strict=True):
        make_listing(db, org, version, origin_prefecture="13", monthly_kg=kg)
        make_request(db, org, version, delivery_prefecture="13")
    make_request(db, orgs[0], version, delivery_prefecture="23")  # one organisation alone
    out = market_statistics(db, RULES, StatisticsQuery(material="hdpe", by="prefecture"))
    tokyo = next(r for r in out.open_market if r.prefecture == "13")
    aichi = next(r for r in out.open_market if r.prefecture == "23")
    japan = next(r for r in out.open_market if r.region is None and r.material == "hdpe")
    assert tokyo.supply_t.value == Decimal("270.000")
    assert aichi.demand_t.suppressed and aichi.supply_t is None  # one organisation
    # Tokyo's demand would give Aichi's away (Japan − Tokyo): suppressed too; Japan stays.
    assert tokyo.demand_t.suppressed
    assert japan.demand_t.value == Decimal("240.000")


def test_the_own_view_shows_own_figures_beside_the_market_and_nobody_else_s(db, copper_market):
    sellers, buyers, _contracts = copper_market
    member = make_member(db, sellers[0])
    out = own_statistics(db, as_actor(db, member), RULES, StatisticsQuery(by="prefecture"))
    assert len(out.rows) == 1
    row = out.rows[0]
    assert (row.month, row.material, row.prefecture) == (_month(-1), "copper_scrap", "11")
    assert row.sold_t == Decimal("100.000") and row.sold_price_jpy_per_t == 1_200_000
    assert row.bought_t == Decimal("0.000") and row.bought_price_jpy_per_t is None
    assert row.market_t.value == Decimal("240.000")  # the published market figure only
    buyer_member = make_member(db, buyers[1])
    out = own_statistics(db, as_actor(db, buyer_member), RULES, StatisticsQuery())
    assert [(r.sold_t, r.bought_t) for r in out.rows] == [(Decimal("0.000"), Decimal("60.000"))]


def test_the_own_view_needs_a_member(db):
    with pytest.raises(PermissionDenied):
        own_statistics(db, None, RULES, StatisticsQuery())


def test_unknown_material_and_months_outside_the_window_are_refused(db):
    with pytest.raises(ValidationFailed) as err:
        market_statistics(db, RULES, StatisticsQuery(material="unobtainium"))
    assert err.value.field == "material"
    first, last = statistics_window(tokyo_today())
    from market.listings import add_months

    with pytest.raises(ValidationFailed) as err:
        market_statistics(db, RULES, StatisticsQuery(from_month=add_months(first, -1)))
    assert err.value.field == "from_month"
    with pytest.raises(ValidationFailed) as err:
        market_statistics(db, RULES, StatisticsQuery(from_month=last, to_month=first))
    assert err.value.field == "to_month"
    with pytest.raises(ValidationFailed):
        market_statistics(db, RULES, StatisticsQuery(material="hdpe", family="metal"))
