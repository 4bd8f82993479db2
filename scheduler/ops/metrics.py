"""Prometheus metrics at `GET /metrics` (text format, `prometheus_client`).

- Counters and histograms are updated where things happen (HTTP requests, outbox deliveries, job
  runs, bookings and panel cases created). With several gunicorn workers set PROMETHEUS_MULTIPROC_DIR
  (an empty folder, before start): every process writes its values there and a scrape adds them up.
- Gauges that describe the database (outbox by status, age of the oldest queued message, each job's
  last success and duration, schema at head) are computed at scrape time by `DatabaseCollector`,
  so they are the same whichever worker answers and need no multiprocess mode.
- Labels never carry case content or personal data: endpoint groups are blueprint names, transports
  and reasons are fixed words, job ids are ours.
"""

from __future__ import annotations

import os
import smtplib
from collections.abc import Iterable

import requests
from flask import Flask, current_app
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select

from ..core.db import utcnow
from ..core.signals import booking_changed, panel_case_changed
from ..delivery.microsoft import GraphAuthError, GraphError, GraphThrottled, GraphTokenError
from ..delivery.models import OUTBOX_STATUSES, OutboxMessage
from ..delivery.outbox import status_counts
from ..extensions import db
from .health import current_revisions, migration_heads
from .models import JobRun

# Our own registry (not the library's global one): the app can be created many times in one process.
REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter("scheduler_http_requests", "HTTP requests by endpoint group (blueprint), method and status.",
                        ["group", "method", "status"], registry=REGISTRY)
HTTP_LATENCY = Histogram("scheduler_http_request_duration_seconds", "HTTP request latency by endpoint group.",
                         ["group"], registry=REGISTRY,
                         buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
DELIVERIES = Counter("scheduler_outbox_deliveries", "Outbox delivery attempts by transport and outcome "
                     "(sent, retry, failed).", ["transport", "outcome"], registry=REGISTRY)
DELIVERY_FAILURES = Counter("scheduler_outbox_delivery_failures", "Failed delivery attempts by transport and reason "
                            "class (auth, throttled, unreachable, recipient, temporary, refused, other).",
                            ["transport", "reason"], registry=REGISTRY)
GRAPH_THROTTLED = Counter("scheduler_graph_throttled", "Microsoft Graph throttling answers (429, 503).",
                          ["status"], registry=REGISTRY)
JOB_RUNS = Counter("scheduler_job_runs", "Background job runs in this process by job and outcome (ok, error).",
                   ["job", "outcome"], registry=REGISTRY)
JOB_DURATION = Histogram("scheduler_job_duration_seconds", "Background job run time.", ["job"], registry=REGISTRY,
                         buckets=(0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0))
BOOKINGS_CREATED = Counter("scheduler_bookings_created", "Consultation bookings made.", registry=REGISTRY)
PANEL_CASES_SUBMITTED = Counter("scheduler_panel_cases_submitted", "Cases submitted to an expert panel.",
                                registry=REGISTRY)

HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
TRANSPORTS = {"email": "smtp", "graph": "graph"}


def transport_of(kind: str) -> str:
    t = TRANSPORTS.get(kind, "other")
    if t == "smtp" and not current_app.config.get("SMTP_HOST"):
        return "file"  # the demo's .eml folder
    return t


def reason_of(error: BaseException | None) -> str:
    """A fixed word for why a delivery attempt failed, from the exception and its cause."""
    chain: list[BaseException] = []
    e = error
    while e is not None and len(chain) < 5:
        chain.append(e)
        e = e.__cause__ or e.__context__
    for e in chain:
        if isinstance(e, smtplib.SMTPAuthenticationError | GraphTokenError | GraphAuthError):
            return "auth"
        if isinstance(e, GraphThrottled):
            return "throttled"
        if isinstance(e, smtplib.SMTPRecipientsRefused):
            return "recipient"
        if isinstance(e, smtplib.SMTPResponseException):
            return "temporary" if 400 <= e.smtp_code < 500 else "refused"
        if isinstance(e, GraphError):
            return "refused" if 400 <= e.status < 500 else "temporary"
        if isinstance(e, smtplib.SMTPServerDisconnected | requests.ConnectionError | requests.Timeout):
            return "unreachable"
        if isinstance(e, smtplib.SMTPException):  # (an OSError too) STARTTLS missing and the like
            return "other"
        if isinstance(e, OSError):  # refused connections, timeouts, unknown hosts
            return "unreachable"
    return "other"


def observe_delivery(kind: str, outcome: str, error: BaseException | None) -> str | None:
    """Count one outbox attempt; returns the reason class of a failure (None when sent)."""
    transport = transport_of(kind)
    DELIVERIES.labels(transport, outcome).inc()
    if outcome == "sent":
        return None
    reason = reason_of(error)
    DELIVERY_FAILURES.labels(transport, reason).inc()
    cause = error
    while cause is not None and not isinstance(cause, GraphThrottled):
        cause = cause.__cause__
    if cause is not None:
        GRAPH_THROTTLED.labels(str(cause.status)).inc()
    return reason


def outbox_counts() -> dict[str, int]:
    """Every status, with zeros (a gauge that vanishes at 0 would break alert rules)."""
    counts = status_counts()
    return {s: int(counts.get(s, 0)) for s in OUTBOX_STATUSES}


class DatabaseCollector:
    """Gauges read from the database at scrape time (inside the request's app context)."""

    def collect(self) -> Iterable[Metric]:
        try:
            counts = outbox_counts()
            oldest = db.session.execute(select(func.min(OutboxMessage.created_dt))
                                        .where(OutboxMessage.status == "queued")).scalar()
            runs = db.session.execute(select(JobRun)).scalars().all()
            at_head = current_revisions() == migration_heads()
        finally:
            db.session.rollback()
        g = GaugeMetricFamily("scheduler_outbox_messages", "Outbox messages by status.", labels=["status"])
        for status, n in counts.items():
            g.add_metric([status], n)
        yield g
        age = max(0.0, (utcnow() - oldest).total_seconds()) if oldest is not None else 0.0
        yield GaugeMetricFamily("scheduler_outbox_oldest_queued_age_seconds",
                                "Age of the oldest queued outbox message (0 when none is queued).", value=age)
        last_ok = GaugeMetricFamily("scheduler_job_last_success_timestamp_seconds",
                                    "When each background job last succeeded (Unix time).", labels=["job"])
        last_dur = GaugeMetricFamily("scheduler_job_last_duration_seconds",
                                     "How long each job's last successful run took.", labels=["job"])
        fails = GaugeMetricFamily("scheduler_job_consecutive_failures",
                                  "Failed runs of each job since its last success.", labels=["job"])
        for run in runs:
            if run.last_success_dt is not None:
                last_ok.add_metric([run.job_id], run.last_success_dt.timestamp())
                last_dur.add_metric([run.job_id], run.last_duration_seconds or 0.0)
            fails.add_metric([run.job_id], run.consecutive_failures or 0)
        yield last_ok
        yield last_dur
        yield fails
        yield GaugeMetricFamily("scheduler_schema_at_head", "1 when the database is at the migration head.",
                                value=1 if at_head else 0)


class _ProcessMetrics:
    """This process's counters (single-process mode)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir") or None


def render() -> bytes:
    """The scrape: every process's counters (multiprocess mode) or this one's, plus the database gauges."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        from prometheus_client import multiprocess  # multiprocess mode only

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessMetrics())  # type: ignore[arg-type]
    registry.register(DatabaseCollector())  # type: ignore[arg-type]
    return generate_latest(registry)


def init_app(app: Flask) -> None:
    """Count bookings and panel cases as their signals are sent."""
    booking_changed.connect(_booking_changed, weak=False)
    panel_case_changed.connect(_panel_case_changed, weak=False)


def _booking_changed(sender, action: str = "", **_kw) -> None:
    if action == "created":
        BOOKINGS_CREATED.inc()


def _panel_case_changed(sender, action: str = "", **_kw) -> None:
    if action == "submitted":
        PANEL_CASES_SUBMITTED.inc()
