"""Sign-up, login, logout, password reset, own profile and API tokens."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlmodel import select
from wtforms import (
    DecimalField,
    EmailField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, NumberRange, Optional

from market.errors import MarketError
from market.models import ApiToken
from market.participants import (
    MIN_PASSWORD_LENGTH,
    SIGN_UP_KINDS,
    OrganizationInput,
    authenticate,
    create_api_token,
    request_password_reset,
    reset_password,
    revoke_api_token,
    sign_up,
)
from web.auth import load_member
from web.db import get_db
from web.errors import apply_to_form
from web.forms import ORG_KIND_LABELS, PrefectureField, prefecture_choices
from web.mail import send_mail

bp = Blueprint("account", __name__)

LANG_CHOICES = [("ja", "日本語"), ("en", "English")]


class SignUpForm(FlaskForm):
    kind = RadioField(_l("Organisation kind"), validators=[DataRequired()])
    name_ja = StringField(_l("Legal name (Japanese)"), validators=[DataRequired(), Length(max=200)])
    name_en = StringField(_l("Legal name (English)"), validators=[DataRequired(), Length(max=200)])
    country = StringField(_l("Country (ISO code)"), default="JP", validators=[Length(min=2, max=2)])
    corporate_number = StringField(
        _l("Corporate number (法人番号, 13 digits)"), validators=[Optional(), Length(max=13)]
    )
    registry_id = StringField(
        _l("Registry id (organisations outside Japan)"), validators=[Optional(), Length(max=64)]
    )
    prefecture = PrefectureField(_l("Prefecture"), validators=[Optional()])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=300)])
    lat = DecimalField(_l("Latitude"), validators=[Optional(), NumberRange(-90, 90)])
    lon = DecimalField(_l("Longitude"), validators=[Optional(), NumberRange(-180, 180)])
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)]
    )
    locale = SelectField(_l("Language"), choices=LANG_CHOICES, default="ja")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = [(k.value, ORG_KIND_LABELS[k]) for k in SIGN_UP_KINDS]
        self.prefecture.choices = prefecture_choices()


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class ForgotForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])


class ResetForm(FlaskForm):
    password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)]
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=80)])


class ProfileForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=LANG_CHOICES)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("public.index")


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    form = SignUpForm()
    if form.validate_on_submit():
        db = get_db()
        data = OrganizationInput(
            kind=form.kind.data,
            name_ja=form.name_ja.data,
            name_en=form.name_en.data,
            corporate_number=form.corporate_number.data or "",
            country=form.country.data or "JP",
            registry_id=form.registry_id.data or "",
            address=form.address.data or "",
            prefecture=form.prefecture.data or "",
            lat=float(form.lat.data) if form.lat.data is not None else None,
            lon=float(form.lon.data) if form.lon.data is not None else None,
        )
        try:
            member = sign_up(
                db, data, form.email.data, form.name.data, form.password.data, form.locale.data
            )
            db.commit()
        except MarketError as err:
            db.rollback()
            apply_to_form(form, err)
        else:
            login_user(load_member(member.id))
            flash(
                gettext("Welcome! Your organisation is registered and awaits verification."),
                "success",
            )
            return redirect(url_for("organization.members"))
    status = 422 if form.is_submitted() else 200
    return render_template("account/signup.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        db = get_db()
        try:
            member = authenticate(
                db, form.email.data, form.password.data, request.remote_addr or ""
            )
        except MarketError as err:
            db.commit()  # the failed attempt counts towards throttling
            apply_to_form(form, err)
            status = getattr(err, "status", 422)
        else:
            db.commit()
            login_user(load_member(member.id))
            return redirect(_safe_next(request.args.get("next")))
    elif form.is_submitted():
        status = 422
    return render_template("account/login.html", form=form), status


@bp.post("/logout")
def logout():
    logout_user()
    flash(gettext("You are logged out."), "info")
    return redirect(url_for("public.index"))


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    form = ForgotForm()
    if form.validate_on_submit():
        db = get_db()
        found = request_password_reset(db, form.email.data)
        db.commit()
        if found:
            member, raw = found
            link = current_app.config["BASE_URL"] + url_for("account.reset", token=raw)
            send_mail(
                member.email,
                gettext("Reset your Junkan password"),
                gettext(
                    "Open this link within one hour to choose a new password:\n%(link)s\n\n"
                    "If you did not ask for this, ignore this e-mail.",
                    link=link,
                ),
            )
        flash(gettext("If the address is registered, we have sent a link to reset the password."))
        return redirect(url_for("account.login"))
    return render_template("account/forgot.html", form=form), (422 if form.errors else 200)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    form = ResetForm()
    if form.validate_on_submit():
        db = get_db()
        try:
            reset_password(db, token, form.password.data)
            db.commit()
        except MarketError as err:
            db.rollback()
            apply_to_form(form, err)
        else:
            flash(gettext("Your password is changed. Please log in."), "success")
            return redirect(url_for("account.login"))
    status = 422 if form.is_submitted() else 200
    return render_template("account/reset.html", form=form), status


@bp.route("/account", methods=["GET", "POST"])
@login_required
def profile():
    db = get_db()
    form = ProfileForm(locale=current_user.locale)
    token_form = TokenForm(prefix="token")
    new_token = None
    if "locale" in request.form and form.validate_on_submit():
        current_user.member.locale = form.locale.data
        db.add(current_user.member)
        db.commit()
        flash(gettext("Saved."), "success")
        return redirect(url_for("account.profile"))
    if "token-name" in request.form and token_form.validate_on_submit():
        try:
            _, new_token = create_api_token(db, current_user.member, token_form.name.data)
            db.commit()
        except MarketError as err:
            db.rollback()
            apply_to_form(token_form, err)
    tokens = db.exec(
        select(ApiToken)
        .where(ApiToken.member_id == current_user.id)
        .order_by(ApiToken.created_at.desc())
    ).all()
    return render_template(
        "account/profile.html", form=form, token_form=token_form, tokens=tokens, new_token=new_token
    )


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    db = get_db()
    revoke_api_token(db, current_user.member, token_id)
    db.commit()
    flash(gettext("The token is revoked."), "success")
    return redirect(url_for("account.profile"))
