"""Input validation in one place: typed input models (pydantic) for forms, JSON bodies and query
strings, and their errors as translated field messages.

A JSON body is validated strictly (`true` is not 1, "1" is not an integer); query strings and
form fields arrive as text and are validated leniently against the same bounds.
"""

from typing import TypeVar

from flask import request
from flask_babel import gettext
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class InputInvalid(Exception):
    """The input does not fit its model; `errors` are [{field, message}] in the caller's language."""

    def __init__(self, errors: list[dict], status: int = 422) -> None:
        super().__init__("invalid input")
        self.errors = errors
        self.status = status


def _message(err: dict) -> str:
    """One pydantic error as a translated message."""
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return gettext("This field is required.")
    if kind == "json_invalid":
        return gettext("The body is not valid JSON.")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return gettext("Send a JSON object.")
    if kind == "extra_forbidden":
        return gettext("Unknown field.")
    if kind in ("string_too_long", "too_long"):
        return gettext("At most %(n)s characters.", n=ctx.get("max_length", ""))
    if kind in ("string_too_short", "too_short"):
        if ctx.get("min_length") == 1:
            return gettext("This field is required.")
        return gettext("At least %(n)s characters.", n=ctx.get("min_length", ""))
    if kind in ("greater_than", "greater_than_equal"):
        return gettext("The value must be at least %(n)s.", n=ctx.get("ge", ctx.get("gt", "")))
    if kind in ("less_than", "less_than_equal"):
        return gettext("The value must be at most %(n)s.", n=ctx.get("le", ctx.get("lt", "")))
    if kind == "decimal_max_places":
        return gettext("At most %(n)s decimals.", n=ctx.get("decimal_places", ""))
    if kind in ("finite_number",):
        return gettext("Enter a number.")
    if kind in ("literal_error", "enum"):
        return gettext("Choose one of the allowed values.")
    if kind in ("bool_type", "bool_parsing"):
        return gettext("Choose yes or no.")
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return gettext("Enter a whole number.")
    if kind.startswith(("decimal", "float", "int", "number")):
        return gettext("Enter a number.")
    if kind in ("date_type", "date_parsing", "date_from_datetime_parsing"):
        return gettext("Enter a date as YYYY-MM-DD.")
    if kind in ("list_type", "tuple_type", "set_type"):
        return gettext("Send a list.")
    if kind.startswith("string") or kind == "str_type":
        return gettext("Enter text.")
    english = err.get("msg")
    if english and kind not in ("value_error", "assertion_error"):
        # Our own error types (participants.fields) carry an English message to translate.
        return gettext(english)
    return gettext("This value is not valid.")


def input_errors(exc: ValidationError, fields: dict[str, str] | None = None) -> list[dict]:
    """[{field, message}] of a pydantic error; `fields` renames model fields to input names."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        name = ".".join(loc) or None
        if loc and fields and loc[0] in fields:
            name = ".".join([fields[loc[0]], *loc[1:]])
        out.append({"field": name, "message": _message(err)})
    return out


def parse_json_body(model: type[M]) -> M:
    """The request's JSON body validated strictly by `model`, or InputInvalid."""
    raw = request.get_data(cache=True)
    try:
        return model.model_validate_json(raw or b"null", strict=True)
    except ValidationError as exc:
        raise InputInvalid(input_errors(exc)) from None


def parse_query(model: type[M]) -> M:
    """The query string validated (leniently: values are text) by `model`, or InputInvalid 400.

    Each parameter is given at most once and must be one the endpoint declares; an empty
    value is a value (and must fit).
    """
    repeated = [k for k, values in request.args.lists() if len(values) > 1]
    if repeated:
        message = gettext("Give each parameter once.")
        raise InputInvalid([{"field": k, "message": message} for k in repeated], status=400)
    unknown = [k for k in request.args if k not in model.model_fields]
    if unknown:
        message = gettext("Unknown parameter.")
        raise InputInvalid([{"field": k, "message": message} for k in unknown], status=400)
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise InputInvalid(input_errors(exc), status=400) from None


def form_values(form, model: type[BaseModel]) -> dict:
    """The WTForms fields named like the model's fields, empty ones left out."""
    values = {}
    for name in model.model_fields:
        field = getattr(form, name, None)
        if field is None:
            continue
        value = field.data
        if value is None or (isinstance(value, str) and value.strip() == ""):
            continue
        values[name] = value
    return values


def validate_form(form, model: type[M], **extra) -> M | None:
    """The form's input as `model`, or None with each error shown under its form field.

    `extra` adds values that are not form fields (e.g. from the URL).
    """
    try:
        return model.model_validate({**form_values(form, model), **extra})
    except ValidationError as exc:
        for error in input_errors(exc):
            name = (error["field"] or "").split(".")[0]
            field = getattr(form, name, None) if name else None
            if field is not None:
                field.errors = (
                    [*field.errors, error["message"]]
                    if isinstance(field.errors, list)
                    else [error["message"]]
                )
            else:
                form.form_errors.append(error["message"])
        return None
