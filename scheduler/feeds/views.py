"""Feed addresses (read by calendar apps, no cookies: the secret token is the key) and the
profile section's reset button."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..core.transactions import run_atomically
from ..extensions import db
from . import services
from .services import BuiltFeed

bp = Blueprint("feeds", __name__, url_prefix="/feeds")

CONTENT_TYPE = "text/calendar; charset=utf-8"
CACHE_CONTROL = "private, max-age=0, must-revalidate"


def _matches(etag: str) -> bool:
    """If-None-Match names this content, in either encoding (or `*`)."""
    inm = request.if_none_match
    return bool(inm) and (inm.contains(etag) or inm.contains(etag + "-gzip"))


def feed_response(feed: BuiltFeed) -> Response:
    wants_gzip = request.accept_encodings["gzip"] > 0
    etag = feed.etag + ("-gzip" if wants_gzip else "")
    headers = {"Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding"}
    if _matches(feed.etag):
        resp = Response(status=304, headers=headers)
        resp.set_etag(etag)
        return resp
    body = feed.body
    if wants_gzip:
        body = feed.gzipped()
        headers["Content-Encoding"] = "gzip"
    resp = Response(body, status=200, headers=headers, content_type=CONTENT_TYPE)
    resp.set_etag(etag)
    resp.headers["Content-Disposition"] = 'inline; filename="calendar.ics"'
    return resp


def _user(token: str):
    user = services.user_for_feed_token(token)
    if user is None:
        abort(404)
    return user


def _serve(build) -> Response:
    feed = build()  # NotFound → 404 (the application's error handler)
    db.session.commit()  # the render cache and the hourly last-used stamp
    return feed_response(feed)


@bp.route("/<token>.ics", methods=["GET"])
def personal(token: str):
    feed = services.personal_feed_for_token(token)
    if feed is None:
        abort(404)
    db.session.commit()  # the render cache and the hourly last-used stamp
    return feed_response(feed)


@bp.route("/<token>/units/<code>.ics", methods=["GET"])
def unit(token: str, code: str):
    user = _user(token)
    return _serve(lambda: services.unit_feed(user, code))


@bp.route("/<token>/panels/<int:panel_id>.ics", methods=["GET"])
def panel(token: str, panel_id: int):
    user = _user(token)
    return _serve(lambda: services.panel_feed(user, panel_id))


@bp.route("/reset", methods=["POST"])
@login_required
def reset():
    run_atomically(lambda: services.reset_feed_token(current_user))
    flash(_l("Your calendar address was replaced. The old address no longer works: subscribe again in your "
             "calendar apps with the new one."), "success")
    return redirect(url_for("people.profile") + "#feeds")
