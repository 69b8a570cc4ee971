"""Quality pages: materials, standards and versions, consultations, assays, certificates."""

import json
from datetime import UTC, datetime, time

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlmodel import col, select
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from market.models import Organization
from market.participants import CERTIFY_ROLES, require_certifier, require_verified
from quality.assays import (
    AssayHeader,
    AssayRowsInvalid,
    ResultInput,
    assay_data_quality,
    assess_assay,
    inspections_of,
    parse_assay_csv,
    record_assay,
    results_of,
    save_inspections,
)
from quality.catalogue import (
    get_standard,
    get_version,
    latest_published_of,
    latest_published_version,
    parameters_by_code,
    published_specs_of_material,
    spec_of,
    spec_to_dict,
    versions_by_standard,
    versions_of,
)
from quality.certification import (
    certificate_content,
    certificates_of_assay,
    issue_certificate,
    verify_certificate,
)
from quality.errors import QualityError
from quality.models import (
    Assay,
    Certificate,
    GradeStandard,
    Material,
    Position,
    StandardVersion,
    VersionStatus,
)
from quality.standards import (
    STANDARDS_BODY,
    describe_limit,
    diff_versions,
    edit_version,
    open_consultation,
    propose_revision,
    propose_standard,
    publish_version,
    respond,
    responses_of,
    retire_version,
    tally,
    withdraw_version,
)
from web.auth import role_required
from web.db import get_db
from web.errors import apply_to_form
from web.i18n import translate_error

bp = Blueprint("quality", __name__)

ASSAY_ROLES = ("admin", "trader", "inspector")
STATUS_NAMES = {
    "draft": _l("Draft"),
    "consultation": _l("In consultation"),
    "published": _l("Published"),
    "withdrawn": _l("Withdrawn"),
    "retired": _l("Retired"),
}
OUTCOME_NAMES = {
    "conforms": _l("Conforms"),
    "conforms_with_deductions": _l("Conforms with deductions"),
    "downgraded": _l("Downgraded"),
    "rejected": _l("Rejected"),
    "incomplete": _l("Incomplete"),
}
FAMILY_NAMES = {
    "metal": _l("Metal"),
    "plastic": _l("Plastic"),
    "e-scrap": _l("E-scrap"),
    "battery": _l("Battery"),
}
POSITION_NAMES = {
    "endorse": _l("Endorse"),
    "object": _l("Object"),
    "comment": _l("Comment"),
}
RULE_NAMES = {
    "simple": _l("Simple (the measured value is compared)"),
    "guarded": _l("Guarded (the uncertainty counts against the claimant)"),
}

# What a lot's evidence lacks for the next data-quality level (non-parameter items).
EVIDENCE_LABELS = {
    "polymer": _l("polymer declared"),
    "source": _l("source declared (PCR or PIR)"),
    "form": _l("form declared (flake, pellet, bale …)"),
    "colour": _l("colour declared"),
    "composition": _l("declared composition"),
    "lab_assay": _l("a lab assay"),
    "lab_accredited": _l("an accredited laboratory"),
    "method_stated": _l("the test method"),
    "third_party_inspected": _l("third-party inspection"),
    "radioactivity_checked": _l("radioactivity check"),
    "identification_method": _l("identification by IR or DSC"),
}


@bp.context_processor
def _labels() -> dict:
    return {
        "status_name": lambda s: str(STATUS_NAMES.get(s, s)),
        "outcome_name": lambda s: str(OUTCOME_NAMES.get(s, s)),
        "family_name": lambda s: str(FAMILY_NAMES.get(s, s)),
        "position_name": lambda s: str(POSITION_NAMES.get(s, s)),
        "rule_name": lambda s: str(RULE_NAMES.get(s, s)),
        "describe_limit": describe_limit,
        "is_ja": _is_ja,
    }


def _is_ja() -> bool:
    from flask_babel import get_locale

    return str(get_locale()) == "ja"


def _name(obj) -> str:
    return obj.name_ja if _is_ja() else obj.name_en


# --- catalogue ------------------------------------------------------------------------------


@bp.get("/materials")
def materials():
    db = get_db()
    items = db.exec(select(Material).order_by(col(Material.family), col(Material.code))).all()
    counts: dict[str, int] = {}
    for s in db.exec(select(GradeStandard)).all():
        counts[s.material_code] = counts.get(s.material_code, 0) + 1
    return render_template("quality/materials.html", materials=items, counts=counts, name=_name)


@bp.get("/standards")
def standards():
    db = get_db()
    material = request.args.get("material", "")
    family = request.args.get("family", "")
    status = request.args.get("status", "")
    mats = {m.code: m for m in db.exec(select(Material).order_by(col(Material.code))).all()}
    query = select(GradeStandard).order_by(
        col(GradeStandard.material_code), col(GradeStandard.rank), col(GradeStandard.code)
    )
    if material:
        query = query.where(GradeStandard.material_code == material)
    rows = []
    standards_found = db.exec(query).all()
    all_versions = versions_by_standard(db, [s.id for s in standards_found])
    for s in standards_found:
        m = mats.get(s.material_code)
        if family and (m is None or m.family != family):
            continue
        versions = all_versions[s.id]
        latest = latest_published_of(versions)
        row_status = latest.status if latest else (versions[-1].status if versions else "")
        if status and not any(v.status == status for v in versions):
            continue
        rows.append((s, m, latest, row_status, versions))
    return render_template(
        "quality/standards.html",
        rows=rows,
        materials=list(mats.values()),
        material=material,
        family=family,
        status=status,
        name=_name,
        families=FAMILY_NAMES,
        statuses=STATUS_NAMES,
    )


def _org_names(ids) -> dict[int, Organization]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    orgs = get_db().exec(select(Organization).where(col(Organization.id).in_(ids))).all()
    return {o.id: o for o in orgs}


@bp.get("/standards/<code>")
def standard(code: str):
    db = get_db()
    std = get_standard(db, code)
    versions = versions_of(db, std)
    material = db.exec(select(Material).where(Material.code == std.material_code)).first()
    return render_template(
        "quality/standard.html",
        standard=std,
        versions=versions,
        material=material,
        latest=latest_published_version(db, std),
        orgs=_org_names(v.proposed_by_org_id for v in versions),
        name=_name,
    )


@bp.get("/standards/<code>/v<int:number>")
def version(code: str, number: int):
    db = get_db()
    std, ver = get_version(db, code, number)
    spec = spec_of(ver, std)
    versions = versions_of(db, std)
    return render_template(
        "quality/version.html",
        standard=std,
        version=ver,
        spec=spec,
        params=parameters_by_code(db),
        versions=versions,
        orgs=_org_names([ver.proposed_by_org_id]),
        name=_name,
        tally=tally(db, ver.id),
    )


@bp.get("/standards/<code>/diff")
def diff(code: str):
    db = get_db()
    std = get_standard(db, code)
    versions = versions_of(db, std)
    try:
        a = int(request.args.get("a", versions[0].number))
        b = int(request.args.get("b", versions[-1].number))
    except ValueError:
        abort(400)
    _, va = get_version(db, code, a)
    _, vb = get_version(db, code, b)
    changes = diff_versions(spec_of(va, std), spec_of(vb, std))
    return render_template(
        "quality/diff.html",
        standard=std,
        a=va,
        b=vb,
        versions=versions,
        changes=changes,
        params=parameters_by_code(db),
        name=_name,
    )


# --- standard-setting ---------------------------------------------------------------------


class ProposeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=40)])
    material = SelectField(_l("Material"), choices=[])
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(), Length(max=200)])
    name_ja = StringField(_l("Name (Japanese)"), validators=[DataRequired(), Length(max=200)])
    rank = IntegerField(
        _l("Rank (1 = best grade of the material)"),
        default=1,
        validators=[InputRequired(), NumberRange(1, 99)],
    )
    decision_rule = SelectField(_l("Decision rule"), choices=[])
    spec = TextAreaField(_l("Limits and requirements (JSON)"), validators=[DataRequired()])
    source = StringField(_l("Source reference"), validators=[Length(max=300)])
    change_note = TextAreaField(_l("Reasons for the proposal"), validators=[Length(max=4000)])


class ReviseForm(FlaskForm):
    decision_rule = SelectField(_l("Decision rule"), choices=[])
    spec = TextAreaField(_l("Limits and requirements (JSON)"), validators=[DataRequired()])
    source = StringField(_l("Source reference"), validators=[Length(max=300)])
    change_note = TextAreaField(
        _l("What changes, and why"), validators=[DataRequired(), Length(max=4000)]
    )


class OpenForm(FlaskForm):
    ends_on = DateField(_l("Consultation ends on"), validators=[DataRequired()])


class PublishForm(FlaskForm):
    effective_from = DateField(_l("Effective from"), validators=[DataRequired()])


class RespondForm(FlaskForm):
    position = RadioField(_l("Your position"), choices=[], validators=[DataRequired()])
    comment = TextAreaField(_l("Comment"), validators=[Length(max=4000)])


class ConfirmForm(FlaskForm):
    pass


def _rule_choices():
    return [(k, str(v)) for k, v in RULE_NAMES.items()]


def _verified_org() -> Organization:
    require_verified(current_user.org)
    return current_user.org


def _standards_body() -> Organization:
    org = _verified_org()
    if org.kind != STANDARDS_BODY:
        abort(403)
    return org


SPEC_EXAMPLE = json.dumps(
    {
        "limits": [
            {"parameter": "cu_pct", "kind": "min", "min": "94", "action": "reject"},
        ],
        "requirements": [
            {"code": "no_brass", "text_en": "Free of brass.", "text_ja": "真鍮を含まないこと。"}
        ],
        "derived": [],
    },
    indent=2,
    ensure_ascii=False,
)


@bp.route("/standards/new", methods=["GET", "POST"])
@login_required
def propose():
    db = get_db()
    form = ProposeForm()
    form.material.choices = [
        (m.code, _name(m)) for m in db.exec(select(Material).order_by(col(Material.code))).all()
    ]
    form.decision_rule.choices = _rule_choices()
    if request.method == "GET" and not form.spec.data:
        form.spec.data = SPEC_EXAMPLE
    if form.validate_on_submit():
        org = current_user.org
        try:
            ver = propose_standard(
                db,
                org.id,
                org.is_verified,
                form.code.data,
                form.material.data,
                form.name_en.data,
                form.name_ja.data,
                form.rank.data,
                form.decision_rule.data,
                form.spec.data,
                form.source.data,
                form.change_note.data,
            )
            db.commit()
        except QualityError as err:
            db.rollback()
            apply_to_form(form, err)
        else:
            flash(gettext("Your proposal is saved as a draft."), "success")
            std = db.get(GradeStandard, ver.standard_id)
            return redirect(url_for("quality.version", code=std.code, number=ver.number))
    status = 422 if request.method == "POST" else 200
    return render_template("quality/propose.html", form=form, revise=None), status


@bp.route("/standards/<code>/revise", methods=["GET", "POST"])
@login_required
def revise(code: str):
    db = get_db()
    std = get_standard(db, code)
    form = ReviseForm()
    form.decision_rule.choices = _rule_choices()
    base = latest_published_version(db, std) or versions_of(db, std)[-1]
    if request.method == "GET":
        form.spec.data = json.dumps(spec_to_dict(spec_of(base, std)), indent=2, ensure_ascii=False)
        form.decision_rule.data = base.decision_rule
        form.source.data = base.source
    if form.validate_on_submit():
        org = current_user.org
        try:
            ver = propose_revision(
                db,
                org.id,
                org.is_verified,
                std.code,
                form.decision_rule.data,
                form.spec.data,
                form.source.data,
                form.change_note.data,
            )
            db.commit()
        except QualityError as err:
            db.rollback()
            apply_to_form(form, err)
        else:
            flash(gettext("Your proposal is saved as a draft."), "success")
            return redirect(url_for("quality.version", code=std.code, number=ver.number))
    status = 422 if request.method == "POST" else 200
    return render_template("quality/propose.html", form=form, revise=std, base=base), status


@bp.get("/standards/<code>/v<int:number>/consultation")
def consultation(code: str, number: int):
    db = get_db()
    std, ver = get_version(db, code, number)
    return _consultation_page(std, ver, RespondForm(), OpenForm(), PublishForm())


def _consultation_page(std, ver, respond_form, open_form, publish_form, status: int = 200):
    db = get_db()
    responses = responses_of(db, ver.id)
    respond_form.position.choices = [(p.value, str(POSITION_NAMES[p.value])) for p in Position]
    mine = None
    if current_user.is_authenticated:
        mine = next((r for r in responses if r.organization_id == current_user.org.id), None)
        if mine and request.method == "GET":
            respond_form.position.data = mine.position
            respond_form.comment.data = mine.comment
    is_body = (
        current_user.is_authenticated
        and current_user.org.kind == STANDARDS_BODY
        and current_user.org.is_verified
    )
    is_open = ver.status == VersionStatus.CONSULTATION and (
        ver.consultation_ends_at is None or ver.consultation_ends_at > datetime.now(UTC)
    )
    return render_template(
        "quality/consultation.html",
        standard=std,
        version=ver,
        responses=responses,
        orgs=_org_names([r.organization_id for r in responses] + [ver.proposed_by_org_id]),
        tally=tally(db, ver.id),
        respond_form=respond_form,
        open_form=open_form,
        publish_form=publish_form,
        confirm=ConfirmForm(),
        is_body=is_body,
        is_open=is_open,
        mine=mine,
        name=_name,
    ), status


@bp.post("/standards/<code>/v<int:number>/respond")
@login_required
def respond_view(code: str, number: int):
    db = get_db()
    std, ver = get_version(db, code, number)
    form = RespondForm()
    form.position.choices = [(p.value, str(POSITION_NAMES[p.value])) for p in Position]
    if form.validate_on_submit():
        org = current_user.org
        try:
            respond(
                db,
                ver,
                org.id,
                org.kind,
                org.is_verified,
                current_user.member.id,
                form.position.data,
                form.comment.data or "",
            )
            db.commit()
        except QualityError as err:
            db.rollback()
            apply_to_form(form, err)
        else:
            flash(gettext("Your response is recorded."), "success")
            return redirect(url_for("quality.consultation", code=code, number=number))
    return _consultation_page(std, ver, form, OpenForm(), PublishForm(), 422)


@bp.post("/standards/<code>/v<int:number>/open")
@login_required
def open_view(code: str, number: int):
    db = get_db()
    std, ver = get_version(db, code, number)
    org = _standards_body()
    form = OpenForm()
    if form.validate_on_submit():
        ends_at = datetime.combine(form.ends_on.data, time(15, 0), tzinfo=UTC)  # 24:00 JST
        try:
            open_consultation(db, ver, org.kind, ends_at)
            db.commit()
        except QualityError as err:
            db.rollback()
            apply_to_form(form, err)
        else:
            flash(gettext("The consultation is open."), "success")
            return redirect(url_for("quality.consultation", code=code, number=number))
    return _consultation_page(std, ver, RespondForm(), form, PublishForm(), 422)


@bp.post("/standards/<code>/v<int:number>/publish")
@login_required
def publish_view(code: str, number: int):
    db = get_db()
    std, ver = get_version(db, code, number)
    org = _standards_body()
    form = PublishForm()
    if form.validate_on_submit():
        try:
            publish_version(db, ver, org.kind, form.effective_from.data)
            db.commit()
        except QualityError as err:
            db.rollback()
            apply_to_form(form, err)
        else:
            flash(gettext("The version is published."), "success")
            return redirect(url_for("quality.version", code=code, number=number))
    return _consultation_page(std, ver, RespondForm(), OpenForm(), form, 422)


@bp.post("/standards/<code>/v<int:number>/withdraw")
@login_required
def withdraw_view(code: str, number: int):
    db = get_db()
    _, ver = get_version(db, code, number)
    org = _verified_org()
    withdraw_version(db, ver, org.kind, org.id)
    db.commit()
    flash(gettext("The version is withdrawn."), "success")
    return redirect(url_for("quality.version", code=code, number=number))


@bp.post("/standards/<code>/v<int:number>/retire")
@login_required
def retire_view(code: str, number: int):
    db = get_db()
    _, ver = get_version(db, code, number)
    org = _verified_org()
    retire_version(db, ver, org.kind)
    db.commit()
    flash(gettext("The version is retired."), "success")
    return redirect(url_for("quality.version", code=code, number=number))


# --- assays ---------------------------------------------------------------------------------


class ResultRowForm(Form):
    parameter = StringField(_l("Parameter"), validators=[Optional(), Length(max=40)])
    value = StringField(_l("Value"), validators=[Optional(), Length(max=30)])
    uncertainty = StringField(_l("Uncertainty (±)"), validators=[Optional(), Length(max=30)])


class AssayForm(FlaskForm):
    lot_ref = StringField(_l("Lot reference"), validators=[DataRequired(), Length(max=80)])
    material = SelectField(_l("Material"), choices=[])
    tonnes = StringField(_l("Tonnes"), validators=[Optional(), Length(max=20)])
    lab_name = StringField(_l("Laboratory"), validators=[DataRequired(), Length(max=200)])
    lab_accredited = BooleanField(_l("The laboratory is accredited (ISO/IEC 17025)"))
    method = StringField(_l("Method"), validators=[Length(max=200)])
    sampled_on = DateField(_l("Sampled on"), validators=[DataRequired()])
    reported_on = DateField(_l("Reported on"), validators=[DataRequired()])
    composition = StringField(_l("Declared composition (metals)"), validators=[Length(max=200)])
    polymer = StringField(_l("Polymer (plastics)"), validators=[Length(max=60)])
    source = SelectField(
        _l("Source (plastics)"), choices=[("", "—"), ("PCR", "PCR"), ("PIR", "PIR")], default=""
    )
    form_ = StringField(_l("Form (flake, pellet, bale…)"), validators=[Length(max=60)])
    colour = StringField(_l("Colour"), validators=[Length(max=60)])
    identification_method = SelectField(
        _l("Polymer identification"), choices=[("", "—"), ("IR", "IR"), ("DSC", "DSC")], default=""
    )
    third_party_inspected = BooleanField(_l("Inspected by a third party"))
    radioactivity_checked = BooleanField(_l("Radioactivity checked"))
    results = FieldList(FormField(ResultRowForm), min_entries=8, max_entries=60)
    csv_file = FileField(_l("Or upload a CSV file (parameter, value, uncertainty, unit)"))


def _own_assay(assay_id: int) -> Assay:
    assay = get_db().get(Assay, assay_id)
    if assay is None or assay.organization_id != current_user.org.id:
        abort(404)
    return assay


@bp.get("/assays")
@login_required
def assays():
    db = get_db()
    items = db.exec(
        select(Assay)
        .where(Assay.organization_id == current_user.org.id)
        .order_by(col(Assay.created_at).desc())
    ).all()
    return render_template("quality/assays.html", assays=items)


@bp.route("/assays/new", methods=["GET", "POST"])
@role_required(*ASSAY_ROLES)
def new_assay():
    db = get_db()
    form = AssayForm()
    form.material.choices = [
        (m.code, _name(m)) for m in db.exec(select(Material).order_by(col(Material.code))).all()
    ]
    row_errors: list[str] = []
    if form.validate_on_submit():
        upload = form.csv_file.data
        declared = {
            "composition": form.composition.data or "",
            "polymer": form.polymer.data or "",
            "source": form.source.data or "",
            "form": form.form_.data or "",
            "colour": form.colour.data or "",
        }
        header = AssayHeader(
            lot_ref=form.lot_ref.data,
            material_code=form.material.data,
            lab_name=form.lab_name.data,
            sampled_on=form.sampled_on.data,
            reported_on=form.reported_on.data,
            lab_accredited=form.lab_accredited.data,
            method=form.method.data or "",
            tonnes=form.tonnes.data,
            evidence={
                "declared": declared,
                "third_party_inspected": form.third_party_inspected.data,
                "radioactivity_checked": form.radioactivity_checked.data,
                "identification_method": form.identification_method.data or None,
            },
        )
        try:
            if upload and getattr(upload, "filename", ""):
                text = upload.read().decode("utf-8-sig")
                rows = parse_assay_csv(text)
            else:
                rows = [
                    ResultInput(r.parameter.data, r.value.data, r.uncertainty.data, row=i + 1)
                    for i, r in enumerate(form.results)
                    if (r.parameter.data or "").strip() or (r.value.data or "").strip()
                ]
            require_verified(current_user.org)
            assay = record_assay(db, current_user.org.id, header, rows)
            db.commit()
        except UnicodeDecodeError:
            db.rollback()
            form.csv_file.errors = [gettext("The CSV file must be UTF-8 text.")]
        except QualityError as err:
            db.rollback()
            row_errors = _row_messages(err)
            if not row_errors:
                apply_to_form(form, err)
        else:
            flash(gettext("The assay is saved."), "success")
            return redirect(url_for("quality.assay", assay_id=assay.id))
    status = 422 if request.method == "POST" else 200
    return render_template("quality/assay_new.html", form=form, row_errors=row_errors), status


def _row_messages(err: QualityError) -> list[str]:
    """Per-row messages ("Row 3: …") for result errors; [] for header errors."""
    if isinstance(err, AssayRowsInvalid):
        problems = err.problems
    elif getattr(err, "row", None) is not None:
        problems = [(err.row, err)]
    else:
        return []
    return [
        gettext("Row %(row)s: %(message)s", row=row, message=translate_error(e))
        if row is not None
        else translate_error(e)
        for row, e in problems
    ]


@bp.get("/assays/<int:assay_id>")
@login_required
def assay(assay_id: int):
    db = get_db()
    item = _own_assay(assay_id)
    specs = published_specs_of_material(db, item.material_code)
    standards = db.exec(
        select(GradeStandard)
        .where(GradeStandard.material_code == item.material_code)
        .order_by(col(GradeStandard.rank))
    ).all()
    choices = []
    for std in standards:
        for ver in versions_of(db, std):
            if ver.status in (VersionStatus.PUBLISHED, VersionStatus.RETIRED):
                choices.append((std, ver))
    chosen = request.args.get("grade", "")
    report = None
    selected = None
    if chosen:
        code, _, number = chosen.rpartition(":")
        if not number.isdigit():
            abort(404)
        selected = get_version(db, code, int(number))
    elif specs:
        selected = get_version(db, specs[0].code, specs[0].version)
    if selected is not None:
        report = assess_assay(db, item, *selected)
    level, missing = assay_data_quality(db, item)
    return render_template(
        "quality/assay.html",
        assay=item,
        results=results_of(db, item),
        params=parameters_by_code(db),
        material=db.exec(select(Material).where(Material.code == item.material_code)).first(),
        evidence_labels=EVIDENCE_LABELS,
        name=_name,
        choices=choices,
        selected=selected,
        report=report,
        level=level,
        missing=missing,
        inspections=inspections_of(item),
        certificates=certificates_of_assay(db, item),
        confirm=ConfirmForm(),
        can_certify=any(current_user.has_role(r) for r in CERTIFY_ROLES),
    )


@bp.post("/assays/<int:assay_id>/inspections")
@role_required(*ASSAY_ROLES)
def inspections(assay_id: int):
    db = get_db()
    item = _own_assay(assay_id)
    answers = {}
    for key, value in request.form.items():
        if key.startswith("req-") and value in ("yes", "no"):
            answers[key[4:]] = value == "yes"
    save_inspections(db, item, answers)
    db.commit()
    flash(gettext("The inspection results are saved."), "success")
    return redirect(url_for("quality.assay", assay_id=assay_id, grade=request.form.get("grade")))


@bp.post("/assays/<int:assay_id>/certify")
@role_required(*CERTIFY_ROLES)
def certify(assay_id: int):
    db = get_db()
    item = _own_assay(assay_id)
    code, _, number = request.form.get("grade", "").rpartition(":")
    if not number.isdigit():
        abort(400)
    org = require_certifier(db, current_user.member)
    std, ver = get_version(db, code, int(number))
    cert = issue_certificate(db, item, std, ver, org.id, org.name_ja)
    db.commit()
    flash(gettext("The certificate is issued."), "success")
    return redirect(url_for("quality.certificate", cert_id=cert.id))


@bp.get("/certificates/<cert_id>")
@login_required
def certificate(cert_id: str):
    db = get_db()
    cert = db.get(Certificate, cert_id)
    if cert is None or cert.issuer_org_id != current_user.org.id:
        abort(404)
    _, genuine = verify_certificate(db, cert_id)
    return render_template(
        "quality/certificate.html",
        cert=cert,
        content=_content(cert),
        genuine=genuine,
        public=False,
    )


def _content(cert: Certificate) -> dict:
    try:
        content = certificate_content(cert)
    except ValueError:
        return {}
    return content if isinstance(content, dict) else {}


@bp.get("/verify/<cert_id>")
def verify(cert_id: str):
    cert, genuine = verify_certificate(get_db(), cert_id)
    if cert is None:
        return render_template("quality/verify.html", cert=None, content={}, genuine=False), 404
    return render_template(
        "quality/verify.html", cert=cert, content=_content(cert), genuine=genuine
    )


def version_for_status(ver: StandardVersion) -> str:
    return str(STATUS_NAMES.get(ver.status, ver.status))


@bp.route("/standards/<code>/v<int:number>/edit", methods=["GET", "POST"])
@login_required
def edit(code: str, number: int):
    """Edit a draft; a published or retired version answers 409 (ImmutableVersion)."""
    db = get_db()
    std, ver = get_version(db, code, number)
    form = ReviseForm()
    form.decision_rule.choices = _rule_choices()
    if request.method == "GET":
        form.spec.data = json.dumps(spec_to_dict(spec_of(ver, std)), indent=2, ensure_ascii=False)
        form.decision_rule.data = ver.decision_rule
        form.source.data = ver.source
        form.change_note.data = ver.change_note
    if form.validate_on_submit() or request.method == "POST":
        edit_version(
            db,
            ver,
            current_user.org.id,
            form.decision_rule.data,
            form.spec.data or "",
            form.source.data,
            form.change_note.data,
        )
        db.commit()
        flash(gettext("The draft is saved."), "success")
        return redirect(url_for("quality.version", code=code, number=number))
    return render_template("quality/propose.html", form=form, revise=std, base=ver)
