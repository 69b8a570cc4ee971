"""Quality pages: materials, standards and versions, consultations, assays, certificates.

The pages decide nothing: each calls one quality function with the acting member, which
checks the permission itself (an unauthorised request answers 403, a record of another
organisation 404, exactly like the API).
"""

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from pydantic import ValidationError
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
from wtforms.validators import DataRequired, InputRequired, Optional

from participants.errors import DomainError, PermissionDenied, ValidationFailed
from participants.models import Organization
from quality.assays import (
    READ_ASSAYS,
    RECORD_ASSAYS,
    AssayInput,
    AssayRowsInvalid,
    InspectionAnswers,
    assay_data_quality,
    assay_materials,
    assays_of,
    assess_assay,
    inspections_of,
    read_assay,
    record_assay,
    result_rows,
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
    ISSUE_CERTIFICATES,
    CertificateRequest,
    certificate_content,
    certificates_of_assay,
    issue_certificate,
    read_certificate,
    verify_certificate,
)
from quality.export_regimes import REGIMES
from quality.models import (
    Certificate,
    GradeStandard,
    Material,
    Position,
    VersionStatus,
)
from quality.standards import (
    ADMINISTER_STANDARDS,
    EDIT_DRAFTS,
    PROPOSE_STANDARDS,
    RESPOND_TO_CONSULTATIONS,
    ConsultationOpening,
    Publication,
    ResponseInput,
    StandardProposal,
    StandardRevision,
    describe_limit,
    diff_versions,
    draft_to_edit,
    edit_version,
    is_open,
    may_withdraw,
    open_consultation,
    open_consultations,
    proposal_materials,
    propose_revision,
    propose_standard,
    publication_concerns,
    publish_version,
    respond,
    responses_of,
    retire_version,
    revision_base,
    tally,
    withdraw_version,
)
from web.auth import current_actor
from web.db import get_db
from web.errors import apply_to_form, refuse_on_form
from web.i18n import translate_error
from web.labels import LABELS
from web.qr import qr_svg
from web.validation import InputInvalid, input_errors, validate_form

bp = Blueprint("quality", __name__)


# The names live in web.labels (one kind each).
STATUS_NAMES = LABELS["standard_status"]
OUTCOME_NAMES = LABELS["assay_outcome"]
FAMILY_NAMES = LABELS["material_family"]
POSITION_NAMES = LABELS["consultation_position"]
RULE_NAMES = LABELS["decision_rule"]

# What a lot's evidence lacks for the next data-quality level (non-parameter items).
EVIDENCE_LABELS = LABELS["evidence_item"]


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
        "actor": current_actor(),
        "PROPOSE_STANDARDS": PROPOSE_STANDARDS,
        "RESPOND_TO_CONSULTATIONS": RESPOND_TO_CONSULTATIONS,
        "ADMINISTER_STANDARDS": ADMINISTER_STANDARDS,
        "EDIT_DRAFTS": EDIT_DRAFTS,
        "RECORD_ASSAYS": RECORD_ASSAYS,
        "READ_ASSAYS": READ_ASSAYS,
        "ISSUE_CERTIFICATES": ISSUE_CERTIFICATES,
        "may_withdraw": may_withdraw,
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
    return render_template(
        "quality/materials.html", materials=items, counts=counts, name=_name, regimes=REGIMES
    )


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
        consultations=open_consultations(db),
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
    spec_a, spec_b = spec_of(va, std), spec_of(vb, std)
    changes = diff_versions(spec_a, spec_b)
    return render_template(
        "quality/diff.html",
        standard=std,
        a=va,
        b=vb,
        versions=versions,
        changes=changes,
        sides={"before": _spec_parts(spec_a), "after": _spec_parts(spec_b)},
        params=parameters_by_code(db),
        name=_name,
    )


def _spec_parts(spec) -> dict:
    """A version's parts by the diff's keys, for showing them in words: limits by parameter,
    requirements and derived parameters by code, the decision rule."""
    limits: dict[str, list] = {}
    for limit in spec.limits:
        limits.setdefault(limit.parameter, []).append(limit)
    return {
        "limit": limits,
        "requirement": {r.code: r for r in spec.requirements},
        "derived": {d.code: d for d in spec.derived},
        "decision_rule": {"decision_rule": spec.decision_rule},
    }


# --- standard-setting ---------------------------------------------------------------------


class ProposeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired()])
    material = SelectField(_l("Material"), choices=[])
    name_en = StringField(_l("Name (English)"), validators=[DataRequired()])
    name_ja = StringField(_l("Name (Japanese)"), validators=[DataRequired()])
    rank = IntegerField(
        _l("Rank (1 = best grade of the material)"), default=1, validators=[InputRequired()]
    )
    decision_rule = SelectField(_l("Decision rule"), choices=[])
    spec = TextAreaField(_l("Limits and requirements (JSON)"), validators=[DataRequired()])
    source = StringField(_l("Source reference"))
    change_note = TextAreaField(_l("Reasons for the proposal"))


class ReviseForm(FlaskForm):
    decision_rule = SelectField(_l("Decision rule"), choices=[])
    spec = TextAreaField(_l("Limits and requirements (JSON)"), validators=[DataRequired()])
    source = StringField(_l("Source reference"))
    change_note = TextAreaField(_l("What changes, and why"))


class OpenForm(FlaskForm):
    ends_on = DateField(_l("Consultation ends on"), validators=[DataRequired()])


class PublishForm(FlaskForm):
    effective_from = DateField(_l("Effective from"), validators=[DataRequired()])
    justification = TextAreaField(_l("Justification for publishing now"))


class RespondForm(FlaskForm):
    position = RadioField(_l("Your position"), choices=[], validators=[DataRequired()])
    comment = TextAreaField(_l("Comment"))


class ConfirmForm(FlaskForm):
    pass


def _rule_choices():
    return [(k, str(v)) for k, v in RULE_NAMES.items()]


def _post_status(form) -> int:
    """A form sent back: 403 when the domain refused the step (waiting for verification),
    else 422."""
    return getattr(form, "refused", None) or 422


def _saved(form, action, form_page: bool = False):
    """Run a domain action and commit; a validation error goes under its form field (None).

    Permission, not-found and conflict errors are not form errors: they answer 403 / 404 /
    409 through the one error handler, as in the API — except, on a `form_page` (proposing a
    standard), the refusal of an organisation waiting for verification, said above the form
    (403)."""
    db = get_db()
    try:
        result = action()
        db.commit()
    except ValidationFailed as err:
        if err.status != 422:
            raise
        db.rollback()
        apply_to_form(form, err)
        return None
    except PermissionDenied as err:
        if not form_page:
            raise
        # A form page's last step, waiting for verification: said above the form.
        form.refused = refuse_on_form(form, err, current_actor())
        return None
    return result


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
    actor = current_actor()
    form = ProposeForm()
    form.material.choices = [(m.code, _name(m)) for m in proposal_materials(db, actor)]
    form.decision_rule.choices = _rule_choices()
    if request.method == "GET" and not form.spec.data:
        form.spec.data = SPEC_EXAMPLE
    if form.validate_on_submit():
        data = validate_form(form, StandardProposal)
        ver = data and _saved(form, lambda: propose_standard(db, actor, data), form_page=True)
        if ver is not None:
            flash(gettext("Your proposal is saved as a draft."), "success")
            std = db.get(GradeStandard, ver.standard_id)
            return redirect(url_for("quality.version", code=std.code, number=ver.number))
    status = _post_status(form) if request.method == "POST" else 200
    return render_template("quality/propose.html", form=form, revise=None), status


@bp.route("/standards/<code>/revise", methods=["GET", "POST"])
@login_required
def revise(code: str):
    db = get_db()
    actor = current_actor()
    std, base = revision_base(db, actor, code)
    form = ReviseForm()
    form.decision_rule.choices = _rule_choices()
    if request.method == "GET":
        form.spec.data = json.dumps(spec_to_dict(spec_of(base, std)), indent=2, ensure_ascii=False)
        form.decision_rule.data = base.decision_rule
        form.source.data = base.source
    if form.validate_on_submit():
        data = validate_form(form, StandardRevision)
        ver = data and _saved(
            form, lambda: propose_revision(db, actor, std.code, data), form_page=True
        )
        if ver is not None:
            flash(gettext("Your proposal is saved as a draft."), "success")
            return redirect(url_for("quality.version", code=std.code, number=ver.number))
    status = _post_status(form) if request.method == "POST" else 200
    return render_template("quality/propose.html", form=form, revise=std, base=base), status


@bp.route("/standards/<code>/v<int:number>/edit", methods=["GET", "POST"])
@login_required
def edit(code: str, number: int):
    """Edit a draft (its proposer); any other version answers 409 (ImmutableVersion)."""
    db = get_db()
    actor = current_actor()
    std, ver = draft_to_edit(db, actor, code, number)
    form = ReviseForm()
    form.decision_rule.choices = _rule_choices()
    if request.method == "GET":
        form.spec.data = json.dumps(spec_to_dict(spec_of(ver, std)), indent=2, ensure_ascii=False)
        form.decision_rule.data = ver.decision_rule
        form.source.data = ver.source
        form.change_note.data = ver.change_note
    if form.validate_on_submit():
        data = validate_form(form, StandardRevision)
        if data is not None and _saved(form, lambda: edit_version(db, actor, ver, data)):
            flash(gettext("The draft is saved."), "success")
            return redirect(url_for("quality.version", code=code, number=number))
    status = 422 if request.method == "POST" else 200
    return render_template("quality/propose.html", form=form, revise=std, base=ver), status


@bp.get("/standards/<code>/v<int:number>/consultation")
def consultation(code: str, number: int):
    db = get_db()
    std, ver = get_version(db, code, number)
    return _consultation_page(std, ver, RespondForm(), OpenForm(), PublishForm())


def _consultation_page(std, ver, respond_form, open_form, publish_form, status: int = 200):
    db = get_db()
    actor = current_actor()
    responses = responses_of(db, ver.id)
    respond_form.position.choices = [(p.value, str(POSITION_NAMES[p.value])) for p in Position]
    mine = None
    if actor is not None:
        mine = next((r for r in responses if actor.owns(r.organization_id)), None)
        if mine and request.method == "GET":
            respond_form.position.data = mine.position
            respond_form.comment.data = mine.comment
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
        is_open=is_open(ver),
        concerns=publication_concerns(db, ver),
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
        data = validate_form(form, ResponseInput)
        if data is not None and _saved(form, lambda: respond(db, current_actor(), ver, data)):
            flash(gettext("Your response is recorded."), "success")
            return redirect(url_for("quality.consultation", code=code, number=number))
    return _consultation_page(std, ver, form, OpenForm(), PublishForm(), 422)


@bp.post("/standards/<code>/v<int:number>/open")
@login_required
def open_view(code: str, number: int):
    db = get_db()
    std, ver = get_version(db, code, number)
    form = OpenForm()
    if form.validate_on_submit():
        data = validate_form(form, ConsultationOpening)
        action = lambda: open_consultation(db, current_actor(), ver, data)  # noqa: E731
        if data is not None and _saved(form, action):
            flash(gettext("The consultation is open."), "success")
            return redirect(url_for("quality.consultation", code=code, number=number))
    return _consultation_page(std, ver, RespondForm(), form, PublishForm(), 422)


@bp.post("/standards/<code>/v<int:number>/publish")
@login_required
def publish_view(code: str, number: int):
    db = get_db()
    std, ver = get_version(db, code, number)
    form = PublishForm()
    if form.validate_on_submit():
        data = validate_form(form, Publication)
        action = lambda: publish_version(db, current_actor(), ver, data)  # noqa: E731
        if data is not None and _saved(form, action):
            flash(gettext("The version is published."), "success")
            return redirect(url_for("quality.version", code=code, number=number))
    return _consultation_page(std, ver, RespondForm(), OpenForm(), form, 422)


@bp.post("/standards/<code>/v<int:number>/withdraw")
@login_required
def withdraw_view(code: str, number: int):
    db = get_db()
    _, ver = get_version(db, code, number)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    withdraw_version(db, current_actor(), ver)
    db.commit()
    flash(gettext("The version is withdrawn."), "success")
    return redirect(url_for("quality.version", code=code, number=number))


@bp.post("/standards/<code>/v<int:number>/retire")
@login_required
def retire_view(code: str, number: int):
    db = get_db()
    _, ver = get_version(db, code, number)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    retire_version(db, current_actor(), ver)
    db.commit()
    flash(gettext("The version is retired."), "success")
    return redirect(url_for("quality.version", code=code, number=number))


# --- assays ---------------------------------------------------------------------------------


class ResultRowForm(Form):
    parameter = StringField(_l("Parameter"), validators=[Optional()])
    value = StringField(_l("Value"), validators=[Optional()])
    uncertainty = StringField(_l("Uncertainty (±)"), validators=[Optional()])


class AssayForm(FlaskForm):
    lot_ref = StringField(_l("Lot reference"), validators=[DataRequired()])
    material = SelectField(_l("Material"), choices=[])
    tonnes = StringField(_l("Tonnes"), validators=[Optional()])
    lab_name = StringField(_l("Laboratory"), validators=[DataRequired()])
    lab_accredited = BooleanField(_l("The laboratory is accredited (ISO/IEC 17025)"))
    method = StringField(_l("Method"))
    sampled_on = DateField(_l("Sampled on"), validators=[DataRequired()])
    reported_on = DateField(_l("Reported on"), validators=[DataRequired()])
    composition = StringField(_l("Declared composition (metals)"))
    polymer = StringField(_l("Polymer (plastics)"))
    source = SelectField(
        _l("Source (plastics)"), choices=[("", "—"), ("PCR", "PCR"), ("PIR", "PIR")], default=""
    )
    form_ = StringField(_l("Form (flake, pellet, bale…)"))
    colour = StringField(_l("Colour"))
    identification_method = SelectField(
        _l("Polymer identification"), choices=[("", "—"), ("IR", "IR"), ("DSC", "DSC")], default=""
    )
    third_party_inspected = BooleanField(_l("Inspected by a third party"))
    radioactivity_checked = BooleanField(_l("Radioactivity checked"))
    results = FieldList(FormField(ResultRowForm), min_entries=8, max_entries=60)
    csv = FileField(_l("Or upload a CSV file"))

    def evidence_given(self) -> dict:
        """The evidence fields as the record's `evidence` (AssayInput)."""
        return {
            "declared": {
                "composition": self.composition.data or "",
                "polymer": self.polymer.data or "",
                "source": self.source.data or "",
                "form": self.form_.data or "",
                "colour": self.colour.data or "",
            },
            "third_party_inspected": bool(self.third_party_inspected.data),
            "radioactivity_checked": bool(self.radioactivity_checked.data),
            "identification_method": self.identification_method.data or None,
        }

    def result_rows(self) -> list[dict]:
        """The filled rows of results as text ({parameter, value, uncertainty, row})."""
        return [
            {
                "parameter": r.parameter.data or "",
                "value": r.value.data or "",
                "uncertainty": r.uncertainty.data or "",
                "row": i + 1,
            }
            for i, r in enumerate(self.results)
            if (r.parameter.data or "").strip() or (r.value.data or "").strip()
        ]


@bp.get("/assays")
@login_required
def assays():
    return render_template("quality/assays.html", assays=assays_of(get_db(), current_actor()))


@bp.route("/assays/new", methods=["GET", "POST"])
@login_required
def new_assay():
    db = get_db()
    actor = current_actor()
    form = AssayForm()
    form.material.choices = [(m.code, _name(m)) for m in assay_materials(db, actor)]
    row_errors: list[str] = []
    if form.validate_on_submit():
        upload = form.csv.data
        try:
            if upload and getattr(upload, "filename", ""):
                text = upload.read(200_001).decode("utf-8-sig")
                data = validate_form(
                    form, AssayInput, evidence=form.evidence_given(), csv=text, results=None
                )
            else:
                results = result_rows(db, form.result_rows())
                data = validate_form(
                    form, AssayInput, evidence=form.evidence_given(), results=results, csv=None
                )
            assay = data and record_assay(db, actor, data)
            if assay is not None:
                db.commit()
        except PermissionDenied as err:  # waiting for verification: said above the form
            form.refused = refuse_on_form(form, err, actor)
        except UnicodeDecodeError:
            db.rollback()
            form.csv.errors = [gettext("The CSV file must be UTF-8 text.")]
        except ValidationFailed as err:
            if err.status != 422:
                raise
            db.rollback()
            row_errors = _row_messages(err)
            if not row_errors:
                apply_to_form(form, err)
        else:
            if assay is not None:
                flash(gettext("The assay is saved."), "success")
                return redirect(url_for("quality.assay", assay_id=assay.id))
    status = _post_status(form) if request.method == "POST" else 200
    return render_template("quality/assay_new.html", form=form, row_errors=row_errors), status


def _row_messages(err: DomainError) -> list[str]:
    """Per-row messages ("Row 3: …") for result errors; [] for header errors."""
    if isinstance(err, AssayRowsInvalid):
        problems = err.problems
    elif getattr(err, "row", None) is not None:
        problems = [(err.row, err)]
    elif err.field in ("results", "csv"):
        problems = [(None, err)]
    else:
        return []
    return [
        gettext("Row %(row)s: %(message)s", row=row, message=translate_error(e))
        if row is not None
        else translate_error(e)
        for row, e in problems
    ]


def _grade(value: str | None) -> tuple[str, int] | None:
    """A "CODE:number" choice of a grade version, or None."""
    code, _, number = (value or "").rpartition(":")
    if not code or not number.isdigit() or len(number) > 9:
        return None
    return code, int(number)


def _model(model, data: dict):
    """A record from values that are not a form (hidden fields, select names) or a 422."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputInvalid(input_errors(exc)) from None


@bp.get("/assays/<int:assay_id>")
@login_required
def assay(assay_id: int):
    db = get_db()
    item = read_assay(db, current_actor(), assay_id)
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
        grade = _grade(chosen)
        if grade is None:
            abort(404)
        selected = get_version(db, *grade)
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
    )


@bp.post("/assays/<int:assay_id>/inspections")
@login_required
def inspections(assay_id: int):
    db = get_db()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    answers = {
        key[4:]: value == "yes"
        for key, value in request.form.items()
        if key.startswith("req-") and value in ("yes", "no")
    }
    data = _model(InspectionAnswers, {"inspections": answers})
    save_inspections(db, current_actor(), assay_id, data)
    db.commit()
    flash(gettext("The inspection results are saved."), "success")
    grade = request.form.get("grade") if _grade(request.form.get("grade")) else None
    return redirect(url_for("quality.assay", assay_id=assay_id, grade=grade))


@bp.post("/assays/<int:assay_id>/certify")
@login_required
def certify(assay_id: int):
    db = get_db()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    grade = _grade(request.form.get("grade"))
    if grade is None:
        abort(400)
    data = _model(
        CertificateRequest, {"assay_id": assay_id, "standard": grade[0], "version": grade[1]}
    )
    cert = issue_certificate(db, current_actor(), data)
    db.commit()
    flash(gettext("The certificate is issued."), "success")
    return redirect(url_for("quality.certificate", cert_id=cert.id))


@bp.get("/certificates/<cert_id>")
@login_required
def certificate(cert_id: str):
    db = get_db()
    cert = read_certificate(db, current_actor(), cert_id)
    _, genuine = verify_certificate(db, cert_id)
    verify_url = url_for("quality.verify", cert_id=cert.id, _external=True)
    return render_template(
        "quality/certificate.html",
        cert=cert,
        content=_content(cert),
        genuine=genuine,
        public=False,
        verify_url=verify_url,
        qr=qr_svg(verify_url, gettext("QR code of the verification page")),
    )


def _content(cert: Certificate) -> dict:
    try:
        content = certificate_content(cert)
    except ValueError:
        return {}
    return content if isinstance(content, dict) else {}


@bp.get("/verify")
def verify_lookup():
    """The box to type a certificate number: its verification page, or "no such number"."""
    number = request.args.get("number", "").strip()
    if not number:
        return render_template("quality/verify.html", cert=None, content={}, asked=False)
    cert, _ = verify_certificate(get_db(), number) if len(number) <= 32 else (None, False)
    if cert is None:
        page = render_template(
            "quality/verify.html", cert=None, content={}, asked=True, number=number
        )
        return page, 404
    return redirect(url_for("quality.verify", cert_id=cert.id))


@bp.get("/verify/<cert_id>")
def verify(cert_id: str):
    cert, genuine = verify_certificate(get_db(), cert_id)
    if cert is None:
        page = render_template("quality/verify.html", cert=None, content={}, asked=True)
        return page, 404
    return render_template(
        "quality/verify.html", cert=cert, content=_content(cert), genuine=genuine, asked=True
    )
