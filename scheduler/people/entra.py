"""Microsoft Entra ID single sign-on (msal authorization-code flow with PKCE)."""


def init_app(app) -> None:
    """Register the Entra sign-in routes when ENTRA_* is set."""
