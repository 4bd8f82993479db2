"""Pseudonymity: free text about a case must not carry a Finnish personal identity code
(henkilötunnus). One detector for every text a person types, pages and API alike.

A code is DDMMYY + a separator + a three-digit individual number + a check character. People
write it in many ways, so the text is normalised first:

- NFKC (full-width digits and letters become ASCII, a no-break space becomes a space);
- every Unicode dash and hyphen (en dash, em dash, minus sign U+2212, non-breaking hyphen U+2011,
  …) becomes `-`; zero-width characters and soft hyphens are dropped;
- upper case (a lowercase century sign or check character counts).

The separator may be any century sign of the 2023 reform (`+`, `-`, `Y X W V U`, `A B C D E F`),
with or without spaces around it, a space, or nothing at all. The code may sit anywhere, also
glued to letters (`hetu131052-308T`). It counts only when the date exists and the check
character matches, which keeps phone numbers, case references and dates from false alarms.
"""

from __future__ import annotations

import re
import unicodedata
from calendar import monthrange
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from .errors import ValidationFailed

_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"
_CENTURIES = {"+": (1800,), "-": (1900,), "Y": (1900,), "X": (1900,), "W": (1900,), "V": (1900,), "U": (1900,),
              "A": (2000,), "B": (2000,), "C": (2000,), "D": (2000,), "E": (2000,), "F": (2000,)}
_ANY_CENTURY = (1800, 1900, 2000)

# dropped before matching: soft hyphen, zero-width space/joiners, word joiner, BOM, Mongolian vowel separator
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e\u034f"), None)
# minus signs and hyphen-likes that are not in the dash punctuation category (Pd)
_EXTRA_DASHES = "\u2212\u2796\u02d7\u2043\u207b\u208b\uff0d"

_HETU = re.compile(
    r"(?<!\d)"
    r"(?P<dd>\d{2})(?P<mm>\d{2})(?P<yy>\d{2})"
    r"(?P<sep>[ \t]{0,3}[-+A-FYXWVU][ \t]{0,3}|[ \t]{1,3})?"
    r"(?P<nnn>\d{3})"
    r"(?P<check>[0-9A-Y])"
    r"(?!(?<=\d)\d)"  # a digit check character must end the number
)


@dataclass(frozen=True)
class IdentityCode:
    text: str  # as found, after normalisation (e.g. "131052-308T")
    masked: str  # the individual number hidden (e.g. "131052-***T")


def normalise(text: str) -> str:
    """The text as the detector reads it (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    out = []
    for ch in text:
        if ch in _EXTRA_DASHES or (ch != "-" and unicodedata.category(ch) == "Pd"):
            out.append("-")
        else:
            out.append(ch)
    return "".join(out).upper()


def _date_exists(dd: int, mm: int, yy: int, centuries: tuple[int, ...]) -> bool:
    if not 1 <= mm <= 12 or dd < 1:
        return False
    return any(dd <= monthrange(c + yy, mm)[1] for c in centuries)


def identity_codes(text: str | None) -> list[IdentityCode]:
    """Every personal identity code in text whose date exists and whose check character matches."""
    if not text:
        return []
    found = []
    for m in _HETU.finditer(normalise(text)):
        dd, mm, yy, nnn, check = m["dd"], m["mm"], m["yy"], m["nnn"], m["check"]
        sign = (m["sep"] or "").strip()
        if not _date_exists(int(dd), int(mm), int(yy), _CENTURIES.get(sign, _ANY_CENTURY)):
            continue
        if _CHECK[int(dd + mm + yy + nnn) % 31] != check:
            continue
        sep = m["sep"] or ""
        found.append(IdentityCode(text=m.group(0), masked=f"{dd}{mm}{yy}{sep}***{check}"))
    return found


def find_identity_codes(text: str | None) -> list[str]:
    """The codes found in text, as normalised strings (empty when there are none)."""
    return [c.text for c in identity_codes(text)]


def identity_code_problem(value: str | None) -> str | None:
    """A field error (in the request's language) naming what was found and why, or None."""
    codes = identity_codes(value)
    if not codes:
        return None
    return str(_l("This looks like a personal identity code (%(code)s): the date exists and the check character "
                  "matches. Cases are pseudonymous: remove the identity code and any names.",
                  code=", ".join(c.masked for c in codes[:3])))


def identity_code_errors(errors: dict[str, str] | None = None, **fields: str | None) -> dict[str, str]:
    """Add a field error for each field holding an identity code (a field already in error keeps
    its first error); returns the dict."""
    errors = {} if errors is None else errors
    for name, value in fields.items():
        problem = identity_code_problem(value)
        if problem and name not in errors:
            errors[name] = problem
    return errors


def refuse_identity_codes(**fields: str | None) -> None:
    """Raise ValidationFailed naming each field that holds an identity code."""
    bad = identity_code_errors(**fields)
    if bad:
        raise ValidationFailed(str(_l("The text contains a personal identity code.")), fields=bad)
