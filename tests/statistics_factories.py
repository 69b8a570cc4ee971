"""Test data of market statistics: a seeded random market at demo scale written straight into
the database (organisations, active contracts with their terms, open listings and requests),
and the true figures computed from the same rows, apart from `contracts.statistics`."""

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from factories import corporate_number
from operations_factories import copper_version
from sqlmodel import Session

from contracts.models import ContractTerms, OfftakeContract
from market.listings import add_months
from market.models import IndexValue, OfftakeRequest, PriceIndex, SupplyListing
from participants.columns import tokyo_today, utcnow
from participants.models import Organization

MATERIALS = ("copper_scrap", "aluminium_scrap", "ferrous_scrap", "hdpe")
PREFECTURES = ("08", "11", "13", "14", "22", "23", "27", "28")


@dataclass
class Market:
    orgs: list[Organization]
    # (month, material, prefecture) → list of (seller, buyer, kg, price)
    contract_months: dict = field(default_factory=lambda: defaultdict(list))
    supply: dict = field(
        default_factory=lambda: defaultdict(list)
    )  # (material, pref) → [(org, kg)]
    demand: dict = field(default_factory=lambda: defaultdict(list))
    index_values: dict = field(default_factory=dict)


def make_market(
    db: Session, seed: int = 7, n_orgs: int = 30, n_contracts: int = 220, n_open: int = 120
) -> Market:
    """A seeded random market: contracts in the last six months, fixed or index priced."""
    rnd = random.Random(seed)
    version = copper_version(db)
    this_month = tokyo_today().replace(day=1)
    first = add_months(this_month, -5)
    orgs = []
    for i in range(n_orgs):
        org = Organization(
            kind="recycler" if i % 2 else "manufacturer",
            name_ja=f"統計テスト{i}",
            name_en=f"Stats Test {i}",
            corporate_number=corporate_number(7_700_000 + seed * 1000 + i),
            prefecture=rnd.choice(PREFECTURES),
            status="verified",
            lat=35.6,
            lon=139.7,
        )
        db.add(org)
        orgs.append(org)
    index = PriceIndex(
        code=f"CU-STATS-{seed}", name_en="Cu", name_ja="銅", material_code="copper_scrap"
    )
    db.add(index)
    db.flush()
    market = Market(orgs)
    month = add_months(first, -1)
    while month <= this_month:
        value = 1_300_000 + rnd.randrange(-80, 80) * 1000
        db.add(IndexValue(index_id=index.id, month=month, value_jpy_per_t=value))
        market.index_values[month] = value
        month = add_months(month, 1)
    weights = [6 if i < 4 else 1 for i in range(n_orgs)]
    for _ in range(n_contracts):
        seller, buyer = rnd.choices(orgs, weights, k=2)
        material = rnd.choice(MATERIALS)
        kg = rnd.randrange(5, 90) * 1000
        start = add_months(first, rnd.randrange(6))
        term = rnd.randrange(1, 7)
        indexed = material == "copper_scrap" and rnd.random() < 0.6
        fixed = rnd.randrange(40, 160) * 1000 if material != "copper_scrap" else 1_200_000
        contract = OfftakeContract(
            status="active",
            seller_org_id=seller.id,
            buyer_org_id=buyer.id,
            material_code=material,
            reserved_kg=kg,
            filled_kg=kg,
            active_version=1,
            activated_at=utcnow(),
        )
        db.add(contract)
        db.flush()
        db.add(
            ContractTerms(
                contract_id=contract.id,
                version=1,
                start_month=start,
                term_months=term,
                monthly_kg=kg,
                incoterm="FCA",
                incoterm_place="yard",
                standard_version_id=version,
                price_kind="index" if indexed else "fixed",
                fixed_price_jpy_per_t=None if indexed else fixed,
                index_id=index.id if indexed else None,
                index_factor=Decimal("0.92") if indexed else None,
                premium_jpy_per_t=4000 if indexed else 0,
            )
        )
        for k in range(term):
            month = add_months(start, k)
            if month > add_months(this_month, 6):
                continue
            if indexed:
                value = market.index_values.get(month) or market.index_values[this_month]
                price = int((Decimal(value) * Decimal("0.92")).quantize(Decimal(1), ROUND_HALF_UP))
                price += 4000
            else:
                price = fixed
            key = (month, material, seller.prefecture)
            market.contract_months[key].append((seller.id, buyer.id, kg, price))
    for i in range(n_open):
        org = rnd.choices(orgs, weights)[0]
        material = rnd.choice(MATERIALS)
        kg = rnd.randrange(10, 200) * 1000
        pref = rnd.choice(PREFECTURES)
        if i % 2:
            db.add(
                SupplyListing(
                    organization_id=org.id,
                    status="open",
                    material_code=material,
                    standard_version_id=version,
                    monthly_kg=kg,
                    min_kg_per_contract=1000,
                    available_from=first,
                    max_term_months=12,
                    origin_prefecture=pref,
                    lat=35.6,
                    lon=139.7,
                    incoterm="FCA",
                    incoterm_place="yard",
                    price_kind="fixed",
                    fixed_price_jpy_per_t=100_000,
                    expires_on=date(2099, 1, 1),
                )
            )
            market.supply[(material, pref)].append((org.id, kg))
        else:
            db.add(
                OfftakeRequest(
                    organization_id=org.id,
                    status="open",
                    material_code=material,
                    standard_version_id=version,
                    monthly_kg=kg,
                    start_month=first,
                    term_months=6,
                    delivery_prefecture=pref,
                    delivery_place="plant",
                    lat=35.6,
                    lon=139.7,
                    price_kind="fixed",
                    max_price_jpy_per_t=100_000,
                    expires_on=date(2099, 1, 1),
                )
            )
            market.demand[(material, pref)].append((org.id, kg))
    db.commit()
    return market
