"""The OpenAPI 3.1 document, assembled from the routes' pydantic models (never written by hand)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from .schema import DB_INT_MAX, ApiModel, ResponseModel


@dataclass(frozen=True)
class Route:
    rule: str
    methods: tuple[str, ...]
    name: str
    summary: str
    body: type[ApiModel] | None
    query: type[ApiModel] | None
    response: type[ResponseModel] | None
    status: int


ROUTES: list[Route] = []  # filled by api_route as the endpoint modules are imported

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "required": ["code", "message", "fields"],
        }
    },
    "required": ["error"],
}
REF = "#/components/schemas/{model}"


def _path_parameters(rule: str) -> list[dict]:
    params = []
    for converter, name in re.findall(r"<(?:(\w+):)?(\w+)>", rule):
        schema: dict[str, Any] = {"type": "string"}
        if converter == "int":  # the app's int converter stops at the largest database INTEGER
            schema = {"type": "integer", "minimum": 1, "maximum": DB_INT_MAX}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _query_parameters(model: type[ApiModel]) -> list[dict]:
    schema = model.model_json_schema(by_alias=True, ref_template=REF)
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        # a query string has no null: an optional parameter is simply left out
        branches = [b for b in prop.get("anyOf", []) if b.get("type") != "null"]
        value = dict(branches[0]) if len(branches) == 1 else {k: v for k, v in prop.items() if k != "default"}
        value.pop("title", None)
        params.append({"name": name, "in": "query", "required": name in required, "schema": value})
    return params


@cache
def build_document() -> dict:
    models: list[tuple[Any, Any]] = []
    for r in ROUTES:
        if r.body is not None:
            models.append((r.body, "validation"))
        if r.response is not None:
            models.append((r.response, "serialization"))
    refs, top = models_json_schema(list(dict.fromkeys(models)), ref_template=REF, by_alias=True)
    components = top.get("$defs", {})
    paths: dict[str, dict] = {}
    for r in ROUTES:
        oa_path = "/api/v1" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule)
        for method in r.methods:
            answer = refs[(r.response, "serialization")] if r.response is not None else {"type": "object"}
            op: dict[str, Any] = {
                "summary": r.summary,
                "operationId": f"{r.name}_{method.lower()}",
                "parameters": _path_parameters(r.rule) + (_query_parameters(r.query) if r.query else []),
                "responses": {
                    str(r.status): {"description": "OK", "content": {"application/json": {"schema": answer}}},
                    "default": {"description": "Error", "content": {"application/json": {"schema": ERROR_SCHEMA}}},
                },
            }
            if r.body is not None:
                required = bool(r.body.model_json_schema().get("required"))
                op["requestBody"] = {"required": required,
                                     "content": {"application/json": {"schema": refs[(r.body, "validation")]}}}
            if r.name != "openapi":
                op["security"] = [{"bearer": []}]
            paths.setdefault(oa_path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Konsultaatio- ja asiantuntijatyöryhmäpalvelu API", "version": "1"},
        "components": {"schemas": components, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    }
