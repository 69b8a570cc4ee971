"""The recycled-product catalogue: products that verified manufacturers offer public agencies
for direct purchase, backed by certificates and by their chain-of-custody balance.

A product names its category (a hard-to-recycle item with a recommended minimum recycled
content), its names and descriptions in Japanese and English, a unit and its price in yen (tax
excluded), the lead time, the mass of one unit (kg, three decimals), the material its recycled
content draws on, and its recycled content: post-consumer and total (post-consumer ≤ total ≤
100, total above zero), each an exact percentage.

The claim and its cover. A unit's recycled-content claim is `claim_kg(unit mass, total
share)` recycled kilograms of the material (rounded up: a claim is never covered by less than
it states). A product is listed (or changed) only when the organisation's available custody
balance of the material covers the claim of one unit; otherwise it is refused with
`CustodyNotCovered` (422). The balance can fall after listing (other sales, reversed
deliveries), so every read shows the product's **covered units** — how many units the balance
covers now, the largest N whose claim `claim_kg(N × unit mass, total)` fits the available
kilograms, i.e. floor(available kg ÷ exact kg claimed per unit) — and flags it "claim not
covered" when that is 0. A product below its category's recommended minimum (post-consumer or
total) is allowed but flagged. Evidence certificates must be ones the organisation may cite
(`quality.custody.citable_certificates`): another organisation's is refused (422) naming it.

Who may (checked here): verified manufacturers' traders and administrators create, change and
withdraw their organisation's products (`MANAGE_PRODUCTS`); every logged-in member reads the
active products of verified manufacturers (`READ_CATALOGUE`); an organisation reads its own in
any state. What a caller may not read is NotFound. Functions flush, never commit. Lists are
described in a fixed number of queries whatever their length.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError
from sqlalchemy import Numeric, cast, update
from sqlmodel import Session, col, or_, select

from market.categories import get_category
from market.listings import OrganizationRef
from market.models import (
    CatalogueProduct,
    ProcurementCategory,
    ProductEvidence,
    ProductStatus,
)
from participants.actors import Actor, drafting, permission
from participants.columns import utcnow
from participants.errors import N_, Conflict, NotFound, ValidationFailed
from participants.fields import (
    ID_MAX,
    YEN_MAX,
    Id,
    Line,
    Paging,
    Paragraphs,
    Percent,
    PositiveYen,
    QueryPercent,
    _plain_decimal,
)
from participants.models import Organization, OrgKind, OrgStatus, Role
from quality.custody import check_covered, citable_certificates, claim_kg
from quality.errors import CustodyNotCovered
from quality.models import Assay, Certificate, CustodyAccount, CustodyEntry, CustodyKind, Material

MANAGE_PRODUCTS = permission(
    N_("Only traders and administrators of a manufacturer manage catalogue products."),
    kinds=[OrgKind.MANUFACTURER],
    roles=[Role.ADMIN, Role.TRADER],
    kind_message=N_("Only manufacturers list products in the catalogue."),
)
READ_CATALOGUE = permission(N_("Log in to read the catalogue."), verified=False)

HUNDRED = Decimal(100)
MAX_EVIDENCE = 10
MAX_COMPARE = 4
MAX_UNIT_MASS_KG = Decimal(100_000)
SORTS = ("newest", "price", "recycled", "post_consumer")

# Flags a product carries in its reads (codes; the pages say them in words).
CLAIM_NOT_COVERED = "claim_not_covered"
BELOW_POST_CONSUMER = "below_recommended_post_consumer"
BELOW_TOTAL = "below_recommended_total"

# ---------------------------------------------------------------------------------------------
# Bounded input types (beside the shared ones of participants.fields)

MASS_PATTERN = "^(100000(\\.0{1,3})?|[0-9]{1,5}(\\.[0-9]{1,3})?)$"

# The mass of one unit: more than 0 and at most 100 t, in kilograms with gram precision.
UnitMassKg = Annotated[
    Decimal,
    Field(gt=0, le=MAX_UNIT_MASS_KG, decimal_places=3, allow_inf_nan=False),
    BeforeValidator(_plain_decimal(MASS_PATTERN, Decimal(0), MAX_UNIT_MASS_KG, 3, False)),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": 100_000,
                    "multipleOf": 0.001,
                },
                {"type": "string", "pattern": MASS_PATTERN},
            ],
            "description": "kilograms per unit, more than 0, at most three decimals",
            "examples": ["0.120"],
        }
    ),
]


def _whole(value: Any) -> Any:
    """Never a boolean; a whole-number float (7.0, an integer in JSON Schema) counts as 7."""
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Enter a whole number.")
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


LeadTimeDays = Annotated[int, Field(ge=0, le=365), BeforeValidator(_whole)]
CertificateId = Line(32, min_length=1)


def _one_of(values: tuple[str, ...], description: str) -> Any:
    """One of a few strings, declared as a pattern (a plain string for generated clients)."""
    pattern = "^(" + "|".join(re.escape(v) for v in values) + ")$"
    return Annotated[
        Literal[values],
        WithJsonSchema({"type": "string", "pattern": pattern, "description": description}),
    ]


Sort = _one_of(SORTS, "newest | price (lowest first) | recycled | post_consumer (highest first)")


# ---------------------------------------------------------------------------------------------
# Input


class ProductInput(BaseModel):
    """A catalogue product (the page form's fields and the API body's keys)."""

    model_config = ConfigDict(extra="forbid")
    category_id: Id = Field(description="a procurement category")
    name_ja: Line(200, min_length=1)
    name_en: Line(200, min_length=1)
    description_ja: Paragraphs(4000) = ""
    description_en: Paragraphs(4000) = ""
    unit: Line(20, min_length=1) = Field(default="piece", description="e.g. piece, box, m")
    unit_price_jpy: PositiveYen = Field(description="yen per unit, tax excluded")
    lead_time_days: LeadTimeDays = Field(description="days from order to delivery")
    unit_mass_kg: UnitMassKg
    material: Line(40, min_length=1) = Field(
        description="material code of the recycled input the claim draws on, e.g. hdpe"
    )
    post_consumer_pct: Percent = Field(description="post-consumer recycled content")
    total_recycled_pct: Percent = Field(description="total recycled content (≥ post-consumer)")
    certificates: list[CertificateId] = Field(
        default_factory=list,
        max_length=MAX_EVIDENCE,
        description="ids of quality certificates your organisation may cite",
    )


class CatalogueFilters(BaseModel):
    """What a catalogue search looks for."""

    model_config = ConfigDict(extra="forbid")
    category_id: Id | None = None
    min_post_consumer: QueryPercent | None = Field(
        default=None, description="post-consumer content at least (per cent)"
    )
    min_total: QueryPercent | None = Field(
        default=None, description="total recycled content at least (per cent)"
    )
    max_unit_price: Annotated[int, Field(ge=0, le=YEN_MAX)] | None = Field(
        default=None, description="yen per unit (tax excluded) at most"
    )
    q: Line(100) | None = Field(default=None, description="words in the name or description")
    sort: Sort = "newest"

    def as_args(self) -> dict[str, str]:
        """The filters as query-string arguments (defaults left out)."""
        return {
            k: str(v)
            for k, v in self.model_dump(mode="json", exclude_defaults=True).items()
            if v is not None
        }


class CatalogueQuery(Paging, CatalogueFilters):
    """The query string of the catalogue search (page and API)."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------------------------
# Output


class CatalogueCategoryRef(BaseModel):
    """A category with its recommended minimum recycled content and the source of it."""

    id: int
    code: str
    name_ja: str
    name_en: str
    min_post_consumer_pct: str | None
    min_total_pct: str | None
    source: str


class ProductOut(BaseModel):
    """A catalogue product. `covered_units`: how many units the supplier's chain-of-custody
    balance covers now (0: the claim is not covered, flag `claim_not_covered`)."""

    id: int
    status: str
    organization: OrganizationRef
    category: CatalogueCategoryRef
    name_ja: str
    name_en: str
    description_ja: str
    description_en: str
    unit: str
    unit_price_jpy: int = Field(description="yen per unit, tax excluded")
    lead_time_days: int
    unit_mass_kg: str
    material: str
    post_consumer_pct: str
    total_recycled_pct: str
    claim_kg_per_unit: str = Field(description="recycled kilograms one unit claims (exact)")
    covered_units: int
    flags: list[str] = Field(
        description="claim_not_covered, below_recommended_post_consumer, below_recommended_total"
    )
    certificates: list[str]
    created_at: datetime
    updated_at: datetime


def _pct(value: Decimal | None) -> str | None:
    return None if value is None else format(Decimal(value).normalize(), "f")


# ---------------------------------------------------------------------------------------------
# Rules (pure)


def claim_per_unit(unit_mass_kg: Decimal, total_pct: Decimal) -> Decimal:
    """Recycled kilograms one unit claims, exact (not rounded)."""
    return Decimal(unit_mass_kg) * Decimal(total_pct) / HUNDRED


def covered_units(available_kg: int, unit_mass_kg: Decimal, total_pct: Decimal) -> int:
    """How many units the available kilograms cover: the largest N with
    claim_kg(N × unit mass, total) ≤ available, i.e. floor(available ÷ exact claim per unit)
    (a product that claims nothing is not in the catalogue: total > 0)."""
    per_unit = claim_per_unit(unit_mass_kg, total_pct)
    if per_unit <= 0 or available_kg <= 0:
        return 0
    return int(Decimal(available_kg) // per_unit)


def product_flags(
    product: CatalogueProduct, category: ProcurementCategory, covered: int
) -> list[str]:
    """The product's flags: its claim not covered now, below the recommended minimum."""
    flags = []
    if covered <= 0:
        flags.append(CLAIM_NOT_COVERED)
    if (
        category.min_post_consumer_pct is not None
        and product.post_consumer_pct < category.min_post_consumer_pct
    ):
        flags.append(BELOW_POST_CONSUMER)
    if category.min_total_pct is not None and product.total_recycled_pct < category.min_total_pct:
        flags.append(BELOW_TOTAL)
    return flags


# ---------------------------------------------------------------------------------------------
# Reading


def _get(session: Session, product_id: int) -> CatalogueProduct | None:
    return session.get(CatalogueProduct, product_id) if 1 <= product_id <= ID_MAX else None


def _listed():
    """The condition of a product anyone logged in may read: active, of a verified maker."""
    verified = select(Organization.id).where(Organization.status == OrgStatus.VERIFIED)
    return (CatalogueProduct.status == ProductStatus.ACTIVE) & col(
        CatalogueProduct.organization_id
    ).in_(verified)


def visible_to(session: Session, actor: Actor, product: CatalogueProduct) -> bool:
    """True when the actor may read the product (its own in any state, else a listed one)."""
    if actor.owns(product.organization_id):
        return True
    if product.status != ProductStatus.ACTIVE:
        return False
    org = session.get(Organization, product.organization_id)
    return org is not None and org.status == OrgStatus.VERIFIED


def read_product(session: Session, actor: Actor, product_id: int) -> CatalogueProduct:
    """A product the actor may read, else NotFound."""
    READ_CATALOGUE.check(actor)
    product = _get(session, product_id)
    if product is None or not visible_to(session, actor, product):
        raise NotFound(N_("No such product."))
    return product


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _as_number(column):
    """An exact-decimal column (stored as text) compared and sorted as a number."""
    return cast(column, Numeric(12, 4))


def search_products(actor: Actor, filters: CatalogueFilters):
    """The query of listed products matching the filters, sorted (the caller pages it)."""
    READ_CATALOGUE.check(actor)
    query = select(CatalogueProduct).where(_listed())
    if filters.category_id is not None:
        query = query.where(CatalogueProduct.category_id == filters.category_id)
    if filters.min_post_consumer is not None:
        query = query.where(
            _as_number(CatalogueProduct.post_consumer_pct) >= filters.min_post_consumer
        )
    if filters.min_total is not None:
        query = query.where(_as_number(CatalogueProduct.total_recycled_pct) >= filters.min_total)
    if filters.max_unit_price is not None:
        query = query.where(CatalogueProduct.unit_price_jpy <= filters.max_unit_price)
    text = (filters.q or "").strip()
    if text:
        pattern = f"%{_escape_like(text)}%"
        query = query.where(
            or_(
                *(
                    col(c).ilike(pattern, escape="\\")
                    for c in (
                        CatalogueProduct.name_ja,
                        CatalogueProduct.name_en,
                        CatalogueProduct.description_ja,
                        CatalogueProduct.description_en,
                    )
                )
            )
        )
    total = _as_number(CatalogueProduct.total_recycled_pct)
    post = _as_number(CatalogueProduct.post_consumer_pct)
    order = {
        "newest": (col(CatalogueProduct.created_at).desc(), col(CatalogueProduct.id).desc()),
        "price": (col(CatalogueProduct.unit_price_jpy), col(CatalogueProduct.id)),
        "recycled": (total.desc(), post.desc(), col(CatalogueProduct.id)),
        "post_consumer": (post.desc(), total.desc(), col(CatalogueProduct.id)),
    }[filters.sort]
    return query.order_by(*order)


def own_products(actor: Actor):
    """The query of the actor's organisation's products in every state, newest first."""
    READ_CATALOGUE.check(actor)
    return (
        select(CatalogueProduct)
        .where(CatalogueProduct.organization_id == actor.organization_id)
        .order_by(col(CatalogueProduct.created_at).desc(), col(CatalogueProduct.id).desc())
    )


def compare_products(session: Session, actor: Actor, ids: list[int]) -> list[CatalogueProduct]:
    """Up to four products side by side, in the order asked (each one the actor may read)."""
    READ_CATALOGUE.check(actor)
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        raise ValidationFailed(N_("Choose the products to compare."), "ids")
    if len(wanted) > MAX_COMPARE:
        raise ValidationFailed(
            N_("Compare at most %(n)s products at a time."), "ids", n=MAX_COMPARE
        )
    valid = [i for i in wanted if 1 <= i <= ID_MAX]
    rows = {
        p.id: p
        for p in session.exec(
            select(CatalogueProduct).where(col(CatalogueProduct.id).in_(valid))
        ).all()
    }
    verified = set(
        session.exec(
            select(Organization.id).where(
                col(Organization.id).in_({p.organization_id for p in rows.values()}),
                Organization.status == OrgStatus.VERIFIED,
            )
        ).all()
    )
    out = []
    for product_id in wanted:
        product = rows.get(product_id)
        if product is None or not (
            actor.owns(product.organization_id)
            or (product.status == ProductStatus.ACTIVE and product.organization_id in verified)
        ):
            raise NotFound(N_("No such product."), "ids")
        out.append(product)
    return out


def _balances(session: Session, pairs: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """Available kilograms by (organisation, material), one query."""
    if not pairs:
        return {}
    rows = session.exec(
        select(
            CustodyAccount.organization_id,
            CustodyAccount.material_code,
            CustodyAccount.available_kg,
        ).where(col(CustodyAccount.organization_id).in_({org for org, _m in pairs}))
    ).all()
    return {(org, m): int(kg) for org, m, kg in rows if (org, m) in pairs}


def category_ref(category: ProcurementCategory) -> CatalogueCategoryRef:
    return CatalogueCategoryRef(
        id=category.id,
        code=category.code,
        name_ja=category.name_ja,
        name_en=category.name_en,
        min_post_consumer_pct=_pct(category.min_post_consumer_pct),
        min_total_pct=_pct(category.min_total_pct),
        source=category.source,
    )


def describe_products(session: Session, products: list[CatalogueProduct]) -> list[ProductOut]:
    """Products as `ProductOut` with their cover and flags, in four queries whatever their
    number (organisations, categories, evidence, custody balances)."""
    if not products:
        return []
    org_ids = {p.organization_id for p in products}
    orgs = {
        o.id: o
        for o in session.exec(select(Organization).where(col(Organization.id).in_(org_ids))).all()
    }
    categories = {
        c.id: c
        for c in session.exec(
            select(ProcurementCategory).where(
                col(ProcurementCategory.id).in_({p.category_id for p in products})
            )
        ).all()
    }
    evidence: dict[int, list[str]] = {p.id: [] for p in products}
    for row in session.exec(
        select(ProductEvidence)
        .where(col(ProductEvidence.product_id).in_(list(evidence)))
        .order_by(col(ProductEvidence.certificate_id))
    ).all():
        evidence[row.product_id].append(row.certificate_id)
    balances = _balances(session, {(p.organization_id, p.material_code) for p in products})
    out = []
    for p in products:
        org, category = orgs[p.organization_id], categories[p.category_id]
        covered = covered_units(
            balances.get((p.organization_id, p.material_code), 0),
            p.unit_mass_kg,
            p.total_recycled_pct,
        )
        out.append(
            ProductOut(
                id=p.id,
                status=p.status,
                organization=OrganizationRef(id=org.id, name_ja=org.name_ja, name_en=org.name_en),
                category=category_ref(category),
                name_ja=p.name_ja,
                name_en=p.name_en,
                description_ja=p.description_ja,
                description_en=p.description_en,
                unit=p.unit,
                unit_price_jpy=p.unit_price_jpy,
                lead_time_days=p.lead_time_days,
                unit_mass_kg=f"{Decimal(p.unit_mass_kg):.3f}",
                material=p.material_code,
                post_consumer_pct=_pct(p.post_consumer_pct),
                total_recycled_pct=_pct(p.total_recycled_pct),
                claim_kg_per_unit=_pct(claim_per_unit(p.unit_mass_kg, p.total_recycled_pct)),
                covered_units=covered,
                flags=product_flags(p, category, covered),
                certificates=evidence[p.id],
                created_at=p.created_at,
                updated_at=p.updated_at,
            )
        )
    return out


def describe_product(session: Session, product: CatalogueProduct) -> ProductOut:
    return describe_products(session, [product])[0]


# ---------------------------------------------------------------------------------------------
# Changing


def _text(value: str, field: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationFailed(N_("This field is required."), field)
    return text


def _apply(session: Session, actor: Actor, product: CatalogueProduct, data: ProductInput) -> None:
    """Write the input into the product after checking every rule; evidence is rewritten."""
    try:
        category = get_category(session, data.category_id)
    except NotFound:
        raise ValidationFailed(N_("Choose a category of the catalogue."), "category_id") from None
    material = data.material.strip()
    if session.exec(select(Material.id).where(Material.code == material)).first() is None:
        raise ValidationFailed(N_("Unknown material %(code)s."), "material", code=material)
    if data.total_recycled_pct <= 0:
        raise ValidationFailed(
            N_("A catalogue product has recycled content: enter a total share above zero."),
            "total_recycled_pct",
        )
    if data.post_consumer_pct > data.total_recycled_pct:
        raise ValidationFailed(
            N_("The post-consumer share cannot exceed the total recycled share."),
            "post_consumer_pct",
        )
    name_ja, name_en = _text(data.name_ja, "name_ja"), _text(data.name_en, "name_en")
    unit = _text(data.unit, "unit")
    certificates = citable_certificates(
        session, actor.organization_id, [c.strip() for c in data.certificates], "certificates"
    )
    try:
        check_covered(
            session,
            actor.organization_id,
            material,
            claim_kg(data.unit_mass_kg, data.total_recycled_pct),
        )
    except CustodyNotCovered as err:
        err.field = "total_recycled_pct"  # the claim is what the balance does not cover
        raise
    product.category_id = category.id
    product.name_ja, product.name_en = name_ja, name_en
    product.description_ja = data.description_ja.strip()
    product.description_en = data.description_en.strip()
    product.unit = unit
    product.unit_price_jpy = data.unit_price_jpy
    product.lead_time_days = data.lead_time_days
    product.unit_mass_kg = data.unit_mass_kg
    product.material_code = material
    product.post_consumer_pct = data.post_consumer_pct
    product.total_recycled_pct = data.total_recycled_pct
    product.updated_at = utcnow()
    session.add(product)
    session.flush()
    for old in session.exec(
        select(ProductEvidence).where(ProductEvidence.product_id == product.id)
    ).all():
        session.delete(old)
    session.flush()
    for cert in certificates:
        session.add(ProductEvidence(product_id=product.id, certificate_id=cert.id))
    session.flush()


def create_product(session: Session, actor: Actor, data: ProductInput) -> CatalogueProduct:
    """List a product (verified manufacturer, trader or admin); refused when its claim for one
    unit is not covered by the organisation's custody balance. Flushes."""
    MANAGE_PRODUCTS.check(actor)
    product = CatalogueProduct(
        organization_id=actor.organization_id,
        created_by_member_id=actor.member_id,
        category_id=0,
        name_ja="",
        name_en="",
        unit_price_jpy=0,
        lead_time_days=0,
        unit_mass_kg=Decimal(0),
        material_code="",
        post_consumer_pct=Decimal(0),
        total_recycled_pct=Decimal(0),
    )
    _apply(session, actor, product, data)  # every rule is checked before the first write
    return product


def own_product(session: Session, actor: Actor, product_id: int) -> CatalogueProduct:
    """One of the actor's organisation's products (any state) for a change: the permission
    first (403), then the product (404)."""
    MANAGE_PRODUCTS.check(actor)
    product = _get(session, product_id)
    if product is None or not actor.owns(product.organization_id):
        raise NotFound(N_("No such product."))
    return product


def update_product(
    session: Session, actor: Actor, product_id: int, data: ProductInput
) -> CatalogueProduct:
    """Replace an active product's fields (the same rules as listing it). Flushes."""
    product = own_product(session, actor, product_id)
    if product.status != ProductStatus.ACTIVE:
        raise Conflict(N_("A withdrawn product cannot be changed."))
    _apply(session, actor, product, data)
    return product


def withdraw_product(session: Session, actor: Actor, product_id: int) -> CatalogueProduct:
    """Take a product out of the catalogue (once: a second withdrawal is a conflict)."""
    product = own_product(session, actor, product_id)
    moved = session.execute(
        update(CatalogueProduct)
        .where(
            CatalogueProduct.id == product.id,
            CatalogueProduct.status == ProductStatus.ACTIVE,
        )
        .values(status=ProductStatus.WITHDRAWN, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise Conflict(N_("This product is already withdrawn."))
    session.refresh(product)
    return product


# ---------------------------------------------------------------------------------------------
# What the product form offers


@dataclass
class ProductChoices:
    categories: list[ProcurementCategory]
    materials: list[Material]
    certificates: list[Certificate]


def product_form_choices(session: Session, actor: Actor) -> ProductChoices:
    """Categories, materials and the certificates the organisation may cite (those it issued,
    of its own assays, of lots credited to its ledger — the rule of `citable_certificates`,
    which checks what is sent). Also for manufacturers waiting for verification: the form
    shows, listing the product waits."""
    drafting(MANAGE_PRODUCTS).check(actor)
    org = actor.organization_id
    received = select(CustodyEntry.assay_id).where(
        CustodyEntry.organization_id == org,
        CustodyEntry.kind == CustodyKind.CREDIT,
        col(CustodyEntry.assay_id).is_not(None),
    )
    own_assays = select(Assay.id).where(Assay.organization_id == org)
    certificates = session.exec(
        select(Certificate)
        .where(
            or_(
                Certificate.issuer_org_id == org,
                col(Certificate.assay_id).in_(own_assays),
                col(Certificate.assay_id).in_(received),
            )
        )
        .order_by(col(Certificate.issued_at).desc())
        .limit(200)
    ).all()
    return ProductChoices(
        categories=list(
            session.exec(select(ProcurementCategory).order_by(col(ProcurementCategory.code)))
        ),
        materials=list(session.exec(select(Material).order_by(col(Material.code)))),
        certificates=list(certificates),
    )
