"""Deliveries against a contract's monthly obligations: recorded by the seller with its
documents and an assay graded against the contract's grade version, accepted or disputed by
the buyer, a dispute settled by the split-assay rule of the quality module.

The flow:
1. The seller records a delivery on an open month of an active contract: date, net tonnes
   (more than zero), vehicle or container, an assay of its own organisation of the contract's
   material, and documents (weighbridge ticket, assay report, other: PDF, PNG or JPEG, at most
   5 MB each, checked by their content, not their name). The assay is graded against the
   contract's grade version (`quality.assays.assess_assay`): outcome and price adjustment in
   yen per tonne (negative: a deduction) are stored on the delivery.
2. The buyer accepts it — it then counts toward the month's delivered volume, unless its
   grade rejects the lot (status `rejected`) — or disputes it with a reason.
3. A dispute is settled parameter by parameter over the parameters the grade limits: the
   buyer attaches its own assay; two assays within the splitting limit are averaged; beyond
   it an umpire laboratory's assay settles and the party further from it pays the umpire's fee
   (`quality.pricing.split_assay` / `settle_with_umpire`). The splitting limit is the two
   assays' combined expanded uncertainty, √(U_seller² + U_buyer²), rounded up to the finer of
   their decimal places (the contract terms carry no splitting limit of their own). The
   settled values regrade the delivery: `settled` counts toward the month, `rejected` does not.
Volume moves only by conditional updates: a delivery changes state with an UPDATE that
requires its current state, and only the request that won that change adds its kilograms to
the month (`delivered_kg = delivered_kg + kg`), so two buyers' clicks at once count a lot once.
A delivery is recorded only while its month is open: the month's row is locked by a
conditional UPDATE, so a month being closed at that moment refuses the delivery (409).
A delivery that starts counting (accepted, or settled by the dispute flow) credits the
buyer's chain-of-custody balance of the contract grade's material with its net mass, in the
same transaction and once per delivery (`quality.custody.credit_delivery`); the lot's assay
travels with the credit, so its certificates can back the buyer's recycled-content claims.
No step moves a counted delivery out of counting; one that does must call
`quality.custody.reverse_delivery`.

Who may (checked here, whatever the caller):
- record a delivery: a trader, signatory or inspector of the verified seller
  (`RECORD_DELIVERIES`);
- accept or dispute: a trader, signatory or inspector of the verified buyer
  (`DECIDE_DELIVERIES`);
- add documents and take part in settling a dispute (the buyer's own assay, the umpire's
  assay): a trader, signatory or inspector of either verified party (`HANDLE_DELIVERIES`);
- read deliveries, their documents and the months: members of the two parties, whatever
  their organisation's state (`SEE_DELIVERIES`).
Anyone else: the contract or delivery does not exist (NotFound). Functions flush, never commit;
every step appends an event to the contract's chain.
"""

import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_CEILING, Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import update
from sqlmodel import Session, col, or_, select

from contracts.events import append_event
from contracts.invoicing import issue_credit_note
from contracts.models import (
    COUNTED,
    ContractStatus,
    ContractTerms,
    Delivery,
    DeliveryDocument,
    DeliveryObligation,
    DeliveryStatus,
    ObligationStatus,
    OfftakeContract,
)
from contracts.obligations import first_of_month, in_term, obligations_of_contract
from market.alerts import notify_organization
from market.allocation import tonnes_to_kg
from market.listings import kg_to_tonnes
from participants.actors import Actor, permission
from participants.columns import tokyo_today, utcnow
from participants.errors import N_, Conflict, NotFound, PermissionDenied, ValidationFailed
from participants.fields import (
    Day,
    Id,
    Line,
    Month,
    Paging,
    Paragraphs,
    Tonnes,
    has_forbidden_characters,
)
from participants.models import OrgKind, Role
from quality.assays import assess_assay, assess_measurements, inspections_of, measurements_of
from quality.catalogue import spec_of
from quality.custody import credit_delivery
from quality.grading import Measurement, Outcome
from quality.models import Assay, GradeStandard, StandardVersion
from quality.pricing import FeePayer, settle_with_umpire, split_assay

TOKYO = ZoneInfo("Asia/Tokyo")
DELIVERY_ROLES = (Role.TRADER, Role.SIGNATORY, Role.INSPECTOR)

RECORD_DELIVERIES = permission(
    N_("Only the seller's traders, signatories and inspectors record deliveries."),
    kinds=[OrgKind.RECYCLER],
    roles=DELIVERY_ROLES,
)
DECIDE_DELIVERIES = permission(
    N_("Only the buyer's traders, signatories and inspectors accept or dispute deliveries."),
    kinds=[OrgKind.MANUFACTURER],
    roles=DELIVERY_ROLES,
)
HANDLE_DELIVERIES = permission(
    N_("Only traders, signatories and inspectors of the two parties may do this."),
    kinds=[OrgKind.RECYCLER, OrgKind.MANUFACTURER],
    roles=DELIVERY_ROLES,
)
SEE_DELIVERIES = permission(
    N_("Only members of the two parties see a contract's deliveries."), verified=False
)

# Documents: what they are, which files, how large.
DocumentKind = Literal["weighbridge_ticket", "assay_report", "other"]
DOCUMENT_KINDS: tuple[str, ...] = ("weighbridge_ticket", "assay_report", "other")
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAX_DOCUMENTS = 20  # per delivery
# The file's first bytes decide its type (a name or a declared type can say anything).
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
DOCUMENT_LIMITS = "PDF, PNG or JPEG, at most 5 MB each"

DeliveryStatusName = Literal["recorded", "accepted", "disputed", "settled", "rejected"]


# ----------------------------------------------------------------------------------------------
# Input and output shapes (shared by the pages and the API)
# ----------------------------------------------------------------------------------------------


class DeliveryIn(BaseModel):
    """A delivery on one of the seller's active contracts (documents are uploaded apart)."""

    model_config = ConfigDict(extra="forbid")
    contract_id: Id
    delivered_on: Day = Field(description="YYYY-MM-DD; its month must be open, not in the future")
    net_t: Tonnes = Field(description="net tonnes weighed, more than zero")
    vehicle: Line(80) = Field(default="", description="vehicle plate or container number")
    assay_id: Id = Field(description="an assay of the seller's organisation, of the material")


class DocumentIn(BaseModel):
    """What an uploaded document is (the file itself travels as multipart/form-data)."""

    model_config = ConfigDict(extra="forbid")
    kind: DocumentKind = Field(description="weighbridge_ticket, assay_report or other")


class DisputeIn(BaseModel):
    """Why the buyer disputes the delivery; optionally its own assay of the lot."""

    model_config = ConfigDict(extra="forbid")
    reason: Paragraphs(2000) = Field(description="why the delivery is disputed (required)")
    buyer_assay_id: Id | None = Field(default=None, description="an assay of the buyer's own")


class SettleIn(BaseModel):
    """The buyer's own assay, or the umpire laboratory's assay (entered by either party)."""

    model_config = ConfigDict(extra="forbid")
    buyer_assay_id: Id | None = Field(default=None, description="the buyer's only")
    umpire_assay_id: Id | None = Field(
        default=None, description="an assay from a third laboratory, entered by either party"
    )


class DeliveryQuery(Paging):
    contract_id: Id | None = None
    month: Month | None = Field(default=None, description="YYYY-MM: the delivery month")
    status: DeliveryStatusName | None = None


@dataclass(frozen=True)
class DocumentFile:
    """An uploaded file: the input name it came in (for error messages), its kind and bytes."""

    field: str
    kind: str
    filename: str
    data: bytes


class DocumentOut(BaseModel):
    """A document of a delivery (download it from `url`)."""

    id: int
    kind: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_at: datetime
    url: str = Field(description="API path of the file")


class ParameterSettlementOut(BaseModel):
    """How one graded parameter of a disputed delivery settles."""

    parameter: str
    seller: str | None
    buyer: str | None
    difference: str | None
    splitting_limit: str | None
    umpire: str | None
    settled: str | None = Field(description="the value graded; null while an umpire is needed")
    basis: Literal["seller", "average", "umpire", "pending"]


class DeliveryOut(BaseModel):
    """A delivery: weight, grade and price adjustment, state, documents."""

    id: int
    contract_id: int
    obligation_id: int
    month: str = Field(description="YYYY-MM")
    side: Literal["seller", "buyer"] = Field(description="the caller's side")
    delivered_on: date
    net_t: str = Field(description="net tonnes")
    vehicle: str
    status: DeliveryStatusName
    counted: bool = Field(description="counts toward the month's delivered volume")
    assay_id: int | None
    outcome: str = Field(description="the grade's outcome, e.g. conforms_with_deductions")
    adjustment_jpy_per_t: int = Field(description="yen per tonne; negative: a deduction")
    buyer_assay_id: int | None
    umpire_assay_id: int | None
    dispute_reason: str
    umpire_required: bool = Field(description="the assays differ beyond the splitting limit")
    recorded_at: datetime
    decided_at: datetime | None
    documents: list[DocumentOut]
    settlement: list[ParameterSettlementOut] | None = Field(
        description="per graded parameter, once the buyer's assay is attached"
    )


class ObligationOut(BaseModel):
    """A contract month: due, the band the tolerance allows, delivered (accepted lots)."""

    id: int
    contract_id: int
    month: str = Field(description="YYYY-MM")
    due_on: date
    due_t: str
    min_t: str
    max_t: str
    delivered_t: str
    status: Literal["open", "closed", "invoiced"]


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParameterSettlement:
    """One graded parameter of a dispute: the values, the limit, and what it settles at."""

    parameter: str
    seller: Measurement | None
    buyer: Measurement | None
    splitting_limit: Decimal | None
    umpire: Measurement | None
    settled: Measurement | None  # None: the umpire's assay is needed
    basis: str  # seller | average | umpire | pending
    fee_payer: FeePayer | None = None

    @property
    def difference(self) -> Decimal | None:
        if self.seller is None or self.buyer is None:
            return None
        return abs(self.seller.value - self.buyer.value)


@dataclass
class DeliveryView:
    """A delivery with what its page and its API answer show."""

    delivery: Delivery
    contract: OfftakeContract
    month: date
    documents: list[DeliveryDocument]
    settlement: list[ParameterSettlement] | None = None
    umpire_required: bool = False
    actor_side: str = "seller"
    notes: list = field(default_factory=list)


def _party_contract(session: Session, actor: Actor, contract_id: int) -> OfftakeContract:
    contract = session.get(OfftakeContract, contract_id) if 1 <= contract_id < 2**31 else None
    if contract is None or not (
        actor.owns(contract.seller_org_id) or actor.owns(contract.buyer_org_id)
    ):
        raise NotFound("No such contract.", field="contract_id")
    return contract


def _signed_terms(session: Session, contract: OfftakeContract) -> ContractTerms:
    terms = session.exec(
        select(ContractTerms).where(
            ContractTerms.contract_id == contract.id,
            ContractTerms.version == contract.active_version,
        )
    ).first()
    if terms is None:
        raise Conflict("The contract is not active.", field="contract_id")
    return terms


def _party_delivery(
    session: Session, actor: Actor, delivery_id: int
) -> tuple[Delivery, OfftakeContract]:
    delivery = session.get(Delivery, delivery_id) if 1 <= delivery_id < 2**31 else None
    contract = session.get(OfftakeContract, delivery.contract_id) if delivery else None
    if contract is None or not (
        actor.owns(contract.seller_org_id) or actor.owns(contract.buyer_org_id)
    ):
        raise NotFound("No such delivery.")
    return delivery, contract


def _side(actor: Actor, contract: OfftakeContract) -> str:
    return "seller" if actor.owns(contract.seller_org_id) else "buyer"


def documents_of(session: Session, delivery_ids: Sequence[int]) -> dict[int, list]:
    """Each delivery's documents without their bytes (one query)."""
    out: dict[int, list] = {i: [] for i in delivery_ids}
    if not delivery_ids:
        return out
    rows = session.exec(
        select(
            DeliveryDocument.id,
            DeliveryDocument.delivery_id,
            DeliveryDocument.kind,
            DeliveryDocument.filename,
            DeliveryDocument.content_type,
            DeliveryDocument.size_bytes,
            DeliveryDocument.sha256,
            DeliveryDocument.uploaded_at,
        )
        .where(col(DeliveryDocument.delivery_id).in_(list(delivery_ids)))
        .order_by(col(DeliveryDocument.id))
    ).all()
    for row in rows:
        out[row.delivery_id].append(row)
    return out


def deliveries_query(actor: Actor, query: DeliveryQuery | None = None):
    """The actor's organisation's deliveries (either side), newest first, filtered."""
    SEE_DELIVERIES.check(actor)
    org = actor.organization_id
    stmt = (
        select(Delivery)
        .join(OfftakeContract, OfftakeContract.id == Delivery.contract_id)
        .where(or_(OfftakeContract.seller_org_id == org, OfftakeContract.buyer_org_id == org))
    )
    if query is not None:
        if query.contract_id is not None:
            stmt = stmt.where(Delivery.contract_id == query.contract_id)
        if query.month is not None:
            stmt = stmt.join(DeliveryObligation, DeliveryObligation.id == Delivery.obligation_id)
            stmt = stmt.where(DeliveryObligation.month == first_of_month(query.month))
        if query.status is not None:
            stmt = stmt.where(Delivery.status == query.status)
    return stmt.order_by(col(Delivery.delivered_on).desc(), col(Delivery.id).desc())


def delivery_views(session: Session, actor: Actor, deliveries: Sequence[Delivery]) -> list:
    """Views of a page of deliveries (three queries, whatever the page size)."""
    ids = [d.id for d in deliveries]
    docs = documents_of(session, ids)
    contracts = {
        c.id: c
        for c in session.exec(
            select(OfftakeContract).where(
                col(OfftakeContract.id).in_({d.contract_id for d in deliveries} or {0})
            )
        ).all()
    }
    months = dict(
        session.exec(
            select(DeliveryObligation.id, DeliveryObligation.month).where(
                col(DeliveryObligation.id).in_({d.obligation_id for d in deliveries} or {0})
            )
        ).all()
    )
    return [
        DeliveryView(
            d,
            contracts[d.contract_id],
            months[d.obligation_id],
            docs[d.id],
            actor_side=_side(actor, contracts[d.contract_id]),
        )
        for d in deliveries
    ]


def read_delivery(session: Session, actor: Actor, delivery_id: int) -> DeliveryView:
    """One delivery of the actor's organisation's contracts, with its documents and, once the
    buyer's assay is attached, how each graded parameter settles."""
    SEE_DELIVERIES.check(actor)
    delivery, contract = _party_delivery(session, actor, delivery_id)
    obligation = session.get(DeliveryObligation, delivery.obligation_id)
    view = DeliveryView(
        delivery,
        contract,
        obligation.month,
        documents_of(session, [delivery.id])[delivery.id],
        actor_side=_side(actor, contract),
    )
    if delivery.buyer_assay_id is not None and delivery.assay_id is not None:
        terms = _signed_terms(session, contract)
        lines = _settlement(session, delivery, terms)
        view.settlement = lines
        view.umpire_required = any(p.basis in ("pending", "umpire") for p in lines)
    return view


def read_document(
    session: Session, actor: Actor, delivery_id: int, document_id: int
) -> DeliveryDocument:
    """A document of a delivery, for the two parties only (anyone else: NotFound)."""
    SEE_DELIVERIES.check(actor)
    _party_delivery(session, actor, delivery_id)
    document = session.get(DeliveryDocument, document_id) if 1 <= document_id < 2**31 else None
    if document is None or document.delivery_id != delivery_id:
        raise NotFound("No such document.")
    return document


@dataclass
class ContractOperations:
    """A contract's months and deliveries, for its operations page."""

    contract: OfftakeContract
    terms: ContractTerms | None
    obligations: list[DeliveryObligation]
    deliveries: list[DeliveryView]
    side: str


def contract_operations(session: Session, actor: Actor, contract_id: int) -> ContractOperations:
    """The months (due, band, delivered, state) and deliveries of one of the actor's
    organisation's contracts."""
    SEE_DELIVERIES.check(actor)
    contract = _party_contract(session, actor, contract_id)
    terms = _signed_terms(session, contract) if contract.active_version is not None else None
    deliveries = list(
        session.exec(
            select(Delivery)
            .where(Delivery.contract_id == contract.id)
            .order_by(col(Delivery.delivered_on).desc(), col(Delivery.id).desc())
        ).all()
    )
    return ContractOperations(
        contract,
        terms,
        obligations_of_contract(session, contract.id),
        delivery_views(session, actor, deliveries),
        _side(actor, contract),
    )


def contract_obligations(
    session: Session, actor: Actor, contract_id: int
) -> list[DeliveryObligation]:
    """The months of one of the actor's organisation's contracts."""
    SEE_DELIVERIES.check(actor)
    contract = _party_contract(session, actor, contract_id)
    return obligations_of_contract(session, contract.id)


@dataclass
class DeliveryForm:
    """What the form to record a delivery offers: the open months and the seller's assays."""

    contract: OfftakeContract
    open_months: list[date]
    assays: list[Assay]


def delivery_form(session: Session, actor: Actor, contract_id: int) -> DeliveryForm:
    """The choices of the record-a-delivery form (asked by the form page: same permission)."""
    RECORD_DELIVERIES.check(actor)
    contract = _seller_contract(session, actor, contract_id)
    months = session.exec(
        select(DeliveryObligation.month)
        .where(
            DeliveryObligation.contract_id == contract.id,
            DeliveryObligation.status == ObligationStatus.OPEN,
        )
        .order_by(col(DeliveryObligation.month))
    ).all()
    assays = session.exec(
        select(Assay)
        .where(
            Assay.organization_id == actor.organization_id,
            Assay.material_code == contract.material_code,
        )
        .order_by(col(Assay.id).desc())
        .limit(200)
    ).all()
    return DeliveryForm(contract, list(months), list(assays))


def dispute_assays(session: Session, actor: Actor, view: DeliveryView) -> list[Assay]:
    """The actor's organisation's assays of the delivery's material other than the seller's
    assay of the lot: what it may attach to a dispute (none for those who may not)."""
    open_states = (DeliveryStatus.RECORDED, DeliveryStatus.DISPUTED)
    if not HANDLE_DELIVERIES.allows(actor) or view.delivery.status not in open_states:
        return []
    return list(
        session.exec(
            select(Assay)
            .where(
                Assay.organization_id == actor.organization_id,
                Assay.material_code == view.contract.material_code,
                Assay.id != view.delivery.assay_id,
            )
            .order_by(col(Assay.id).desc())
            .limit(200)
        ).all()
    )


# ----------------------------------------------------------------------------------------------
# Output mapping
# ----------------------------------------------------------------------------------------------


def _number(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def document_out(delivery_id: int, d) -> DocumentOut:
    return DocumentOut(
        id=d.id,
        kind=d.kind,
        filename=d.filename,
        content_type=d.content_type,
        size_bytes=d.size_bytes,
        sha256=d.sha256,
        uploaded_at=d.uploaded_at,
        url=f"/api/v1/deliveries/{delivery_id}/documents/{d.id}",
    )


def parameter_settlement_out(p: ParameterSettlement) -> ParameterSettlementOut:
    return ParameterSettlementOut(
        parameter=p.parameter,
        seller=_number(p.seller.value) if p.seller else None,
        buyer=_number(p.buyer.value) if p.buyer else None,
        difference=_number(p.difference),
        splitting_limit=_number(p.splitting_limit),
        umpire=_number(p.umpire.value) if p.umpire else None,
        settled=_number(p.settled.value) if p.settled else None,
        basis=p.basis,
    )


def delivery_out(view: DeliveryView) -> DeliveryOut:
    d = view.delivery
    return DeliveryOut(
        id=d.id,
        contract_id=d.contract_id,
        obligation_id=d.obligation_id,
        month=view.month.strftime("%Y-%m"),
        side=view.actor_side,
        delivered_on=d.delivered_on,
        net_t=str(kg_to_tonnes(d.net_kg)),
        vehicle=d.vehicle,
        status=d.status,
        counted=d.status in COUNTED,
        assay_id=d.assay_id,
        outcome=d.outcome,
        adjustment_jpy_per_t=d.adjustment_jpy_per_t,
        buyer_assay_id=d.buyer_assay_id,
        umpire_assay_id=d.umpire_assay_id,
        dispute_reason=d.dispute_reason,
        umpire_required=view.umpire_required,
        recorded_at=d.recorded_at,
        decided_at=d.decided_at,
        documents=[document_out(d.id, doc) for doc in view.documents],
        settlement=(
            [parameter_settlement_out(p) for p in view.settlement]
            if view.settlement is not None
            else None
        ),
    )


def obligation_out(o: DeliveryObligation) -> ObligationOut:
    return ObligationOut(
        id=o.id,
        contract_id=o.contract_id,
        month=o.month.strftime("%Y-%m"),
        due_on=o.due_on,
        due_t=str(kg_to_tonnes(o.due_kg)),
        min_t=str(kg_to_tonnes(o.min_kg)),
        max_t=str(kg_to_tonnes(o.max_kg)),
        delivered_t=str(kg_to_tonnes(o.delivered_kg)),
        status=o.status,
    )


# ----------------------------------------------------------------------------------------------
# Documents
# ----------------------------------------------------------------------------------------------


def sniff_content_type(data: bytes) -> str | None:
    """PDF, PNG or JPEG by the file's first bytes; None for anything else."""
    for magic, content_type in SIGNATURES:
        if data.startswith(magic):
            return content_type
    return None


def clean_filename(name: str) -> str:
    """The file's own name (no folders), without control or text-direction characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if not has_forbidden_characters(c)).strip()
    base = unicodedata.normalize("NFC", base)
    if len(base) > 200:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 199 - len(ext)] + dot + ext) if dot and len(ext) <= 10 else base[:200]
    return base or "document"


def check_document(doc: DocumentFile) -> str:
    """The document's content type, or ValidationFailed (on the input field it came in)."""
    if doc.kind not in DOCUMENT_KINDS:
        raise ValidationFailed("Choose one of the allowed values.", field="kind")
    if not doc.data:
        raise ValidationFailed("The file is empty.", field=doc.field)
    if len(doc.data) > MAX_DOCUMENT_BYTES:
        raise ValidationFailed("A file may be at most 5 MB.", field=doc.field)
    content_type = sniff_content_type(doc.data)
    if content_type is None:
        raise ValidationFailed("Upload a PDF, PNG or JPEG file.", field=doc.field)
    return content_type


def _store_document(
    session: Session, actor: Actor, delivery: Delivery, doc: DocumentFile, content_type: str
) -> DeliveryDocument:
    document = DeliveryDocument(
        delivery_id=delivery.id,
        kind=doc.kind,
        filename=clean_filename(doc.filename),
        content_type=content_type,
        size_bytes=len(doc.data),
        sha256=hashlib.sha256(doc.data).hexdigest(),
        data=doc.data,
        uploaded_by_member_id=actor.member_id,
    )
    session.add(document)
    session.flush()
    return document


def add_document(
    session: Session, actor: Actor, delivery_id: int, doc: DocumentFile
) -> DeliveryDocument:
    """Attach a document to a delivery of the actor's organisation's contract
    (`HANDLE_DELIVERIES`): PDF, PNG or JPEG by content, at most 5 MB, 20 a delivery."""
    HANDLE_DELIVERIES.check(actor)
    delivery, contract = _party_delivery(session, actor, delivery_id)
    content_type = check_document(doc)
    count = len(documents_of(session, [delivery.id])[delivery.id])
    if count >= MAX_DOCUMENTS:
        raise Conflict("A delivery has at most %(n)s documents.", field=doc.field, n=MAX_DOCUMENTS)
    document = _store_document(session, actor, delivery, doc, content_type)
    append_event(
        session,
        contract.id,
        "delivery.document_added",
        actor,
        {
            "delivery": delivery.id,
            "document": document.id,
            "kind": document.kind,
            "sha256": document.sha256,
            "size_bytes": document.size_bytes,
        },
    )
    return document


# ----------------------------------------------------------------------------------------------
# Recording
# ----------------------------------------------------------------------------------------------


def _seller_contract(session: Session, actor: Actor, contract_id: int) -> OfftakeContract:
    contract = _party_contract(session, actor, contract_id)
    if not actor.owns(contract.seller_org_id):
        raise PermissionDenied("Only the seller records deliveries.")
    return contract


def _grade_version(session: Session, terms: ContractTerms):
    version = session.get(StandardVersion, terms.standard_version_id)
    return session.get(GradeStandard, version.standard_id), version


def _own_assay(session: Session, actor: Actor, assay_id: int, material: str, name: str) -> Assay:
    assay = session.get(Assay, assay_id)
    if assay is None or not actor.owns(assay.organization_id):
        raise NotFound("No such assay.", field=name)
    if assay.material_code != material:
        raise ValidationFailed("The assay is of another material than the contract's.", field=name)
    return assay


def _lock_open_month(session: Session, obligation: DeliveryObligation) -> None:
    """Hold the month open for this transaction (a conditional UPDATE locks its row), or
    Conflict when it was closed meanwhile."""
    locked = session.execute(
        update(DeliveryObligation)
        .where(
            DeliveryObligation.id == obligation.id,
            DeliveryObligation.status == ObligationStatus.OPEN,
        )
        .values(status=ObligationStatus.OPEN)
        .execution_options(synchronize_session=False)
    )
    if locked.rowcount != 1:
        raise Conflict(
            "The delivery month %(month)s is closed.",
            field="delivered_on",
            month=obligation.month.strftime("%Y-%m"),
        )


def record_delivery(
    session: Session,
    actor: Actor,
    data: DeliveryIn,
    documents: Sequence[DocumentFile] = (),
    today: date | None = None,
) -> Delivery:
    """The seller records a delivery on an open month of an active contract, graded from its
    assay (`RECORD_DELIVERIES`). Every input and file is checked before anything is written."""
    RECORD_DELIVERIES.check(actor)
    contract = _seller_contract(session, actor, data.contract_id)
    kg = tonnes_to_kg(data.net_t)
    if kg <= 0:
        raise ValidationFailed("The net weight must be more than zero.", field="net_t")
    types = [check_document(doc) for doc in documents]
    if len(documents) > MAX_DOCUMENTS:
        raise ValidationFailed("A delivery has at most %(n)s documents.", n=MAX_DOCUMENTS)
    if contract.status != ContractStatus.ACTIVE:
        raise Conflict("The contract is not active.", field="contract_id")
    terms = _signed_terms(session, contract)
    if data.delivered_on > (today or tokyo_today()):
        raise ValidationFailed("The delivery date cannot be in the future.", field="delivered_on")
    month = first_of_month(data.delivered_on)
    label = month.strftime("%Y-%m")
    obligation = session.exec(
        select(DeliveryObligation).where(
            DeliveryObligation.contract_id == contract.id, DeliveryObligation.month == month
        )
    ).first()
    if obligation is None:
        if not in_term(terms.start_month, terms.term_months, month):
            raise ValidationFailed(
                "%(month)s is outside the contract's term.", field="delivered_on", month=label
            )
        raise Conflict(
            "The delivery month %(month)s is not open yet.", field="delivered_on", month=label
        )
    if obligation.status != ObligationStatus.OPEN:
        raise Conflict("The delivery month %(month)s is closed.", field="delivered_on", month=label)
    assay = _own_assay(session, actor, data.assay_id, contract.material_code, "assay_id")
    standard, version = _grade_version(session, terms)
    assessment = assess_assay(session, assay, standard, version).assessment

    _lock_open_month(session, obligation)
    delivery = Delivery(
        contract_id=contract.id,
        obligation_id=obligation.id,
        delivered_on=data.delivered_on,
        net_kg=kg,
        vehicle=data.vehicle.strip(),
        status=DeliveryStatus.RECORDED,
        assay_id=assay.id,
        outcome=str(assessment.outcome),
        adjustment_jpy_per_t=assessment.adjustment_jpy_per_t,
        recorded_by_member_id=actor.member_id,
    )
    session.add(delivery)
    session.flush()
    stored = [
        _store_document(session, actor, delivery, doc, content_type)
        for doc, content_type in zip(documents, types, strict=True)
    ]
    append_event(
        session,
        contract.id,
        "delivery.recorded",
        actor,
        {
            "delivery": delivery.id,
            "month": label,
            "delivered_on": delivery.delivered_on.isoformat(),
            "net_kg": kg,
            "assay": assay.id,
            "grade": f"{standard.code}:{version.number}",
            "outcome": delivery.outcome,
            "adjustment_jpy_per_t": delivery.adjustment_jpy_per_t,
            "documents": [{"id": d.id, "kind": d.kind, "sha256": d.sha256} for d in stored],
        },
    )
    notify_organization(
        session,
        contract.buyer_org_id,
        N_("A delivery of %(tonnes)s t on contract #%(contract)s awaits your acceptance."),
        {"tonnes": str(kg_to_tonnes(kg)), "contract": contract.id},
        f"/deliveries/{delivery.id}",
        f"delivery-recorded:{delivery.id}",
        roles=DELIVERY_ROLES,
    )
    return delivery


# ----------------------------------------------------------------------------------------------
# The buyer's decision
# ----------------------------------------------------------------------------------------------


def _buyer_delivery(
    session: Session, actor: Actor, delivery_id: int
) -> tuple[Delivery, OfftakeContract]:
    delivery, contract = _party_delivery(session, actor, delivery_id)
    if not actor.owns(contract.buyer_org_id):
        raise PermissionDenied("Only the buyer accepts or disputes a delivery.")
    return delivery, contract


def _transition(session: Session, delivery: Delivery, source: str, values: dict) -> bool:
    """Move a delivery from `source` with one conditional UPDATE; True for the winner."""
    moved = session.execute(
        update(Delivery)
        .where(Delivery.id == delivery.id, Delivery.status == source)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.expire(delivery)
    return moved.rowcount == 1


def _count_toward_month(session: Session, delivery: Delivery) -> None:
    session.execute(
        update(DeliveryObligation)
        .where(DeliveryObligation.id == delivery.obligation_id)
        .values(delivered_kg=DeliveryObligation.delivered_kg + delivery.net_kg)
        .execution_options(synchronize_session=False)
    )
    obligation = session.get(DeliveryObligation, delivery.obligation_id)
    if obligation is not None:
        session.expire(obligation)


def _credit_buyer(
    session: Session, actor: Actor, delivery: Delivery, contract: OfftakeContract
) -> None:
    """The delivery now counts: credit its net mass to the buyer's balance of the material
    of the contract's grade (recycled input, share 100 percent), once per delivery."""
    standard, _version = _grade_version(session, _signed_terms(session, contract))
    credit_delivery(
        session,
        organization_id=contract.buyer_org_id,
        material_code=standard.material_code,
        delivery_id=delivery.id,
        net_kg=delivery.net_kg,
        assay_id=delivery.assay_id,
        note=f"Contract #{contract.id}, delivery #{delivery.id}",
        member_id=actor.member_id,
    )


def accept_delivery(session: Session, actor: Actor, delivery_id: int) -> Delivery:
    """The buyer accepts the delivery as graded (`DECIDE_DELIVERIES`): it counts toward the
    month, unless its grade rejects the lot (then it is `rejected`)."""
    DECIDE_DELIVERIES.check(actor)
    delivery, contract = _buyer_delivery(session, actor, delivery_id)
    rejected = delivery.outcome == Outcome.REJECTED
    target = DeliveryStatus.REJECTED if rejected else DeliveryStatus.ACCEPTED
    won = _transition(
        session,
        delivery,
        DeliveryStatus.RECORDED,
        {"status": target, "decided_by_member_id": actor.member_id, "decided_at": utcnow()},
    )
    if not won:
        raise Conflict("The delivery has already been decided.")
    if not rejected:
        _count_toward_month(session, delivery)
        _credit_buyer(session, actor, delivery, contract)
    append_event(
        session,
        contract.id,
        "delivery.rejected" if rejected else "delivery.accepted",
        actor,
        {"delivery": delivery.id, "net_kg": delivery.net_kg, "counted": not rejected},
    )
    _correct_invoice(session, actor, delivery)
    return delivery


def _correct_invoice(session: Session, actor: Actor, delivery: Delivery) -> None:
    """A delivery decided after its month was invoiced: the invoice's credit note."""
    issue_credit_note(session, actor, delivery)


def dispute_delivery(session: Session, actor: Actor, delivery_id: int, data: DisputeIn) -> Delivery:
    """The buyer disputes the delivery with a reason (`DECIDE_DELIVERIES`), optionally with its
    own assay: within the splitting limit the dispute settles at once."""
    DECIDE_DELIVERIES.check(actor)
    delivery, contract = _buyer_delivery(session, actor, delivery_id)
    reason = data.reason.strip()
    if not reason:
        raise ValidationFailed("Say why the delivery is disputed.", field="reason")
    buyer_assay = None
    if data.buyer_assay_id is not None:
        buyer_assay = _own_assay(
            session, actor, data.buyer_assay_id, contract.material_code, "buyer_assay_id"
        )
    won = _transition(
        session,
        delivery,
        DeliveryStatus.RECORDED,
        {
            "status": DeliveryStatus.DISPUTED,
            "dispute_reason": reason,
            "decided_by_member_id": actor.member_id,
            "decided_at": utcnow(),
        },
    )
    if not won:
        raise Conflict("The delivery has already been decided.")
    append_event(
        session,
        contract.id,
        "delivery.disputed",
        actor,
        {"delivery": delivery.id, "reason": reason, "buyer_assay": data.buyer_assay_id},
    )
    notify_organization(
        session,
        contract.seller_org_id,
        N_("The buyer disputes delivery #%(delivery)s on contract #%(contract)s."),
        {"delivery": delivery.id, "contract": contract.id},
        f"/deliveries/{delivery.id}",
        f"delivery-disputed:{delivery.id}",
        roles=DELIVERY_ROLES,
    )
    if buyer_assay is not None:
        _attach(session, delivery, "buyer_assay_id", buyer_assay.id)
        _try_settle(session, actor, delivery, contract)
    return delivery


# ----------------------------------------------------------------------------------------------
# Settling a dispute
# ----------------------------------------------------------------------------------------------


def splitting_limit(seller: Measurement, buyer: Measurement) -> Decimal:
    """√(U_seller² + U_buyer²), rounded up to the finer decimal place of the two."""
    combined = (seller.uncertainty**2 + buyer.uncertainty**2).sqrt()
    places = min(
        _exponent(x) for x in (seller.value, seller.uncertainty, buyer.value, buyer.uncertainty)
    )
    return combined.quantize(Decimal(1).scaleb(places), rounding=ROUND_CEILING)


def _exponent(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def settle_parameters(
    graded: Sequence[str],
    seller: dict[str, Measurement],
    buyer: dict[str, Measurement],
    umpire: dict[str, Measurement] | None = None,
) -> list[ParameterSettlement]:
    """How each graded parameter settles: the seller's value where the buyer did not measure
    it; the average within the splitting limit; beyond it the umpire's value (pending without
    it). Pure: values in, values out."""
    lines: list[ParameterSettlement] = []
    for code in graded:
        s, b = seller.get(code), buyer.get(code)
        if s is None or b is None:
            lines.append(ParameterSettlement(code, s, b, None, None, s, "seller"))
            continue
        limit = splitting_limit(s, b)
        split = split_assay(s.value, b.value, limit)
        if split.settled:
            uncertainty = splitting_limit(s, b) / 2
            value = Measurement(code, split.value, uncertainty)
            lines.append(ParameterSettlement(code, s, b, limit, None, value, "average"))
            continue
        u = (umpire or {}).get(code)
        if u is None:
            lines.append(ParameterSettlement(code, s, b, limit, None, None, "pending"))
            continue
        result = settle_with_umpire(s.value, b.value, u.value)
        lines.append(
            ParameterSettlement(
                code,
                s,
                b,
                limit,
                u,
                Measurement(code, u.value, u.uncertainty),
                "umpire",
                result.fee_payer,
            )
        )
    return lines


def umpire_fee_payer(lines: Sequence[ParameterSettlement]) -> FeePayer | None:
    """Who pays the umpire: the party further from it on every parameter it settled, else
    the fee is split; None when no umpire was needed."""
    payers = {p.fee_payer for p in lines if p.basis == "umpire"}
    if not payers:
        return None
    return payers.pop() if len(payers) == 1 else FeePayer.SPLIT


def _by_parameter(measurements: Sequence[Measurement]) -> dict[str, Measurement]:
    return {m.parameter: m for m in measurements}


def _settlement(
    session: Session,
    delivery: Delivery,
    terms: ContractTerms,
    buyer_assay_id: int | None = None,
    umpire_assay_id: int | None = None,
) -> list[ParameterSettlement]:
    """The dispute's lines from the attached assays (or the ones about to be attached)."""
    standard, version = _grade_version(session, terms)
    graded = spec_of(version, standard).parameters()
    buyer_id = buyer_assay_id or delivery.buyer_assay_id
    umpire_id = umpire_assay_id or delivery.umpire_assay_id
    seller = _by_parameter(measurements_of(session, session.get(Assay, delivery.assay_id)))
    buyer = _by_parameter(measurements_of(session, session.get(Assay, buyer_id)))
    umpire = None
    if umpire_id is not None:
        umpire = _by_parameter(measurements_of(session, session.get(Assay, umpire_id)))
    return settle_parameters(graded, seller, buyer, umpire)


def _attach(session: Session, delivery: Delivery, column: str, assay_id: int) -> None:
    """Attach an assay once: a conditional UPDATE on a still-disputed delivery without one."""
    attached = session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery.id,
            Delivery.status == DeliveryStatus.DISPUTED,
            col(getattr(Delivery, column)).is_(None),
        )
        .values({column: assay_id})
        .execution_options(synchronize_session=False)
    )
    session.expire(delivery)
    if attached.rowcount != 1:
        raise Conflict("That assay is already attached to the dispute.", field=column)


def _try_settle(
    session: Session, actor: Actor, delivery: Delivery, contract: OfftakeContract
) -> bool:
    """Settle when every graded parameter has its value; else tell both parties an umpire's
    assay is needed. True when the delivery is settled now."""
    terms = _signed_terms(session, contract)
    lines = _settlement(session, delivery, terms)
    detail_values = {
        p.parameter: {
            "seller": _number(p.seller.value) if p.seller else None,
            "buyer": _number(p.buyer.value) if p.buyer else None,
            "limit": _number(p.splitting_limit),
            "umpire": _number(p.umpire.value) if p.umpire else None,
            "settled": _number(p.settled.value) if p.settled else None,
            "basis": p.basis,
        }
        for p in lines
    }
    if any(p.basis == "pending" for p in lines):
        append_event(
            session,
            contract.id,
            "delivery.umpire_required",
            actor,
            {"delivery": delivery.id, "parameters": detail_values},
        )
        for org in (contract.seller_org_id, contract.buyer_org_id):
            notify_organization(
                session,
                org,
                N_(
                    "Delivery #%(delivery)s on contract #%(contract)s needs an umpire's assay: "
                    "the two assays differ by more than the splitting limit."
                ),
                {"delivery": delivery.id, "contract": contract.id},
                f"/deliveries/{delivery.id}",
                f"delivery-umpire:{delivery.id}",
                roles=DELIVERY_ROLES,
            )
        return False
    standard, version = _grade_version(session, terms)
    settled = {p.parameter: p.settled for p in lines}
    seller_assay = session.get(Assay, delivery.assay_id)
    measurements = [settled.get(m.parameter) or m for m in measurements_of(session, seller_assay)]
    inspections = inspections_of(seller_assay)
    if delivery.umpire_assay_id is not None:
        inspections.update(inspections_of(session.get(Assay, delivery.umpire_assay_id)))
    assessment = assess_measurements(
        session, standard, version, measurements, inspections
    ).assessment
    rejected = assessment.outcome == Outcome.REJECTED
    previous = {"outcome": delivery.outcome, "adjustment_jpy_per_t": delivery.adjustment_jpy_per_t}
    won = _transition(
        session,
        delivery,
        DeliveryStatus.DISPUTED,
        {
            "status": DeliveryStatus.REJECTED if rejected else DeliveryStatus.SETTLED,
            "outcome": str(assessment.outcome),
            "adjustment_jpy_per_t": assessment.adjustment_jpy_per_t,
        },
    )
    if not won:
        raise Conflict("The dispute is already settled.")
    if not rejected:
        _count_toward_month(session, delivery)
        _credit_buyer(session, actor, delivery, contract)
    payer = umpire_fee_payer(lines)
    append_event(
        session,
        contract.id,
        "delivery.settled",
        actor,
        {
            "delivery": delivery.id,
            "parameters": detail_values,
            "outcome": str(assessment.outcome),
            "adjustment_jpy_per_t": assessment.adjustment_jpy_per_t,
            "previous": previous,
            "umpire_fee_payer": str(payer) if payer else None,
            "counted": not rejected,
        },
    )
    for org in (contract.seller_org_id, contract.buyer_org_id):
        notify_organization(
            session,
            org,
            N_("The dispute over delivery #%(delivery)s on contract #%(contract)s is settled."),
            {"delivery": delivery.id, "contract": contract.id},
            f"/deliveries/{delivery.id}",
            f"delivery-settled:{delivery.id}",
            roles=DELIVERY_ROLES,
        )
    _correct_invoice(session, actor, delivery)
    return True


def settle_delivery(session: Session, actor: Actor, delivery_id: int, data: SettleIn) -> Delivery:
    """Attach the buyer's own assay (the buyer only) or the umpire laboratory's assay (either
    party; from a laboratory other than the two parties'), then settle by the split-assay rule
    when every graded parameter has its value (`HANDLE_DELIVERIES`)."""
    HANDLE_DELIVERIES.check(actor)
    delivery, contract = _party_delivery(session, actor, delivery_id)
    if data.buyer_assay_id is None and data.umpire_assay_id is None:
        raise ValidationFailed("Give the buyer's assay or the umpire's.", field="buyer_assay_id")
    if delivery.status != DeliveryStatus.DISPUTED:
        raise Conflict("Only a disputed delivery can be settled.")
    material = contract.material_code
    if data.buyer_assay_id is not None:
        if not actor.owns(contract.buyer_org_id):
            raise PermissionDenied("Only the buyer attaches its own assay.")
        if delivery.buyer_assay_id is not None:
            raise Conflict("That assay is already attached to the dispute.", field="buyer_assay_id")
        _own_assay(session, actor, data.buyer_assay_id, material, "buyer_assay_id")
    buyer_assay_id = data.buyer_assay_id or delivery.buyer_assay_id
    if data.umpire_assay_id is not None:
        if buyer_assay_id is None:
            raise Conflict("The buyer's own assay comes first.", field="umpire_assay_id")
        if delivery.umpire_assay_id is not None:
            raise Conflict(
                "That assay is already attached to the dispute.", field="umpire_assay_id"
            )
        umpire = _own_assay(session, actor, data.umpire_assay_id, material, "umpire_assay_id")
        labs = {
            session.get(Assay, i).lab_name.strip().casefold()
            for i in (delivery.assay_id, buyer_assay_id)
            if i is not None
        }
        if umpire.lab_name.strip().casefold() in labs or data.umpire_assay_id in (
            delivery.assay_id,
            buyer_assay_id,
        ):
            raise ValidationFailed(
                "The umpire's assay must come from a laboratory other than the parties'.",
                field="umpire_assay_id",
            )
        lines = _settlement(
            session, delivery, _signed_terms(session, contract), buyer_assay_id, umpire.id
        )
        missing = [p.parameter for p in lines if p.basis == "pending"]
        if missing:
            raise ValidationFailed(
                "The umpire's assay does not measure %(parameter)s.",
                field="umpire_assay_id",
                parameter=missing[0],
            )
    if data.buyer_assay_id is not None:
        _attach(session, delivery, "buyer_assay_id", data.buyer_assay_id)
    if data.umpire_assay_id is not None:
        _attach(session, delivery, "umpire_assay_id", data.umpire_assay_id)
    _try_settle(session, actor, delivery, contract)
    return delivery
