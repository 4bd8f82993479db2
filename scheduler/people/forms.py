from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from ..core.forms import Form, MultiCheckboxField

# The longest e-mail address there is (RFC 5321 path limit; the users table's column) and a password
# length no one types: longer input is a field error before it reaches the throttle table or the hash.
MAX_EMAIL = 254
MAX_PASSWORD = 1024
_PASSWORD_MAX = Length(max=MAX_PASSWORD, message=_l("Use at most %(max)d characters."))


class SignInForm(Form):
    email = EmailField(_l("E-mail address"), validators=[
        DataRequired(_l("Enter your e-mail address.")),
        Length(max=MAX_EMAIL, message=_l("An e-mail address has at most %(max)d characters."))])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password.")), _PASSWORD_MAX])


class PasswordForm(Form):
    current = PasswordField(_l("Current password"), validators=[DataRequired(_l("Enter your current password."))])
    new = PasswordField(
        _l("New password"),
        description=_l("At least 12 characters. A short sentence is easy to remember."),
        validators=[DataRequired(_l("Enter a new password.")), Length(min=12, message=_l("Use at least 12 characters.")),
                    _PASSWORD_MAX],
    )


class ForgotPasswordForm(Form):
    email = EmailField(_l("E-mail address"),
                       description=_l("The address you sign in with. We send a link to set a new password."),
                       validators=[DataRequired(_l("Enter your e-mail address.")), Length(max=254)])


class NewPasswordForm(Form):
    new = PasswordField(
        _l("New password"),
        description=_l("At least 12 characters. A short sentence is easy to remember."),
        validators=[DataRequired(_l("Enter a new password.")), Length(min=12, message=_l("Use at least 12 characters."))],
    )


class LanguageForm(Form):
    language = RadioField(_l("Language of the service and of your e-mails"),
                          validators=[DataRequired(_l("Choose a language."))])


class TokenForm(Form):
    label = StringField(
        _l("Name of the token (optional)"),
        description=_l("For example the system that will use it."),
        validators=[Length(max=100, message=_l("Use at most 100 characters."))],
    )
    expires = StringField(
        _l("Valid until (optional)"),
        description=_l("Write the date as d.m.yyyy. Without a date the token works for one year."),
    )
    never_expires = BooleanField(_l("The token does not expire (revoke it when it is no longer needed)"))


# --- admin pages --------------------------------------------------------------------------------

def _strip(value):
    return value.strip() if isinstance(value, str) else value


class UnitForm(Form):
    code = StringField(
        _l("Code"),
        description=_l("A short identifier used in the command line and the CSV import, e.g. LS-ROI. It cannot be changed later."),
        filters=[_strip],
        validators=[DataRequired(_l("Enter a code.")), Length(max=40, message=_l("Use at most %(max)d characters."))],
    )
    name_fi = StringField(_l("Name in Finnish"), filters=[_strip],
                          validators=[DataRequired(_l("Enter the name in Finnish.")),
                                      Length(max=200, message=_l("Use at most %(max)d characters."))])
    name_sv = StringField(_l("Name in Swedish"), filters=[_strip],
                          validators=[Length(max=200, message=_l("Use at most %(max)d characters."))])
    name_en = StringField(_l("Name in English"), filters=[_strip],
                          validators=[Length(max=200, message=_l("Use at most %(max)d characters."))])
    kind = SelectField(_l("Kind of service"), validators=[DataRequired(_l("Choose the kind of service."))])
    is_active = BooleanField(_l("In use"), default=True)


class UserForm(Form):
    email = EmailField(
        _l("E-mail address"),
        description=_l("The address the person signs in with and receives invitations at."),
        filters=[_strip],
        validators=[DataRequired(_l("Enter the e-mail address.")),
                    Length(max=MAX_EMAIL, message=_l("An e-mail address has at most %(max)d characters."))],
    )
    name = StringField(_l("Name"), filters=[_strip],
                       validators=[DataRequired(_l("Enter the person's name.")),
                                   Length(max=200, message=_l("Use at most %(max)d characters."))])
    title = StringField(_l("Job title"), filters=[_strip],
                        validators=[Length(max=200, message=_l("Use at most %(max)d characters."))])
    organisation = StringField(_l("Organisation"), filters=[_strip],
                               validators=[Length(max=200, message=_l("Use at most %(max)d characters."))])
    roles = MultiCheckboxField(_l("Roles"), description=_l("Choose at least one."),
                               validators=[DataRequired(_l("Choose at least one role."))])
    units = MultiCheckboxField(_l("Units"))
    language = RadioField(_l("Language"), default="fi")
    is_active = BooleanField(_l("Account in use"), default=True,
                             description=_l("Disabling signs the person out at once."))
    password = PasswordField(
        _l("Password"),
        description=_l("At least 12 characters. Leave empty if the person signs in with the organisation's Microsoft account, or sets their own password from the welcome e-mail."),
        validators=[_PASSWORD_MAX],
    )
    send_link = BooleanField(
        _l("Send a welcome e-mail with a link to set a password"),
        default=True,
        description=_l("The link works once and expires in 7 days. Not needed if you set a password above or the person signs in with a Microsoft account."),
    )


class SetPasswordForm(Form):
    new_password = PasswordField(
        _l("New password"),
        description=_l("At least 12 characters. The person is signed out everywhere; tell them the new password in person or by phone."),
        validators=[DataRequired(_l("Enter a new password.")), Length(min=12, message=_l("Use at least 12 characters.")),
                    _PASSWORD_MAX],
    )


class ExpertiseForm(Form):
    name_fi = StringField(_l("Name in Finnish"), filters=[_strip],
                          validators=[DataRequired(_l("Enter the name in Finnish.")),
                                      Length(max=200, message=_l("Use at most %(max)d characters."))])
    name_sv = StringField(_l("Name in Swedish"), filters=[_strip],
                          validators=[DataRequired(_l("Enter the name in Swedish.")),
                                      Length(max=200, message=_l("Use at most %(max)d characters."))])
    name_en = StringField(_l("Name in English"), filters=[_strip],
                          validators=[DataRequired(_l("Enter the name in English.")),
                                      Length(max=200, message=_l("Use at most %(max)d characters."))])
    position = IntegerField(
        _l("Order"),
        description=_l("Areas are listed from the smallest number up."),
        validators=[InputRequired(_l("Enter a whole number from 0 to 999.")),
                    NumberRange(min=0, max=999, message=_l("Enter a whole number from 0 to 999."))],
    )


class ImportForm(Form):
    file = FileField(
        _l("CSV file"),
        description=_l("UTF-8 or Excel's Windows encoding; columns separated by commas or semicolons."),
        validators=[FileRequired(_l("Choose a CSV file."))],
    )
