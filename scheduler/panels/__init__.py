"""The multidisciplinary expert panel: panels, sessions, case submissions, agendas, experts, statements."""


def init_app(app) -> None:
    """Register this domain's blueprint, navigation, CLI commands and signal receivers."""
