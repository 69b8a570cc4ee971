"""Invoices and credit notes written straight into the database for the payment tests (the
invoicing slice computes real ones): a goods line, an optional platform-fee line, consumption
tax at 10 % once per invoice."""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from itertools import count

from operations_factories import copper_version, make_active_contract
from sqlmodel import Session

from contracts.models import Invoice, InvoiceKind, InvoiceLine, OfftakeContract
from participants.models import Organization

_numbers = count(1)


def make_contract(db: Session, seller: Organization, buyer: Organization) -> OfftakeContract:
    return make_active_contract(db, seller, buyer, copper_version(db))


def _tax(amount: int) -> int:
    return int((Decimal(amount) * Decimal("0.10")).quantize(Decimal(1), ROUND_HALF_UP))


def make_invoice(
    db: Session,
    contract: OfftakeContract,
    goods_jpy: int = 1_000_000,
    fee_jpy: int = 5_000,
    kind: str = InvoiceKind.INVOICE,
    credits: Invoice | None = None,
    status: str = "issued",
) -> Invoice:
    """An invoice (or, with `credits`, a credit note: pass negative amounts) of a contract.

    Default: goods ¥1,000,000 + fee ¥5,000, tax ¥100,500, total ¥1,105,500."""
    subtotal = goods_jpy + fee_jpy
    tax = _tax(subtotal) if subtotal >= 0 else -_tax(-subtotal)
    invoice = Invoice(
        number=f"{'CN' if credits else 'INV'}-T{next(_numbers):06d}",
        kind=kind if credits is None else InvoiceKind.CREDIT_NOTE,
        contract_id=contract.id,
        credits_invoice_id=credits.id if credits else None,
        seller_org_id=contract.seller_org_id,
        buyer_org_id=contract.buyer_org_id,
        seller_registration_number="T1234567890123",
        issued_on=date(2027, 2, 1),
        due_on=date(2027, 3, 31),
        subtotal_jpy=subtotal,
        tax_jpy=tax,
        total_jpy=subtotal + tax,
        status=status,
    )
    db.add(invoice)
    db.flush()
    lines = [("base" if credits is None else "credit", "Copper scrap", goods_jpy)]
    if fee_jpy:
        lines.append(("fee", "Platform fee", fee_jpy))
    for position, (line_kind, description, amount) in enumerate(lines, start=1):
        db.add(
            InvoiceLine(
                invoice_id=invoice.id,
                position=position,
                kind=line_kind,
                description=description,
                amount_jpy=amount,
            )
        )
    db.commit()
    return invoice


def make_credit_note(
    db: Session, invoice: Invoice, goods_jpy: int = -100_000, fee_jpy: int = -500
) -> Invoice:
    """Default: −¥100,000 goods, −¥500 fee, tax −¥10,050: total −¥110,550."""
    contract = db.get(OfftakeContract, invoice.contract_id)
    return make_invoice(db, contract, goods_jpy, fee_jpy, credits=invoice)
