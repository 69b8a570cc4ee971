"""Delivery pages: a contract's months and deliveries, recording a delivery with its
documents, a delivery's page with the buyer's decision and the settlement of a dispute.

The views translate input and output only; `contracts.deliveries` decides who may do what
(PermissionDenied answers 403, NotFound 404, exactly as in the API). Contract pages belong to
the lifecycle slice: they are linked by URL (/contracts/<id>) only.
"""

import io

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, StringField, TextAreaField

from contracts.deliveries import (
    DECIDE_DELIVERIES,
    DOCUMENT_KINDS,
    HANDLE_DELIVERIES,
    MAX_DOCUMENT_BYTES,
    RECORD_DELIVERIES,
    DeliveryIn,
    DisputeIn,
    DocumentFile,
    SettleIn,
    accept_delivery,
    add_document,
    contract_operations,
    deliveries_query,
    delivery_form,
    delivery_views,
    dispute_assays,
    dispute_delivery,
    read_delivery,
    read_document,
    record_delivery,
    settle_delivery,
)
from web.auth import current_actor
from web.db import get_db
from web.errors import commit_or_flash, save_form
from web.labels import LABELS
from web.pagination import paginate
from web.validation import validate_form
from web.views.quality import OUTCOME_NAMES

bp = Blueprint("deliveries", __name__)

STATUS_LABELS = LABELS["delivery_status"]
MONTH_STATUS_LABELS = LABELS["obligation_status"]
KIND_LABELS = LABELS["delivery_document"]
BASIS_LABELS = LABELS["settlement_basis"]
LIMITS_HINT = _l("PDF, PNG or JPEG, at most 5 MB each.")
ACCEPTED_FILES = ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"
# A request may carry every document of a delivery (one per kind) plus the form fields; the
# global limit (MAX_CONTENT_LENGTH) is raised for these endpoints only, before the CSRF check
# reads the form. Each file is then checked against its own 5 MB limit.
FORM_MARGIN = 1024 * 1024
UPLOAD_LIMITS = {
    "deliveries.new_delivery": len(DOCUMENT_KINDS) * MAX_DOCUMENT_BYTES + FORM_MARGIN,
    "deliveries.upload_document": MAX_DOCUMENT_BYTES + FORM_MARGIN,
}


@bp.url_value_preprocessor
def _upload_limit(endpoint: str | None, _values: dict | None) -> None:
    # URL value preprocessors run before the app's before_request functions (CSRF included).
    if endpoint in UPLOAD_LIMITS:
        request.max_content_length = UPLOAD_LIMITS[endpoint]


def _file_field(label):
    return FileField(label, render_kw={"accept": ACCEPTED_FILES})


# The form fields are named like the fields of the domain's input models, which validate them.
class RecordForm(FlaskForm):
    delivered_on = StringField(_l("Delivery date"), render_kw={"type": "date"})
    net_t = StringField(_l("Net tonnes"), render_kw={"inputmode": "decimal"})
    vehicle = StringField(_l("Vehicle or container"))
    assay_id = SelectField(_l("Assay of the lot"), validate_choice=False)
    weighbridge_ticket = _file_field(_l("Weighbridge ticket"))
    assay_report = _file_field(_l("Assay report"))
    other = _file_field(_l("Other document"))


class DocumentForm(FlaskForm):
    kind = SelectField(
        _l("Document"), choices=[(k, v) for k, v in KIND_LABELS.items()], validate_choice=False
    )
    file = _file_field(_l("File"))


class DecisionForm(FlaskForm):
    """CSRF only: the delivery and the decision are in the URL."""


class DisputeForm(FlaskForm):
    reason = TextAreaField(_l("Why do you dispute the delivery?"))
    buyer_assay_id = SelectField(_l("Your own assay of the lot (optional)"), validate_choice=False)


class SettleForm(FlaskForm):
    buyer_assay_id = SelectField(_l("The buyer's own assay"), validate_choice=False)
    umpire_assay_id = SelectField(_l("The umpire laboratory's assay"), validate_choice=False)


def _labels() -> dict:
    return {
        "outcome_labels": {k: str(v) for k, v in OUTCOME_NAMES.items()},
        "limits_hint": str(LIMITS_HINT),
    }


def _assay_choices(assays, blank: str) -> list[tuple[str, str]]:
    return [("", blank)] + [
        (str(a.id), f"#{a.id} {a.lot_ref} · {a.lab_name} ({a.reported_on:%Y-%m-%d})")
        for a in assays
    ]


def _uploaded(name: str, kind: str) -> DocumentFile | None:
    storage = request.files.get(name)
    if storage is None or not storage.filename:
        return None
    # One byte beyond the limit is enough to refuse a file that is too large.
    return DocumentFile(name, kind, storage.filename, storage.read(MAX_DOCUMENT_BYTES + 1))


@bp.get("/deliveries")
@login_required
def deliveries():
    db, actor = get_db(), current_actor()
    page = paginate(db, deliveries_query(actor))
    return render_template(
        "deliveries/list.html",
        views=delivery_views(db, actor, page.items),
        page=page,
        **_labels(),
    )


@bp.get("/contracts/<int:contract_id>/deliveries")
@login_required
def contract_deliveries(contract_id: int):
    db, actor = get_db(), current_actor()
    ops = contract_operations(db, actor, contract_id)
    return render_template(
        "deliveries/contract.html",
        ops=ops,
        may_record=RECORD_DELIVERIES.allows(actor)
        and ops.side == "seller"
        and ops.contract.status == "active",
        **_labels(),
    )


@bp.route("/contracts/<int:contract_id>/deliveries/new", methods=["GET", "POST"])
@login_required
def new_delivery(contract_id: int):
    db, actor = get_db(), current_actor()
    choices = delivery_form(db, actor, contract_id)  # 403 / 404 for GET and POST alike
    form = RecordForm()
    form.assay_id.choices = _assay_choices(choices.assays, gettext("Choose an assay"))
    status = 200
    if form.validate_on_submit():
        data = validate_form(form, DeliveryIn, contract_id=contract_id)
        status = 422
        if data is not None:
            documents = [doc for kind in DOCUMENT_KINDS if (doc := _uploaded(kind, kind))]
            delivery, status = save_form(form, lambda: record_delivery(db, actor, data, documents))
            if delivery is not None:
                flash(
                    gettext("The delivery is recorded; the buyer is asked to accept it."), "success"
                )
                return redirect(url_for("deliveries.delivery", delivery_id=delivery.id))
    elif form.is_submitted():
        status = 422
    return (
        render_template("deliveries/new.html", form=form, choices=choices, **_labels()),
        status,
    )


@bp.get("/deliveries/<int:delivery_id>")
@login_required
def delivery(delivery_id: int):
    db, actor = get_db(), current_actor()
    view = read_delivery(db, actor, delivery_id)
    own = dispute_assays(db, actor, view)
    is_buyer = view.actor_side == "buyer"
    dispute_form = DisputeForm()
    dispute_form.buyer_assay_id.choices = _assay_choices(own, gettext("None yet"))
    settle_form = SettleForm()
    settle_form.buyer_assay_id.choices = _assay_choices(own, gettext("Choose an assay"))
    settle_form.umpire_assay_id.choices = _assay_choices(own, gettext("Choose an assay"))
    status = view.delivery.status
    return render_template(
        "deliveries/delivery.html",
        view=view,
        decision_form=DecisionForm(),
        dispute_form=dispute_form,
        settle_form=settle_form,
        document_form=DocumentForm(),
        may_decide=DECIDE_DELIVERIES.allows(actor) and is_buyer and status == "recorded",
        may_attach_buyer_assay=HANDLE_DELIVERIES.allows(actor)
        and is_buyer
        and status == "disputed"
        and view.delivery.buyer_assay_id is None,
        may_attach_umpire_assay=HANDLE_DELIVERIES.allows(actor)
        and status == "disputed"
        and view.delivery.buyer_assay_id is not None
        and view.umpire_required,
        may_add_documents=HANDLE_DELIVERIES.allows(actor),
        **_labels(),
    )


@bp.get("/deliveries/<int:delivery_id>/documents/<int:document_id>")
@login_required
def document(delivery_id: int, document_id: int):
    doc = read_document(get_db(), current_actor(), delivery_id, document_id)
    return document_response(doc)


def document_response(doc):
    """The stored file as an attachment (never rendered inline: the type was checked by its
    content, and the browser is told not to guess another)."""
    response = send_file(
        io.BytesIO(doc.data),
        mimetype=doc.content_type,
        as_attachment=True,
        download_name=doc.filename,
        etag=doc.sha256,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/deliveries/<int:delivery_id>/documents")
@login_required
def upload_document(delivery_id: int):
    db, actor = get_db(), current_actor()
    form = DocumentForm()
    if not form.validate_on_submit():
        abort(400)
    kind = form.kind.data or ""
    doc = _uploaded("file", kind)
    if doc is None:
        flash(gettext("Choose a file to upload."), "error")
    else:
        commit_or_flash(
            lambda: add_document(db, actor, delivery_id, doc), gettext("The document is added.")
        )
    return redirect(url_for("deliveries.delivery", delivery_id=delivery_id))


@bp.post("/deliveries/<int:delivery_id>/accept")
@login_required
def accept(delivery_id: int):
    if not DecisionForm().validate_on_submit():
        abort(400)
    db, actor = get_db(), current_actor()
    commit_or_flash(
        lambda: accept_delivery(db, actor, delivery_id), gettext("The delivery is accepted.")
    )
    return redirect(url_for("deliveries.delivery", delivery_id=delivery_id))


@bp.post("/deliveries/<int:delivery_id>/dispute")
@login_required
def dispute(delivery_id: int):
    form = DisputeForm()
    form.buyer_assay_id.choices = []
    if not form.validate_on_submit():
        abort(400)
    db, actor = get_db(), current_actor()
    data = validate_form(form, DisputeIn)
    if data is None:
        flash(form.reason.errors[0] if form.reason.errors else gettext("Check the form."), "error")
    else:
        commit_or_flash(
            lambda: dispute_delivery(db, actor, delivery_id, data),
            gettext("The delivery is disputed; the seller is told."),
        )
    return redirect(url_for("deliveries.delivery", delivery_id=delivery_id))


@bp.post("/deliveries/<int:delivery_id>/settle")
@login_required
def settle(delivery_id: int):
    form = SettleForm()
    if not form.validate_on_submit():
        abort(400)
    db, actor = get_db(), current_actor()
    data = validate_form(form, SettleIn)
    if data is None:
        flash(gettext("Choose an assay."), "error")
    else:
        commit_or_flash(
            lambda: settle_delivery(db, actor, delivery_id, data),
            gettext("The assay is attached to the dispute."),
        )
    return redirect(url_for("deliveries.delivery", delivery_id=delivery_id))
