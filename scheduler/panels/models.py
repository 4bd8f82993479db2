"""The multidisciplinary expert panel: models.

A `Panel` meets on a recurrence (an RRULE in local time); its sessions are materialised as
`PanelSession` rows for a rolling horizon. Social workers submit `PanelCase`s; the secretary
puts them on a session's agenda (position → start/end), picks experts, publishes the agenda and
records the panel's `PanelStatement`. Every read of a case's contents goes to the access log
(people/access_log.py).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.db import StatusText, UTCDateTime, sql_in, utcnow
from ..core.transactions import Transitions
from ..extensions import db
from ..people.models import ExpertiseArea, User, localized

__all__ = [
    "Panel", "PanelSecretary", "PanelExpert", "PanelExpertArea", "PanelSession", "PanelCase",
    "PanelCaseArea", "PanelCaseExpert", "PanelConflict", "PanelStatement", "PanelCaseEvent",
    "SESSION_STATUSES", "CASE_STATUSES", "SessionStatus", "CaseStatus", "SESSION_TRANSITIONS", "CASE_TRANSITIONS",
    "OPEN_SESSION_STATUSES", "ON_AGENDA",
]



class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    AGENDA_PUBLISHED = "agenda_published"
    HELD = "held"
    NOT_HELD = "not_held"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return str(SESSION_STATUS_LABELS[self])


SESSION_STATUS_LABELS = {
    SessionStatus.SCHEDULED: _l("Scheduled"),
    SessionStatus.AGENDA_PUBLISHED: _l("Agenda published"),
    SessionStatus.HELD: _l("Held"),
    SessionStatus.NOT_HELD: _l("Not held"),
    SessionStatus.CANCELLED: _l("Cancelled"),
}
OPEN_SESSION_STATUSES = (SessionStatus.SCHEDULED, SessionStatus.AGENDA_PUBLISHED)

# A coming session may be moved (to itself: scheduled → scheduled), published, cancelled or, once
# it has started, marked held or not held; held and not held can be corrected into each other.
SESSION_TRANSITIONS = Transitions(SessionStatus, {
    SessionStatus.SCHEDULED: (SessionStatus.SCHEDULED, SessionStatus.AGENDA_PUBLISHED, SessionStatus.CANCELLED,
                              SessionStatus.HELD, SessionStatus.NOT_HELD),
    SessionStatus.AGENDA_PUBLISHED: (SessionStatus.AGENDA_PUBLISHED, SessionStatus.CANCELLED, SessionStatus.HELD,
                                     SessionStatus.NOT_HELD),
    SessionStatus.HELD: (SessionStatus.NOT_HELD,),
    SessionStatus.NOT_HELD: (SessionStatus.HELD,),
})


class CaseStatus(StrEnum):
    SUBMITTED = "submitted"
    RETURNED = "returned"
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    HANDLED = "handled"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return str(CASE_STATUS_LABELS[self])


CASE_STATUS_LABELS = {
    CaseStatus.SUBMITTED: _l("Submitted"),
    CaseStatus.RETURNED: _l("Returned for completion"),
    CaseStatus.ACCEPTED: _l("Accepted, waiting for a session"),
    CaseStatus.SCHEDULED: _l("On a session's agenda"),
    CaseStatus.HANDLED: _l("Advice given"),
    CaseStatus.DECLINED: _l("Declined"),
    CaseStatus.WITHDRAWN: _l("Withdrawn"),
}
ON_AGENDA = (CaseStatus.SCHEDULED, CaseStatus.HANDLED)

# scheduled → scheduled is a move to another session; scheduled → accepted takes it off the agenda
# (by the secretary, or when its session is cancelled and no later session has room);
# handled → handled corrects the advice. Declined and withdrawn are final.
CASE_TRANSITIONS = Transitions(CaseStatus, {
    CaseStatus.SUBMITTED: (CaseStatus.SUBMITTED, CaseStatus.ACCEPTED, CaseStatus.RETURNED, CaseStatus.SCHEDULED,
                           CaseStatus.DECLINED, CaseStatus.WITHDRAWN),
    CaseStatus.RETURNED: (CaseStatus.SUBMITTED, CaseStatus.DECLINED, CaseStatus.WITHDRAWN),
    CaseStatus.ACCEPTED: (CaseStatus.RETURNED, CaseStatus.SCHEDULED, CaseStatus.DECLINED, CaseStatus.WITHDRAWN),
    CaseStatus.SCHEDULED: (CaseStatus.SCHEDULED, CaseStatus.ACCEPTED, CaseStatus.HANDLED, CaseStatus.DECLINED,
                           CaseStatus.WITHDRAWN),
    CaseStatus.HANDLED: (CaseStatus.HANDLED,),
})
SESSION_STATUSES = tuple(SessionStatus)
CASE_STATUSES = tuple(CaseStatus)
CASE_LANGUAGES = ("fi", "sv")

EVENT_LABELS = {
    "submitted": _l("Submitted"),
    "edited": _l("Edited by the submitter"),
    "returned": _l("Returned for completion"),
    "resubmitted": _l("Completed and submitted again"),
    "accepted": _l("Accepted"),
    "declined": _l("Declined"),
    "withdrawn": _l("Withdrawn"),
    "scheduled": _l("Put on an agenda"),
    "moved": _l("Moved to another session"),
    "conflict_declared": _l("An expert declared a conflict of interest"),
    "statement": _l("Advice recorded"),
    "statement_updated": _l("Advice corrected"),
}


AGE_BANDS = ((0, 2, "0-2"), (3, 6, "3-6"), (7, 12, "7-12"), (13, 17, "13-17"), (18, 25, "18-25"))


def age_band(age: int | None) -> str | None:
    """The band an erased case keeps instead of the child's age."""
    if age is None:
        return None
    return next((label for low, high, label in AGE_BANDS if low <= age <= high), None)


def new_ical_uid() -> str:
    """Stable, random, and free of any case data."""
    return f"{uuid.uuid4()}@panel.scheduler"


class PanelSecretary(db.Model):
    __tablename__ = "panel_secretaries"

    panel_id: Mapped[int] = mapped_column(ForeignKey("panels.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class Panel(db.Model):
    __tablename__ = "panels"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))  # Finnish (default); sv/en optional, see localized_name
    name_sv: Mapped[str | None] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(200), default="")
    # RFC 5545 RRULE (without DTSTART), read in local time from first_start_local
    rrule: Mapped[str] = mapped_column(String(300))
    first_start_dt: Mapped[datetime] = mapped_column(UTCDateTime)
    session_minutes: Mapped[int] = mapped_column(Integer, default=180)
    case_minutes: Mapped[int] = mapped_column(Integer, default=45)
    submission_deadline_days: Mapped[int] = mapped_column(Integer, default=10)
    agenda_days: Mapped[int] = mapped_column(Integer, default=5)
    skip_july: Mapped[bool] = mapped_column(Boolean, default=True)
    skip_holidays: Mapped[bool] = mapped_column(Boolean, default=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    secretaries: Mapped[list[User]] = relationship(secondary="panel_secretaries", order_by="User.name")
    experts: Mapped[list[PanelExpert]] = relationship(back_populates="panel", cascade="all, delete-orphan",
                                                      order_by="PanelExpert.id")
    sessions: Mapped[list[PanelSession]] = relationship(back_populates="panel", order_by="PanelSession.start_dt",
                                                        viewonly=True)

    def localized_name(self, lang: str | None = None) -> str:
        return localized(self, "name", lang)

    @property
    def display_name(self) -> str:
        return self.localized_name()

    def is_secretary(self, user: User) -> bool:
        return any(s.id == user.id for s in self.secretaries)

    def expert_for(self, user: User) -> PanelExpert | None:
        return next((e for e in self.experts if e.user_id == user.id), None)

    def __repr__(self) -> str:
        return f"<Panel {self.id} {self.name!r}>"


class PanelExpertArea(db.Model):
    __tablename__ = "panel_expert_areas"

    expert_id: Mapped[int] = mapped_column(ForeignKey("panel_experts.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(ForeignKey("expertise_areas.code"), primary_key=True)


class PanelExpert(db.Model):
    """A person in a panel's expert pool, with the expertise they bring."""

    __tablename__ = "panel_experts"
    __table_args__ = (UniqueConstraint("panel_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    panel_id: Mapped[int] = mapped_column(ForeignKey("panels.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organisation: Mapped[str] = mapped_column(String(200), default="")
    languages: Mapped[str] = mapped_column(String(20), default="fi")  # comma-separated codes
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    panel: Mapped[Panel] = relationship(back_populates="experts")
    user: Mapped[User] = relationship(lazy="joined")
    areas: Mapped[list[ExpertiseArea]] = relationship(secondary="panel_expert_areas", order_by="ExpertiseArea.position",
                                                      lazy="selectin")

    @property
    def expertise_codes(self) -> list[str]:
        return [a.code for a in self.areas]

    @property
    def language_list(self) -> list[str]:
        return [x for x in self.languages.split(",") if x]

    def __repr__(self) -> str:
        return f"<PanelExpert {self.id} panel={self.panel_id} user={self.user_id}>"


class PanelSession(db.Model):
    __tablename__ = "panel_sessions"
    __table_args__ = (
        UniqueConstraint("panel_id", "occurrence_date"),
        CheckConstraint(f"status IN ({sql_in(SessionStatus)})", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    panel_id: Mapped[int] = mapped_column(ForeignKey("panels.id", ondelete="CASCADE"), index=True)
    # the recurrence date this row stands for (local date); a moved session keeps it, so topping up
    # the horizon never recreates it
    occurrence_date: Mapped[date] = mapped_column(Date)
    start_dt: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    end_dt: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[SessionStatus] = mapped_column(StatusText(SessionStatus, 20), default=SessionStatus.SCHEDULED)
    ical_uid: Mapped[str] = mapped_column(String(100), unique=True, default=new_ical_uid)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    join_url: Mapped[str | None] = mapped_column(String(2000))
    cancel_reason: Mapped[str] = mapped_column(String(500), default="")
    published_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    panel: Mapped[Panel] = relationship(back_populates="sessions", lazy="joined")
    cases: Mapped[list[PanelCase]] = relationship(
        back_populates="session", order_by="PanelCase.position", foreign_keys="PanelCase.session_id", viewonly=True
    )

    @property
    def minutes(self) -> int:
        return int((self.end_dt - self.start_dt).total_seconds() // 60)

    @property
    def capacity(self) -> int:
        """How many cases of the panel's default length fit the session."""
        return max(self.minutes // max(self.panel.case_minutes, 1), 0)

    @property
    def agenda(self) -> list[PanelCase]:
        return [c for c in self.cases if c.status in ON_AGENDA]

    @property
    def is_published(self) -> bool:
        return self.status in (SessionStatus.AGENDA_PUBLISHED, SessionStatus.HELD, SessionStatus.NOT_HELD)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_SESSION_STATUSES

    @property
    def submission_deadline_dt(self) -> datetime:
        return self.start_dt - timedelta(days=self.panel.submission_deadline_days)

    @property
    def agenda_due_dt(self) -> datetime:
        return self.start_dt - timedelta(days=self.panel.agenda_days)

    @property
    def status_label(self) -> str:
        return str(SESSION_STATUS_LABELS.get(self.status, self.status))

    # Not stored: set by a service when a repeated action changed nothing (see consultations' Booking).
    already_done = False

    def __repr__(self) -> str:
        return f"<PanelSession {self.id} panel={self.panel_id} {self.start_dt:%Y-%m-%d %H:%M} {self.status}>"


class PanelCaseArea(db.Model):
    __tablename__ = "panel_case_areas"

    case_id: Mapped[int] = mapped_column(ForeignKey("panel_cases.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(ForeignKey("expertise_areas.code"), primary_key=True)


class PanelCaseExpert(db.Model):
    __tablename__ = "panel_case_experts"

    case_id: Mapped[int] = mapped_column(ForeignKey("panel_cases.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    assigned_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PanelCase(db.Model):
    """A case a social worker brings to the panel. `case_ref`, `background`, `questions`,
    `services_tried` and the statement are case content: they never leave the application."""

    __tablename__ = "panel_cases"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(CaseStatus)})", name="status"),
        CheckConstraint(f"language IN ({sql_in(CASE_LANGUAGES)})", name="language"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    panel_id: Mapped[int] = mapped_column(ForeignKey("panels.id", ondelete="CASCADE"), index=True)
    submitter_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("panel_sessions.id", ondelete="SET NULL"), index=True)
    preferred_session_id: Mapped[int | None] = mapped_column(ForeignKey("panel_sessions.id", ondelete="SET NULL"))
    case_ref: Mapped[str] = mapped_column(String(60))
    # NULL once erased: the age band (age_band()) stays for the figures
    child_age: Mapped[int | None] = mapped_column(Integer)
    child_age_band: Mapped[str | None] = mapped_column(String(10))
    municipality: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(2), default="fi")
    background: Mapped[str] = mapped_column(Text, default="")
    questions: Mapped[str] = mapped_column(Text, default="")
    services_tried: Mapped[str] = mapped_column(Text, default="")
    client_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[CaseStatus] = mapped_column(StatusText(CaseStatus, 20), default=CaseStatus.SUBMITTED)
    secretary_message: Mapped[str] = mapped_column(Text, default="")  # why returned or declined
    position: Mapped[int | None] = mapped_column(Integer)  # order on the session's agenda
    minutes: Mapped[int | None] = mapped_column(Integer)  # None: the panel's default
    start_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ical_uid: Mapped[str] = mapped_column(String(100), unique=True, default=new_ical_uid)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    submitted_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    accepted_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # retention (panels/retention.py): the case content and the advice were erased then
    erased_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)

    panel: Mapped[Panel] = relationship(lazy="joined")
    submitter: Mapped[User] = relationship(foreign_keys=[submitter_id], lazy="joined")
    session: Mapped[PanelSession | None] = relationship(back_populates="cases", foreign_keys=[session_id])
    preferred_session: Mapped[PanelSession | None] = relationship(foreign_keys=[preferred_session_id])
    areas: Mapped[list[ExpertiseArea]] = relationship(secondary="panel_case_areas", order_by="ExpertiseArea.position",
                                                      lazy="selectin")
    experts: Mapped[list[User]] = relationship(secondary="panel_case_experts", order_by="User.name", lazy="selectin")
    statement: Mapped[PanelStatement | None] = relationship(back_populates="case", uselist=False,
                                                             cascade="all, delete-orphan")
    events: Mapped[list[PanelCaseEvent]] = relationship(order_by="PanelCaseEvent.id", cascade="all, delete-orphan")

    @property
    def expertise_codes(self) -> list[str]:
        return [a.code for a in self.areas]

    @property
    def case_minutes(self) -> int:
        return self.minutes or self.panel.case_minutes

    @property
    def is_editable(self) -> bool:
        return self.status in (CaseStatus.SUBMITTED, CaseStatus.RETURNED) and self.erased_dt is None

    @property
    def is_erased(self) -> bool:
        return self.erased_dt is not None

    @property
    def age_band(self) -> str | None:
        return self.child_age_band if self.child_age is None else age_band(self.child_age)

    @property
    def status_label(self) -> str:
        return str(CASE_STATUS_LABELS.get(self.status, self.status))

    already_done = False  # see PanelSession.already_done

    def __repr__(self) -> str:
        return f"<PanelCase {self.id} panel={self.panel_id} {self.status}>"


class PanelConflict(db.Model):
    """An expert's declared conflict of interest (jääviys) on a case."""

    __tablename__ = "panel_conflicts"

    case_id: Mapped[int] = mapped_column(ForeignKey("panel_cases.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    declared_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PanelStatement(db.Model):
    """The panel's advice on a case."""

    __tablename__ = "panel_statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("panel_cases.id", ondelete="CASCADE"), unique=True)
    text: Mapped[str] = mapped_column(Text)
    recommendations: Mapped[list] = mapped_column(JSON, default=list)
    responsible_services: Mapped[list] = mapped_column(JSON, default=list)
    follow_up_date: Mapped[date | None] = mapped_column(Date)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    case: Mapped[PanelCase] = relationship(back_populates="statement")
    recorded_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<PanelStatement case={self.case_id}>"


class PanelCaseEvent(db.Model):
    """What happened to a case, and by whom: the submitter's status history and the figures' source."""

    __tablename__ = "panel_case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("panel_cases.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    actor: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<PanelCaseEvent case={self.case_id} {self.action}>"
