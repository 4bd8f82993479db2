"""Calendar subscription feeds: the secret feed address of each user and the render cache."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
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


class FeedTombstone(db.Model):
    """A time someone was told about that has since gone from their feed's sources: their case
    taken off a published agenda (withdrawn, declined, moved on when the session was cancelled), or
    a session they were an expert in that no longer has their case. Shown as STATUS:CANCELLED for
    30 days (unless the same UID is live again, e.g. the case's new time on the next agenda)."""

    __tablename__ = "feed_tombstones"
    __table_args__ = (UniqueConstraint("user_id", "item_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    item_key: Mapped[str] = mapped_column(String(80))  # "panel-case:<id>" or "panel-session:<id>"
    uid: Mapped[str] = mapped_column(String(120))
    start_dt: Mapped[datetime] = mapped_column(UTCDateTime)
    end_dt: Mapped[datetime] = mapped_column(UTCDateTime)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    panel_name: Mapped[str] = mapped_column(String(200), default="")
    cancelled_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<FeedTombstone user={self.user_id} {self.item_key}>"


__all__ = ["FeedRenderCache", "FeedToken", "FeedTombstone"]
