"""Pages that belong to no domain (home, language switch, accessibility statement, health check)
and the one place where errors become answers (`register_errors`)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from ..extensions import db
from .errors import DomainError, Forbidden, NotFound
from .hygiene import text_problem
from .i18n import LANGUAGE_CHOICES
from .nav import nav_for_current_user

log = logging.getLogger(__name__)

bp = Blueprint("core", __name__)


def safe_next(target: str | None, fallback: str = "/") -> str:
    """Only same-site relative paths: never redirect to another host."""
    if not target or len(target) > 2000 or text_problem(target) or any(c in target for c in "\r\n\t"):
        return fallback  # (a newline would split the Location header; a control character has no place)
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    return target


def same_site_path(url: str | None) -> str | None:
    """The path (and query) of url if it points into this site, else None (a Referer is a full URL)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc and (parts.scheme not in ("http", "https") or parts.netloc != request.host):
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return safe_next(path, "") or None


@bp.route("/")
@login_required
def home():
    items = nav_for_current_user()
    return render_template("core/home.html", items=items,
                           can_book=any(i.endpoint == "consultations.find" for i in items))


@bp.route("/language", methods=["POST"])
def set_language():
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
        if current_user.is_authenticated:
            current_user.language = lang
            db.session.commit()
    return redirect(safe_next(request.form.get("next"), url_for("core.home")))


@bp.route("/accessibility")
def accessibility():
    return render_template("core/accessibility.html")


@bp.route("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except Exception as exc:  # any failure to answer means unhealthy
        current_app.logger.warning("health check: database did not answer: %s", type(exc).__name__)
        db.session.rollback()
        return jsonify(status="unavailable", database="down"), 503
    return jsonify(status="ok", database="ok", dialect=db.engine.dialect.name)


def inject_globals():
    loc = get_locale()
    return {
        "current_lang": loc.language if loc else "fi",
        "get_locale": get_locale,
        "language_choices": LANGUAGE_CHOICES,
        "nav_items": nav_for_current_user(),
    }


# --- errors: one handler for the pages ------------------------------------------------------------

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "too_large", 422: "validation_failed", 429: "too_many_requests",
          503: "unavailable"}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def render_error(status: int, message: str):
    if _wants_json():
        return jsonify(error={"code": _CODES.get(status, "server_error"), "message": message, "fields": {}}), status
    return render_template("core/error.html", status=status, message=message), status


def _gettable(path: str) -> bool:
    adapter = current_app.url_map.bind(request.host, script_name=request.script_root or None)
    try:
        adapter.match(urlsplit(path).path, method="GET")
    except HTTPException:
        return False
    return True


def back_path() -> str:
    """Where a refused form post goes back to: the page it came from (a same-site Referer), else the
    nearest address above the post's own that is a page (…/cases/5/withdraw → …/cases/5), else home."""
    came_from = same_site_path(request.referrer)
    if came_from:
        return came_from
    path = request.path.rstrip("/")
    while path:
        if _gettable(path) or _gettable(path + "/"):
            return path if _gettable(path) else path + "/"
        path = path.rsplit("/", 1)[0]
    return url_for("core.home")


def domain_error_answer(exc: DomainError):
    """A service refused: nothing of the request is kept. A missing or forbidden object is its 404/403
    page; any other refusal of a form post is a message on the page the person came from (post →
    redirect → get); of a GET, a page with the refusal's status."""
    db.session.rollback()
    if _wants_json():
        return jsonify(error={"code": exc.code, "message": exc.message, "fields": exc.fields}), exc.status
    if request.method == "POST" and not isinstance(exc, NotFound | Forbidden):
        flash(" ".join([exc.message, *exc.fields.values()]), "error")
        return redirect(back_path())
    return render_template("core/error.html", status=exc.status, message=exc.message), exc.status


def refuse_unprintable_address():
    """A page address whose parts (path or query) hold a NUL, a control character or a broken
    character is a 400 before any view runs: no query is sent with it (PostgreSQL refuses a NUL
    even in a WHERE clause). The API checks its own input."""
    if request.path.startswith("/api/"):
        return None
    parts = [*(v for v in (request.view_args or {}).values() if isinstance(v, str))]
    for key, values in request.args.lists():
        parts.append(key)
        parts.extend(values)
    if any(text_problem(p) for p in parts):
        return render_error(400, str(_l("The request could not be understood.")))
    return None


def register_errors(app, *, outside_faults: tuple[type[BaseException], ...] = ()) -> None:
    """Every error answer of the app. `outside_faults`: exceptions of the outside world (Microsoft,
    the mail server, the network) that reach a request: 503 with a message, never a 500."""

    app.before_request(refuse_unprintable_address)

    app.register_error_handler(DomainError, domain_error_answer)

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return render_error(400, str(_l("The form had expired. Please try again.")))

    for status, message in (
        (400, _l("The request could not be understood.")),
        (403, _l("You do not have access to this page.")),
        (404, _l("The page was not found.")),
        (405, _l("This action is not allowed here.")),
        (413, _l("The file is too large.")),
    ):
        app.register_error_handler(status, lambda exc, status=status, message=message: render_error(status, str(message)))

    def outside_fault(exc):
        db.session.rollback()
        log.warning("an outside service failed during %s %s: %s", request.method, request.path, type(exc).__name__)
        return render_error(503, str(_l("A service we depend on (e-mail or Microsoft 365) is not answering "
                                       "right now. Nothing was saved. Please try again in a moment.")))

    for fault in outside_faults:
        app.register_error_handler(fault, outside_fault)

    @app.errorhandler(500)
    def server_error(exc):
        db.session.rollback()
        return render_error(500, str(_l("Something went wrong on our side. Nothing was saved. Please try again.")))
