"""Form helpers shared by every domain: a list of checkboxes, and turning a service's
ValidationFailed into field errors on the form (shown under the labels and in the error summary)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectMultipleField, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from .errors import DomainError


class MultiCheckboxField(SelectMultipleField):
    """Several choices as checkboxes in a fieldset (the `field` macro renders the legend)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form) -> None:
        # An empty choice is valid here; the service says whether at least one is needed.
        if self.data:
            values = {str(v) for v, *_ in self.iter_choices()}
            for d in self.data:
                if str(d) not in values:
                    raise ValidationError(str(_l("Choose from the options shown.")))


def apply_errors(form, exc: DomainError, aliases: dict[str, str] | None = None) -> str | None:
    """Put each of exc.fields under the form field of the same name (or its alias).

    Returns the message that belongs to no field (for the error summary's heading), if any."""
    aliases = aliases or {}
    leftover = []
    for name, message in exc.fields.items():
        target = getattr(form, aliases.get(name, name), None)
        if target is not None and hasattr(target, "errors"):
            target.errors = [*list(target.errors or []), message]
        else:
            leftover.append(message)
    if leftover or not exc.fields:
        return " ".join([exc.message, *leftover]) if leftover else exc.message
    return None
