"""The OpenAPI 3.1 document, built from what each endpoint declares in code.

Each API view is decorated with `@operation(...)`: its summary, its body and query models,
its responses (status → pydantic model) and the error statuses it may answer. The decorator
also does the work it declares — authenticates the bearer token, validates the query string
and the JSON body (strictly) and renders the returned model — so the document and the
behaviour cannot drift apart. Common statuses are added where they apply: 401 for
authenticated endpoints, 400 where a query string is validated, 422 and 413 where a body is
read, 404 where the path names a record.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Generic, TypeVar

from apispec import APISpec
from flask import current_app, g, jsonify
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from web.api import api_bp
from web.db import get_db
from web.validation import parse_json_body, parse_query

T = TypeVar("T")


class ProblemField(BaseModel):
    field: str | None = Field(description="the input field, dotted for nested fields")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details (application/problem+json), in the caller's language."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[ProblemField] | None = None


class Page(BaseModel, Generic[T]):
    """One page of a list: ?page=1&per_page=25 (at most 100)."""

    items: list[T]
    page: int
    per_page: int
    total: int
    total_exact: bool = Field(
        default=True,
        description="false when `total` is a lower bound: a search stops counting at 1,000 "
        "matches (pages past it are still served and counted exactly)",
    )
    next: str | None = Field(description="URL of the next page")
    prev: str | None = Field(description="URL of the previous page")


ERROR_DESCRIPTIONS = {
    400: "Bad request",
    401: "Authentication required: send a valid, unexpired bearer token",
    403: "The caller's organisation, role or verification does not allow this",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with the record's current state",
    413: "The body is too large",
    422: "The input is not valid (field errors in `errors`)",
    429: "Too many attempts; try again later",
}


@dataclass
class Operation:
    summary: str
    description: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    responses: dict[int, Any]
    errors: tuple[int, ...]
    auth: bool
    tags: list[str] = field(default_factory=list)
    upload: type[BaseModel] | None = None  # a multipart/form-data body (files)

    def statuses(self, has_path_params: bool) -> list[int]:
        extra = set(self.errors)
        if self.auth:
            extra.add(401)
        if self.query is not None:
            extra.add(400)
        if self.body is not None or self.upload is not None:
            extra.update((413, 422))
        if has_path_params:
            extra.add(404)
        return sorted(extra - set(self.responses))


def _unauthenticated():
    from web.auth import unauthenticated_problem  # says when the token has expired

    return unauthenticated_problem()


def _render(result: Any) -> Any:
    status = None
    if isinstance(result, tuple):
        result, status = result
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json")
    return (result, status) if status is not None else result


def operation(
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    responses: dict[int, Any] | None = None,
    errors: tuple[int, ...] = (),
    auth: bool = True,
    tag: str | None = None,
    upload: type[BaseModel] | None = None,
) -> Callable:
    """Declare an API endpoint: what it takes, what it answers; the wrapper enforces it.

    The view receives `body=` and `query=` (validated models) as keyword arguments when
    declared, reads the caller from `g.caller`, and returns a model, a dict, or (value, status).
    A successful call commits the request's session; an error rolls it back.
    `upload` declares a multipart/form-data body instead of JSON (its model's `bytes` fields
    are files): the view reads and validates it itself.
    """

    def decorator(view: Callable) -> Callable:
        op = Operation(
            summary=summary,
            description=(view.__doc__ or "").strip(),
            body=body,
            query=query,
            responses=responses or {200: None},
            errors=tuple(errors),
            auth=auth,
            tags=[tag] if tag else [],
            upload=upload,
        )

        @wraps(view)
        def wrapped(**kwargs):
            from web.auth import api_member

            if auth:
                caller = api_member()
                if caller is None:
                    return _unauthenticated()
                g.caller = caller
            if query is not None:
                kwargs["query"] = parse_query(query)
            if body is not None:
                kwargs["body"] = parse_json_body(body)
            result = _render(view(**kwargs))
            get_db().commit()
            return result

        wrapped.openapi = op
        return wrapped

    return decorator


# ---------------------------------------------------------------------------------------------
# The document


def _component_name(model: type[BaseModel]) -> str:
    return model.__name__.replace("[", "_").replace("]", "_").replace(",", "_").replace(" ", "")


def _path_param(arg: str, converter: str) -> dict:
    if converter == "int":
        schema = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
    else:
        schema = {"type": "string", "minLength": 1, "maxLength": 64}
    return {"name": arg, "in": "path", "required": True, "schema": schema}


def _query_params(model: type[BaseModel]) -> list[dict]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        prop.pop("default", None)
        # A query value is a single string on the wire; optional values are simply left out.
        if "anyOf" in prop:
            variants = [v for v in prop["anyOf"] if v.get("type") != "null"]
            if len(variants) == 1:
                prop = {**{k: v for k, v in prop.items() if k != "anyOf"}, **variants[0]}
        param = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            param["description"] = description
        params.append(param)
    return params


def _json(schema_ref: dict, content_type: str = "application/json") -> dict:
    return {content_type: {"schema": schema_ref}}


def build_spec() -> dict:
    spec = APISpec(
        title="Junkan API",
        version="1.0.0",
        openapi_version="3.1.0",
        info={
            "description": (
                "Marketplace for recycled metals and plastics. Tonnes are decimal strings with"
                " kilogram precision, money integer yen, months YYYY-MM. Errors are RFC 9457"
                " problem details."
            )
        },
        servers=[{"url": "/api/v1"}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    operations: list[tuple[str, str, Operation, list[dict]]] = []
    models: dict[tuple[type[BaseModel], str], None] = {}
    for rule in current_app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        view = current_app.view_functions[rule.endpoint]
        op: Operation | None = getattr(view, "openapi", None)
        if op is None:
            continue
        path = rule.rule.removeprefix("/api/v1")
        params = []
        for converter, arg in _rule_arguments(rule):
            path = _VARIABLE.sub(lambda m: "{" + m[2] + "}", path)
            params.append(_path_param(arg, converter))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operations.append((path, method.lower(), op, params))
        if op.body is not None:
            models[(op.body, "validation")] = None
        if op.upload is not None:
            models[(op.upload, "validation")] = None
        for model in op.responses.values():
            if isinstance(model, type) and issubclass(model, BaseModel):
                models[(model, "serialization")] = None
    models[(Problem, "serialization")] = None
    keys = list(models)
    refs, defs = models_json_schema(keys, ref_template="#/components/schemas/{model}")
    for name, schema in sorted(defs.get("$defs", {}).items()):
        spec.components.schema(name, schema)
    problem_ref = refs[(Problem, "serialization")]
    paths: dict[str, dict] = {}
    for path, method, op, params in operations:
        has_path_params = bool(params)
        item: dict = {"summary": op.summary, "operationId": _operation_id(method, path)}
        if op.description:
            item["description"] = op.description
        if op.tags:
            item["tags"] = op.tags
        if op.auth:
            item["security"] = [{"bearer": []}]
        parameters = list(params) + (_query_params(op.query) if op.query else [])
        if parameters:
            item["parameters"] = parameters
        if op.body is not None:
            item["requestBody"] = {
                "required": True,
                "content": _json(refs[(op.body, "validation")]),
            }
        if op.upload is not None:
            item["requestBody"] = {
                "required": True,
                "content": _json(refs[(op.upload, "validation")], "multipart/form-data"),
            }
        responses: dict[str, dict] = {}
        for status, model in sorted(op.responses.items()):
            if isinstance(model, type) and issubclass(model, BaseModel):
                description = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""
                responses[str(status)] = {
                    "description": description or "OK",
                    "content": _json(refs[(model, "serialization")]),
                }
            elif isinstance(model, str):
                responses[str(status)] = {"description": model}
            else:
                responses[str(status)] = {"description": "OK" if status < 300 else "Done"}
        for status in op.statuses(has_path_params):
            responses[str(status)] = {
                "description": ERROR_DESCRIPTIONS.get(status, "Error"),
                "content": _json(problem_ref, "application/problem+json"),
            }
        item["responses"] = responses
        paths.setdefault(path, {})[method] = item
    for path, item in sorted(paths.items()):
        spec.path(path=path, operations=item)
    return spec.to_dict()


_VARIABLE = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _rule_arguments(rule) -> list[tuple[str, str]]:
    """(converter, name) for each variable of a URL rule, in order ("" for the default)."""
    return _VARIABLE.findall(rule.rule)


def _operation_id(method: str, path: str) -> str:
    words = [p.strip("{}") for p in path.strip("/").replace("-", "_").split("/") if p]
    return "_".join([method, *words])


@api_bp.get("/openapi.json")
def openapi_document():
    return jsonify(build_spec())
