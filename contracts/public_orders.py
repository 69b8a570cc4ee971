"""Invoices of public purchase orders (a direct purchase from the catalogue, the order of an
award): one invoice per order, payable through Stripe like a contract month's invoice
(`contracts.payments`) or settled by a recorded bank transfer.

The invoice has one ``goods`` line (quantity × unit price, tax excluded) and consumption tax
once on it, rounded toward zero (the rule of `contracts.invoicing`); no platform fee is
charged to a public body. Its number is taken from the same per-year sequence as contract
invoices (JK-YYYY-NNNNNN); due 30 days after issue (the Government Contract Payment Delay
Prevention Act's limit for goods). Functions flush, never commit.
"""

from datetime import timedelta

from sqlmodel import Session, select

from contracts.invoicing import LineDraft, take_numbers, tokyo_today, totals
from contracts.models import Invoice, InvoiceLine
from market.models import PurchaseOrder
from participants.models import Organization

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


def issue_order_invoice(session: Session, order: PurchaseOrder) -> Invoice:
    """The invoice of a purchase order (once: an order that has one gets it back)."""
    existing = session.exec(select(Invoice).where(Invoice.purchase_order_id == order.id)).first()
    if existing is not None:
        return existing
    issued = tokyo_today()
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
