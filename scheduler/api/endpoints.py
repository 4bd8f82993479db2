"""Foundation endpoints: who am I, and the OpenAPI document."""

from __future__ import annotations

from typing import Literal

from flask import current_app, jsonify

from . import api_route, current_api_user
from .openapi import build_document
from .schema import ResponseModel


class UnitOut(ResponseModel):
    code: str
    name: str
    kind: str


class MeOut(ResponseModel):
    email: str
    name: str
    roles: list[str]
    units: list[UnitOut]
    language: Literal["fi", "sv", "en"]


def user_json(user) -> dict:
    return {
        "email": user.email,
        "name": user.name,
        "roles": user.roles,
        "units": [{"code": u.code, "name": u.localized_name(user.language), "kind": u.kind} for u in user.units],
        "language": user.language,
    }


@api_route("/me", summary="The signed-in user", response=MeOut)
def me():
    return jsonify(user_json(current_api_user()))


@api_route("/openapi.json", summary="This document")
def openapi():
    return jsonify({**build_document(), "servers": [{"url": current_app.config["BASE_URL"]}]})
