"""What the profile page's calendar section shows (templates/feeds/_profile_section.html)."""

from __future__ import annotations

from functools import lru_cache

import segno

from ..people.models import User
from . import services
from .models import FeedToken


@lru_cache(maxsize=512)
def qr_data_uri(text: str) -> str:
    """A QR code as an SVG data URI, made on the server (no script, allowed by the CSP's img-src)."""
    return segno.make(text, error="m").svg_data_uri(scale=4, border=2, dark="#1a1a1a", light="#ffffff")


def feed_profile(user: User) -> dict:
    token = services.ensure_feed_token(user, own_transaction=True)
    urls = services.feed_urls(user, token)
    personal = urls["personal"]
    row = services.db.session.get(FeedToken, user.id)
    return {
        "https": personal,
        "webcal": services.webcal(personal),
        "qr": qr_data_uri(services.webcal(personal)),
        "units": [dict(u, webcal=services.webcal(u["url"])) for u in urls["units"]],
        "panels": [dict(p, webcal=services.webcal(p["url"])) for p in urls["panels"]],
        "last_used_dt": row.last_used_dt if row else None,
        "created_dt": row.created_dt if row else None,
    }
