"""Delivery: the outbox of e-mails and Graph calls waiting to be delivered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..core.db import UTCDateTime, utcnow
from ..extensions import db

OUTBOX_STATUSES = ("queued", "sent", "failed")


class OutboxMessage(db.Model):
    """One thing to deliver (an e-mail, a Graph call), written in the transaction that causes it.

    The payload holds what the handler of `kind` needs: never case content (no case reference,
    question, background or statement), only service names, times, addresses and links.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'sent', 'failed')", name="status"),
        Index("ix_outbox_messages_due", "status", "next_attempt_dt"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    # The same key enqueued twice is one message (an invitation's UID + SEQUENCE + recipient, a reminder).
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    sent_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # retention (delivery/retention.py): the payload (addresses, texts) and the .eml file were
    # deleted then; kind, status, dates and the dedupe key stay
    erased_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def recipient(self) -> str:
        """Who or what the message goes to, for the admin page (addresses or a meeting key)."""
        p = self.payload or {}
        to = p.get("to") or p.get("recipient") or p.get("meeting_key") or ""
        if isinstance(to, list | tuple):
            return ", ".join(str(t) for t in to)
        return str(to)

    @property
    def subject(self) -> str:
        return str((self.payload or {}).get("subject") or "")

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} {self.status} attempts={self.attempts}>"


class CalendarInvitation(db.Model):
    """Who holds a calendar entry for a meeting (one row per UID and address): so that a person
    taken off a meeting gets its cancellation, and a cancelled meeting reaches everyone invited."""

    __tablename__ = "calendar_invitations"
    __table_args__ = (
        UniqueConstraint("uid", "email"),
        CheckConstraint("method IN ('REQUEST', 'CANCEL')", name="method"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(254))
    meeting_key: Mapped[str] = mapped_column(String(80), index=True)  # "booking:12", "panel-case:3"
    name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(2), default="fi")
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    method: Mapped[str] = mapped_column(String(10), default="REQUEST")  # the last one sent
    sends: Mapped[int] = mapped_column(Integer, default=0)  # how many messages this person has had
    start_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the times last sent, for a later CANCEL
    end_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<CalendarInvitation {self.meeting_key} {self.email} {self.method} seq={self.sequence}>"
