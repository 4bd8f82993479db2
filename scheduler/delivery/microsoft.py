"""Microsoft Graph (Teams online meetings, app-only) through msal."""


def init_app(app) -> None:
    """Register the 'graph' outbox handler."""
