"""JSON API under /api/v1: bearer tokens, problem details, OpenAPI document."""

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import Blueprint, g, request
from flask_babel import gettext
from pydantic import BaseModel, ValidationError

from web.auth import api_member
from web.errors import problem
from web.pagination import PageArgumentError
from web.security import csrf

M = TypeVar("M", bound=BaseModel)

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(api_bp)


class BodyInvalid(Exception):
    def __init__(self, errors: list[dict]) -> None:
        super().__init__("invalid body")
        self.errors = errors


def _pydantic_message(err: dict) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return gettext("This field is required.")
    if kind in ("string_too_long", "too_long"):
        return gettext("At most %(n)s characters.", n=ctx.get("max_length", ""))
    if kind in ("string_too_short", "too_short"):
        return gettext("At least %(n)s characters.", n=ctx.get("min_length", ""))
    if kind.startswith("decimal") or kind.startswith("int") or kind.startswith("float"):
        return gettext("Enter a number.")
    if kind in ("greater_than", "greater_than_equal"):
        return gettext("The value must be at least %(n)s.", n=ctx.get("ge", ctx.get("gt", "")))
    if kind in ("less_than", "less_than_equal"):
        return gettext("The value must be at most %(n)s.", n=ctx.get("le", ctx.get("lt", "")))
    if kind == "extra_forbidden":
        return gettext("Unknown field.")
    if kind in ("literal_error", "enum"):
        return gettext("Choose one of the allowed values.")
    if kind.startswith("string") or kind == "str_type":
        return gettext("Enter text.")
    return gettext("This value is not valid.")


def parse_body(model: type[M]) -> M:
    """The JSON body validated by a pydantic model, or BodyInvalid with field errors."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BodyInvalid([{"field": None, "message": gettext("Send a JSON object.")}])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BodyInvalid(
            [
                {
                    "field": ".".join(str(p) for p in e["loc"]) or None,
                    "message": _pydantic_message(e),
                }
                for e in exc.errors()
            ]
        ) from None


def token_required(view: Callable) -> Callable:
    """The caller must send a valid bearer token."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        caller = api_member()
        if caller is None:
            response = problem(
                401,
                gettext("Authentication required"),
                gettext("Send a valid token as 'Authorization: Bearer <token>'."),
            )
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        g.caller = caller
        return view(*args, **kwargs)

    return wrapped


@api_bp.errorhandler(BodyInvalid)
def _body_invalid(error: BodyInvalid):
    return problem(422, gettext("The input is not valid"), error.errors[0]["message"], error.errors)


@api_bp.errorhandler(PageArgumentError)
def _page_invalid(error: PageArgumentError):
    return problem(400, gettext("Bad request"), gettext("Use page ≥ 1 and 1 ≤ per_page ≤ 100."))


from web.api import market, matching, openapi, participants, quality  # noqa: E402,F401
