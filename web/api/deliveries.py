"""API: deliveries (record, read, documents, accept, dispute, settle) and a contract's months.

The same domain functions as the pages (`contracts.deliveries`), the same permissions.
JSON bodies stay strict; documents are uploaded apart as multipart/form-data (one file a
request: PDF, PNG or JPEG by content, at most 5 MB).
"""

from flask import g, request
from flask_babel import gettext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.deliveries import (
    MAX_DOCUMENT_BYTES,
    DeliveryIn,
    DeliveryOut,
    DeliveryQuery,
    DisputeIn,
    DocumentFile,
    DocumentIn,
    DocumentKind,
    DocumentOut,
    ObligationOut,
    SettleIn,
    accept_delivery,
    add_document,
    contract_obligations,
    deliveries_query,
    delivery_out,
    delivery_views,
    dispute_delivery,
    document_out,
    obligation_out,
    read_delivery,
    read_document,
    record_delivery,
    settle_delivery,
)
from participants.fields import Paging
from web.api import api_bp
from web.api.openapi import Page, operation
from web.db import get_db
from web.pagination import Page as Pager
from web.pagination import paginate
from web.validation import InputInvalid, input_errors
from web.views.deliveries import document_response

UPLOAD_LIMIT = MAX_DOCUMENT_BYTES + 1024 * 1024  # one file plus the form's other parts


class DocumentUpload(BaseModel):
    """A document of a delivery: its kind and the file (PDF, PNG or JPEG, at most 5 MB)."""

    model_config = ConfigDict(extra="forbid")
    kind: DocumentKind = Field(description="weighbridge_ticket, assay_report or other")
    file: bytes = Field(description="PDF, PNG or JPEG (by content), at most 5 MB")


@api_bp.url_value_preprocessor
def _document_upload_limit(endpoint: str | None, _values: dict | None) -> None:
    # Runs before the app's before_request functions: the body is not read yet.
    if endpoint == "api.upload_delivery_document":
        request.max_content_length = UPLOAD_LIMIT


def _delivery(delivery_id: int) -> DeliveryOut:
    return delivery_out(read_delivery(get_db(), g.caller.actor, delivery_id))


@api_bp.get("/deliveries")
@operation(
    "List deliveries",
    query=DeliveryQuery,
    responses={200: Page[DeliveryOut]},
    tag="deliveries",
)
def list_deliveries(query: DeliveryQuery):
    """Deliveries on the caller's organisation's contracts (as seller or buyer), newest first;
    filter by contract, delivery month (YYYY-MM) and state."""
    db, actor = get_db(), g.caller.actor
    page = paginate(db, deliveries_query(actor, query), paging=query)
    views = delivery_views(db, actor, page.items)
    return page.as_json([delivery_out(v).model_dump(mode="json") for v in views])


@api_bp.post("/deliveries")
@operation(
    "Record a delivery",
    body=DeliveryIn,
    responses={201: DeliveryOut},
    errors=(403, 404, 409),
    tag="deliveries",
)
def create_delivery(body: DeliveryIn):
    """The seller's trader, signatory or inspector records a delivery on an open month of an
    active contract, with an assay of its own organisation; the assay is graded against the
    contract's grade version (outcome and adjustment in yen per tonne, negative: a deduction).
    Upload its documents with POST /deliveries/{id}/documents. A closed month or a month not
    opened yet: 409."""
    delivery = record_delivery(get_db(), g.caller.actor, body)
    return _delivery(delivery.id), 201


@api_bp.get("/deliveries/<int:delivery_id>")
@operation("Read a delivery", responses={200: DeliveryOut}, tag="deliveries")
def get_delivery(delivery_id: int):
    """A delivery on one of the caller's organisation's contracts, with its documents and, in
    a dispute, how each graded parameter settles."""
    return _delivery(delivery_id)


def _read_upload() -> DocumentFile:
    """The multipart body: `kind` and one `file` (nothing else), or InputInvalid (422)."""
    names = list(request.form.keys()) + list(request.files.keys())
    unknown = [n for n in names if n not in DocumentUpload.model_fields]
    if unknown:
        message = gettext("Unknown field.")
        raise InputInvalid([{"field": n, "message": message} for n in unknown])
    try:
        data = DocumentIn.model_validate({k: v for k, v in request.form.items() if k == "kind"})
    except ValidationError as exc:
        raise InputInvalid(input_errors(exc)) from None
    storage = request.files.get("file")
    if storage is None:
        raise InputInvalid([{"field": "file", "message": gettext("This field is required.")}])
    return DocumentFile(
        "file", data.kind, storage.filename or "", storage.read(MAX_DOCUMENT_BYTES + 1)
    )


@api_bp.post("/deliveries/<int:delivery_id>/documents")
@operation(
    "Upload a document of a delivery",
    upload=DocumentUpload,
    responses={201: DocumentOut},
    errors=(403, 409),
    tag="deliveries",
)
def upload_delivery_document(delivery_id: int):
    """multipart/form-data with `kind` (weighbridge_ticket, assay_report, other) and `file`:
    a PDF, PNG or JPEG (recognised by its content), at most 5 MB; at most 20 documents a
    delivery. Either party's trader, signatory or inspector."""
    doc = _read_upload()
    document = add_document(get_db(), g.caller.actor, delivery_id, doc)
    return document_out(delivery_id, document), 201


@api_bp.get("/deliveries/<int:delivery_id>/documents/<int:document_id>")
@operation(
    "Download a document of a delivery",
    responses={200: "The file (application/pdf, image/png or image/jpeg), as an attachment"},
    tag="deliveries",
)
def download_delivery_document(delivery_id: int, document_id: int):
    """The file as uploaded, for members of the two parties only."""
    return document_response(read_document(get_db(), g.caller.actor, delivery_id, document_id))


@api_bp.post("/deliveries/<int:delivery_id>/accept")
@operation(
    "Accept a delivery",
    responses={200: DeliveryOut},
    errors=(403, 409),
    tag="deliveries",
)
def accept_delivery_api(delivery_id: int):
    """The buyer's trader, signatory or inspector accepts the delivery as graded: it counts
    toward its month, unless its grade rejects the lot (state `rejected`). Decided already:
    409."""
    accept_delivery(get_db(), g.caller.actor, delivery_id)
    return _delivery(delivery_id)


@api_bp.post("/deliveries/<int:delivery_id>/dispute")
@operation(
    "Dispute a delivery",
    body=DisputeIn,
    responses={200: DeliveryOut},
    errors=(403, 409),
    tag="deliveries",
)
def dispute_delivery_api(delivery_id: int, body: DisputeIn):
    """The buyer's trader, signatory or inspector disputes the delivery with a reason,
    optionally with its own assay (within the splitting limit it settles at once)."""
    dispute_delivery(get_db(), g.caller.actor, delivery_id, body)
    return _delivery(delivery_id)


@api_bp.post("/deliveries/<int:delivery_id>/settle")
@operation(
    "Settle a disputed delivery",
    body=SettleIn,
    responses={200: DeliveryOut},
    errors=(403, 409),
    tag="deliveries",
)
def settle_delivery_api(delivery_id: int, body: SettleIn):
    """Attach the buyer's own assay (the buyer) or the umpire laboratory's assay (either
    party; another laboratory than the parties'); the delivery settles by the split-assay rule
    once every graded parameter has its value, and is regraded."""
    settle_delivery(get_db(), g.caller.actor, delivery_id, body)
    return _delivery(delivery_id)


@api_bp.get("/contracts/<int:contract_id>/obligations")
@operation(
    "List a contract's delivery months",
    query=Paging,
    responses={200: Page[ObligationOut]},
    tag="deliveries",
)
def list_contract_obligations(contract_id: int, query: Paging):
    """The contract's months, oldest first: due, the band its tolerance allows (min–max),
    delivered (accepted lots), state (open, closed, invoiced)."""
    items = contract_obligations(get_db(), g.caller.actor, contract_id)
    start = (query.page - 1) * query.per_page
    page = Pager(items[start : start + query.per_page], query.page, query.per_page, len(items))
    return page.as_json([obligation_out(o).model_dump(mode="json") for o in page.items])
