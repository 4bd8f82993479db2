"""Admin pages: units, users (with CSV import), expertise areas."""


def init_app(app) -> None:
    """Register the admin blueprint and its navigation."""
