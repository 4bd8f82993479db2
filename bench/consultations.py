"""Consultation slot listing benchmark: 3 services × 20 series × 26 weeks with 10,000 past bookings.

    .venv/bin/python bench/consultations.py [--runs 30] [--weeks 26] [--past 10000] [--no-postgres]

Seeds a scratch SQLite database (in a temporary folder) and, when the local PostgreSQL answers at
127.0.0.1:5432, a scratch PostgreSQL database (created and dropped): three host units with 20
weekly series each (4 × 30 min per occurrence), 10,000 past bookings and a fifth of the coming
slots booked. Then times, for a social worker who may book all of them:
  - the service call `list_slots` over 26 weeks (what the booking page and the API run), and
  - `GET /api/v1/slots?from=…&to=…` through the app (JSON included),
and prints the median and p95 in ms, the number of slots, and the SQL statements per listing for
1 week and for 26 weeks (the same: the count does not grow with the number of slots).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BOOKER_PASSWORD = "bench booker password 2027"


def _app(database: str, instance: str):
    os.environ["INSTANCE_PATH"] = instance
    from scheduler import create_app

    config = {"SQLALCHEMY_DATABASE_URI": database, "BASE_URL": "http://127.0.0.1:5000", "WTF_CSRF_ENABLED": False}
    if database.startswith("postgresql"):
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
    return create_app(config)


def seed(app, weeks: int, past_bookings: int) -> tuple[int, str]:
    """Returns (booker id, API token)."""
    from flask_migrate import upgrade
    from sqlalchemy import insert

    with app.app_context():
        upgrade()
        from scheduler.consultations import services as svc
        from scheduler.consultations.models import Booking, ConsultationSlot
        from scheduler.consultations.slots import build_rrule, occurrences, slots_of
        from scheduler.core.db import utcnow
        from scheduler.core.timefmt import to_local
        from scheduler.extensions import db
        from scheduler.people.auth import create_api_token
        from scheduler.people.services import create_unit, create_user

        now = utcnow()
        kinds = [("LANU-B", "lanu"), ("PAIHDE-B", "substance"), ("LS-B", "child_welfare")]
        for code, kind in kinds:
            create_unit(code=code, name_fi=f"Yksikkö {code}", name_sv=f"Enhet {code}", name_en=f"Unit {code}", kind=kind)
        booker = create_user(email="booker@bench.fi", name="Bench Booker", roles=["social_worker"], unit_codes=["LS-B"],
                             password=BOOKER_PASSWORD)
        hosts = [create_user(email=f"host{i}@bench.fi", name=f"Host {i}", roles=["consultant"], unit_codes=[code])
                 for i, (code, _k) in enumerate(kinds)]
        start_local = to_local(now - timedelta(weeks=60)).replace(tzinfo=None, hour=0, minute=0, second=0,
                                                                  microsecond=0)
        series = []
        for (code, _kind), host in zip(kinds, hosts, strict=True):
            for i in range(20):
                day = (start_local + timedelta(days=i % 5 - start_local.weekday() + 7)).date()
                first = datetime.combine(day, datetime.min.time()).replace(hour=8 + (i // 5) * 2)
                series.append(svc.create_series(actor=host, now=now - timedelta(weeks=61), data=svc.SeriesInput(
                    unit=code, title=f"{code} konsultaatio {i}", rrule=build_rrule("weekly", day), first_start=first,
                    slot_minutes=30, slots=4, capacity=1, modality="teams", languages=["fi", "sv"],
                    open_to=["child_welfare", "lanu", "substance"], min_notice_hours=0, horizon_days=730)))
        db.session.flush()
        # past bookings: fill past slots, newest first, until there are enough
        past_slots = sorted((sv for s in series for occ in occurrences(s, now - timedelta(weeks=60), now)
                             for sv in slots_of(occ) if sv.start_dt < now), key=lambda sv: sv.start_dt, reverse=True)[:past_bookings]
        future = [sv for s in series for occ in occurrences(s, now, now + timedelta(weeks=weeks))
                  for sv in slots_of(occ) if sv.start_dt >= now]
        booked_future = future[::5]
        rows = [dict(series_id=sv.series.id, start_dt=sv.start_dt, end_dt=sv.end_dt, capacity=1, booked=1)
                for sv in past_slots + booked_future]
        db.session.execute(insert(ConsultationSlot), rows)
        ids = {(r.series_id, r.start_dt): r.id for r in db.session.query(
            ConsultationSlot.id, ConsultationSlot.series_id, ConsultationSlot.start_dt)}
        db.session.execute(insert(Booking), [
            dict(slot_id=ids[(sv.series.id, sv.start_dt)], series_id=sv.series.id, booker_id=booker.id,
                 start_dt=sv.start_dt, end_dt=sv.end_dt, case_ref=f"B-{n}", question="Kysymys", participants=[],
                 status="confirmed", ical_uid=f"{secrets.token_hex(16)}@bench", sequence=0, cancel_reason="",
                 created_dt=now, updated_dt=now)
            for n, sv in enumerate(past_slots + booked_future)])
        token = create_api_token(booker, "bench")
        db.session.commit()
        print(f"  seeded {len(series)} series, {len(past_slots)} past and {len(booked_future)} future bookings",
              flush=True)
        return booker.id, token


def measure(app, booker_id: int, token: str, weeks: int, runs: int) -> None:
    from sqlalchemy import event

    from scheduler.consultations import services as svc
    from scheduler.core.db import utcnow
    from scheduler.core.timefmt import to_local
    from scheduler.extensions import db
    from scheduler.people.models import User

    with app.app_context():
        today = to_local(utcnow()).date()
        d2 = today + timedelta(weeks=weeks) - timedelta(days=1)

        def listing(days_to):
            user = db.session.get(User, booker_id)
            return svc.list_slots(actor=user, flt=svc.SlotFilter(date_from=today, date_to=days_to))

        counter = [0]

        def count(*_a, **_k):
            counter[0] += 1

        queries = {}
        for label, end in (("1 week", today + timedelta(days=6)), (f"{weeks} weeks", d2)):
            db.session.remove()
            user = db.session.get(User, booker_id)
            _ = user.units, user.role_rows
            event.listen(db.engine, "before_cursor_execute", count)
            counter[0] = 0
            n = len(svc.list_slots(actor=user, flt=svc.SlotFilter(date_from=today, date_to=end)))
            event.remove(db.engine, "before_cursor_execute", count)
            queries[label] = (counter[0], n)
        times, short_times = [], []
        listing(d2)
        for _ in range(runs):
            db.session.remove()
            t0 = time.perf_counter()
            slots = listing(d2)
            times.append((time.perf_counter() - t0) * 1000)
            db.session.remove()
            t0 = time.perf_counter()
            short = listing(today + timedelta(days=27))
            short_times.append((time.perf_counter() - t0) * 1000)
        db.session.remove()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/slots?from={today.isoformat()}&to={d2.isoformat()}"
    assert client.get(url, headers=headers).status_code == 200
    api_times, size = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        r = client.get(url, headers=headers)
        api_times.append((time.perf_counter() - t0) * 1000)
        size = len(r.get_data())
    assert r.status_code == 200

    # the booking page as the social worker opens it: signed in, the default four weeks
    page = app.test_client()
    r = page.post("/sign-in", data={"email": "booker@bench.fi", "password": BOOKER_PASSWORD})
    assert r.status_code in (302, 303), r.status_code
    assert page.get("/consultations/").status_code == 200
    page_times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = page.get("/consultations/")
        page_times.append((time.perf_counter() - t0) * 1000)
    assert r.status_code == 200
    api4_url = f"/api/v1/slots?from={today.isoformat()}&to={(today + timedelta(days=27)).isoformat()}"
    api4_times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = client.get(api4_url, headers=headers)
        api4_times.append((time.perf_counter() - t0) * 1000)

    def stats(xs):
        xs = sorted(xs)
        return statistics.median(xs), xs[max(0, int(round(0.95 * len(xs))) - 1)]

    m, p = stats(times)
    sm, sp = stats(short_times)
    am, ap = stats(api_times)
    print(f"  slots listed over {weeks} weeks: {len(slots)} ({sum(1 for s in slots if s.is_full)} booked)")
    for label, (q, n) in queries.items():
        print(f"  SQL statements per listing, {label}: {q} ({n} slots)")
    print(f"  list_slots, {weeks} weeks (service):  median {m:7.1f} ms   p95 {p:7.1f} ms   ({runs} runs)")
    print(f"  list_slots, 4 weeks (the booking page's default, {len(short)} slots):  median {sm:7.1f} ms   "
          f"p95 {sp:7.1f} ms")
    print(f"  GET /api/v1/slots:     median {am:7.1f} ms   p95 {ap:7.1f} ms   ({size / 1024:.0f} KiB JSON)")
    pm, pp = stats(page_times)
    qm, qp = stats(api4_times)
    print(f"  the booking page (4 weeks, signed in):  median {pm:7.1f} ms   p95 {pp:7.1f} ms")
    print(f"  GET /api/v1/slots, 4 weeks:              median {qm:7.1f} ms   p95 {qp:7.1f} ms")


def run(name: str, database: str, args) -> None:
    print(f"-- {name}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        app = _app(database, tmp)
        booker_id, token = seed(app, args.weeks, args.past)
        measure(app, booker_id, token, args.weeks, args.runs)
        with app.app_context():
            from scheduler.extensions import db

            db.session.remove()
            db.engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--weeks", type=int, default=26)
    ap.add_argument("--past", type=int, default=10_000)
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{tmp}/bench.sqlite3", args)
    if args.no_postgres:
        return
    from sqlalchemy import create_engine, text

    try:
        admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text("SELECT 1"))
    except Exception as exc:  # no server: SQLite figures only
        print(f"-- PostgreSQL skipped ({type(exc).__name__})")
        return
    name = "bench_consultations_" + secrets.token_hex(4)
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        run("PostgreSQL", PG_SERVER.rsplit("/", 1)[0] + "/" + name, args)
    finally:
        with admin.connect() as c:
            c.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


if __name__ == "__main__":
    main()
