"""Calendar subscription feeds: personal, unit and panel feeds."""

from .cli import feeds_cli
from .logs import install as install_log_redaction
from .profile import feed_profile
from .tombstones import install as install_tombstones
from .views import bp


def init_app(app) -> None:
    """Register this domain's blueprint, navigation, CLI commands and signal receivers."""
    app.register_blueprint(bp)
    app.jinja_env.globals["feed_profile"] = feed_profile
    app.cli.add_command(feeds_cli)
    install_log_redaction(app)
    install_tombstones()
