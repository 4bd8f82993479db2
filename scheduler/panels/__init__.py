"""The multidisciplinary expert panel: panels, sessions, case submissions, agendas, experts, statements."""

from __future__ import annotations

import os

from flask import Flask

from ..core.signals import teams_meeting_ready
from ..jobs import register_job
from . import notifications
from .cli import panels_cli
from .services import on_teams_meeting_ready, top_up_sessions
from .views import bp, register_nav


def init_app(app: Flask) -> None:
    """Register this domain's blueprint, navigation, CLI commands, jobs and signal receivers."""
    # PANEL_HORIZON_MONTHS: how far ahead sessions are materialised (default 12 months)
    raw = os.environ.get("PANEL_HORIZON_MONTHS", "")
    app.config.setdefault("PANEL_HORIZON_MONTHS", int(raw) if raw.isdigit() and 1 <= int(raw) <= 60 else 12)
    app.register_blueprint(bp)
    register_nav(app)
    app.cli.add_command(panels_cli)
    teams_meeting_ready.connect(on_teams_meeting_ready)
    notifications.init_app(app)
    # keep every active panel's sessions materialised to the horizon (idempotent, daily at 03.15;
    # `flask panels top-up` does the same by hand)
    register_job(app, "panel-sessions-top-up", top_up_sessions, {"trigger": "cron", "hour": 3, "minute": 15})
