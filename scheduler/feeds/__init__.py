"""Calendar subscription feeds: personal, unit and panel feeds."""


def init_app(app) -> None:
    """Register this domain's blueprint, navigation, CLI commands and signal receivers."""
