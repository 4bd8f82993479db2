"""Consultation hours: models.

A `ConsultationSeries` is a host unit's recurring consultation time (an RFC 5545 RRULE over a local
wall-clock first start). Its occurrences and slots are computed, not stored; a `ConsultationSlot`
row is created lazily (get-or-create under a unique (series_id, start_dt)) the first time someone
books it, and carries the `booked` counter that the database keeps within `capacity` (CHECK).
An `OccurrenceChange` records a single occurrence cancelled or moved. A `Booking` is one worker's
reservation of a slot; rescheduling moves the same booking to another slot.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.db import StatusText, UTCDateTime, sql_in, utcnow
from ..core.transactions import Transitions
from ..extensions import db
from ..people.models import Unit, User, localized

MODALITIES = ("teams", "in_person", "phone")


class BookingStatus(StrEnum):
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return str(_BOOKING_LABELS[self])


_BOOKING_LABELS = {BookingStatus.CONFIRMED: _l("Confirmed"), BookingStatus.CANCELLED: _l("Cancelled")}

# Rescheduling keeps a booking confirmed (confirmed → confirmed, guarded by its sequence).
BOOKING_TRANSITIONS = Transitions(BookingStatus, {
    BookingStatus.CONFIRMED: (BookingStatus.CONFIRMED, BookingStatus.CANCELLED),
})
BOOKING_STATUSES = tuple(BookingStatus)


class OccurrenceStatus(StrEnum):
    """An occurrence of a series: as the rule says, moved to another time, or cancelled. Stored as
    an OccurrenceChange row (none: scheduled; new_start_dt NULL: cancelled; else moved)."""

    SCHEDULED = "scheduled"
    MOVED = "moved"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return str(_OCCURRENCE_LABELS[self])


_OCCURRENCE_LABELS = {OccurrenceStatus.SCHEDULED: _l("Scheduled"), OccurrenceStatus.MOVED: _l("Moved"),
                      OccurrenceStatus.CANCELLED: _l("Cancelled")}

OCCURRENCE_TRANSITIONS = Transitions(OccurrenceStatus, {
    OccurrenceStatus.SCHEDULED: (OccurrenceStatus.MOVED, OccurrenceStatus.CANCELLED),
    OccurrenceStatus.MOVED: (OccurrenceStatus.MOVED, OccurrenceStatus.CANCELLED),
})


def new_ical_uid() -> str:
    """A stable random UID: nothing about the case or the people in it."""
    return f"{secrets.token_hex(16)}@consultations"


series_consultants = Table(
    "consultation_series_consultants",
    db.metadata,
    Column("series_id", ForeignKey("consultation_series.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)



def slot_key(series_id: int, start_dt: datetime) -> str:
    """A slot's id in addresses and the API: the series and the start in UTC ("12-202701121100")."""
    return f"{series_id}-{start_dt.astimezone(UTC):%Y%m%d%H%M}"

class ConsultationSeries(db.Model):
    __tablename__ = "consultation_series"
    __table_args__ = (
        CheckConstraint(f"modality IN ({sql_in(MODALITIES)})", name="modality"),
        CheckConstraint("slot_minutes > 0 AND slots_per_occurrence > 0 AND capacity > 0", name="positive"),
        CheckConstraint("min_notice_hours >= 0 AND horizon_days > 0", name="window"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    rrule: Mapped[str] = mapped_column(String(200))
    # Recurrences are expanded over the first start's local wall-clock time (core/recurrence.py), so a
    # weekly 13.00 stays 13.00 across the DST changes.
    first_start_dt: Mapped[datetime] = mapped_column(UTCDateTime)
    until: Mapped[date | None] = mapped_column(Date)
    slot_minutes: Mapped[int] = mapped_column(Integer, default=30)
    slots_per_occurrence: Mapped[int] = mapped_column(Integer, default=1)
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    modality: Mapped[str] = mapped_column(String(20), default="teams")
    location: Mapped[str] = mapped_column(String(300), default="")
    # The plain columns are the Finnish (default) text; Swedish and English are optional and fall
    # back to it (localized()).
    title_sv: Mapped[str | None] = mapped_column(String(200))
    title_en: Mapped[str | None] = mapped_column(String(200))
    description_sv: Mapped[str | None] = mapped_column(Text)
    description_en: Mapped[str | None] = mapped_column(Text)
    location_sv: Mapped[str | None] = mapped_column(String(300))
    location_en: Mapped[str | None] = mapped_column(String(300))
    languages: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["fi"])
    open_to: Mapped[list[str]] = mapped_column(JSON, default=list)
    min_notice_hours: Mapped[int] = mapped_column(Integer, default=24)
    horizon_days: Mapped[int] = mapped_column(Integer, default=90)
    skip_holidays: Mapped[bool] = mapped_column(Boolean, default=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    unit: Mapped[Unit] = relationship(lazy="joined")
    consultants: Mapped[list[User]] = relationship(secondary=series_consultants, lazy="selectin",
                                                   order_by="User.name")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    changes: Mapped[list[OccurrenceChange]] = relationship(back_populates="series", cascade="all, delete-orphan",
                                                           lazy="selectin")

    @property
    def occurrence_minutes(self) -> int:
        return self.slot_minutes * self.slots_per_occurrence

    def localized(self, field: str, lang: str | None = None) -> str:
        """title, description or location in `lang` (default: the request's), else in Finnish."""
        return localized(self, field, lang)

    @property
    def display_title(self) -> str:
        return self.localized("title")

    @property
    def display_description(self) -> str:
        return self.localized("description")

    @property
    def display_location(self) -> str:
        return self.localized("location")

    def __repr__(self) -> str:
        return f"<ConsultationSeries {self.id} {self.title!r} {self.rrule}>"


class OccurrenceChange(db.Model):
    """One occurrence of a series cancelled (new_start_dt NULL) or moved to new_start_dt."""

    __tablename__ = "consultation_occurrence_changes"
    __table_args__ = (UniqueConstraint("series_id", "original_start_dt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("consultation_series.id", ondelete="CASCADE"), index=True)
    original_start_dt: Mapped[datetime] = mapped_column(UTCDateTime)
    new_start_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    series: Mapped[ConsultationSeries] = relationship(back_populates="changes")

    @property
    def is_cancelled(self) -> bool:
        return self.new_start_dt is None

    @property
    def status(self) -> OccurrenceStatus:
        return OccurrenceStatus.CANCELLED if self.new_start_dt is None else OccurrenceStatus.MOVED

    def __repr__(self) -> str:
        return f"<OccurrenceChange {self.series_id} {self.original_start_dt} → {self.new_start_dt}>"


class ConsultationSlot(db.Model):
    """A bookable slot, materialised when first booked. The database keeps booked ≤ capacity."""

    __tablename__ = "consultation_slots"
    __table_args__ = (
        UniqueConstraint("series_id", "start_dt"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="within_capacity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("consultation_series.id", ondelete="CASCADE"))
    start_dt: Mapped[datetime] = mapped_column(UTCDateTime)
    end_dt: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)

    series: Mapped[ConsultationSeries] = relationship()

    def __repr__(self) -> str:
        return f"<ConsultationSlot {self.series_id} {self.start_dt} {self.booked}/{self.capacity}>"


class Booking(db.Model):
    __tablename__ = "consultation_bookings"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(BookingStatus)})", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("consultation_slots.id", ondelete="CASCADE"), index=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("consultation_series.id", ondelete="CASCADE"), index=True)
    booker_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    start_dt: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    end_dt: Mapped[datetime] = mapped_column(UTCDateTime)
    case_ref: Mapped[str] = mapped_column(String(60))
    question: Mapped[str] = mapped_column(Text)
    participants: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[BookingStatus] = mapped_column(StatusText(BookingStatus, 20), default=BookingStatus.CONFIRMED)
    ical_uid: Mapped[str] = mapped_column(String(80), unique=True, default=new_ical_uid)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    join_url: Mapped[str | None] = mapped_column(String(2000))
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # retention (consultations/retention.py): the case content was erased then; times, unit and
    # status stay for the figures
    erased_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)

    slot: Mapped[ConsultationSlot] = relationship()
    series: Mapped[ConsultationSeries] = relationship(lazy="joined")

    # Not stored: a service sets it when the call changed nothing because the same person had
    # already done it (a second "cancel"), so the page can say so instead of repeating it.
    already_done = False
    booker: Mapped[User] = relationship(foreign_keys=[booker_id], lazy="joined")
    cancelled_by: Mapped[User | None] = relationship(foreign_keys=[cancelled_by_id])

    @property
    def unit(self) -> Unit:
        """The host unit."""
        return self.series.unit

    @property
    def slot_key(self) -> str:
        return slot_key(self.series_id, self.start_dt)

    @property
    def is_confirmed(self) -> bool:
        return self.status == BookingStatus.CONFIRMED

    @property
    def status_label(self) -> str:
        return self.status.label

    @property
    def is_erased(self) -> bool:
        return self.erased_dt is not None

    def __repr__(self) -> str:
        return f"<Booking {self.id} {self.status} {self.start_dt}>"
