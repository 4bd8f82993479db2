"""Alerts by e-mail to administrators (users with the admin role), through the outbox.

- A message fails for good → one alert at once (it commits with the failed mark).
- Failed messages remain → one digest a day (job `ops-failed-digest`, from 07:00 local time).
- The delivery job has not succeeded for ALERT_JOBS_STALLED_MINUTES → one alert per stall
  (`flask ops watchdog`, run by a timer on the web host: the jobs process cannot report itself).
- Graph or the mail server refuses our credentials (SMTP 535, identity platform invalid_client,
  Graph 401) → one alert per transport per day.

Each alert goes to each administrator in their language, names no case, person or address (only
message numbers, kinds and fixed reason words) and links to the page that fixes it. Dedupe keys
(`ops-alert:<what>:<user id>`) make one cause one alert; an alert that itself fails or is refused
never raises another alert (`is_alert`), so a broken mail server cannot start a loop.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from ..core.db import utcnow
from ..core.signals import job_finished, outbox_attempted
from ..core.timefmt import format_datetime
from ..delivery.mail import queue_email, render_email
from ..delivery.microsoft import GraphAuthError, GraphTokenError
from ..delivery.models import OutboxMessage
from ..extensions import db
from ..people.models import User, UserRole
from .jobruns import DELIVERY_JOB, jobs_state, record_job_run
from .metrics import JOB_DURATION, JOB_RUNS, observe_delivery, transport_of

log = logging.getLogger(__name__)

ALERT_PREFIX = "ops-alert:"
DIGEST_HOUR = 7  # local time: the digest is sent with the morning's first run from this hour


def is_alert(msg: OutboxMessage) -> bool:
    return bool(msg.dedupe_key and msg.dedupe_key.startswith(ALERT_PREFIX))


def link(endpoint: str, **values) -> str:
    """An absolute link into the app without a request (jobs, the outbox worker)."""
    return current_app.config["BASE_URL"] + current_app.url_map.bind("localhost").build(endpoint, values)


def administrators() -> list:
    return list(db.session.execute(
        select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == "admin", User.is_active.is_(True)).order_by(User.id)
    ).scalars().unique())


def queue_alert(key: str, build) -> int:
    """One e-mail per administrator, in their language; `build()` runs under that locale and returns
    (subject, lines, facts, url, link_label). Returns how many were new."""
    languages = current_app.config["LANGUAGES"]
    new = 0
    for admin in administrators():
        lang = admin.language if admin.language in languages else current_app.config["BABEL_DEFAULT_LOCALE"]
        dedupe = f"{ALERT_PREFIX}{key}:{admin.id}"
        if db.session.execute(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe)).first():
            continue
        with force_locale(lang):
            subject, lines, facts, url, link_label = build()
        text, html = render_email("notice", lang, subject=subject, lines=lines, facts=facts, url=url,
                                  link_label=link_label)
        queue_email(admin.email, subject, text, html, language=lang, dedupe_key=dedupe)
        new += 1
    return new


def _local_today(now: datetime) -> str:
    return now.astimezone(ZoneInfo(current_app.config["APP_TIMEZONE"])).date().isoformat()


# --- the alerts ----------------------------------------------------------------------------------

def alert_failed(msg: OutboxMessage, reason: str) -> int:
    def build():
        return (_("Delivery failed: a message could not be sent"),
                [_("A message in the outbox could not be delivered and will not be retried automatically."),
                 _("Open the outbox to see the error; retry the message once its cause is fixed.")],
                [(_("Message number"), str(msg.id)), (_("Kind"), msg.kind), (_("Attempts"), str(msg.attempts)),
                 (_("Reason"), reason)],
                link("delivery.outbox", status="failed"), _("Open the outbox"))

    return queue_alert(f"failed:{msg.id}", build)


def alert_credentials(transport: str, now: datetime | None = None) -> int:
    now = now or utcnow()

    def build():
        if transport == "graph":
            subject = _("Microsoft Graph refused the service's credentials")
            setting = "GRAPH_TENANT_ID, GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET"
        else:
            subject = _("The mail server refused the service's credentials")
            setting = "SMTP_USERNAME, SMTP_PASSWORD, SMTP_STARTTLS"
        return (subject,
                [_("Messages stay in the outbox until the settings are corrected. Check %(settings)s "
                   "(an expired secret is the usual cause), restart the service and run "
                   "`flask check-setup`.", settings=setting),
                 _("Then retry the failed messages on the outbox page.")],
                [], link("delivery.outbox", status="failed"), _("Open the outbox"))

    return queue_alert(f"credentials:{transport}:{_local_today(now)}", build)


def failed_count() -> int:
    return db.session.scalar(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.status == "failed",
        (OutboxMessage.dedupe_key.is_(None)) | (~OutboxMessage.dedupe_key.startswith(ALERT_PREFIX)))) or 0


def failed_digest(now: datetime | None = None) -> int:
    """The daily digest while failed messages remain (safe to run often: one per local day)."""
    now = now or utcnow()
    local = now.astimezone(ZoneInfo(current_app.config["APP_TIMEZONE"]))
    if local.hour < DIGEST_HOUR:
        return 0
    n = failed_count()
    if not n:
        return 0

    def build():
        return (_("Daily reminder: %(num)d message(s) could not be delivered", num=n),
                [_("These messages failed and are waiting for an administrator. People may be missing "
                   "invitations or Teams links."),
                 _("Open the outbox to see the errors and retry the messages once the cause is fixed.")],
                [(_("Failed messages"), str(n))], link("delivery.outbox", status="failed"), _("Open the outbox"))

    return queue_alert(f"digest:{local.date().isoformat()}", build)


def jobs_stalled(now: datetime | None = None) -> int:
    """An alert when the delivery job has not succeeded for ALERT_JOBS_STALLED_MINUTES (one per stall)."""
    now = now or utcnow()
    minutes = int(current_app.config["ALERT_JOBS_STALLED_MINUTES"])
    fresh, last = jobs_state(minutes, now=now)
    if fresh:
        return 0
    since = last.isoformat(timespec="seconds") if last else "never"

    def build():
        loc = get_locale()
        when = format_datetime(last, loc.language if loc else None) if last else _("never")
        return (_("Background jobs have stopped"),
                [_("The background jobs process has not delivered the outbox since %(when)s. E-mails and Teams "
                   "meetings are waiting.", when=when),
                 _("Check the jobs service (`flask scheduler run`) on the server and its log.")],
                [(_("Job"), DELIVERY_JOB)], link("ops.status"), _("Open the operations page"))

    return queue_alert(f"stalled:{since}", build)


def credentials_refused(error: BaseException | None, attempts: int = 1) -> bool:
    """SMTP 535, the identity platform refusing our client secret (401 invalid_client), or Graph
    answering 401 again after the handler fetched a new token. (A single Graph 401 is not: the
    handler drops the token and the next attempt usually passes.)"""
    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, smtplib.SMTPAuthenticationError | GraphTokenError):
            return True
        if isinstance(error, GraphAuthError) and attempts >= 2:
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


# --- receivers -----------------------------------------------------------------------------------

def on_outbox_attempted(msg: OutboxMessage, outcome: str = "", error: BaseException | None = None, **_kw) -> None:
    """Metrics for every attempt; alerts for failures of anything but an alert."""
    try:
        reason = observe_delivery(msg.kind, outcome, error)
    except Exception:  # metrics must never stop a delivery from being recorded
        log.exception("ops: could not count a delivery attempt")
        return
    if outcome == "sent" or is_alert(msg):
        return
    try:
        with db.session.begin_nested():  # a broken alert must not undo the message's own outcome
            if outcome == "failed":
                alert_failed(msg, reason or "other")
            transport = transport_of(msg.kind)
            if transport in {"smtp", "graph"} and credentials_refused(error, attempts=msg.attempts):
                alert_credentials(transport)
    except Exception:
        log.exception("ops: could not queue an alert for outbox message %s", msg.id)


def on_job_finished(job_id: str, **kw) -> None:
    JOB_RUNS.labels(job_id, "ok" if kw.get("ok") else "error").inc()
    if kw.get("ok"):
        JOB_DURATION.labels(job_id).observe(kw.get("duration") or 0.0)
    record_job_run(job_id, **kw)


def digest_job() -> None:
    failed_digest()


def connect_receivers() -> None:
    outbox_attempted.connect(on_outbox_attempted, weak=False)
    job_finished.connect(on_job_finished, weak=False)

