"""Units, people, roles, expertise areas; sign-in and the user's profile."""


from __future__ import annotations

from flask import Flask

from ..jobs import register_retention
from .access_log import retention_step as access_log_retention
from .access_log_views import init_app as access_log_init
from .admin import init_app as admin_init
from .cli import unit_cli, user_cli
from .entra import init_app as entra_init
from .models import LANGUAGE_LABELS, ROLE_LABELS, UNIT_KIND_LABELS
from .views import bp, register_nav


def _labels() -> dict:
    return {"role_labels": ROLE_LABELS, "unit_kind_labels": UNIT_KIND_LABELS, "language_labels": LANGUAGE_LABELS}


def init_app(app: Flask) -> None:
    app.context_processor(_labels)
    app.register_blueprint(bp)
    app.cli.add_command(unit_cli)
    app.cli.add_command(user_cli)
    register_nav(app)
    admin_init(app)
    entra_init(app)
    access_log_init(app)
    register_retention(app, "access-log", access_log_retention,
                       {"access_log_entries": "access log entries deleted"})
