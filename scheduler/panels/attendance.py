"""Experts confirm attendance: the pilot held 9 of its 11 scheduled sessions, so the secretary
needs to know early who is coming.

An expert invited to a published session (assigned to a case on its agenda) answers "I will attend"
or "I cannot attend", with an optional note to the secretary. One answer per person and session,
changed by answering again (an upsert under a unique constraint: two clicks at once leave one row).
A decline tells the secretaries at once (an e-mail with a link, no case content) and the case page
suggests replacements with the same expertise; ATTENDANCE_WARNING_DAYS before the session the
secretaries are warned about every case that has no confirmed expert for an expertise it asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from ..core.db import UTCDateTime, utcnow
from ..core.errors import Forbidden, ValidationFailed
from ..core.hygiene import text_problem
from ..core.privacy import refuse_identity_codes
from ..core.signals import panel_attendance_changed
from ..extensions import db
from ..people.models import User
from .models import PanelCase, PanelSession

NOTE_MAX = 500
CONFIRMED, DECLINED, UNANSWERED = "confirmed", "declined", "unanswered"


class SessionAttendance(db.Model):
    """An invited expert's answer for one session (no row: not answered yet)."""

    __tablename__ = "panel_session_attendance"
    __table_args__ = (UniqueConstraint("session_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("panel_sessions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    is_attending: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(NOTE_MAX), default="")
    answered_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def status(self) -> str:
        return CONFIRMED if self.is_attending else DECLINED

    def __repr__(self) -> str:
        return f"<SessionAttendance session={self.session_id} user={self.user_id} {self.status}>"


@dataclass(frozen=True)
class Answer:
    user: User
    status: str  # confirmed | declined | unanswered
    note: str


def invited_experts(session: PanelSession) -> list[User]:
    """The experts of the cases on the session's agenda, each once, in agenda order."""
    seen: dict[int, User] = {}
    for case in session.agenda:
        for user in case.experts:
            seen.setdefault(user.id, user)
    return list(seen.values())


def is_invited(session: PanelSession, user: User) -> bool:
    return session.is_published and any(u.id == user.id for u in invited_experts(session))


def answers(session: PanelSession) -> list[Answer]:
    """Every invited expert's answer (the secretary's view)."""
    rows = {r.user_id: r for r in db.session.execute(
        select(SessionAttendance).where(SessionAttendance.session_id == session.id)).scalars()}
    out = []
    for user in invited_experts(session):
        row = rows.get(user.id)
        out.append(Answer(user, row.status if row else UNANSWERED, row.note if row else ""))
    return out


def answer_of(session: PanelSession, user: User) -> SessionAttendance | None:
    return db.session.execute(select(SessionAttendance).where(
        SessionAttendance.session_id == session.id, SessionAttendance.user_id == user.id)).scalar_one_or_none()


def answer_attendance(session: PanelSession, *, actor: User, attending: bool, note: str = "",
                      now: datetime | None = None) -> SessionAttendance:
    """Record an invited expert's answer. Answering again changes it; the secretaries hear of a
    decline (and of a confirmation that replaces one) through the outbox."""
    if not is_invited(session, actor):
        raise Forbidden(str(_l("Only the experts invited to this session can answer.")))
    if session.status not in ("agenda_published",):
        raise ValidationFailed(str(_l("This session is not open for answers.")))
    note = (note or "").strip()
    problem = text_problem(note)
    if problem:
        raise ValidationFailed(problem, fields={"note": problem})
    if len(note) > NOTE_MAX:
        message = str(_l("Use at most %(n)d characters.", n=NOTE_MAX))
        raise ValidationFailed(message, fields={"note": message})
    refuse_identity_codes(note=note)
    previous = answer_of(session, actor)
    was = previous.is_attending if previous is not None else None
    values = {"session_id": session.id, "user_id": actor.id, "is_attending": bool(attending), "note": note,
              "answered_dt": now or utcnow()}
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(insert(SessionAttendance).values(**values).on_conflict_do_update(
        index_elements=["session_id", "user_id"],
        set_={"is_attending": values["is_attending"], "note": note, "answered_dt": values["answered_dt"]}))
    db.session.expire_all()
    row = answer_of(session, actor)
    assert row is not None
    if was is not bool(attending):
        panel_attendance_changed.send(session, user_id=actor.id, attending=bool(attending))
    return row


def uncovered_expertise(case: PanelCase, confirmed_ids: set[int]) -> list[str]:
    """The expertise codes the case asked for that no confirmed expert of the case covers."""
    covered: set[str] = set()
    for user in case.experts:
        if user.id not in confirmed_ids:
            continue
        expert = case.panel.expert_for(user)
        if expert is not None:
            covered.update(expert.expertise_codes)
    return [code for code in case.expertise_codes if code not in covered]


def cases_lacking_experts(session: PanelSession) -> list[tuple[int, PanelCase, list[str]]]:
    """(agenda number, case, uncovered expertise codes) for each case with a gap."""
    confirmed = {a.user.id for a in answers(session) if a.status == CONFIRMED}
    out = []
    for number, case in enumerate(session.agenda, start=1):
        gap = uncovered_expertise(case, confirmed)
        if gap:
            out.append((number, case, gap))
    return out


def declined_expert_ids(session: PanelSession) -> set[int]:
    return set(db.session.execute(select(SessionAttendance.user_id).where(
        SessionAttendance.session_id == session.id, SessionAttendance.is_attending.is_(False))).scalars())
