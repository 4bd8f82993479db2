"""Booking round trip against the bare stack's limit, SQL statements per booking, and the time from a
booking's commit to the SMTP server accepting its invitation. PostgreSQL only (what counties run).

    .venv/bin/python bench/booking.py [--clients 8] [--per-client 60] [--rounds 6] [--deliveries 100]
                                      [--servers dev,gunicorn,gunicorn-sync]

In one run, on one scratch database (created and dropped):
1. `POST /api/v1/bookings` with 8 concurrent clients (each its own social worker and token, each
   booking free slots of its own), against `bench/bare_app.py`'s endpoint on the same server stack
   (token check, row lock, insert, commit). Both on the development server (threaded) and on gunicorn
   (2 workers × 4 threads; and 2 sync workers), both up at once, the clients taking turns between
   them in rounds.
   Prints p50/p95 of each and the ratio app/bare: the goal is p95 ≤ 2×.
2. SQL statements per API booking (in-process, counted on the engine): the goal is ≤ 12.
3. Delivery: the jobs process (`flask scheduler run`) runs apart, the mail server is aiosmtpd in this
   process; 100 bookings one after another; for each, the time from the booking's response (its
   commit) to the SMTP server accepting the booker's invitation. Prints p50/p95.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import create_engine, event, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_SERVER = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def wait_http(url: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def seed(env: dict, clients: int, slots_needed: int) -> list[str]:
    """Units, a consultant, `clients` social workers with API tokens, enough capacity-1 slots; the
    bare endpoint's tables with as many slots. Returns the tokens."""
    os.environ.update(env)
    from flask_migrate import upgrade

    from scheduler import create_app
    from scheduler.consultations import services as svc
    from scheduler.extensions import db
    from scheduler.people.auth import create_api_token
    from scheduler.people.services import create_unit, create_user

    app = create_app()
    with app.app_context():
        upgrade()
        create_unit(code="LANU-B", name_fi="LANU", name_sv="LANU", name_en="LANU", kind="lanu")
        create_unit(code="LS-B", name_fi="Lastensuojelu", name_sv="Barnskydd", name_en="Child welfare",
                    kind="child_welfare")
        host = create_user(email="host@bench.fi", name="Host", roles=["consultant"], unit_codes=["LANU-B"])
        workers = [create_user(email=f"worker{i}@bench.fi", name=f"Worker {i}", roles=["social_worker"],
                               unit_codes=["LS-B"]) for i in range(clients)]
        per_occurrence, weeks = 16, 12
        n_series = -(-slots_needed // (per_occurrence * weeks)) + 1
        first = date.today() + timedelta(days=2)
        for i in range(n_series):
            day = first + timedelta(days=i % 5)
            svc.create_series(actor=host, data=svc.SeriesInput(
                unit="LANU-B", title=f"Konsultaatio {i}", rrule="FREQ=WEEKLY", slot_minutes=15,
                first_start=datetime.combine(day, datetime.min.time()).replace(hour=8),
                slots=per_occurrence, capacity=1, modality="phone", languages=["fi"], open_to=["child_welfare"],
                min_notice_hours=0, horizon_days=7 * weeks + 7))
        tokens = [create_api_token(w, "bench") for w in workers]
        db.session.execute(text("CREATE TABLE bench_bare_slots (id serial PRIMARY KEY, booked int NOT NULL DEFAULT 0,"
                                " capacity int NOT NULL DEFAULT 1)"))
        db.session.execute(text("CREATE TABLE bench_bare_bookings (id serial PRIMARY KEY, slot_id int NOT NULL "
                                "REFERENCES bench_bare_slots(id), user_id int NOT NULL, case_ref text, question text,"
                                " created_dt timestamptz NOT NULL DEFAULT now())"))
        db.session.execute(text("INSERT INTO bench_bare_slots (booked) SELECT 0 FROM generate_series(1, :n)"),
                           {"n": slots_needed})
        db.session.commit()
        db.engine.dispose()
    return tokens


def free_slots(base: str, token: str) -> list[str]:
    start = date.today()
    r = requests.get(f"{base}/api/v1/slots", params={"from": start.isoformat(),
                                                     "to": (start + timedelta(days=80)).isoformat()},
                     headers={"Authorization": f"Bearer {token}"}, timeout=60)
    r.raise_for_status()
    return [s["id"] for s in r.json()["slots"] if s.get("free", 1)]


class Server:
    def __init__(self, kind: str, target: str, env: dict):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        if kind.startswith("gunicorn"):
            app_spec = "scheduler:create_app()" if target == "app" else "bench.bare_app:app"
            # gunicorn: 2 workers × 4 threads; gunicorn-sync: 2 workers of gunicorn's default kind,
            # one request at a time each (the README's production section runs these)
            threads = ["--threads", "4"] if kind == "gunicorn" else []
            cmd = [str(BIN / "gunicorn"), "-w", "2", *threads, "-b", f"127.0.0.1:{self.port}", "--log-level", "warning",
                   app_spec]
        elif target == "app":
            cmd = [sys.executable, "-c", "from scheduler import create_app; "
                   f"create_app().run(host='127.0.0.1', port={self.port}, threaded=True)"]
        else:
            cmd = [sys.executable, str(ROOT / "bench" / "bare_app.py")]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**env, "PORT": str(self.port)},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(self.base + ("/healthz" if target == "app" else "/nothing"))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


def hammer(url: str, tokens: list[str], bodies: list[list[dict]], warmup: int) -> list[float]:
    """Each client posts its own bodies one after another; all clients at once. Latencies in ms.
    Each client's first `warmup` requests are not counted (for both servers alike, in the first
    round): each process and thread compiles its statements and fills its pools on first use, and
    the steady state is what people meet."""
    out: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(tokens))

    def client(i: int) -> None:
        s = requests.Session()
        s.trust_env = False
        h = {"Authorization": f"Bearer {tokens[i]}"}
        barrier.wait()
        for n, body in enumerate(bodies[i]):
            t = time.perf_counter()
            r = s.post(url, json=body, headers=h, timeout=60)
            dt = (time.perf_counter() - t) * 1000
            if r.status_code != 201:
                raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")
            if n >= warmup:
                with lock:
                    out.append(dt)

    with ThreadPoolExecutor(len(tokens)) as ex:
        list(ex.map(client, range(len(tokens))))
    return out


def statements_per_booking(env: dict, token: str, slot: str) -> int:
    os.environ.update(env)
    from scheduler import create_app
    from scheduler.extensions import db

    app = create_app()
    count = 0
    with app.app_context():
        engine = db.engine

        def on_execute(*_a, **_k):
            nonlocal count
            count += 1

        event.listen(engine, "before_cursor_execute", on_execute)
        r = app.test_client().post("/api/v1/bookings", json={"slot_id": slot, "case_ref": "LS-1", "question": "Q"},
                                   headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.get_data(as_text=True)
        event.remove(engine, "before_cursor_execute", on_execute)
        db.engine.dispose()
    return count


def delivery_latency(env: dict, base: str, token: str, slots: list[str], n: int, pace: float) -> list[float]:
    from aiosmtpd.controller import Controller

    received: dict[str, float] = {}

    class Sink:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's name)
            if "worker0@bench.fi" in envelope.rcpt_tos:
                body = envelope.content.decode("utf-8", "replace")
                marker = body.split("/consultations/bookings/", 1)[1][:12] if "/consultations/bookings/" in body else ""
                booking_id = "".join(ch for ch in marker if ch.isdigit())
                received.setdefault(booking_id, time.perf_counter())
            return "250 OK"

    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    queued = text("SELECT count(*) FROM outbox_messages WHERE status = 'queued'")
    controller.start()
    jobs = subprocess.Popen([str(BIN / "flask"), "--app", "app", "scheduler", "run"], cwd=ROOT,
                            env={**env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # The jobs process elects itself, starts listening and first works off the invitations of
        # the bookings above: the hand-off of a new booking is measured, not that backlog.
        engine = create_engine(env["DATABASE_URL"])
        deadline = time.monotonic() + 600
        time.sleep(5)
        with engine.connect() as c:
            while c.execute(queued).scalar() and time.monotonic() < deadline:
                c.rollback()
                time.sleep(1)
        engine.dispose()
        s = requests.Session()
        s.trust_env = False
        sent: dict[str, float] = {}
        for slot in slots[:n]:
            r = s.post(f"{base}/api/v1/bookings", json={"slot_id": slot, "case_ref": "LS-2", "question": "Q"},
                       headers={"Authorization": f"Bearer {token}"}, timeout=60)
            r.raise_for_status()
            sent[str(r.json()["id"])] = time.perf_counter()
            time.sleep(pace)  # one booking at a time, as people make them: hand-off, not throughput
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not set(sent) <= set(received):
            time.sleep(0.2)
        return [(received[k] - t) * 1000 for k, t in sent.items() if k in received]
    finally:
        jobs.terminate()
        jobs.wait(30)
        controller.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--per-client", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=6, help="turns between the app and the bare endpoint")
    ap.add_argument("--deliveries", type=int, default=100)
    ap.add_argument("--servers", default="dev,gunicorn,gunicorn-sync")
    ap.add_argument("--pace", type=float, default=0.5, help="seconds between the delivery bench's bookings")
    args = ap.parse_args()
    servers = [s for s in args.servers.split(",") if s]
    need = args.clients * (args.per_client + 10) * len(servers) + args.deliveries + 50
    name = "bench_booking_" + secrets.token_hex(4)
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    tmp = tempfile.mkdtemp(prefix="bench-booking-")
    url = PG_SERVER.rsplit("/", 1)[0] + "/" + name
    env = {**os.environ, "DATABASE_URL": url, "INSTANCE_PATH": tmp, "SECRET_KEY": "b" * 40,
           "BASE_URL": "http://127.0.0.1:5000", "OUTBOX_DIR": f"{tmp}/outbox", "SCHEDULER_ENABLED": "0",
           "MAIL_FROM": "no-reply@bench.fi", "PYTHONPATH": str(ROOT)}
    try:
        tokens = seed(env, args.clients, need)
        print(f"PostgreSQL, {args.clients} concurrent clients × {args.per_client} bookings each "
              f"({date.today().isoformat()}, {os.cpu_count()} cores)")
        slot_pool: list[str] = []
        bare_next = 1
        for kind in servers:
            # Both servers up at once, and the clients take turns between them round by round, so
            # that whatever else the machine does at a moment weighs on both alike.
            app_srv, bare_srv = Server(kind, "app", env), Server(kind, "bare", env)
            try:
                if not slot_pool:
                    slot_pool = free_slots(app_srv.base, tokens[0])
                app_ms: list[float] = []
                bare_ms: list[float] = []
                per_round = max(1, args.per_client // args.rounds)
                for rnd in range(args.rounds):
                    warmup = 10 if rnd == 0 else 0
                    bodies = []
                    for _i in range(args.clients):
                        mine, slot_pool = slot_pool[:per_round + warmup], slot_pool[per_round + warmup:]
                        bodies.append([{"slot_id": s, "case_ref": "LS-2027-1", "question": "Kysymys"} for s in mine])
                    app_ms += hammer(app_srv.base + "/api/v1/bookings", tokens, bodies, warmup)
                    bodies = []
                    for _i in range(args.clients):
                        bodies.append([{"slot_id": bare_next + k, "case_ref": "LS-2027-1", "question": "Kysymys"}
                                       for k in range(per_round + warmup)])
                        bare_next += per_round + warmup
                    bare_ms += hammer(bare_srv.base + "/bare/bookings", tokens, bodies, warmup)
            finally:
                app_srv.stop()
                bare_srv.stop()
            a50, a95, b50, b95 = pct(app_ms, 50), pct(app_ms, 95), pct(bare_ms, 50), pct(bare_ms, 95)
            print(f"  {kind:13} booking  p50 {a50:6.1f} ms  p95 {a95:6.1f} ms | bare p50 {b50:6.1f} ms  "
                  f"p95 {b95:6.1f} ms | ratio p50 {a50 / b50:4.2f}×  p95 {a95 / b95:4.2f}×  ({len(app_ms)} + {len(bare_ms)})")
        print(f"  SQL statements per API booking: {statements_per_booking(env, tokens[1], slot_pool.pop(0))}")
        app_srv = Server("dev", "app", env)
        try:
            lat = delivery_latency(env, app_srv.base, tokens[0], slot_pool, args.deliveries, args.pace)
        finally:
            app_srv.stop()
        if lat:
            print(f"  commit → SMTP accepted (jobs process apart, LISTEN/NOTIFY): p50 {statistics.median(lat):6.0f} ms"
                  f"  p95 {pct(lat, 95):6.0f} ms  ({len(lat)} of {args.deliveries} bookings)")
        else:
            print("  delivery: no invitation arrived")
    finally:
        with admin.connect() as c:
            c.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' "
                           "AND pid <> pg_backend_pid()"))
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


if __name__ == "__main__":
    main()
