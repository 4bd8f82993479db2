"""/api/v1: a thin JSON layer over the same services the pages use.

Authentication is `Authorization: Bearer <personal token>`. Errors are
`{"error": {"code", "message", "fields"}}`. Each endpoint is declared with `api_route`, naming the
pydantic models (scheduler/api/schema.py) of its body, query string and answer: the route
validates the request with them before the endpoint runs, and the OpenAPI document served at
/api/v1/openapi.json is assembled from the same models.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import flask_babel
from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import lazy_gettext as _l

from ..core.errors import DomainError
from ..extensions import db
from ..people.auth import user_for_api_token
from .openapi import ROUTES, Route
from .schema import DB_INT_MAX, MAX_BODY_BYTES, ApiModel, ResponseModel, read_body, read_query

bp = Blueprint("api", __name__, url_prefix="/api/v1")

_PUBLIC_ENDPOINTS = {"api.openapi"}


def api_route(
    rule: str,
    methods: tuple[str, ...] = ("GET",),
    *,
    summary: str,
    body: type[ApiModel] | None = None,
    query: type[ApiModel] | None = None,
    response: type[ResponseModel] | None = None,
    status: int = 200,
) -> Callable:
    """Register an endpoint on the API blueprint. With `body`/`query`, the endpoint receives the
    checked model as the keyword argument of that name; a request that does not fit is a 422."""

    def decorator(fn: Callable) -> Callable:
        @wraps(fn)
        def view(**kwargs: Any):
            if body is not None:
                kwargs["body"] = read_body(body)
            if query is not None:
                kwargs["query"] = read_query(query)
            return fn(**kwargs)

        bp.add_url_rule(rule, endpoint=fn.__name__, view_func=view, methods=list(methods))
        ROUTES.append(Route(rule, tuple(methods), fn.__name__, summary, body, query, response, status))
        return view

    return decorator


def error_response(status: int, code: str, message: str, fields: dict | None = None):
    return jsonify(error={"code": code, "message": message, "fields": fields or {}}), status


@bp.before_request
def authenticate():
    # Smaller than the pages' limit: no API body needs more, and nothing is read before this.
    request.max_content_length = current_app.config.get("API_MAX_CONTENT_LENGTH", MAX_BODY_BYTES)
    if request.endpoint in _PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    raw = raw.strip()
    user = user_for_api_token(raw) if scheme.lower() == "bearer" and raw and len(raw) <= 200 else None
    if user is None:
        resp = error_response(401, "unauthorized", str(_l("A valid API token is required (Authorization: Bearer …).")))
        resp[0].headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return resp
    g.api_user = user
    flask_babel.refresh()  # messages from here on in the token owner's language
    return None


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError):
    db.session.rollback()
    return error_response(exc.status, exc.code, exc.message, exc.fields)


def current_api_user():
    return g.api_user


__all__ = ["DB_INT_MAX", "ROUTES", "api_route", "bp", "current_api_user", "error_response"]

from . import endpoints  # noqa: E402,F401  (registers the routes)
from . import consultations  # noqa: E402,F401
from . import panels  # noqa: E402,F401
from . import feeds  # noqa: E402,F401
from . import access_log  # noqa: E402,F401
