"""The export watch over contracts: flows of critical scrap leaving and entering Japan by
material, country and month; the anomalies of `market.watch` with the active contracts' prices
in the market reference; the consent-expiry reminders (a scheduled job).

Flows count the contracts that run under a movement record (export or import): *contracted*
tonnes are each contract's monthly tonnes over its signed term (active, completed or
terminated contracts: what was agreed), *delivered* tonnes the accepted and settled deliveries
of those contracts in the month delivered. The partner country is the record's other country
(the country of import for an export, of export for an import). Operator only.
"""

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from contracts.models import COUNTED, ContractStatus, ContractTerms, Delivery, OfftakeContract
from contracts.obligations import first_of_month
from market.alerts import notify_organization
from market.indices import Formula, evaluate, latest_values
from market.listings import add_months
from market.models import MovementRecord, Notification
from market.watch import WATCH_PRICE_FLOOR_PCT, Anomaly, expiring_records
from market.watch import anomalies as market_anomalies
from participants.actors import OPERATE_MARKETPLACE, Actor
from participants.columns import tokyo_today
from participants.errors import N_
from participants.models import Organization, OrgKind, Role
from quality.models import StandardVersion

__all__ = ["Anomaly", "Flow", "anomalies", "contract_prices", "expiring_records", "flows"]

RUNNING = (ContractStatus.ACTIVE, ContractStatus.COMPLETED, ContractStatus.TERMINATED)
KG_PER_T = 1000


@dataclass(frozen=True)
class Flow:
    """Tonnes of one material moving one way between Japan and one country in one month."""

    direction: str  # export or import
    material: str
    country: str  # the other country (ISO alpha-2)
    month: date
    contracted_kg: int
    delivered_kg: int

    @property
    def contracted_t(self) -> float:
        return self.contracted_kg / KG_PER_T

    @property
    def delivered_t(self) -> float:
        return self.delivered_kg / KG_PER_T


def _terms_of_running(session: Session, extra=()):
    """(contract, its signed terms, its record) of the contracts running under a record."""
    C, T, R = OfftakeContract, ContractTerms, MovementRecord
    return session.exec(
        select(C, T, R)
        .join(T, (T.contract_id == C.id) & (T.version == C.active_version))
        .join(R, R.id == C.movement_record_id)
        .where(col(C.status).in_(RUNNING), *extra)
        .order_by(C.id)
    ).all()


def flows(
    session: Session,
    actor: Actor,
    first_month: date | None = None,
    last_month: date | None = None,
) -> list[Flow]:
    """Export and import flows by direction, material, country and month (operator only), from
    `first_month` to `last_month` when given; three queries whatever the number of contracts."""
    OPERATE_MARKETPLACE.check(actor)
    rows = _terms_of_running(session)
    cells: dict[tuple, list[int]] = {}
    partner: dict[int, tuple[str, str, str]] = {}
    for contract, terms, record in rows:
        country = record.country_import if record.direction == "export" else record.country_export
        key3 = (record.direction, contract.material_code, country)
        partner[contract.id] = key3
        start = first_of_month(terms.start_month)
        for i in range(terms.term_months):
            month = add_months(start, i)
            cells.setdefault((*key3, month), [0, 0])[0] += terms.monthly_kg
    if partner:
        delivered = session.exec(
            select(Delivery.contract_id, Delivery.delivered_on, Delivery.net_kg).where(
                col(Delivery.contract_id).in_(partner), col(Delivery.status).in_(COUNTED)
            )
        ).all()
        for contract_id, delivered_on, kg in delivered:
            month = first_of_month(delivered_on)
            cells.setdefault((*partner[contract_id], month), [0, 0])[1] += kg
    found = [
        Flow(direction, material, country, month, kg[0], kg[1])
        for (direction, material, country, month), kg in cells.items()
        if (first_month is None or month >= first_of_month(first_month))
        and (last_month is None or month <= first_of_month(last_month))
    ]
    return sorted(found, key=lambda f: (f.month, f.direction, f.material, f.country))


def contract_prices(session: Session, today: date | None = None) -> dict[int, list[int]]:
    """The current price (yen per tonne) of every active contract, by grade standard id: its
    signed formula at the latest index value (two queries)."""
    today = today or tokyo_today()
    C, T = OfftakeContract, ContractTerms
    rows = session.exec(
        select(T, StandardVersion.standard_id)
        .join(C, (T.contract_id == C.id) & (T.version == C.active_version))
        .join(StandardVersion, StandardVersion.id == T.standard_version_id)
        .where(C.status == ContractStatus.ACTIVE)
    ).all()
    values = latest_values(session, {t.index_id for t, _ in rows if t.index_id}, today)
    prices: dict[int, list[int]] = {}
    for terms, standard_id in rows:
        formula = Formula(
            terms.price_kind,
            terms.fixed_price_jpy_per_t,
            terms.index_id,
            terms.index_factor,
            terms.premium_jpy_per_t,
            terms.floor_jpy_per_t,
            terms.cap_jpy_per_t,
        )
        price = evaluate(formula, values.get(terms.index_id) if terms.index_id else None)
        if price is not None:
            prices.setdefault(standard_id, []).append(price)
    return prices


def anomalies(
    session: Session,
    actor: Actor,
    today: date | None = None,
    floor_pct: int = WATCH_PRICE_FLOOR_PCT,
) -> list[Anomaly]:
    """`market.watch.anomalies` with the active contracts' prices in the price reference."""
    OPERATE_MARKETPLACE.check(actor)
    return market_anomalies(
        session, actor, today, floor_pct, contract_prices=contract_prices(session, today)
    )


# ---------------------------------------------------------------------------------------------
# Consent-expiry reminders (the scheduled job `remind_consent_expiry`)

CONSENT_NOTICE_DAYS = (90, 30)
CONSENT_ROLES = (Role.ADMIN, Role.TRADER)
CONSENT_EXPIRY = N_(
    "The consent of movement record %(id)s (%(reference)s, %(material)s) ends on %(end)s, in "
    "%(days)s days: %(remaining)s t of %(consented)s t are not committed yet."
)


def consent_threshold(days_left: int) -> int | None:
    """The notice due with `days_left` days to go: 30, 90, or None (beyond 90, or over)."""
    if days_left < 0:
        return None
    for days in sorted(CONSENT_NOTICE_DAYS):
        if days_left <= days:
            return days
    return None


def remind_consent_expiry(session: Session, actor: Actor, today: date) -> list[Notification]:
    """Notices to the record holder's administrators and traders, and to the operator, 90 and
    30 days before a record's validity ends (only the nearer one when first seen inside 30
    days); each member once per record and threshold (the notification's dedupe key)."""
    OPERATE_MARKETPLACE.check(actor)
    records = expiring_records(session, actor, today, max(CONSENT_NOTICE_DAYS))
    operators = session.exec(
        select(Organization.id).where(Organization.kind == OrgKind.OPERATOR)
    ).all()
    notes: list[Notification] = []
    for record in records:
        left = (record.valid_until - today).days
        days = consent_threshold(left)
        if days is None:
            continue
        params = {
            "id": record.id,
            "reference": record.reference,
            "material": record.material_code,
            "end": record.valid_until.isoformat(),
            "days": left,
            "remaining": f"{record.remaining_kg / KG_PER_T:,.3f}",
            "consented": f"{record.consented_kg / KG_PER_T:,.3f}",
        }
        key = f"consent-expiry:{record.id}:{days}"
        link = f"/movements/{record.id}"
        notes += notify_organization(
            session, record.organization_id, CONSENT_EXPIRY, params, link, key, CONSENT_ROLES
        )
        for org_id in operators:
            notes += notify_organization(session, org_id, CONSENT_EXPIRY, params, link, key)
    return notes
