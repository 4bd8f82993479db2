"""Security headers on every response."""

from __future__ import annotations

from flask import current_app, request
from flask_login import current_user

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def set_security_headers(response):
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    # same-origin, not no-referrer: over https Flask-WTF checks that a form POST's Referer is this
    # site, and browsers send none under no-referrer. Other sites still get nothing.
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if current_app.config.get("HTTPS"):
        h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    # Signed-in pages may show case data: never store them in a shared or back-button cache.
    if not request.path.startswith("/static/") and (
        request.path.startswith("/api/") or getattr(current_user, "is_authenticated", False)
    ):
        h["Cache-Control"] = "no-store"
        h["Pragma"] = "no-cache"
    return response
