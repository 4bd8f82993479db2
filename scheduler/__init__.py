"""The application factory. Nothing is queried at import or start-up."""

from __future__ import annotations

import logging
import smtplib
from importlib import import_module
from pathlib import Path

import requests
from flask import Flask, session
from flask_babel import lazy_gettext as _l
from msal.exceptions import MsalError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from . import models  # noqa: F401  (complete metadata for Alembic)
from .api import bp as api_bp
from .cli import register_cli
from .config import instance_path, load_config
from .core import errorlog
from .core.i18n import select_locale, select_timezone
from .core.security import set_security_headers
from .core.timefmt import register_filters
from .core.views import bp as core_bp
from .core.views import inject_globals, register_errors
from .delivery.microsoft import GraphError, GraphTokenError
from .delivery.outbox import RetryLater
from .extensions import babel, csrf, db, login_manager, migrate
from .jobs import init_app as jobs_init
from .jobs.retention import init_app as retention_init
from .people.auth import resolve_session
from .people.models import User

ROOT = Path(__file__).resolve().parent.parent

# Each package exposes init_app(app): its blueprint, navigation, CLI, jobs, outbox handlers and signal
# receivers. Delivery first: the domains' notifications register on its outbox.
DOMAINS = ("delivery", "people", "consultations", "panels", "feeds", "ops")


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=instance_path(),
        template_folder=str(ROOT / "templates"),
        static_folder="static",
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(load_config(app.instance_path))
    if test_config:
        app.config.update(test_config)
    if app.config.get("TRUSTED_PROXY_COUNT"):
        # Behind a TLS-terminating proxy: take the client address (for the per-address sign-in
        # throttle and logs) and the scheme from that many X-Forwarded-* hops, no more.
        n = app.config["TRUSTED_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    logging.basicConfig(level=logging.INFO)

    _bound_int_ids(app)

    errorlog.init_app(app)  # before the engine exists: hide_parameters, safe error logs, DataError → 422

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), compare_type=True)
    csrf.init_app(app)


    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone,
                   default_translation_directories=str(Path(__file__).parent / "translations"))

    _init_login(app)
    _register_blueprints(app)
    _register_errors(app)


    app.after_request(set_security_headers)
    app.context_processor(inject_globals)
    register_filters(app)


    register_cli(app)
    return app


def _init_login(app: Flask) -> None:

    login_manager.init_app(app)
    login_manager.login_view = "people.sign_in"
    login_manager.login_message = _l("Sign in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # the server-side session is the protection

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        user = resolve_session(session.get("sid"))
        if user is None or str(user.id) != user_id:
            return None
        return user


def _bound_int_ids(app: Flask) -> None:
    """`<int:…>` in addresses stops at the largest database INTEGER: a larger id is not found (404)
    instead of overflowing SQLite or being refused by PostgreSQL (a 500)."""
    class DatabaseIntConverter(IntegerConverter):
        def __init__(self, url_map, *args, **kwargs):
            kwargs.setdefault("max", 2**31 - 1)
            super().__init__(url_map, *args, **kwargs)

    app.url_map.converters["int"] = DatabaseIntConverter


def _register_blueprints(app: Flask) -> None:

    app.register_blueprint(core_bp)
    jobs_init(app)  # the job list the packages fill
    for name in DOMAINS:
        import_module(f".{name}", __name__).init_app(app)
    retention_init(app)  # the daily job and `flask retention`, over the steps the packages registered
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # bearer tokens, no cookies


def _register_errors(app: Flask) -> None:

    # The outside world failing during a request (Microsoft's identity platform or Graph, the mail
    # server, the network): a "not answering right now" page (503), never a 500.
    register_errors(app, outside_faults=(GraphError, GraphTokenError, MsalError, requests.RequestException,
                                         smtplib.SMTPException, RetryLater, ConnectionError, TimeoutError))
