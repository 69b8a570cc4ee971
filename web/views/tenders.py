"""Tender pages: the public list and tender pages (no login), the officer's drafting,
publication, amendment, cancellation and answers, the supplier's questions and sealed bid.

The views translate input and output only: `market.tenders` and `market.bids` decide who may
do what (PermissionDenied answers 403, NotFound 404, as in the API), and the buttons shown
follow the same permissions (`TenderDetail.actions`, `SUBMIT_BIDS`). Nothing of a bid is
rendered anywhere but on its own organisation's bid page.
"""

from datetime import datetime
from decimal import Decimal
from urllib.parse import urlencode

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from pydantic import BaseModel, ValidationError
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)

from market.bids import (
    SEE_OWN_BIDS,
    SUBMIT_BIDS,
    BidIn,
    ConfirmIn,
    bid_certificates,
    bid_input,
    bid_out,
    confirm_bid,
    coverage,
    modify_bid,
    read_own_bid,
    submit_bid,
    withdraw_bid,
)
from market.categories import list_categories
from market.evaluation import SEE_EVALUATION, public_award
from market.models import Bid, BidStatus, ProcurementCategory, TenderStatus
from market.tender_states import sealed
from market.tenders import (
    ASK_QUESTIONS,
    MANAGE_TENDERS,
    MAX_ITEMS,
    TOKYO,
    AnswerIn,
    CancelIn,
    EnquiryIn,
    TenderAmendmentIn,
    TenderDetail,
    TenderIn,
    TenderQuery,
    amend_tender,
    answer_question,
    ask_question,
    cancel_tender,
    create_tender,
    enquiry_out,
    managed_tender,
    pct_text,
    publish_tender,
    tender_detail,
    tender_phase,
    tenders_query,
    tokyo_time,
    update_tender,
)
from participants.columns import utcnow
from participants.errors import N_, NotFound
from quality.custody import certificates_to_cite, read_ledger, tonnes
from web.alerting import send_notice_mails
from web.auth import current_actor
from web.db import get_db
from web.errors import check_form_page, commit_or_flash, save_form
from web.labels import LABELS, label
from web.pagination import paginate
from web.validation import input_errors

bp = Blueprint("tenders", __name__)

NOTICE_SUBJECT = N_("Junkan: news on a tender you bid on")
NOTICE_REASON = N_(
    "You receive this e-mail because your organisation bid on this tender on Junkan."
)

STATUS_LABELS = LABELS["tender_status"]  # the names live in web.labels
PHASE_LABELS = {
    "planning": _l("Draft: only your agency sees it"),
    "upcoming": _l("Published: the enquiry period has not begun"),
    "enquiries": _l("Enquiry period: questions are taken"),
    "awaiting_tenders": _l("The tender period has not begun"),
    "tendering": _l("Tender period: sealed bids are taken"),
    "closed": _l("The tender period has ended: the bids are being opened"),
    **{k: v for k, v in STATUS_LABELS.items() if k not in ("planning", "active")},
}
BID_STATUS_LABELS = LABELS["bid_status"]


def _ja() -> bool:
    return str(get_locale()) == "ja"


def _local(value: datetime | None) -> str:
    """A UTC datetime as a datetime-local form value in Japan time."""
    return value.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M") if value else ""


@bp.app_context_processor
def _tender_helpers() -> dict:
    return {
        "tender_status_labels": lambda: {k: str(v) for k, v in STATUS_LABELS.items()},
        "tender_phase_labels": lambda: {k: str(v) for k, v in PHASE_LABELS.items()},
        "bid_status_labels": lambda: {k: str(v) for k, v in BID_STATUS_LABELS.items()},
        "tokyo_time": lambda v: tokyo_time(v) if v else "",
        "pct": pct_text,
        "localized": lambda record, name: getattr(record, f"{name}_ja" if _ja() else f"{name}_en"),
    }


# ---------------------------------------------------------------------------------------------
# Forms (field names are the input models' names)


class ItemForm(Form):
    description_en = StringField(_l("Description (English)"))
    description_ja = StringField(_l("Description (Japanese)"))
    quantity = StringField(_l("Quantity"), render_kw={"inputmode": "numeric"})
    unit = StringField(_l("Unit"))


class ItemsFields:
    items = FieldList(FormField(ItemForm), min_entries=1, max_entries=MAX_ITEMS)


class TenderForm(FlaskForm, ItemsFields):
    title_en = StringField(_l("Title (English)"))
    title_ja = StringField(_l("Title (Japanese)"))
    description_en = TextAreaField(_l("Description (English)"))
    description_ja = TextAreaField(_l("Description (Japanese)"))
    category_id = SelectField(_l("Category"), validate_choice=False)
    min_post_consumer_pct = StringField(
        _l("Minimum post-consumer recycled content (percent)"), render_kw={"inputmode": "decimal"}
    )
    min_total_pct = StringField(
        _l("Minimum total recycled content (percent)"), render_kw={"inputmode": "decimal"}
    )
    requires_certificate = BooleanField(_l("Bids must cite a quality certificate"), default=True)
    weight_price = StringField(_l("Weight of the price"), default="50")
    weight_recycled = StringField(_l("Weight of the recycled content"), default="40")
    weight_evidence = StringField(_l("Weight of the evidence and data quality"), default="10")
    enquiry_start = StringField(_l("Enquiry period from"), render_kw={"type": "datetime-local"})
    enquiry_end = StringField(_l("Enquiry period until"), render_kw={"type": "datetime-local"})
    tender_start = StringField(_l("Tender period from"), render_kw={"type": "datetime-local"})
    tender_end = StringField(_l("Tender period until"), render_kw={"type": "datetime-local"})
    standstill_days = StringField(_l("Standstill period (days)"), default="10")
    budget_jpy = StringField(_l("Budget (yen, tax excluded)"), render_kw={"inputmode": "numeric"})


class AmendForm(FlaskForm, ItemsFields):
    description_en = TextAreaField(_l("Description (English)"))
    description_ja = TextAreaField(_l("Description (Japanese)"))
    min_post_consumer_pct = StringField(
        _l("Minimum post-consumer recycled content (percent)"), render_kw={"inputmode": "decimal"}
    )
    min_total_pct = StringField(
        _l("Minimum total recycled content (percent)"), render_kw={"inputmode": "decimal"}
    )
    enquiry_end = StringField(_l("Enquiry period until"), render_kw={"type": "datetime-local"})
    tender_start = StringField(_l("Tender period from"), render_kw={"type": "datetime-local"})
    tender_end = StringField(_l("Tender period until"), render_kw={"type": "datetime-local"})


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason (published)"))


class QuestionForm(FlaskForm):
    question = TextAreaField(_l("Your question"))


class AnswerForm(FlaskForm):
    answer = TextAreaField(_l("Answer (published)"))


class BidForm(FlaskForm):
    price_jpy = StringField(
        _l("Price for the whole tender (yen, tax excluded)"), render_kw={"inputmode": "numeric"}
    )
    delivery_date = StringField(_l("Delivery date"), render_kw={"type": "date"})
    material_code = SelectField(_l("Recycled material the content draws on"), validate_choice=False)
    product_mass_kg = StringField(
        _l("Mass of all goods offered (kg)"), render_kw={"inputmode": "numeric"}
    )
    post_consumer_pct = StringField(
        _l("Post-consumer recycled content (percent)"), render_kw={"inputmode": "decimal"}
    )
    total_recycled_pct = StringField(
        _l("Total recycled content (percent)"), render_kw={"inputmode": "decimal"}
    )
    certificate_ids = StringField(_l("Evidence certificates (ids, separated by spaces)"))
    note = TextAreaField(_l("Note"))


class ConfirmForm(FlaskForm):
    content_sha256 = HiddenField()


def _place_error(form, field_name: str | None, message: str) -> None:
    """Show a message under its field, an item row's field, or above the form."""
    parts = (field_name or "").split(".")
    target = getattr(form, parts[0], None) if parts[0] else None
    if parts[0] == "items" and target is not None:
        rows = getattr(form, "item_rows", [])
        if len(parts) >= 3 and parts[1].isdigit() and int(parts[1]) < len(rows):
            sub = getattr(target.entries[rows[int(parts[1])]].form, parts[2], None)
            if sub is not None:
                sub.errors = [*sub.errors, message]
                return
        form.item_errors = [*getattr(form, "item_errors", []), message]
        return
    if target is not None and not isinstance(target, FieldList):
        target.errors = [*target.errors, message] if isinstance(target.errors, list) else [message]
    else:
        form.form_errors.append(message)


def _validated(form, model: type[BaseModel], values: dict, fields: dict | None = None):
    """The values as `model`, or None with each error shown under its field."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        for error in input_errors(exc, fields):
            _place_error(form, error["field"], error["message"])
        return None


def _save(form, action):
    """Run a domain step and commit, or show its error under its field or item row."""
    return save_form(form, action, place_error=_place_error)


def _item_rows(form) -> list[dict]:
    """The filled item rows; `form.item_rows` keeps which form row each one came from, so that
    an error of the n-th item is shown on its own row."""
    rows, form.item_rows = [], []
    for n, entry in enumerate(form.items):
        values = {k: (v or "").strip() for k, v in entry.data.items()}
        if any(values.values()):
            rows.append(values)
            form.item_rows.append(n)
    return rows


def _values(form, names) -> dict:
    """The non-empty text fields among `names` (empty ones are left out: defaults apply)."""
    out = {}
    for name in names:
        value = getattr(form, name).data
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                continue
        if value is not None:
            out[name] = value
    return out


def _tender_values(form: TenderForm) -> dict:
    names = [n for n in TenderIn.model_fields if n not in ("items", "custody_model")]
    values = _values(form, names)
    values["requires_certificate"] = bool(form.requires_certificate.data)
    values["items"] = _item_rows(form)
    return values


def _pad_items(form, rows: int) -> None:
    """Offer empty item rows after the filled ones (up to the most a tender may have)."""
    while len(form.items.entries) < min(MAX_ITEMS, rows):
        form.items.append_entry()


def _category_choices(categories: list[ProcurementCategory]) -> list[tuple[str, str]]:
    return [("", _l("— choose —"))] + [
        (str(c.id), c.name_ja if _ja() else c.name_en) for c in categories
    ]


def _selected_category(categories, value) -> ProcurementCategory | None:
    return next((c for c in categories if str(c.id) == str(value or "")), None)


# ---------------------------------------------------------------------------------------------
# Public pages


@bp.get("/tenders")
def tenders():
    db, actor = get_db(), current_actor()
    args = {k: v for k, v in request.args.items() if v != "" and k != "page"}
    try:
        query = TenderQuery.model_validate(
            {k: v for k, v in args.items() if k in ("category_id", "status", "mine")}
        )
        status = 200
    except ValidationError:
        query, status = TenderQuery(), 400
    page = paginate(db, tenders_query(actor, query))
    now = utcnow()
    return render_template(
        "tenders/list.html",
        page=page,
        phases={t.id: tender_phase(t, now) for t, _c, _a in page.items},
        categories=list_categories(db),
        query=query,
        query_string=urlencode(args),
        may_create=MANAGE_TENDERS.allows(actor),
    ), status


def _own_bid(detail: TenderDetail, actor) -> Bid | None:
    if not SEE_OWN_BIDS.allows(actor) or actor.owns(detail.tender.organization_id):
        return None
    try:
        return read_own_bid(get_db(), actor, detail.tender.id)
    except NotFound:
        return None


@bp.get("/tenders/<int:tender_id>")
def tender(tender_id: int):
    db, actor = get_db(), current_actor()
    detail = tender_detail(db, actor, tender_id)
    own_bid = _own_bid(detail, actor)
    may_bid = (
        detail.phase == "tendering"
        and SUBMIT_BIDS.allows(actor)
        and not actor.owns(detail.tender.organization_id)
    )
    t = detail.tender
    ended = t.status != TenderStatus.PLANNING and not sealed(t)
    return render_template(
        "tenders/detail.html",
        d=detail,
        t=t,
        enquiries=[enquiry_out(e) for e in detail.enquiries],
        own_bid=own_bid,
        may_bid=may_bid,
        # Once the tender period has ended: the agency's officers go on to the evaluation,
        # a bidder to its bid's result; anyone reads the award.
        may_evaluate=ended and SEE_EVALUATION.allows(actor) and actor.owns(t.organization_id),
        may_see_result=ended and own_bid is not None,
        award=public_award(db, t.id),
        answer_form=AnswerForm(),
    )


# ---------------------------------------------------------------------------------------------
# The officer's pages


def _tender_form_page(form, item, categories, status: int, template="tenders/form.html"):
    _pad_items(form, len(_item_rows(form)) + 3)
    chosen = _selected_category(categories, form.category_id.data)
    return render_template(
        template,
        form=form,
        item=item,
        category=chosen,
        item_errors=getattr(form, "item_errors", []),
    ), status


@bp.route("/tenders/new", methods=["GET", "POST"])
@login_required
def new_tender():
    db, actor = get_db(), current_actor()
    MANAGE_TENDERS.check(actor)
    categories = list_categories(db)
    form = TenderForm()
    form.category_id.choices = _category_choices(categories)
    status = 200
    if request.method == "GET":
        chosen = _selected_category(categories, request.args.get("category_id"))
        if chosen is not None:
            form.category_id.data = str(chosen.id)
            form.min_post_consumer_pct.data = pct_text(chosen.min_post_consumer_pct) or ""
            form.min_total_pct.data = pct_text(chosen.min_total_pct) or ""
    elif form.validate_on_submit():
        status = 422
        data = _validated(form, TenderIn, _tender_values(form))
        if data is not None:
            created, status = _save(form, lambda: create_tender(db, actor, data))
            if created is not None:
                flash(gettext("The tender is saved as a draft. Publish it when ready."), "success")
                return redirect(url_for("tenders.tender", tender_id=created.id))
    else:
        status = 422
    return _tender_form_page(form, None, categories, status)


def _managed_detail(tender_id: int) -> TenderDetail:
    """The tender of the officer's own agency (the domain refuses anyone else)."""
    db, actor = get_db(), current_actor()
    managed_tender(db, actor, tender_id)
    return tender_detail(db, actor, tender_id)


@bp.route("/tenders/<int:tender_id>/edit", methods=["GET", "POST"])
@login_required
def edit_tender(tender_id: int):
    db, actor = get_db(), current_actor()
    detail = _managed_detail(tender_id)
    t = detail.tender
    categories = list_categories(db)
    if request.method == "GET":
        data = {
            name: getattr(t, name)
            for name in TenderIn.model_fields
            if name not in ("items", "custody_model") and hasattr(t, name)
        }
        data |= {
            k: _local(getattr(t, k))
            for k in ("enquiry_start", "enquiry_end", "tender_start", "tender_end")
        }
        data |= {
            "min_post_consumer_pct": pct_text(t.min_post_consumer_pct),
            "min_total_pct": pct_text(t.min_total_pct),
            "category_id": str(t.category_id),
            "items": _item_form_rows(detail),
        }
        form = TenderForm(data=data)
    else:
        form = TenderForm()
    form.category_id.choices = _category_choices(categories)
    status = 200
    if form.validate_on_submit():
        status = 422
        data = _validated(form, TenderIn, _tender_values(form))
        if data is not None:
            saved, status = _save(form, lambda: update_tender(db, actor, tender_id, data))
            if saved is not None:
                flash(gettext("The draft is saved."), "success")
                return redirect(url_for("tenders.tender", tender_id=tender_id))
    elif form.is_submitted():
        status = 422
    return _tender_form_page(form, t, categories, status)


@bp.post("/tenders/<int:tender_id>/publish")
@login_required
def publish(tender_id: int):
    commit_or_flash(
        lambda: publish_tender(get_db(), current_actor(), tender_id),
        gettext("The tender is published: anyone may read it now."),
    )
    return redirect(url_for("tenders.tender", tender_id=tender_id))


def _amendment_values(form: AmendForm, detail: TenderDetail) -> dict:
    """What the officer changed on the form: a description as written, other fields when
    filled in and different (times compared to the minute, as the form shows them)."""
    t = detail.tender
    values: dict = {}
    for name in ("description_en", "description_ja"):
        if (form[name].data or "").strip() != getattr(t, name):
            values[name] = form[name].data or ""
    shown = {
        "min_post_consumer_pct": pct_text(t.min_post_consumer_pct),
        "min_total_pct": pct_text(t.min_total_pct),
        "enquiry_end": _local(t.enquiry_end),
        "tender_start": _local(t.tender_start),
        "tender_end": _local(t.tender_end),
    }
    for name, current in shown.items():
        text = (form[name].data or "").strip()
        if text and text != current:
            values[name] = text
    rows = _item_rows(form)
    if rows and rows != _item_form_rows(detail):
        values["items"] = rows
    return values


def _item_form_rows(detail: TenderDetail) -> list[dict]:
    return [
        {
            "description_en": i.description_en,
            "description_ja": i.description_ja,
            "quantity": str(i.quantity),
            "unit": i.unit,
        }
        for i in detail.items
    ]


@bp.route("/tenders/<int:tender_id>/amend", methods=["GET", "POST"])
@login_required
def amend(tender_id: int):
    db, actor = get_db(), current_actor()
    detail = _managed_detail(tender_id)
    t = detail.tender
    if request.method == "GET":
        form = AmendForm(
            data={
                "description_en": t.description_en,
                "description_ja": t.description_ja,
                "min_post_consumer_pct": pct_text(t.min_post_consumer_pct),
                "min_total_pct": pct_text(t.min_total_pct),
                "enquiry_end": _local(t.enquiry_end),
                "tender_start": _local(t.tender_start),
                "tender_end": _local(t.tender_end),
                "items": _item_form_rows(detail),
            }
        )
    else:
        form = AmendForm()
    status = 200
    if form.validate_on_submit():
        status = 422
        data = _validated(form, TenderAmendmentIn, _amendment_values(form, detail))
        if data is not None:
            amendment, status = _save(form, lambda: amend_tender(db, actor, tender_id, data))
            if amendment is not None:
                _mail(amendment.notifications)
                flash(
                    gettext("The amendment is published; bidders must confirm their bids."),
                    "success",
                )
                return redirect(url_for("tenders.tender", tender_id=tender_id))
    elif form.is_submitted():
        status = 422
    _pad_items(form, len(_item_rows(form)) + 2)
    return render_template(
        "tenders/amend.html", form=form, t=t, item_errors=getattr(form, "item_errors", [])
    ), status


def _mail(notes) -> None:
    """E-mail the bidders notified by the step just committed (in each member's language)."""
    send_notice_mails(get_db(), notes, NOTICE_SUBJECT, NOTICE_REASON)


@bp.route("/tenders/<int:tender_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(tender_id: int):
    db, actor = get_db(), current_actor()
    detail = _managed_detail(tender_id)
    form = ReasonForm()
    status = 200
    if form.validate_on_submit():
        status = 422
        data = _validated(form, CancelIn, {"reason": form.reason.data or ""})
        if data is not None:
            done, status = _save(form, lambda: cancel_tender(db, actor, tender_id, data))
            if done is not None:
                _mail(done.notifications)
                flash(gettext("The tender is cancelled."), "success")
                return redirect(url_for("tenders.tender", tender_id=tender_id))
    elif form.is_submitted():
        status = 422
    return render_template("tenders/cancel.html", form=form, t=detail.tender), status


@bp.route("/tenders/<int:tender_id>/enquiries/<int:enquiry_id>/answer", methods=["GET", "POST"])
@login_required
def answer(tender_id: int, enquiry_id: int):
    db, actor = get_db(), current_actor()
    detail = _managed_detail(tender_id)
    enquiry = next((e for e in detail.enquiries if e.id == enquiry_id), None)
    if enquiry is None:
        raise NotFound(gettext("No such question."))
    form = AnswerForm()
    status = 200
    if form.validate_on_submit():
        status = 422
        data = _validated(form, AnswerIn, {"answer": form.answer.data or ""})
        if data is not None:
            done, status = _save(
                form, lambda: answer_question(db, actor, tender_id, enquiry_id, data)
            )
            if done is not None:
                flash(gettext("The answer is published."), "success")
                return redirect(url_for("tenders.tender", tender_id=tender_id))
    elif form.is_submitted():
        status = 422
    return render_template(
        "tenders/answer.html", form=form, t=detail.tender, enquiry=enquiry_out(enquiry)
    ), status


# ---------------------------------------------------------------------------------------------
# The supplier's pages


@bp.route("/tenders/<int:tender_id>/ask", methods=["GET", "POST"])
@login_required
def ask(tender_id: int):
    db, actor = get_db(), current_actor()
    detail = tender_detail(db, actor, tender_id)
    form = QuestionForm()
    status = 200
    if form.validate_on_submit():
        status = 422
        data = _validated(form, EnquiryIn, {"question": form.question.data or ""})
        if data is not None:
            done, status = _save(form, lambda: ask_question(db, actor, tender_id, data))
            if done is not None:
                flash(
                    gettext("Your question is sent. The answer will be published on this page."),
                    "success",
                )
                return redirect(url_for("tenders.tender", tender_id=tender_id))
    elif form.is_submitted():
        status = 422
    else:
        check_form_page(ASK_QUESTIONS, actor)
    return render_template("tenders/ask.html", form=form, t=detail.tender), status


def _ledger_rows(actor) -> list[tuple[str, str]]:
    """The bidder's chain-of-custody balances: (material, available tonnes)."""
    ledger = read_ledger(get_db(), actor)
    return [(a.material_code, tonnes(a.available_kg)) for a in ledger.accounts]


def _bid_values(form: BidForm) -> dict:
    values = _values(form, [n for n in BidIn.model_fields if n != "certificate_ids"])
    values["certificate_ids"] = [
        c for c in (form.certificate_ids.data or "").replace(",", " ").split() if c
    ]
    return values


def _bid_form_page(form, t, actor, status, bid=None):
    balances = _ledger_rows(actor)
    known = {code for code, _t in balances}
    choices = [(code, f"{label(code, 'material')} — {t} t") for code, t in balances]
    chosen = form.material_code.data
    if chosen and chosen not in known:
        choices.append((chosen, label(chosen, "material")))
    form.material_code.choices = [("", _l("— choose —")), *choices]
    claim = None
    try:
        mass = int(str(form.product_mass_kg.data or "").strip())
        share = Decimal(str(form.total_recycled_pct.data or "").strip())
        if chosen and 0 < mass <= 10**9 and 0 <= share <= 100:
            claim = coverage(get_db(), actor.organization_id, chosen, mass, share)
    except (ValueError, ArithmeticError):
        claim = None
    return render_template(
        "tenders/bid_form.html",
        form=form,
        t=t,
        bid=bid,
        balances=balances,
        certificates=certificates_to_cite(get_db(), actor),
        claim=claim,
        tonnes=tonnes,
    ), status


def _bidding_tender(tender_id: int):
    actor = current_actor()
    check_form_page(SUBMIT_BIDS, actor)
    return tender_detail(get_db(), actor, tender_id).tender


@bp.route("/tenders/<int:tender_id>/bid/new", methods=["GET", "POST"])
@login_required
def new_bid(tender_id: int):
    db, actor = get_db(), current_actor()
    t = _bidding_tender(tender_id)
    form = BidForm()
    form.material_code.choices = []
    status = 200
    if form.validate_on_submit():
        status = 422
        data = _validated(form, BidIn, _bid_values(form))
        if data is not None:
            bid, status = _save(form, lambda: submit_bid(db, actor, tender_id, data))
            if bid is not None:
                flash(gettext("Your bid is submitted and sealed. Keep its receipt."), "success")
                return redirect(url_for("tenders.own_bid", tender_id=tender_id))
    elif form.is_submitted():
        status = 422
    return _bid_form_page(form, t, actor, status)


@bp.route("/tenders/<int:tender_id>/bid/edit", methods=["GET", "POST"])
@login_required
def edit_bid(tender_id: int):
    db, actor = get_db(), current_actor()
    t = _bidding_tender(tender_id)
    bid = read_own_bid(db, actor, tender_id)
    if request.method == "GET":
        current = bid_input(bid, bid_certificates(db, [bid.id])[bid.id])
        form = BidForm(
            data=current.model_dump(mode="json")
            | {
                "certificate_ids": " ".join(current.certificate_ids),
                "post_consumer_pct": pct_text(bid.post_consumer_pct),
                "total_recycled_pct": pct_text(bid.total_recycled_pct),
            }
        )
    else:
        form = BidForm()
    form.material_code.choices = []
    status = 200
    if form.validate_on_submit():
        status = 422
        data = _validated(form, BidIn, _bid_values(form))
        if data is not None:
            saved, status = _save(form, lambda: modify_bid(db, actor, tender_id, data))
            if saved is not None:
                flash(gettext("Your bid is modified and sealed. Keep its new receipt."), "success")
                return redirect(url_for("tenders.own_bid", tender_id=tender_id))
    elif form.is_submitted():
        status = 422
    return _bid_form_page(form, t, actor, status, bid=bid)


@bp.get("/tenders/<int:tender_id>/bid")
@login_required
def own_bid(tender_id: int):
    db, actor = get_db(), current_actor()
    bid = read_own_bid(db, actor, tender_id)
    t = tender_detail(db, actor, tender_id).tender
    out = bid_out(db, bid, translate=gettext)
    running = t.status == TenderStatus.ACTIVE and utcnow() < t.tender_end
    live = bid.status in (BidStatus.SUBMITTED, BidStatus.NEEDS_CONFIRMATION)
    may_change = running and live and SUBMIT_BIDS.allows(actor)
    return render_template(
        "tenders/bid.html",
        t=t,
        bid=out,
        may_change=may_change,
        may_submit_again=running
        and bid.status == BidStatus.WITHDRAWN
        and SUBMIT_BIDS.allows(actor),
        confirm_form=ConfirmForm(data={"content_sha256": bid.content_sha256}),
    )


@bp.post("/tenders/<int:tender_id>/bid/withdraw")
@login_required
def withdraw(tender_id: int):
    commit_or_flash(
        lambda: withdraw_bid(get_db(), current_actor(), tender_id),
        gettext("Your bid is withdrawn."),
    )
    return redirect(url_for("tenders.own_bid", tender_id=tender_id))


@bp.post("/tenders/<int:tender_id>/bid/confirm")
@login_required
def confirm(tender_id: int):
    form = ConfirmForm()
    try:
        data = ConfirmIn(content_sha256=(form.content_sha256.data or "").strip() or "-")
    except ValidationError:
        data = ConfirmIn(content_sha256="-")
    commit_or_flash(
        lambda: confirm_bid(get_db(), current_actor(), tender_id, data),
        gettext("Your bid is confirmed. Keep its new receipt."),
    )
    return redirect(url_for("tenders.own_bid", tender_id=tender_id))
