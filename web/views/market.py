"""Market pages: supply listings, offtake requests, price indices, saved searches, alerts.

The pages read their input into the same models as the API (`ListingInput`, `RequestInput`,
`SearchQuery`, …: form field names are the model's field names) and call the same domain
functions with the acting member; who may do what is decided there.
"""

import json
import re
from datetime import date
from urllib.parse import parse_qsl, urlencode

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from pydantic import ValidationError
from wtforms import (
    BooleanField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice

from contracts.drafting import DRAFT_FROM_LISTING, DRAFT_FROM_REQUEST
from contracts.models import OfftakeContract
from contracts.negotiation import may_open_contract
from market.alerts import (
    SavedSearchInput,
    delete_saved_search,
    mark_read,
    notifications,
    save_search,
    saved_filters,
    saved_searches,
    unread_count,
)
from market.indices import (
    CsvRowsInvalid,
    IndexInput,
    IndexValueInput,
    all_indices,
    evaluate,
    formula_of,
    get_index,
    import_index_csv,
    index_codes,
    index_form_choices,
    index_to_change,
    index_values,
    latest_values,
    set_index_value,
)
from market.listings import (
    DRAFT_LISTINGS,
    DRAFT_REQUESTS,
    INCOTERMS_2020,
    MANDATES,
    FormChoices,
    ListingInput,
    RequestInput,
    close_listing,
    close_request,
    create_listing,
    create_request,
    describe_listings,
    describe_requests,
    listing_form_choices,
    offerable_listings,
    own_listing,
    own_listings,
    own_request,
    own_requests,
    publish_listing,
    publish_request,
    read_listing,
    read_request,
    request_form_choices,
    update_listing,
    update_request,
)
from market.matching import SEE_MATCHES
from market.models import MovementRecord, OfftakeRequest, PriceKind, SupplyListing
from market.movements import listing_movement, record_choices, request_movement
from market.search import (
    SORTS,
    SearchFilters,
    SearchQuery,
    filter_choices,
    search_listings,
    search_requests,
)
from market.visibility import listing_visible_to, request_visible_to
from participants.actors import OPERATE_MARKETPLACE
from participants.errors import NotFound, PermissionDenied, ValidationFailed
from participants.models import Organization
from quality.assays import data_quality_levels
from quality.catalogue import get_material
from quality.export_regimes import ROUTE_LABELS, regime_of
from quality.models import Material
from web.alerting import send_alert_mails
from web.auth import current_actor
from web.charts import sparkline as draw_sparkline
from web.db import get_db
from web.errors import commit_or_flash, save_form
from web.formatting import month, tonnes, yen  # noqa: F401  (re-exported)
from web.forms import prefecture_choices, prefecture_name
from web.i18n import translate_error
from web.labels import LABELS, labels_of, material_name
from web.pagination import Page, paginate
from web.sparklines import (
    index_picture,
    index_sparklines,
    listing_pictures,
    parse_spark_values,
)
from web.validation import input_errors, validate_form
from web.views.movements import country_choices

bp = Blueprint("market", __name__)

STATUS_NAMES = LABELS["listing_status"]
SORT_NAMES = {
    "newest": _l("Newest first"),
    "price": _l("Lowest price"),
    "volume": _l("Largest volume"),
    "distance": _l("Nearest"),
}
MANDATE_NAMES = {"": _l("None")}


# ---------------------------------------------------------------------------------------------
# Display helpers (template filters and globals)


def formula_text(item: SupplyListing | OfftakeRequest, codes: dict[int, str]) -> str:
    """'index × factor + premium' (with floor and cap), or the fixed price."""
    f = formula_of(item)
    if f.kind == PriceKind.FIXED:
        return gettext("%(price)s/t fixed", price=yen(f.fixed))
    index = codes.get(f.index_id, "?")
    factor = format(f.factor.normalize(), "f") if f.factor is not None else "?"
    if f.premium is not None and f.premium < 0:  # "index × 0.92 − ¥3,000/t", not "+ −¥3,000"
        text = gettext(
            "%(index)s × %(factor)s − %(premium)s/t",
            index=index,
            factor=factor,
            premium=yen(-f.premium),
        )
    else:
        text = gettext(
            "%(index)s × %(factor)s + %(premium)s/t",
            index=index,
            factor=factor,
            premium=yen(f.premium),
        )
    if f.floor is not None:
        text += ", " + gettext("floor %(price)s/t", price=yen(f.floor))
    if f.cap is not None:
        text += ", " + gettext("cap %(price)s/t", price=yen(f.cap))
    return text


def _formulas(items: list) -> dict[int, str]:
    codes = index_codes(get_db(), {i.index_id for i in items})
    return {i.id: formula_text(i, codes) for i in items}


def _ja() -> bool:
    return str(get_locale()) == "ja"


def _material_names(materials: list[Material]) -> dict[str, str]:
    return {m.code: (m.name_ja if _ja() else m.name_en) for m in materials}


def _material_name(code: str) -> str:
    material = get_material(get_db(), code)
    return material.name_ja if _ja() else material.name_en


def _org_name(org: Organization) -> str:
    return org.name_ja if _ja() else org.name_en


@bp.app_context_processor
def _market_helpers() -> dict:
    def actor():
        return current_user.actor if current_user.is_authenticated else None

    return {
        "market_unread": lambda: unread_count(get_db(), actor()),
        "listing_status_names": lambda: labels_of("listing_status"),
        "org_name": _org_name,
        "may_manage_listings": lambda: DRAFT_LISTINGS.allows(actor()),
        "may_manage_requests": lambda: DRAFT_REQUESTS.allows(actor()),
    }


# ---------------------------------------------------------------------------------------------
# Forms: field names are the input model's field names


class MultiIntField(SelectMultipleField):
    def pre_validate(self, form) -> None:  # the domain checks the organisations
        pass


def _grade_choices(choices: FormChoices) -> list[SelectChoice]:
    """Published grade versions grouped by material (<optgroup label="material name">), so
    that the list reads without script; each option names its material for forms.js."""
    names = _material_names(choices.materials)
    return [SelectChoice("", _l("— choose —"))] + [
        SelectChoice(
            str(vid),
            f"{code} v{number}",
            {"data-material": material},
            names.get(material, material),
        )
        for vid, code, number, material in choices.grades
    ]


def _index_choices(choices: FormChoices) -> list[tuple[str, str]]:
    return [("", _l("— none —"))] + [
        (i.code, f"{i.code} — {i.name_ja if _ja() else i.name_en}") for i in choices.indices
    ]


class PriceFields:
    price_kind = RadioField(_l("Price"), validate_choice=False, default=PriceKind.FIXED.value)
    index = SelectField(_l("Price index"), validate_choice=False)
    index_factor = StringField(_l("Index factor (e.g. 0.92)"), render_kw={"inputmode": "decimal"})
    premium_jpy_per_t = StringField(_l("Premium (yen per tonne, may be negative)"), default="0")

    def _price_choices(self, choices: FormChoices) -> None:
        self.price_kind.choices = [
            (PriceKind.FIXED.value, _l("Fixed price")),
            (PriceKind.INDEX.value, _l("Index formula")),
        ]
        self.index.choices = _index_choices(choices)


class ListingForm(FlaskForm, PriceFields):
    title = StringField(_l("Title"))
    material = SelectField(_l("Material"), validate_choice=False)
    grade_version_id = SelectField(_l("Grade"), validate_choice=False)
    monthly_t = StringField(_l("Tonnes per month"), render_kw={"inputmode": "decimal"})
    min_t_per_contract = StringField(
        _l("Minimum tonnes per month per contract"), render_kw={"inputmode": "decimal"}
    )
    available_from = StringField(_l("Available from (month)"), render_kw={"type": "month"})
    max_term_months = StringField(_l("Maximum term (months)"), render_kw={"type": "number"})
    origin_prefecture = SelectField(_l("Origin prefecture"), validate_choice=False)
    origin_port = StringField(_l("Port (optional)"))
    incoterm = SelectField(_l("Incoterms 2020 rule"), validate_choice=False, default="FCA")
    incoterm_place = StringField(_l("Incoterms place"))
    fixed_price_jpy_per_t = StringField(
        _l("Fixed price (yen per tonne)"), render_kw={"inputmode": "numeric"}
    )
    floor_jpy_per_t = StringField(
        _l("Floor (yen per tonne, optional)"), render_kw={"inputmode": "numeric"}
    )
    cap_jpy_per_t = StringField(
        _l("Cap (yen per tonne, optional)"), render_kw={"inputmode": "numeric"}
    )
    assay_id = SelectField(_l("Assay"), validate_choice=False)
    delivery_country = SelectField(_l("Delivery country"), validate_choice=False, default="JP")
    movement_record_id = SelectField(_l("Export or import record"), validate_choice=False)
    visibility = SelectField(_l("Who may see it"), validate_choice=False)
    invited_org_ids = MultiIntField(_l("Invited organisations"), coerce=int)
    expires_on = StringField(_l("Expires on (optional)"), render_kw={"type": "date"})

    def __init__(self, choices: FormChoices, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.material.choices = [
            ("", _l("— choose —")),
            *_material_names(choices.materials).items(),
        ]
        self.grade_version_id.choices = _grade_choices(choices)
        self.origin_prefecture.choices = prefecture_choices()
        self.incoterm.choices = [(r, r) for r in INCOTERMS_2020]
        self._price_choices(choices)
        self.assay_id.choices = [("", _l("— none (declared composition) —"))] + [
            (
                str(a.id),
                f"{a.lot_ref} — {material_name(a.material_code) or a.material_code} ({a.reported_on.isoformat()})",
            )
            for a in choices.assays
        ]
        self.visibility.choices = [
            ("public", _l("Every verified member")),
            ("invited", _l("Invited organisations only")),
        ]
        self.invited_org_ids.choices = [(o.id, _org_name(o)) for o in choices.organizations]
        movement_choices(self)


class RequestForm(FlaskForm, PriceFields):
    title = StringField(_l("Title"))
    material = SelectField(_l("Material"), validate_choice=False)
    grade_version_id = SelectField(_l("Acceptable grade"), validate_choice=False)
    accept_stricter = BooleanField(
        _l("Also accept stricter grades of the same material"), default=True
    )
    monthly_t = StringField(_l("Tonnes per month"), render_kw={"inputmode": "decimal"})
    start_month = StringField(_l("First delivery month"), render_kw={"type": "month"})
    term_months = StringField(_l("Term (months)"), render_kw={"type": "number"})
    delivery_prefecture = SelectField(_l("Delivery prefecture"), validate_choice=False)
    delivery_place = StringField(_l("Delivery place"))
    max_price_jpy_per_t = StringField(
        _l("Maximum price (yen per tonne)"), render_kw={"inputmode": "numeric"}
    )
    purpose = TextAreaField(_l("Purpose (optional)"))
    mandate = SelectField(_l("Recycled-content mandate"), validate_choice=False)
    delivery_country = SelectField(_l("Delivery country"), validate_choice=False, default="JP")
    movement_record_id = SelectField(_l("Export or import record"), validate_choice=False)
    expires_on = StringField(_l("Expires on (optional)"), render_kw={"type": "date"})

    def __init__(self, choices: FormChoices, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.material.choices = [
            ("", _l("— choose —")),
            *_material_names(choices.materials).items(),
        ]
        self.grade_version_id.choices = _grade_choices(choices)
        self.delivery_prefecture.choices = prefecture_choices()
        self._price_choices(choices)
        self.mandate.choices = [(m, MANDATE_NAMES.get(m, m)) for m in MANDATES]
        movement_choices(self)


def movement_choices(form) -> None:
    """Delivery countries (ISO 3166-1, named in the page's language) and the organisation's
    active movement records (the domain checks the material and the route at publishing)."""
    form.delivery_country.choices = country_choices()
    records = record_choices(get_db(), current_actor().organization_id)
    form.movement_record_id.choices = [("", _l("— none —"))] + [
        (str(r.id), f"#{r.id} {r.reference} — {material_name(r.material_code) or r.material_code}, {r.country_export} → "
         f"{r.country_import} ({r.valid_from.isoformat()} – {r.valid_until.isoformat()})")
        for r in records
    ]  # fmt: skip


def movement_summary(item: SupplyListing | OfftakeRequest) -> dict | None:
    """What a listing's or request's page says about its movement across Japan's border."""
    db = get_db()
    move = (listing_movement if isinstance(item, SupplyListing) else request_movement)(db, item)
    if move is None:
        return None
    regime = regime_of(item.material_code)
    record = db.get(MovementRecord, item.movement_record_id) if item.movement_record_id else None
    return {
        "direction": move.direction.value,
        "origin": move.origin,
        "destination": move.destination,
        "routes": [gettext(ROUTE_LABELS[r]) for r in regime.routes] if regime else [],
        "record": record if record and current_actor().owns(record.organization_id) else None,
        "has_record": record is not None,
    }


def _add_error(field, message: str) -> None:
    errors = list(field.errors) if isinstance(field.errors, list | tuple) else []
    if message not in errors:
        field.errors = [*errors, message]


def _blank(field) -> bool:
    data = field.data
    return data is None or data == [] or (isinstance(data, str) and data.strip() == "")


def check_whole_form(form: FlaskForm, choices: FormChoices) -> bool:
    """Every error of a listing or request form at once (the domain checks them again, one at
    a time): the fields that the chosen price kind, place or visibility require, and a grade of
    the chosen material. True when none is found."""
    required = gettext("This field is required.")
    listing = isinstance(form, ListingForm)
    fixed = form.fixed_price_jpy_per_t if listing else form.max_price_jpy_per_t
    needed = [form.origin_prefecture if listing else form.delivery_prefecture]
    if not listing:
        needed.append(form.term_months)
    if form.price_kind.data == PriceKind.INDEX.value:
        if _blank(form.index):
            _add_error(form.index, gettext("An index formula needs a price index."))
        if _blank(form.index_factor):
            _add_error(form.index_factor, gettext("Enter the index factor as a number, e.g. 0.92."))
    else:
        needed.append(fixed)
    for field in needed:
        if _blank(field):
            _add_error(field, required)
    if listing and form.visibility.data == "invited" and _blank(form.invited_org_ids):
        _add_error(form.invited_org_ids, gettext("Invite at least one organisation."))
    grade_material = {str(vid): m for vid, _code, _n, m in choices.grades}
    chosen = str(form.grade_version_id.data or "")
    material = form.material.data or ""
    if chosen and material and grade_material.get(chosen, material) != material:
        names = _material_names(choices.materials)
        _add_error(
            form.grade_version_id,
            gettext(
                "This grade is a grade of %(other)s. Choose a grade of %(material)s.",
                other=names.get(grade_material[chosen], grade_material[chosen]),
                material=names.get(material, material),
            ),
        )
    return not any(f.errors for f in form)


def listing_data_quality(db, item: SupplyListing) -> int:
    """The listing's data-quality level as its assay's page shows it (one source:
    `quality.assays.data_quality_levels`), else the stored level (declared composition)."""
    if item.assay_id is None:
        return item.data_quality_level
    return data_quality_levels(db, {item.assay_id}).get(item.assay_id, 0)


def _save(form: FlaskForm, action) -> tuple[object | None, int]:
    """`save_form`, and a refusal (e.g. a suspended organisation) shown above the form with
    everything typed kept (403), not an error page."""
    try:
        return save_form(form, action)
    except PermissionDenied as err:
        get_db().rollback()
        form.form_errors.append(translate_error(err))
        return None, 403


def _publish_or_refuse(action, success: str, page):
    """Publish, or, when the organisation is not verified yet, the draft's page saying so
    (403, as the API answers)."""
    actor = current_actor()
    try:
        return commit_or_flash(action, success), None
    except PermissionDenied as err:
        if actor is None or actor.verified or actor.suspended:
            raise
        get_db().rollback()
        flash(translate_error(err), "error")
        try:
            return None, (page(), 403)  # the actor's own draft, saying why
        except NotFound:
            session.get("_flashes", []).pop()  # another's: the refusal alone, as the API
            raise err from None


def _form_fields(form: FlaskForm, model) -> set[str]:
    """The input fields a form edits (its fields named like the model's)."""
    return {f.name for f in form} & set(model.model_fields)


class IndexValueForm(FlaskForm):
    month = StringField(_l("Month"), render_kw={"type": "month"})
    value_jpy_per_t = StringField(_l("Value (yen per tonne)"), render_kw={"inputmode": "numeric"})


class NewIndexForm(FlaskForm):
    code = StringField(_l("Code (e.g. CU-SCRAP-JP)"))
    name_en = StringField(_l("Name (English)"))
    name_ja = StringField(_l("Name (Japanese)"))
    material = SelectField(_l("Material"), choices=[])
    source = StringField(_l("Source"))

    def __init__(self, materials: list[Material], *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        names = _material_names(materials)
        self.material.choices = sorted(names.items(), key=lambda kv: kv[1])


class IndexCsvForm(FlaskForm):
    file = FileField(_l("CSV file (month,value)"))


# ---------------------------------------------------------------------------------------------
# Search pages


def _search_page(target: str):
    db, actor = get_db(), current_actor()
    args = {k: v for k, v in request.args.items() if v != ""}
    errors: dict[str, str] = {}
    try:
        query = SearchQuery.model_validate(args)
    except ValidationError as exc:
        for error in input_errors(exc):
            errors.setdefault((error["field"] or "").split(".")[0], error["message"])
        query = SearchQuery()
    run = search_listings if target == "listings" else search_requests
    try:
        found = run(db, actor, query, query.page, query.per_page)
    except ValidationFailed as err:
        errors[err.field or ""] = translate_error(err)
        found = run(db, actor, SearchQuery(), query.page, query.per_page)
    attr = "listing" if target == "listings" else "request"
    items = [getattr(r, attr) for r in found.items]
    formulas = _formulas(
        [i for i in items if target == "listings" or actor.owns(i.organization_id)]
    )
    materials, grade_codes = filter_choices(db)
    filters = {k: v for k, v in query.as_args().items() if k in SearchFilters.model_fields}
    price_month = query.price_month or date.today().replace(day=1)
    sparks = (
        index_sparklines(db, [i.index_id for i in items], price_month)
        if target == "listings"
        else {}
    )
    return render_template(
        f"market/{target}.html",
        sparks=sparks,
        page=Page(found.items, query.page, query.per_page, found.total, found.total_exact),
        args=args,
        errors=errors,
        formulas=formulas,
        price_month=price_month,
        materials=_material_names(materials),
        grade_codes=grade_codes,
        prefectures=prefecture_choices(),
        sorts=[(s, SORT_NAMES[s]) for s in SORTS if target == "listings" or s != "price"],
        query_string=urlencode(filters),
        viewer=actor.organization_id,
    ), (400 if errors else 200)


@bp.get("/listings")
@login_required
def listings():
    return _search_page("listings")


@bp.get("/requests")
@login_required
def requests():
    return _search_page("requests")


# ---------------------------------------------------------------------------------------------
# Listings


def _grade_label(item: SupplyListing | OfftakeRequest) -> str:
    out = (describe_listings if isinstance(item, SupplyListing) else describe_requests)(
        get_db(), current_actor(), [item]
    )[0]
    return f"{out.grade_code} v{out.grade_version}"


@bp.get("/listings/<int:listing_id>")
@login_required
def listing(listing_id: int):
    db, actor = get_db(), current_actor()
    item = read_listing(db, actor, listing_id)
    this_month = date.today().replace(day=1)
    values = latest_values(db, {item.index_id} if item.index_id else set(), this_month)
    price = evaluate(formula_of(item), values.get(item.index_id) if item.index_id else None)
    index_spark, formula_pic = listing_pictures(
        db, formula_of(item), this_month, values.get(item.index_id) if item.index_id else None
    )
    return render_template(
        "market/listing.html",
        index_spark=index_spark,
        formula_picture=formula_pic,
        item=item,
        org=db.get(Organization, item.organization_id),
        grade=_grade_label(item),
        material=_material_name(item.material_code),
        formula=_formulas([item])[item.id],
        price=price,
        price_month=this_month,
        movement=movement_summary(item),
        data_quality=listing_data_quality(db, item),
        own=actor.owns(item.organization_id),
        can_manage=DRAFT_LISTINGS.allows(actor),
        can_draft=DRAFT_FROM_LISTING.allows(actor),
        can_see_matches=SEE_MATCHES.allows(actor),
    )


@bp.route("/listings/new", methods=["GET", "POST"])
@login_required
def new_listing():
    db, actor = get_db(), current_actor()
    choices = listing_form_choices(db, actor)
    form = ListingForm(choices)
    status = 200
    if form.validate_on_submit():
        data = validate_form(form, ListingInput)
        status = 422
        if check_whole_form(form, choices) and data is not None:
            item, status = _save(form, lambda: create_listing(db, actor, data))
            if item is not None:
                flash(gettext("The listing is saved as a draft. Publish it when ready."), "success")
                return redirect(url_for("market.listing", listing_id=item.id))
    elif form.is_submitted():
        status = 422
    return render_template("market/listing_form.html", form=form, item=None), status


@bp.route("/listings/<int:listing_id>/edit", methods=["GET", "POST"])
@login_required
def edit_listing(listing_id: int):
    db, actor = get_db(), current_actor()
    item = own_listing(db, actor, listing_id, DRAFT_LISTINGS)
    choices = listing_form_choices(db, actor)
    if request.method == "GET":
        current = describe_listings(db, actor, [item])[0]
        form = ListingForm(choices, data=current.model_dump(mode="json"))
    else:
        form = ListingForm(choices)
    status = 200
    if form.validate_on_submit():
        data = validate_form(form, ListingInput)
        status = 422
        if check_whole_form(form, choices) and data is not None:
            fields = _form_fields(form, ListingInput)
            saved, status = _save(
                form, lambda: update_listing(db, actor, listing_id, data, fields=fields)
            )
            if saved is not None:
                flash(gettext("The listing is saved."), "success")
                return redirect(url_for("market.listing", listing_id=listing_id))
    elif form.is_submitted():
        status = 422
    return render_template("market/listing_form.html", form=form, item=item), status


@bp.post("/listings/<int:listing_id>/publish")
@login_required
def publish_listing_view(listing_id: int):
    db = get_db()
    publication, refusal = _publish_or_refuse(
        lambda: publish_listing(db, current_actor(), listing_id),
        gettext("The listing is open to the market."),
        lambda: listing(listing_id),
    )
    if refusal is not None:
        return refusal
    if publication is not None:
        send_alert_mails(db, publication.notifications)
    return redirect(url_for("market.listing", listing_id=listing_id))


@bp.post("/listings/<int:listing_id>/close")
@login_required
def close_listing_view(listing_id: int):
    commit_or_flash(
        lambda: close_listing(get_db(), current_actor(), listing_id),
        gettext("The listing is closed."),
    )
    return redirect(url_for("market.listing", listing_id=listing_id))


@bp.get("/listings/mine")
@login_required
def my_listings():
    db, actor = get_db(), current_actor()
    page = paginate(db, own_listings(actor))
    return render_template(
        "market/my_listings.html",
        page=page,
        grades={
            o.id: f"{o.grade_code} v{o.grade_version}"
            for o in describe_listings(db, actor, page.items, prices={})
        },
        formulas=_formulas(page.items),
    )


# ---------------------------------------------------------------------------------------------
# Requests


@bp.get("/requests/<int:request_id>")
@login_required
def request_detail(request_id: int):
    db, actor = get_db(), current_actor()
    item = read_request(db, actor, request_id)
    own = actor.owns(item.organization_id)
    return render_template(
        "market/request.html",
        my_listings=offerable_listings(db, actor, item),
        item=item,
        org=db.get(Organization, item.organization_id),
        grade=_grade_label(item),
        material=_material_name(item.material_code),
        formula=_formulas([item])[item.id] if own else None,
        movement=movement_summary(item),
        own=own,
        can_manage=DRAFT_REQUESTS.allows(actor),
        can_offer=DRAFT_FROM_REQUEST.allows(actor),
        can_see_matches=SEE_MATCHES.allows(actor),
    )


@bp.route("/requests/new", methods=["GET", "POST"])
@login_required
def new_request():
    db, actor = get_db(), current_actor()
    choices = request_form_choices(db, actor)
    form = RequestForm(choices)
    status = 200
    if form.validate_on_submit():
        data = validate_form(form, RequestInput)
        status = 422
        if check_whole_form(form, choices) and data is not None:
            item, status = _save(form, lambda: create_request(db, actor, data))
            if item is not None:
                flash(gettext("The request is saved as a draft. Publish it when ready."), "success")
                return redirect(url_for("market.request_detail", request_id=item.id))
    elif form.is_submitted():
        status = 422
    return render_template("market/request_form.html", form=form, item=None), status


@bp.route("/requests/<int:request_id>/edit", methods=["GET", "POST"])
@login_required
def edit_request(request_id: int):
    db, actor = get_db(), current_actor()
    item = own_request(db, actor, request_id, DRAFT_REQUESTS)
    choices = request_form_choices(db, actor)
    if request.method == "GET":
        current = describe_requests(db, actor, [item])[0]
        form = RequestForm(choices, data=current.model_dump(mode="json"))
    else:
        form = RequestForm(choices)
    status = 200
    if form.validate_on_submit():
        data = validate_form(form, RequestInput)
        status = 422
        if check_whole_form(form, choices) and data is not None:
            fields = _form_fields(form, RequestInput)
            saved, status = _save(
                form, lambda: update_request(db, actor, request_id, data, fields=fields)
            )
            if saved is not None:
                flash(gettext("The request is saved."), "success")
                return redirect(url_for("market.request_detail", request_id=request_id))
    elif form.is_submitted():
        status = 422
    return render_template("market/request_form.html", form=form, item=item), status


@bp.post("/requests/<int:request_id>/publish")
@login_required
def publish_request_view(request_id: int):
    db = get_db()
    publication, refusal = _publish_or_refuse(
        lambda: publish_request(db, current_actor(), request_id),
        gettext("The request is open to the market."),
        lambda: request_detail(request_id),
    )
    if refusal is not None:
        return refusal
    if publication is not None:
        send_alert_mails(db, publication.notifications)
    return redirect(url_for("market.request_detail", request_id=request_id))


@bp.post("/requests/<int:request_id>/close")
@login_required
def close_request_view(request_id: int):
    commit_or_flash(
        lambda: close_request(get_db(), current_actor(), request_id),
        gettext("The request is closed."),
    )
    return redirect(url_for("market.request_detail", request_id=request_id))


@bp.get("/requests/mine")
@login_required
def my_requests():
    db, actor = get_db(), current_actor()
    page = paginate(db, own_requests(actor))
    return render_template(
        "market/my_requests.html",
        page=page,
        grades={
            o.id: f"{o.grade_code} v{o.grade_version}"
            for o in describe_requests(db, actor, page.items)
        },
        formulas=_formulas(page.items),
    )


# ---------------------------------------------------------------------------------------------
# Price indices


@bp.get("/charts/sparkline.svg")
def sparkline():
    """The sparkline of the values in the address (`web.sparklines.sparkline_src`): a drawing
    of what the address says, nothing read, so anyone may fetch it and browsers keep it."""
    values = parse_spark_values(request.args.get("v", ""))
    if values is None:
        return gettext("A sparkline takes 1 to 36 whole numbers, separated by commas."), 400
    response = current_app.response_class(draw_sparkline(values), mimetype="image/svg+xml")
    response.cache_control.public = True
    response.cache_control.max_age = 365 * 24 * 3600
    response.cache_control.immutable = True
    return response


def _indices_page(form: NewIndexForm | None = None, status: int = 200):
    db, actor = get_db(), current_actor()
    if form is None and OPERATE_MARKETPLACE.allows(actor):
        form = NewIndexForm(index_form_choices(db, actor))
    return render_template("market/indices.html", indices=all_indices(db), form=form), status


@bp.get("/indices")
def indices():
    return _indices_page()


@bp.post("/indices")
@login_required
def create_index_view():
    db, actor = get_db(), current_actor()
    form = NewIndexForm(index_form_choices(db, actor))
    if form.validate_on_submit():
        data = validate_form(form, IndexInput)
        if data is not None:
            from market.indices import create_index

            index, _status = save_form(form, lambda: create_index(db, actor, data))
            if index is not None:
                flash(gettext("Price index %(code)s created.", code=index.code), "success")
                return redirect(url_for("market.index", code=index.code))
    return _indices_page(form, 422)


def _index_page(code: str, value_form=None, csv_form=None, csv_errors=None, status: int = 200):
    db = get_db()
    index = get_index(db, code)
    values = index_values(db, index.id)
    return render_template(
        "market/index.html",
        index=index,
        values=list(reversed(values)),
        chart=index_picture(index.code, tuple((v.month, v.value_jpy_per_t) for v in values)),
        value_form=value_form or IndexValueForm(),
        csv_form=csv_form or IndexCsvForm(),
        csv_errors=csv_errors or [],
    ), status


@bp.get("/indices/<code>")
def index(code: str):
    return _index_page(code)


@bp.post("/indices/<code>/values")
@login_required
def set_index_value_view(code: str):
    db, actor = get_db(), current_actor()
    index_to_change(db, actor, code)
    form = IndexValueForm()
    if form.validate_on_submit():
        data = validate_form(form, IndexValueInput)
        if data is not None:
            row, _status = save_form(form, lambda: set_index_value(db, actor, code, data))
            if row is not None:
                flash(
                    gettext("The value for %(month)s is saved.", month=month(data.month)),
                    "success",
                )
                return redirect(url_for("market.index", code=code))
    return _index_page(code, value_form=form, status=422)


def _row_message(row: dict) -> str:
    """A CSV row error's message (marked for translation in market.indices), translated."""
    text: str = row["message"]
    return gettext(text)


@bp.post("/indices/<code>/import")
@login_required
def import_index_view(code: str):
    db, actor = get_db(), current_actor()
    index_to_change(db, actor, code)
    form = IndexCsvForm()
    upload = request.files.get("file")
    if not form.validate_on_submit() or upload is None or not upload.filename:
        form.file.errors = [gettext("Choose a CSV file.")]
        return _index_page(code, csv_form=form, status=422)
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        form.file.errors = [gettext("The file is not UTF-8 text.")]
        return _index_page(code, csv_form=form, status=422)
    try:
        saved = import_index_csv(db, actor, code, text)
    except CsvRowsInvalid as err:
        db.rollback()
        rows = [(r["row"], r["field"], _row_message(r)) for r in err.rows]
        form.file.errors = [translate_error(err)]
        return _index_page(code, csv_form=form, csv_errors=rows, status=422)
    except ValidationFailed as err:
        db.rollback()
        form.file.errors = [translate_error(err)]
        return _index_page(code, csv_form=form, status=422)
    db.commit()
    flash(gettext("%(n)s values imported.", n=saved), "success")
    return redirect(url_for("market.index", code=code))


# ---------------------------------------------------------------------------------------------
# Saved searches and notifications


@bp.post("/saved-searches")
@login_required
def save_search_view():
    target = request.form.get("target", "")
    args = dict(parse_qsl(request.form.get("query", "")))
    back = url_for("market.requests" if target == "requests" else "market.listings", **args)
    try:
        data = SavedSearchInput.model_validate(
            {"target": target, "name": request.form.get("name", ""), "query": args}
        )
    except ValidationError as exc:
        flash(input_errors(exc)[0]["message"], "error")
        return redirect(back)
    saved = commit_or_flash(
        lambda: save_search(get_db(), current_actor(), data),
        gettext("The search is saved. We will alert you when new matches are published."),
    )
    return redirect(url_for("market.saved_searches_view") if saved is not None else back)


def _criteria_in_words(f: SearchFilters | None, materials: dict[str, str]) -> list[str]:
    """What a saved search looks for, one phrase per criterion ("everything" without any)."""
    if f is None:
        return [gettext("These criteria are no longer valid; search again and save anew.")]
    words = []
    if f.material:
        words.append(gettext("Material: %(name)s", name=materials.get(f.material, f.material)))
    if f.grade:
        words.append(gettext("Grade: %(code)s", code=f.grade))
    if f.prefecture:
        words.append(gettext("In %(place)s", place=prefecture_name(f.prefecture)))
    if f.near and f.radius_km is not None:
        words.append(
            gettext(
                "Within %(km)s km of %(place)s",
                km=format(f.radius_km, ",.0f"),
                place=prefecture_name(f.near),
            )
        )
    elif f.near:
        words.append(gettext("Distances from %(place)s", place=prefecture_name(f.near)))
    if f.min_monthly_t is not None:
        words.append(gettext("At least %(t)s t a month", t=format(f.min_monthly_t, ",")))
    if f.max_price is not None:
        words.append(gettext("Price at most ¥%(price)s/t", price=format(f.max_price, ",")))
    if f.price_month is not None:
        words.append(gettext("Prices of %(month)s", month=f.price_month.strftime("%Y-%m")))
    if f.min_dq is not None:
        words.append(gettext("Data quality at least %(n)s", n=f.min_dq))
    if f.start_by is not None:
        words.append(gettext("Starting by %(month)s", month=f.start_by.strftime("%Y-%m")))
    if f.include_committed:
        words.append(gettext("Fully committed ones included"))
    if not words:
        words.append(gettext("Everything open"))
    if f.sort != "newest":
        words.append(gettext("Sorted: %(order)s", order=SORT_NAMES[f.sort]))
    return words


@bp.get("/saved-searches")
@login_required
def saved_searches_view():
    db = get_db()
    rows = db.exec(saved_searches(current_actor())).all()
    materials = _material_names(filter_choices(db)[0])
    links, criteria = {}, {}
    for s in rows:
        filters = saved_filters(s)
        endpoint = "market.listings" if s.target == "listings" else "market.requests"
        links[s.id] = url_for(endpoint, **(filters.as_args() if filters else {}))
        criteria[s.id] = _criteria_in_words(filters, materials)
    return render_template(
        "market/saved_searches.html", searches=rows, links=links, criteria=criteria
    )


@bp.post("/saved-searches/<int:search_id>/delete")
@login_required
def delete_saved_search_view(search_id: int):
    db = get_db()
    delete_saved_search(db, current_actor(), search_id)
    db.commit()
    flash(gettext("The saved search is deleted."), "success")
    return redirect(url_for("market.saved_searches_view"))


@bp.get("/notifications")
@login_required
def notifications_view():
    db, actor = get_db(), current_actor()
    page = paginate(db, notifications(actor))
    texts, opens = {}, {}
    for n in page.items:
        params = json.loads(n.params or "{}")
        texts[n.id] = gettext(n.message, **params) if params else gettext(n.message)
        opens[n.id] = _link_opens(db, actor, n.link)
    return render_template(
        "market/notifications.html", page=page, notes=page.items, texts=texts, opens=opens
    )


_RECORD_LINK = re.compile(r"/(listings|requests|contracts)/([0-9]{1,12})(?:/.*)?")


def _link_opens(db, actor, link: str) -> bool:
    """Whether a notification's link leads somewhere the member may still go (a listing or
    request since closed, or a contract of another organisation, would answer 404)."""
    if not link or not link.startswith("/") or link.startswith("//"):
        return False
    match = _RECORD_LINK.fullmatch(link)
    if match is None:
        return True
    kind, record_id = match.group(1), int(match.group(2))
    if kind == "listings":
        listing = db.get(SupplyListing, record_id)
        return listing is not None and listing_visible_to(actor, listing)
    if kind == "requests":
        offtake = db.get(OfftakeRequest, record_id)
        return offtake is not None and request_visible_to(actor, offtake)
    contract = db.get(OfftakeContract, record_id)
    return contract is not None and may_open_contract(actor, contract)


@bp.post("/notifications/<int:note_id>/read")
@login_required
def read_notification(note_id: int):
    db = get_db()
    note = mark_read(db, current_actor(), note_id)
    db.commit()
    if note.link and not _link_opens(db, current_actor(), note.link):
        flash(gettext("What this notification is about is no longer available to you."), "error")
        return redirect(url_for("market.notifications_view"))
    target = note.link if note.link.startswith("/") and not note.link.startswith("//") else None
    if request.form.get("stay"):  # "Mark read": stay on the list
        target = None
    return redirect(target or url_for("market.notifications_view"))
