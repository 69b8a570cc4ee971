"""Catalogue pages: the recycled-product catalogue (search, compare, a product), the product
form and "my products" of manufacturers, the direct-purchase order form that shows in advance
which rule applies to the quantity entered, the orders of an agency and of a supplier, the
agency's procurement policy, and the bank transfer a seller records for an order's invoice.

The pages read their input into the same models as the API (`ProductInput`, `OrderIn`,
`PolicyInput`, `BankTransferIn`: form field names are the model's field names) and call the
same domain functions with the acting member; who may do what is decided there.
"""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from pydantic import ValidationError
from sqlmodel import select
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField

from contracts.payments import (
    RECORD_BANK_TRANSFERS,
    BankTransferIn,
    payment_box,
    record_bank_transfer,
)
from contracts.public_orders import (
    BUY_DIRECT,
    OrderIn,
    buy_direct,
    describe_order,
    describe_orders,
    quote_direct_purchase,
)
from market.categories import list_categories
from market.products import (
    BELOW_POST_CONSUMER,
    BELOW_TOTAL,
    CLAIM_NOT_COVERED,
    MANAGE_PRODUCTS,
    SORTS,
    CatalogueQuery,
    ProductChoices,
    ProductInput,
    ProductOut,
    compare_products,
    create_product,
    describe_product,
    describe_products,
    own_product,
    own_products,
    product_form_choices,
    read_product,
    search_products,
    update_product,
    withdraw_product,
)
from market.purchasing import (
    MARK_DELIVERED,
    SET_POLICY,
    PolicyInput,
    mark_delivered,
    orders_query,
    read_order,
    read_policy,
)
from market.purchasing import set_policy as save_policy
from participants.columns import tokyo_today
from participants.errors import NotFound, ValidationFailed
from quality.models import Material
from web.api.catalogue import parse_ids
from web.auth import current_actor
from web.db import get_db
from web.errors import commit_or_flash, save_form
from web.i18n import translate_error
from web.labels import LABELS
from web.pagination import paginate
from web.validation import input_errors, validate_form

bp = Blueprint("catalogue", __name__)

# The names live in web.labels (kinds catalogue_sort, order_status, product_status,
# order_payment).
SORT_NAMES = LABELS["catalogue_sort"]
ORDER_STATUS_NAMES = LABELS["order_status"]
PRODUCT_STATUS_NAMES = LABELS["product_status"]
PAYMENT_NAMES = LABELS["order_payment"]


# ---------------------------------------------------------------------------------------------
# Display helpers


def _ja() -> bool:
    return str(get_locale()) == "ja"


def _name(item) -> str:
    """The Japanese or English name of anything with name_ja and name_en."""
    return (item.name_ja if _ja() else item.name_en) or item.name_ja or item.name_en


def _description(product: ProductOut) -> str:
    return (product.description_ja if _ja() else product.description_en) or (
        product.description_ja or product.description_en
    )


def _material(code: str) -> str:
    """A material's name in the page's language (its code when unknown)."""
    material = get_db().exec(select(Material).where(Material.code == code)).first()
    return _name(material) if material else code


def _rule(rule_en: str, rule_ja: str) -> str:
    return (rule_ja if _ja() else rule_en) or rule_ja or rule_en


def flag_texts(product: ProductOut) -> list[str]:
    """A product's flags in words."""
    texts = []
    category = product.category
    if CLAIM_NOT_COVERED in product.flags:
        texts.append(gettext("Claim not covered"))
    if BELOW_POST_CONSUMER in product.flags:
        texts.append(
            gettext(
                "Post-consumer content below the recommended minimum of %(pct)s percent "
                "(%(source)s)",
                pct=category.min_post_consumer_pct,
                source=gettext(category.source) if category.source else "—",
            )
        )
    if BELOW_TOTAL in product.flags:
        texts.append(
            gettext(
                "Total recycled content below the recommended minimum of %(pct)s percent "
                "(%(source)s)",
                pct=category.min_total_pct,
                source=gettext(category.source) if category.source else "—",
            )
        )
    return texts


@bp.app_context_processor
def _catalogue_helpers() -> dict:
    return {
        "catalogue_name": _name,
        "catalogue_description": _description,
        "catalogue_flags": flag_texts,
        "catalogue_rule": _rule,
        "catalogue_material": _material,
        "order_status_names": {k: str(v) for k, v in ORDER_STATUS_NAMES.items()},
        "product_status_names": {k: str(v) for k, v in PRODUCT_STATUS_NAMES.items()},
        "order_payment_names": {k: str(v) for k, v in PAYMENT_NAMES.items()},
    }


# ---------------------------------------------------------------------------------------------
# Forms: field names are the input model's field names


class FreeMultiSelect(SelectMultipleField):
    def pre_validate(self, form) -> None:  # the domain checks the certificates
        pass


class ProductForm(FlaskForm):
    category_id = SelectField(_l("Category"), validate_choice=False)
    name_ja = StringField(_l("Name (Japanese)"))
    name_en = StringField(_l("Name (English)"))
    description_ja = TextAreaField(_l("Description (Japanese)"))
    description_en = TextAreaField(_l("Description (English)"))
    unit = StringField(_l("Unit (e.g. piece, box)"), default="piece")
    unit_price_jpy = StringField(
        _l("Unit price (yen, tax excluded)"), render_kw={"inputmode": "numeric"}
    )
    lead_time_days = StringField(_l("Lead time (days)"), render_kw={"inputmode": "numeric"})
    unit_mass_kg = StringField(_l("Mass of one unit (kg)"), render_kw={"inputmode": "decimal"})
    material = SelectField(_l("Recycled input material"), validate_choice=False)
    post_consumer_pct = StringField(
        _l("Post-consumer recycled content (percent)"), render_kw={"inputmode": "decimal"}
    )
    total_recycled_pct = StringField(
        _l("Total recycled content (percent)"), render_kw={"inputmode": "decimal"}
    )
    certificates = FreeMultiSelect(_l("Evidence certificates"))

    def __init__(self, choices: ProductChoices, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.category_id.choices = [("", _l("— choose —"))] + [
            (str(c.id), _name(c)) for c in choices.categories
        ]
        self.material.choices = [("", _l("— choose —"))] + [
            (m.code, _name(m)) for m in choices.materials
        ]
        self.certificates.choices = [
            (c.id, f"{c.id} ({c.issued_at:%Y-%m-%d})") for c in choices.certificates
        ]


class OrderForm(FlaskForm):
    quantity = StringField(_l("Quantity"), render_kw={"inputmode": "numeric"})


class PolicyForm(FlaskForm):
    direct_purchase_threshold_jpy = StringField(
        _l("Direct-purchase threshold (yen, tax included)"), render_kw={"inputmode": "numeric"}
    )
    rule_ja = StringField(_l("Rule that sets it (Japanese)"))
    rule_en = StringField(_l("Rule that sets it (English)"))


class BankTransferForm(FlaskForm):
    amount_jpy = StringField(_l("Amount received (yen)"), render_kw={"inputmode": "numeric"})
    received_on = StringField(_l("Received on"), render_kw={"type": "date"})
    reference = StringField(_l("Bank reference (optional)"))


class ActionForm(FlaskForm):
    """CSRF only: the record is in the URL."""


# ---------------------------------------------------------------------------------------------
# Catalogue


@bp.get("/catalogue")
@login_required
def search():
    db, actor = get_db(), current_actor()
    args = {k: v for k, v in request.args.items() if v != "" and k not in ("page", "per_page")}
    errors: dict[str, str] = {}
    try:
        query = CatalogueQuery.model_validate(args)
    except ValidationError as exc:
        for error in input_errors(exc):
            errors.setdefault((error["field"] or "").split(".")[0], error["message"])
        query = CatalogueQuery()
    page = paginate(db, search_products(actor, query))
    return render_template(
        "catalogue/search.html",
        page=page,
        products=describe_products(db, page.items),
        args=args,
        errors=errors,
        categories=list_categories(db),
        sorts=[(s, str(SORT_NAMES[s])) for s in SORTS],
        may_manage=MANAGE_PRODUCTS.allows(actor),
        may_buy=BUY_DIRECT.allows(actor),
        may_set_policy=SET_POLICY.allows(actor),
    ), (400 if errors else 200)


@bp.get("/catalogue/compare")
@login_required
def compare():
    db, actor = get_db(), current_actor()
    text = ",".join(v.strip() for v in request.args.getlist("ids") if v.strip())
    try:
        products = describe_products(db, compare_products(db, actor, parse_ids(text)))
    except ValidationFailed as err:
        flash(translate_error(err), "error")
        return redirect(url_for("catalogue.search"))
    return render_template("catalogue/compare.html", products=products)


@bp.get("/catalogue/products/<int:product_id>")
@login_required
def product(product_id: int):
    db, actor = get_db(), current_actor()
    item = describe_product(db, read_product(db, actor, product_id))
    own = actor.owns(item.organization.id)
    return render_template(
        "catalogue/product.html",
        product=item,
        own=own,
        may_manage=own and MANAGE_PRODUCTS.allows(actor),
        may_buy=BUY_DIRECT.allows(actor) and item.status == "active",
        action_form=ActionForm(),
    )


@bp.route("/catalogue/products/new", methods=["GET", "POST"])
@login_required
def new_product():
    db, actor = get_db(), current_actor()
    form = ProductForm(product_form_choices(db, actor))
    status = 200
    if form.validate_on_submit():
        data = validate_form(form, ProductInput)
        status = 422
        if data is not None:
            item, status = save_form(form, lambda: create_product(db, actor, data))
            if item is not None:
                flash(gettext("The product is in the catalogue."), "success")
                return redirect(url_for("catalogue.product", product_id=item.id))
    elif form.is_submitted():
        status = 422
    return render_template("catalogue/product_form.html", form=form, item=None), status


@bp.route("/catalogue/products/<int:product_id>/edit", methods=["GET", "POST"])
@login_required
def edit_product(product_id: int):
    db, actor = get_db(), current_actor()
    item = own_product(db, actor, product_id)
    choices = product_form_choices(db, actor)
    if request.method == "GET":
        current = describe_product(db, item)
        form = ProductForm(
            choices, data=current.model_dump(mode="json") | {"category_id": str(item.category_id)}
        )
    else:
        form = ProductForm(choices)
    status = 200
    if form.validate_on_submit():
        data = validate_form(form, ProductInput)
        status = 422
        if data is not None:
            saved, status = save_form(form, lambda: update_product(db, actor, product_id, data))
            if saved is not None:
                flash(gettext("The product is saved."), "success")
                return redirect(url_for("catalogue.product", product_id=product_id))
    elif form.is_submitted():
        status = 422
    return render_template("catalogue/product_form.html", form=form, item=item), status


@bp.post("/catalogue/products/<int:product_id>/withdraw")
@login_required
def withdraw(product_id: int):
    commit_or_flash(
        lambda: withdraw_product(get_db(), current_actor(), product_id),
        gettext("The product is withdrawn from the catalogue."),
    )
    return redirect(url_for("catalogue.product", product_id=product_id))


@bp.get("/catalogue/mine")
@login_required
def my_products():
    db, actor = get_db(), current_actor()
    page = paginate(db, own_products(actor))
    return render_template(
        "catalogue/mine.html",
        page=page,
        products=describe_products(db, page.items),
        may_manage=MANAGE_PRODUCTS.allows(actor),
    )


# ---------------------------------------------------------------------------------------------
# Direct purchase


def _quantity(text: str | None) -> int | None:
    """A quantity to preview, or None when the text is not one."""
    try:
        return OrderIn.model_validate({"product_id": 1, "quantity": (text or "").strip()}).quantity
    except ValidationError:
        return None


@bp.route("/catalogue/products/<int:product_id>/order", methods=["GET", "POST"])
@login_required
def order_form(product_id: int):
    db, actor = get_db(), current_actor()
    entered = (
        request.form.get("quantity")
        if request.method == "POST"
        else request.args.get("quantity", "1")
    )
    quantity = _quantity(entered)
    quote = quote_direct_purchase(db, actor, product_id, quantity or 1)  # 403 / 404 first
    form = OrderForm(data={"quantity": entered})
    status = 200
    if request.method == "GET" and entered and quantity is None:
        form.quantity.errors = [gettext("Enter a whole number from 1 to 1,000,000.")]
        status = 422
    if form.validate_on_submit():
        data = validate_form(form, OrderIn, product_id=product_id)
        status = 422
        if data is not None:
            order, status = save_form(form, lambda: buy_direct(db, actor, data))
            if order is not None:
                flash(gettext("The order %(number)s is placed.", number=order.number), "success")
                return redirect(url_for("catalogue.order", order_id=order.id))
    elif form.is_submitted():
        status = 422
    return render_template(
        "catalogue/order_form.html",
        form=form,
        quote=quote if quantity is not None else None,
        product=describe_product(db, quote.product),
    ), status


@bp.get("/catalogue/orders")
@login_required
def orders():
    db, actor = get_db(), current_actor()
    page = paginate(db, orders_query(actor))
    return render_template(
        "catalogue/orders.html",
        page=page,
        orders=describe_orders(db, page.items),
        viewer=actor.organization_id,
    )


@bp.get("/catalogue/orders/<int:order_id>")
@login_required
def order(order_id: int):
    db, actor = get_db(), current_actor()
    item = describe_order(db, read_order(db, actor, order_id))
    box = payment_box(db, actor, item.invoice_id) if item.invoice_id else None
    return render_template(
        "catalogue/order.html",
        order=item,
        box=box,
        may_mark_delivered=MARK_DELIVERED.allows(actor)
        and actor.owns(item.supplier.id)
        and item.status == "ordered",
        action_form=ActionForm(),
    )


@bp.post("/catalogue/orders/<int:order_id>/delivered")
@login_required
def delivered(order_id: int):
    commit_or_flash(
        lambda: mark_delivered(get_db(), current_actor(), order_id),
        gettext("The order is marked delivered."),
    )
    return redirect(url_for("catalogue.order", order_id=order_id))


# ---------------------------------------------------------------------------------------------
# The agency's policy


@bp.route("/catalogue/policy", methods=["GET", "POST"])
@login_required
def policy():
    db, actor = get_db(), current_actor()
    SET_POLICY.check(actor)  # the form is for those who may set it (403 for a GET too)
    current = read_policy(db, actor)
    if request.method == "GET":
        form = PolicyForm(
            data={
                "direct_purchase_threshold_jpy": str(current.direct_purchase_threshold_jpy),
                "rule_ja": current.rule_ja,
                "rule_en": current.rule_en,
            }
        )
    else:
        form = PolicyForm()
    status = 200
    if form.validate_on_submit():
        data = validate_form(form, PolicyInput)
        status = 422
        if data is not None:
            saved, status = save_form(form, lambda: save_policy(db, actor, data))
            if saved is not None:
                flash(gettext("The procurement policy is saved."), "success")
                return redirect(url_for("catalogue.policy"))
    elif form.is_submitted():
        status = 422
    return render_template("catalogue/policy.html", form=form, policy=current), status


# ---------------------------------------------------------------------------------------------
# A bank transfer received for an order's invoice


@bp.route("/invoices/<int:invoice_id>/bank-transfer", methods=["GET", "POST"])
@login_required
def bank_transfer(invoice_id: int):
    db, actor = get_db(), current_actor()
    RECORD_BANK_TRANSFERS.check(actor)
    box = payment_box(db, actor, invoice_id)
    if box is None:
        raise NotFound(gettext("No such invoice."))
    if request.method == "GET":
        form = BankTransferForm(
            data={"amount_jpy": str(box.amount_jpy), "received_on": tokyo_today().isoformat()}
        )
    else:
        form = BankTransferForm()
    status = 200
    if form.validate_on_submit():
        data = validate_form(form, BankTransferIn)
        status = 422
        if data is not None:
            done, status = save_form(
                form, lambda: record_bank_transfer(db, actor, invoice_id, data)
            )
            if done is not None:
                flash(gettext("The bank transfer is recorded: the invoice is paid."), "success")
                return redirect(f"/invoices/{invoice_id}")
    elif form.is_submitted():
        status = 422
    return render_template("invoices/bank_transfer.html", form=form, box=box), status
