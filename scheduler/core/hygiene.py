"""Text hygiene: the one check every piece of text a person types goes through (API and forms).

Refused: NUL and the other C0/C1 control characters except newline, carriage return and tab, and
lone surrogates. PostgreSQL refuses a NUL in a text column (a DataError after the INSERT has already
been sent, with the case text in its parameters), and control characters or half a surrogate pair
have no place in a case reference or a question; a person never types them on purpose, so we refuse
them with a field error instead of silently cleaning what they wrote.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

_ALLOWED_CONTROLS = {"\n", "\r", "\t"}
_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def text_problem(value: str | None) -> str | None:
    """A message (in the request's language) saying why the text cannot be stored, or None."""
    if not value:
        return None
    m = _BAD.search(value)
    if m is None:
        return None
    ch = m.group(0)
    if 0xD800 <= ord(ch) <= 0xDFFF:
        return str(_l("The text contains a broken character. Please type it again."))
    return str(_l("The text contains an invisible control character. Please remove it."))


def is_clean(value: str | None) -> bool:
    return text_problem(value) is None
