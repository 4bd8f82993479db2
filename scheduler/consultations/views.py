"""Pages: book a consultation, my consultations, a booking, and the hosts' consultation hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from babel.dates import format_date as babel_format_date
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from ..core.db import utcnow
from ..core.errors import NotFound
from ..core.forms import FORM_REFUSALS, apply_errors, choices
from ..core.nav import NavItem, add_nav
from ..core.timefmt import app_tz, clock_word, format_day, format_time, parse_date, parse_time, to_local
from ..core.views import safe_next
from ..delivery.microsoft import teams_enabled
from ..extensions import db
from ..people.models import LANGUAGE_LABELS, UNIT_KIND_LABELS, Unit, User, UserRole
from . import notifications
from . import services as svc
from .forms import (
    MODALITY_LABELS,
    BookingForm,
    CancelForm,
    MoveOccurrenceForm,
    SeriesForm,
    SlotFilterForm,
)
from .models import BookingStatus, ConsultationSeries, OccurrenceStatus
from .slots import build_rrule, describe_rrule, find_occurrence, parse_slot_key, slot_key

bp = Blueprint("consultations", __name__, url_prefix="/consultations")

BOOKER_ROLES = ("social_worker", "consultant", "secretary", "expert")
HOST_ROLES = ("consultant", "admin")
LISTING_DAYS = 28


def _can_book_somewhere(user) -> bool:
    """A member of an active unit: only units book (a series is open to kinds of unit)."""
    return any(u.is_active for u in user.units)


def _can_host(user) -> bool:
    return bool(svc.hostable_units(user)) or bool(svc.hosted_series(user))


def init_views(app) -> None:
    app.register_blueprint(bp)
    add_nav(app, NavItem("consultations.find", _l("Book a consultation"), roles=BOOKER_ROLES, order=20,
                         description=_l("Find a free consultation time with LANU, substance services or child welfare."),
                         when=_can_book_somewhere))
    add_nav(app, NavItem("consultations.mine", _l("My consultations"), roles=BOOKER_ROLES, order=21,
                         description=_l("Your booked consultations: move or cancel them."),
                         when=_can_book_somewhere))
    add_nav(app, NavItem("consultations.hosting", _l("Consultation hours"), roles=HOST_ROLES, order=22,
                         description=_l("Publish your unit's consultation hours and see the questions booked."),
                         when=_can_host))


@bp.app_template_filter("modality")
def modality_label(value: str) -> str:
    return str(MODALITY_LABELS.get(value, value))


@bp.app_template_filter("unit_kind")
def unit_kind_label(value: str) -> str:
    return str(UNIT_KIND_LABELS.get(value, value))


@bp.app_template_filter("language_name")
def language_label(value: str) -> str:
    return LANGUAGE_LABELS.get(value, value)


def _lang() -> str:
    loc = get_locale()
    return loc.language if loc else "fi"


def weekday_name(code: str) -> str:
    # 4.1.2027 is a Monday
    d = date(2027, 1, 4) + timedelta(days=("MO", "TU", "WE", "TH", "FR", "SA", "SU").index(code))
    return babel_format_date(d, "EEEE", locale=_lang())


_NTH = {1: _l("Monthly on the first %(day)s"), 2: _l("Monthly on the second %(day)s"),
        3: _l("Monthly on the third %(day)s"), 4: _l("Monthly on the fourth %(day)s"),
        -1: _l("Monthly on the last %(day)s")}


@bp.app_template_filter("recurrence")
def recurrence_text(series: ConsultationSeries) -> str:
    kind, n, day = describe_rrule(series.rrule)
    if kind == "weekly" and day:
        return str(_l("Every week (%(day)s)", day=weekday_name(day)))
    if kind == "biweekly" and day:
        return str(_l("Every other week (%(day)s)", day=weekday_name(day)))
    if kind == "monthly" and day and n in _NTH:
        return str(_NTH[n]) % {"day": weekday_name(day)}
    return series.rrule


def teams_note(modality: str, join_url: str | None) -> str | None:
    """What the page says about the meeting link when there is none yet."""
    if modality != "teams" or join_url:
        return None
    if teams_enabled():
        return str(_l("The Teams link will appear here and in your invitation shortly."))
    return str(_l("The host sends the Teams link before the consultation."))


def _today() -> date:
    return to_local(utcnow()).date()


# --- finding and booking ------------------------------------------------------------------------

@dataclass(frozen=True)
class SeriesFacts:
    title: str
    service: str  # "title – unit"
    how: str  # "Phone" / "In person: place"
    languages: str  # "Languages: Finnish, Swedish"


@dataclass(frozen=True)
class SlotRow:
    id: str
    day: date
    time: str  # klo 13.00–13.30, under the day heading
    when: str  # ti 5.1.2027 klo 13.00, for screen readers
    series: SeriesFacts
    free_places: str
    book_url: str


def slot_rows(slots: list) -> list[SlotRow]:
    """The listing's rows, formatted here once per series, per day and per page rather than in the
    template per slot (a four-week listing holds hundreds of times: the page social workers open most)."""
    facts: dict[int, SeriesFacts] = {}
    days: dict[date, str] = {}
    book_url = url_for("consultations.book", slot_id="SLOT")
    lang = _lang()
    tz = app_tz()
    clock = clock_word(lang)
    languages_label = str(_l("Languages"))
    rows = []
    for sv in slots:
        s = sv.series
        if s.id not in facts:
            title, place = s.localized("title", lang), s.localized("location", lang)
            how = modality_label(s.modality) + (f": {place}" if place else "")
            langs = ", ".join(language_label(code) for code in (s.languages or []))
            facts[s.id] = SeriesFacts(title, f"{title} – {s.unit.name}", how, f"{languages_label}: {langs}")
        start, end = sv.start_dt.astimezone(tz), sv.end_dt.astimezone(tz)
        day = start.date()
        if day not in days:
            days[day] = format_day(day, lang)
        begins = format_time(start.time())
        free_places = (str(_l("Free places: %(n)d of %(c)d", n=sv.free, c=sv.capacity)) if sv.capacity > 1 else "")
        slot_id = sv.id
        rows.append(SlotRow(slot_id, day, f"{clock} {begins}–{format_time(end.time())}", f"{days[day]} {clock} {begins}",
                            facts[s.id], free_places, book_url.replace("SLOT", slot_id)))
    return rows


def _filter_form(defaults: dict | None = None) -> SlotFilterForm:
    """The booking list's filters (the same on the reschedule page); `defaults` when nothing was chosen."""
    args = request.args
    units = db.session.execute(
        select(Unit).join(ConsultationSeries, ConsultationSeries.unit_id == Unit.id)
        .where(ConsultationSeries.is_active.is_(True)).distinct().order_by(Unit.code)
    ).scalars().all()
    if defaults and not any(args.get(k) for k in ("kind", "unit", "modality", "language", "date_from", "date_to")):
        # a default unit that takes no bookings now is left out rather than shown as an error
        defaults = {k: v for k, v in defaults.items() if k != "unit" or any(u.code == v for u in units)}
        args = MultiDict(defaults)  # type: ignore[assignment]
    form = SlotFilterForm(args)
    form.kind.choices = choices([("", _l("All services")), *UNIT_KIND_LABELS.items()])
    form.unit.choices = choices([("", _l("All units"))] + [(u.code, u.name) for u in units])
    form.modality.choices = choices([("", _l("Any")), *MODALITY_LABELS.items()])
    form.language.choices = choices([("", _l("Any")), *LANGUAGE_LABELS.items()])
    return form


def _free_times(form: SlotFilterForm, *, exclude=None):
    """(days, free, full, d1, d2, status): bookable times by local day, earliest first."""
    d1, d2 = _today(), _today() + timedelta(days=LISTING_DAYS - 1)
    free, full, status = [], [], 200
    if form.validate():
        if form.date_from.data:
            d1 = parse_date(form.date_from.data)
        d2 = parse_date(form.date_to.data) if form.date_to.data else d1 + timedelta(days=LISTING_DAYS - 1)
        flt = svc.SlotFilter(date_from=d1, date_to=d2, unit=form.unit.data or None, kind=form.kind.data or None,
                             modality=form.modality.data or None, language=form.language.data or None,
                             bookable_only=True)
        try:
            slots = svc.list_slots(actor=current_user, flt=flt)
        except FORM_REFUSALS as exc:
            apply_errors(form, exc, {"to": "date_to", "from": "date_from"})
            slots, status = [], 422
        if exclude is not None:
            slots = [s for s in slots if not exclude(s)]
        free = [s for s in slots if not s.is_full]
        full = [s for s in slots if s.is_full]
    else:
        status = 422
    days: dict[date, list[SlotRow]] = {}
    for row in slot_rows(free):
        days.setdefault(row.day, []).append(row)
    return days, free, slot_rows(full), d1, d2, status


def _filters_chosen(form: SlotFilterForm) -> bool:
    return bool(form.errors) or any(f.data for f in (form.kind, form.unit, form.modality, form.language,
                                                      form.date_from, form.date_to))


@bp.route("/")
@login_required
def find():
    form = _filter_form()
    days, free, full, d1, d2, status = _free_times(form)
    return render_template("consultations/find.html", form=form, days=days, free=free, full=full,
                           d1=d1, d2=d2, has_unit=bool(current_user.units),
                           filters_open=_filters_chosen(form)), status


@bp.route("/book/<slot_id>", methods=["GET", "POST"])
@login_required
def book(slot_id: str):
    sv = svc.resolve_slot(slot_id)
    if not svc.can_book(current_user, sv.series):
        abort(403)
    form = BookingForm()
    summary_fields: dict[str, str] = {}
    message = None
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                booking = svc.run_atomically(lambda: svc.book_slot(
                    actor=current_user, slot_id=slot_id, case_ref=form.case_ref.data, question=form.question.data,
                    participants=form.participants.data))
            except FORM_REFUSALS as exc:
                summary_fields = apply_errors(form, exc)
                message = exc.message
                status = exc.status
            else:
                flash(_l("The consultation is booked. You will get a calendar invitation by e-mail."), "success")
                return redirect(url_for("consultations.booking_detail", booking_id=booking.id))
        else:
            status = 422
    booked = svc.booked_count(sv)
    return render_template("consultations/book.html", form=form, sv=sv, booked=booked, message=message,
                           summary_fields=summary_fields, note=teams_note(sv.series.modality, None)), status


# --- my consultations and a booking ---------------------------------------------------------------

@bp.route("/mine")
@login_required
def mine():
    upcoming, past = svc.my_bookings(current_user)
    html = render_template("consultations/mine.html", upcoming=upcoming, past=past, now=utcnow())
    # logged after rendering: a commit before it would reload every row shown
    svc.log_booking_reads(current_user, upcoming + past, via="page")
    db.session.commit()
    return html


@bp.route("/bookings/<int:booking_id>")
@login_required
def booking_detail(booking_id: int):
    try:
        booking = svc.read_booking(actor=current_user, booking_id=booking_id, via="page")
    except NotFound:
        db.session.commit()  # the refusal stays in the access log; the handler answers 404
        raise
    db.session.commit()
    return render_template("consultations/booking.html", booking=booking, cancel_form=CancelForm(),
                           note=teams_note(booking.series.modality, booking.join_url),
                           is_booker=booking.booker_id == current_user.id, now=utcnow())


@bp.route("/bookings/<int:booking_id>/calendar.ics")
@login_required
def booking_calendar(booking_id: int):
    """"Add to my calendar": this one consultation as an .ics file, without case content."""
    booking = svc.get_booking(actor=current_user, booking_id=booking_id)
    body = notifications.booking_calendar_file(booking, _lang())
    return Response(body, mimetype="text/calendar", headers={
        "Content-Disposition": f'attachment; filename="consultation-{booking.id}.ics"',
        "Cache-Control": "private, no-store"})


@bp.route("/bookings/<int:booking_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(booking_id: int):
    """GET: the confirmation step (works without JavaScript); POST: cancel."""
    booking = svc.get_booking(actor=current_user, booking_id=booking_id)
    form = CancelForm()
    is_booker = booking.booker_id == current_user.id
    if request.method == "GET":
        if booking.status != "confirmed" or booking.end_dt <= utcnow():
            return redirect(url_for("consultations.booking_detail", booking_id=booking_id))
        return render_template("consultations/cancel.html", booking=booking, form=form, is_booker=is_booker)
    if form.validate_on_submit():
        try:
            booking = svc.run_atomically(lambda: svc.cancel_booking(actor=current_user, booking_id=booking_id,
                                                                    reason=form.reason.data or ""))
        except FORM_REFUSALS as exc:
            rest = apply_errors(form, exc)
            booking = svc.get_booking(actor=current_user, booking_id=booking_id)
            if booking.status == "confirmed" and booking.end_dt > utcnow():
                return render_template("consultations/cancel.html", booking=booking, form=form, is_booker=is_booker,
                                       message=exc.message, summary_fields=rest), exc.status
            return render_template("consultations/booking.html", booking=booking, cancel_form=form,
                                   message=exc.message, summary_fields=rest, is_booker=is_booker, now=utcnow(),
                                   note=teams_note(booking.series.modality, booking.join_url)), exc.status
        if booking.already_done:
            flash(_l("This booking has already been cancelled."), "success")
        else:
            flash(_l("The consultation was cancelled. The others are told."), "success")
        return redirect(url_for("consultations.mine" if is_booker else "consultations.hosting"))
    return render_template("consultations/cancel.html", booking=booking, form=form, is_booker=is_booker), 422


@bp.route("/bookings/<int:booking_id>/reschedule", methods=["GET", "POST"])
@login_required
def reschedule(booking_id: int):
    booking = svc.get_booking(actor=current_user, booking_id=booking_id)
    if booking.booker_id != current_user.id:
        abort(403)
    if booking.status != BookingStatus.CONFIRMED:
        flash(_l("A cancelled booking cannot be moved."), "error")
        return redirect(url_for("consultations.booking_detail", booking_id=booking_id))
    message, status = None, 200
    if request.method == "POST":
        form = CancelForm()  # only for its CSRF check
        if form.validate_on_submit():
            try:
                moved = svc.run_atomically(lambda: svc.reschedule_booking(actor=current_user, booking_id=booking_id,
                                                                          slot_id=request.form.get("slot_id", "")))
            except (*FORM_REFUSALS, NotFound) as exc:  # a time that is gone is said on the page
                message, status = exc.message, exc.status
                booking = svc.get_booking(actor=current_user, booking_id=booking_id)
            else:
                if moved.already_done:
                    flash(_l("The booking is already at this time."), "success")
                else:
                    flash(_l("The consultation was moved. The others get an updated invitation."), "success")
                return redirect(url_for("consultations.booking_detail", booking_id=booking_id))
        else:
            message, status = str(_l("The form had expired. Please try again.")), 400
    # The same filters as the booking list, starting from the booking's own unit.
    form = _filter_form({"kind": booking.series.unit.kind, "unit": booking.series.unit.code})
    days, free, full, d1, d2, list_status = _free_times(
        form, exclude=lambda s: s.series.id == booking.series_id and s.start_dt == booking.start_dt)
    if status == 200:
        status = list_status
    return render_template("consultations/reschedule.html", booking=booking, form=form, days=days, free=free,
                           d1=d1, d2=d2, message=message, filters_open=True), status


# --- hosting ----------------------------------------------------------------------------------------

@bp.route("/hosting")
@login_required
def hosting():
    series = svc.hosted_series(current_user)
    bookings = svc.hosted_bookings(current_user)
    can_publish = bool(svc.hostable_units(current_user))
    if not series and not can_publish:
        abort(403)
    html = render_template("consultations/hosting.html", series=series, bookings=bookings, can_publish=can_publish)
    svc.log_booking_reads(current_user, bookings, via="page")  # one entry per booking shown
    db.session.commit()
    return html


def _consultant_choices(units: list[Unit]) -> list:
    unit_ids = [u.id for u in units]
    people = db.session.execute(
        select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == "consultant", User.is_active.is_(True)).order_by(User.name)
    ).scalars().all()
    chosen = [p for p in people if any(u.id in unit_ids for u in p.units)]
    if all(p.id != current_user.id for p in chosen):
        chosen.insert(0, current_user._get_current_object())
    return choices((p.id, p.name) for p in chosen)


@bp.route("/series/new", methods=["GET", "POST"])
@login_required
def new_series():
    units = svc.hostable_units(current_user)
    if not units:
        abort(403)
    form = SeriesForm()
    form.unit.choices = choices((u.code, u.name) for u in units)
    form.consultants.choices = _consultant_choices(units)
    if request.method == "GET":
        form.consultants.data = [current_user.id]
        others = [k for k in ("child_welfare", "lanu", "substance") if k not in {u.kind for u in units}]
        form.open_to.data = others or ["child_welfare"]
    message, rest, status = None, {}, 200
    if request.method == "POST":
        if form.validate_on_submit():
            first_day = parse_date(form.first_date.data)
            first = datetime.combine(first_day, parse_time(form.start_time.data))
            picked = {p.id: p for p in db.session.execute(
                select(User).where(User.id.in_(form.consultants.data or []))).scalars()}
            data = svc.SeriesInput(
                unit=form.unit.data, title=form.title.data, rrule=build_rrule(form.recurrence.data, first_day),
                first_start=first, slot_minutes=form.slot_minutes.data, slots=form.slots.data,
                capacity=form.capacity.data, modality=form.modality.data, location=form.location.data or "",
                languages=form.languages.data, open_to=form.open_to.data,
                min_notice_hours=form.min_notice_hours.data, horizon_days=form.horizon_days.data,
                until=parse_date(form.until.data) if form.until.data else None,
                consultants=list(picked.values()) or None, description=form.description.data or "",
                **{f"{name}_{lang}": getattr(form, f"{name}_{lang}").data or ""
                   for name in svc.TRANSLATED_SERIES_FIELDS for lang in ("sv", "en")})
            try:
                series = svc.run_atomically(lambda: svc.create_series(actor=current_user, data=data))
            except FORM_REFUSALS as exc:
                rest = apply_errors(form, exc, {"first_start": "first_date", "rrule": "recurrence"})
                message, status = exc.message, exc.status
            else:
                flash(_l("The consultation hours are published."), "success")
                return redirect(url_for("consultations.series_detail", series_id=series.id))
        else:
            status = 422
    return render_template("consultations/series_form.html", form=form, message=message, summary_fields=rest), status


def _hosted_or_404(series_id: int) -> ConsultationSeries:
    series = db.session.get(ConsultationSeries, series_id)
    if series is None or not svc.is_host(current_user, series):
        abort(404)
    return series


@bp.route("/series/<int:series_id>")
@login_required
def series_detail(series_id: int):
    series = _hosted_or_404(series_id)
    occs = svc.upcoming_occurrences(series)
    cancelled = [c for c in series.changes if c.new_start_dt is None and c.original_start_dt >= utcnow()]
    return render_template("consultations/series.html", series=series, occurrences=occs, cancelled=cancelled,
                           slot_key=slot_key)


@bp.route("/series/<int:series_id>/active", methods=["POST"])
@login_required
def set_active(series_id: int):
    _hosted_or_404(series_id)
    form = CancelForm()
    if form.validate_on_submit():
        active = request.form.get("active") == "1"
        svc.run_atomically(lambda: svc.set_series_active(actor=current_user, series_id=series_id, active=active))
        flash(_l("Bookings are open.") if active else _l("No new bookings are taken."), "success")
    return redirect(url_for("consultations.series_detail", series_id=series_id))


def _occurrence_or_404(series: ConsultationSeries, key: str):
    parsed = parse_slot_key(key)
    occ = find_occurrence(series, parsed[1]) if parsed and parsed[0] == series.id else None
    if occ is None:
        abort(404)
    return occ


@bp.route("/series/<int:series_id>/occurrences/<key>", methods=["GET", "POST"])
@login_required
def occurrence(series_id: int, key: str):
    series = _hosted_or_404(series_id)
    parsed = parse_slot_key(key)
    if (request.method == "POST" and parsed and parsed[0] == series.id
            and svc.occurrence_status(series, parsed[1]) == OccurrenceStatus.CANCELLED):
        flash(_l("This time has already been cancelled."), "success")  # a repeated cancel, say
        return redirect(url_for("consultations.series_detail", series_id=series.id))
    occ = _occurrence_or_404(series, key)
    cancel_form = CancelForm(prefix="cancel")
    move_form = MoveOccurrenceForm(prefix="move")
    message, rest, status = None, {}, 200
    action = request.form.get("action")
    if request.method == "POST":
        try:
            if action == "cancel" and cancel_form.validate_on_submit():
                affected = svc.run_atomically(lambda: svc.cancel_occurrence(
                    actor=current_user, series_id=series.id, original_start_dt=occ.original_start_dt,
                    reason=cancel_form.reason.data or ""))
                flash(_l("The time was cancelled. Bookings cancelled: %(n)d.", n=len(affected)), "success")
                return redirect(url_for("consultations.series_detail", series_id=series.id))
            if action == "move" and move_form.validate_on_submit():
                new_start = datetime.combine(parse_date(move_form.new_date.data), parse_time(move_form.new_time.data))
                affected = svc.run_atomically(lambda: svc.move_occurrence(
                    actor=current_user, series_id=series.id, original_start_dt=occ.original_start_dt,
                    new_start=new_start, reason=move_form.reason.data or ""))
                flash(_l("The time was moved. Bookings moved: %(n)d.", n=len(affected)), "success")
                return redirect(url_for("consultations.series_detail", series_id=series.id))
            status = 422
        except FORM_REFUSALS as exc:
            form = cancel_form if action == "cancel" else move_form
            rest = apply_errors(form, exc, {"new_start": "new_date"})
            message, status = exc.message, exc.status
            series = _hosted_or_404(series_id)
            occ = _occurrence_or_404(series, key)
    bookings = svc.occurrence_bookings(series, occ)
    show_case = svc.is_host(current_user, series, admin=False)
    html = render_template("consultations/occurrence.html", series=series, occ=occ, bookings=bookings,
                           cancel_form=cancel_form, move_form=move_form, message=message, summary_fields=rest,
                           key=key, show_case=show_case)
    if show_case:
        svc.log_booking_reads(current_user, bookings, via="page")
        db.session.commit()
    return html, status


__all__ = ["bp", "init_views", "safe_next"]
