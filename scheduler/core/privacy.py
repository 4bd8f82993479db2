"""Pseudonymity checks: free text about a case must not carry a Finnish personal identity code."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

from .errors import ValidationFailed

# DDMMYY, century sign (+ - A B C D E F / Y X W V U), 3-digit individual number, check character.
_HETU = re.compile(r"(?<![0-9A-Za-z])(\d{2})(\d{2})(\d{2})([-+ABCDEFYXWVU])(\d{3})([0-9A-Ya-y])(?![0-9A-Za-z])")
_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def find_identity_codes(text: str | None) -> list[str]:
    """Return every valid henkilötunnus (checked with its control character) found in text."""
    if not text:
        return []
    found = []
    for m in _HETU.finditer(text):
        dd, mm, yy, _sep, nnn, check = m.groups()
        if not (1 <= int(dd) <= 31 and 1 <= int(mm) <= 12):
            continue
        if _CHECK[int(dd + mm + yy + nnn) % 31] == check.upper():
            found.append(m.group(0))
    return found


def refuse_identity_codes(**fields: str | None) -> None:
    """Raise ValidationFailed naming each field that holds an identity code."""
    bad = {
        name: str(_l("Remove the personal identity code. Cases are pseudonymous: do not write names or identity codes."))
        for name, value in fields.items()
        if find_identity_codes(value)
    }
    if bad:
        raise ValidationFailed(str(_l("The text contains a personal identity code.")), fields=bad)
