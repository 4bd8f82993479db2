"""The API's one input layer.

Every request body, query string and response body of /api/v1 is a pydantic model. The same model
validates the request (an endpoint receives a checked, typed object, never `request.json`) and
writes its part of /api/v1/openapi.json (`models_json_schema`), so the document cannot say
something the validation does not do.

Checked here, before any service runs: JSON syntax, body size (the blueprint lowers
MAX_CONTENT_LENGTH), nesting depth, types (strict: no "1" for 1, no 1 for "1"), required fields,
lengths (those of the database columns), list sizes, integer ranges (ids within a database
INTEGER), dates within 2000–2100 and text hygiene (`core.hygiene.text_problem`) for every string.
A failure is a 422 `validation_failed` with one message per field, in the caller's language.
The services still enforce the rules of the domain (who may do what, what exists, what fits).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from flask import request
from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema
from pydantic_core import PydanticCustomError

from ..core.errors import ValidationFailed
from ..core.hygiene import text_problem

DB_INT_MAX = 2**31 - 1  # the largest value of an INTEGER column (PostgreSQL and our ids)
MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_DEPTH = 8  # the deepest body we describe is 3 levels; anything far deeper is not for us
MAX_BODY_BYTES = 256 * 1024  # the largest real body (a case with 3 × 4000 characters) is ~50 kB
MAX_LIST = 50


class ApiModel(BaseModel):
    """A request part: strict types, unknown fields ignored (older and newer clients keep working)."""

    model_config = ConfigDict(strict=True, extra="ignore", populate_by_name=True)


class ResponseModel(BaseModel):
    """A response body: only describes what the endpoints answer (checked by the fuzz test)."""

    model_config = ConfigDict(extra="forbid")


# --- field types ----------------------------------------------------------------------------------

def _refuse(message: Any) -> PydanticCustomError:
    # The message is already in the caller's language; the field name comes from the location.
    return PydanticCustomError("scheduler", "{message}", {"message": str(message)})


def _hygiene(value: Any) -> Any:
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            raise _refuse(problem)
    return value


def Text(max_length: int, *, description: str | None = None) -> Any:  # noqa: N802  (reads as a type)
    """A string a person typed: at most `max_length` characters (the column's length), no NUL,
    control characters or lone surrogates."""
    return Annotated[str, BeforeValidator(_hygiene), Field(max_length=max_length, description=description)]


def Int(low: int, high: int, *, description: str | None = None) -> Any:  # noqa: N802
    return Annotated[int, Field(ge=low, le=high, description=description)]


Id = Annotated[int, Field(ge=1, le=DB_INT_MAX)]
Email = Annotated[str, BeforeValidator(_hygiene), Field(max_length=254)]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_PATTERN = r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_LOCAL_DT = re.compile(r"(\d{4})-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})?")
_LOCAL_DT_PATTERN = (r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
                     r"T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?(Z|[+-][01][0-9]:[0-5][0-9])?$")


def _in_years(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise _refuse(_l("Choose a date between the years %(lo)d and %(hi)d.", lo=MIN_YEAR, hi=MAX_YEAR))


def _iso_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    message = _l("Use the format YYYY-MM-DD.")
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise _refuse(message)
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise _refuse(message) from None
    _in_years(parsed.year)
    return parsed


def _local_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    message = _l("Use local time, e.g. 2027-01-05T13:00.")
    if not isinstance(value, str) or not _LOCAL_DT.fullmatch(value):
        raise _refuse(message)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _refuse(message) from None
    _in_years(parsed.year)
    return parsed


IsoDate = Annotated[date, BeforeValidator(_iso_date),
                    WithJsonSchema({"type": "string", "pattern": _DATE_PATTERN,
                                    "description": "A date, YYYY-MM-DD, years 2000–2100."})]
LocalDateTime = Annotated[datetime, BeforeValidator(_local_datetime),
                          WithJsonSchema({"type": "string", "pattern": _LOCAL_DT_PATTERN,
                                          "description": "Local (Europe/Helsinki) wall time, e.g. 2027-01-05T13:00; "
                                                         "an offset is optional. Years 2000–2100."})]


def checked_by(check: Callable[[str], Any], message: Any) -> BeforeValidator:
    """A string field that a domain parser must accept (e.g. a recurrence rule)."""

    def run(value: Any) -> Any:
        if isinstance(value, str) and not text_problem(value):
            try:
                check(value)
            except (ValueError, TypeError, OverflowError):
                raise _refuse(message) from None
        return value

    return BeforeValidator(run)


_FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False, "": False}


def _flag(value: Any) -> Any:
    if isinstance(value, str):
        if value not in _FLAGS:
            raise _refuse(_l("Use 1 or 0."))
        return _FLAGS[value]
    return value


Flag = Annotated[bool, BeforeValidator(_flag),
                 WithJsonSchema({"type": "string", "enum": list(_FLAGS)})]


# --- errors in the caller's language --------------------------------------------------------------

def _bounds(model: type[BaseModel], loc: tuple) -> tuple[Any, Any]:
    field = model.model_fields.get(str(loc[0])) if loc else None
    if field is None:
        for f in model.model_fields.values():
            if f.alias == (loc[0] if loc else None):
                field = f
    low = high = None
    for meta in getattr(field, "metadata", []) or []:
        low = getattr(meta, "ge", low)
        high = getattr(meta, "le", high)
    return low, high


def _message(model: type[BaseModel], err: dict) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "scheduler":
        return str(ctx.get("message") or err["msg"])
    if kind == "missing":
        return str(_l("This field is required."))
    if kind in ("string_too_long", "too_long"):
        n = ctx.get("max_length", 0)
        if kind == "string_too_long":
            return str(_l("Use at most %(n)d characters.", n=n))
        return str(_l("Give at most %(n)d items.", n=n))
    if kind == "string_too_short":
        return str(_l("This field cannot be empty."))
    if kind == "too_short":
        return str(_l("Give at least %(n)d items.", n=ctx.get("min_length", 1)))
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        low, high = _bounds(model, tuple(err["loc"]))
        if low is not None and high is not None:
            return str(_l("Enter a whole number between %(lo)d and %(hi)d.", lo=low, hi=high))
        return str(_l("The number is out of range."))
    if kind == "literal_error":
        return str(_l("Choose one of: %(choices)s.", choices=ctx.get("expected", "")))
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return str(_l("Give a whole number."))
    if kind in ("string_type", "string_unicode"):
        return str(_l("Give text."))
    if kind in ("bool_type", "bool_parsing"):
        return str(_l("Give true or false."))
    if kind in ("list_type", "tuple_type", "set_type"):
        return str(_l("Give a list."))
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return str(_l("Give an object."))
    return str(_l("Check this value."))


def _fields(model: type[BaseModel], exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for err in exc.errors(include_url=False, include_input=False):
        loc = err["loc"]
        name = str(loc[0]) if loc else "body"
        if len(loc) > 1 and isinstance(loc[1], str):  # a key of a nested object: "titles.sv"
            name = f"{name}.{loc[1]}"
        fields.setdefault(name, _message(model, err))  # the first problem of each field
    return fields


def _failed(fields: dict[str, str]) -> ValidationFailed:
    return ValidationFailed(str(_l("Check the request.")), fields=fields)


# --- reading a request ----------------------------------------------------------------------------

def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            stack.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def read_body(model: type[ApiModel]) -> ApiModel:
    """The JSON body, checked against `model`. An empty body is an empty object."""
    raw = request.get_data(cache=True)  # over the API's MAX_CONTENT_LENGTH: 413 before reading
    not_object = _l("The request body must be a JSON object.")
    if not raw.strip():
        data: Any = {}
    else:
        try:
            data = json.loads(raw)
        except RecursionError:
            raise ValidationFailed(str(_l("The JSON is nested too deeply.")), code="bad_request") from None
        except ValueError:  # not JSON, not UTF-8, a number of thousands of digits
            raise ValidationFailed(str(_l("The request body is not valid JSON.")), code="bad_request") from None
    if not isinstance(data, dict):
        raise ValidationFailed(str(not_object), code="bad_request")
    if _depth(data) > MAX_DEPTH:
        raise ValidationFailed(str(_l("The JSON is nested too deeply.")), code="bad_request")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _failed(_fields(model, exc)) from None


def read_query(model: type[ApiModel]) -> ApiModel:
    """The query string (first value of each name), checked against `model` (lax: all are text)."""
    data = {k: v for k, v in request.args.items() if k in _query_names(model)}
    try:
        return model.model_validate(data, strict=False)
    except ValidationError as exc:
        raise _failed(_fields(model, exc)) from None


def _query_names(model: type[BaseModel]) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}
