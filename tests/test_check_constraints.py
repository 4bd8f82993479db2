"""The CHECK (col IN (…)) constraints in the live database list exactly the codes of the Python
enums (or tuples) the models build them from. Alembic's autogenerate cannot see a CHECK's body,
so a status added to an enum without a migration (or the reverse) is caught here, on both
databases: SQLite from sqlite_master's CREATE TABLE text, PostgreSQL from pg_constraint."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from scheduler.consultations.models import MODALITIES, BookingStatus
from scheduler.panels.models import CASE_LANGUAGES, CaseStatus, SessionStatus
from scheduler.people.access_log import ACCESS_ACTIONS, ACCESS_OBJECT_TYPES, ACCESS_VIAS
from scheduler.people.models import LANGUAGES, PASSWORD_LINK_PURPOSES, ROLES, UNIT_KINDS

# (table, constraint name as the naming convention makes it, the codes the model builds it from)
EXPECTED = [
    ("consultation_bookings", "ck_consultation_bookings_status", tuple(BookingStatus)),
    ("consultation_series", "ck_consultation_series_modality", MODALITIES),
    ("panel_sessions", "ck_panel_sessions_status", tuple(SessionStatus)),
    ("panel_cases", "ck_panel_cases_status", tuple(CaseStatus)),
    ("panel_cases", "ck_panel_cases_language", CASE_LANGUAGES),
    ("units", "ck_units_kind", UNIT_KINDS),
    ("user_roles", "ck_user_roles_role", ROLES),
    ("users", "ck_users_language", LANGUAGES),
    ("password_tokens", "ck_password_tokens_purpose", PASSWORD_LINK_PURPOSES),
    ("access_log", "ck_access_log_action", ACCESS_ACTIONS),
    ("access_log", "ck_access_log_object_type", ACCESS_OBJECT_TYPES),
    ("access_log", "ck_access_log_via", ACCESS_VIAS),
]


def live_checks(db, table: str) -> dict[str, str]:
    """Constraint name → its CHECK text, as the database has it."""
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'c' AND conrelid = CAST(:t AS regclass)"), {"t": table}).all()
        return dict(rows)
    sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}).scalar_one()
    checks = {}
    for m in re.finditer(r"CONSTRAINT\s+\"?(\w+)\"?\s+CHECK\s*\(", sql):
        depth, i = 1, m.end()
        while depth:  # the balanced parentheses of the CHECK's expression
            depth += {"(": 1, ")": -1}.get(sql[i], 0)
            i += 1
        checks[m.group(1)] = sql[m.end():i - 1]
    return checks


def codes_in(check: str) -> set[str]:
    return set(re.findall(r"'([^']*)'", check))


@pytest.mark.parametrize(("table", "name", "codes"), EXPECTED, ids=[e[1] for e in EXPECTED])
def test_check_constraint_matches_its_enum(app, db, table, name, codes):
    checks = live_checks(db, table)
    assert name in checks, f"{name} missing from {table}: {sorted(checks)}"
    assert codes_in(checks[name]) == {str(c) for c in codes}


def test_every_in_list_check_of_the_models_is_covered(app, db):
    """A new CHECK (… IN …) in the models gets a row in EXPECTED above."""
    listed = {(t, n) for t, n, _ in EXPECTED}
    found = set()
    for table in db.metadata.sorted_tables:
        for c in table.constraints:
            sqltext = str(getattr(c, "sqltext", ""))
            if " IN (" in sqltext and table.name not in ("outbox_messages", "calendar_invitations"):
                found.add((table.name, c.name))
    assert found <= listed, found - listed
