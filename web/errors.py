"""One place mapping domain errors and HTTP errors to pages and RFC 9457 problem details."""

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from participants.actors import UNVERIFIED_MESSAGE, Actor, Permission, drafting
from participants.errors import (
    Conflict,
    DomainError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from web.db import get_db
from web.i18n import translate_error
from web.validation import InputInvalid

DOMAIN_ERRORS: tuple[type[Exception], ...] = (DomainError,)


def error_status(error: Exception) -> int:
    return getattr(error, "status", 422)


def wants_problem_json() -> bool:
    return request.path.startswith("/api/")


def problem(status: int, title: str, detail: str | None = None, errors: list | None = None):
    """An application/problem+json response."""
    body: dict = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.content_type = "application/problem+json"
    return response


def field_error(field: str | None, message: str) -> dict:
    return {"field": field, "message": message}


def apply_to_form(form, error: Exception) -> None:
    """Show a domain error under its form field (or as a form-level error)."""
    message = translate_error(error)
    field = getattr(form, error.field, None) if getattr(error, "field", None) else None
    if field is not None:
        field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
    else:
        form.form_errors.append(message)


def save_form(
    form, action, refusal_on_form: bool = True, place_error=None
) -> tuple[object | None, int]:
    """Run a domain action and commit, or show its error under the form's field (422 / 409).

    A refusal that only waits for verification is shown above the form (403) when the page can
    show that form to the member; `refusal_on_form=False` for forms on pages an unverified
    organisation may not open (the tender evaluation): the refusal stays the 403 page.
    `place_error(form, field, message)` puts a field's error where a form with nested rows
    shows it (the tender forms); by default `apply_to_form`."""
    db = get_db()
    try:
        result = action()
        db.commit()
    except (ValidationFailed, Conflict) as err:
        db.rollback()
        if place_error is None:
            apply_to_form(form, err)
        else:
            place_error(form, getattr(err, "field", None), translate_error(err))
        return None, err.status
    except PermissionDenied as err:  # waiting for verification: said above the form
        if not refusal_on_form:
            raise
        return None, refuse_on_form(form, err, _acting())
    return result, 200


def _acting() -> Actor | None:
    """The page's member (forms are pages; `web.auth` imports this module)."""
    return current_user.actor if current_user.is_authenticated else None


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: Exception):
        get_db().rollback()
        status = error_status(error)
        message = translate_error(error)
        if wants_problem_json():
            response = problem(
                status,
                _title(status),
                message,
                [field_error(getattr(error, "field", None), message)],
            )
        else:
            response = app.make_response(
                (render_template("error.html", status=status, message=message), status)
            )
        if getattr(error, "retry_after", 0):
            response.headers["Retry-After"] = str(error.retry_after)
        if status == 401 and wants_problem_json():
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.errorhandler(InputInvalid)
    def _input_invalid(error: InputInvalid):
        get_db().rollback()
        status = error.status
        message = error.errors[0]["message"] if error.errors else _title(status)
        if wants_problem_json():
            return problem(status, _title(status), message, error.errors)
        return render_template("error.html", status=status, message=message), status

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        status = error.code or 500
        if wants_problem_json():
            response = problem(status, _title(status), error.description if status != 404 else None)
        else:
            response = app.make_response(
                (render_template("error.html", status=status, message=_title(status)), status)
            )
        # Keep the exception's own headers (Allow on 405, WWW-Authenticate, Retry-After …).
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(OverflowError)
    @app.errorhandler(DataError)
    def _out_of_range(error: Exception):
        # A number too large for the database (an id, a page, an amount): bad input, not a 500.
        get_db().rollback()
        message = gettext("A number is out of range.")
        if wants_problem_json():
            return problem(422, _title(422), message, [field_error(None, message)])
        return render_template("error.html", status=422, message=message), 422

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        app.logger.exception("unhandled error")
        get_db().rollback()
        if wants_problem_json():
            return problem(500, _title(500))
        return render_template("error.html", status=500, message=_title(500)), 500


def _title(status: int) -> str:
    titles = {
        400: gettext("Bad request"),
        401: gettext("Authentication required"),
        403: gettext("You may not do this"),
        404: gettext("Not found"),
        405: gettext("Method not allowed"),
        409: gettext("Conflict"),
        413: gettext("The upload is too large"),
        415: gettext("Unsupported media type"),
        422: gettext("The input is not valid"),
        429: gettext("Too many requests"),
    }
    return titles.get(status, gettext("Something went wrong"))


def commit_or_flash(action, success: str | None = None):
    """Run a domain action in the request's session: commit and flash `success`, or roll back
    and flash the domain error (translated). Returns the action's result, or None on error.

    PermissionDenied and NotFound are not flashed: they answer 403 / 404 as in the API."""
    from flask import flash

    db = get_db()
    try:
        result = action()
        db.commit()
    except (PermissionDenied, NotFound):
        raise
    except DOMAIN_ERRORS as err:
        db.rollback()
        flash(translate_error(err), "error")
        return None
    if success:
        flash(success, "success")
    return result


def awaits_verification(permission: Permission, actor: Actor | None) -> bool:
    """True when only its organisation's verification stops the actor from `permission`
    (signed up, not verified, not suspended, and of the right kind and role)."""
    return (
        actor is not None
        and not actor.verified
        and not actor.suspended
        and drafting(permission).allows(actor)
    )


def check_form_page(permission: Permission, actor: Actor | None) -> None:
    """Who may open a form page whose last step needs `permission`: those who may take that
    step, and members of organisations only waiting for verification, who see the page with
    the verification banner before typing (the domain still refuses the step itself)."""
    if not awaits_verification(permission, actor):
        permission.check(actor)


def refuse_on_form(form, error: PermissionDenied, actor: Actor | None) -> int:
    """Show the domain's refusal above the form, everything typed kept, nothing written (403,
    as the API answers) when the actor's organisation only waits for verification; any other
    refusal (role, kind, suspension) stays the 403 page."""
    if actor is None or actor.verified or actor.suspended or error.message != UNVERIFIED_MESSAGE:
        raise error
    get_db().rollback()
    form.form_errors.append(translate_error(error))
    return 403
