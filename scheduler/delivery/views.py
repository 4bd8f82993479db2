"""Admin pages: the outbox (queued, failed and sent messages, with a retry button) and the mail
folder (the .eml files written when no SMTP server is configured: the demo's inbox)."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..core.nav import NavItem, add_nav
from ..core.permissions import roles_required
from ..core.transactions import run_atomically
from ..extensions import db
from .models import OUTBOX_STATUSES, OutboxMessage
from .outbox import retry_all_failed, retry_message

bp = Blueprint("delivery", __name__, url_prefix="/admin/outbox")

PAGE_SIZE = 200
EML_NAME = re.compile(r"^[0-9A-Za-z_.-]+\.eml$")

STATUS_LABELS = {"queued": _l("Queued"), "failed": _l("Failed"), "sent": _l("Sent")}


def init_app(app) -> None:
    app.register_blueprint(bp)
    add_nav(app, NavItem("delivery.outbox", _l("Outbox"), roles=("admin",),
                         description=_l("E-mails and Teams calls waiting, sent or failed; retry failed ones."),
                         order=85))


@bp.route("/", methods=["GET"])
@roles_required("admin")
def outbox():
    status = request.args.get("status", "")
    if status not in OUTBOX_STATUSES:
        status = "failed" if _count("failed") else "queued"
    order = OutboxMessage.sent_dt.desc() if status == "sent" else OutboxMessage.next_attempt_dt
    messages = db.session.execute(
        select(OutboxMessage).where(OutboxMessage.status == status).order_by(order, OutboxMessage.id.desc())
        .limit(PAGE_SIZE)
    ).scalars().all()
    counts = {s: _count(s) for s in OUTBOX_STATUSES}
    return render_template("delivery/outbox.html", messages=messages, status=status, counts=counts,
                           status_labels=STATUS_LABELS, page_size=PAGE_SIZE,
                           mail_folder=not current_app.config["SMTP_HOST"])


def _count(status: str) -> int:
    return db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.status == status)) or 0


@bp.route("/<int:message_id>/retry", methods=["POST"])
@roles_required("admin")
def retry(message_id: int):
    msg = retry_message(message_id)
    if msg is None:
        abort(404)
    db.session.commit()
    flash(_l("The message will be sent again within a minute."), "success")
    return redirect(url_for("delivery.outbox", status="failed"))


@bp.route("/retry-failed", methods=["POST"])
@roles_required("admin")
def retry_failed():
    n = run_atomically(lambda: retry_all_failed())
    flash(_l("%(num)d failed messages will be sent again within a minute.", num=n), "success")
    return redirect(url_for("delivery.outbox", status="queued"))


# --- the mail folder (.eml files) -------------------------------------------------------------

def _folder() -> Path:
    return Path(current_app.config["OUTBOX_DIR"])


def _eml_path(name: str) -> Path:
    if not EML_NAME.match(name):
        abort(404)
    path = _folder() / name
    if not path.is_file():
        abort(404)
    return path


def _parse(path: Path):
    with path.open("rb") as fh:
        return BytesParser(policy=policy.default).parse(fh)


@bp.route("/mail", methods=["GET"])
@roles_required("admin")
def mail_folder():
    folder = _folder()
    files = sorted(folder.glob("*.eml"), reverse=True)[:PAGE_SIZE] if folder.is_dir() else []
    mails = []
    for path in files:
        mail = _parse(path)
        mails.append({"name": path.name, "to": mail["To"], "subject": mail["Subject"], "date": mail["Date"],
                      "calendar": _calendar_method(mail)})
    return render_template("delivery/mail_folder.html", mails=mails, folder=str(folder),
                           smtp=bool(current_app.config["SMTP_HOST"]))


def _calendar_method(mail) -> str:
    for part in mail.walk():
        if part.get_content_type() == "text/calendar":
            return part.get_param("method") or "?"
    return ""


@bp.route("/mail/<name>", methods=["GET"])
@roles_required("admin")
def mail_file(name: str):
    mail = _parse(_eml_path(name))
    text = calendar = None
    for part in mail.walk():
        ctype = part.get_content_type()
        if ctype == "text/plain" and text is None:
            text = part.get_content()
        elif ctype == "text/calendar" and calendar is None:
            calendar = part.get_content()
    headers = [(h, mail[h]) for h in ("From", "To", "Subject", "Date", "Message-ID") if mail[h]]
    return render_template("delivery/mail_file.html", name=name, headers=headers, text=text, calendar=calendar,
                           method=_calendar_method(mail))


@bp.route("/mail/<name>/download", methods=["GET"])
@roles_required("admin")
def mail_download(name: str):
    """The .eml file itself: opens in Outlook or Thunderbird, which show the invitation's buttons."""
    return send_file(_eml_path(name), mimetype="message/rfc822", as_attachment=True, download_name=name)
