"""Contract pages: my contracts, one contract (versions, diff, thread, signatures, audit chain),
the counter-offer form, signing, withdrawal, the audit trail and the printable contract.

The views translate input and output only: `contracts.negotiation` and `contracts.signing`
decide who may do what (PermissionDenied answers 403, NotFound 404, exactly as in the API) and
the buttons shown follow the same permissions (`ContractDetail.actions`).
"""

from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from pydantic import ValidationError
from wtforms import SelectField, StringField, TextAreaField

from contracts.negotiation import (
    CommentIn,
    ContractDetail,
    ContractsQuery,
    add_comment,
    contract_detail,
    contract_events,
    contract_outs,
    contracts_query,
    pending_notices,
    propose_terms,
    terms_form,
    withdraw_contract,
)
from contracts.signing import SignatureRefused, SignIn, sign_contract
from contracts.terms import (
    TERMS,
    Term,
    TermChange,
    TermsInput,
    TermsProposalIn,
    all_index_codes,
    input_values,
    published_grades,
    terms_values,
)
from market.listings import INCOTERMS_2020
from participants.errors import N_, Conflict, ValidationFailed
from participants.models import Organization
from web.alerting import send_notice_mails
from web.auth import current_actor
from web.db import get_db
from web.errors import apply_to_form, commit_or_flash
from web.formatting import yen
from web.labels import LABELS, label, labels_of
from web.pagination import paginate
from web.validation import input_errors, validate_form
from web.views.movements import contract_movement

bp = Blueprint("contracts", __name__)

NOTICE_SUBJECT = N_("Junkan: news on one of your contracts")
NOTICE_REASON = N_(
    "You receive this e-mail because your organisation is a party to this contract on Junkan."
)

STATUS_LABELS = LABELS["contract_status"]
SIDE_LABELS = LABELS["side"]
PRICE_KIND_LABELS = LABELS["price_kind"]
PERIOD_LABELS = LABELS["index_period"]
LANGUAGE_LABELS = LABELS["contract_language"]
CHAIN_REASONS = {
    "an event is missing": _l("an event is missing"),
    "the link is broken": _l("the link between two events is broken"),
    "an event was changed": _l("an event was changed"),
    "the last events are missing": _l("the last events are missing"),
}
EVENT_LABELS = LABELS["contract_event"]


def send_contract_notices(db) -> int:
    """E-mail the notices of the lifecycle steps just committed (in each member's language)."""
    return send_notice_mails(db, pending_notices(db), NOTICE_SUBJECT, NOTICE_REASON)


# ---------------------------------------------------------------------------------------------
# Showing terms to people


def _ja() -> bool:
    return str(get_locale()) == "ja"


def org_name(org: Organization | None) -> str:
    if org is None:
        return ""
    return org.name_ja if _ja() else org.name_en


def term_text(term: Term, value, detail: ContractDetail) -> str:
    """One term's value as people read it (yen with −¥ for negative amounts)."""
    unit = term.unit
    if value is None or value == "":
        return "—"
    if unit == "month":
        return value.strftime("%Y-%m")
    if unit == "months":
        return gettext("%(n)s months", n=value) if value else gettext("none")
    if unit == "days":
        return gettext("%(n)s days", n=value)
    if unit == "tonnes":  # kilogram precision, as everywhere for contracted volume
        return f"{format(Decimal(value).quantize(Decimal('0.001')), ',f')} t"
    if unit == "pct":
        return f"{format(Decimal(value).normalize(), 'f')} %"
    if unit == "factor":
        return format(Decimal(value).normalize(), "f")
    if unit == "yen":
        return gettext("%(price)s/t", price=yen(value))
    if unit == "grade":
        grade = detail.grades.get(value)
        if grade is None:
            return str(value)
        return f"{grade.name_ja if _ja() else grade.name_en} ({grade.label})"
    if unit == "price_kind":
        return label(value, "price_kind")
    if unit == "period":
        return label(value, "index_period")
    if unit == "language":
        return label(value, "contract_language")
    return str(value)


_INDEX_TERMS = {"index", "index_factor", "premium_jpy_per_t", "floor_jpy_per_t", "cap_jpy_per_t"}


def term_rows(t, detail: ContractDetail) -> list[tuple[str, str]]:
    """(label, value) of every term of a version that applies to its price basis."""
    values = terms_values(t, detail.index_codes.get(t.index_id))
    skip = _INDEX_TERMS if t.price_kind == "fixed" else {"fixed_price_jpy_per_t"}
    return [
        (gettext(term.label), term_text(term, values[term.name], detail))
        for term in TERMS
        if term.name not in skip
    ]


def change_rows(changes: list[TermChange], detail: ContractDetail) -> list[tuple[str, str, str]]:
    return [
        (gettext(c.term.label), term_text(c.term, c.old, detail), term_text(c.term, c.new, detail))
        for c in changes
    ]


def _helpers(detail: ContractDetail | None = None) -> dict:
    return {
        "chain_reasons": {k: str(v) for k, v in CHAIN_REASONS.items()},
        "org_name": org_name,
        "term_rows": (lambda t: term_rows(t, detail)) if detail else None,
    }


def _org_link(org: Organization) -> str:
    return url_for("public.organizations", kind=org.kind) + f"#org-{org.id}"


# ---------------------------------------------------------------------------------------------
# Forms: field names are the input models' field names


class TermsForm(FlaskForm):
    start_month = StringField(_l("Start month"), render_kw={"type": "month"})
    term_months = StringField(_l("Term (months)"), render_kw={"type": "number"})
    monthly_t = StringField(_l("Tonnes per month"), render_kw={"inputmode": "decimal"})
    tolerance_pct = StringField(_l("Tolerance per month (± %)"), render_kw={"inputmode": "decimal"})
    annual_tolerance_pct = StringField(
        _l("Tolerance per year (± %)"), render_kw={"inputmode": "decimal"}
    )
    take_or_pay_pct = StringField(_l("Take-or-pay (%)"), render_kw={"inputmode": "decimal"})
    shortfall_price_pct = StringField(
        _l("Shortfall charged at (percent of the price)"), render_kw={"inputmode": "decimal"}
    )
    excess_price_pct = StringField(
        _l("Tonnes above the maximum bought at (percent of the price)"),
        render_kw={"inputmode": "decimal"},
    )
    incoterm = SelectField(_l("Incoterms 2020 rule"), validate_choice=False)
    incoterm_place = StringField(_l("Incoterms place"))
    grade_version_id = SelectField(_l("Grade"), validate_choice=False)
    price_kind = SelectField(_l("Price"), validate_choice=False)
    fixed_price_jpy_per_t = StringField(
        _l("Fixed price (yen per tonne)"), render_kw={"inputmode": "numeric"}
    )
    index = SelectField(_l("Price index"), validate_choice=False)
    index_factor = StringField(_l("Index factor (e.g. 0.92)"), render_kw={"inputmode": "decimal"})
    premium_jpy_per_t = StringField(_l("Premium (yen per tonne, may be negative)"))
    floor_jpy_per_t = StringField(
        _l("Floor (yen per tonne, optional)"), render_kw={"inputmode": "numeric"}
    )
    cap_jpy_per_t = StringField(
        _l("Cap (yen per tonne, optional)"), render_kw={"inputmode": "numeric"}
    )
    pricing_period = SelectField(_l("Pricing period"), validate_choice=False)
    payment_days = StringField(_l("Payment terms (days)"), render_kw={"type": "number"})
    renewal_months = StringField(
        _l("Automatic renewal (months, 0 for none)"), render_kw={"type": "number"}
    )
    termination_notice_days = StringField(
        _l("Termination notice (days)"), render_kw={"type": "number"}
    )
    governing_language = SelectField(_l("Governing language"), validate_choice=False)
    comment = TextAreaField(_l("Comment for the other side (optional)"))

    def set_choices(self, detail: ContractDetail, index_codes: list[str]) -> None:
        self.incoterm.choices = [(r, r) for r in INCOTERMS_2020]
        grades = published_grades(get_db(), detail.contract.material_code)
        current = detail.grades.get(detail.latest.standard_version_id)
        if current and current.version_id not in {g.version_id for g in grades}:
            grades.insert(0, current)  # the current grade stays choosable even if retired
        self.grade_version_id.choices = [
            (str(g.version_id), f"{g.label} — {g.name_ja if _ja() else g.name_en}") for g in grades
        ]
        self.price_kind.choices = list(labels_of("price_kind").items())
        self.index.choices = [("", _l("— none —"))] + [(c, c) for c in index_codes]
        self.pricing_period.choices = list(labels_of("index_period").items())
        self.governing_language.choices = list(labels_of("contract_language").items())


class CommentForm(FlaskForm):
    body = TextAreaField(_l("Message"))


class SignForm(FlaskForm):
    version = StringField(_l("Version"))
    terms_sha256 = StringField(_l("Terms SHA-256"))


class ActionForm(FlaskForm):
    """CSRF only."""


def _form_data(detail: ContractDetail) -> dict:
    """The latest version as the form's text values."""
    values = terms_values(detail.latest, detail.index_codes.get(detail.latest.index_id))
    out = {}
    for name, value in values.items():
        if value is None:
            out[name] = ""
        elif name == "start_month":
            out[name] = value.strftime("%Y-%m")
        elif isinstance(value, Decimal):
            out[name] = format(value.normalize(), "f")
        else:
            out[name] = str(value)
    return out


# ---------------------------------------------------------------------------------------------
# Pages


@bp.get("/contracts")
@login_required
def contracts():
    db, actor = get_db(), current_actor()
    status = request.args.get("status") or None
    if status is not None:
        try:
            status = ContractsQuery.model_validate({"status": status}).status
        except ValidationError:
            flash(gettext("Choose one of the allowed values."), "error")
            status = None
    page = paginate(db, contracts_query(actor, status))
    items = contract_outs(db, actor, page.items)
    return render_template(
        "contracts/list.html", items=items, page=page, status=status, **_helpers()
    )


@bp.get("/contracts/<int:contract_id>")
@login_required
def contract(contract_id: int):
    db, actor = get_db(), current_actor()
    detail = contract_detail(db, actor, contract_id)
    shown = detail.current
    if request.args.get("version", "").isdecimal():
        shown = detail.version(int(request.args["version"])) or abort(404)
    diff = None
    a, b = request.args.get("a", ""), request.args.get("b", "")
    if a.isdecimal() and b.isdecimal():
        diff = (int(a), int(b), change_rows(detail.diff(int(a), int(b)), detail))
    elif len(detail.versions) > 1:
        prev, last = detail.versions[-2], detail.latest
        diff = (
            prev.version,
            last.version,
            change_rows(detail.diff(prev.version, last.version), detail),
        )
    sign_form = SignForm(
        formdata=None, version=str(detail.latest.version), terms_sha256=detail.latest.sha256
    )
    return render_template(
        "contracts/detail.html",
        d=detail,
        c=detail.contract,
        shown=shown,
        diff=diff,
        org_link=_org_link,
        comment_form=CommentForm(formdata=None),
        sign_form=sign_form,
        action_form=ActionForm(formdata=None),
        movement=contract_movement(detail.contract),
        **_helpers(detail),
    )


@bp.get("/contracts/<int:contract_id>/print")
@login_required
def print_contract(contract_id: int):
    detail = contract_detail(get_db(), current_actor(), contract_id)
    shown = detail.current
    signatures = [(s, m) for s, t, m in detail.signatures if t.id == shown.id and not s.voided_at]
    return render_template(
        "contracts/print.html",
        d=detail,
        c=detail.contract,
        shown=shown,
        signatures=signatures,
        **_helpers(detail),
    )


@bp.get("/contracts/<int:contract_id>/events")
@login_required
def events(contract_id: int):
    db = get_db()
    detail = contract_detail(db, current_actor(), contract_id)
    query, report = contract_events(db, current_actor(), contract_id)
    page = paginate(db, query)
    names = {detail.seller.id: detail.seller, detail.buyer.id: detail.buyer}
    return render_template(
        "contracts/events.html",
        d=detail,
        c=detail.contract,
        page=page,
        report=report,
        names=names,
        **_helpers(detail),
    )


@bp.route("/contracts/<int:contract_id>/terms", methods=["GET", "POST"])
@login_required
def propose(contract_id: int):
    db, actor = get_db(), current_actor()
    detail = terms_form(db, actor, contract_id)  # 403 / 404 / 409 like the API
    codes = all_index_codes(db)
    if request.method == "GET":
        form = TermsForm(formdata=None, data=_form_data(detail))
    else:
        form = TermsForm()
    form.set_choices(detail, codes)
    status = 200
    if request.method == "POST":
        status = 422
        data = validate_form(form, TermsInput) if form.validate_on_submit() else None
        proposal = data and _proposal(form, data)
        if proposal is not None:
            try:
                version = propose_terms(db, actor, contract_id, proposal)
                db.commit()
            except (ValidationFailed, Conflict) as err:
                db.rollback()
                apply_to_form(form, err)  # under its field, or above the form
                status = err.status
            else:
                send_contract_notices(db)
                flash(
                    gettext("Version %(n)s proposed to the other side.", n=version.version),
                    "success",
                )
                return redirect(url_for("contracts.contract", contract_id=contract_id))
    return (
        render_template(
            "contracts/terms_form.html", form=form, d=detail, c=detail.contract, **_helpers(detail)
        ),
        status,
    )


def _proposal(form: TermsForm, data: TermsInput) -> TermsProposalIn | None:
    """The whole form as a counter-offer (every term sent) with its comment."""
    try:
        return TermsProposalIn.model_validate(
            {**input_values(data), "comment": form.comment.data or ""}
        )
    except ValidationError as exc:
        form.comment.errors = [e["message"] for e in input_errors(exc)]
        return None


@bp.post("/contracts/<int:contract_id>/comments")
@login_required
def comment(contract_id: int):
    db, actor = get_db(), current_actor()
    form = CommentForm()
    data = validate_form(form, CommentIn) if form.validate_on_submit() else None
    if data is None:
        errors = form.body.errors or [gettext("The form has expired. Please submit it again.")]
        flash(f"{form.body.label.text}: {errors[0]}", "error")
    elif commit_or_flash(lambda: add_comment(db, actor, contract_id, data)) is not None:
        send_contract_notices(db)
        flash(gettext("Message sent to the other side."), "success")
    return redirect(url_for("contracts.contract", contract_id=contract_id) + "#thread")


@bp.post("/contracts/<int:contract_id>/sign")
@login_required
def sign(contract_id: int):
    db, actor = get_db(), current_actor()
    form = SignForm()
    data = validate_form(form, SignIn) if form.validate_on_submit() else None
    if data is None:
        flash(gettext("The form has expired. Please submit it again."), "error")
        return redirect(url_for("contracts.contract", contract_id=contract_id))

    def act():
        try:
            return sign_contract(db, actor, contract_id, data, request.remote_addr or "")
        except SignatureRefused:
            db.commit()  # the refused attempt stays in the contract's audit trail
            raise

    signed = commit_or_flash(act)
    if signed is not None:
        send_contract_notices(db)
        if signed.activated:
            flash(gettext("Signed: both sides have signed, the contract is active."), "success")
        else:
            flash(
                gettext("Signed. The contract becomes active when the other side signs."), "success"
            )
    return redirect(url_for("contracts.contract", contract_id=contract_id))


@bp.post("/contracts/<int:contract_id>/withdraw")
@login_required
def withdraw(contract_id: int):
    db, actor = get_db(), current_actor()
    if not ActionForm().validate_on_submit():
        abort(400)
    if commit_or_flash(lambda: withdraw_contract(db, actor, contract_id)) is not None:
        send_contract_notices(db)
        flash(gettext("The draft is withdrawn; the volume it held is released."), "success")
    return redirect(url_for("contracts.contract", contract_id=contract_id))
