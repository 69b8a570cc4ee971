"""Public purchasing: an agency's procurement policy (the small-value threshold for direct
contracts) and its purchase orders — read by the buying agency and the supplier, numbered
PO-YYYY-NNNNNN, marked delivered by the supplier.

The direct purchase itself (threshold, tax, the chain-of-custody debit, the invoice) is
`contracts.public_orders.buy_direct`: it needs the invoice, which lives in contracts.

The default threshold. A Japanese local government may contract without competition when the
estimated price does not exceed the amount its own rules set within the limit of the Local
Autonomy Act Enforcement Order (地方自治法施行令), art. 167-2(1)(i) and its Appended Table 5
(別表第五). For the purchase of property (goods) that limit is ¥3,000,000 for prefectures and
designated cities and ¥1,500,000 for other municipalities, since the amendment in force from 1
April 2025 (Cabinet Order No. 94 of 2025; before it ¥1,600,000 and ¥800,000). The demo's
officer works for a designated city (Yokohama) and the catalogue sells goods, so an agency
without its own policy gets the prefectures' and designated cities' limit for goods. The
amount is compared with the order's total including consumption tax, as local governments
apply it (the estimated price is tax-inclusive). Every agency may set its own (lower) amount
and rule text: smaller municipalities must.

Who may (checked here): the agency's administrators and procurement officers set its policy
(`SET_POLICY`, verified agency); its members read it (`READ_POLICY`); the members of the buying
agency and of the supplier read an order, anyone else finds nothing (404); the supplier's
traders and administrators mark it delivered (`MARK_DELIVERED`). Functions flush, never commit.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from market.alerts import notify_organization
from market.models import AgencyPolicy, Notification, OrderStatus, PurchaseOrder
from participants.actors import Actor, permission
from participants.audit import record_audit
from participants.columns import utcnow
from participants.errors import N_, Conflict, NotFound, PermissionDenied, ValidationFailed
from participants.fields import ID_MAX, Line, Paging, PositiveYen
from participants.models import OrgKind, Role

TOKYO = ZoneInfo("Asia/Tokyo")

DEFAULT_THRESHOLD_JPY = 3_000_000
DEFAULT_RULE_EN = (
    "Local Autonomy Act Enforcement Order art. 167-2(1)(i), Appended Table 5 (as amended from "
    "1 April 2025): purchase of goods, prefectures and designated cities"
)
DEFAULT_RULE_JA = (
    "地方自治法施行令第167条の2第1項第1号・別表第5（令和7年4月1日施行）："
    "財産の買入れ（都道府県及び指定都市）"
)

SET_POLICY = permission(
    N_("Only the agency's administrators and procurement officers set its procurement policy."),
    kinds=[OrgKind.AGENCY],
    roles=[Role.ADMIN, Role.OFFICER],
    kind_message=N_("Only public agencies have a procurement policy."),
)
READ_POLICY = permission(
    N_("Only public agencies have a procurement policy."),
    kinds=[OrgKind.AGENCY],
    verified=False,
)
SEE_ORDERS = permission(N_("Log in to see orders."), verified=False)
MARK_DELIVERED = permission(
    N_("Only traders and administrators of the supplier mark an order delivered."),
    kinds=[OrgKind.MANUFACTURER, OrgKind.RECYCLER],
    roles=[Role.ADMIN, Role.TRADER],
    kind_message=N_("Only the supplier marks an order delivered."),
)
ORDER_NOTICE_ROLES = (Role.ADMIN, Role.OFFICER, Role.TRADER)


# ---------------------------------------------------------------------------------------------
# The agency's policy


@dataclass(frozen=True)
class Threshold:
    """The direct-purchase threshold that applies to an agency (yen, tax included)."""

    amount_jpy: int
    rule_en: str
    rule_ja: str
    is_default: bool


DEFAULT_THRESHOLD = Threshold(DEFAULT_THRESHOLD_JPY, DEFAULT_RULE_EN, DEFAULT_RULE_JA, True)


class PolicyInput(BaseModel):
    """An agency's procurement policy: the direct-purchase threshold and the rule behind it."""

    model_config = ConfigDict(extra="forbid")
    direct_purchase_threshold_jpy: PositiveYen = Field(
        description="orders up to this total (yen, tax included) may be bought directly"
    )
    rule_en: Line(300) = Field(default="", description="the rule that sets it, in English")
    rule_ja: Line(300) = Field(default="", description="the rule that sets it, in Japanese")


class PolicyOut(BaseModel):
    """The policy that applies to the agency (`is_default`: none set, the default applies)."""

    organization_id: int
    direct_purchase_threshold_jpy: int = Field(description="yen, tax included")
    rule_en: str
    rule_ja: str
    is_default: bool
    updated_at: datetime | None


def threshold_of(session: Session, organization_id: int) -> Threshold:
    """The agency's threshold, or the default when it has set none."""
    policy = session.get(AgencyPolicy, organization_id)
    if policy is None:
        return DEFAULT_THRESHOLD
    return Threshold(
        policy.direct_purchase_threshold_jpy, policy.rule_en, policy.rule_ja, is_default=False
    )


def _policy_out(session: Session, organization_id: int) -> PolicyOut:
    policy = session.get(AgencyPolicy, organization_id)
    threshold = threshold_of(session, organization_id)
    return PolicyOut(
        organization_id=organization_id,
        direct_purchase_threshold_jpy=threshold.amount_jpy,
        rule_en=threshold.rule_en,
        rule_ja=threshold.rule_ja,
        is_default=threshold.is_default,
        updated_at=policy.updated_at if policy else None,
    )


def read_policy(session: Session, actor: Actor) -> PolicyOut:
    """The procurement policy of the actor's agency."""
    READ_POLICY.check(actor)
    return _policy_out(session, actor.organization_id)


def set_policy(session: Session, actor: Actor, data: PolicyInput) -> PolicyOut:
    """Set the actor's agency's threshold and rule (one row per agency, race-safe). Flushes."""
    SET_POLICY.check(actor)
    rule_en, rule_ja = data.rule_en.strip(), data.rule_ja.strip()
    if not (rule_en or rule_ja):
        raise ValidationFailed(N_("Name the rule that sets the threshold."), "rule_ja")
    values = {
        "direct_purchase_threshold_jpy": data.direct_purchase_threshold_jpy,
        "rule_en": rule_en,
        "rule_ja": rule_ja,
        "updated_by_member_id": actor.member_id,
        "updated_at": utcnow(),
    }
    org = actor.organization_id
    policy = session.get(AgencyPolicy, org)
    if policy is None:
        try:
            with session.begin_nested():
                session.add(AgencyPolicy(organization_id=org, **values))
                session.flush()
        except IntegrityError:  # another member set it at this moment: change that row
            policy = session.get(AgencyPolicy, org)
    if policy is not None:
        session.execute(
            update(AgencyPolicy)
            .where(AgencyPolicy.organization_id == org)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        session.expire(policy)
    record_audit(
        session,
        actor,
        "policy.set",
        "agencypolicy",
        org,
        {"threshold_jpy": data.direct_purchase_threshold_jpy},
    )
    session.flush()
    return _policy_out(session, org)


# ---------------------------------------------------------------------------------------------
# Purchase orders


def placeholder_number() -> str:
    """A unique temporary number for an order until its id is known (24 characters)."""
    return f"tmp-{uuid.uuid4().hex[:20]}"


def order_number(year: int, order_id: int) -> str:
    return f"PO-{year}-{order_id:06d}"


def number_order(session: Session, order: PurchaseOrder) -> None:
    """Give a flushed order its number PO-YYYY-NNNNNN (the year it was ordered, in Tokyo):
    taken from its id, so two orders placed at once never share one."""
    order.number = order_number(order.ordered_on.year, order.id)
    session.add(order)
    session.flush()


OrderStatusName = Literal["ordered", "delivered", "cancelled"]


class OrderQuery(Paging):
    """?status=&page=&per_page="""

    model_config = ConfigDict(extra="forbid")
    status: OrderStatusName | None = None


def order_visible_to(actor: Actor | None, order: PurchaseOrder) -> bool:
    """True for members of the buying agency and of the supplier."""
    return actor is not None and (
        actor.owns(order.buyer_org_id) or actor.owns(order.supplier_org_id)
    )


def orders_query(actor: Actor, query: OrderQuery | None = None):
    """The orders of the actor's organisation, as buyer or supplier, newest first."""
    SEE_ORDERS.check(actor)
    org = actor.organization_id
    stmt = select(PurchaseOrder).where(
        or_(PurchaseOrder.buyer_org_id == org, PurchaseOrder.supplier_org_id == org)
    )
    if query is not None and query.status is not None:
        stmt = stmt.where(PurchaseOrder.status == query.status)
    return stmt.order_by(col(PurchaseOrder.created_at).desc(), col(PurchaseOrder.id).desc())


def read_order(session: Session, actor: Actor, order_id: int) -> PurchaseOrder:
    """An order of the actor's organisation (buyer or supplier), else NotFound."""
    SEE_ORDERS.check(actor)
    order = session.get(PurchaseOrder, order_id) if 1 <= order_id <= ID_MAX else None
    if order is None or not order_visible_to(actor, order):
        raise NotFound(N_("No such order."))
    return order


def notify_order(
    session: Session, order: PurchaseOrder, organization_id: int, message: str, key: str
) -> list[Notification]:
    """In-app notices about an order to one of its parties (the caller commits)."""
    return notify_organization(
        session,
        organization_id,
        message,
        {"id": order.id, "number": order.number},
        f"/catalogue/orders/{order.id}",
        f"order:{order.id}:{key}",
        roles=ORDER_NOTICE_ROLES,
    )


def mark_delivered(session: Session, actor: Actor, order_id: int) -> PurchaseOrder:
    """The supplier marks an order delivered (once; a second time is a conflict)."""
    MARK_DELIVERED.check(actor)
    order = read_order(session, actor, order_id)
    if not actor.owns(order.supplier_org_id):
        raise PermissionDenied(N_("Only the supplier marks an order delivered."))
    moved = session.execute(
        update(PurchaseOrder)
        .where(PurchaseOrder.id == order.id, PurchaseOrder.status == OrderStatus.ORDERED)
        .values(status=OrderStatus.DELIVERED)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise Conflict(N_("This order is not awaiting delivery."))
    session.refresh(order)
    record_audit(session, actor, "order.delivered", "purchaseorder", order.id, {})
    notify_order(
        session,
        order,
        order.buyer_org_id,
        N_("Order %(number)s is delivered."),
        "delivered",
    )
    session.flush()
    return order
