"""Calendar feeds benchmark: a personal feed of 100, 1,000 and 10,000 events against the same bytes
served as a static .ics file by the same server.

    .venv/bin/python bench/feeds.py [--sizes 100,1000,10000] [--requests 40] [--database URL]

Seeds a scratch database (SQLite in a temporary folder unless --database names an empty
PostgreSQL database) with one booker per size and that many consultation bookings, starts the app
in a separate process (Werkzeug, one thread) with an extra route serving a folder of static files,
and times requests from this process over keep-alive HTTP. Prints the median and p95 in ms of:
the first request (every event rendered); an unchanged feed (kept whole in the worker's memory,
checked by four aggregate queries); a feed with one booking changed before each request (every
item read again, one event rendered); a freshly started worker (texts from the cache table); a
conditional request answered 304, a gzip request, and the static file.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _app(database: str, instance: str):
    os.environ["INSTANCE_PATH"] = instance
    from scheduler import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": database, "BASE_URL": "http://127.0.0.1:5000"})


def seed(database: str, instance: str, sizes: list[int]) -> dict[int, str]:
    """One booker per size with that many bookings (hourly from 80 days ago on; every 50th
    cancelled); returns the feed path of each."""
    from flask_migrate import upgrade
    from sqlalchemy import insert

    app = _app(database, instance)
    with app.app_context():
        upgrade()
        from scheduler.consultations.models import Booking, ConsultationSeries, ConsultationSlot
        from scheduler.extensions import db
        from scheduler.feeds.services import ensure_feed_token
        from scheduler.people.services import create_unit, create_user

        host = create_unit(code="LANU-BENCH", name_fi="Lasten ja nuorten psykiatrian poliklinikka (LANU)",
                           name_sv="Barn- och ungdomspsykiatrin (LANU)", name_en="Child psychiatry (LANU)", kind="lanu")
        create_unit(code="LS-BENCH", name_fi="Lastensuojelu", kind="child_welfare")
        consultant = create_user(email="lanu@bench.fi", name="Lauri Lääkäri", roles=["consultant"],
                                 unit_codes=["LANU-BENCH"], language="fi", password=None)
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        paths = {}
        for size in sizes:
            booker = create_user(email=f"sw{size}@bench.fi", name=f"Sanna {size}", roles=["social_worker"],
                                 unit_codes=["LS-BENCH"], language="fi", password=None)
            series = ConsultationSeries(unit_id=host.id, title=f"LANU {size}", rrule="FREQ=DAILY",
                                        first_start_dt=now - timedelta(days=100), slot_minutes=30,
                                        slots_per_occurrence=1, capacity=1, modality="teams",
                                        open_to=["child_welfare"], horizon_days=3650, consultants=[consultant])
            db.session.add(series)
            db.session.flush()
            first = now - timedelta(days=80)
            starts = [first + timedelta(hours=i) for i in range(size)]  # hourly, from 80 days ago on
            db.session.execute(insert(ConsultationSlot), [
                {"series_id": series.id, "start_dt": s, "end_dt": s + timedelta(minutes=30), "capacity": 1, "booked": 1}
                for s in starts])
            slot_ids = dict(db.session.execute(
                ConsultationSlot.__table__.select().with_only_columns(ConsultationSlot.start_dt, ConsultationSlot.id)
                .where(ConsultationSlot.series_id == series.id)).all())
            db.session.execute(insert(Booking), [
                {"slot_id": slot_ids[s], "series_id": series.id, "booker_id": booker.id, "start_dt": s,
                 "end_dt": s + timedelta(minutes=30), "case_ref": f"BENCH-{i}", "question": "(bench)",
                 "participants": [], "status": "cancelled" if i % 50 == 0 else "confirmed", "sequence": i % 3,
                 "join_url": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{i:08d}%40thread.v2/0",
                 "ical_uid": f"{i:08x}{size:08x}{'0' * 16}@consultations", "updated_dt": now - timedelta(days=1)}
                for i, s in enumerate(starts)])
            paths[size] = f"/feeds/{ensure_feed_token(booker)}.ics"
        db.session.commit()
    return paths


def serve(database: str, instance: str, port: int, static_dir: str) -> None:
    """The app plus /bench-static/<file> (send_from_directory) and /bench-forget (drops the
    worker's in-memory texts), on one Werkzeug thread."""
    import logging

    from flask import send_from_directory
    from werkzeug.serving import make_server

    app = _app(database, instance)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    @app.route("/bench-static/<path:name>")
    def bench_static(name):
        return send_from_directory(static_dir, name, mimetype="text/calendar")

    @app.route("/bench-touch/<int:size>")
    def bench_touch(size):
        """Change one booking of the feed (its sequence; updated_dt follows), as a user would."""
        from sqlalchemy import func, select, update

        from scheduler.consultations.models import Booking
        from scheduler.extensions import db
        from scheduler.people.models import User

        user_id = select(User.id).where(User.email == f"sw{size}@bench.fi").scalar_subquery()
        first = select(func.min(Booking.id)).where(Booking.booker_id == user_id).scalar_subquery()
        db.session.execute(update(Booking).where(Booking.id == first).values(sequence=Booking.sequence + 1))
        db.session.commit()
        return "ok"

    @app.route("/bench-forget")
    def bench_forget():
        from scheduler.feeds.services import forget_rendered_in_memory

        forget_rendered_in_memory()
        return "ok"

    make_server("127.0.0.1", port, app, threaded=False).serve_forever()


def _stats(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"{statistics.median(ms):8.1f} {p95:8.1f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--database", default="")
    parser.add_argument("--serve", nargs=4, metavar=("DATABASE", "INSTANCE", "PORT", "STATIC"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        database, instance, port, static = args.serve
        serve(database, instance, int(port), static)
        return

    import requests

    sizes = [int(s) for s in args.sizes.split(",")]
    tmp = tempfile.mkdtemp(prefix="bench-feeds-")
    database = args.database or f"sqlite:///{tmp}/bench.sqlite3"
    print(f"seeding {sum(sizes)} bookings into {database.split('://')[0]} …", flush=True)
    paths = seed(database, tmp, sizes)
    static = Path(tmp) / "static"
    static.mkdir()
    port = _free_port()
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    server_log = open(Path(tmp) / "server.log", "wb")  # noqa: SIM115  (open while the server runs)
    proc = subprocess.Popen([sys.executable, __file__, "--serve", database, tmp, str(port), str(static)], env=env,
                            stdout=server_log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    http = requests.Session()
    http.trust_env = False
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                http.get(base + "/healthz", timeout=5)
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start; see " + str(Path(tmp) / "server.log")) from None
                time.sleep(0.2)
        print(f"\n{'events':>7} {'bytes':>10} {'what':<34} {'median':>8} {'p95':>8}  (ms, {args.requests} requests)")

        def timed(path: str, n: int, headers=None, before=None) -> tuple[list[float], requests.Response]:
            samples, resp = [], None
            for _ in range(n):
                if before:
                    before()
                t = time.perf_counter()
                resp = http.get(base + path, headers=headers or {"Accept-Encoding": "identity"})
                resp.content  # noqa: B018  (read the whole body)
                samples.append(time.perf_counter() - t)
            return samples, resp

        for size in sizes:
            path = paths[size]
            cold, first = timed(path, 1)
            assert first.status_code == 200, first.status_code
            body = first.content
            (static / f"feed-{size}.ics").write_bytes(body)
            n = args.requests if size < 10_000 else max(10, args.requests // 2)
            rows = [("first request (all rendered)", cold)]
            rows.append(("unchanged (feed kept in memory)", timed(path, n)[0]))
            rows.append(("one item changed since last poll", timed(
                path, n, before=lambda size=size: http.get(f"{base}/bench-touch/{size}"))[0]))
            rows.append(("fresh worker (texts from the table)", timed(
                path, n, before=lambda: http.get(base + "/bench-forget"))[0]))
            rows.append(("If-None-Match → 304", timed(path, n, headers={"If-None-Match": first.headers["ETag"],
                                                                           "Accept-Encoding": "identity"})[0]))
            rows.append(("gzip (Accept-Encoding: gzip)", timed(path, n, headers={"Accept-Encoding": "gzip"})[0]))
            rows.append(("static .ics file, same server", timed(f"/bench-static/feed-{size}.ics", n)[0]))
            for what, samples in rows:
                print(f"{size:>7} {len(body):>10} {what:<34} {_stats(samples)}")
            print()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        server_log.close()


if __name__ == "__main__":
    main()
