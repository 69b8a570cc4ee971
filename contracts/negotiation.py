"""Negotiating a contract: reading it, counter-offers (new terms versions), the comment thread,
withdrawing a draft — and what every lifecycle step shares: states, the contract lock, the
volume a contract holds, notices to the other side.

Who may do what (checked here, whatever the caller: page, API, CLI or job):
- read a contract — its versions, thread, signatures and audit trail: members of its two
  parties, whatever their organisation's state (`SEE_CONTRACTS`); for anyone else a contract
  does not exist (NotFound);
- propose a version, write in the thread, withdraw a draft: a signatory or trader of a
  verified organisation that is one of the two parties (`NEGOTIATE_CONTRACTS`);
- sign: a signatory of a verified party (`SIGN_CONTRACTS`, used by `contracts.signing`);
- verify every contract's audit chain: the marketplace operator (`VERIFY_CONTRACTS`; the
  command line acts as SYSTEM).

Every step that reads a contract's state and then changes it first takes the contract's row
(`lock_contract`: one no-op conditional UPDATE — a row lock on PostgreSQL, the write lock on
SQLite), so two steps on one contract — two signatures, a signature and a counter-offer, a
withdrawal and an activation — run one after the other, each seeing what the other did.
Functions flush, never commit; notices wait in the session (`pending_notices`) for the caller
to e-mail after its commit.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import update
from sqlmodel import Session, col, or_, select

from contracts.events import ChainReport, append_event, verify_chain
from contracts.models import (
    ContractComment,
    ContractEvent,
    ContractStatus,
    ContractTerms,
    OfftakeContract,
    Signature,
)
from contracts.terms import (
    GradeName,
    TermChange,
    TermChangeOut,
    TermsOut,
    TermsProposalIn,
    check_terms,
    diff_terms,
    diff_values,
    grade_names,
    input_values,
    material_names,
    merge_changes,
    new_version,
    term_change_out,
    terms_out,
    terms_values,
    validated_terms,
)
from market.alerts import notify_organization
from market.indices import index_codes
from market.listings import (
    commit_volume,
    fill_request,
    kg_to_tonnes,
    release_fill,
    release_volume,
)
from market.models import Notification, OfftakeRequest, SupplyListing
from participants.actors import OPERATE_MARKETPLACE, Actor, permission
from participants.columns import utcnow
from participants.errors import N_, Conflict, NotFound, ValidationFailed
from participants.fields import ID_MAX, MULTILINE_PATTERN, Paging, check_text
from participants.models import Member, Organization, Role
from quality.models import Material

# A party's own contracts, whatever its organisation's state (the rows are filtered by party).
SEE_CONTRACTS = permission(
    N_("Only members of the organisation see its contracts."), verified=False
)
# Counter-offers, the thread and withdrawal bind the organisation: a signatory or a trader.
NEGOTIATE_CONTRACTS = permission(
    N_("Only a signatory or trader may do this."), roles=[Role.SIGNATORY, Role.TRADER]
)
# Signing binds the organisation to the terms: its signatories only.
SIGN_CONTRACTS = permission(
    N_("Only a signatory of the organisation may sign a contract."), roles=[Role.SIGNATORY]
)
VERIFY_CONTRACTS = OPERATE_MARKETPLACE

# The lifecycle of a contract (contracts.models.ContractStatus).
TRANSITIONS: dict[str, set[str]] = {
    ContractStatus.DRAFT: {ContractStatus.ACTIVE, ContractStatus.WITHDRAWN},
    ContractStatus.ACTIVE: {ContractStatus.COMPLETED, ContractStatus.TERMINATED},
    ContractStatus.COMPLETED: set(),
    ContractStatus.TERMINATED: set(),
    ContractStatus.WITHDRAWN: set(),
}
StatusName = Literal["draft", "active", "completed", "terminated", "withdrawn"]
Action = Literal["propose", "comment", "sign", "withdraw"]

# Who of the other party hears of a step (those who can answer it).
NOTICE_ROLES = (Role.SIGNATORY, Role.TRADER)
_OUTBOX = "contracts.notices"
MAX_COMMENT = 2000
# A message of the thread: 1 to 2,000 characters, line breaks allowed, no control or
# text-direction characters (the rule of participants.fields.Paragraphs).
Message = Annotated[
    str,
    Field(min_length=1, max_length=MAX_COMMENT),
    AfterValidator(lambda value: check_text(value, multiline=True)),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_COMMENT,
            "pattern": MULTILINE_PATTERN,
        }
    ),
]


# ---------------------------------------------------------------------------------------------
# States, the lock, the volume a contract holds, notices


def transition(contract: OfftakeContract, target: str) -> None:
    """The one place a contract changes state (Conflict for a move the lifecycle forbids)."""
    if target not in TRANSITIONS.get(contract.status, set()):
        raise Conflict(
            "A contract in state %(status)s cannot become %(target)s.",
            status=contract.status,
            target=target,
        )
    contract.status = target


def require_draft(contract: OfftakeContract) -> None:
    if contract.status != ContractStatus.DRAFT:
        raise Conflict("This contract is no longer a draft.")


def lock_contract(session: Session, contract_id: int) -> OfftakeContract:
    """Take the contract's row for the rest of the transaction and read it afresh.

    One UPDATE that changes nothing: PostgreSQL locks the row until commit, SQLite takes its
    write lock; a second step on the same contract waits here and then sees the first one's
    committed work.
    """
    session.execute(
        update(OfftakeContract)
        .where(OfftakeContract.id == contract_id)
        .values(last_event_seq=OfftakeContract.last_event_seq)
        .execution_options(synchronize_session=False)
    )
    contract = session.get(OfftakeContract, contract_id, populate_existing=True)
    if contract is None:
        raise NotFound("No such contract.")
    return contract


def hold_volume(session: Session, contract: OfftakeContract, kg: int) -> dict[str, int]:
    """Make the contract hold `kg` a month on its listing (committed) and its request (filled).

    Only the difference to what it holds moves, through the conditional updates of
    `market.listings` (`commit_volume` / `release_volume`, `fill_request` / `release_fill`):
    a listing is never oversold and nothing drops below zero. Conflict when the listing lacks
    the volume or the request needs less; the caller rolls back. Returns the kg moved.
    """
    moved = {"listing_kg": 0, "request_kg": 0}
    if contract.listing_id is not None and kg != contract.reserved_kg:
        delta = kg - contract.reserved_kg
        if delta > 0:
            try:
                commit_volume(session, contract.listing_id, delta)
            except Conflict:
                raise Conflict(
                    "The listing no longer has %(t)s t a month available for this contract."
                    " Propose a version with fewer tonnes, or withdraw the draft.",
                    t=kg_to_tonnes(delta),
                ) from None
        else:
            release_volume(session, contract.listing_id, -delta)
        contract.reserved_kg, moved["listing_kg"] = kg, delta
    if contract.request_id is not None and kg != contract.filled_kg:
        delta = kg - contract.filled_kg
        if delta > 0:
            try:
                fill_request(session, contract.request_id, delta)
            except Conflict:
                raise Conflict(
                    "The request no longer needs %(t)s t a month more."
                    " Propose a version with fewer tonnes, or withdraw the draft.",
                    t=kg_to_tonnes(delta),
                ) from None
        else:
            release_fill(session, contract.request_id, -delta)
        contract.filled_kg, moved["request_kg"] = kg, delta
    session.add(contract)
    session.flush()
    return moved


def other_party(contract: OfftakeContract, actor: Actor) -> int:
    return contract.buyer_org_id if actor.owns(contract.seller_org_id) else contract.seller_org_id


def notify_party(
    session: Session,
    contract: OfftakeContract,
    organization_id: int,
    message: str,
    key: str,
    **params: Any,
) -> list[Notification]:
    """In-app notices to a party's signatories and traders, once per step (`key`); they wait in
    the session for the caller to e-mail after its commit (`pending_notices`)."""
    notes = notify_organization(
        session,
        organization_id,
        message,
        {"id": contract.id, **params},
        f"/contracts/{contract.id}",
        f"contract:{contract.id}:{key}",
        roles=NOTICE_ROLES,
    )
    session.info.setdefault(_OUTBOX, []).extend(notes)
    return notes


def pending_notices(session: Session) -> list[Notification]:
    """The notices of this session's lifecycle steps that were committed, taken out of it once
    (for `web.alerting.send_notice_mails`); those of a rolled-back step are dropped."""
    notes = session.info.pop(_OUTBOX, [])
    return [n for n in notes if sa_inspect(n).persistent]


# ---------------------------------------------------------------------------------------------
# Reading


class ContractsQuery(Paging):
    """?status= and paging."""

    status: StatusName | None = Field(default=None, description="only contracts in this state")


def contracts_query(actor: Actor, status: str | None = None):
    """The query of the actor's organisation's contracts, newest first (the caller pages it)."""
    SEE_CONTRACTS.check(actor)
    org_id = actor.organization_id
    query = select(OfftakeContract).where(
        or_(OfftakeContract.seller_org_id == org_id, OfftakeContract.buyer_org_id == org_id)
    )
    if status:
        query = query.where(OfftakeContract.status == status)
    return query.order_by(col(OfftakeContract.id).desc())


def latest_terms(session: Session, contract_ids: list[int]) -> dict[int, ContractTerms]:
    """Each contract's latest terms version (one query)."""
    out: dict[int, ContractTerms] = {}
    if not contract_ids:
        return out
    for t in session.exec(
        select(ContractTerms)
        .where(col(ContractTerms.contract_id).in_(contract_ids))
        .order_by(ContractTerms.contract_id, ContractTerms.version)
        .execution_options(populate_existing=True)
    ):
        out[t.contract_id] = t
    return out


def with_terms(
    session: Session, contracts: list[OfftakeContract]
) -> list[tuple[OfftakeContract, ContractTerms]]:
    """Each contract with its latest terms (one query)."""
    terms = latest_terms(session, [c.id for c in contracts])
    return [(c, terms[c.id]) for c in contracts if c.id in terms]


def drafts_for_org(session: Session, actor: Actor) -> list[tuple[OfftakeContract, ContractTerms]]:
    """The actor's organisation's contracts (as seller or buyer) with their latest terms."""
    return with_terms(session, list(session.exec(contracts_query(actor)).all()))


def party_contract(session: Session, actor: Actor, contract_id: int) -> OfftakeContract:
    """One of the actor's organisation's contracts; NotFound for anyone else (no hint)."""
    contract = session.get(OfftakeContract, contract_id) if 1 <= contract_id <= ID_MAX else None
    if contract is None or not (
        actor.owns(contract.seller_org_id) or actor.owns(contract.buyer_org_id)
    ):
        raise NotFound("No such contract.")
    return contract


def may_open_contract(actor: Actor | None, contract) -> bool:
    """Whether the actor may open a contract's page (`SEE_CONTRACTS`, a member of a party):
    pages link to a contract only then. `contract` has `seller_org_id` and `buyer_org_id`
    (a contract, or an invoice of one)."""
    return SEE_CONTRACTS.allows(actor) and (
        actor.owns(contract.seller_org_id) or actor.owns(contract.buyer_org_id)
    )


def own_contract(
    session: Session, actor: Actor, contract_id: int
) -> tuple[OfftakeContract, ContractTerms]:
    """One of the actor's organisation's contracts with its latest terms; else NotFound."""
    SEE_CONTRACTS.check(actor)
    contract = party_contract(session, actor, contract_id)
    return contract, latest_terms(session, [contract.id])[contract.id]


def versions_of(session: Session, contract_id: int) -> list[ContractTerms]:
    return list(
        session.exec(
            select(ContractTerms)
            .where(ContractTerms.contract_id == contract_id)
            .order_by(col(ContractTerms.version))
            .execution_options(populate_existing=True)
        ).all()
    )


def live_signatures(session: Session, terms_id: int) -> list[Signature]:
    """The signatures of one version that no later version voided."""
    return list(
        session.exec(
            select(Signature)
            .where(Signature.terms_id == terms_id, col(Signature.voided_at).is_(None))
            .execution_options(populate_existing=True)
        ).all()
    )


@dataclass
class ContractDetail:
    """A contract as one of its parties sees it, with everything its page and API show."""

    contract: OfftakeContract
    side: str  # seller | buyer: the actor's
    seller: Organization
    buyer: Organization
    listing: SupplyListing | None
    request: OfftakeRequest | None
    material: Material | None
    versions: list[ContractTerms]
    grades: dict[int, GradeName]
    index_codes: dict[int, str]
    signatures: list[tuple[Signature, ContractTerms, Member | None]]
    comments: list[tuple[ContractComment, Member | None]]
    chain: ChainReport
    actions: frozenset[str] = field(default_factory=frozenset)

    @property
    def latest(self) -> ContractTerms:
        return self.versions[-1]

    @property
    def current(self) -> ContractTerms:
        """The signed version of an active contract, else the latest."""
        return self.version(self.contract.active_version) or self.latest

    def version(self, number: int | None) -> ContractTerms | None:
        return next((t for t in self.versions if t.version == number), None)

    def diff(self, a: int, b: int) -> list[TermChange]:
        old, new = self.version(a), self.version(b)
        if old is None or new is None:
            raise NotFound("No such version.")
        return diff_terms(old, new, self.index_codes)

    def party(self, organization_id: int) -> Organization:
        return self.seller if organization_id == self.seller.id else self.buyer


def allowed_actions(
    contract: OfftakeContract, actor: Actor, signed_latest: set[int]
) -> frozenset[str]:
    """What the actor may do to the contract now (the buttons a page shows)."""
    out: set[str] = set()
    draft = contract.status == ContractStatus.DRAFT
    if NEGOTIATE_CONTRACTS.allows(actor):
        if draft:
            out |= {"propose", "withdraw"}
        if contract.status in (ContractStatus.DRAFT, ContractStatus.ACTIVE):
            out.add("comment")
    if draft and SIGN_CONTRACTS.allows(actor) and actor.organization_id not in signed_latest:
        out.add("sign")
    return frozenset(out)


def contract_detail(session: Session, actor: Actor, contract_id: int) -> ContractDetail:
    """One of the actor's organisation's contracts in full (`SEE_CONTRACTS`; else NotFound)."""
    SEE_CONTRACTS.check(actor)
    contract = party_contract(session, actor, contract_id)
    versions = versions_of(session, contract.id)
    by_id = {t.id: t for t in versions}
    signatures = list(
        session.exec(
            select(Signature, Member)
            .join(Member, col(Member.id) == Signature.member_id, isouter=True)
            .where(Signature.contract_id == contract.id)
            .order_by(col(Signature.signed_at), col(Signature.id))
        ).all()
    )
    comments = list(
        session.exec(
            select(ContractComment, Member)
            .join(Member, col(Member.id) == ContractComment.member_id, isouter=True)
            .where(ContractComment.contract_id == contract.id)
            .order_by(col(ContractComment.created_at), col(ContractComment.id))
        ).all()
    )
    latest = versions[-1]
    signed_latest = {
        s.organization_id for s, _m in signatures if s.terms_id == latest.id and not s.voided_at
    }
    orgs = {
        o.id: o
        for o in session.exec(
            select(Organization).where(
                col(Organization.id).in_({contract.seller_org_id, contract.buyer_org_id})
            )
        ).all()
    }
    return ContractDetail(
        contract=contract,
        side="seller" if actor.owns(contract.seller_org_id) else "buyer",
        seller=orgs[contract.seller_org_id],
        buyer=orgs[contract.buyer_org_id],
        listing=session.get(SupplyListing, contract.listing_id) if contract.listing_id else None,
        request=session.get(OfftakeRequest, contract.request_id) if contract.request_id else None,
        material=material_names(session, {contract.material_code}).get(contract.material_code),
        versions=versions,
        grades=grade_names(session, {t.standard_version_id for t in versions}),
        index_codes=index_codes(session, {t.index_id for t in versions}),
        signatures=[(s, by_id[s.terms_id], m) for s, m in signatures],
        comments=comments,
        chain=verify_chain(session, contract.id),
        actions=allowed_actions(contract, actor, signed_latest),
    )


# ---------------------------------------------------------------------------------------------
# Output (one mapping a record, shared by the API and, where it fits, the pages)


class PartyOut(BaseModel):
    """One party of a contract."""

    id: int
    name_ja: str
    name_en: str


class SignatureOut(BaseModel):
    """A signatory's signature of one version's canonical terms (voided by a later version)."""

    version: int
    organization_id: int
    side: Literal["seller", "buyer"]
    member_id: int
    member_name: str
    terms_sha256: str
    signed_at: datetime
    voided_at: datetime | None


class CommentOut(BaseModel):
    """A message of the contract's thread (`version`: the counter-offer it came with)."""

    id: int
    version: int | None
    organization_id: int
    side: Literal["seller", "buyer"]
    member_name: str
    body: str
    created_at: datetime


class ChainOut(BaseModel):
    """Whether the contract's audit trail is an unbroken hash chain, and where it breaks."""

    intact: bool
    events: int
    broken_at: int | None = Field(description="the first event that does not verify")
    reason: str


class ContractOut(BaseModel):
    """A contract of the caller's organisation with its latest terms (the signed ones once
    active)."""

    id: int
    status: StatusName
    side: Literal["seller", "buyer"] = Field(description="the caller's side")
    seller: PartyOut
    buyer: PartyOut
    listing_id: int | None
    request_id: int | None
    proposal_id: int | None
    material: str = Field(description="material code")
    material_name_en: str
    material_name_ja: str
    reserved_t: str = Field(description="tonnes a month the contract holds on its listing")
    latest_version: int
    active_version: int | None = Field(description="the version both sides signed")
    created_at: datetime | None
    activated_at: datetime | None
    ended_at: datetime | None
    terms: TermsOut


class ContractDetailOut(ContractOut):
    """A contract in full: every version, the signatures, the thread, the audit chain's state
    and what the caller may do now."""

    versions: list[TermsOut]
    signatures: list[SignatureOut]
    comments: list[CommentOut]
    chain: ChainOut
    actions: list[Action] = Field(description="what the caller may do now")


def _party_out(org: Organization) -> PartyOut:
    return PartyOut(id=org.id, name_ja=org.name_ja, name_en=org.name_en)


def chain_out(report: ChainReport) -> ChainOut:
    return ChainOut(
        intact=report.intact,
        events=report.events,
        broken_at=report.broken_at,
        reason=report.reason,
    )


def _side(contract: OfftakeContract, organization_id: int) -> str:
    return "seller" if organization_id == contract.seller_org_id else "buyer"


def _contract_out(
    c: OfftakeContract,
    actor: Actor,
    orgs: dict[int, Organization],
    material: Material | None,
    latest: ContractTerms,
    grades: dict[int, GradeName],
    codes: dict[int, str],
) -> dict[str, Any]:
    return dict(
        id=c.id,
        status=c.status,
        side="seller" if actor.owns(c.seller_org_id) else "buyer",
        seller=_party_out(orgs[c.seller_org_id]),
        buyer=_party_out(orgs[c.buyer_org_id]),
        listing_id=c.listing_id,
        request_id=c.request_id,
        proposal_id=c.proposal_id,
        material=c.material_code,
        material_name_en=material.name_en if material else c.material_code,
        material_name_ja=material.name_ja if material else c.material_code,
        reserved_t=str(kg_to_tonnes(c.reserved_kg)),
        latest_version=latest.version,
        active_version=c.active_version,
        created_at=c.created_at,
        activated_at=c.activated_at,
        ended_at=c.ended_at,
        terms=terms_out(latest, grades, codes),
    )


def contract_outs(
    session: Session, actor: Actor, contracts: list[OfftakeContract]
) -> list[ContractOut]:
    """Contracts of a list with their latest terms and names (a fixed number of queries)."""
    terms = latest_terms(session, [c.id for c in contracts])
    org_ids = {c.seller_org_id for c in contracts} | {c.buyer_org_id for c in contracts}
    orgs = {
        o.id: o
        for o in session.exec(select(Organization).where(col(Organization.id).in_(org_ids))).all()
    }
    materials = material_names(session, {c.material_code for c in contracts})
    grades = grade_names(session, {t.standard_version_id for t in terms.values()})
    codes = index_codes(session, {t.index_id for t in terms.values()})
    return [
        ContractOut(
            **_contract_out(
                c, actor, orgs, materials.get(c.material_code), terms[c.id], grades, codes
            )
        )
        for c in contracts
        if c.id in terms
    ]


def contract_detail_out(detail: ContractDetail, actor: Actor) -> ContractDetailOut:
    c = detail.contract
    orgs = {detail.seller.id: detail.seller, detail.buyer.id: detail.buyer}
    base = _contract_out(
        c, actor, orgs, detail.material, detail.latest, detail.grades, detail.index_codes
    )
    by_id = {t.id: t for t in detail.versions}
    return ContractDetailOut(
        **base,
        versions=[terms_out(t, detail.grades, detail.index_codes) for t in detail.versions],
        signatures=[
            SignatureOut(
                version=t.version,
                organization_id=s.organization_id,
                side=_side(c, s.organization_id),
                member_id=s.member_id,
                member_name=m.name if m else "",
                terms_sha256=s.terms_sha256,
                signed_at=s.signed_at,
                voided_at=s.voided_at,
            )
            for s, t, m in detail.signatures
        ],
        comments=[
            CommentOut(
                id=cm.id,
                version=by_id[cm.terms_id].version if cm.terms_id in by_id else None,
                organization_id=cm.organization_id,
                side=_side(c, cm.organization_id),
                member_name=m.name if m else "",
                body=cm.body,
                created_at=cm.created_at,
            )
            for cm, m in detail.comments
        ],
        chain=chain_out(detail.chain),
        actions=sorted(detail.actions),
    )


class DiffQuery(BaseModel):
    """?a=&b=: the two versions to compare."""

    model_config = ConfigDict(extra="forbid")
    a: int = Field(ge=1, le=ID_MAX, description="the earlier version")
    b: int = Field(ge=1, le=ID_MAX, description="the later version")


class DiffOut(BaseModel):
    """The terms that differ between two versions of a contract."""

    a: int
    b: int
    changes: list[TermChangeOut]


def diff_out(a: int, b: int, changes: list[TermChange]) -> DiffOut:
    return DiffOut(a=a, b=b, changes=[term_change_out(c) for c in changes])


# ---------------------------------------------------------------------------------------------
# Counter-offers


def _void_signatures(session: Session, contract: OfftakeContract, actor: Actor, version: int):
    """Void every signature of the contract's earlier versions (event `signatures.voided`)."""
    live = list(
        session.exec(
            select(Signature.id, ContractTerms.version, Signature.organization_id)
            .join(ContractTerms, ContractTerms.id == Signature.terms_id)
            .where(Signature.contract_id == contract.id, col(Signature.voided_at).is_(None))
        ).all()
    )
    if not live:
        return 0
    session.execute(
        update(Signature)
        .where(col(Signature.id).in_([s for s, _v, _o in live]), col(Signature.voided_at).is_(None))
        .values(voided_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    append_event(
        session,
        contract.id,
        "signatures.voided",
        actor,
        {
            "by_version": version,
            "signatures": [{"version": v, "organization": o} for _s, v, o in sorted(live)],
        },
    )
    return len(live)


def propose_terms(
    session: Session, actor: Actor, contract_id: int, data: TermsProposalIn
) -> ContractTerms:
    """A new version of a draft's terms — the terms sent change, the others stay — with an
    optional comment (`NEGOTIATE_CONTRACTS`; another organisation's contract is NotFound).

    The new version becomes the only one that can be signed: every earlier signature is voided
    (event `signatures.voided`). 422 when it changes no term or breaks a rule of the terms;
    409 when the contract is no longer a draft. The other side is notified.
    """
    NEGOTIATE_CONTRACTS.check(actor)
    contract = lock_contract(session, party_contract(session, actor, contract_id).id)
    require_draft(contract)
    latest = latest_terms(session, [contract.id])[contract.id]
    codes = index_codes(session, {latest.index_id})
    current = terms_values(latest, codes.get(latest.index_id))
    terms = validated_terms(merge_changes(current, data))
    index_id = check_terms(session, contract, terms, keep_grade=latest.standard_version_id)
    changed = diff_values(current, input_values(terms))
    if not changed:
        raise ValidationFailed("The new version changes no term.")
    comment = _message_text(data.comment, required=False)
    version = new_version(
        contract,
        latest.version + 1,
        terms,
        index_id,
        comment,
        proposed_by_org_id=actor.organization_id,
        proposed_by_member_id=actor.member_id,
    )
    session.add(version)
    session.flush()
    detail: dict[str, Any] = {
        "version": version.version,
        "sha256": version.sha256,
        "changed": [c.term.name for c in changed],
    }
    if comment:
        note = ContractComment(
            contract_id=contract.id,
            terms_id=version.id,
            organization_id=actor.organization_id,
            member_id=actor.member_id,
            body=comment,
        )
        session.add(note)
        session.flush()
        detail["comment"] = note.id
    append_event(session, contract.id, "terms.proposed", actor, detail)
    _void_signatures(session, contract, actor, version.version)
    notify_party(
        session,
        contract,
        other_party(contract, actor),
        N_(
            "Version %(version)s of contract %(id)s was proposed: review it, sign it or"
            " answer with a counter-offer."
        ),
        f"terms:{version.version}",
        version=version.version,
    )
    return version


def terms_form(session: Session, actor: Actor, contract_id: int) -> ContractDetail:
    """What the counter-offer form needs (the contract with its latest version); the same
    checks as `propose_terms`, so that the form answers 403 / 404 / 409 alike."""
    NEGOTIATE_CONTRACTS.check(actor)
    detail = contract_detail(session, actor, contract_id)
    require_draft(detail.contract)
    return detail


# ---------------------------------------------------------------------------------------------
# The thread


class CommentIn(BaseModel):
    """A message to the other side in the contract's thread."""

    model_config = ConfigDict(extra="forbid")
    body: Message = Field(description="plain text, line breaks allowed")


def _message_text(text: str, required: bool = True) -> str:
    """A message (its characters checked by its input type), trimmed; required: not blank."""
    body = (text or "").strip()
    if required and not body:
        raise ValidationFailed("Write a message.", field="body")
    return body


def add_comment(
    session: Session, actor: Actor, contract_id: int, data: CommentIn
) -> ContractComment:
    """A message in the thread of a draft or active contract (`NEGOTIATE_CONTRACTS`); the other
    side is notified. The audit event carries the message's SHA-256."""
    NEGOTIATE_CONTRACTS.check(actor)
    contract = lock_contract(session, party_contract(session, actor, contract_id).id)
    if contract.status not in (ContractStatus.DRAFT, ContractStatus.ACTIVE):
        raise Conflict("The thread of this contract is closed.")
    body = _message_text(data.body)
    comment = ContractComment(
        contract_id=contract.id,
        organization_id=actor.organization_id,
        member_id=actor.member_id,
        body=body,
    )
    session.add(comment)
    session.flush()
    append_event(
        session,
        contract.id,
        "comment.added",
        actor,
        {"comment": comment.id, "sha256": hashlib.sha256(body.encode("utf-8")).hexdigest()},
    )
    notify_party(
        session,
        contract,
        other_party(contract, actor),
        N_("New message on contract %(id)s."),
        f"comment:{comment.id}",
    )
    return comment


# ---------------------------------------------------------------------------------------------
# Withdrawal


def withdraw_contract(session: Session, actor: Actor, contract_id: int) -> OfftakeContract:
    """Either side gives up a draft (`NEGOTIATE_CONTRACTS`): it becomes withdrawn and releases
    the volume it holds on its listing and request. 409 when it is no longer a draft."""
    NEGOTIATE_CONTRACTS.check(actor)
    contract = lock_contract(session, party_contract(session, actor, contract_id).id)
    require_draft(contract)
    transition(contract, ContractStatus.WITHDRAWN)
    released = {"listing_kg": contract.reserved_kg, "request_kg": contract.filled_kg}
    hold_volume(session, contract, 0)
    contract.ended_at = utcnow()
    session.add(contract)
    session.flush()
    append_event(session, contract.id, "contract.withdrawn", actor, {"released": released})
    notify_party(
        session,
        contract,
        other_party(contract, actor),
        N_("Contract draft %(id)s was withdrawn by the other side."),
        "withdrawn",
    )
    return contract


# ---------------------------------------------------------------------------------------------
# The audit trail


class EventOut(BaseModel):
    """One event of a contract's audit trail (its SHA-256 covers the one before)."""

    seq: int
    kind: str
    at: datetime
    actor_member_id: int | None
    actor_organization_id: int | None
    detail: dict[str, Any]
    prev_sha256: str
    sha256: str


def event_out(event: ContractEvent) -> EventOut:
    return EventOut(
        seq=event.seq,
        kind=event.kind,
        at=event.at,
        actor_member_id=event.actor_member_id,
        actor_organization_id=event.actor_organization_id,
        detail=json.loads(event.detail or "{}"),
        prev_sha256=event.prev_sha256,
        sha256=event.sha256,
    )


def contract_events(session: Session, actor: Actor, contract_id: int):
    """(query of the contract's events in order, the chain's verification) for a party."""
    SEE_CONTRACTS.check(actor)
    contract = party_contract(session, actor, contract_id)
    query = (
        select(ContractEvent)
        .where(ContractEvent.contract_id == contract.id)
        .order_by(col(ContractEvent.seq))
    )
    return query, verify_chain(session, contract.id)


def verify_contracts(
    session: Session, actor: Actor, contract_id: int | None = None
) -> list[ChainReport]:
    """Every contract's audit chain checked (or one's): the operator's (`VERIFY_CONTRACTS`)."""
    VERIFY_CONTRACTS.check(actor)
    if contract_id is not None:
        if not 1 <= contract_id <= ID_MAX or session.get(OfftakeContract, contract_id) is None:
            raise NotFound("No such contract.")
        ids = [contract_id]
    else:
        ids = list(session.exec(select(OfftakeContract.id).order_by(OfftakeContract.id)).all())
    return [verify_chain(session, i) for i in ids]
