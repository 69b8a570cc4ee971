"""Public purchase orders: the direct purchase from the recycled-product catalogue, and the
invoices of purchase orders (a direct purchase, the order of an award) — one invoice per order,
payable through Stripe like a contract month's invoice (`contracts.payments`) or settled by a
recorded bank transfer.

A direct purchase (`buy_direct`): a procurement officer of a verified agency orders N units of
a listed product. Subtotal = N × unit price (tax excluded); tax and total by the invoice's own
rule (`order_total`). The total (tax included) must not exceed the agency's small-value
threshold for direct contracts (`market.purchasing.threshold_of`), else the order is refused
(422): it must go to a tender. The claim `claim_kg(N × unit mass, total share)` is debited from
the supplier's chain-of-custody balance in the same transaction (one conditional UPDATE: two
officers buying the last covered units at once cannot both succeed; the loser gets the
coverage error and nothing of its order is kept once the caller rolls back, as web/ does on
every domain error). Every rule is checked before the first write. The order is numbered
PO-YYYY-NNNNNN, dated today in Asia/Tokyo, due after the product's lead time, and invoiced.
`quote_direct_purchase` tells in advance which rule applies to a quantity.

The invoice has one ``goods`` line (quantity × unit price, tax excluded) and consumption tax
once on it, rounded toward zero (the rule of `contracts.invoicing`); no platform fee is
charged to a public body. Its number is taken from the same per-year sequence as contract
invoices (JK-YYYY-NNNNNN); due 30 days after issue (the Government Contract Payment Delay
Prevention Act's limit for goods). Functions flush, never commit.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError
from sqlmodel import Session, col, select

from contracts.invoicing import LineDraft, take_numbers, tokyo_today, totals
from contracts.models import Invoice, InvoiceLine, InvoiceStatus, Payment
from market.listings import OrganizationRef
from market.models import (
    CatalogueProduct,
    OrderSource,
    ProcurementCategory,
    ProductStatus,
    PurchaseOrder,
)
from market.products import covered_units, read_product
from market.purchasing import (
    Threshold,
    notify_order,
    number_order,
    placeholder_number,
    threshold_of,
)
from participants.actors import Actor, permission
from participants.columns import tokyo_today as order_day
from participants.errors import N_, NotFound, ValidationFailed
from participants.fields import Id
from participants.models import Organization, OrgKind, Role
from quality.custody import available_kg, claim_kg, debit_claim
from quality.errors import CustodyNotCovered

PAYMENT_DAYS = 30


def order_lines(order: PurchaseOrder) -> list[LineDraft]:
    """The lines of an order's invoice: its goods, tax excluded."""
    return [
        LineDraft(
            kind="goods",
            description=f"{order.number} {order.description}: "
            f"{order.quantity} {order.unit} × ¥{order.unit_price_jpy:,}"[:300],
            amount_jpy=order.subtotal_jpy,
        )
    ]


def issue_order_invoice(
    session: Session, order: PurchaseOrder, today: date | None = None
) -> Invoice:
    """The invoice of a purchase order (once: an order that has one gets it back), issued
    `today` (Tokyo; default: now)."""
    existing = session.exec(select(Invoice).where(Invoice.purchase_order_id == order.id)).first()
    if existing is not None:
        return existing
    issued = today or tokyo_today()
    lines = order_lines(order)
    subtotal, tax, total = totals(lines)
    seller = session.get(Organization, order.supplier_org_id)
    invoice = Invoice(
        number=take_numbers(session, issued.year, 1)[0],
        contract_id=None,
        purchase_order_id=order.id,
        seller_org_id=order.supplier_org_id,
        buyer_org_id=order.buyer_org_id,
        seller_registration_number=seller.qualified_invoice_number or "",
        issued_on=issued,
        due_on=issued + timedelta(days=PAYMENT_DAYS),
        subtotal_jpy=subtotal,
        tax_jpy=tax,
        total_jpy=total,
    )
    session.add(invoice)
    session.flush()
    for position, line in enumerate(lines, start=1):
        session.add(
            InvoiceLine(
                invoice_id=invoice.id,
                position=position,
                kind=line.kind,
                description=line.description,
                amount_jpy=line.amount_jpy,
                tax_rate_pct=line.tax_rate_pct,
            )
        )
    session.flush()
    return invoice


def order_total(subtotal_jpy: int) -> tuple[int, int]:
    """(tax, total) of an order's subtotal by the invoice's own rule."""
    _s, tax, total = totals([LineDraft(kind="goods", description="", amount_jpy=subtotal_jpy)])
    return tax, total


# ---------------------------------------------------------------------------------------------
# Direct purchase from the catalogue

BUY_DIRECT = permission(
    N_("Only procurement officers of a public agency buy from the catalogue."),
    kinds=[OrgKind.AGENCY],
    roles=[Role.OFFICER],
    kind_message=N_("Only public agencies buy directly from the catalogue."),
)
MAX_QUANTITY = 1_000_000


def _whole(value: Any) -> Any:
    """Never a boolean; a whole-number float (12.0) counts as 12."""
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Enter a whole number.")
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY), BeforeValidator(_whole)]


class OrderIn(BaseModel):
    """A direct purchase: how many units of which catalogue product."""

    model_config = ConfigDict(extra="forbid")
    product_id: Id
    quantity: Quantity = Field(description="units of the product, at least 1")


class QuoteQuery(BaseModel):
    """?quantity= of the rule preview."""

    model_config = ConfigDict(extra="forbid")
    quantity: Quantity


@dataclass(frozen=True)
class Quote:
    """What ordering `quantity` units would cost and which rule applies to it."""

    product: CatalogueProduct
    quantity: int
    subtotal_jpy: int
    tax_jpy: int
    total_jpy: int
    threshold: Threshold
    max_direct_quantity: int  # the most units the threshold allows
    claim_kg: int
    covered_units: int

    @property
    def direct_allowed(self) -> bool:
        return self.total_jpy <= self.threshold.amount_jpy

    @property
    def covered(self) -> bool:
        return self.quantity <= self.covered_units


class QuoteOut(BaseModel):
    """The rule that applies to a quantity: direct purchase allowed, or a tender needed."""

    product_id: int
    quantity: int
    subtotal_jpy: int = Field(description="tax excluded")
    tax_jpy: int
    total_jpy: int = Field(description="tax included")
    threshold_jpy: int = Field(description="the agency's direct-purchase threshold, tax included")
    rule_en: str
    rule_ja: str
    threshold_is_default: bool
    direct_allowed: bool = Field(description="false: an order of this size needs a tender")
    max_direct_quantity: int
    claim_kg: int = Field(description="recycled kilograms the order claims")
    covered_units: int = Field(description="units the supplier's custody balance covers now")
    covered: bool


def quote_out(quote: Quote) -> QuoteOut:
    return QuoteOut(
        product_id=quote.product.id,
        quantity=quote.quantity,
        subtotal_jpy=quote.subtotal_jpy,
        tax_jpy=quote.tax_jpy,
        total_jpy=quote.total_jpy,
        threshold_jpy=quote.threshold.amount_jpy,
        rule_en=quote.threshold.rule_en,
        rule_ja=quote.threshold.rule_ja,
        threshold_is_default=quote.threshold.is_default,
        direct_allowed=quote.direct_allowed,
        max_direct_quantity=quote.max_direct_quantity,
        claim_kg=quote.claim_kg,
        covered_units=quote.covered_units,
        covered=quote.covered,
    )


def max_direct_quantity(unit_price_jpy: int, threshold_jpy: int) -> int:
    """The most units whose total (tax included) stays within the threshold (0 if none)."""
    low, high = 0, threshold_jpy // unit_price_jpy  # the subtotal alone never exceeds it
    while low < high:
        middle = (low + high + 1) // 2
        if order_total(middle * unit_price_jpy)[1] <= threshold_jpy:
            low = middle
        else:
            high = middle - 1
    return low


def _orderable(session: Session, actor: Actor, product_id: int) -> CatalogueProduct:
    """A product listed in the catalogue now (active, of a verified manufacturer)."""
    product = read_product(session, actor, product_id)
    if product.status != ProductStatus.ACTIVE or actor.owns(product.organization_id):
        raise NotFound(N_("No such product."))
    return product


def _quote(session: Session, actor: Actor, product: CatalogueProduct, quantity: int) -> Quote:
    subtotal = quantity * product.unit_price_jpy
    tax, total = order_total(subtotal)
    threshold = threshold_of(session, actor.organization_id)
    return Quote(
        product=product,
        quantity=quantity,
        subtotal_jpy=subtotal,
        tax_jpy=tax,
        total_jpy=total,
        threshold=threshold,
        max_direct_quantity=max_direct_quantity(product.unit_price_jpy, threshold.amount_jpy),
        claim_kg=claim_kg(quantity * product.unit_mass_kg, product.total_recycled_pct),
        covered_units=covered_units(
            available_kg(session, product.organization_id, product.material_code),
            product.unit_mass_kg,
            product.total_recycled_pct,
        ),
    )


def quote_direct_purchase(session: Session, actor: Actor, product_id: int, quantity: int) -> Quote:
    """The cost of `quantity` units and the rule that applies (for the order form)."""
    BUY_DIRECT.check(actor)
    return _quote(session, actor, _orderable(session, actor, product_id), quantity)


def _not_covered(session: Session, product: CatalogueProduct, quantity: int) -> CustodyNotCovered:
    covered = covered_units(
        available_kg(session, product.organization_id, product.material_code),
        product.unit_mass_kg,
        product.total_recycled_pct,
    )
    return CustodyNotCovered(
        N_(
            "The supplier's chain-of-custody balance covers the recycled content of "
            "%(covered)s units of this product now, fewer than the %(quantity)s ordered."
        ),
        "quantity",
        quantity=f"{quantity:,}",
        covered=f"{covered:,}",
    )


def _product_mass_kg(quantity: int, unit_mass_kg: Decimal) -> int:
    """The order's product mass in whole kilograms (half up)."""
    return int((quantity * Decimal(unit_mass_kg)).quantize(Decimal(1), ROUND_HALF_UP))


def _description(product: CatalogueProduct) -> str:
    names = [product.name_ja, product.name_en]
    return " / ".join(dict.fromkeys(n for n in names if n))[:300]


def buy_direct(
    session: Session, actor: Actor, data: OrderIn, today: date | None = None
) -> PurchaseOrder:
    """Buy `quantity` units of a catalogue product directly: the order, the debit of its
    recycled-content claim from the supplier's custody balance, and its invoice. Refused (422)
    above the agency's threshold or beyond the supplier's balance. Flushes."""
    BUY_DIRECT.check(actor)
    product = _orderable(session, actor, data.product_id)
    quote = _quote(session, actor, product, data.quantity)
    if not quote.direct_allowed:
        raise ValidationFailed(
            N_(
                "The order total of %(total)s yen (tax included) is above your agency's "
                "direct-purchase threshold of %(threshold)s yen: an order of this size must "
                "go to a tender."
            ),
            "quantity",
            total=f"{quote.total_jpy:,}",
            threshold=f"{quote.threshold.amount_jpy:,}",
        )
    if not quote.covered:
        raise _not_covered(session, product, data.quantity)
    today = today or order_day()
    order = PurchaseOrder(
        number=placeholder_number(),
        source=OrderSource.DIRECT,
        buyer_org_id=actor.organization_id,
        supplier_org_id=product.organization_id,
        category_id=product.category_id,
        product_id=product.id,
        description=_description(product),
        quantity=data.quantity,
        unit=product.unit,
        unit_price_jpy=product.unit_price_jpy,
        subtotal_jpy=quote.subtotal_jpy,
        total_jpy=quote.total_jpy,
        material_code=product.material_code,
        product_mass_kg=_product_mass_kg(data.quantity, product.unit_mass_kg),
        recycled_kg=quote.claim_kg,
        post_consumer_pct=product.post_consumer_pct,
        total_recycled_pct=product.total_recycled_pct,
        delivery_due=today + timedelta(days=product.lead_time_days),
        ordered_on=today,
        placed_by_member_id=actor.member_id,
    )
    session.add(order)
    session.flush()
    number_order(session, order)
    try:
        debit_claim(
            session,
            organization_id=product.organization_id,
            material_code=product.material_code,
            kg=quote.claim_kg,
            source="order",
            source_id=order.id,
            note=order.number,
            member_id=actor.member_id,
        )
    except CustodyNotCovered:  # another sale took the balance since the check above
        raise _not_covered(session, product, data.quantity) from None
    issue_order_invoice(session, order, today=today)
    notify_order(
        session,
        order,
        order.supplier_org_id,
        N_("New order %(number)s from the catalogue."),
        "placed",
    )
    session.flush()
    return order


# ---------------------------------------------------------------------------------------------
# Reading orders with their invoice


class OrderCategoryRef(BaseModel):
    id: int
    code: str
    name_ja: str
    name_en: str


class OrderOut(BaseModel):
    """A purchase order with its invoice and payment state (amounts in integer yen)."""

    id: int
    number: str = Field(description="PO-YYYY-NNNNNN")
    source: str = Field(description="direct or tender")
    status: str = Field(description="ordered, delivered or cancelled")
    buyer: OrganizationRef
    supplier: OrganizationRef
    category: OrderCategoryRef
    product_id: int | None
    description: str
    quantity: int
    unit: str
    unit_price_jpy: int = Field(description="tax excluded")
    subtotal_jpy: int = Field(description="tax excluded")
    tax_jpy: int
    total_jpy: int = Field(description="tax included")
    material: str
    product_mass_kg: int
    recycled_kg: int = Field(description="the recycled-content claim debited")
    post_consumer_pct: str
    total_recycled_pct: str
    ordered_on: date
    delivery_due: date
    invoice_id: int | None
    invoice_number: str | None
    invoice_status: str | None
    payment_status: str = Field(description="unpaid, claiming, pending, failed or paid")
    created_at: datetime


def _pct(value: Decimal) -> str:
    return format(Decimal(value).normalize(), "f")


def describe_orders(session: Session, orders: list[PurchaseOrder]) -> list[OrderOut]:
    """Orders as `OrderOut`, in four queries whatever their number."""
    if not orders:
        return []
    ids = [o.id for o in orders]
    invoices = {
        i.purchase_order_id: i
        for i in session.exec(select(Invoice).where(col(Invoice.purchase_order_id).in_(ids)))
    }
    payments = (
        {
            p.invoice_id: p
            for p in session.exec(
                select(Payment).where(
                    col(Payment.invoice_id).in_([i.id for i in invoices.values()])
                )
            )
        }
        if invoices
        else {}
    )
    org_ids = {o.buyer_org_id for o in orders} | {o.supplier_org_id for o in orders}
    orgs = {
        o.id: o for o in session.exec(select(Organization).where(col(Organization.id).in_(org_ids)))
    }
    categories = {
        c.id: c
        for c in session.exec(
            select(ProcurementCategory).where(
                col(ProcurementCategory.id).in_({o.category_id for o in orders})
            )
        )
    }
    out = []
    for o in orders:
        invoice = invoices.get(o.id)
        payment = payments.get(invoice.id) if invoice else None
        if invoice is not None and invoice.status == InvoiceStatus.PAID:
            paid = "paid"
        else:
            paid = payment.status if payment else "unpaid"
        buyer, supplier, category = (
            orgs[o.buyer_org_id],
            orgs[o.supplier_org_id],
            categories[o.category_id],
        )
        out.append(
            OrderOut(
                id=o.id,
                number=o.number,
                source=o.source,
                status=o.status,
                buyer=OrganizationRef(id=buyer.id, name_ja=buyer.name_ja, name_en=buyer.name_en),
                supplier=OrganizationRef(
                    id=supplier.id, name_ja=supplier.name_ja, name_en=supplier.name_en
                ),
                category=OrderCategoryRef(
                    id=category.id,
                    code=category.code,
                    name_ja=category.name_ja,
                    name_en=category.name_en,
                ),
                product_id=o.product_id,
                description=o.description,
                quantity=o.quantity,
                unit=o.unit,
                unit_price_jpy=o.unit_price_jpy,
                subtotal_jpy=o.subtotal_jpy,
                tax_jpy=o.total_jpy - o.subtotal_jpy,
                total_jpy=o.total_jpy,
                material=o.material_code,
                product_mass_kg=o.product_mass_kg,
                recycled_kg=o.recycled_kg,
                post_consumer_pct=_pct(o.post_consumer_pct),
                total_recycled_pct=_pct(o.total_recycled_pct),
                ordered_on=o.ordered_on,
                delivery_due=o.delivery_due,
                invoice_id=invoice.id if invoice else None,
                invoice_number=invoice.number if invoice else None,
                invoice_status=invoice.status if invoice else None,
                payment_status=paid,
                created_at=o.created_at,
            )
        )
    return out


def describe_order(session: Session, order: PurchaseOrder) -> OrderOut:
    return describe_orders(session, [order])[0]
