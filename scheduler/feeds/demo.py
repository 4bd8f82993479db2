"""Demo data for feeds, called by scheduler.demo.seed_demo inside its transaction.

Feeds show what the other demos made: bookings and published panel sessions. This runs after
them; where they left nothing for a feed to show (no booking, no published agenda), it adds one of
each through the same services the pages use, so every demo person's calendar address on their
profile page has something in it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..consultations.models import Booking, ConsultationSeries
from ..consultations.services import SeriesInput, book_slot, can_book, create_series
from ..consultations.slots import occurrences, slot_key, slots_of
from ..core.db import utcnow
from ..core.timefmt import to_local
from ..extensions import db
from ..panels.cases import schedule_case, submit_case
from ..panels.models import Panel, PanelSession
from ..panels.panel_admin import create_panel
from ..panels.services import publish_agenda


def seed(users: dict) -> None:
    """users: e-mail → User of the demo people (see scheduler/demo.py)."""
    now = utcnow()
    _ensure_a_booking(users, now)
    _ensure_a_published_session(users, now)


def _ensure_a_booking(users: dict, now: datetime) -> None:
    worker, doctor = users.get("sosiaalityontekija@demo.fi"), users.get("lanu@demo.fi")
    if worker is None or doctor is None or db.session.scalar(select(func.count(Booking.id))):
        return
    bookable = [s for s in db.session.execute(
        select(ConsultationSeries).where(ConsultationSeries.is_active.is_(True)).order_by(ConsultationSeries.id)
    ).unique().scalars() if can_book(worker, s)]
    series = bookable[0] if bookable else None
    if series is None:
        monday = to_local(now).date() + timedelta(days=7 - to_local(now).weekday())
        series = create_series(actor=doctor, data=SeriesInput(
            unit="LANU-ROI", title="LANU-konsultaatio lastensuojelulle", rrule="FREQ=WEEKLY;BYDAY=TU",
            first_start=datetime.combine(monday + timedelta(days=1), datetime.min.time()).replace(hour=13),
            slot_minutes=30, slots=2, capacity=1, modality="teams", languages=["fi", "sv"],
            open_to=["child_welfare"], min_notice_hours=24, horizon_days=90), now=now)
    for occ in occurrences(series, now + timedelta(days=2), now + timedelta(days=series.horizon_days)):
        slot = slots_of(occ)[0]
        book_slot(actor=worker, slot_id=slot_key(series.id, slot.start_dt), case_ref="DEMO-LS-1",
                  question="Demo: miten tukea nuoren koulunkäyntiä ahdistuksen kanssa?", now=now)
        return


def _ensure_a_published_session(users: dict, now: datetime) -> None:
    admin, secretary = users.get("admin@demo.fi"), users.get("sihteeri@demo.fi")
    worker, expert = users.get("sosiaalityontekija@demo.fi"), users.get("juristi@demo.fi")
    if None in (admin, secretary, worker, expert):
        return
    if db.session.scalar(select(func.count(PanelSession.id)).where(PanelSession.published_dt.is_not(None))):
        return
    panel = db.session.execute(select(Panel).order_by(Panel.id)).scalars().first()
    if panel is None:
        first = to_local(now).date() + timedelta(days=14)
        panel = create_panel(actor=admin, name="Lapin lastensuojelun monialainen asiantuntijatyöryhmä",
                             rrule="FREQ=MONTHLY;BYDAY=2TH",
                             first_start=datetime.combine(first, datetime.min.time()).replace(hour=12, minute=30),
                             secretaries=[secretary.email],
                             experts=[{"email": expert.email, "expertise": ["legal"]}], now=now)
    session = db.session.execute(
        select(PanelSession).where(PanelSession.panel_id == panel.id, PanelSession.status == "scheduled",
                                   PanelSession.start_dt > now + timedelta(days=1))
        .order_by(PanelSession.start_dt)
    ).scalars().first()
    if session is None:
        return
    case = submit_case(actor=worker, panel_id=panel.id, case_ref="DEMO-AR-1", child_age=14, municipality="Rovaniemi",
                       language="fi", background="Demo: pitkään jatkunut koulupoissaolo.",
                       questions="Demo: mitä tukea kannattaisi kokeilla seuraavaksi?", expertise=["legal"], now=now)
    schedule_case(case, actor=secretary, session_id=session.id, experts=[expert.email], now=now)
    publish_agenda(session, actor=secretary, now=now)
