"""The contract and purchase order of an award, issued after its standstill period.

`complete_award` (a procurement officer of the tender's agency, `EVALUATE_TENDERS`): once
`standstill_until` has passed (before: 409 "The standstill period ends at …"), in one
transaction —
- the tender becomes `complete` and its pending award `active` (conditional UPDATEs: a second
  or concurrent completion gets 409 and writes nothing);
- a `ProcurementContract` record (value = the bid's price, delivery due = the bid's date);
- a `PurchaseOrder` (source `tender`): a tender of ONE item orders that item's quantity and
  unit at bid price / quantity when the price divides evenly, else 1 "lot" at the bid price;
  a tender of several items orders 1 "lot" (the bid prices the whole tender, not its items).
  Subtotal = the bid price (tax excluded); tax and total by the invoice's own rule
  (`contracts.public_orders.order_total`); recycled_kg = the claim reserved at award;
  material and shares from the bid; ordered on today's date in Asia/Tokyo; number
  PO-YYYY-NNNNNN where NNNNNN is the order's own id (the row is inserted with a unique
  placeholder first, then numbered: unique without a counter table or a lock);
- the award's reservation becomes the order's debit in the supplier's custody ledger
  (`quality.custody.consume_reservation`, source "order");
- the order's invoice (`contracts.public_orders.issue_order_invoice`, payable through Stripe
  or by a recorded bank transfer);
- an OCDS `contract` release; the supplier is notified.
Functions flush, never commit.
"""

from dataclasses import dataclass
from datetime import date, datetime

from pydantic import BaseModel
from sqlalchemy import update
from sqlmodel import Session, col, select

from contracts.models import Invoice
from contracts.public_orders import issue_order_invoice, order_total
from market.alerts import notify_organization
from market.evaluation import (
    EVALUATE_TENDERS,
    NOTIFIED_ROLES,
    RESERVATION_SOURCE,
    SEE_EVALUATION,
    TOKYO,
    own_tender,
    tokyo_time,
)
from market.models import (
    Award,
    AwardStatus,
    Bid,
    OrderSource,
    ProcurementContract,
    PurchaseOrder,
    Tender,
    TenderItem,
    TenderStatus,
)
from market.ocds import record_release
from market.purchasing import number_order, placeholder_number
from market.tender_states import move_tender
from participants.actors import Actor
from participants.audit import record_audit
from participants.columns import utcnow
from participants.errors import N_, Conflict
from quality.custody import consume_reservation

LOT = "lot"
CONTRACT_ISSUED = N_(
    "Tender #%(tender)s: the contract and purchase order %(order)s are issued; the invoice "
    "follows the order."
)


def order_quantity(items: list[TenderItem], price_jpy: int) -> tuple[int, str, int]:
    """(quantity, unit, unit price) of an award's order: the one item's quantity and unit when
    the price divides evenly by it, else 1 lot at the whole price."""
    if len(items) == 1 and items[0].quantity > 0 and price_jpy % items[0].quantity == 0:
        item = items[0]
        return item.quantity, item.unit, price_jpy // item.quantity
    return 1, LOT, price_jpy


def order_description(tender: Tender) -> str:
    """The order's description: the tender's titles (Japanese first), at most 300 characters."""
    titles = [t for t in (tender.title_ja.strip(), tender.title_en.strip()) if t]
    text = " / ".join(dict.fromkeys(titles)) or f"Tender #{tender.id}"
    return text[:300]


@dataclass
class Completion:
    tender: Tender
    award: Award
    contract: ProcurementContract
    order: PurchaseOrder
    invoice: Invoice


class CompletionOut(BaseModel):
    """What completing an award issued: the contract record, the purchase order, its invoice."""

    tender_id: int
    award_id: int
    contract_id: int
    order_id: int
    order_number: str
    quantity: int
    unit: str
    unit_price_jpy: int
    subtotal_jpy: int
    total_jpy: int
    recycled_kg: int
    ordered_on: date
    delivery_due: date
    invoice_id: int
    invoice_number: str


def completion_out(done: Completion) -> CompletionOut:
    o = done.order
    return CompletionOut(
        tender_id=done.tender.id,
        award_id=done.award.id,
        contract_id=done.contract.id,
        order_id=o.id,
        order_number=o.number,
        quantity=o.quantity,
        unit=o.unit,
        unit_price_jpy=o.unit_price_jpy,
        subtotal_jpy=o.subtotal_jpy,
        total_jpy=o.total_jpy,
        recycled_kg=o.recycled_kg,
        ordered_on=o.ordered_on,
        delivery_due=o.delivery_due,
        invoice_id=done.invoice.id,
        invoice_number=done.invoice.number,
    )


def pending_award(session: Session, tender: Tender) -> Award | None:
    return session.exec(
        select(Award).where(Award.tender_id == tender.id, Award.status == AwardStatus.PENDING)
    ).first()


def complete_award(
    session: Session, actor: Actor, tender_id: int, now: datetime | None = None
) -> Completion:
    """Issue the contract, purchase order and invoice of the actor's awarded tender after its
    standstill period (see the module docstring)."""
    EVALUATE_TENDERS.check(actor)
    now = now or utcnow()
    tender = own_tender(session, actor, tender_id)
    if tender.status == TenderStatus.COMPLETE:
        raise Conflict(N_("The contract and order of this tender are already issued."))
    award = pending_award(session, tender) if tender.status == TenderStatus.AWARDED else None
    if award is None:
        raise Conflict(
            N_("A tender that is %(status)s has no pending award to complete."),
            None,
            status=tender.status,
        )
    if now < award.standstill_until:
        raise Conflict(
            N_(
                "The standstill period ends at %(until)s; the contract and order can be issued "
                "after it."
            ),
            None,
            until=tokyo_time(award.standstill_until),
        )
    bid = session.get(Bid, award.bid_id)
    items = list(
        session.exec(
            select(TenderItem)
            .where(TenderItem.tender_id == tender.id)
            .order_by(col(TenderItem.position))
        ).all()
    )
    move_tender(session, tender, TenderStatus.COMPLETE)
    activated = session.execute(
        update(Award)
        .where(Award.id == award.id, Award.status == AwardStatus.PENDING)
        .values(status=AwardStatus.ACTIVE)
        .execution_options(synchronize_session=False)
    )
    if activated.rowcount != 1:
        raise Conflict(N_("The tender has just been changed by someone else; reload it."))
    session.expire(award)
    contract = ProcurementContract(
        tender_id=tender.id,
        award_id=award.id,
        buyer_org_id=tender.organization_id,
        supplier_org_id=award.supplier_org_id,
        value_jpy=award.value_jpy,
        signed_at=now,
        delivery_due=bid.delivery_date,
    )
    quantity, unit, unit_price = order_quantity(items, bid.price_jpy)
    _tax, total = order_total(bid.price_jpy)
    ordered_on = now.astimezone(TOKYO).date()
    order = PurchaseOrder(
        number=placeholder_number(),  # numbered from its id just below
        source=OrderSource.TENDER,
        buyer_org_id=tender.organization_id,
        supplier_org_id=award.supplier_org_id,
        category_id=tender.category_id,
        tender_id=tender.id,
        award_id=award.id,
        description=order_description(tender),
        quantity=quantity,
        unit=unit,
        unit_price_jpy=unit_price,
        subtotal_jpy=bid.price_jpy,
        total_jpy=total,
        material_code=bid.material_code,
        product_mass_kg=bid.product_mass_kg,
        recycled_kg=award.reserved_kg,
        post_consumer_pct=bid.post_consumer_pct,
        total_recycled_pct=bid.total_recycled_pct,
        delivery_due=bid.delivery_date,
        ordered_on=ordered_on,
        placed_by_member_id=actor.member_id,
    )
    session.add_all([contract, order])
    session.flush()
    number_order(session, order)
    consume_reservation(
        session,
        source=RESERVATION_SOURCE,
        source_id=award.id,
        debit_source="order",
        debit_source_id=order.id,
        note=order.number,
        member_id=actor.member_id,
    )
    invoice = issue_order_invoice(session, order)
    record_audit(
        session,
        actor,
        "tender.completed",
        "tender",
        tender.id,
        {"award": award.id, "contract": contract.id, "order": order.number},
    )
    notify_organization(
        session,
        award.supplier_org_id,
        CONTRACT_ISSUED,
        {"tender": tender.id, "order": order.number},
        f"/tenders/{tender.id}/result",
        f"tender:{tender.id}:contract",
        roles=NOTIFIED_ROLES,
    )
    record_release(session, tender, "contract", now)
    session.flush()
    session.refresh(tender)
    session.refresh(award)
    return Completion(tender, award, contract, order, invoice)


def issued_order(
    session: Session, actor: Actor, tender_id: int
) -> tuple[PurchaseOrder, Invoice | None] | None:
    """The purchase order of the actor's completed tender and its invoice (None before)."""
    SEE_EVALUATION.check(actor)
    tender = own_tender(session, actor, tender_id)
    row = session.exec(
        select(PurchaseOrder, Invoice)
        .join(Invoice, col(Invoice.purchase_order_id) == PurchaseOrder.id, isouter=True)
        .where(PurchaseOrder.tender_id == tender.id)
    ).first()
    return (row[0], row[1]) if row is not None else None
