"""Movement-record pages: an organisation's export and import records of critical scrap
(the operator sees every organisation's), a record with its committed tonnes and the contracts
running under it, the form to record or amend a consent, withdrawal; and the form on a draft
contract's page that attaches one of a party's records. The rules are `market.movements`'s and
`contracts.crossborder`'s; the API calls the same functions."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlmodel import col, select
from wtforms import SelectField, StringField, TextAreaField

from contracts.crossborder import attach_movement_record, contracts_under
from contracts.crossborder import contract_movement as movement_of
from market.models import MovementDirection, MovementRecord
from market.movements import (
    MANAGE_MOVEMENTS,
    RecordInput,
    create_record,
    read_record,
    record_choices,
    record_out,
    records_query,
    update_record,
    withdraw_record,
)
from participants.accounts import organizations_by_id
from participants.countries import country_codes, country_name
from quality.export_regimes import REGIMES, ROUTE_LABELS, Route
from quality.models import Material
from web.auth import current_actor
from web.db import get_db
from web.errors import check_form_page, commit_or_flash, save_form
from web.pagination import paginate
from web.validation import validate_form

bp = Blueprint("movements", __name__)

DIRECTION_LABELS = {
    MovementDirection.EXPORT: _l("Export (leaving Japan)"),
    MovementDirection.IMPORT: _l("Import (entering Japan)"),
}


def _locale() -> str:
    return "ja" if str(get_locale()) == "ja" else "en"


def country_label(code: str | None) -> str:
    """A country's name in the page's language, with its code."""
    if not code:
        return ""
    return f"{country_name(code, _locale())} ({code})"


def country_choices(blank: bool = False) -> list[tuple[str, str]]:
    """Every ISO 3166-1 alpha-2 country, Japan first, then by name in the page's language."""
    locale = _locale()
    others = sorted(
        (c for c in country_codes() if c != "JP"), key=lambda c: country_name(c, locale)
    )
    choices = [(c, f"{country_name(c, locale)} ({c})") for c in ["JP", *others]]
    return [("", _l("— choose —")), *choices] if blank else choices


@bp.app_template_filter("country")
def _country_filter(code: str | None) -> str:
    return country_label(code)


@bp.app_context_processor
def _movement_helpers() -> dict:
    return {
        "route_label": lambda r: gettext(ROUTE_LABELS[r]) if r in ROUTE_LABELS else r,
        "direction_label": lambda d: str(DIRECTION_LABELS.get(d, d)),
    }


class RecordForm(FlaskForm):
    direction = SelectField(_l("Direction"), validate_choice=False)
    material = SelectField(_l("Material"), validate_choice=False)
    route = SelectField(_l("Legal route"), validate_choice=False)
    reference = StringField(_l("Notification, consent or confirmation number"))
    authorities = StringField(_l("Competent authorities"))
    country_export = SelectField(_l("Country of export"), validate_choice=False, default="JP")
    countries_transit = StringField(
        _l("Countries of transit (ISO codes, separated by spaces)"),
    )
    country_import = SelectField(_l("Country of import"), validate_choice=False)
    valid_from = StringField(_l("Valid from"), render_kw={"type": "date"})
    valid_until = StringField(_l("Valid until (inclusive)"), render_kw={"type": "date"})
    consented_t = StringField(_l("Consented tonnes"), render_kw={"inputmode": "decimal"})
    certificate_id = StringField(_l("Certificate of grade (required for not waste)"))
    note = TextAreaField(_l("Note (optional)"))

    def __init__(self, materials: list[Material], *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        ja = _locale() == "ja"
        self.direction.choices = [(str(k), str(v)) for k, v in DIRECTION_LABELS.items()]
        self.material.choices = [("", _l("— choose —"))] + [
            (m.code, m.name_ja if ja else m.name_en) for m in materials
        ]
        self.route.choices = [(str(r), gettext(ROUTE_LABELS[r])) for r in Route]
        self.country_export.choices = country_choices()
        self.country_import.choices = country_choices(blank=True)


def _critical_materials() -> list[Material]:
    return list(
        get_db().exec(
            select(Material)
            .where(Material.critical == True, col(Material.code).in_(REGIMES))  # noqa: E712
            .order_by(col(Material.code))
        )
    )


def _form_input(form: RecordForm) -> RecordInput | None:
    transit = (form.countries_transit.data or "").replace(",", " ").split()
    return validate_form(form, RecordInput, countries_transit=transit)


@bp.get("/movements")
@login_required
def records():
    db, actor = get_db(), current_actor()
    page = paginate(db, records_query(actor))
    orgs = organizations_by_id(db, {r.organization_id for r in page.items})
    return render_template(
        "movements/list.html",
        page=page,
        orgs=orgs,
        can_manage=MANAGE_MOVEMENTS.allows(actor),
    )


@bp.route("/movements/new", methods=["GET", "POST"])
@login_required
def new_record():
    db, actor = get_db(), current_actor()
    check_form_page(MANAGE_MOVEMENTS, actor)
    form = RecordForm(_critical_materials())
    status = 200
    if form.validate_on_submit():
        data = _form_input(form)
        status = 422
        if data is not None:
            record, status = save_form(form, lambda: create_record(db, actor, data))
            if record is not None:
                flash(gettext("The movement record is saved."), "success")
                return redirect(url_for("movements.record", record_id=record.id))
    elif form.is_submitted():
        status = 422
    return render_template("movements/form.html", form=form, record=None), status


@bp.get("/movements/<int:record_id>")
@login_required
def record(record_id: int):
    db, actor = get_db(), current_actor()
    item = read_record(db, actor, record_id)
    contracts = contracts_under(db, actor, record_id)
    org_ids = (
        {item.organization_id}
        | {c.seller_org_id for c in contracts}
        | {c.buyer_org_id for c in contracts}
    )
    orgs = organizations_by_id(db, org_ids)
    return render_template(
        "movements/detail.html",
        record=item,
        out=record_out(item),
        contracts=contracts,
        orgs=orgs,
        regime=REGIMES.get(item.material_code),
        can_manage=MANAGE_MOVEMENTS.allows(actor) and actor.owns(item.organization_id),
        form=FlaskForm(formdata=None),
    )


@bp.route("/movements/<int:record_id>/edit", methods=["GET", "POST"])
@login_required
def edit_record(record_id: int):
    db, actor = get_db(), current_actor()
    MANAGE_MOVEMENTS.check(actor)
    item = read_record(db, actor, record_id)
    if not actor.owns(item.organization_id):
        abort(404)
    if request.method == "GET":
        current = record_out(item).model_dump(mode="json")
        current["countries_transit"] = " ".join(current["countries_transit"])
        form = RecordForm(_critical_materials(), data=current)
    else:
        form = RecordForm(_critical_materials())
    status = 200
    if form.validate_on_submit():
        data = _form_input(form)
        status = 422
        if data is not None:
            saved, status = save_form(form, lambda: update_record(db, actor, record_id, data))
            if saved is not None:
                flash(gettext("The movement record is saved."), "success")
                return redirect(url_for("movements.record", record_id=record_id))
    elif form.is_submitted():
        status = 422
    return render_template("movements/form.html", form=form, record=item), status


@bp.post("/movements/<int:record_id>/withdraw")
@login_required
def withdraw(record_id: int):
    if not FlaskForm().validate_on_submit():
        abort(400)
    commit_or_flash(
        lambda: withdraw_record(get_db(), current_actor(), record_id),
        gettext("The movement record is withdrawn."),
    )
    return redirect(url_for("movements.record", record_id=record_id))


class AttachForm(FlaskForm):
    movement_record_id = SelectField(_l("Export or import record"), validate_choice=False)


@bp.post("/contracts/<int:contract_id>/movement-record")
@login_required
def attach(contract_id: int):
    form = AttachForm()
    if not form.validate_on_submit():
        abort(400)
    raw = (form.movement_record_id.data or "").strip()
    if raw and not raw.isdecimal():
        abort(400)
    commit_or_flash(
        lambda: attach_movement_record(
            get_db(), current_actor(), contract_id, int(raw) if raw else None
        ),
        gettext("The contract's movement record is saved."),
    )
    return redirect(url_for("contracts.contract", contract_id=contract_id) + "#movement")


def contract_movement(contract) -> dict | None:
    """What a contract's page shows about its movement across Japan's border: origin →
    destination, the record it runs under (its reference and validity, for both parties), the
    consent tonnes committed, and the form that attaches one of the caller's records to a
    draft. None when the contract moves nothing across the border."""
    db, actor = get_db(), current_actor()
    move = movement_of(db, contract)
    if move is None and not contract.movement_record_id:
        return None
    record = (
        db.get(MovementRecord, contract.movement_record_id) if contract.movement_record_id else None
    )
    form = None
    if contract.status == "draft" and MANAGE_MOVEMENTS.allows(actor):
        form = AttachForm(formdata=None, movement_record_id=str(contract.movement_record_id or ""))
        form.movement_record_id.choices = [("", _l("— none —"))] + [
            (str(r.id), f"#{r.id} {r.reference} ({r.country_export} → {r.country_import}, "
             f"{r.valid_from.isoformat()} – {r.valid_until.isoformat()})")
            for r in record_choices(db, actor.organization_id, contract.material_code)
        ]  # fmt: skip
    return {
        "move": move,
        "direction": move.direction.value if move else None,
        "record": record,
        "own_record": bool(record and actor.owns(record.organization_id)),
        "committed_kg": contract.consent_committed_kg,
        "form": form,
    }
