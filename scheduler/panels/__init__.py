"""The multidisciplinary expert panel: panels, sessions, case submissions, agendas, experts, statements."""


def init_app(app) -> None:
    """Register this domain's blueprint, navigation, CLI commands and signal receivers."""
    import os

    from .cli import panels_cli
    from .views import bp, register_nav

    # PANEL_HORIZON_MONTHS: how far ahead sessions are materialised (default 12 months)
    raw = os.environ.get("PANEL_HORIZON_MONTHS", "")
    app.config.setdefault("PANEL_HORIZON_MONTHS", int(raw) if raw.isdigit() and 1 <= int(raw) <= 60 else 12)
    app.register_blueprint(bp)
    register_nav(app)
    app.cli.add_command(panels_cli)
