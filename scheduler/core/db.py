"""Column types and helpers shared by all models."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import DateTime, String
from sqlalchemy.types import TypeDecorator


def sql_in(values: Iterable[str]) -> str:
    """The body of a CHECK (col IN (...)) constraint from the allowed codes (a tuple or a StrEnum).
    tests/test_check_constraints.py compares the live database's constraints with these."""
    return ", ".join(f"'{v!s}'" for v in values)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both PostgreSQL (timestamptz) and SQLite (naive text).

    Values must be aware; they are stored in UTC and always come back aware in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class StatusText(TypeDecorator):
    """A status (or other code) column holding a StrEnum's values as plain text.

    Values are written as text whatever is given (psycopg would write an Enum member's *name*)
    and come back as members of the enum, so `booking.status.label` works and comparisons with
    plain strings keep working (StrEnum)."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int = 20):
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value, dialect):
        return None if value is None else str(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        try:
            return self.enum(value)
        except ValueError:  # a value the CHECK allows but the code no longer knows: keep it readable
            return value
