"""/api/v1: a thin JSON layer over the same services the pages use.

Authentication is `Authorization: Bearer <personal token>`. Errors are
`{"error": {"code", "message", "fields"}}`. Each endpoint is declared with `api_route`, which
also records it in the OpenAPI document served at /api/v1/openapi.json.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, g, jsonify, request
from flask_babel import lazy_gettext as _l

from ..core.errors import DomainError, ValidationFailed
from ..extensions import db

bp = Blueprint("api", __name__, url_prefix="/api/v1")

_PATHS: dict[str, dict[str, Any]] = {}
_PUBLIC_ENDPOINTS = {"api.openapi"}

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
}


def api_route(
    rule: str,
    methods: tuple[str, ...] = ("GET",),
    *,
    summary: str,
    request_schema: dict | None = None,
    response_schema: dict | None = None,
    status: int = 200,
    params: list[dict] | None = None,
) -> Callable:
    """Register an endpoint on the API blueprint and describe it in the OpenAPI document."""

    def decorator(fn: Callable) -> Callable:
        bp.add_url_rule(rule, view_func=fn, methods=list(methods))
        oa_path = "/api/v1" + rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
        path_params = [
            {"name": seg[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
            for seg in oa_path.split("/") if seg.startswith("{")
        ]
        for method in methods:
            op: dict[str, Any] = {
                "summary": summary,
                "operationId": f"{fn.__name__}_{method.lower()}",
                "parameters": path_params + (params or []),
                "responses": {
                    str(status): {
                        "description": "OK",
                        "content": {"application/json": {"schema": response_schema or {"type": "object"}}},
                    },
                    "default": {"description": "Error", "content": {"application/json": {"schema": ERROR_SCHEMA}}},
                },
            }
            if request_schema and method in {"POST", "PUT", "PATCH"}:
                op["requestBody"] = {"required": True, "content": {"application/json": {"schema": request_schema}}}
            if fn.__name__ != "openapi":
                op["security"] = [{"bearer": []}]
            _PATHS.setdefault(oa_path, {})[method.lower()] = op
        return fn

    return decorator


def error_response(status: int, code: str, message: str, fields: dict | None = None):
    return jsonify(error={"code": code, "message": message, "fields": fields or {}}), status


@bp.before_request
def authenticate():
    from ..people.auth import user_for_api_token

    if request.endpoint in _PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    user = user_for_api_token(raw.strip()) if scheme.lower() == "bearer" and raw.strip() else None
    if user is None:
        resp = error_response(401, "unauthorized", str(_l("A valid API token is required (Authorization: Bearer …).")))
        resp[0].headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return resp
    g.api_user = user
    return None


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError):
    db.session.rollback()
    return error_response(exc.status, exc.code, exc.message, exc.fields)


def json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationFailed(str(_l("The request body must be a JSON object.")), code="bad_request")
    return data


def current_api_user():
    return g.api_user


from . import endpoints  # noqa: E402,F401  (registers the routes)
from . import consultations  # noqa: E402,F401
from . import panels  # noqa: E402,F401
from . import feeds  # noqa: E402,F401
from . import access_log  # noqa: E402,F401
