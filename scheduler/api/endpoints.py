"""Foundation endpoints: who am I, and the OpenAPI document."""

from __future__ import annotations

from flask import current_app, jsonify

from . import _PATHS, api_route, current_api_user


def user_json(user) -> dict:
    return {
        "email": user.email,
        "name": user.name,
        "roles": user.roles,
        "units": [{"code": u.code, "name": u.localized_name(user.language), "kind": u.kind} for u in user.units],
        "language": user.language,
    }


ME_SCHEMA = {
    "type": "object",
    "properties": {
        "email": {"type": "string"},
        "name": {"type": "string"},
        "roles": {"type": "array", "items": {"type": "string"}},
        "units": {"type": "array", "items": {"type": "object"}},
        "language": {"type": "string", "enum": ["fi", "sv", "en"]},
    },
    "required": ["email", "name", "roles", "units", "language"],
}


@api_route("/me", summary="The signed-in user", response_schema=ME_SCHEMA)
def me():
    return jsonify(user_json(current_api_user()))


@api_route("/openapi.json", summary="This document")
def openapi():
    return jsonify(
        {
            "openapi": "3.1.0",
            "info": {"title": "Konsultaatio- ja asiantuntijatyöryhmäpalvelu API", "version": "1"},
            "servers": [{"url": current_app.config["BASE_URL"]}],
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "paths": _PATHS,
        }
    )
