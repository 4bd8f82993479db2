"""Calendar feeds benchmark: a personal feed of 500 and 2,000 events against the same bytes served
from memory by a bare Flask endpoint, measured side by side.

    .venv/bin/python bench/feeds.py [--sizes 500,2000] [--requests 40] [--database URL]

Seeds a scratch database (SQLite in a temporary folder unless --database names an empty
PostgreSQL database) with one booker per size and that many consultation bookings, starts the app
and a bare Flask app (one route: the bytes from memory, with an ETag and 304) in two separate
processes on the same server stack (Werkzeug, one thread each), and times requests from this
process over keep-alive HTTP, alternating between the two. Prints the median and p95 in ms of: the
first request (every event rendered); an unchanged feed; a feed with one booking changed before
each request (every item read again, one event rendered); a freshly started worker (texts from
the cache table); a conditional request answered 304; a gzip request; and the bare endpoint's 200
and 304. Also the SQL statements each kind of feed request ran (counted in the app's process).
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
    os.environ["DATABASE_URL"] = database  # the engine's options follow the database's kind
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
    """The app plus the bench's own routes (change a booking, drop the worker's memory, the last
    feed request's SQL statement count), on one Werkzeug thread."""
    import logging

    from flask import request
    from sqlalchemy import event
    from werkzeug.serving import make_server

    from scheduler.extensions import db

    app = _app(database, instance)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    counted = {"now": 0, "last_feed": 0}
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute",
                     lambda *a, **k: counted.__setitem__("now", counted["now"] + 1))

    @app.before_request
    def reset_count():
        counted["now"] = 0

    @app.after_request
    def keep_count(resp):
        if request.path.startswith("/feeds/"):
            counted["last_feed"] = counted["now"]
        return resp

    @app.route("/bench-statements")
    def bench_statements():
        """How many SQL statements the last feed request ran."""
        return str(counted["last_feed"])

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

    @app.route("/bench-forget-texts")
    def bench_forget_texts():
        """Drop only the worker's item texts (not the whole feeds): what the text memory is worth."""
        from scheduler.feeds.services import forget_rendered_in_memory

        forget_rendered_in_memory(feeds=False)
        return "ok"

    @app.route("/bench-forget")
    def bench_forget():
        from scheduler.feeds.services import forget_rendered_in_memory

        forget_rendered_in_memory()
        return "ok"

    make_server("127.0.0.1", port, app, threaded=False).serve_forever()


def serve_bare(port: int, static_dir: str) -> None:
    """A bare Flask app on the same server stack: the same bytes, read once into memory, with an
    ETag and 304 on If-None-Match, and nothing else (no database, no extensions, no hooks)."""
    import hashlib
    import logging

    from flask import Flask, Response, request
    from werkzeug.serving import make_server

    bare = Flask("bare")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    kept: dict[str, tuple[bytes, str]] = {}

    @bare.route("/bare/<name>")
    def from_memory(name):
        if name not in kept:
            body = (Path(static_dir) / name).read_bytes()
            kept[name] = (body, hashlib.sha256(body).hexdigest()[:32])
        body, etag = kept[name]
        if request.if_none_match.contains(etag):
            resp = Response(status=304)
        else:
            resp = Response(body, content_type="text/calendar; charset=utf-8")
        resp.set_etag(etag)
        return resp

    make_server("127.0.0.1", port, bare, threaded=False).serve_forever()


def _stats(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"{statistics.median(ms):8.1f} {p95:8.1f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="500,2000")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--database", default="")
    parser.add_argument("--serve", nargs=4, metavar=("DATABASE", "INSTANCE", "PORT", "STATIC"), help=argparse.SUPPRESS)
    parser.add_argument("--bare", nargs=2, metavar=("PORT", "STATIC"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare:
        serve_bare(int(args.bare[0]), args.bare[1])
        return
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
    port, bare_port = _free_port(), _free_port()
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    server_log = open(Path(tmp) / "server.log", "wb")  # noqa: SIM115  (open while the servers run)
    procs = [subprocess.Popen([sys.executable, __file__, "--serve", database, tmp, str(port), str(static)], env=env,
                              stdout=server_log, stderr=subprocess.STDOUT),
             subprocess.Popen([sys.executable, __file__, "--bare", str(bare_port), str(static)], env=env,
                              stdout=server_log, stderr=subprocess.STDOUT)]
    base, bare = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}"
    http = requests.Session()
    http.trust_env = False
    try:
        deadline = time.monotonic() + 120
        for url in (base + "/healthz", bare + "/bare/none"):
            while True:
                try:
                    http.get(url, timeout=5)
                    break
                except requests.ConnectionError:
                    if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                        raise SystemExit("a server did not start; see " + str(Path(tmp) / "server.log")) from None
                    time.sleep(0.2)
        print(f"\n{'events':>7} {'bytes':>10} {'what':<38} {'median':>8} {'p95':>8} {'SQL':>4}  "
              f"(ms, {args.requests} requests)")

        def get(url: str, headers=None) -> float:
            t = time.perf_counter()
            resp = http.get(url, headers=headers or {"Accept-Encoding": "identity"})
            resp.content  # noqa: B018  (read the whole body)
            return time.perf_counter() - t

        def statements() -> str:
            return http.get(base + "/bench-statements").text

        def timed(path: str, n: int, headers=None, before=None, bare_path: str | None = None):
            """n requests to the app (and, alternating with them, n to the bare app)."""
            samples, bare_samples = [], []
            for _ in range(n):
                if before:
                    before()
                samples.append(get(base + path, headers))
                if bare_path:
                    bare_samples.append(get(bare + bare_path, headers))
            return samples, bare_samples, statements()

        for size in sizes:
            path = paths[size]
            t = time.perf_counter()
            first = http.get(base + path, headers={"Accept-Encoding": "identity"})
            cold = [time.perf_counter() - t]
            assert first.status_code == 200, first.status_code
            body, etag = first.content, first.headers["ETag"]
            (static / f"feed-{size}.ics").write_bytes(body)
            n = args.requests
            same = f"/bare/feed-{size}.ics"
            rows = [("first request (all rendered)", cold, statements())]
            unchanged, bare_200, sql = timed(path, n, bare_path=same)
            rows.append(("unchanged feed", unchanged, sql))
            rows.append(("bare Flask, same bytes from memory", bare_200, "-"))
            cond = {"If-None-Match": etag, "Accept-Encoding": "identity"}
            not_modified, bare_304, sql = timed(path, n, headers=cond, bare_path=same)
            rows.append(("If-None-Match → 304", not_modified, sql))
            rows.append(("bare Flask, 304", bare_304, "-"))
            rows.append(("gzip (Accept-Encoding: gzip)", *timed(path, n, headers={"Accept-Encoding": "gzip"})[::2]))
            changed, _, sql = timed(path, n, before=lambda size=size: http.get(f"{base}/bench-touch/{size}"))
            rows.append(("one item changed since last poll", changed, sql))
            def touch_and_forget_texts(size=size):
                http.get(f"{base}/bench-touch/{size}")
                http.get(base + "/bench-forget-texts")

            changed_cold, _, sql = timed(path, n, before=touch_and_forget_texts)
            rows.append(("one changed, no texts in memory", changed_cold, sql))
            fresh, _, sql = timed(path, n, before=lambda: http.get(base + "/bench-forget"))
            rows.append(("fresh worker (texts from the table)", fresh, sql))
            for what, samples, sql in rows:
                print(f"{size:>7} {len(body):>10} {what:<38} {_stats(samples)} {sql:>4}")
            ratio = statistics.median(unchanged) / statistics.median(bare_200)
            ratio_304 = statistics.median(not_modified) / statistics.median(bare_200)
            print(f"{'':>18} unchanged / bare: {ratio:.1f}×   304 / bare 200: {ratio_304:.1f}×   "
                  f"304 / bare 304: {statistics.median(not_modified) / statistics.median(bare_304):.1f}×\n")
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
        server_log.close()


if __name__ == "__main__":
    main()
