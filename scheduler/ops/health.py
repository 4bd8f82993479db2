"""Readiness: the database answers, the schema is at the migration head, and (when a jobs process
is expected) a leader ran the delivery job within the last few minutes. Liveness (`/healthz`) stays
in core: it only asks the database for `SELECT 1`."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import text

from ..core.db import utcnow
from ..extensions import db
from .jobruns import DELIVERY_JOB, jobs_state

log = logging.getLogger(__name__)


def migration_heads(app=None) -> tuple[str, ...]:
    """The revision(s) the code expects, read once per process from the migration scripts."""
    app = app or current_app
    cached = app.extensions.get("ops_migration_heads")
    if cached is None:

        config = app.extensions["migrate"].migrate.get_config()
        cached = app.extensions["ops_migration_heads"] = tuple(sorted(ScriptDirectory.from_config(config).get_heads()))
    return cached


def current_revisions() -> tuple[str, ...]:
    """What the database says it is at (empty when it was never migrated)."""
    try:
        with db.session.begin_nested():
            rows = db.session.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except Exception:  # no alembic_version table: never migrated
        return ()
    return tuple(sorted(rows))


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def schema_check() -> Check:
    heads, current = migration_heads(), current_revisions()
    if current == heads:
        return Check("schema", True, f"at head {', '.join(heads)}")
    return Check("schema", False, f"database at {', '.join(current) or 'nothing'}, code expects {', '.join(heads)}"
                                  " (run `flask db upgrade`)")


def jobs_check(now=None) -> Check:
    cfg = current_app.config
    if not cfg.get("JOBS_EXPECTED"):
        return Check("jobs", True, "not expected (JOBS_EXPECTED=0)")
    minutes = int(cfg.get("JOBS_STALE_MINUTES", 5))
    fresh, last = jobs_state(minutes, now=now)
    if fresh:
        assert last is not None
        age = int(((now or utcnow()) - last).total_seconds())
        return Check("jobs", True, f"{DELIVERY_JOB} succeeded {age} s ago")
    if last is None:
        return Check("jobs", False, f"{DELIVERY_JOB} has never run (start `flask scheduler run`)")
    return Check("jobs", False, f"{DELIVERY_JOB} last succeeded at {last.isoformat(timespec='seconds')},"
                                f" more than {minutes} min ago")


def readiness(now=None) -> tuple[bool, list[Check]]:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to answer: not ready, and nothing else can be asked
        db.session.rollback()
        log.warning("readiness: database did not answer: %s", type(exc).__name__)
        return False, [Check("database", False, f"did not answer ({type(exc).__name__})")]
    checks = [Check("database", True, db.engine.dialect.name)]
    try:
        checks.append(schema_check())
        try:
            with db.session.begin_nested():
                checks.append(jobs_check(now))
        except Exception as exc:  # e.g. the job_runs table is missing while the schema is behind
            checks.append(Check("jobs", False, f"could not read the job runs ({type(exc).__name__})"))
    finally:
        db.session.rollback()
    return all(c.ok for c in checks), checks
