"""Transactions for state changes: one commit per entry point, bounded retries, and the guards.

Every state-changing entry point (pages, API, jobs) runs its service call through
`run_atomically`, which commits once and turns the database's own conflict answers into a
bounded retry (serialization failure 40001, deadlock 40P01, lock not available 55P03, a busy
SQLite file) and then into a 409 `Conflict`, never a 500.

A status change is decided by a write (see `transition`): a conditional
`UPDATE … WHERE id = :id AND status IN (:allowed sources) [AND sequence = :seen]` whose row count
says who won, and which leaves the winner holding the row. Where a decision reads more than one
row (an agenda's free minutes, the occurrences of a series) the aggregate row is locked first:
`lock_for_update`, or a `locking_select(read=True)` run by `lock_row` for FOR SHARE (PostgreSQL row
locks; on SQLite the database's write lock, BEGIN IMMEDIATE, because Python's sqlite3 starts a
transaction only at the first write).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any, Generic, TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from ..extensions import db
from .errors import Conflict, DomainError

log = logging.getLogger(__name__)
T = TypeVar("T")
S = TypeVar("S", bound=StrEnum)

_RETRY_SQLSTATES = {"40001", "40P01", "55P03"}


def is_retryable(exc: DBAPIError) -> bool:
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in _RETRY_SQLSTATES:
        return True
    return "database is locked" in str(orig) or "database table is locked" in str(orig)


def busy_message() -> str:
    return str(_l("The service is busy right now. Please try again."))


def changed_meanwhile_message() -> str:
    return str(_l("Someone else changed this at the same time. Reload the page and try again."))


def run_atomically(work: Callable[[], T], *, attempts: int = 4) -> T:
    """Run work() and commit; retry a few times on serialization failures, deadlocks and a busy
    SQLite file; integrity conflicts and exhausted retries become a 409 Conflict, never a 500."""
    for attempt in range(attempts):
        try:
            result = work()
            db.session.commit()
            return result
        except DomainError:
            db.session.rollback()
            raise
        except IntegrityError as exc:
            db.session.rollback()
            log.info("integrity conflict (%s)", type(exc.orig).__name__)
            raise Conflict(changed_meanwhile_message()) from exc
        except DBAPIError as exc:
            db.session.rollback()
            if not is_retryable(exc):
                raise
            log.info("retrying after a database conflict (attempt %d)", attempt + 1)
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))  # noqa: S311  (jitter, not crypto)
    raise Conflict(busy_message())


# --- locks -------------------------------------------------------------------------------------

def begin_write() -> None:
    """On SQLite, take the database's write lock now (BEGIN IMMEDIATE) unless this transaction
    already writes, so that what is read next cannot change before our write. No-op elsewhere."""
    conn = db.session.connection()
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        if not raw.in_transaction:
            raw.execute("BEGIN IMMEDIATE")


def locking_select(model: type[T], *, read: bool = False, key_share: bool = True, options: Iterable = ()):
    """SELECT … FOR UPDATE (read=True: FOR SHARE) of one row of `model`, by the :row_id parameter,
    loading fresh values. A hot path builds it once and keeps it (see `lock_row`): a statement
    object used again skips SQLAlchemy's construction and cache-key work, about a tenth of a
    booking's CPU."""
    return (select(model).where(model.id == bindparam("row_id"))  # type: ignore[attr-defined]
            .with_for_update(read=read, key_share=key_share and not read, of=model)
            .options(*options).execution_options(populate_existing=True))


def lock_row(statement, row_id: int):
    """Run a `locking_select` for one id: the locked object, or None when it does not exist."""
    begin_write()
    return db.session.execute(statement, {"row_id": row_id}).unique().scalar_one_or_none()


def lock_for_update(model: type[T], row_id: int, *, key_share: bool = True) -> T | None:
    """SELECT … FOR UPDATE of one aggregate row (fresh values); None when it does not exist.
    key_share=True takes FOR NO KEY UPDATE, which does not block rows that only refer to it."""
    return lock_row(locking_select(model, key_share=key_share), row_id)


# --- transition tables and the guarded write ---------------------------------------------------

class Transitions(Generic[S]):
    """Which status may go to which, for one aggregate. `sources(to)` is the WHERE of the write."""

    def __init__(self, status: type[S], moves: Mapping[S, Iterable[S]]):
        self.status = status
        self.moves: dict[S, frozenset[S]] = {s: frozenset(moves.get(s, ())) for s in status}

    def allows(self, source: str, target: str) -> bool:
        try:
            return self.status(target) in self.moves[self.status(source)]
        except ValueError:
            return False

    def sources(self, target: S) -> tuple[S, ...]:
        return tuple(s for s in self.status if target in self.moves[s])

    def is_final(self, status: str) -> bool:
        return not self.moves[self.status(status)]


def transition(obj: Any, table: Transitions, target: StrEnum, *, sources: Iterable[StrEnum] | None = None,
               where: Iterable[Any] = (), values: Mapping[str, Any] | None = None) -> bool:
    """The guarded write. First a conditional UPDATE that matches obj's row only if its status is
    still one from which the table allows `target` (narrowed by `sources`) and the extra
    conditions (its sequence as we read it) hold: its row count decides who won, and the winner
    holds the row's lock from then on (SQLite: the database's write lock). The winner then writes
    the new status and `values` through the ORM, in the same transaction, so that ORM listeners
    (the feeds' tombstones read the attribute history) see the change. Nothing changes when it lost."""
    model = type(obj)
    allowed = table.sources(target)  # type: ignore[arg-type]
    if sources is not None:
        wanted = {str(s) for s in sources}
        allowed = tuple(s for s in allowed if str(s) in wanted)
    if not allowed:
        return False
    db.session.flush()  # pending changes of this transaction first, so the guard sees them
    res = db.session.execute(
        update(model).where(model.id == obj.id, model.status.in_([str(s) for s in allowed]), *where)
        .values(status=model.status)  # changes nothing yet: takes the row, or finds it gone
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:
        return False
    db.session.refresh(obj)  # the row as it is now, ours until the commit
    obj.status = target
    for name, value in (values or {}).items():
        setattr(obj, name, value)
    db.session.flush()
    return True


def reread(obj: T) -> T:
    """The row as it is now (after losing a guarded write: who won, and what did they do?)."""
    db.session.refresh(obj)
    return obj
