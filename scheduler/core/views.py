"""Pages that belong to no domain: home, language switch, accessibility statement, health check."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_login import current_user, login_required
from sqlalchemy import text

from ..extensions import db
from .i18n import LANGUAGE_CHOICES
from .nav import nav_for_current_user

bp = Blueprint("core", __name__)


def safe_next(target: str | None, fallback: str = "/") -> str:
    """Only same-site relative paths: never redirect to another host."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    return target


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
