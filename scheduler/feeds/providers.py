"""Where feed items come from: one small provider per source, each returning plain FeedItems.

Providers select columns, not whole rows: what a feed may carry (service, kind of meeting, times,
status, the join link, an id for the link into the app) is all they ever read, so no case
reference, question, background or advice can find its way into a feed. Each runs a constant
number of queries, whatever the number of items.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, timedelta
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from flask_babel import gettext as _
from sqlalchemy import (
    BigInteger,
    Float,
    Select,
    String,
    bindparam,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType

from ..consultations.models import Booking, ConsultationSeries, ConsultationSlot, series_consultants
from ..consultations.slots import Occurrence, occurrences, slots_of
from ..core.db import UTCDateTime
from ..core.timefmt import to_local
from ..extensions import db
from ..panels.models import Panel, PanelCase, PanelCaseExpert, PanelSecretary, PanelSession
from ..people.models import Unit, User
from .items import CANCELLED, CONFIRMED, FeedItem
from .models import FeedTombstone

if TYPE_CHECKING:
    from .services import FeedContext


def _unit_name(lang: str, fi: str, sv: str, en: str) -> str:
    return {"fi": fi, "sv": sv, "en": en}.get(lang) or fi


def _meeting_kinds() -> dict[str, str]:
    return {
        "teams": _("Teams consultation"),
        "phone": _("Phone consultation"),
        "in_person": _("In-person consultation"),
    }


# --- consultations -------------------------------------------------------------------------------

@cache
def _bookings_statement():
    """Built once: bookings the user made or hosts, in the window. Parameters: user_id,
    window_start, cancelled_since. Booked, and hosted (not booked): two index lookups joined by
    UNION ALL; with OR, PostgreSQL reads the whole bookings table."""
    me = bindparam("user_id")
    hosted = select(series_consultants.c.series_id).where(series_consultants.c.user_id == me)
    in_window = (Booking.end_dt >= bindparam("window_start", type_=UTCDateTime),
                 or_(Booking.status != "cancelled", Booking.updated_dt >= bindparam("cancelled_since", type_=UTCDateTime)))
    columns = (Booking.id, Booking.ical_uid, Booking.start_dt, Booking.end_dt, Booking.status, Booking.sequence,
               Booking.join_url, Booking.updated_dt, ConsultationSeries.modality,
               Unit.name_fi, Unit.name_sv, Unit.name_en, ConsultationSeries.updated_dt.label("series_updated_dt"),
               ConsultationSeries.title, ConsultationSeries.title_sv, ConsultationSeries.title_en)

    def part(*where):
        return (select(*columns).join(ConsultationSeries, Booking.series_id == ConsultationSeries.id)
                .join(Unit, ConsultationSeries.unit_id == Unit.id).where(*where, *in_window))

    return union_all(part(Booking.booker_id == me), part(Booking.series_id.in_(hosted), Booking.booker_id != me))


def consultation_items(user: User, ctx: FeedContext) -> Iterable[FeedItem]:
    """Consultations the user booked or hosts (is a consultant of the series). One query."""
    rows = db.session.connection().execute(_bookings_statement(), {"user_id": user.id, "window_start": ctx.window_start,
                                                      "cancelled_since": ctx.cancelled_since})
    kinds = _meeting_kinds()
    summaries: dict[tuple, str] = {}
    url = ctx.url("/consultations/bookings/")
    items = []
    for (b_id, uid, start, end, status, sequence, join_url, updated, modality, n_fi, n_sv, n_en, _series,
         t_fi, t_sv, t_en) in rows:
        summary = summaries.get((modality, n_fi, n_sv, n_en, t_fi, t_sv, t_en))
        if summary is None:  # the series' title and the service, in the feed's language
            summary = (f"{kinds.get(modality, kinds['in_person'])}: {_unit_name(ctx.lang, t_fi, t_sv, t_en)}"
                       f" – {_unit_name(ctx.lang, n_fi, n_sv, n_en)}")
            summaries[(modality, n_fi, n_sv, n_en, t_fi, t_sv, t_en)] = summary
        items.append(FeedItem(
            key=f"booking:{b_id}", uid=uid, start=start, end=end, summary=summary,
            status=CANCELLED if status == "cancelled" else CONFIRMED, updated_dt=updated, sequence=sequence,
            url=f"{url}{b_id}", join_url=join_url,
        ))
    return items


def unit_with_code(code: str) -> Unit | None:
    return db.session.execute(
        select(Unit).where(func.lower(Unit.code) == (code or "").lower(), Unit.is_active.is_(True))
    ).scalar_one_or_none()


def subscribable_units() -> list[Unit]:
    """Units with published (active) consultation hours."""
    active = select(ConsultationSeries.unit_id).where(ConsultationSeries.is_active.is_(True))
    return list(db.session.execute(
        select(Unit).where(Unit.is_active.is_(True), Unit.id.in_(active)).order_by(Unit.code)
    ).scalars())


def unit_slot_items(unit: Unit, ctx: FeedContext) -> Iterable[FeedItem]:
    """A unit's published consultation hours, one event per slot: its time and whether it is free
    or booked. Nothing about who booked it or why. A constant number of queries."""
    series_list = list(db.session.execute(
        select(ConsultationSeries).where(ConsultationSeries.unit_id == unit.id, ConsultationSeries.is_active.is_(True))
        .order_by(ConsultationSeries.id)
    ).unique().scalars())
    if not series_list:
        return []
    ids = [s.id for s in series_list]
    start = ctx.window_start
    end = ctx.now + timedelta(days=max(s.horizon_days for s in series_list))
    booked = {
        (sid, st): (n, cap) for sid, st, n, cap in db.session.execute(
            select(ConsultationSlot.series_id, ConsultationSlot.start_dt, ConsultationSlot.booked,
                   ConsultationSlot.capacity)
            .where(ConsultationSlot.series_id.in_(ids), ConsultationSlot.start_dt >= start,
                   ConsultationSlot.start_dt < end))
    }
    changed = {
        (sid, st): last for sid, st, last in db.session.execute(
            select(Booking.series_id, Booking.start_dt, func.max(Booking.updated_dt))
            .where(Booking.series_id.in_(ids), Booking.start_dt >= start, Booking.start_dt < end)
            .group_by(Booking.series_id, Booking.start_dt))
    }
    free_text, booked_text = _("Consultation time: free"), _("Consultation time: booked")
    items: list[FeedItem] = []
    for s in series_list:
        horizon = ctx.now + timedelta(days=s.horizon_days)
        change_dt = {c.original_start_dt: c.created_dt for c in s.changes}
        occs = [(occ, CONFIRMED) for occ in occurrences(s, start, horizon)]
        # a cancelled occurrence stays, cancelled, for a while (its slots keep their UIDs)
        occs += [(Occurrence(s, c.original_start_dt, c.original_start_dt), CANCELLED) for c in s.changes
                 if c.new_start_dt is None and c.created_dt >= ctx.cancelled_since
                 and c.original_start_dt + timedelta(minutes=s.occurrence_minutes) >= start]
        for occ, status in occs:
            original = occ.original_start_dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
            occ_changed = change_dt.get(occ.original_start_dt)
            for sv in slots_of(occ):
                n, cap = booked.get((s.id, sv.start_dt), (0, s.capacity))
                updated = max(d for d in (s.updated_dt, occ_changed, changed.get((s.id, sv.start_dt))) if d)
                day = to_local(sv.start_dt).date()
                day_text = f"{day.day}.{day.month}.{day.year}"
                query = urlencode({"unit": unit.code, "date_from": day_text, "date_to": day_text})
                items.append(FeedItem(
                    # identified by the occurrence's original start: a moved occurrence moves its events
                    key=f"slot:{s.id}:{original}:{sv.index}", uid=f"slot-{s.id}-{original}-{sv.index}@consultations",
                    start=sv.start_dt, end=sv.end_dt, summary=booked_text if n >= cap else free_text,
                    status=status, updated_dt=updated, sequence=1 if occ_changed else 0, transparent=True,
                    url=ctx.url(f"/consultations/?{query}"),
                ))
    return items


# --- the expert panel ------------------------------------------------------------------------------

def _session_status(status: str) -> str:
    return CANCELLED if status in ("cancelled", "not_held") else CONFIRMED


@cache
def _invited_sessions_statement():
    """Built once: published sessions of panels the user is a secretary of, or with a case the user
    is an expert on. Parameters: user_id, window_start."""
    secretary_of = select(PanelSecretary.panel_id).where(PanelSecretary.user_id == bindparam("user_id"))
    expert_in = (select(PanelCase.session_id)
                 .join(PanelCaseExpert, PanelCaseExpert.case_id == PanelCase.id)
                 .where(PanelCaseExpert.user_id == bindparam("user_id"), PanelCase.session_id.is_not(None)))
    return (
        select(PanelSession.id, PanelSession.ical_uid, PanelSession.start_dt, PanelSession.end_dt,
               PanelSession.status, PanelSession.sequence, PanelSession.join_url, PanelSession.updated_dt, Panel.name,
               Panel.updated_dt.label("panel_updated_dt"), Panel.name_sv, Panel.name_en)
        .join(Panel, PanelSession.panel_id == Panel.id)
        .where(PanelSession.published_dt.is_not(None),
               PanelSession.end_dt >= bindparam("window_start", type_=UTCDateTime),
               or_(PanelSession.panel_id.in_(secretary_of), PanelSession.id.in_(expert_in)))
    )


@cache
def _own_cases_statement():
    """Built once: the times of the user's own cases on published agendas. Parameters: user_id,
    window_start. Only ids, times and statuses: none of the case's contents."""
    return (
        select(PanelCase.id, PanelCase.ical_uid, PanelCase.start_dt, PanelCase.end_dt, PanelCase.status,
               PanelCase.sequence, PanelCase.updated_dt, PanelSession.status, PanelSession.join_url,
               PanelSession.updated_dt.label("session_updated_dt"), Panel.name,
               Panel.updated_dt.label("panel_updated_dt"), Panel.name_sv, Panel.name_en)
        .join(PanelSession, PanelCase.session_id == PanelSession.id)
        .join(Panel, PanelCase.panel_id == Panel.id)
        .where(PanelCase.submitter_id == bindparam("user_id"), PanelSession.published_dt.is_not(None),
               PanelCase.start_dt.is_not(None),
               PanelCase.end_dt >= bindparam("window_start", type_=UTCDateTime))
    )


def panel_items(user: User, ctx: FeedContext) -> Iterable[FeedItem]:
    """Published panel sessions the user is invited to (a secretary of the panel or an expert on a
    case in it), and for a submitter only their own case's time. Two queries."""
    params = {"user_id": user.id, "window_start": ctx.window_start}
    items = []
    title = _("Expert panel: %(panel)s")
    for (s_id, uid, start, end, status, sequence, join_url, updated, panel_name, _panel, name_sv,
         name_en) in db.session.connection().execute(_invited_sessions_statement(), params):
        panel = _unit_name(ctx.lang, panel_name, name_sv, name_en)
        items.append(FeedItem(
            key=f"panel-session:{s_id}", uid=uid, start=start, end=end, summary=title % {"panel": panel},
            status=_session_status(status), updated_dt=updated, sequence=sequence,
            url=ctx.url(f"/panels/sessions/{s_id}"), join_url=join_url,
        ))
    own_title = _("Expert panel, your case: %(panel)s")
    for (c_id, uid, start, end, c_status, sequence, c_updated, s_status, join_url, s_updated, panel_name, _panel,
         name_sv, name_en) in db.session.connection().execute(_own_cases_statement(), params):
        cancelled = c_status in ("withdrawn", "declined") or _session_status(s_status) == CANCELLED
        panel = _unit_name(ctx.lang, panel_name, name_sv, name_en)
        items.append(FeedItem(
            key=f"panel-case:{c_id}", uid=uid, start=start, end=end, summary=own_title % {"panel": panel},
            status=CANCELLED if cancelled else CONFIRMED, updated_dt=max(c_updated, s_updated), sequence=sequence,
            url=ctx.url(f"/panels/cases/{c_id}"), join_url=join_url,
        ))
    return items


def tombstone_items(user: User, ctx: FeedContext) -> Iterable[FeedItem]:
    """Panel times that left the user's feed sources lately (see tombstones.py), as cancelled. Last
    in PERSONAL_PROVIDERS: a live item with the same UID wins. One query."""
    t = FeedTombstone
    rows = db.session.connection().execute(
        select(t.item_key, t.uid, t.start_dt, t.end_dt, t.sequence, t.panel_name, t.cancelled_dt)
        .where(t.user_id == user.id, t.cancelled_dt >= ctx.cancelled_since, t.end_dt >= ctx.window_start))
    titles = {"panel-case": _("Expert panel, your case: %(panel)s"), "panel-session": _("Expert panel: %(panel)s")}
    paths = {"panel-case": "/panels/cases/", "panel-session": "/panels/sessions/"}
    items = []
    for key, uid, start, end, sequence, panel_name, cancelled in rows:
        kind, _sep, ref = key.partition(":")
        if kind not in titles:
            continue
        items.append(FeedItem(key=key, uid=uid, start=start, end=end, summary=titles[kind] % {"panel": panel_name},
                              status=CANCELLED, updated_dt=cancelled, sequence=sequence,
                              url=ctx.url(paths[kind] + ref)))
    return items


def panel_with_id(panel_id: int) -> Panel | None:
    panel = db.session.get(Panel, panel_id)
    return panel if panel is not None and panel.is_active else None


def subscribable_panels() -> list[tuple[int, str]]:
    return [(p_id, name) for p_id, name in db.session.execute(
        select(Panel.id, Panel.name).where(Panel.is_active.is_(True)).order_by(Panel.name))]


def panel_session_items(panel: Panel, ctx: FeedContext) -> Iterable[FeedItem]:
    """A panel's session dates, for anyone signed in: times and status only. One query."""
    rows = db.session.execute(
        select(PanelSession.id, PanelSession.ical_uid, PanelSession.start_dt, PanelSession.end_dt,
               PanelSession.status, PanelSession.sequence, PanelSession.updated_dt)
        .where(PanelSession.panel_id == panel.id, PanelSession.end_dt >= ctx.window_start)
    )
    summary = _("Expert panel session")
    for s_id, uid, start, end, status, sequence, updated in rows:
        yield FeedItem(
            key=f"panel-dates:{s_id}", uid=f"dates-{uid}", start=start, end=end, summary=summary,
            status=_session_status(status), updated_dt=updated, sequence=sequence, transparent=True,
            url=ctx.url(f"/panels/sessions/{s_id}"),
        )


class _Instant(FunctionElement):
    """A timestamp as a number, to be summed (see _stamps): a double, counted from a recent moment
    so that the sum of a few thousand still tells apart stamps under a millisecond apart."""

    type = Float()
    inherit_cache = True


@compiles(_Instant)
def _instant_sqlite(element, compiler, **kw):
    return f"(julianday({compiler.process(element.clauses, **kw)}) - 2460000.0)"  # days since 2023-02-24


@compiles(_Instant, "postgresql")
def _instant_pg(element, compiler, **kw):
    # date_part (a double), not extract (a numeric: a third of the statement's time at 2,000 items)
    return f"(date_part('epoch', {compiler.process(element.clauses, **kw)}) - 1700000000.0)"


def _stamps(column) -> tuple:
    """The latest stamp, and the sum of all: the sum changes whenever any row's stamp changes, even
    when another change with a later stamp was committed first (max() alone would hide it)."""
    return func.max(column), func.sum(_Instant(column))


def personal_state_statement(me) -> Select:
    """The validator of a personal feed, in one statement: `me` (a CTE with the user's `id`, and
    whatever else the caller wants back, e.g. the feed token's columns) joined to one row per
    source and parent (the series, panel) of the user's items in the window: how many, which (the
    sum of their ids), their stamps (sums, see _stamps), the parent's own stamp and the unit's
    names (units carry no stamp). Every change to an item stamps its updated_dt; a series or panel
    renamed stamps its own; an item that enters or leaves the set (a booking made, a consultant
    added, the window moving) changes the count and the ids. No item is read: a few groups, whatever
    the number of items. Parameters: the caller's for `me`, window_start and cancelled_since."""
    me_id = select(me.c.id).scalar_subquery()
    window_start = bindparam("window_start", type_=UTCDateTime)
    cancelled_since = bindparam("cancelled_since", type_=UTCDateTime)
    # typed NULLs where a source has no such column: PostgreSQL takes an untyped one for text
    no_id, no_dt, no_sum, no_text = (cast(null(), t) for t in (BigInteger, UTCDateTime, Float, String))

    b = Booking
    hosted = select(series_consultants.c.series_id).where(series_consultants.c.user_id == me_id)
    in_window = (b.end_dt >= window_start, or_(b.status != "cancelled", b.updated_dt >= cancelled_since))
    # booked, and hosted (not booked): two index lookups; with OR, PostgreSQL reads the whole table
    rows = union_all(select(b.series_id, b.id, b.updated_dt).where(b.booker_id == me_id, *in_window),
                     select(b.series_id, b.id, b.updated_dt)
                     .where(b.series_id.in_(hosted), b.booker_id != me_id, *in_window)).subquery()
    bookings = (
        select(rows.c.series_id, func.count().label("n"), func.sum(rows.c.id).label("ids"), *_stamps(rows.c.updated_dt))
        .group_by(rows.c.series_id).subquery()
    )
    by_series = (
        select(literal("booking"), *bookings.c, no_dt, no_sum, ConsultationSeries.updated_dt, Unit.name_fi,
               Unit.name_sv, Unit.name_en)
        .join_from(bookings, ConsultationSeries, ConsultationSeries.id == bookings.c.series_id)
        .join(Unit, Unit.id == ConsultationSeries.unit_id)
    )

    s = PanelSession
    secretary_of = select(PanelSecretary.panel_id).where(PanelSecretary.user_id == me_id)
    expert_in = (select(PanelCase.session_id).join(PanelCaseExpert, PanelCaseExpert.case_id == PanelCase.id)
                 .where(PanelCaseExpert.user_id == me_id, PanelCase.session_id.is_not(None)))
    sessions = (
        select(s.panel_id, func.count().label("n"), func.sum(s.id).label("ids"), *_stamps(s.updated_dt))
        .where(s.published_dt.is_not(None), s.end_dt >= window_start,
               or_(s.panel_id.in_(secretary_of), s.id.in_(expert_in)))
        .group_by(s.panel_id).subquery()
    )
    by_panel = (
        select(literal("session"), *sessions.c, no_dt, no_sum, Panel.updated_dt, no_text, no_text, no_text)
        .join_from(sessions, Panel, Panel.id == sessions.c.panel_id)
    )

    c = PanelCase
    cases = (
        select(c.panel_id, func.count().label("n"), func.sum(c.id).label("ids"), *_stamps(c.updated_dt),
               *_stamps(s.updated_dt))
        .join(s, c.session_id == s.id)
        .where(c.submitter_id == me_id, s.published_dt.is_not(None), c.start_dt.is_not(None),
               c.end_dt >= window_start)
        .group_by(c.panel_id).subquery()
    )
    own_cases = (
        select(literal("case"), *cases.c, Panel.updated_dt, no_text, no_text, no_text)
        .join_from(cases, Panel, Panel.id == cases.c.panel_id)
    )

    t = FeedTombstone
    tombstones = (
        select(literal("tombstone"), no_id, func.count(), func.sum(t.id), *_stamps(t.cancelled_dt),
               no_dt, no_sum, no_dt, no_text, no_text, no_text)
        .where(t.user_id == me_id, t.cancelled_dt >= cancelled_since, t.end_dt >= window_start)
    )

    groups = union_all(by_series, by_panel, own_cases, tombstones).subquery("groups")
    # the groups as the driver gives them: only ever compared with themselves, so nothing to convert
    return select(*me.c, *(type_coerce(c, NullType()) for c in groups.c)).select_from(me.outerjoin(groups, true()))


# In order of precedence: when two give the same UID, the first one's item is kept.
PERSONAL_PROVIDERS: list[Callable[[User, FeedContext], Iterable[FeedItem]]] = [
    consultation_items, panel_items, tombstone_items,
]
