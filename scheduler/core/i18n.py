"""Languages: Finnish (default), Swedish, English."""

from __future__ import annotations

from flask import current_app, g, has_request_context, request, session
from flask_login import current_user

LANGUAGE_CHOICES = [("fi", "Suomeksi", "FI"), ("sv", "På svenska", "SV"), ("en", "In English", "EN")]


def select_locale() -> str:
    supported = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI and jobs: messages in the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    api_user = g.get("api_user")  # an API call speaks the token owner's language
    if api_user is not None and api_user.language in supported:
        return api_user.language
    if getattr(current_user, "is_authenticated", False) and current_user.language in supported:
        return current_user.language
    chosen = session.get("lang")
    if chosen in supported:
        return chosen
    return request.accept_languages.best_match(supported) or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["APP_TIMEZONE"]
