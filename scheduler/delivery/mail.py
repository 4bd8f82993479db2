"""E-mail through the outbox: `queue_email()` and the "email" handler.

With SMTP_HOST set, the handler sends through that server (SMTP_PORT, SMTP_USERNAME/SMTP_PASSWORD,
SMTP_STARTTLS, or implicit TLS on port 465). Without it (a laptop, the demo) every e-mail is written
as an .eml file into OUTBOX_DIR (instance/outbox/) and shown to admins on the mail folder page.

Errors: a connection failure or a 4xx reply → RetryLater (the outbox backs off); a 5xx reply for
this message → PermanentFailure. Each outbox message has a stable Message-ID, so a send repeated
after a crash is recognisable as the same e-mail.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from ..core.timefmt import format_range
from .ical import invitation_ics
from .models import OutboxMessage
from .outbox import PermanentFailure, RetryLater, enqueue

SMTP_TIMEOUT = 30
ICAL_METHODS = ("REQUEST", "CANCEL", "PUBLISH", "REPLY")


def queue_email(to: str | list[str], subject: str, text: str, html: str | None = None, ics: str | None = None,
                method: str | None = None, *, dedupe_key: str | None = None, not_before=None,
                language: str | None = None) -> OutboxMessage:
    """Put an e-mail into the outbox in the current transaction. With `ics`, the calendar goes in as
    an inline text/calendar part whose method parameter equals `method` (REQUEST/CANCEL)."""
    recipients = [to] if isinstance(to, str) else list(to)
    if not recipients or any("@" not in r or "\n" in r or "\r" in r for r in recipients):
        raise ValueError("queue_email needs one or more e-mail addresses")
    if "\n" in subject or "\r" in subject:
        raise ValueError("an e-mail subject is one line")
    subject = " ".join(subject.split())  # no doubled spaces from empty parts
    if ics is not None:
        if method is None:
            m = re.search(r"^METHOD:(\w+)\r?$", ics, re.MULTILINE)
            method = m.group(1) if m else None
        if method not in ICAL_METHODS:
            raise ValueError("a calendar e-mail needs its METHOD (REQUEST or CANCEL)")
    payload = {"to": recipients, "subject": subject, "text": text, "html": html, "ics": ics, "method": method,
               "language": language}
    return enqueue("email", payload, dedupe_key=dedupe_key, not_before=not_before)


def render_email(template: str, language: str, **context) -> tuple[str, str]:
    """Render templates/emails/<template>.txt and .html in the recipient's language."""
    lang = language if language in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(lang):
        context.setdefault("base_url", current_app.config["BASE_URL"])
        context.setdefault("lang", lang)
        # the environment directly, not render_template: jobs and workers have no request (and the
        # page context processors need one); e-mails need none of the page globals anyway
        env = current_app.jinja_env
        text = env.get_template(f"emails/{template}.txt").render(**context)
        html = env.get_template(f"emails/{template}.html").render(**context)
    return text, html


def message_id(msg: OutboxMessage) -> str:
    """Stable for the life of the outbox message: a repeated send carries the same Message-ID."""
    domain = current_app.config["MAIL_FROM"].rpartition("@")[2] or "localhost"
    stamp = msg.created_dt.strftime("%Y%m%d%H%M%S") if msg.created_dt else "0"
    return f"<outbox.{msg.id}.{stamp}@{domain}>"


def build_mime(msg: OutboxMessage) -> EmailMessage:
    p = msg.payload
    mail = EmailMessage()
    sender = current_app.config["MAIL_FROM"]
    from_name = current_app.config.get("MAIL_FROM_NAME") or ""
    mail["From"] = str(Address(display_name=from_name, addr_spec=sender)) if from_name else sender
    mail["To"] = ", ".join(p["to"])
    mail["Subject"] = p["subject"]
    mail["Date"] = format_datetime(msg.created_dt)
    mail["Message-ID"] = message_id(msg)
    mail["Auto-Submitted"] = "auto-generated"
    if p.get("language"):
        mail["Content-Language"] = p["language"]
    mail.set_content(p["text"], cte="quoted-printable")
    if p.get("html"):
        mail.add_alternative(p["html"], subtype="html", cte="quoted-printable")
    if p.get("ics"):
        # RFC 6047: the iTIP object inline, as an alternative, its method matching METHOD.
        if not p.get("html"):
            mail.make_alternative()
        mail.add_alternative(p["ics"], subtype="calendar", params={"method": p["method"]}, cte="quoted-printable")
    return mail


def _write_eml(msg: OutboxMessage, mail: EmailMessage) -> Path:
    folder = Path(current_app.config["OUTBOX_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    stamp = msg.created_dt.strftime("%Y%m%d-%H%M%S") if msg.created_dt else "0"
    path = folder / f"{stamp}-{msg.id:06d}.eml"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(mail.as_bytes())
    os.replace(tmp, path)  # a retried write replaces the same file: one e-mail per message
    return path


def smtp_send(mail: EmailMessage, recipients: list[str]) -> None:
    cfg = current_app.config
    host, port = cfg["SMTP_HOST"], int(cfg["SMTP_PORT"])
    try:
        if port == 465:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT)
        with smtp:
            if cfg["SMTP_STARTTLS"]:
                smtp.starttls(context=ssl.create_default_context())
            if cfg["SMTP_USERNAME"]:
                smtp.login(cfg["SMTP_USERNAME"], cfg["SMTP_PASSWORD"])
            refused = smtp.send_message(mail, from_addr=cfg["MAIL_FROM"], to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = {addr: code for addr, (code, _text) in exc.recipients.items()}
        detail = "; ".join(f"{addr}: {code}" for addr, code in codes.items())
        if all(500 <= c < 600 for c in codes.values()):
            raise PermanentFailure(f"SMTP refused the recipient(s): {detail}") from exc
        raise RetryLater(f"SMTP refused the recipient(s) for now: {detail}") from exc
    except (smtplib.SMTPAuthenticationError, smtplib.SMTPNotSupportedError) as exc:
        # The server's settings, not this message: keep it queued until an admin fixes them.
        raise RetryLater(f"SMTP sign-in or STARTTLS failed: {_reply(exc)}") from exc
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise RetryLater(f"SMTP temporary refusal: {_reply(exc)}") from exc
        raise PermanentFailure(f"SMTP refusal: {_reply(exc)}") from exc
    except (smtplib.SMTPException, OSError) as exc:  # OSError covers refused connections and timeouts
        raise RetryLater(f"SMTP server unavailable: {type(exc).__name__}: {exc}") from exc
    if refused:
        # Some recipients accepted, some refused: retrying would send the accepted ones a second copy.
        detail = "; ".join(f"{addr}: {code}" for addr, (code, _t) in refused.items())
        raise PermanentFailure(f"SMTP refused some recipients (the others got the e-mail): {detail}")


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {text}"[:500]


def send_email(msg: OutboxMessage) -> None:
    """The "email" outbox handler."""
    mail = build_mime(msg)
    recipients = [addr for _name, addr in getaddresses(msg.payload["to"])]
    if current_app.config["SMTP_HOST"]:
        smtp_send(mail, recipients)
    else:
        _write_eml(msg, mail)


def queue_invitation(to: str, language: str, meeting, method: str = "REQUEST", *, dedupe_key: str | None = None,
                     intro: str = "", now=None, updated: bool | None = None) -> OutboxMessage:
    """An iMIP invitation (REQUEST) or cancellation (CANCEL) of `meeting` (a delivery.ical.Meeting)
    to one person, in their language. The meeting's summary must already be in that language and,
    like everything here, carry no case content.

    The default dedupe key (UID, SEQUENCE, method, recipient) makes queueing the same version of
    the same invitation twice a no-op, while every update (a raised SEQUENCE) is a new message.
    `updated` says whether this person already holds an entry (default: SEQUENCE > 0); a first
    invitation is worded as new even when the meeting's SEQUENCE was raised before they joined."""
    lang = language if language in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]
    if updated is None:
        updated = meeting.sequence > 0
    with force_locale(lang):
        when = format_range(meeting.start_dt, meeting.end_dt, lang)
        if method == "CANCEL":
            subject = _("Cancelled: %(summary)s, %(when)s", summary=meeting.summary, when=when)
        elif updated:
            subject = _("Updated invitation: %(summary)s, %(when)s", summary=meeting.summary, when=when)
        else:
            subject = _("Invitation: %(summary)s, %(when)s", summary=meeting.summary, when=when)
    text, html = render_email("invitation", lang, meeting=meeting, when=when, method=method, intro=intro,
                              subject=subject, updated=updated)
    ics = invitation_ics(meeting, method, now=now, tz_name=current_app.config["APP_TIMEZONE"])
    key = dedupe_key or f"invite:{meeting.uid}:{meeting.sequence}:{method}:{to.lower()}"
    return queue_email(to, subject, text, html, ics=ics, method=method, dedupe_key=key, language=lang)
