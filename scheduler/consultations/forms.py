"""Forms for consultation hours. They check the shape of input; the services enforce the rules."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from ..core.forms import Form, MultiCheckboxField, choices
from ..core.timefmt import parse_date, parse_time
from ..people.models import LANGUAGE_LABELS, UNIT_KIND_LABELS

MODALITY_LABELS = {"teams": _l("Teams"), "in_person": _l("In person"), "phone": _l("Phone")}
RECURRENCE_LABELS = {
    "weekly": _l("Every week"),
    "biweekly": _l("Every other week"),
    "monthly": _l("Once a month on the same weekday (e.g. the 2nd Tuesday)"),
}


def _date_ok(form, field):
    if field.data:
        try:
            parse_date(field.data)
        except ValueError as exc:
            raise ValidationError(_l("Write the date as d.m.yyyy, e.g. 5.1.2027.")) from exc


def _time_ok(form, field):
    if field.data:
        try:
            parse_time(field.data)
        except ValueError as exc:
            raise ValidationError(_l("Write the time as hh.mm, e.g. 13.00.")) from exc


def kind_choices():
    return choices(UNIT_KIND_LABELS.items())


def language_choices():
    return choices(LANGUAGE_LABELS.items())


def modality_choices():
    return choices(MODALITY_LABELS.items())


def recurrence_choices():
    return choices(RECURRENCE_LABELS.items())


class SeriesForm(Form):
    unit = SelectField(_l("Host unit"), validators=[DataRequired(_l("Choose the unit."))])
    title = StringField(_l("Title"), description=_l("For example: LANU consultation for child welfare."),
                        validators=[DataRequired(_l("Enter a title.")), Length(max=200)])
    description = TextAreaField(_l("What the consultation is for"),
                                description=_l("Shown to those who book. Do not write client details."),
                                validators=[Length(max=2000)])
    recurrence = RadioField(_l("How often"), default="weekly",
                            choices=recurrence_choices,
                            validators=[DataRequired(_l("Choose how often."))])
    first_date = StringField(_l("First date"), description=_l("d.m.yyyy, e.g. 5.1.2027. The weekday repeats."),
                             validators=[DataRequired(_l("Enter the first date.")), _date_ok])
    start_time = StringField(_l("Start time"), description=_l("hh.mm, e.g. 13.00"),
                             validators=[DataRequired(_l("Enter the start time.")), _time_ok])
    until = StringField(_l("Last date"), description=_l("d.m.yyyy. Leave empty to continue until further notice."),
                        validators=[Optional(), _date_ok])
    slot_minutes = IntegerField(_l("Length of one time (minutes)"), default=30,
                                validators=[InputRequired(_l("Enter the length in minutes.")),
                                            NumberRange(5, 480, _l("Enter a number between 5 and 480."))])
    slots = IntegerField(_l("Times one after another"), default=2,
                         description=_l("For example 2 × 30 minutes from 13.00: 13.00 and 13.30."),
                         validators=[InputRequired(_l("Enter the number of times.")),
                                     NumberRange(1, 48, _l("Enter a number between 1 and 48."))])
    capacity = IntegerField(_l("Cases per time"), default=1,
                            description=_l("1 for a one-to-one consultation; more for a joint consultation meeting."),
                            validators=[InputRequired(_l("Enter the number of cases.")),
                                        NumberRange(1, 50, _l("Enter a number between 1 and 50."))])
    modality = RadioField(_l("How it is held"), default="teams", choices=modality_choices,
                          validators=[DataRequired(_l("Choose how the consultation is held."))])
    location = StringField(_l("Place or phone number"), description=_l("For an in-person consultation, the address."),
                           validators=[Length(max=300)])
    languages = MultiCheckboxField(_l("Languages"), default=["fi"], choices=language_choices,
                                   validators=[DataRequired(_l("Choose at least one language."))])
    open_to = MultiCheckboxField(_l("Who may book"), choices=kind_choices,
                                 description=_l("Members of units of these kinds can book."),
                                 validators=[DataRequired(_l("Choose at least one kind of unit that may book."))])
    consultants = MultiCheckboxField(_l("Consultants who attend"), coerce=int,
                                     description=_l("They see the bookings and questions."))
    min_notice_hours = IntegerField(_l("Book at least this many hours ahead"), default=24,
                                    validators=[InputRequired(_l("Enter the number of hours.")),
                                                NumberRange(0, 1440, _l("Enter a number between 0 and 1440."))])
    # Optional Swedish and English texts; readers of another language see the Finnish ones above.
    title_sv = StringField(_l("Title in Swedish"), validators=[Optional(), Length(max=200)])
    title_en = StringField(_l("Title in English"), validators=[Optional(), Length(max=200)])
    description_sv = TextAreaField(_l("What the consultation is for, in Swedish"),
                                   validators=[Optional(), Length(max=2000)])
    description_en = TextAreaField(_l("What the consultation is for, in English"),
                                   validators=[Optional(), Length(max=2000)])
    location_sv = StringField(_l("Place in Swedish"), validators=[Optional(), Length(max=300)])
    location_en = StringField(_l("Place in English"), validators=[Optional(), Length(max=300)])
    horizon_days = IntegerField(_l("Bookable this many days ahead"), default=90,
                                validators=[InputRequired(_l("Enter the number of days.")),
                                            NumberRange(1, 730, _l("Enter a number between 1 and 730."))])


class SlotFilterForm(Form):
    class Meta:
        csrf = False

    kind = SelectField(_l("Service"), validators=[Optional()])
    unit = SelectField(_l("Unit"), validators=[Optional()])
    date_from = StringField(_l("From"), description=_l("d.m.yyyy"), validators=[Optional(), _date_ok])
    date_to = StringField(_l("To"), description=_l("d.m.yyyy"), validators=[Optional(), _date_ok])
    modality = SelectField(_l("How it is held"), validators=[Optional()])
    language = SelectField(_l("Language"), validators=[Optional()])


class BookingForm(Form):
    case_ref = StringField(_l("Case reference"),
                           description=_l("Your own pseudonymous reference, e.g. LS-2027-014. No names or identity codes."),
                           validators=[DataRequired(_l("Enter a case reference (no names).")), Length(max=60)])
    question = TextAreaField(_l("Your question"),
                             description=_l("What would you like to ask, so that the consultant can prepare? "
                                            "Describe the situation without names or identity codes."),
                             validators=[DataRequired(_l("Write what you would like to ask.")), Length(max=4000)])
    participants = TextAreaField(_l("Other participants' e-mail addresses"),
                                 description=_l("For example a colleague or a teacher. One per line; they get the invitation."),
                                 validators=[Length(max=2000)])


class CancelForm(Form):
    reason = TextAreaField(_l("Reason"), description=_l("Shown to the others. No client details."),
                           validators=[Length(max=1000)])


class MoveOccurrenceForm(Form):
    new_date = StringField(_l("New date"), description=_l("d.m.yyyy, e.g. 5.1.2027."),
                           validators=[DataRequired(_l("Enter the new date.")), _date_ok])
    new_time = StringField(_l("New start time"), description=_l("hh.mm, e.g. 13.00"),
                           validators=[DataRequired(_l("Enter the new start time.")), _time_ok])
    reason = TextAreaField(_l("Reason"), description=_l("Shown to the bookers. No client details."),
                           validators=[Length(max=1000)])
