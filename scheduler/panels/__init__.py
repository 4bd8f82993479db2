"""The multidisciplinary expert panel: panels, sessions, case submissions, agendas, experts, statements."""

from __future__ import annotations

from flask import Flask

from ..core.signals import teams_meeting_ready
from ..jobs import register_job, register_retention
from . import notifications, retention
from .cli import panels_cli
from .services import on_teams_meeting_ready, top_up_sessions
from .views import bp, register_nav


def init_app(app: Flask) -> None:
    """Register this domain's blueprint, navigation, CLI commands, jobs and signal receivers."""
    app.register_blueprint(bp)
    register_nav(app)
    app.cli.add_command(panels_cli)
    teams_meeting_ready.connect(on_teams_meeting_ready)
    notifications.init_app(app)
    # keep every active panel's sessions materialised to the horizon (idempotent, daily at 03.15;
    # `flask panels top-up` does the same by hand)
    register_job(app, "panel-sessions-top-up", top_up_sessions, {"trigger": "cron", "hour": 3, "minute": 15})
    register_retention(app, "panels", retention.retention_step, retention.LABELS)
