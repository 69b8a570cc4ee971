"""Chain of custody (mass balance): an organisation's recycled-input balance per material.

Accepted deliveries of offtake contracts credit the buyer's balance (recycled kilograms and
the input's whole mass); recycled-content claims debit it when goods are sold (a direct
purchase, the order of an award); an award reserves the claim until its order is issued.
Every movement is one conditional UPDATE of the account (`available_kg >= kg`), so the
balance never goes negative, even when two awards or purchases draw on it at once, and one
`CustodyEntry` whose (kind, source, source_id) is unique, so a step that runs twice moves
nothing twice. These steps are called by domain entry points that have checked the actor;
`read_ledger` is the entry point for reading.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from participants.actors import Actor, permission
from participants.columns import utcnow
from participants.errors import N_, Conflict, NotFound, ValidationFailed
from participants.fields import Id
from participants.models import Organization
from quality.errors import CustodyNotCovered
from quality.models import (
    Assay,
    Certificate,
    CustodyAccount,
    CustodyEntry,
    CustodyKind,
    Material,
)

SEE_CUSTODY = permission(
    N_("Only members of the organisation see its chain-of-custody ledger."), verified=False
)

HUNDRED = Decimal(100)


def claim_kg(product_mass_kg: Decimal | int, recycled_pct: Decimal) -> int:
    """Recycled kilograms a claim needs: mass × share, rounded up to the kilogram (a claim is
    never covered by less than it states)."""
    kg = Decimal(product_mass_kg) * Decimal(recycled_pct) / HUNDRED
    return int(kg.to_integral_value(rounding=ROUND_CEILING))


def tonnes(kg: int) -> str:
    """Kilograms as tonnes with three places ("1.250")."""
    return f"{Decimal(kg) / 1000:.3f}"


def _account(session: Session, organization_id: int, material_code: str) -> CustodyAccount:
    """The account of (organisation, material), created empty on first use (race-safe)."""
    stmt = select(CustodyAccount).where(
        CustodyAccount.organization_id == organization_id,
        CustodyAccount.material_code == material_code,
    )
    account = session.exec(stmt).first()
    if account is not None:
        return account
    try:
        with session.begin_nested():
            account = CustodyAccount(organization_id=organization_id, material_code=material_code)
            session.add(account)
            session.flush()
        return account
    except IntegrityError:  # another transaction created it first
        return session.exec(stmt).one()


def available_kg(session: Session, organization_id: int, material_code: str) -> int:
    """Recycled kilograms of a material the organisation may still claim (0 without account)."""
    value = session.exec(
        select(CustodyAccount.available_kg).where(
            CustodyAccount.organization_id == organization_id,
            CustodyAccount.material_code == material_code,
        )
    ).first()
    return int(value or 0)


def _already(session: Session, kind: str, source: str, source_id: int) -> CustodyEntry | None:
    return session.exec(
        select(CustodyEntry).where(
            CustodyEntry.kind == kind,
            CustodyEntry.source == source,
            CustodyEntry.source_id == source_id,
        )
    ).first()


def _move(
    session: Session,
    account: CustodyAccount,
    kind: str,
    kg: int,
    source: str,
    source_id: int,
    *,
    input_kg: int = 0,
    share_pct: Decimal = HUNDRED,
    note: str = "",
    member_id: int | None = None,
) -> CustodyEntry | None:
    """One movement: the conditional UPDATE, then its entry (None when nothing moved because
    the balance does not cover it)."""
    delta = {
        CustodyKind.CREDIT: {"credited_kg": kg, "input_kg": input_kg, "available_kg": kg},
        CustodyKind.DEBIT: {"debited_kg": kg, "available_kg": -kg},
        CustodyKind.RESERVE: {"reserved_kg": kg, "available_kg": -kg},
        CustodyKind.RELEASE: {"reserved_kg": -kg, "available_kg": kg},
        CustodyKind.REVERSAL: {"credited_kg": -kg, "input_kg": -input_kg, "available_kg": -kg},
    }[kind]
    table = CustodyAccount.__table__.c
    stmt = update(CustodyAccount).where(CustodyAccount.id == account.id)
    if delta["available_kg"] < 0:
        stmt = stmt.where(CustodyAccount.available_kg >= kg)
    if kind == CustodyKind.RELEASE:
        stmt = stmt.where(CustodyAccount.reserved_kg >= kg)
    values = {name: table[name] + change for name, change in delta.items()}
    values["updated_at"] = utcnow()
    moved = session.execute(
        stmt.values(**values)
        .returning(CustodyAccount.available_kg)
        .execution_options(synchronize_session=False)
    ).first()
    if moved is None:
        return None
    session.expire(account)
    entry = CustodyEntry(
        account_id=account.id,
        organization_id=account.organization_id,
        material_code=account.material_code,
        kind=kind,
        kg=kg,
        input_kg=input_kg,
        recycled_share_pct=share_pct,
        source=source,
        source_id=source_id,
        note=note[:300],
        available_after_kg=int(moved[0]),
        member_id=member_id,
    )
    session.add(entry)
    session.flush()
    return entry


def credit_delivery(
    session: Session,
    *,
    organization_id: int,
    material_code: str,
    delivery_id: int,
    net_kg: int,
    recycled_share_pct: Decimal = HUNDRED,
    assay_id: int | None = None,
    note: str = "",
    member_id: int | None = None,
) -> CustodyEntry:
    """Credit the buyer's balance with an accepted delivery (once per delivery): recycled kg =
    net kg × recycled share, rounded down; `assay_id` (the lot's assay) lets its
    certificates back the buyer's claims."""
    done = _already(session, CustodyKind.CREDIT, "delivery", delivery_id)
    if done is not None:
        return done
    share = Decimal(recycled_share_pct)
    kg = int(Decimal(net_kg) * share / HUNDRED)
    account = _account(session, organization_id, material_code)
    entry = _move(
        session,
        account,
        CustodyKind.CREDIT,
        kg,
        "delivery",
        delivery_id,
        input_kg=net_kg,
        share_pct=share,
        note=note,
        member_id=member_id,
    )
    assert entry is not None  # a credit never lacks cover
    if assay_id is not None:
        entry.assay_id = assay_id
        session.flush()
    return entry


def reverse_delivery(
    session: Session, *, delivery_id: int, note: str = "", member_id: int | None = None
) -> CustodyEntry | None:
    """Withdraw a delivery's credit (it stopped counting); refused (Conflict) when the
    recycled kilograms have already been claimed. None when it was never credited."""
    credit = _already(session, CustodyKind.CREDIT, "delivery", delivery_id)
    if credit is None:
        return None
    done = _already(session, CustodyKind.REVERSAL, "delivery", delivery_id)
    if done is not None:
        return done
    account = session.get(CustodyAccount, credit.account_id)
    entry = _move(
        session,
        account,
        CustodyKind.REVERSAL,
        credit.kg,
        "delivery",
        delivery_id,
        input_kg=credit.input_kg,
        note=note,
        member_id=member_id,
    )
    if entry is None:
        raise Conflict(N_("The recycled input of this delivery has already been claimed by sales."))
    return entry


def _not_covered(material_code: str, needed_kg: int, available: int) -> CustodyNotCovered:
    return CustodyNotCovered(
        None,
        "recycled_content",
        needed=tonnes(needed_kg),
        material=material_code,
        available=tonnes(available),
    )


def check_covered(
    session: Session, organization_id: int, material_code: str, needed_kg: int
) -> int:
    """The available kilograms, or CustodyNotCovered when they do not cover `needed_kg`
    (a check only: nothing is held)."""
    available = available_kg(session, organization_id, material_code)
    if needed_kg > available:
        raise _not_covered(material_code, needed_kg, available)
    return available


def _draw(
    session: Session,
    kind: str,
    organization_id: int,
    material_code: str,
    kg: int,
    source: str,
    source_id: int,
    note: str,
    member_id: int | None,
) -> CustodyEntry:
    """Take `kg` from the available balance as `kind` (once per source); CustodyNotCovered
    when the balance is short at this moment (nothing moves)."""
    done = _already(session, kind, source, source_id)
    if done is not None:
        return done
    account = _account(session, organization_id, material_code)
    entry = _move(session, account, kind, kg, source, source_id, note=note, member_id=member_id)
    if entry is None:
        raise _not_covered(material_code, kg, available_kg(session, organization_id, material_code))
    return entry


def debit_claim(
    session: Session,
    *,
    organization_id: int,
    material_code: str,
    kg: int,
    source: str,
    source_id: int,
    note: str = "",
    member_id: int | None = None,
) -> CustodyEntry:
    """Debit a sold recycled-content claim (once per source); CustodyNotCovered when short."""
    return _draw(
        session,
        CustodyKind.DEBIT,
        organization_id,
        material_code,
        kg,
        source,
        source_id,
        note,
        member_id,
    )


def reserve_claim(
    session: Session,
    *,
    organization_id: int,
    material_code: str,
    kg: int,
    source: str,
    source_id: int,
    note: str = "",
    member_id: int | None = None,
) -> CustodyEntry:
    """Hold a claim for an award (once per source); CustodyNotCovered when short."""
    return _draw(
        session,
        CustodyKind.RESERVE,
        organization_id,
        material_code,
        kg,
        source,
        source_id,
        note,
        member_id,
    )


def release_reservation(
    session: Session, *, source: str, source_id: int, note: str = "", member_id: int | None = None
) -> CustodyEntry | None:
    """Give a reservation back (once); None when there was none."""
    reserved = _already(session, CustodyKind.RESERVE, source, source_id)
    if reserved is None:
        return None
    done = _already(session, CustodyKind.RELEASE, source, source_id)
    if done is not None:
        return done
    account = session.get(CustodyAccount, reserved.account_id)
    return _move(
        session,
        account,
        CustodyKind.RELEASE,
        reserved.kg,
        source,
        source_id,
        note=note,
        member_id=member_id,
    )


def consume_reservation(
    session: Session,
    *,
    source: str,
    source_id: int,
    debit_source: str,
    debit_source_id: int,
    note: str = "",
    member_id: int | None = None,
) -> CustodyEntry:
    """Turn a reservation into the debit of the sale it was held for (release + debit in the
    same transaction: the kilograms never become free in between for another claim)."""
    reserved = _already(session, CustodyKind.RESERVE, source, source_id)
    if reserved is None:
        raise NotFound(N_("No reservation to turn into a sale."))
    release_reservation(session, source=source, source_id=source_id, note=note, member_id=member_id)
    return debit_claim(
        session,
        organization_id=reserved.organization_id,
        material_code=reserved.material_code,
        kg=reserved.kg,
        source=debit_source,
        source_id=debit_source_id,
        note=note,
        member_id=member_id,
    )


def citable_certificates(
    session: Session, organization_id: int, certificate_ids: list[str], field: str = "certificates"
) -> list[Certificate]:
    """The certificates an organisation may cite as evidence of recycled content: those it
    issued, those of its own assays, and those of lots credited to its ledger (the certificate
    travelled with the delivered material). Any other — another organisation's, or none —
    is refused (422) with its id; nothing else is checked here."""
    wanted = list(dict.fromkeys(certificate_ids))
    if not wanted:
        return []
    received = select(CustodyEntry.assay_id).where(
        CustodyEntry.organization_id == organization_id,
        CustodyEntry.kind == CustodyKind.CREDIT,
        col(CustodyEntry.assay_id).is_not(None),
    )
    own_assays = select(Assay.id).where(Assay.organization_id == organization_id)
    rows = session.exec(
        select(Certificate).where(
            col(Certificate.id).in_(wanted),
            or_(
                Certificate.issuer_org_id == organization_id,
                col(Certificate.assay_id).in_(own_assays),
                col(Certificate.assay_id).in_(received),
            ),
        )
    ).all()
    found = {c.id: c for c in rows}
    for cert_id in wanted:
        if cert_id not in found:
            raise ValidationFailed(
                N_(
                    "Certificate %(id)s is not one of your organisation's: cite certificates "
                    "you issued, of your own lots, or of lots delivered to you."
                ),
                field,
                id=cert_id,
            )
    return [found[c] for c in wanted]


CITABLE_LIMIT = 200


def certificates_to_cite(
    session: Session, actor: Actor, limit: int = CITABLE_LIMIT
) -> list[tuple[Certificate, Assay]]:
    """The certificates the actor's organisation may cite (the rule of `citable_certificates`)
    with their assays, newest first, in one query: what a bid form offers as evidence."""
    SEE_CUSTODY.check(actor)
    org = actor.organization_id
    if org is None:
        return []
    received = select(CustodyEntry.assay_id).where(
        CustodyEntry.organization_id == org,
        CustodyEntry.kind == CustodyKind.CREDIT,
        col(CustodyEntry.assay_id).is_not(None),
    )
    own_assays = select(Assay.id).where(Assay.organization_id == org)
    rows = session.exec(
        select(Certificate, Assay)
        .join(Assay, Assay.id == Certificate.assay_id)
        .where(
            or_(
                Certificate.issuer_org_id == org,
                col(Certificate.assay_id).in_(own_assays),
                col(Certificate.assay_id).in_(received),
            )
        )
        .order_by(col(Certificate.issued_at).desc(), col(Certificate.id))
        .limit(max(1, min(limit, CITABLE_LIMIT)))
    ).all()
    return [(certificate, assay) for certificate, assay in rows]


@dataclass
class Ledger:
    """An organisation's accounts and its latest entries (with the materials they name)."""

    accounts: list[CustodyAccount]
    entries: list[CustodyEntry]
    organization: Organization | None = None
    materials: dict[str, Material] | None = None


ENTRY_LIMIT = 200


def read_ledger(
    session: Session, actor: Actor, organization_id: int | None = None, limit: int = ENTRY_LIMIT
) -> Ledger:
    """The chain-of-custody accounts and latest entries of the actor's organisation (any
    organisation's for the operator); another organisation's ledger, or one of an
    organisation that does not exist, is not found."""
    SEE_CUSTODY.check(actor)
    org = organization_id if organization_id is not None else actor.organization_id
    if not (actor.is_operator or actor.owns(org)):
        raise NotFound(N_("No such ledger."))
    organization = session.get(Organization, org) if org is not None and 1 <= org < 2**31 else None
    if organization is None:
        raise NotFound(N_("No such ledger."))
    accounts = list(
        session.exec(
            select(CustodyAccount)
            .where(CustodyAccount.organization_id == org)
            .order_by(col(CustodyAccount.material_code))
        ).all()
    )
    entries = list(
        session.exec(
            select(CustodyEntry)
            .where(CustodyEntry.organization_id == org)
            .order_by(col(CustodyEntry.id).desc())
            .limit(max(1, min(limit, ENTRY_LIMIT)))
        ).all()
    )
    codes = {a.material_code for a in accounts} | {e.material_code for e in entries}
    materials = {
        m.code: m
        for m in (
            session.exec(select(Material).where(col(Material.code).in_(codes))).all()
            if codes
            else []
        )
    }
    return Ledger(accounts, entries, organization, materials)


def recycled_share_pct(account: CustodyAccount) -> Decimal | None:
    """The recycled share of the account's input (credited ÷ input kilograms, per cent with
    one place, half-up); None before any input."""
    if account.input_kg <= 0:
        return None
    share = Decimal(account.credited_kg) * HUNDRED / Decimal(account.input_kg)
    return share.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


# ----------------------------------------------------------------------------------------------
# Output (shared by the page and the API)


class LedgerQuery(BaseModel):
    """Whose ledger (the operator may name any organisation) and how many latest entries."""

    model_config = ConfigDict(extra="forbid")
    organization_id: Id | None = Field(
        default=None, description="the operator only; others read their own organisation's"
    )
    limit: int = Field(default=50, ge=1, le=ENTRY_LIMIT, description="latest entries, at most 200")


class CustodyAccountOut(BaseModel):
    """One material's balance, in tonnes with three places."""

    material_code: str
    credited_t: str = Field(description="recycled input received (accepted deliveries)")
    debited_t: str = Field(description="recycled-content claims sold")
    reserved_t: str = Field(description="held for awards")
    available_t: str = Field(description="what may still be claimed; never negative")
    input_t: str = Field(description="all input received, recycled or not")
    recycled_share_pct: str | None = Field(description="credited ÷ input; null before input")
    updated_at: datetime


class CustodyEntryOut(BaseModel):
    """One movement of a balance (append-only)."""

    id: int
    material_code: str
    kind: str = Field(description="credit, debit, reserve, release or reversal")
    t: str = Field(description="recycled tonnes moved")
    input_t: str = Field(description="credits: the input's whole mass")
    recycled_share_pct: str
    source: str = Field(description="delivery, order or award")
    source_id: int
    assay_id: int | None = Field(description="credits: the assay of the delivered lot")
    note: str
    available_after_t: str
    created_at: datetime


class CustodyLedgerOut(BaseModel):
    """An organisation's chain-of-custody (mass-balance) accounts and latest entries."""

    organization_id: int
    accounts: list[CustodyAccountOut]
    entries: list[CustodyEntryOut]


def _pct(value: Decimal | None) -> str | None:
    return None if value is None else format(Decimal(value).normalize(), "f")


def account_out(a: CustodyAccount) -> CustodyAccountOut:
    share = recycled_share_pct(a)
    return CustodyAccountOut(
        material_code=a.material_code,
        credited_t=tonnes(a.credited_kg),
        debited_t=tonnes(a.debited_kg),
        reserved_t=tonnes(a.reserved_kg),
        available_t=tonnes(a.available_kg),
        input_t=tonnes(a.input_kg),
        recycled_share_pct=None if share is None else str(share),
        updated_at=a.updated_at,
    )


def entry_out(e: CustodyEntry) -> CustodyEntryOut:
    return CustodyEntryOut(
        id=e.id,
        material_code=e.material_code,
        kind=e.kind,
        t=tonnes(e.kg),
        input_t=tonnes(e.input_kg),
        recycled_share_pct=_pct(e.recycled_share_pct) or "0",
        source=e.source,
        source_id=e.source_id,
        assay_id=e.assay_id,
        note=e.note,
        available_after_t=tonnes(e.available_after_kg),
        created_at=e.created_at,
    )


def ledger_out(ledger: Ledger) -> CustodyLedgerOut:
    return CustodyLedgerOut(
        organization_id=ledger.organization.id,
        accounts=[account_out(a) for a in ledger.accounts],
        entries=[entry_out(e) for e in ledger.entries],
    )
