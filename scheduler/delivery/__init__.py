"""Delivery: the outbox, e-mail (iMIP invitations), Microsoft Graph (Teams), background jobs."""


def init_app(app) -> None:
    """Register this domain's blueprint, navigation, CLI commands and signal receivers."""
