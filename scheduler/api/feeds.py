"""/api/v1 endpoints for feeds: thin, calling scheduler.feeds.services."""

from __future__ import annotations

from flask import jsonify
from pydantic import Field

from ..extensions import db
from ..feeds.services import feed_urls, reset_feed_token, webcal
from . import api_route, current_api_user
from .schema import ResponseModel


class UnitFeed(ResponseModel):
    code: str
    name: str
    url: str


class PanelFeed(ResponseModel):
    id: int
    name: str
    url: str


class FeedsOut(ResponseModel):
    personal: str = Field(description="The private personal feed (https).")
    personal_webcal: str = Field(description="The same as a webcal:// address.")
    units: list[UnitFeed] = Field(description="Unit feeds of published consultation hours.")
    panels: list[PanelFeed] = Field(description="Panel feeds of session dates.")


def _feeds_json(user, token=None) -> dict:
    urls = feed_urls(user, token)
    return {"personal": urls["personal"], "personal_webcal": webcal(urls["personal"]),
            "units": urls["units"], "panels": urls["panels"]}


@api_route("/me/feeds", summary="My calendar subscription addresses", response=FeedsOut)
def my_feeds():
    data = _feeds_json(current_api_user())
    db.session.commit()
    return jsonify(data)


@api_route("/me/feeds/reset", methods=("POST",), summary="Replace my calendar addresses (the old ones stop working)",
           response=FeedsOut)
def reset_my_feeds():
    user = current_api_user()
    token = reset_feed_token(user)
    data = _feeds_json(user, token)
    db.session.commit()
    return jsonify(data)
