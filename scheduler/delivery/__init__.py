"""Delivery: the outbox, e-mail (SMTP or .eml files), iCalendar invitations, Microsoft Graph (Teams).

Generic: it knows no domain. Callers hand it addresses, names, languages and texts (see
`meetings.sync_meeting` and `mail.queue_email`); each domain's `notifications.py` decides who is
told what, and registers its own outbox handlers and jobs.
"""

from __future__ import annotations

from flask import Flask

from ..jobs import register_job, register_retention
from . import mail, microsoft, retention
from .cli import outbox_cli, teams_cli
from .outbox import NOTIFY_CHANNEL, delivery_job, register_handler
from .views import init_app as views_init


def init_app(app: Flask) -> None:
    register_handler(app, "email", mail.send_email)
    register_handler(app, microsoft.OUTBOX_KIND, microsoft.handle_graph_message)
    register_job(app, "outbox-deliver", delivery_job, {"trigger": "interval", "seconds": 30},
                 wake_on=NOTIFY_CHANNEL)
    views_init(app)
    register_retention(app, "outbox", retention.retention_step, retention.LABELS)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(teams_cli)
