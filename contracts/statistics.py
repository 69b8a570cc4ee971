"""Open market statistics: contracted tonnes, contract prices, open supply and open demand by
month × material (and family) × prefecture (and region, and all Japan), published under the
disclosure control of `market.disclosure`.

Figures (mass in tonnes with 3 decimals, prices in whole yen per tonne):

- **contracted tonnes**: every active or completed contract's monthly tonnes (its signed
  terms version) in each month of its term that falls in the statistics window;
- **contract price**: the volume-weighted average of those contract months' prices, each from
  the contract's price formula (`market.indices.evaluate`, the same formula invoicing uses, with
  the index value of the delivery month or of the month before, ``pricing_period``). A month
  whose index value is not entered yet is priced with the latest value before it (the index's
  publication lag — `market.indices.value_for_month` does the same); a contract month with no
  index value at all has tonnes but no price;
- **open supply**: open listings' available tonnes a month (monthly less committed), by the
  listing's origin prefecture; **open demand**: open requests' open tonnes a month, by the
  request's delivery prefecture (a snapshot of today, no month dimension).

Where: a contract is counted in the prefecture of its seller's listing origin, else the
seller's registered prefecture (where the material comes from — our choice); supply and demand
fall back to the organisation's prefecture the same way. Contracts and listings with no
Japanese prefecture (a foreign seller's import) are left out: these are statistics of Japan.

The window is fixed, independent of the visitor's filters: 18 months up to this month and 6
months ahead (contracted future months of active contracts). The whole-period totals are
always over the whole window, so that choosing other months never discloses a difference.

Who contributes: to contracted tonnes and prices, the seller and the buyer of each contract
(two sides: both must pass the rules); to supply, the listing's organisation; to demand, the
request's. Contributors never leave this module: the public output has only the figures.
The protected tables are cached in the process, keyed by their inputs.

Reading is public (`market_statistics`, no actor). An organisation's own view
(`own_statistics`, `SEE_OWN_STATISTICS`) shows its own tonnes and prices, as seller and as
buyer, beside the published market figure of the same cell — never another organisation's.
"""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer
from sqlalchemy import and_
from sqlmodel import Session, col, select

from contracts.invoicing import PRICE_COLUMNS, PriceTerms
from contracts.models import ContractStatus, ContractTerms, OfftakeContract
from market.disclosure import (
    Cell,
    DisclosureRules,
    Hierarchy,
    Key,
    Protection,
    aggregate,
    protect,
)
from market.indices import evaluate
from market.listings import add_months
from market.models import IndexValue, ListingStatus, OfftakeRequest, SupplyListing
from participants.actors import Actor, permission
from participants.columns import tokyo_today
from participants.errors import N_, ValidationFailed
from participants.fields import Line, Month
from participants.geography import BY_CODE, REGION_OF, REGIONS
from participants.models import Organization
from quality.grading import Family
from quality.models import Material

SEE_OWN_STATISTICS = permission(
    N_("Only members of an organisation see its own statistics."), verified=False
)

MONTHS_BACK = 17  # the window: this month and 17 before it …
MONTHS_AHEAD = 6  # … and 6 after it
ALL = "*"  # the whole period (month), all materials (material)
JAPAN = "JP"
FAMILY_PREFIX = "f:"
REGION_PREFIX = "r:"
KG_PER_T = Decimal(1000)


def statistics_window(today: date) -> tuple[date, date]:
    """First and last month of the published window (fixed, whatever the filters)."""
    month = today.replace(day=1)
    return add_months(month, -MONTHS_BACK), add_months(month, MONTHS_AHEAD)


def _month_text(month: date) -> str:
    return month.strftime("%Y-%m")


def months_between(first: date, last: date) -> list[date]:
    months, month = [], first
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    return months


# ---------------------------------------------------------------------------------------------
# Dimensions


def geo_hierarchy() -> Hierarchy:
    """Prefecture (JIS code) → region (r:kanto …) → Japan."""
    parent: dict = {JAPAN: None}
    for region in REGIONS:
        parent[REGION_PREFIX + region.code] = JAPAN
        for pref in region.prefectures:
            parent[pref] = REGION_PREFIX + region.code
    return Hierarchy(parent)


def material_hierarchy(families: dict[str, str]) -> Hierarchy:
    """Material code → family (f:metal …) → all materials."""
    parent: dict = {ALL: None}
    for code, family in families.items():
        parent[FAMILY_PREFIX + family] = ALL
        parent[code] = FAMILY_PREFIX + family
    return Hierarchy(parent)


def month_hierarchy(months: Sequence[date]) -> Hierarchy:
    """Month (YYYY-MM) → the whole window."""
    return Hierarchy({ALL: None, **{_month_text(m): ALL for m in months}})


# ---------------------------------------------------------------------------------------------
# Records (what the database says) and the protected tables (pure)


@dataclass(frozen=True)
class ContractMonth:
    """One contract's tonnes in one month: a leaf of the contracted table."""

    month: date
    material: str
    prefecture: str
    seller_org_id: int
    buyer_org_id: int
    kg: int
    price_jpy_per_t: int | None


@dataclass(frozen=True)
class OpenVolume:
    """An open listing's available (or a request's open) kg a month."""

    material: str
    prefecture: str
    org_id: int
    kg: int


@dataclass(frozen=True)
class MarketRecords:
    window: tuple[date, date]
    families: tuple[tuple[str, str], ...]  # (material code, family)
    contract_months: tuple[ContractMonth, ...]
    supply: tuple[OpenVolume, ...]
    demand: tuple[OpenVolume, ...]


@dataclass
class ProtectedTable:
    cells: dict[Key, Cell]
    protection: Protection

    def figure(self, key: Key) -> tuple[bool, int] | None:
        """(suppressed, value) of a cell; None when nobody contributes (a true zero)."""
        cell = self.cells.get(key)
        if cell is None or cell.value == 0:
            return None
        return (not self.protection.published(key), cell.value)


@dataclass
class MarketTables:
    """The four protected tables of one set of records."""

    window: tuple[date, date]
    families: dict[str, str]
    contracted: ProtectedTable  # kg
    value: ProtectedTable  # kg × yen per tonne (price × tonnes, exact integers)
    priced: dict[Key, int]  # the priced kg of each value cell (the price's denominator)
    supply: ProtectedTable  # kg a month, key (material, geo)
    demand: ProtectedTable
    dims: tuple[Hierarchy, ...] = field(default=())

    def price(self, key: Key) -> tuple[bool, int] | None:
        """(suppressed, yen per tonne) of a cell; None when it has no priced tonnes."""
        figure = self.value.figure(key)
        kg = self.priced.get(key, 0)
        if figure is None or not kg:
            return None
        suppressed, value = figure
        tonnes = self.contracted.figure(key)
        if tonnes is None or tonnes[0]:
            suppressed = True
        return suppressed, int((Decimal(value) / kg).quantize(Decimal(1), ROUND_HALF_UP))


def build_tables(records: MarketRecords, rules: DisclosureRules) -> MarketTables:
    """Aggregate the records at every level and protect each table (pure)."""
    families = dict(records.families)
    months = months_between(*records.window)
    dims = (month_hierarchy(months), material_hierarchy(families), geo_hierarchy())
    contracted_leaves, value_leaves, priced_leaves = [], [], []
    for r in records.contract_months:
        if r.material not in families:
            continue
        key = (_month_text(r.month), r.material, r.prefecture)
        sides = ({r.seller_org_id: r.kg}, {r.buyer_org_id: r.kg})
        contracted_leaves.append((key, r.kg, sides))
        if r.price_jpy_per_t is not None:
            value_leaves.append((key, r.kg * r.price_jpy_per_t, sides))
            priced_leaves.append((key, r.kg, ()))
    contracted = aggregate(contracted_leaves, dims)
    protected = protect(contracted, dims, rules)
    value = aggregate(value_leaves, dims)
    priced = {k: c.value for k, c in aggregate(priced_leaves, dims).items()}
    # A price is never shown where its tonnes are not: those cells start suppressed.
    hidden_tonnes = [k for k in value if not protected.published(k)]
    value_protection = protect(value, dims, rules, also_suppress=hidden_tonnes)
    open_dims = dims[1:]

    def open_table(volumes: Iterable[OpenVolume]) -> ProtectedTable:
        leaves = [
            ((v.material, v.prefecture), v.kg, ({v.org_id: v.kg},))
            for v in volumes
            if v.material in families and v.kg > 0
        ]
        cells = aggregate(leaves, open_dims)
        return ProtectedTable(cells, protect(cells, open_dims, rules))

    return MarketTables(
        window=records.window,
        families=families,
        contracted=ProtectedTable(contracted, protected),
        value=ProtectedTable(value, value_protection),
        priced=priced,
        supply=open_table(records.supply),
        demand=open_table(records.demand),
        dims=dims,
    )


@lru_cache(maxsize=8)
def protected_tables(records: MarketRecords, rules: DisclosureRules) -> MarketTables:
    """`build_tables`, cached in the process by the records and rules themselves (equal
    records, equal tables; the LP audit is the cost). Callers must not change the result."""
    return build_tables(records, rules)


# ---------------------------------------------------------------------------------------------
# Reading the records (a constant number of queries)


def _index_series(session: Session, index_ids: set[int]) -> dict[int, tuple[list, list]]:
    """Each index's (months, values), oldest first, one query."""
    if not index_ids:
        return {}
    rows = session.exec(
        select(IndexValue.index_id, IndexValue.month, IndexValue.value_jpy_per_t)
        .where(col(IndexValue.index_id).in_(sorted(index_ids)))
        .order_by(IndexValue.index_id, IndexValue.month)
    ).all()
    series: dict[int, tuple[list, list]] = defaultdict(lambda: ([], []))
    for index_id, month, value in rows:
        series[index_id][0].append(month)
        series[index_id][1].append(value)
    return series


def _value_at(series: dict[int, tuple[list, list]], index_id: int, month: date) -> int | None:
    """The index's value for a month, else the latest before it (publication lag)."""
    months, values = series.get(index_id, ([], []))
    at = bisect_right(months, month)
    return values[at - 1] if at else None


def _open_volumes(session: Session, model, place, taken, today: date) -> list[OpenVolume]:
    """Open listings (or requests) not expired: tonnes a month still free, in their place's
    prefecture (else their organisation's); one query."""
    rows = session.exec(
        select(
            model.material_code,
            place,
            Organization.prefecture,
            model.organization_id,
            model.monthly_kg,
            taken,
        )
        .join(Organization, Organization.id == model.organization_id)
        .where(model.status == ListingStatus.OPEN, col(model.expires_on) >= today)
        .order_by(model.id)
    ).all()
    return [
        OpenVolume(material, where or home, org_id, monthly - used)
        for material, where, home, org_id, monthly, used in rows
        if (where or home) in BY_CODE
    ]


def load_records(session: Session, today: date | None = None) -> MarketRecords:
    """What the statistics count, read in five queries whatever the number of rows."""
    today = today or tokyo_today()
    first, last = statistics_window(today)
    families = tuple(
        (code, family)
        for code, family in session.exec(
            select(Material.code, Material.family).order_by(Material.code)
        ).all()
    )
    seller = Organization
    rows = session.exec(
        select(
            OfftakeContract.id,
            OfftakeContract.seller_org_id,
            OfftakeContract.buyer_org_id,
            OfftakeContract.material_code,
            SupplyListing.origin_prefecture,
            seller.prefecture,
            ContractTerms.start_month,
            ContractTerms.term_months,
            ContractTerms.monthly_kg,
            *PRICE_COLUMNS,
        )
        .join(
            ContractTerms,
            and_(
                ContractTerms.contract_id == OfftakeContract.id,
                ContractTerms.version == OfftakeContract.active_version,
            ),
        )
        .join(seller, seller.id == OfftakeContract.seller_org_id)
        .outerjoin(SupplyListing, SupplyListing.id == OfftakeContract.listing_id)
        .where(col(OfftakeContract.status).in_([ContractStatus.ACTIVE, ContractStatus.COMPLETED]))
        .order_by(OfftakeContract.id)
    ).all()
    series = _index_series(session, {r[11] for r in rows if r[11] is not None})
    months: list[ContractMonth] = []
    for row in rows:
        _id, seller_id, buyer_id, material, origin, home, start, term, kg = row[:9]
        prefecture = origin or home
        if prefecture not in BY_CODE:
            continue
        pricing = PriceTerms(*row[9:])
        for offset in range(term):
            month = add_months(start.replace(day=1), offset)
            if month < first or month > last:
                continue
            value = None
            if pricing.price_kind != "fixed" and pricing.index_id is not None:
                value = _value_at(series, pricing.index_id, pricing.index_month(month))
            price = evaluate(pricing.formula(), value)
            months.append(
                ContractMonth(month, material, prefecture, seller_id, buyer_id, kg, price)
            )
    supply = _open_volumes(
        session, SupplyListing, SupplyListing.origin_prefecture, SupplyListing.committed_kg, today
    )
    demand = _open_volumes(
        session, OfftakeRequest, OfftakeRequest.delivery_prefecture, OfftakeRequest.filled_kg, today
    )
    return MarketRecords(
        window=(first, last),
        families=families,
        contract_months=tuple(months),
        supply=tuple(supply),
        demand=tuple(demand),
    )


# ---------------------------------------------------------------------------------------------
# Query and output


FamilyCode = Literal["metal", "plastic", "e-scrap", "battery"]  # quality.grading.Family
assert set(FamilyCode.__args__) == {str(f) for f in Family}


class StatisticsQuery(BaseModel):
    """Which part of the published statistics: months, a material or a family, the grouping."""

    model_config = ConfigDict(extra="forbid")
    from_month: Month | None = Field(default=None, description="first month (YYYY-MM)")
    to_month: Month | None = Field(default=None, description="last month (YYYY-MM)")
    material: Line(40) | None = Field(default=None, description="a material code")
    family: FamilyCode | None = Field(default=None, description="a material family")
    by: Literal["region", "prefecture"] = Field(
        default="region", description="group places by region or by prefecture"
    )


class StatisticsTonnes(BaseModel):
    """Tonnes of a cell, or only `{"suppressed": true}` when disclosure control hides it."""

    suppressed: bool
    value: Decimal | None = Field(default=None, description="tonnes (absent when suppressed)")

    @model_serializer(mode="wrap")
    def _drop_value(self, handler):
        data = handler(self)
        if self.suppressed:
            data.pop("value", None)
        return data


class StatisticsPrice(BaseModel):
    """Yen per tonne of a cell, or only `{"suppressed": true}`."""

    suppressed: bool
    value: int | None = Field(default=None, description="yen per tonne (absent when suppressed)")

    @model_serializer(mode="wrap")
    def _drop_value(self, handler):
        data = handler(self)
        if self.suppressed:
            data.pop("value", None)
        return data


class StatisticsPlace(BaseModel):
    """Where and what a row is about (null: all of it)."""

    family: str | None
    material: str | None
    region: str | None
    prefecture: str | None


class StatisticsContractRow(StatisticsPlace):
    """Contracted tonnes and the volume-weighted contract price of a month (null: the whole
    window) and place; `price_jpy_per_t` null when no tonnes of the cell are priced."""

    month: Month | None
    contracted_t: StatisticsTonnes
    price_jpy_per_t: StatisticsPrice | None


class StatisticsOpenRow(StatisticsPlace):
    """Open supply and open demand, tonnes a month, as of today (null: none)."""

    supply_t: StatisticsTonnes | None
    demand_t: StatisticsTonnes | None


class StatisticsRulesOut(BaseModel):
    """The disclosure rules the figures were published under."""

    min_contributors: int
    dominance_pct: Decimal
    protection_pct: Decimal
    source: str


class StatisticsOut(BaseModel):
    """Published market statistics (disclosure-controlled)."""

    first_month: Month
    last_month: Month
    from_month: Month
    to_month: Month
    by: str
    material: str | None
    family: str | None
    rules: StatisticsRulesOut
    contracted: list[StatisticsContractRow]
    open_market: list[StatisticsOpenRow]


RULES_SOURCE = (
    "Threshold rule and (n, k) dominance rule with secondary suppression audited by linear "
    "programming: Hundepool et al., Statistical Disclosure Control, Wiley 2012, ch. 4; "
    "ESSnet/Eurostat Handbook on Statistical Disclosure Control."
)


@dataclass(frozen=True)
class Selection:
    """A validated query: months shown, material nodes, geo nodes."""

    months: tuple[date, ...]
    materials: tuple[str, ...]
    geos: tuple[str, ...]
    query: StatisticsQuery
    first: date
    last: date


def select_cells(tables: MarketTables, query: StatisticsQuery) -> Selection:
    """Check the query against the window and the catalogue (422 with the field)."""
    first, last = tables.window
    start = query.from_month or first
    end = query.to_month or last
    for name, month in (("from_month", start), ("to_month", end)):
        if month < first or month > last:
            raise ValidationFailed(
                "Choose a month from %(first)s to %(last)s.",
                field=name,
                first=_month_text(first),
                last=_month_text(last),
            )
    if end < start:
        raise ValidationFailed("The last month is before the first.", field="to_month")
    families = tables.families
    if query.material is not None:
        if query.material not in families:
            raise ValidationFailed(
                "Unknown material %(code)s.", field="material", code=query.material
            )
        if query.family is not None and families[query.material] != query.family:
            raise ValidationFailed(
                "The material is not of that family.", field="material", code=query.material
            )
        materials = (query.material,)
    elif query.family is not None:
        materials = (FAMILY_PREFIX + query.family,) + tuple(
            sorted(c for c, f in families.items() if f == query.family)
        )
    else:
        fams = sorted(set(families.values()))
        materials = (ALL, *(FAMILY_PREFIX + f for f in fams), *sorted(families))
    if query.by == "prefecture":
        geos = (JAPAN, *(p for r in REGIONS for p in r.prefectures))
    else:
        geos = (JAPAN, *(REGION_PREFIX + r.code for r in REGIONS))
    return Selection(tuple(months_between(start, end)), materials, geos, query, first, last)


def _place(tables: MarketTables, material: str, geo: str) -> dict:
    if material == ALL:
        family, code = None, None
    elif material.startswith(FAMILY_PREFIX):
        family, code = material[len(FAMILY_PREFIX) :], None
    else:
        family, code = tables.families[material], material
    if geo == JAPAN:
        region, prefecture = None, None
    elif geo.startswith(REGION_PREFIX):
        region, prefecture = geo[len(REGION_PREFIX) :], None
    else:
        region, prefecture = REGION_OF[geo], geo
    return {"family": family, "material": code, "region": region, "prefecture": prefecture}


def _tonnes(figure: tuple[bool, int] | None) -> StatisticsTonnes | None:
    if figure is None:
        return None
    suppressed, kg = figure
    if suppressed:
        return StatisticsTonnes(suppressed=True)
    return StatisticsTonnes(
        suppressed=False, value=(Decimal(kg) / KG_PER_T).quantize(Decimal("0.001"))
    )


def _price(figure: tuple[bool, int] | None) -> StatisticsPrice | None:
    if figure is None:
        return None
    suppressed, yen = figure
    return (
        StatisticsPrice(suppressed=True)
        if suppressed
        else StatisticsPrice(suppressed=False, value=yen)
    )


def statistics_out(
    tables: MarketTables, selection: Selection, rules: DisclosureRules
) -> StatisticsOut:
    """The published figures of a selection (no contributor, no suppressed value)."""
    contracted = []
    for month in (*selection.months, None):
        month_key = _month_text(month) if month else ALL
        for material in selection.materials:
            for geo in selection.geos:
                key = (month_key, material, geo)
                tonnes = _tonnes(tables.contracted.figure(key))
                if tonnes is None:
                    continue
                contracted.append(
                    StatisticsContractRow(
                        month=month,
                        contracted_t=tonnes,
                        price_jpy_per_t=_price(tables.price(key)),
                        **_place(tables, material, geo),
                    )
                )
    open_rows = []
    for material in selection.materials:
        for geo in selection.geos:
            supply = _tonnes(tables.supply.figure((material, geo)))
            demand = _tonnes(tables.demand.figure((material, geo)))
            if supply is None and demand is None:
                continue
            open_rows.append(
                StatisticsOpenRow(supply_t=supply, demand_t=demand, **_place(tables, material, geo))
            )
    q = selection.query
    return StatisticsOut(
        first_month=selection.first,
        last_month=selection.last,
        from_month=selection.months[0],
        to_month=selection.months[-1],
        by=q.by,
        material=q.material,
        family=q.family,
        rules=StatisticsRulesOut(
            min_contributors=rules.min_contributors,
            dominance_pct=rules.dominance_pct,
            protection_pct=rules.protection_pct,
            source=RULES_SOURCE,
        ),
        contracted=contracted,
        open_market=open_rows,
    )


def market_statistics(
    session: Session,
    rules: DisclosureRules,
    query: StatisticsQuery | None = None,
    today: date | None = None,
) -> StatisticsOut:
    """The public statistics (no actor: anyone may read them), disclosure-controlled."""
    tables = protected_tables(load_records(session, today), rules)
    return statistics_out(tables, select_cells(tables, query or StatisticsQuery()), rules)


def statistics_with_map(
    session: Session,
    rules: DisclosureRules,
    query: StatisticsQuery | None = None,
    today: date | None = None,
) -> tuple[StatisticsOut, dict[str, dict[str, StatisticsTonnes]]]:
    """The public statistics and, for the maps, open supply and demand of the query's material
    (or family, or all materials) by prefecture: {"supply": {JIS code: figure}, "demand": …}
    (absent: none). One read of the records."""
    tables = protected_tables(load_records(session, today), rules)
    selection = select_cells(tables, query or StatisticsQuery())
    top = selection.materials[0]
    figures: dict[str, dict[str, StatisticsTonnes]] = {"supply": {}, "demand": {}}
    for name, table in (("supply", tables.supply), ("demand", tables.demand)):
        for pref in BY_CODE:
            figure = _tonnes(table.figure((top, pref)))
            if figure is not None:
                figures[name][pref] = figure
    return statistics_out(tables, selection, rules), figures


# ---------------------------------------------------------------------------------------------
# An organisation's own view


class StatisticsOwnRow(BaseModel):
    """The organisation's own tonnes and average price (as seller and as buyer) in a month,
    material and place, beside the published market figures of the same cell."""

    month: Month
    family: str
    material: str
    region: str | None
    prefecture: str | None
    sold_t: Decimal
    sold_price_jpy_per_t: int | None
    bought_t: Decimal
    bought_price_jpy_per_t: int | None
    market_t: StatisticsTonnes | None
    market_price_jpy_per_t: StatisticsPrice | None


class StatisticsOwnOut(BaseModel):
    """An organisation's own figures against the published market."""

    organization_id: int
    from_month: Month
    to_month: Month
    by: str
    rows: list[StatisticsOwnRow]


def _average(value: int, kg: int) -> int | None:
    if not kg:
        return None
    return int((Decimal(value) / kg).quantize(Decimal(1), ROUND_HALF_UP))


def own_statistics(
    session: Session,
    actor: Actor,
    rules: DisclosureRules,
    query: StatisticsQuery | None = None,
    today: date | None = None,
) -> StatisticsOwnOut:
    """The actor's organisation's own contract tonnes and prices by month × material × place
    (the query's grouping), with the published market figure beside each (never another
    organisation's figures)."""
    SEE_OWN_STATISTICS.check(actor)
    if actor.organization_id is None:
        SEE_OWN_STATISTICS.check(None)
    org = actor.organization_id
    records = load_records(session, today)
    tables = protected_tables(records, rules)
    selection = select_cells(tables, query or StatisticsQuery())
    wanted_months = {_month_text(m) for m in selection.months}
    allowed = set(selection.materials)
    # [sold kg, sold value, sold priced kg, bought kg, bought value, bought priced kg]
    own: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0] * 6)
    for r in records.contract_months:
        if org not in (r.seller_org_id, r.buyer_org_id):
            continue
        month = _month_text(r.month)
        family = tables.families.get(r.material)
        if month not in wanted_months or family is None:
            continue
        if not allowed & {r.material, FAMILY_PREFIX + family, ALL}:
            continue
        geo = (
            r.prefecture
            if selection.query.by == "prefecture"
            else REGION_PREFIX + REGION_OF[r.prefecture]
        )
        figures = own[(month, r.material, geo)]
        for base, mine in ((0, r.seller_org_id == org), (3, r.buyer_org_id == org)):
            if not mine:
                continue
            figures[base] += r.kg
            if r.price_jpy_per_t is not None:
                figures[base + 1] += r.kg * r.price_jpy_per_t
                figures[base + 2] += r.kg
    rows = []
    for (month, material, geo), f in sorted(own.items()):
        key = (month, material, geo)
        rows.append(
            StatisticsOwnRow(
                month=date.fromisoformat(month + "-01"),
                sold_t=(Decimal(f[0]) / KG_PER_T).quantize(Decimal("0.001")),
                sold_price_jpy_per_t=_average(f[1], f[2]),
                bought_t=(Decimal(f[3]) / KG_PER_T).quantize(Decimal("0.001")),
                bought_price_jpy_per_t=_average(f[4], f[5]),
                market_t=_tonnes(tables.contracted.figure(key)),
                market_price_jpy_per_t=_price(tables.price(key)),
                **_place(tables, material, geo),
            )
        )
    return StatisticsOwnOut(
        organization_id=org,
        from_month=selection.months[0],
        to_month=selection.months[-1],
        by=selection.query.by,
        rows=rows,
    )
