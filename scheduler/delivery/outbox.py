"""The outbox: every e-mail and Graph call is written here in the transaction that causes it, and
delivered afterwards by `deliver_due()` (the scheduler's job every 30 s, or `flask outbox flush`).

Guarantees:
- nothing is lost: a message exists iff the change that caused it committed;
- at least once: a message stays queued until its handler succeeded and the sent mark committed
  (a crash in between rolls the claim back and the next run delivers it again);
- acted on once: the handler's own database changes commit together with the sent mark, handlers
  are idempotent towards the outside world (a stable Message-ID, Graph's externalId/transactionId),
  and a dedupe_key makes enqueueing the same thing twice a no-op;
- several workers at once: PostgreSQL claims rows with FOR UPDATE SKIP LOCKED; on SQLite (one
  process) a conditional UPDATE makes a second runner skip a message already taken.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..core.db import utcnow
from ..core.errorlog import safe_exception_text
from ..core.signals import outbox_attempted
from ..extensions import db
from .models import OutboxMessage

log = logging.getLogger(__name__)

Handler = Callable[[OutboxMessage], None]
NOTIFY_CHANNEL = "outbox"  # PostgreSQL LISTEN/NOTIFY: wakes the worker right after a commit
# The NOTIFY itself is sent by the database: a trigger on every INSERT into outbox_messages
# (migration 0014), so queueing costs no statement of its own and nothing that inserts can forget it.

BATCH_LIMIT = 500


class RetryLater(Exception):  # noqa: N818  (the interface's name)
    """The handler could not deliver now; try again after retry_after seconds (or the back-off)."""

    def __init__(self, error: str, retry_after: float | None = None):
        super().__init__(error)
        self.error = error
        self.retry_after = retry_after


class PermanentFailure(Exception):  # noqa: N818
    """The message can never be delivered as it is: no more automatic retries (an admin may retry)."""

    def __init__(self, error: str):
        super().__init__(error)
        self.error = error


@dataclass(frozen=True)
class HandlerEntry:
    handler: Handler
    # An event ("booking 17 changed") is recorded by a request and turned into e-mails and Graph
    # calls by the worker; the counts report it apart from what was actually sent.
    is_event: bool = False


def register_handler(app: Flask, kind: str, handler: Handler, *, event: bool = False) -> None:
    """The handler of one kind of message, kept per application (app.extensions)."""
    app.extensions.setdefault("outbox_handlers", {})[kind] = HandlerEntry(handler, event)


def _handler(kind: str) -> HandlerEntry | None:
    return current_app.extensions.get("outbox_handlers", {}).get(kind)


_EVENT_INSERT = insert(OutboxMessage.__table__)  # one statement object: built and cache-keyed once


def record_event(kind: str, payload: dict) -> None:
    """Record a compact event ("booking 17 changed") in the current transaction, for the worker to
    turn into messages from the state it then reads. A request records one on every change, so
    this is a plain INSERT (no ORM object, no flush of its own): the cheapest write that keeps
    the outbox's promise (the event exists iff the change committed)."""
    now = utcnow()
    db.session.execute(_EVENT_INSERT, {"kind": kind, "payload": payload, "status": "queued", "attempts": 0,
                                       "next_attempt_dt": now, "created_dt": now, "updated_dt": now})


def enqueue(kind: str, payload: dict, *, dedupe_key: str | None = None,
            not_before: datetime | None = None) -> OutboxMessage:
    """Add a message to the current transaction (the caller commits). With a dedupe_key already
    present (queued, sent or failed), nothing is added and the existing message is returned."""
    if not_before is not None and not_before.tzinfo is None:
        raise ValueError("not_before must be an aware datetime")
    now = utcnow()
    due = max(not_before, now) if not_before else now
    if dedupe_key is None:
        msg = OutboxMessage(kind=kind, payload=payload, next_attempt_dt=due, created_dt=now, updated_dt=now)
        db.session.add(msg)
        db.session.flush()
        return msg
    # INSERT … ON CONFLICT DO NOTHING: safe against a concurrent transaction enqueueing the same key
    # (it waits for that one and then does nothing) and leaves the caller's transaction intact.
    values = {"kind": kind, "payload": payload, "dedupe_key": dedupe_key, "status": "queued", "attempts": 0,
              "next_attempt_dt": due, "created_dt": now, "updated_dt": now}
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(OutboxMessage).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"])
    db.session.flush()
    db.session.execute(stmt)
    return db.session.execute(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)).scalar_one()


def _settings() -> tuple[int, float, float]:
    cfg = current_app.config
    # read and checked at start-up by config.py's settings table, which holds their defaults
    return (int(cfg["OUTBOX_MAX_ATTEMPTS"]), float(cfg["OUTBOX_BACKOFF_SECONDS"]),
            float(cfg["OUTBOX_BACKOFF_CAP_SECONDS"]))


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """After the n-th failed attempt: base · 2^(n-1), capped."""
    return min(cap, base * (2 ** max(0, attempts - 1)))


def _claim_next(now: datetime, tried: set[int]) -> OutboxMessage | None:
    """Take one due message inside a new transaction, or None when nothing (untried) is due."""
    stmt = (select(OutboxMessage)
            .where(OutboxMessage.status == "queued", OutboxMessage.next_attempt_dt <= now)
            .order_by(OutboxMessage.next_attempt_dt, OutboxMessage.id)
            .limit(1))
    if tried:
        stmt = stmt.where(OutboxMessage.id.notin_(tried))
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    msg = db.session.execute(stmt).scalar_one_or_none()
    if msg is None:
        db.session.rollback()
        return None
    tried.add(msg.id)
    # The conditional UPDATE is the claim on SQLite (it also opens the write transaction there, so the
    # handler's savepoint works); on PostgreSQL the row is locked already and it always matches.
    claimed = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == msg.id, OutboxMessage.status == "queued",
               OutboxMessage.attempts == msg.attempts)
        .values(attempts=OutboxMessage.attempts + 1, updated_dt=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        return _claim_next(now, tried)
    db.session.refresh(msg)
    return msg


def deliver_one(msg: OutboxMessage) -> str:
    """Run the handler for a claimed message and commit the outcome: "sent", "retry" or "failed"."""
    max_attempts, base, cap = _settings()
    entry = _handler(msg.kind)
    outcome = "sent"
    error: str | None = None
    retry_after: float | None = None
    caught: Exception | None = None
    savepoint = db.session.begin_nested()
    try:
        if entry is None:
            raise RetryLater(f"no handler is registered for kind {msg.kind!r}")
        entry.handler(msg)
        db.session.flush()
    except RetryLater as exc:
        outcome, error, retry_after, caught = "retry", exc.error, exc.retry_after, exc
    except PermanentFailure as exc:
        outcome, error, caught = "failed", exc.error, exc
    except Exception as exc:  # any other failure: back off exponentially
        outcome, error, caught = "retry", f"{type(exc).__name__}: {exc}", exc
        log.warning("outbox message %s (%s) failed on attempt %s: %s", msg.id, msg.kind, msg.attempts,
                    type(exc).__name__)
    if outcome == "sent":
        savepoint.commit()
        msg.status, msg.sent_dt, msg.last_error = "sent", utcnow(), None
    else:
        if savepoint.is_active:
            savepoint.rollback()
        db.session.refresh(msg)
        msg.last_error = (error or "")[:2000]
        if outcome == "retry" and msg.attempts >= max_attempts:
            outcome = "failed"
            msg.last_error = f"{msg.last_error} (gave up after {msg.attempts} attempts)"[:2000]
        if outcome == "failed":
            msg.status = "failed"
        else:
            delay = retry_after if retry_after is not None else backoff_seconds(msg.attempts, base, cap)
            msg.next_attempt_dt = utcnow() + timedelta(seconds=max(0.0, delay))
        log.info("outbox message %s (%s): %s after attempt %s", msg.id, msg.kind, outcome, msg.attempts)
    # metrics and alerts (scheduler.ops): an alert about a failure commits with the failed mark
    outbox_attempted.send(msg, outcome=outcome, error=caught)
    db.session.commit()
    return outcome


def deliver_due(now: datetime | None = None) -> dict:
    """Deliver every message due at `now` (default: the present) once. Returns the counts: "sent",
    "retry", "failed" for messages to the outside world, "events" for domain events handled."""
    fixed_now = now
    db.session.rollback()  # start from a clean transaction: each message commits on its own
    counts = {"sent": 0, "retry": 0, "failed": 0, "events": 0}
    tried: set[int] = set()
    while len(tried) < BATCH_LIMIT:
        # without an explicit `now`, follow-ups that handlers enqueue during this run are due too
        msg = _claim_next(fixed_now or utcnow(), tried)
        if msg is None:
            break
        entry = _handler(msg.kind)
        try:
            outcome = deliver_one(msg)
            counts["events" if outcome == "sent" and entry is not None and entry.is_event else outcome] += 1
        except Exception as exc:
            # The outcome could not be stored (database gone): the claim rolls back, the message
            # stays queued and the next run tries again.
            db.session.rollback()
            log.error("outbox: could not record the outcome of message %s: %s", msg.id, safe_exception_text(exc))
            break
    return counts


def retry_message(message_id: int) -> OutboxMessage | None:
    """An admin's retry: a failed (or waiting) message is due again now with a fresh attempt count."""
    msg = db.session.get(OutboxMessage, message_id)
    if msg is None or msg.status == "sent" or msg.erased_dt is not None:  # erased: nothing left to send
        return None
    msg.status, msg.attempts, msg.next_attempt_dt = "queued", 0, utcnow()
    return msg


def retry_all_failed() -> int:
    rows = db.session.execute(
        update(OutboxMessage).where(OutboxMessage.status == "failed", OutboxMessage.erased_dt.is_(None))
        .values(status="queued", attempts=0, next_attempt_dt=utcnow(), updated_dt=utcnow())
        .execution_options(synchronize_session=False)
    )
    return rows.rowcount or 0


def delivery_job() -> None:
    """The scheduler's job: deliver what is due (safe to run anywhere, any number of times)."""
    deliver_due()


def status_counts() -> dict[str, int]:
    rows = db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    return {status: n for status, n in rows}
