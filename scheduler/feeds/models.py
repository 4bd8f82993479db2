"""Calendar subscription feeds: the secret feed address of each user and the render cache."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.db import UTCDateTime, utcnow
from ..extensions import db
from ..people.models import User


class FeedToken(db.Model):
    """The secret in a user's feed addresses (personal, unit and panel feeds share it).

    The token itself is never stored: it is HMAC(SECRET_KEY, nonce), so the profile page and the
    API can show the address again, while a copy of the database alone does not reveal it. Lookups
    go by SHA-256 of the presented token. Resetting draws a new nonce: the old address is dead at
    once.
    """

    __tablename__ = "feed_tokens"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<FeedToken user={self.user_id}>"


class FeedRenderCache(db.Model):
    """One item's rendered VEVENT text, kept until the item changes.

    `cache_key` is "<language>:<item key>" (e.g. "fi:booking:12"); `version` is a fingerprint of
    everything the text is made from, so a changed item (or a changed renderer) is rendered anew.
    Rows are disposable: `flask feeds clear-cache` empties the table and feeds rebuild it.
    """

    __tablename__ = "feed_render_cache"

    cache_key: Mapped[str] = mapped_column(String(160), primary_key=True)
    version: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    rendered_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<FeedRenderCache {self.cache_key}>"


__all__ = ["FeedRenderCache", "FeedToken"]
