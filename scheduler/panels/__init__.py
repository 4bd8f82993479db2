"""The multidisciplinary expert panel: panels, sessions, case submissions, agendas, experts, statements."""


def init_app(app) -> None:
    """Register this domain's blueprint, navigation, CLI commands and signal receivers."""
    from .cli import panels_cli
    from .views import bp, register_nav

    app.register_blueprint(bp)
    register_nav(app)
    app.cli.add_command(panels_cli)

    from ..core.signals import teams_meeting_ready
    from .services import on_teams_meeting_ready

    teams_meeting_ready.connect(on_teams_meeting_ready)


def register_jobs() -> None:
    """Add the panel's job to the one job list: keep every active panel's sessions materialised to
    the horizon (idempotent, daily at 03.15). Called from jobs.init_app, after the outbox's jobs
    (`flask --app app panels top-up` does the same by hand)."""
    from ..jobs import register_job
    from .services import top_up_sessions

    register_job("panel-sessions-top-up", top_up_sessions, {"trigger": "cron", "hour": 3, "minute": 15})
