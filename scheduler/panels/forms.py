"""Forms of the expert panel. Forms check the shape of the input; the services enforce the rules."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..core.forms import Form, MultiCheckboxField, choices
from ..extensions import db
from ..people.models import LANGUAGE_LABELS, ExpertiseArea

WEEKDAY_CHOICES = choices([("MO", _l("Monday")), ("TU", _l("Tuesday")), ("WE", _l("Wednesday")),
                   ("TH", _l("Thursday")), ("FR", _l("Friday"))])
ORDINAL_CHOICES = choices([("1", _l("first")), ("2", _l("second")), ("3", _l("third")), ("4", _l("fourth")),
                   ("-1", _l("last"))])


def expertise_names() -> dict[str, str]:
    return {a.code: a.name for a in db.session.execute(select(ExpertiseArea).order_by(ExpertiseArea.position)).scalars()}


def expertise_choices() -> list:
    return choices((a.code, a.name) for a in db.session.execute(select(ExpertiseArea).order_by(ExpertiseArea.position)).scalars())


class CaseForm(Form):
    case_ref = StringField(
        _l("Case reference"),
        description=_l("A pseudonymous reference of your own, e.g. ROI-2027-017. Never a name or a personal identity code."),
        validators=[DataRequired(_l("Enter a pseudonymous case reference.")), Length(max=60)],
    )
    child_age = IntegerField(
        _l("Child's age"), description=_l("In full years."),
        validators=[InputRequired(_l("Enter the child's age in years (0–25).")),
                    NumberRange(0, 25, _l("Enter the child's age in years (0–25)."))],
    )
    municipality = StringField(_l("Municipality"), validators=[DataRequired(_l("Enter the municipality.")), Length(max=100)])
    language = RadioField(_l("Language of the case"), choices=choices([("fi", "Suomi"), ("sv", "Svenska")]), default="fi",
                          validators=[DataRequired(_l("Choose the language of the case."))])
    background = TextAreaField(
        _l("Background"),
        description=_l("The child's situation briefly, without names, identity codes or other identifying details."),
        validators=[DataRequired(_l("Describe the background briefly.")), Length(max=4000)],
    )
    questions = TextAreaField(
        _l("Questions to the panel"), description=_l("What do you want the panel to advise on?"),
        validators=[DataRequired(_l("Write the questions to the panel.")), Length(max=4000)],
    )
    expertise = MultiCheckboxField(_l("Expertise the case needs"), description=_l("Choose one or more."))
    services_tried = TextAreaField(_l("Services already tried"), validators=[Optional(), Length(max=4000)])
    client_consent = BooleanField(_l("The client or guardian has consented to being identified to the panel"),
                                  default=False)
    preferred_session_id = SelectField(
        _l("Preferred session"), description=_l("The secretary decides the session; sessions past their submission deadline are not listed."),
        choices=[], validators=[Optional()],
    )


class MessageForm(Form):
    message = TextAreaField(_l("Message to the submitter"), validators=[Length(max=4000)])


class ScheduleForm(Form):
    session_id = SelectField(_l("Session"), choices=[], validators=[DataRequired(_l("Choose a session."))])
    experts = MultiCheckboxField(_l("Experts"), description=_l("Suggested first: the most of the needed expertise, then the fewest recent cases."))


class MinutesForm(Form):
    minutes = IntegerField(_l("Minutes for this case"),
                           validators=[InputRequired(_l("A case takes 5–600 minutes.")),
                                       NumberRange(5, 600, _l("A case takes 5–600 minutes."))])


class MoveSessionForm(Form):
    date = StringField(_l("Date"), description=_l("For example 18.2.2027"), validators=[DataRequired(_l("Enter the date."))])
    start_time = StringField(_l("Starts at"), description=_l("For example 12.30"), validators=[DataRequired(_l("Enter the time."))])
    end_time = StringField(_l("Ends at"), description=_l("For example 15.30"), validators=[DataRequired(_l("Enter the time."))])


class CancelSessionForm(Form):
    reason = StringField(_l("Reason (optional)"), description=_l("Shown to the secretaries and the experts."),
                         validators=[Length(max=500)])


class AttendanceForm(Form):
    note = TextAreaField(_l("A note to the secretary (optional)"), validators=[Length(max=500)],
                         description=_l("For example when you could join. No names or identity codes."))


class StatementForm(Form):
    text = TextAreaField(_l("The panel's advice"), validators=[DataRequired(_l("Write the panel's advice."))])
    recommendations = TextAreaField(_l("Recommendations"), description=_l("One per line."), validators=[Optional()])
    responsible_services = TextAreaField(_l("Responsible services"), description=_l("One per line."), validators=[Optional()])
    follow_up = StringField(_l("Follow-up date"), description=_l("For example 1.6.2027"), validators=[Optional()])


class PanelForm(Form):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the panel's name (at most 200 characters).")),
                                               Length(max=200)])
    name_sv = StringField(_l("Name in Swedish"), validators=[Length(max=200)])
    name_en = StringField(_l("Name in English"), validators=[Length(max=200)])
    region = StringField(_l("Region"), validators=[Length(max=200)])
    frequency = RadioField(_l("How often"), choices=choices([("monthly", _l("Monthly")), ("weekly", _l("Weekly"))]), default="monthly")
    # required like every unmarked field (the form says so): they always have a value
    ordinal = SelectField(_l("Which week of the month"), choices=ORDINAL_CHOICES, default="2",
                          description=_l("Monthly sessions only."),
                          validators=[DataRequired(_l("Choose from the options shown."))])
    weekday = SelectField(_l("Weekday"), choices=WEEKDAY_CHOICES, default="TH",
                          validators=[DataRequired(_l("Choose from the options shown."))])
    interval = SelectField(_l("Every"), choices=choices([("1", _l("every time")), ("2", _l("every other"))]),
                           default="1", validators=[DataRequired(_l("Choose from the options shown."))])
    first_date = StringField(_l("First session on or after"), description=_l("For example 14.1.2027"),
                             validators=[DataRequired(_l("Enter the date."))])
    start_time = StringField(_l("Starts at"), description=_l("For example 12.30"), validators=[DataRequired(_l("Enter the time."))])
    end_time = StringField(_l("Ends at"), description=_l("For example 15.30"), validators=[DataRequired(_l("Enter the time."))])
    skip_july = BooleanField(_l("No sessions in July"), default=True)
    skip_holidays = BooleanField(_l("No sessions on public holidays"), default=True)
    case_minutes = IntegerField(_l("Minutes per case"), default=45,
                                validators=[InputRequired(_l("A case takes 5–600 minutes."))])
    submission_deadline_days = IntegerField(_l("Submission deadline (days before the session)"), default=10,
                                            validators=[InputRequired(_l("Use 0–90 days."))])
    agenda_days = IntegerField(_l("Agenda published (days before the session)"), default=5,
                               validators=[InputRequired(_l("Use 0–90 days."))])
    secretaries = TextAreaField(_l("Secretaries"), description=_l("E-mail addresses, one per line."))
    is_active = BooleanField(_l("The panel takes cases"), default=True)


class ExpertForm(Form):
    email = EmailField(_l("Expert's e-mail address"), validators=[DataRequired(_l("Enter the expert's e-mail address."))])
    expertise = MultiCheckboxField(_l("Expertise areas"))
    organisation = StringField(_l("Organisation"), validators=[Length(max=200)])
    languages = MultiCheckboxField(_l("Languages"), choices=choices(LANGUAGE_LABELS.items()), default=["fi"])
