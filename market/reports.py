"""Green-purchasing reports: an agency's procurement results of a fiscal year by category, in
the style of the yearly results (調達実績) that bodies under Japan's Green Purchasing Act
(グリーン購入法, art. 8) publish per designated item: the total procured, the part that meets
the criterion (判断の基準を満たす調達量) and its share (調達率).

Here the item is a procurement category and its criterion is the category's recommended
minimum recycled content (post-consumer and total, where set). The report counts the
agency's purchase orders that are not cancelled — direct purchases from the catalogue and the
orders of awarded tenders, shown apart and together — whose order date (Asia/Tokyo) falls in
the fiscal year: April 1 to March 31 of the next year (FY2026 = 2026-04-01 … 2027-03-31).

Figures per category and in total: orders; value tax excluded and included (yen); product
mass, recycled and post-consumer tonnes; the mass-weighted recycled share; orders and mass
that meet the category's minimum, and the share of mass that does (調達率). Recycled tonnes
are the recycled-content claims debited from the chain-of-custody ledger (each rounded up to
the kilogram); post-consumer tonnes and the weighted share are computed exactly from each
order's mass and stated percentages and rounded once (tonnes to the kilogram, shares to
0.1 point, half up).

The database does the aggregation: one GROUP BY over the orders by category, source and the
claim's two percentages (stored as exact decimal strings, which SQL cannot multiply exactly on
SQLite); Python then folds those groups — distinct claim levels, not orders — in Decimal.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, func, select

from market.models import OrderSource, OrderStatus, ProcurementCategory, PurchaseOrder
from participants.actors import Actor, permission
from participants.columns import utcnow
from participants.errors import N_, NotFound, ValidationFailed
from participants.fields import Id
from participants.models import Organization, OrgKind

SEE_GREEN_PURCHASING = permission(
    N_(
        "Only members of public agencies and the marketplace operator read green-purchasing reports."
    ),
    kinds=[OrgKind.AGENCY, OrgKind.OPERATOR],
    verified=False,
)

FIRST_FISCAL_YEAR, LAST_FISCAL_YEAR = 2000, 2099
TOKYO = ZoneInfo("Asia/Tokyo")
HUNDRED = Decimal(100)
KG_PER_TONNE = Decimal(1000)
SOURCES = (OrderSource.DIRECT, OrderSource.TENDER)


def fiscal_year_of(day: date) -> int:
    """Japan's fiscal year of a date: it starts on April 1 (2027-03-31 → 2026)."""
    return day.year if day.month >= 4 else day.year - 1


def fiscal_year_bounds(fiscal_year: int) -> tuple[date, date]:
    """The first and last day of a fiscal year (April 1 … March 31)."""
    return date(fiscal_year, 4, 1), date(fiscal_year + 1, 3, 31)


def current_fiscal_year(now: datetime | None = None) -> int:
    """The fiscal year of today in Asia/Tokyo."""
    return fiscal_year_of((now or utcnow()).astimezone(TOKYO).date())


def tonnes(kg: Decimal | int) -> Decimal:
    """Kilograms as tonnes with three places, half up."""
    return (Decimal(kg) / KG_PER_TONNE).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def share(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """part / whole in percent with one place, half up (None when the whole is zero)."""
    if not whole:
        return None
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )


def meets_minimum(
    category: ProcurementCategory, post_consumer_pct: Decimal, total_pct: Decimal
) -> bool | None:
    """Whether a claim meets the category's recommended minimum; None: the category has none."""
    if category.min_post_consumer_pct is None and category.min_total_pct is None:
        return None
    if category.min_post_consumer_pct is not None and post_consumer_pct < Decimal(
        category.min_post_consumer_pct
    ):
        return False
    return category.min_total_pct is None or total_pct >= Decimal(category.min_total_pct)


# ---------------------------------------------------------------------------------------------
# Figures (plain values; the fold of the SQL groups)


@dataclass
class Figures:
    """The sums of a set of orders (exact; rounded only when shown)."""

    orders: int = 0
    value_jpy: int = 0  # tax excluded
    value_total_jpy: int = 0  # tax included
    mass_kg: int = 0
    recycled_kg: int = 0  # claims debited from the ledger
    recycled_content_kg: Decimal = Decimal(0)  # Σ mass × total %: the weighted share's numerator
    post_consumer_kg: Decimal = Decimal(0)
    assessed: bool = False  # some orders fall under a minimum
    met_orders: int = 0
    unmet_orders: int = 0
    met_mass_kg: int = 0
    assessed_mass_kg: int = 0

    def add_group(
        self,
        orders: int,
        value_jpy: int,
        value_total_jpy: int,
        mass_kg: int,
        recycled_kg: int,
        post_consumer_pct: Decimal,
        total_pct: Decimal,
        meets: bool | None,
    ) -> None:
        self.orders += orders
        self.value_jpy += value_jpy
        self.value_total_jpy += value_total_jpy
        self.mass_kg += mass_kg
        self.recycled_kg += recycled_kg
        self.recycled_content_kg += Decimal(mass_kg) * total_pct / HUNDRED
        self.post_consumer_kg += Decimal(mass_kg) * post_consumer_pct / HUNDRED
        if meets is None:
            return
        self.assessed = True
        self.assessed_mass_kg += mass_kg
        if meets:
            self.met_orders += orders
            self.met_mass_kg += mass_kg
        else:
            self.unmet_orders += orders

    def add(self, other: "Figures") -> None:
        for name in (
            "orders",
            "value_jpy",
            "value_total_jpy",
            "mass_kg",
            "recycled_kg",
            "recycled_content_kg",
            "post_consumer_kg",
            "met_orders",
            "unmet_orders",
            "met_mass_kg",
            "assessed_mass_kg",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.assessed = self.assessed or other.assessed

    def out(self) -> "FiguresOut":
        return FiguresOut(
            orders=self.orders,
            value_jpy=self.value_jpy,
            value_total_jpy=self.value_total_jpy,
            mass_t=str(tonnes(self.mass_kg)),
            recycled_t=str(tonnes(self.recycled_kg)),
            recycled_share_pct=_text(share(self.recycled_content_kg, self.mass_kg)),
            post_consumer_t=str(tonnes(self.post_consumer_kg)),
            met_orders=self.met_orders if self.assessed else None,
            unmet_orders=self.unmet_orders if self.assessed else None,
            met_t=str(tonnes(self.met_mass_kg)) if self.assessed else None,
            met_share_pct=_text(share(self.met_mass_kg, self.assessed_mass_kg)),
        )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@dataclass
class CategoryFigures:
    category: ProcurementCategory
    by_source: dict[str, Figures] = field(default_factory=lambda: {s: Figures() for s in SOURCES})

    @property
    def total(self) -> Figures:
        total = Figures()
        for figures in self.by_source.values():
            total.add(figures)
        return total


# ---------------------------------------------------------------------------------------------
# Input and output


class ReportQuery(BaseModel):
    """?fiscal_year=2026 (April 2026 – March 2027); the operator names the agency."""

    model_config = ConfigDict(extra="forbid")
    fiscal_year: int = Field(
        ge=FIRST_FISCAL_YEAR,
        le=LAST_FISCAL_YEAR,
        description="Japanese fiscal year: April 1 of this year to March 31 of the next",
    )
    organization_id: Id | None = Field(
        default=None,
        description="the agency (the operator must name one; an agency's members read their own)",
    )


class FiguresOut(BaseModel):
    """Figures of a set of orders. Tonnes are decimal strings with three places; shares are
    percent with one place (null when there is nothing to divide by); the `met_*` figures are
    null where no recommended minimum applies."""

    orders: int
    value_jpy: int = Field(description="procured value, tax excluded, integer yen")
    value_total_jpy: int = Field(description="procured value, tax included, integer yen")
    mass_t: str = Field(description="product mass, tonnes")
    recycled_t: str = Field(description="recycled content claimed (debited from the ledger)")
    recycled_share_pct: str | None = Field(description="mass-weighted total recycled content")
    post_consumer_t: str = Field(description="post-consumer recycled content, tonnes")
    met_orders: int | None = Field(description="orders meeting the recommended minimum")
    unmet_orders: int | None = Field(description="orders below the recommended minimum")
    met_t: str | None = Field(description="product mass of the orders meeting the minimum")
    met_share_pct: str | None = Field(
        description="share of the mass under a minimum that meets it (調達率)"
    )


class CategoryReportOut(BaseModel):
    """One category (品目): its recommended minimum and its figures by source and in total."""

    category_id: int
    code: str
    name_en: str
    name_ja: str
    classification_scheme: str
    classification_id: str
    min_post_consumer_pct: str | None
    min_total_pct: str | None
    source: str = Field(description="where the recommended minimum comes from")
    direct: FiguresOut
    tender: FiguresOut
    total: FiguresOut


class GreenPurchasingReportOut(BaseModel):
    """An agency's green-purchasing results of a fiscal year by category (direct purchases and
    tender orders, not cancelled, by order date in Asia/Tokyo)."""

    organization_id: int
    organization_name_en: str
    organization_name_ja: str
    fiscal_year: int
    period_start: date
    period_end: date
    categories: list[CategoryReportOut]
    direct: FiguresOut
    tender: FiguresOut
    total: FiguresOut


# ---------------------------------------------------------------------------------------------
# The entry point


def reportable_agencies(session: Session, actor: Actor) -> list[Organization]:
    """The agencies whose reports the actor may read: its own, or every agency (operator)."""
    SEE_GREEN_PURCHASING.check(actor)
    stmt = select(Organization).where(Organization.kind == OrgKind.AGENCY)
    if not actor.is_operator:
        stmt = stmt.where(Organization.id == actor.organization_id)
    return list(session.exec(stmt.order_by(col(Organization.name_en))).all())


def _agency(session: Session, actor: Actor, organization_id: int | None) -> Organization:
    SEE_GREEN_PURCHASING.check(actor)
    if organization_id is None:
        if actor.is_operator:
            raise ValidationFailed(N_("Choose the agency whose report to read."), "organization_id")
        organization_id = actor.organization_id
    if not 1 <= organization_id < 2**31 or not (actor.is_operator or actor.owns(organization_id)):
        raise NotFound(N_("No such agency."), "organization_id")
    agency = session.get(Organization, organization_id)
    if agency is None or agency.kind != OrgKind.AGENCY:
        raise NotFound(N_("No such agency."), "organization_id")
    return agency


@dataclass
class GreenPurchasingReport:
    agency: Organization
    fiscal_year: int
    period_start: date
    period_end: date
    categories: list[CategoryFigures]

    def totals(self) -> dict[str, Figures]:
        """Figures of all categories: by source and "total"."""
        out = {s: Figures() for s in SOURCES}
        for row in self.categories:
            for source, figures in row.by_source.items():
                out.setdefault(source, Figures()).add(figures)
        total = Figures()
        for figures in out.values():
            total.add(figures)
        return {**out, "total": total}

    def out(self) -> GreenPurchasingReportOut:
        totals = self.totals()
        return GreenPurchasingReportOut(
            organization_id=self.agency.id,
            organization_name_en=self.agency.name_en,
            organization_name_ja=self.agency.name_ja,
            fiscal_year=self.fiscal_year,
            period_start=self.period_start,
            period_end=self.period_end,
            categories=[_category_out(row) for row in self.categories],
            direct=totals[OrderSource.DIRECT].out(),
            tender=totals[OrderSource.TENDER].out(),
            total=totals["total"].out(),
        )


def _category_out(row: CategoryFigures) -> CategoryReportOut:
    c = row.category
    return CategoryReportOut(
        category_id=c.id,
        code=c.code,
        name_en=c.name_en,
        name_ja=c.name_ja,
        classification_scheme=c.classification_scheme,
        classification_id=c.classification_id,
        min_post_consumer_pct=_text(c.min_post_consumer_pct),
        min_total_pct=_text(c.min_total_pct),
        source=c.source,
        direct=row.by_source[OrderSource.DIRECT].out(),
        tender=row.by_source[OrderSource.TENDER].out(),
        total=row.total.out(),
    )


def green_purchasing_report(
    session: Session, actor: Actor, fiscal_year: int, organization_id: int | None = None
) -> GreenPurchasingReport:
    """The agency's green-purchasing results of the fiscal year, by category (code order).

    An agency's members read their own agency's (without `organization_id`); the operator
    reads any agency's and must name it (ValidationFailed otherwise). Another organisation's
    report, or one of an organisation that is not an agency: NotFound; a member of a
    recycler, manufacturer or standards body: PermissionDenied."""
    if not FIRST_FISCAL_YEAR <= fiscal_year <= LAST_FISCAL_YEAR:
        raise ValidationFailed(
            N_("Choose a fiscal year from %(first)s to %(last)s."),
            "fiscal_year",
            first=FIRST_FISCAL_YEAR,
            last=LAST_FISCAL_YEAR,
        )
    agency = _agency(session, actor, organization_id)
    start, end = fiscal_year_bounds(fiscal_year)
    o = PurchaseOrder
    groups = session.exec(
        select(
            o.category_id,
            o.source,
            o.post_consumer_pct,
            o.total_recycled_pct,
            func.count(),
            func.sum(o.subtotal_jpy),
            func.sum(o.total_jpy),
            func.sum(o.product_mass_kg),
            func.sum(o.recycled_kg),
        )
        .where(
            o.buyer_org_id == agency.id,
            o.status != OrderStatus.CANCELLED,
            o.ordered_on >= start,
            o.ordered_on <= end,
        )
        .group_by(o.category_id, o.source, o.post_consumer_pct, o.total_recycled_pct)
    ).all()
    category_ids = {g[0] for g in groups}
    categories = {
        c.id: CategoryFigures(c)
        for c in session.exec(
            select(ProcurementCategory).where(col(ProcurementCategory.id).in_(category_ids))
        ).all()
    }
    for category_id, source, pc, total, n, value, value_total, mass, recycled in groups:
        row = categories[category_id]
        pc, total = Decimal(pc), Decimal(total)
        figures = row.by_source.setdefault(source, Figures())
        figures.add_group(
            n,
            int(value),
            int(value_total),
            int(mass),
            int(recycled),
            pc,
            total,
            meets_minimum(row.category, pc, total),
        )
    return GreenPurchasingReport(
        agency=agency,
        fiscal_year=fiscal_year,
        period_start=start,
        period_end=end,
        categories=sorted(categories.values(), key=lambda r: r.category.code),
    )
