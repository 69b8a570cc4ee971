"""Market pages: supply listings, offtake requests, price indices, saved searches, alerts."""

import json
from datetime import date
from urllib.parse import parse_qsl, urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlmodel import col, func, select
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from market.alerts import (
    delete_saved_search,
    mark_read,
    notifications,
    save_search,
    saved_searches,
)
from market.errors import MarketError, NotFound, ValidationFailed
from market.indices import (
    CsvRowsInvalid,
    create_index,
    evaluate,
    formula_of,
    get_index,
    import_index_csv,
    index_values,
    latest_values,
    set_index_value,
)
from market.listings import (
    INCOTERMS_2020,
    MANDATES,
    ListingInput,
    PriceInput,
    RequestInput,
    can_see_listing,
    can_see_request,
    close_listing,
    close_request,
    create_listing,
    create_request,
    kg_to_tonnes,
    own_listing,
    own_request,
    parse_month,
    publish_listing,
    publish_request,
    update_listing,
    update_request,
)
from market.models import (
    ListingStatus,
    Notification,
    OfftakeRequest,
    Organization,
    OrgStatus,
    PriceIndex,
    PriceKind,
    SupplyListing,
)
from market.participants import LISTING_ROLES
from market.search import (
    SORTS,
    parse_listing_filters,
    parse_request_filters,
    search_listings,
    search_requests,
)
from quality.models import Assay, GradeStandard, Material, StandardVersion
from web.alerting import alert_saved_searches
from web.auth import operator_required, role_required
from web.db import get_db
from web.errors import apply_to_form, commit_or_flash
from web.forms import prefecture_choices
from web.i18n import translate_error
from web.pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE, Page, paginate

bp = Blueprint("market", __name__)

STATUS_NAMES = {
    ListingStatus.DRAFT: _l("Draft"),
    ListingStatus.OPEN: _l("Open"),
    ListingStatus.CLOSED: _l("Closed"),
    ListingStatus.EXPIRED: _l("Expired"),
}
SORT_NAMES = {
    "newest": _l("Newest first"),
    "price": _l("Lowest price"),
    "volume": _l("Largest volume"),
    "distance": _l("Nearest"),
}
MANDATE_NAMES = {"": _l("None")}


# ---------------------------------------------------------------------------------------------
# Display helpers (template filters and globals)


@bp.app_template_filter("yen")
def yen(value: int | None) -> str:
    return "—" if value is None else f"¥{value:,}"


@bp.app_template_filter("tonnes")
def tonnes(kg: int | None) -> str:
    """Kilograms as tonnes with up to three decimals: 120000 → "120", 1500 → "1.5"."""
    if kg is None:
        return "—"
    text = format(kg_to_tonnes(kg).normalize(), ",f")
    return text


@bp.app_template_filter("month")
def month(value: date | None) -> str:
    return value.strftime("%Y-%m") if value else ""


def formula_text(item: SupplyListing | OfftakeRequest, codes: dict[int, str]) -> str:
    """'index × factor + premium' (with floor and cap), or the fixed price."""
    f = formula_of(item)
    if f.kind == PriceKind.FIXED:
        return gettext("%(price)s/t fixed", price=yen(f.fixed))
    text = gettext(
        "%(index)s × %(factor)s + %(premium)s/t",
        index=codes.get(f.index_id, "?"),
        factor=format(f.factor.normalize(), "f") if f.factor is not None else "?",
        premium=yen(f.premium),
    )
    if f.floor is not None:
        text += ", " + gettext("floor %(price)s/t", price=yen(f.floor))
    if f.cap is not None:
        text += ", " + gettext("cap %(price)s/t", price=yen(f.cap))
    return text


def _index_codes(ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(
        get_db()
        .exec(select(PriceIndex.id, PriceIndex.code).where(col(PriceIndex.id).in_(ids)))
        .all()
    )


def _grade_labels(version_ids: set[int]) -> dict[int, str]:
    """'CODE vN' by version id, one query."""
    if not version_ids:
        return {}
    rows = (
        get_db()
        .exec(
            select(StandardVersion.id, GradeStandard.code, StandardVersion.number)
            .join(GradeStandard, GradeStandard.id == StandardVersion.standard_id)
            .where(col(StandardVersion.id).in_(version_ids))
        )
        .all()
    )
    return {vid: f"{code} v{number}" for vid, code, number in rows}


def _material_names() -> dict[str, str]:
    ja = str(get_locale()) == "ja"
    rows = get_db().exec(select(Material).order_by(Material.code)).all()
    return {m.code: (m.name_ja if ja else m.name_en) for m in rows}


def _org_name(org: Organization) -> str:
    return org.name_ja if str(get_locale()) == "ja" else org.name_en


@bp.app_context_processor
def _market_helpers() -> dict:
    def unread() -> int:
        if not current_user.is_authenticated:
            return 0
        return (
            get_db()
            .exec(
                select(func.count())
                .select_from(Notification)
                .where(
                    Notification.member_id == current_user.member.id,
                    col(Notification.read_at).is_(None),
                )
            )
            .one()
        )

    return {
        "market_unread": unread,
        "listing_status_names": lambda: {str(k): str(v) for k, v in STATUS_NAMES.items()},
        "org_name": _org_name,
    }


# ---------------------------------------------------------------------------------------------
# Forms


class MultiIntField(SelectMultipleField):
    def pre_validate(self, form) -> None:  # the domain checks the organisations
        pass


def _price_kind_choices() -> list[tuple[str, str]]:
    return [
        (PriceKind.FIXED.value, _l("Fixed price")),
        (PriceKind.INDEX.value, _l("Index formula")),
    ]


def _grade_choices() -> list[tuple[str, str]]:
    names = _material_names()
    rows = (
        get_db()
        .exec(
            select(
                StandardVersion.id,
                GradeStandard.code,
                StandardVersion.number,
                GradeStandard.material_code,
            )
            .join(GradeStandard, GradeStandard.id == StandardVersion.standard_id)
            .where(StandardVersion.status == "published")
            .order_by(GradeStandard.material_code, GradeStandard.code, StandardVersion.number)
        )
        .all()
    )
    return [("", _l("— choose —"))] + [
        (str(vid), f"{code} v{number} — {names.get(material, material)}")
        for vid, code, number, material in rows
    ]


def _index_choices() -> list[tuple[str, str]]:
    rows = get_db().exec(select(PriceIndex).order_by(PriceIndex.code)).all()
    ja = str(get_locale()) == "ja"
    return [("", _l("— none —"))] + [
        (i.code, f"{i.code} — {i.name_ja if ja else i.name_en}") for i in rows
    ]


class PriceFields:
    price_kind = SelectField(_l("Price"), validate_choice=False)
    index = SelectField(_l("Price index"), validate_choice=False)
    factor = StringField(_l("Index factor (e.g. 0.92)"), render_kw={"inputmode": "decimal"})
    premium = StringField(_l("Premium (yen per tonne, may be negative)"), default="0")


class ListingForm(FlaskForm, PriceFields):
    title = StringField(_l("Title"))
    material = SelectField(_l("Material"), validate_choice=False)
    grade = SelectField(_l("Grade"), validate_choice=False)
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
    fixed_price = StringField(_l("Fixed price (yen per tonne)"), render_kw={"inputmode": "numeric"})
    floor = StringField(_l("Floor (yen per tonne, optional)"), render_kw={"inputmode": "numeric"})
    cap = StringField(_l("Cap (yen per tonne, optional)"), render_kw={"inputmode": "numeric"})
    assay_id = SelectField(_l("Assay"), validate_choice=False)
    visibility = SelectField(_l("Who may see it"), validate_choice=False)
    invited_org_ids = MultiIntField(_l("Invited organisations"), coerce=int)
    expires_on = StringField(_l("Expires on (optional)"), render_kw={"type": "date"})

    def __init__(self, org: Organization, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        db = get_db()
        self.material.choices = [("", _l("— choose —")), *_material_names().items()]
        self.grade.choices = _grade_choices()
        self.origin_prefecture.choices = prefecture_choices()
        self.incoterm.choices = [(r, r) for r in INCOTERMS_2020]
        self.price_kind.choices = _price_kind_choices()
        self.index.choices = _index_choices()
        assays = db.exec(
            select(Assay)
            .where(Assay.organization_id == org.id)
            .order_by(col(Assay.id).desc())
            .limit(200)
        ).all()
        self.assay_id.choices = [("", _l("— none (declared composition) —"))] + [
            (str(a.id), f"{a.lot_ref} — {a.material_code} ({a.reported_on.isoformat()})")
            for a in assays
        ]
        self.visibility.choices = [
            ("public", _l("Every member")),
            ("invited", _l("Invited organisations only")),
        ]
        orgs = db.exec(
            select(Organization)
            .where(Organization.status == OrgStatus.VERIFIED, Organization.id != org.id)
            .order_by(Organization.name_en)
        ).all()
        self.invited_org_ids.choices = [(o.id, _org_name(o)) for o in orgs]

    def to_input(self) -> ListingInput:
        return ListingInput(
            material=self.material.data or "",
            grade_version_id=self.grade.data or "",
            monthly_t=self.monthly_t.data or "",
            min_t_per_contract=self.min_t_per_contract.data or "",
            available_from=self.available_from.data or "",
            max_term_months=self.max_term_months.data or "",
            origin_prefecture=self.origin_prefecture.data or "",
            origin_port=self.origin_port.data or "",
            incoterm=self.incoterm.data or "",
            incoterm_place=self.incoterm_place.data or "",
            price=PriceInput(
                kind=self.price_kind.data or "",
                fixed_jpy_per_t=self.fixed_price.data,
                index_code=self.index.data or "",
                factor=self.factor.data or "",
                premium_jpy_per_t=self.premium.data or 0,
                floor_jpy_per_t=self.floor.data,
                cap_jpy_per_t=self.cap.data,
            ),
            assay_id=self.assay_id.data or None,
            visibility=self.visibility.data or "",
            invited_org_ids=list(self.invited_org_ids.data or []),
            expires_on=self.expires_on.data or None,
            title=self.title.data or "",
        )


def _listing_initial(item: SupplyListing, codes: dict[int, str]) -> dict:
    return {
        "title": item.title,
        "material": item.material_code,
        "grade": str(item.standard_version_id),
        "monthly_t": str(kg_to_tonnes(item.monthly_kg)),
        "min_t_per_contract": str(kg_to_tonnes(item.min_kg_per_contract)),
        "available_from": month(item.available_from),
        "max_term_months": str(item.max_term_months),
        "origin_prefecture": item.origin_prefecture or "",
        "origin_port": item.origin_port or "",
        "incoterm": item.incoterm,
        "incoterm_place": item.incoterm_place,
        "price_kind": item.price_kind,
        "fixed_price": ""
        if item.fixed_price_jpy_per_t is None
        else str(item.fixed_price_jpy_per_t),
        "index": codes.get(item.index_id, ""),
        "factor": "" if item.index_factor is None else str(item.index_factor),
        "premium": str(item.premium_jpy_per_t),
        "floor": "" if item.floor_jpy_per_t is None else str(item.floor_jpy_per_t),
        "cap": "" if item.cap_jpy_per_t is None else str(item.cap_jpy_per_t),
        "assay_id": "" if item.assay_id is None else str(item.assay_id),
        "visibility": item.visibility,
        "invited_org_ids": sorted(item.invited),
        "expires_on": item.expires_on.isoformat(),
    }


class RequestForm(FlaskForm, PriceFields):
    title = StringField(_l("Title"))
    material = SelectField(_l("Material"), validate_choice=False)
    grade = SelectField(_l("Acceptable grade"), validate_choice=False)
    accept_stricter = BooleanField(
        _l("Also accept stricter grades of the same material"), default=True
    )
    monthly_t = StringField(_l("Tonnes per month"), render_kw={"inputmode": "decimal"})
    start_month = StringField(_l("First delivery month"), render_kw={"type": "month"})
    term_months = StringField(_l("Term (months)"), render_kw={"type": "number"})
    delivery_prefecture = SelectField(_l("Delivery prefecture"), validate_choice=False)
    delivery_place = StringField(_l("Delivery place"))
    max_price = StringField(_l("Maximum price (yen per tonne)"), render_kw={"inputmode": "numeric"})
    purpose = TextAreaField(_l("Purpose (optional)"))
    mandate = SelectField(_l("Recycled-content mandate"), validate_choice=False)
    expires_on = StringField(_l("Expires on (optional)"), render_kw={"type": "date"})

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.material.choices = [("", _l("— choose —")), *_material_names().items()]
        self.grade.choices = _grade_choices()
        self.delivery_prefecture.choices = prefecture_choices()
        self.price_kind.choices = _price_kind_choices()
        self.index.choices = _index_choices()
        self.mandate.choices = [(m, MANDATE_NAMES.get(m, m)) for m in MANDATES]

    def to_input(self) -> RequestInput:
        return RequestInput(
            material=self.material.data or "",
            grade_version_id=self.grade.data or "",
            monthly_t=self.monthly_t.data or "",
            start_month=self.start_month.data or "",
            term_months=self.term_months.data or "",
            accept_stricter=bool(self.accept_stricter.data),
            delivery_prefecture=self.delivery_prefecture.data or "",
            delivery_place=self.delivery_place.data or "",
            price=PriceInput(
                kind=self.price_kind.data or "",
                fixed_jpy_per_t=self.max_price.data,
                index_code=self.index.data or "",
                factor=self.factor.data or "",
                premium_jpy_per_t=self.premium.data or 0,
            ),
            purpose=self.purpose.data or "",
            mandate=self.mandate.data or "",
            expires_on=self.expires_on.data or None,
            title=self.title.data or "",
        )


def _request_initial(item: OfftakeRequest, codes: dict[int, str]) -> dict:
    return {
        "title": item.title,
        "material": item.material_code,
        "grade": str(item.standard_version_id),
        "accept_stricter": item.accept_stricter,
        "monthly_t": str(kg_to_tonnes(item.monthly_kg)),
        "start_month": month(item.start_month),
        "term_months": str(item.term_months),
        "delivery_prefecture": item.delivery_prefecture or "",
        "delivery_place": item.delivery_place,
        "price_kind": item.price_kind,
        "max_price": "" if item.max_price_jpy_per_t is None else str(item.max_price_jpy_per_t),
        "index": codes.get(item.index_id, ""),
        "factor": "" if item.index_factor is None else str(item.index_factor),
        "premium": str(item.premium_jpy_per_t),
        "purpose": item.purpose,
        "mandate": item.mandate,
        "expires_on": item.expires_on.isoformat(),
    }


class IndexValueForm(FlaskForm):
    month = StringField(_l("Month"), render_kw={"type": "month"})
    value = StringField(_l("Value (yen per tonne)"), render_kw={"inputmode": "numeric"})


class NewIndexForm(FlaskForm):
    code = StringField(_l("Code (e.g. CU-SCRAP-JP)"), validators=[DataRequired(), Length(max=40)])
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(), Length(max=120)])
    name_ja = StringField(_l("Name (Japanese)"), validators=[DataRequired(), Length(max=120)])
    material = SelectField(_l("Material"), choices=[])
    source = StringField(_l("Source"), validators=[Length(max=300)])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.material.choices = sorted(_material_names().items(), key=lambda kv: kv[1])


class IndexCsvForm(FlaskForm):
    file = FileField(_l("CSV file (month,value)"))


# ---------------------------------------------------------------------------------------------
# Search pages


def _page_numbers() -> tuple[int, int]:
    try:
        page = max(1, int(request.args.get("page", 1)))
        per_page = min(MAX_PER_PAGE, max(1, int(request.args.get("per_page", DEFAULT_PER_PAGE))))
    except ValueError:
        page, per_page = 1, DEFAULT_PER_PAGE
    return page, per_page


def _filter_args() -> dict[str, str]:
    return {k: v for k, v in request.args.items() if k not in ("page", "per_page")}


def _search_page(target: str):
    db = get_db()
    viewer = current_user.org.id
    args = _filter_args()
    page_no, per_page = _page_numbers()
    errors: dict[str, str] = {}
    parse = parse_listing_filters if target == "listings" else parse_request_filters
    try:
        filters = parse(args)
    except ValidationFailed as err:
        errors[err.field or ""] = translate_error(err)
        filters = parse({})
    run = search_listings if target == "listings" else search_requests
    found = run(db, viewer, filters, page_no, per_page)
    attr = "listing" if target == "listings" else "request"
    items = [getattr(r, attr) for r in found.items]
    codes = _index_codes({i.index_id for i in items})
    formulas = {
        i.id: formula_text(i, codes)
        for i in items
        if target == "listings" or i.organization_id == viewer
    }
    grades = db.exec(select(GradeStandard.code).order_by(GradeStandard.code)).all()
    return render_template(
        f"market/{target}.html",
        page=Page(found.items, page_no, per_page, found.total),
        args=args,
        errors=errors,
        formulas=formulas,
        price_month=filters.price_month or date.today().replace(day=1),
        materials=_material_names(),
        grade_codes=grades,
        prefectures=prefecture_choices(),
        sorts=[(s, SORT_NAMES[s]) for s in SORTS if target == "listings" or s != "price"],
        query_string=urlencode(args),
        viewer=viewer,
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


@bp.get("/listings/<int:listing_id>")
@login_required
def listing(listing_id: int):
    db = get_db()
    item = db.get(SupplyListing, listing_id)
    if item is None or not can_see_listing(item, current_user.org.id):
        abort(404)
    codes = _index_codes({item.index_id})
    this_month = date.today().replace(day=1)
    values = latest_values(db, {item.index_id} if item.index_id else set(), this_month)
    price = evaluate(formula_of(item), values.get(item.index_id) if item.index_id else None)
    return render_template(
        "market/listing.html",
        item=item,
        org=db.get(Organization, item.organization_id),
        grade=_grade_labels({item.standard_version_id}).get(item.standard_version_id, ""),
        material=_material_names().get(item.material_code, item.material_code),
        formula=formula_text(item, codes),
        price=price,
        price_month=this_month,
        own=item.organization_id == current_user.org.id,
    )


@bp.route("/listings/new", methods=["GET", "POST"])
@role_required(*LISTING_ROLES)
def new_listing():
    form = ListingForm(current_user.org)
    if form.validate_on_submit():
        db = get_db()
        try:
            item = create_listing(db, current_user.org.id, form.to_input(), date.today())
        except ValidationFailed as err:
            db.rollback()
            apply_to_form(form, err)
        else:
            db.commit()
            flash(gettext("The listing is saved as a draft. Publish it when ready."), "success")
            return redirect(url_for("market.listing", listing_id=item.id))
    status = 422 if form.is_submitted() else 200
    return render_template("market/listing_form.html", form=form, item=None), status


@bp.route("/listings/<int:listing_id>/edit", methods=["GET", "POST"])
@role_required(*LISTING_ROLES)
def edit_listing(listing_id: int):
    db = get_db()
    item = own_listing(db, current_user.org.id, listing_id)
    if request.method == "GET":
        form = ListingForm(
            current_user.org, data=_listing_initial(item, _index_codes({item.index_id}))
        )
    else:
        form = ListingForm(current_user.org)
    if form.validate_on_submit():
        try:
            update_listing(db, current_user.org.id, listing_id, form.to_input(), date.today())
        except ValidationFailed as err:
            db.rollback()
            apply_to_form(form, err)
        else:
            db.commit()
            flash(gettext("The listing is saved."), "success")
            return redirect(url_for("market.listing", listing_id=listing_id))
    status = 422 if form.is_submitted() else 200
    return render_template("market/listing_form.html", form=form, item=item), status


@bp.post("/listings/<int:listing_id>/publish")
@role_required(*LISTING_ROLES)
def publish_listing_view(listing_id: int):
    db = get_db()
    try:
        item = publish_listing(db, current_user.org.id, listing_id)
        db.flush()
    except MarketError as err:
        db.rollback()
        flash(translate_error(err), "error")
    else:
        alert_saved_searches(db, item)
        flash(gettext("The listing is open to the market."), "success")
    return redirect(url_for("market.listing", listing_id=listing_id))


@bp.post("/listings/<int:listing_id>/close")
@role_required(*LISTING_ROLES)
def close_listing_view(listing_id: int):
    commit_or_flash(
        lambda: close_listing(get_db(), current_user.org.id, listing_id),
        gettext("The listing is closed."),
    )
    return redirect(url_for("market.listing", listing_id=listing_id))


@bp.get("/listings/mine")
@login_required
def my_listings():
    db = get_db()
    page = paginate(
        db,
        select(SupplyListing)
        .where(SupplyListing.organization_id == current_user.org.id)
        .order_by(col(SupplyListing.created_at).desc(), col(SupplyListing.id).desc()),
    )
    return render_template(
        "market/my_listings.html",
        page=page,
        grades=_grade_labels({i.standard_version_id for i in page.items}),
        formulas=_formulas(page.items),
    )


def _formulas(items: list) -> dict[int, str]:
    codes = _index_codes({i.index_id for i in items})
    return {i.id: formula_text(i, codes) for i in items}


# ---------------------------------------------------------------------------------------------
# Requests


@bp.get("/requests/<int:request_id>")
@login_required
def request_detail(request_id: int):
    db = get_db()
    item = db.get(OfftakeRequest, request_id)
    if not can_see_request(item, current_user.org.id):
        abort(404)
    own = item.organization_id == current_user.org.id
    my_listings = []
    if not own and current_user.org.kind == "recycler":
        my_listings = db.exec(
            select(SupplyListing)
            .where(
                SupplyListing.organization_id == current_user.org.id,
                SupplyListing.status == ListingStatus.OPEN,
                SupplyListing.material_code == item.material_code,
            )
            .order_by(SupplyListing.id)
        ).all()
    return render_template(
        "market/request.html",
        my_listings=my_listings,
        item=item,
        org=db.get(Organization, item.organization_id),
        grade=_grade_labels({item.standard_version_id}).get(item.standard_version_id, ""),
        material=_material_names().get(item.material_code, item.material_code),
        formula=formula_text(item, _index_codes({item.index_id})) if own else None,
        own=own,
    )


@bp.route("/requests/new", methods=["GET", "POST"])
@role_required(*LISTING_ROLES)
def new_request():
    form = RequestForm()
    if form.validate_on_submit():
        db = get_db()
        try:
            item = create_request(db, current_user.org.id, form.to_input(), date.today())
        except ValidationFailed as err:
            db.rollback()
            apply_to_form(form, err)
        else:
            db.commit()
            flash(gettext("The request is saved as a draft. Publish it when ready."), "success")
            return redirect(url_for("market.request_detail", request_id=item.id))
    status = 422 if form.is_submitted() else 200
    return render_template("market/request_form.html", form=form, item=None), status


@bp.route("/requests/<int:request_id>/edit", methods=["GET", "POST"])
@role_required(*LISTING_ROLES)
def edit_request(request_id: int):
    db = get_db()
    item = own_request(db, current_user.org.id, request_id)
    if request.method == "GET":
        form = RequestForm(data=_request_initial(item, _index_codes({item.index_id})))
    else:
        form = RequestForm()
    if form.validate_on_submit():
        try:
            update_request(db, current_user.org.id, request_id, form.to_input(), date.today())
        except ValidationFailed as err:
            db.rollback()
            apply_to_form(form, err)
        else:
            db.commit()
            flash(gettext("The request is saved."), "success")
            return redirect(url_for("market.request_detail", request_id=request_id))
    status = 422 if form.is_submitted() else 200
    return render_template("market/request_form.html", form=form, item=item), status


@bp.post("/requests/<int:request_id>/publish")
@role_required(*LISTING_ROLES)
def publish_request_view(request_id: int):
    db = get_db()
    try:
        item = publish_request(db, current_user.org.id, request_id)
        db.flush()
    except MarketError as err:
        db.rollback()
        flash(translate_error(err), "error")
    else:
        alert_saved_searches(db, item)
        flash(gettext("The request is open to the market."), "success")
    return redirect(url_for("market.request_detail", request_id=request_id))


@bp.post("/requests/<int:request_id>/close")
@role_required(*LISTING_ROLES)
def close_request_view(request_id: int):
    commit_or_flash(
        lambda: close_request(get_db(), current_user.org.id, request_id),
        gettext("The request is closed."),
    )
    return redirect(url_for("market.request_detail", request_id=request_id))


@bp.get("/requests/mine")
@login_required
def my_requests():
    db = get_db()
    page = paginate(
        db,
        select(OfftakeRequest)
        .where(OfftakeRequest.organization_id == current_user.org.id)
        .order_by(col(OfftakeRequest.created_at).desc(), col(OfftakeRequest.id).desc()),
    )
    return render_template(
        "market/my_requests.html",
        page=page,
        grades=_grade_labels({i.standard_version_id for i in page.items}),
        formulas=_formulas(page.items),
    )


# ---------------------------------------------------------------------------------------------
# Price indices


def line_chart(points: list[tuple[date, int]], width: int = 640, height: int = 260) -> dict | None:
    """Coordinates of an SVG line chart of monthly values (months evenly spaced on x)."""
    if not points:
        return None
    left, right, top, bottom = 96, 16, 16, 40
    months = [d.year * 12 + d.month for d, _ in points]
    first, span = months[0], max(1, months[-1] - months[0])
    low, high = min(v for _, v in points), max(v for _, v in points)
    if low == high:
        low, high = low - max(1, low // 10), high + max(1, high // 10)
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(m: int) -> float:
        return round(
            left + (m - first) / span * plot_w if len(points) > 1 else left + plot_w / 2, 1
        )

    def y(v: float) -> float:
        return round(top + (high - v) / (high - low) * plot_h, 1)

    dots = [
        (x(m), y(v), d.strftime("%Y-%m"), yen(v)) for m, (d, v) in zip(months, points, strict=True)
    ]
    step = max(1, len(points) // 6)
    xticks = [(dx, label) for i, (dx, _dy, label, _v) in enumerate(dots) if i % step == 0]
    yticks = [
        (y(low + (high - low) * k / 4), yen(round(low + (high - low) * k / 4))) for k in range(5)
    ]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "top": top,
        "bottom": height - bottom,
        "points": " ".join(f"{dx},{dy}" for dx, dy, _l, _v in dots),
        "dots": dots,
        "xticks": xticks,
        "yticks": yticks,
    }


@bp.get("/indices")
def indices(form: "NewIndexForm | None" = None, status: int = 200):
    db = get_db()
    rows = db.exec(select(PriceIndex).order_by(PriceIndex.code)).all()
    latest = latest_values(db, {i.id for i in rows}, date.max)
    new_form = form or (NewIndexForm() if current_user.is_operator else None)
    return render_template(
        "market/indices.html", indices=rows, latest=latest, form=new_form
    ), status


@bp.post("/indices")
@operator_required
def create_index_view():
    form = NewIndexForm()
    if form.validate_on_submit():
        db = get_db()
        try:
            index = create_index(
                db,
                current_user.member,
                form.code.data,
                form.name_en.data,
                form.name_ja.data,
                form.material.data,
                form.source.data or "",
            )
            db.commit()
        except ValidationFailed as err:
            db.rollback()
            apply_to_form(form, err)
        else:
            flash(gettext("Price index %(code)s created.", code=index.code), "success")
            return redirect(url_for("market.index", code=index.code))
    return indices(form, 422)


def _index_page(code: str, value_form=None, csv_form=None, csv_errors=None, status: int = 200):
    db = get_db()
    index = get_index(db, code)
    values = index_values(db, index.id)
    return render_template(
        "market/index.html",
        index=index,
        values=list(reversed(values)),
        chart=line_chart([(v.month, v.value_jpy_per_t) for v in values]),
        value_form=value_form or IndexValueForm(),
        csv_form=csv_form or IndexCsvForm(),
        csv_errors=csv_errors or [],
    ), status


@bp.get("/indices/<code>")
def index(code: str):
    return _index_page(code)


@bp.post("/indices/<code>/values")
@operator_required
def set_index_value_view(code: str):
    db = get_db()
    form = IndexValueForm()
    if form.validate_on_submit():
        try:
            when = parse_month(form.month.data or "")
            set_index_value(db, current_user.member, code, when, form.value.data or "")
        except ValidationFailed as err:
            db.rollback()
            apply_to_form(form, err)
        else:
            db.commit()
            flash(
                gettext("The value for %(month)s is saved.", month=when.strftime("%Y-%m")),
                "success",
            )
            return redirect(url_for("market.index", code=code))
    return _index_page(code, value_form=form, status=422)


@bp.post("/indices/<code>/import")
@operator_required
def import_index_view(code: str):
    db = get_db()
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
        saved = import_index_csv(db, current_user.member, code, text)
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
    db = get_db()
    target = request.form.get("target", "")
    args = dict(parse_qsl(request.form.get("query", "")))
    back = url_for("market.listings" if target != "requests" else "market.requests", **args)
    try:
        save_search(db, current_user.member, target, request.form.get("name", ""), args)
    except ValidationFailed as err:
        db.rollback()
        flash(translate_error(err), "error")
        return redirect(back)
    db.commit()
    flash(
        gettext("The search is saved. We will alert you when new matches are published."), "success"
    )
    return redirect(url_for("market.saved_searches_view"))


@bp.get("/saved-searches")
@login_required
def saved_searches_view():
    rows = saved_searches(get_db(), current_user.member.id)
    links = {
        s.id: url_for(
            "market.listings" if s.target == "listings" else "market.requests",
            **json.loads(s.query or "{}"),
        )
        for s in rows
    }
    return render_template("market/saved_searches.html", searches=rows, links=links)


@bp.post("/saved-searches/<int:search_id>/delete")
@login_required
def delete_saved_search_view(search_id: int):
    db = get_db()
    delete_saved_search(db, current_user.member, search_id)
    db.commit()
    flash(gettext("The saved search is deleted."), "success")
    return redirect(url_for("market.saved_searches_view"))


@bp.get("/notifications")
@login_required
def notifications_view():
    rows = notifications(get_db(), current_user.member.id)
    texts = {}
    for n in rows:
        params = json.loads(n.params or "{}")
        texts[n.id] = gettext(n.message, **params) if params else gettext(n.message)
    return render_template("market/notifications.html", notes=rows, texts=texts)


@bp.post("/notifications/<int:note_id>/read")
@login_required
def read_notification(note_id: int):
    db = get_db()
    try:
        note = mark_read(db, current_user.member.id, note_id)
    except NotFound:
        abort(404)
    db.commit()
    target = note.link if note.link.startswith("/") and not note.link.startswith("//") else None
    return redirect(target or url_for("market.notifications_view"))


def _row_message(row: dict) -> str:
    """A CSV row error's message (marked for translation in market.indices) in the page language."""
    text: str = row["message"]
    return gettext(text)
