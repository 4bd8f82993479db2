"""Logs a hosting team can ship, and a request id on every request.

- Request id: taken from the `REQUEST_ID_HEADER` (default X-Request-ID) only when a trusted proxy
  sets it (TRUSTED_PROXY_COUNT > 0) and it looks like an id (1–128 of A–Z a–z 0–9 . _ -);
  otherwise generated. Returned in the same response header and put on every log line of the request.
- `LOG_FORMAT=json`: one JSON object per line on standard error with time, level, logger, message,
  request_id, user_id, method, route (the URL rule, e.g. `/feeds/<token>.ics`, never the address
  itself), status and duration_ms; plus one access line per request from the logger
  `scheduler.access`. Feed tokens and bearer tokens are replaced by `[redacted]`, as in text logs.
  Nothing of a case is logged: the app's log messages carry ids and kinds, not content.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request
from sqlalchemy import inspect as sa_inspect

from ..feeds.logs import redact as redact_feed_tokens

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
_FIELDS = ("request_id", "user_id", "method", "route", "status", "duration_ms")
access_log = logging.getLogger("scheduler.access")


def redact(text: str) -> str:
    return _BEARER.sub(r"\1[redacted]", redact_feed_tokens(text))


def current_request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


class RequestContextFilter(logging.Filter):
    """Adds the request id, user id and route to records made during a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = getattr(record, "request_id", None) or g.get("request_id")
            # only a user already loaded (Flask-Login's, or the API token's): no query from a log call
            user = g.get("_login_user") or g.get("api_user")
            if getattr(record, "user_id", None) is None and user is not None and getattr(user, "is_authenticated", False):
                record.user_id = _id_without_query(user)
            if getattr(record, "route", None) is None:
                record.route = request.url_rule.rule if request.url_rule else None
                record.method = request.method
        return True


def _id_without_query(user) -> int | None:
    """The user's id as the session knows it. Reading `user.id` on an instance expired by a commit
    would refresh it with a query from inside a log call, re-entering the session while SQLAlchemy
    itself is logging (with the engine's logger at INFO every such request failed)."""
    state = sa_inspect(user, raiseerr=False)
    if state is None:
        return getattr(user, "id", None)
    return state.identity[0] if state.identity else None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


def install(app: Flask) -> None:
    """The request id for every request; JSON formatting of every log line when LOG_FORMAT=json."""
    header = app.config.get("REQUEST_ID_HEADER") or "X-Request-ID"
    json_logs = app.config.get("LOG_FORMAT") == "json"

    @app.before_request
    def _request_id():
        g.request_started = time.perf_counter()
        given = request.headers.get(header, "") if app.config.get("TRUSTED_PROXY_COUNT") else ""
        g.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex

    @app.after_request
    def _request_id_header(response):
        rid = g.get("request_id")
        if rid:
            response.headers[header] = rid
        if json_logs:
            started = g.get("request_started")
            duration = round((time.perf_counter() - started) * 1000, 1) if started else None
            access_log.info("%s %s %s", request.method, request.url_rule.rule if request.url_rule else "-",
                            response.status_code, extra={"status": response.status_code, "duration_ms": duration})
        return response

    root = logging.getLogger()
    flt = RequestContextFilter()
    if json_logs:
        if not root.handlers:
            root.addHandler(logging.StreamHandler())
        for handler in root.handlers:
            handler.setFormatter(JsonFormatter())
    for handler in root.handlers:
        if not any(isinstance(f, RequestContextFilter) for f in handler.filters):
            handler.addFilter(flt)
    if json_logs:
        # Werkzeug's own request lines repeat our access line (and are not JSON-shaped text)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
