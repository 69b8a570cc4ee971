"""OpenAPI 3 document built by apispec from the API views' YAML docstrings and pydantic models."""

from typing import TypeVar

from apispec import APISpec
from apispec.yaml_utils import load_operations_from_docstring
from flask import current_app, jsonify
from pydantic import BaseModel

from web.api import api_bp

M = TypeVar("M", bound=BaseModel)

SCHEMAS: dict[str, type[BaseModel]] = {}


def schema(model: type[M]) -> type[M]:
    """Register a pydantic model as a component schema of the document."""
    SCHEMAS[model.__name__] = model
    return model


PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def build_spec() -> dict:
    spec = APISpec(
        title="Junkan API",
        version="1.0.0",
        openapi_version="3.1.0",
        info={"description": "Marketplace for recycled metals and plastics."},
        servers=[{"url": "/api/v1"}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", PROBLEM)
    for name, model in sorted(SCHEMAS.items()):
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for sub_name, sub in body.pop("$defs", {}).items():
            if sub_name not in spec.components.schemas:
                spec.components.schema(sub_name, sub)
        if name not in spec.components.schemas:
            spec.components.schema(name, body)
    for rule in current_app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or rule.endpoint == "api.openapi_document":
            continue
        view = current_app.view_functions[rule.endpoint]
        operations = load_operations_from_docstring(view.__doc__ or "")
        if not operations:
            continue
        path = rule.rule.removeprefix("/api/v1")
        for arg in rule.arguments:
            path = path.replace(f"<int:{arg}>", f"{{{arg}}}").replace(f"<{arg}>", f"{{{arg}}}")
        spec.path(path=path, operations=operations)
    return spec.to_dict()


@api_bp.get("/openapi.json")
def openapi_document():
    return jsonify(build_spec())
