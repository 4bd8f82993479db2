"""/api/v1 endpoints for feeds: thin, calling scheduler.feeds.services."""

from __future__ import annotations

from flask import jsonify

from ..extensions import db
from . import api_route, current_api_user

_FEED_LIST = {"type": "array", "items": {"type": "object"}}
FEEDS_SCHEMA = {
    "type": "object",
    "properties": {
        "personal": {"type": "string", "format": "uri", "description": "The private personal feed (https)."},
        "personal_webcal": {"type": "string", "description": "The same as a webcal:// address."},
        "units": {**_FEED_LIST, "description": "Unit feeds of published consultation hours: code, name, url."},
        "panels": {**_FEED_LIST, "description": "Panel feeds of session dates: id, name, url."},
    },
    "required": ["personal", "personal_webcal", "units", "panels"],
}


def _feeds_json(user, token=None) -> dict:
    from ..feeds.services import feed_urls, webcal

    urls = feed_urls(user, token)
    return {"personal": urls["personal"], "personal_webcal": webcal(urls["personal"]),
            "units": urls["units"], "panels": urls["panels"]}


@api_route("/me/feeds", summary="My calendar subscription addresses", response_schema=FEEDS_SCHEMA)
def my_feeds():
    data = _feeds_json(current_api_user())
    db.session.commit()
    return jsonify(data)


@api_route("/me/feeds/reset", methods=("POST",), summary="Replace my calendar addresses (the old ones stop working)",
           response_schema=FEEDS_SCHEMA)
def reset_my_feeds():
    from ..feeds.services import reset_feed_token

    user = current_api_user()
    token = reset_feed_token(user)
    data = _feeds_json(user, token)
    db.session.commit()
    return jsonify(data)
