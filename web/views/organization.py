"""An organisation's own page: its details and members (admins invite, change, remove)."""

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import force_locale, get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Email, Length
from wtforms.widgets import CheckboxInput, ListWidget

from participants.accounts import (
    change_roles,
    invite_member,
    members_of,
    remove_member,
    set_registration_number,
    set_registry_id,
)
from participants.actors import ADMINISTER_ORGANIZATION
from participants.errors import DomainError, NotFound, PermissionDenied
from participants.models import Role
from participants.registration import scheme_of
from web.auth import current_actor
from web.db import get_db
from web.errors import apply_to_form, commit_or_flash
from web.forms import ROLE_LABELS
from web.mail import send_mail

bp = Blueprint("organization", __name__, url_prefix="/organization")


class RolesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _role_choices() -> list[tuple[str, str]]:
    return [(r.value, ROLE_LABELS[r]) for r in Role]


class InviteForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    roles = RolesField(_l("Roles"), validators=[DataRequired()])
    locale = SelectField(
        _l("Language"),
        choices=[("ja", "日本語", {"lang": "ja"}), ("en", "English", {"lang": "en"})],
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.roles.choices = _role_choices()


class RolesForm(FlaskForm):
    roles = RolesField(_l("Roles"), validators=[DataRequired()])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.roles.choices = _role_choices()


class ConfirmForm(FlaskForm):
    pass


class RegistrationForm(FlaskForm):
    qualified_invoice_number = StringField(
        _l("Qualified invoice registration number"),
        validators=[Length(max=40)],
        render_kw={"placeholder": "T1234567890123", "autocomplete": "off"},
    )


class RegistryForm(FlaskForm):
    """An organisation outside Japan: its registration number in its country."""

    registry_id = StringField(
        _l("Registration number in your country"),
        validators=[DataRequired(), Length(max=64)],
        render_kw={"autocomplete": "off"},
    )


def _page_locale() -> str:
    """The language of the page the admin reads (ja or en)."""
    return "en" if str(get_locale()).startswith("en") else "ja"


def _members_page(
    invite: InviteForm | None = None,
    status: int = 200,
    registration: RegistrationForm | None = None,
    registry: RegistryForm | None = None,
):
    actor = current_actor()
    members = members_of(get_db(), actor)
    forms = {m.id: RolesForm(prefix=f"m{m.id}", roles=sorted(m.role_set)) for m in members}
    return (
        render_template(
            "organization/members.html",
            members=members,
            # An invitation is written in the admin's page language unless the admin picks
            # the other one.
            invite=invite or InviteForm(prefix="invite", locale=_page_locale()),
            role_forms=forms,
            confirm=ConfirmForm(),
            can_administer=ADMINISTER_ORGANIZATION.allows(actor),
            registration=registration
            or RegistrationForm(
                prefix="registration",
                formdata=None,
                qualified_invoice_number=current_user.org.qualified_invoice_number or "",
            ),
            registry=registry
            or RegistryForm(
                prefix="registry", formdata=None, registry_id=current_user.org.registry_id or ""
            ),
            registry_example=getattr(scheme_of(current_user.org.country), "example", ""),
        ),
        status,
    )


@bp.get("/")
@login_required
def members():
    return _members_page()


@bp.post("/members")
@login_required
def invite():
    form = InviteForm(prefix="invite")
    db = get_db()
    if form.validate_on_submit():
        try:
            member, raw = invite_member(
                db,
                current_actor(),
                form.email.data,
                form.name.data,
                form.roles.data,
                form.locale.data,
            )
            db.commit()
        except (PermissionDenied, NotFound):
            raise  # 403 / 404 as in the API, not a form message
        except DomainError as err:
            db.rollback()
            apply_to_form(form, err)
        else:
            link = current_app.config["BASE_URL"] + url_for("account.reset", token=raw)
            with force_locale(member.locale):  # in the invited member's language
                send_mail(
                    member.email,
                    gettext("You are invited to Junkan"),
                    gettext(
                        "%(name)s invites you to join %(org)s on Junkan. "
                        "Choose your password within seven days:\n%(link)s",
                        name=current_user.name,
                        org=_org_name_for(current_user.org, member.locale),
                        link=link,
                    ),
                )
            flash(gettext("Invitation sent to %(email)s.", email=member.email), "success")
            return redirect(url_for("organization.members"))
    return _members_page(invite=form, status=422)


def _org_name_for(org, locale: str) -> str:
    """The organisation's name as the invited member reads it (English name if it has one)."""
    return (org.name_en or org.name_ja) if locale == "en" else org.name_ja


@bp.post("/members/<int:member_id>/roles")
@login_required
def roles(member_id: int):
    form = RolesForm(prefix=f"m{member_id}")
    db = get_db()
    if not form.validate_on_submit():
        flash(gettext("Choose at least one role."), "error")
        return redirect(url_for("organization.members")), 303
    commit_or_flash(
        lambda: change_roles(db, current_actor(), member_id, form.roles.data),
        gettext("Roles saved."),
    )
    return redirect(url_for("organization.members"))


@bp.post("/members/<int:member_id>/remove")
@login_required
def remove(member_id: int):
    db = get_db()
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("organization.members"))
    commit_or_flash(
        lambda: remove_member(db, current_actor(), member_id), gettext("The member is removed.")
    )
    return redirect(url_for("organization.members"))


def _save_number(form, save, field: str, slot: str):
    """One number form of the organisation page (`slot`: its name in the page): `save(db,
    actor, value of field)`; saved → back to the page; a domain error → the form with the
    message (403 / 404 as in the API)."""
    db = get_db()
    if form.validate_on_submit():
        try:
            save(db, current_actor(), form[field].data)
            db.commit()
        except (PermissionDenied, NotFound):
            raise  # 403 / 404 as in the API, not a form message
        except DomainError as err:
            db.rollback()
            apply_to_form(form, err)
        else:
            flash(gettext("Registration number saved."), "success")
            return redirect(url_for("organization.members"))
    return _members_page(**{slot: form}, status=422)


@bp.post("/registration-number")
@login_required
def registration_number():
    """An admin sets (or clears) the organisation's qualified-invoice registration number."""
    form = RegistrationForm(prefix="registration")
    return _save_number(form, set_registration_number, "qualified_invoice_number", "registration")


@bp.post("/registry-id")
@login_required
def registry_id():
    """An admin of an organisation outside Japan corrects its registration number."""
    form = RegistryForm(prefix="registry")
    return _save_number(form, set_registry_id, "registry_id", "registry")
