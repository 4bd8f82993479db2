"""Form helpers shared by every domain (the only copy):

- `Form`: the base of every form; every free-text field (StringField and its kin: text areas,
  e-mail and password fields) goes through the text-hygiene check, so a NUL byte, a control
  character or half a surrogate pair is a field error and nothing is saved;
- `MultiCheckboxField`: a list of checkboxes;
- `choices(pairs)`: a choice list as WTForms 3.3 wants it;
- `apply_errors` / `error_message`: a service's ValidationFailed shown on the form's fields;
- `refused(form)`: a form posted from another page (a button on a case's page) that did not
  validate, as a ValidationFailed for the error handler (a message back on that page);
- `ids(values, field)`: database ids typed into a form, checked.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField, ValidationError
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from .errors import Conflict, DomainError, ValidationFailed
from .hygiene import text_problem

MAX_DB_INT = 2**31 - 1

# The refusals a form page shows on the form itself, keeping what the person typed; NotFound and
# Forbidden go to the application's error handler (core.views.domain_error_answer).
FORM_REFUSALS = (ValidationFailed, Conflict)


def clean_text(form, field) -> None:
    """Validator: refuse text that cannot be stored (NUL, control characters, lone surrogates)."""
    problem = text_problem(field.data if isinstance(field.data, str) else None)
    if problem:
        raise ValidationError(problem)


class Form(FlaskForm):
    """FlaskForm with `clean_text` on every free-text field, typed by people or not."""

    def validate(self, extra_validators=None) -> bool:
        extra = {name: list(v) for name, v in (extra_validators or {}).items()}
        for name, field in self._fields.items():
            if isinstance(field, StringField):
                extra.setdefault(name, []).insert(0, clean_text)
        return super().validate(extra)


class MultiCheckboxField(SelectMultipleField):
    """Several choices as checkboxes in a fieldset (the `field` macro renders the legend). A value not
    among the choices is a field error; with no choices set (the view does not know them), the
    service checks the values."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form) -> None:
        if self.process_errors or not self.data or self.choices is None:
            return
        values = {str(v) for v, *_ in self.iter_choices()}
        if any(str(d) not in values for d in self.data):
            raise ValidationError(str(_l("Choose from the options shown.")))


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs → SelectChoice objects (WTForms 3.3 deprecates tuples). A lazy label stays
    lazy, so a list built at import time is shown in each request's language."""
    return [SelectChoice(value, label) for value, label in pairs]


def apply_errors(form, exc: DomainError, aliases: dict[str, str] | None = None) -> dict[str, str]:
    """Put each of exc.fields under the form field of the same name (or its alias); return those
    the form has no field for (the error summary lists them)."""
    rest = {}
    for name, message in exc.fields.items():
        name = (aliases or {}).get(name, name)
        field = form._fields.get(name) if form is not None else None
        if field is not None:
            field.errors = [*list(field.errors or []), message]
        else:
            rest[name] = message
    return rest


def error_message(form, exc: DomainError, aliases: dict[str, str] | None = None) -> str:
    """apply_errors, and the summary's heading: the service's message and whatever no field shows."""
    return " ".join([exc.message, *apply_errors(form, exc, aliases).values()])


def refused(form, message=None) -> ValidationFailed:
    """The form's errors as a ValidationFailed (raise it: the handler flashes it and goes back)."""
    fields = {name: str(errors[0]) for name, errors in form.errors.items() if errors and name != "csrf_token"}
    if "csrf_token" in form.errors:
        message = _l("The form had expired. Please try again.")
    return ValidationFailed(str(message or _l("Please check the following")), fields=fields)


def ids(values, field: str) -> list[int]:
    """Whole numbers that can be database ids, or ValidationFailed naming the field."""
    out = []
    for v in values or []:
        text = str(v).strip()
        if not text.isascii() or not text.isdigit() or int(text) > MAX_DB_INT:
            raise ValidationFailed(str(_l("Choose from the options shown.")),
                                   fields={field: str(_l("Choose from the options shown."))})
        out.append(int(text))
    return out
