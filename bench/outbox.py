"""Outbox and invitations benchmark.

    .venv/bin/python bench/outbox.py [--messages 500] [--workers 4] [--database URL]

Seeds a scratch database (SQLite in a temporary folder unless --database names an empty
PostgreSQL database) and prints:
- building one iMIP invitation (icalendar, VTIMEZONE, one event, three attendees), ms;
- queueing invitations (template rendering in the recipient's language + calendar + outbox row),
  ms per message, committed in one transaction;
- delivering them: to .eml files, and through a real SMTP server (aiosmtpd on 127.0.0.1, one SMTP
  connection per message), messages per second, with one worker and, on PostgreSQL, with several
  worker threads claiming rows with FOR UPDATE SKIP LOCKED (every message sent exactly once is
  checked, not assumed).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """An SMTP server that counts Message-IDs."""

    def __init__(self):
        self.ids: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's hook name)
        for line in envelope.content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                with self.lock:
                    self.ids.append(line.split(b":", 1)[1].strip().decode())
                break
        return "250 OK"


def _meeting(n: int):
    from scheduler.delivery.ical import Attendee, Meeting

    start = datetime(2027, 3, 2, 11, 0, tzinfo=UTC) + timedelta(minutes=30 * (n % 200))
    return Meeting(uid=f"bench-{n}@scheduler", sequence=0, start_dt=start, end_dt=start + timedelta(minutes=30),
                   summary="LANU – konsultaatio", organizer_email="no-reply@example.fi",
                   organizer_name="Konsultaatiopalvelu",
                   attendees=(Attendee("sanna@example.fi", "Sanna Sosiaalityöntekijä"),
                              Attendee("lauri@example.fi", "Lauri Lääkäri", "CHAIR"),
                              Attendee("kuraattori@example.org", "", "OPT-PARTICIPANT")),
                   url="https://konsultaatio.example.fi/consultations/bookings/1",
                   join_url="https://teams.microsoft.com/l/meetup-join/x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--database", default="")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-outbox-")
    os.environ["INSTANCE_PATH"] = tmp
    database = args.database or f"sqlite:///{tmp}/bench.sqlite3"
    from flask_migrate import upgrade

    from scheduler import create_app
    from scheduler.delivery.ical import invitation_ics
    from scheduler.delivery.mail import queue_invitation
    from scheduler.delivery.models import OutboxMessage
    from scheduler.delivery.outbox import deliver_due
    from scheduler.extensions import db

    os.environ["DATABASE_URL"] = database  # the settings' engine options for this database
    app = create_app({"OUTBOX_DIR": f"{tmp}/outbox", "SMTP_HOST": "", "MAIL_FROM": "no-reply@example.fi"})
    postgres = database.startswith("postgresql")
    with app.app_context():
        upgrade()

        t = time.perf_counter()
        for n in range(200):
            invitation_ics(_meeting(n))
        print(f"build one invitation (icalendar):        {(time.perf_counter() - t) / 200 * 1000:6.2f} ms")

        def queue(batch: int) -> float:
            t = time.perf_counter()
            for n in range(args.messages):
                queue_invitation(f"person{n}@example.fi", ("fi", "sv", "en")[n % 3], _meeting(batch * 100_000 + n))
            db.session.commit()
            return (time.perf_counter() - t) / args.messages * 1000

        print(f"queue one invitation (render + row):     {queue(1):6.2f} ms   ({args.messages} in one commit)")
        t = time.perf_counter()
        counts = deliver_due()
        dt = time.perf_counter() - t
        print(f"deliver to .eml files, 1 worker:         {counts['sent'] / dt:6.0f} msg/s")

        from aiosmtpd.controller import Controller

        sink = Sink()
        controller = Controller(sink, hostname="127.0.0.1", port=_free_port())
        controller.start()
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port)
        try:
            queue(2)
            t = time.perf_counter()
            counts = deliver_due()
            dt = time.perf_counter() - t
            print(f"deliver by SMTP, 1 worker:               {counts['sent'] / dt:6.0f} msg/s")
            if postgres and args.workers > 1:
                queue(3)
                before = len(sink.ids)

                def work():
                    with app.app_context():
                        deliver_due()

                threads = [threading.Thread(target=work) for _ in range(args.workers)]
                t = time.perf_counter()
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
                dt = time.perf_counter() - t
                got = sink.ids[before:]
                assert len(got) == len(set(got)) == args.messages, "a message was sent twice or not at all"
                print(f"deliver by SMTP, {args.workers} workers (SKIP LOCKED): {len(got) / dt:6.0f} msg/s, each once")
            elif not postgres:
                print("(several workers: give --database postgresql+psycopg://… of an empty database)")
        finally:
            controller.stop()
        left = db.session.query(OutboxMessage).filter(OutboxMessage.status != "sent").count()
        assert left == 0, f"{left} messages not sent"
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
