"""Sign-up, login, logout, password reset and change, own profile, sessions and API tokens."""

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
from flask_babel import force_locale, get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from wtforms import (
    DecimalField,
    EmailField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, NumberRange, Optional

from participants.accounts import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    SIGN_UP_KINDS,
    OrganizationInput,
    PasswordChange,
    api_tokens_of,
    authenticate,
    change_password,
    create_api_token,
    end_other_sessions,
    end_session,
    request_password_reset,
    reset_password,
    revoke_api_token,
    sessions_of,
    set_locale,
    sign_up,
    sign_up_errors,
)
from participants.countries import country_name
from participants.errors import N_, DomainError, TooManyAttempts
from participants.models import Member
from participants.registration import registration_schemes, registry_label
from web.auth import api_token_lifetime, current_actor, log_in, session_idle_limit
from web.db import get_db
from web.errors import apply_to_form, commit_or_flash
from web.forms import ORG_KIND_LABELS, PrefectureField, prefecture_choices
from web.i18n import select_locale
from web.mail import send_mail
from web.validation import validate_form

bp = Blueprint("account", __name__)

LANG_CHOICES = [("ja", "日本語", {"lang": "ja"}), ("en", "English", {"lang": "en"})]


class SignUpForm(FlaskForm):
    kind = RadioField(_l("Organisation kind"), validators=[DataRequired()])
    name_ja = StringField(_l("Legal name (Japanese)"), validators=[DataRequired(), Length(max=200)])
    name_en = StringField(
        _l("Legal name (English; optional for Japanese companies)"),
        validators=[Optional(), Length(max=200)],
    )
    country = StringField(
        _l("Country (ISO 3166-1 alpha-2 code)"),
        default="JP",
        validators=[Length(min=2, max=2)],
        render_kw={"autocomplete": "country", "maxlength": 2},
    )
    corporate_number = StringField(
        _l("Corporate number (法人番号, 13 digits)"), validators=[Optional(), Length(max=13)]
    )
    registry_id = StringField(
        _l("Registration number (organisations outside Japan)"),
        validators=[Optional(), Length(max=64)],
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


class PasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords differ."))],
    )


@bp.app_context_processor
def _registration_helpers() -> dict:
    """Country names and registration-number labels for organisation pages."""

    def country_display(code: str | None) -> str:
        return country_name(code, str(get_locale())) if code else ""

    def registry_display(code: str | None) -> str:
        return gettext(registry_label(code))

    return {"country_display": country_display, "registry_display": registry_display}


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("public.index")


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    form = SignUpForm()
    if form.is_submitted():
        # Every field error at once: the form's own checks and the domain's, side by side.
        valid = form.validate()
        db = get_db()
        data = OrganizationInput(
            kind=form.kind.data or "",
            name_ja=form.name_ja.data or "",
            name_en=form.name_en.data or "",
            corporate_number=form.corporate_number.data or "",
            country=form.country.data or "JP",
            registry_id=form.registry_id.data or "",
            address=form.address.data or "",
            prefecture=form.prefecture.data or "",
            lat=float(form.lat.data) if form.lat.data is not None else None,
            lon=float(form.lon.data) if form.lon.data is not None else None,
        )
        member_fields = (
            form.email.data or "",
            form.name.data or "",
            form.password.data or "",
            form.locale.data or "",
        )
        problems = sign_up_errors(db, data, *member_fields)
        for err in problems:
            field = getattr(form, err.field or "", None)
            if field is None or not field.errors:  # one message a field: the form's first
                apply_to_form(form, err)
        if valid and not problems:
            try:
                member = sign_up(db, data, *member_fields)
            except DomainError as err:
                db.rollback()
                apply_to_form(form, err)
            else:
                log_in(member)
                db.commit()
                with force_locale(select_locale()):  # the language of the next page
                    flash(
                        gettext(
                            "Welcome! Your organisation is registered and awaits verification."
                        ),
                        "success",
                    )
                return redirect(url_for("organization.members"))
    status = 422 if form.is_submitted() else 200
    return render_template("account/signup.html", form=form, schemes=registration_schemes()), status


def _retry_after(response, err: DomainError):
    """Add Retry-After (seconds) to a 429 answer."""
    if isinstance(err, TooManyAttempts) and err.retry_after:
        response.headers["Retry-After"] = str(err.retry_after)
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    status = 200
    error = None
    if form.validate_on_submit():
        db = get_db()
        try:
            member = authenticate(
                db, form.email.data, form.password.data, request.remote_addr or ""
            )
        except DomainError as err:
            db.commit()  # the failed attempt counts towards throttling
            apply_to_form(form, err)
            # A page answers wrong credentials as a form with errors (422), not a 401 challenge.
            status, error = (422 if err.status == 401 else err.status), err
        else:
            log_in(member)
            db.commit()
            return redirect(_safe_next(request.args.get("next")))
    elif form.is_submitted():
        status = 422
    response = current_app.make_response((render_template("account/login.html", form=form), status))
    return _retry_after(response, error) if error is not None else response


@bp.post("/logout")
def logout():
    if current_user.is_authenticated and current_user.member_session is not None:
        db = get_db()
        end_session(db, current_actor(), current_user.member_session.id)
        db.commit()
    logout_user()
    flash(gettext("You are logged out."), "info")
    return redirect(url_for("public.index"))


def _send_to_member(member: Member, subject: str, body: str, **params) -> None:
    """An e-mail in the member's own language (`subject` and `body` are message ids)."""
    with force_locale(member.locale):
        send_mail(member.email, gettext(subject), gettext(body, **params))


def _send_password_changed(member: Member) -> None:
    link = current_app.config["BASE_URL"] + url_for("account.forgot_password")
    _send_to_member(
        member,
        N_("Your Junkan password was changed"),
        N_(
            "The password of your Junkan account %(email)s was changed. Every other login"
            " session has ended and every API token is revoked.\n\n"
            "If you did not do this, choose a new password at once and tell the administrator"
            " of your organisation:\n%(link)s"
        ),
        email=member.email,
        link=link,
    )


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
            _send_to_member(
                member,
                N_("Reset your Junkan password"),
                N_(
                    "Open this link within one hour to choose a new password:\n%(link)s\n\n"
                    "If you did not ask for this, ignore this e-mail."
                ),
                link=link,
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
            member = reset_password(db, token, form.password.data)
            db.commit()
        except DomainError as err:
            db.rollback()
            apply_to_form(form, err)
        else:
            _send_password_changed(member)
            flash(gettext("Your password is changed. Please log in."), "success")
            return redirect(url_for("account.login"))
    status = 422 if form.is_submitted() else 200
    return render_template("account/reset.html", form=form), status


def _profile(
    form: ProfileForm | None = None,
    token_form: TokenForm | None = None,
    password_form: PasswordForm | None = None,
    new_token: str | None = None,
    status: int = 200,
):
    db = get_db()
    actor = current_actor()
    return (
        render_template(
            "account/profile.html",
            form=form or ProfileForm(locale=current_user.locale),
            token_form=token_form or TokenForm(prefix="token"),
            password_form=password_form or PasswordForm(prefix="password"),
            tokens=api_tokens_of(db, actor),
            sessions=sessions_of(db, actor, session_idle_limit()),
            current_session_id=current_user.member_session.id,
            new_token=new_token,
        ),
        status,
    )


@bp.route("/account", methods=["GET", "POST"])
@login_required
def profile():
    db = get_db()
    form = ProfileForm(locale=current_user.locale)
    if "locale" in request.form and form.validate_on_submit():
        with force_locale(form.locale.data):  # said in the language just chosen
            saved = gettext("Saved.")
        commit_or_flash(lambda: set_locale(db, current_actor(), form.locale.data), saved)
        session.pop("lang", None)  # the member's own language applies from now on
        return redirect(url_for("account.profile"))
    token_form = TokenForm(prefix="token")
    if "token-name" in request.form:
        if token_form.validate_on_submit():
            try:
                _, raw = create_api_token(
                    db, current_actor(), token_form.name.data, api_token_lifetime()
                )
                db.commit()
            except DomainError as err:
                db.rollback()
                apply_to_form(token_form, err)
            else:
                return _profile(form=form, new_token=raw)
        return _profile(form=form, token_form=token_form, status=422)
    return _profile(form=form)


@bp.post("/account/password")
@login_required
def password():
    form = PasswordForm(prefix="password")
    if form.validate_on_submit():
        data = validate_form(form, PasswordChange)
        if data is not None:
            db = get_db()
            try:
                member = change_password(
                    db,
                    current_actor(),
                    data,
                    current_user.member_session.id,
                    request.remote_addr or "",
                )
            except DomainError as err:
                db.commit()  # a wrong current password counts towards login throttling
                apply_to_form(form, err)
                response = current_app.make_response(
                    _profile(password_form=form, status=err.status)
                )
                return _retry_after(response, err)
            db.commit()
            _send_password_changed(member)
            flash(
                gettext(
                    "Your password is changed. Your other sessions have ended and your API"
                    " tokens are revoked."
                ),
                "success",
            )
            return redirect(url_for("account.profile"))
    return _profile(password_form=form, status=422)


@bp.post("/account/sessions/<int:session_id>/end")
@login_required
def end_one_session(session_id: int):
    db = get_db()
    current = current_user.member_session.id
    if commit_or_flash(
        lambda: end_session(db, current_actor(), session_id), gettext("The session is ended.")
    ):
        if session_id == current:
            logout_user()
            return redirect(url_for("account.login"))
    return redirect(url_for("account.profile"))


@bp.post("/account/sessions/end-others")
@login_required
def end_others():
    db = get_db()
    commit_or_flash(
        lambda: end_other_sessions(db, current_actor(), current_user.member_session.id),
        gettext("Your other sessions are ended."),
    )
    return redirect(url_for("account.profile"))


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    db = get_db()
    commit_or_flash(
        lambda: revoke_api_token(db, current_actor(), token_id), gettext("The token is revoked.")
    )
    return redirect(url_for("account.profile"))
