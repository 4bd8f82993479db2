"""Background jobs: the one list, leader election across processes, and the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from scheduler.jobs import jobs_of, register_job
from scheduler.jobs.runner import build_scheduler, run_scheduler, try_leadership


def test_the_outbox_job_is_registered_first_with_a_fixed_id(app):
    assert jobs_of(app)[0].id == "outbox-deliver"
    sched = build_scheduler(app)
    job = sched.get_job("outbox-deliver")
    assert job.coalesce is True and job.misfire_grace_time >= 60 and job.max_instances == 1
    assert job.trigger.interval.total_seconds() == 30


def test_register_job_replaces_by_id(app):
    n = len(jobs_of(app))
    register_job(app, "test-job", lambda: None, {"trigger": "interval", "seconds": 5})
    register_job(app, "test-job", lambda: None, {"trigger": "interval", "seconds": 7})
    try:
        assert len(jobs_of(app)) == n + 1
        assert build_scheduler(app).get_job("test-job").trigger.interval.total_seconds() == 7
    finally:
        app.extensions["jobs"].pop("test-job")


def test_scheduler_cli_lists_and_runs_a_job(app, db):
    from scheduler.delivery.outbox import enqueue, register_handler

    runner = app.test_cli_runner()
    r = runner.invoke(args=["scheduler", "jobs"])
    assert r.exit_code == 0 and "outbox-deliver" in r.output
    seen = []
    register_handler(app, "test-job-noop", lambda msg: seen.append(msg.id))
    enqueue("test-job-noop", {})
    db.session.commit()
    r = runner.invoke(args=["scheduler", "run-job", "outbox-deliver"])
    assert r.exit_code == 0, r.output
    assert len(seen) == 1
    assert runner.invoke(args=["scheduler", "run-job", "nope"]).exit_code != 0


def test_in_process_scheduler_runs_jobs_and_stops(app):
    fired = threading.Event()
    register_job(app, "test-tick", fired.set, {"trigger": "interval", "seconds": 1})
    stop = threading.Event()
    thread = threading.Thread(target=run_scheduler, args=(app, stop), kwargs={"heartbeat": 0.2, "standby_retry": 0.2})
    try:
        thread.start()
        assert fired.wait(10)
    finally:
        stop.set()
        thread.join(10)
        app.extensions["jobs"].pop("test-tick")
    assert not thread.is_alive()


def test_only_one_process_holds_the_lock(app):
    if app.config["BACKEND"] != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's; SQLite runs one process")
    first = try_leadership(app)
    assert first is not None and first.alive()
    try:
        assert try_leadership(app) is None  # another connection (as another process would have)
    finally:
        first.release()
    second = try_leadership(app)
    assert second is not None
    second.release()


SCHEDULER_PROCESS = textwrap.dedent("""
    import os, sys, threading, time
    from scheduler import create_app
    from scheduler.jobs import register_job
    from scheduler.jobs.runner import run_scheduler
    from datetime import datetime, timezone

    app = create_app()
    out = os.environ["OUT"]
    fire_at = datetime.fromtimestamp(float(os.environ["FIRE_AT"]), timezone.utc)

    def once():
        with open(out, "a") as fh:
            fh.write(f"once {os.getpid()}\\n")

    def tick():
        with open(out, "a") as fh:
            fh.write(f"tick {os.getpid()}\\n")

    register_job(app, "test-once", once, {"trigger": "date", "run_date": fire_at})
    register_job(app, "test-tick", tick, {"trigger": "interval", "seconds": 1})
    stop = threading.Event()
    import signal
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    print("ready", flush=True)
    run_scheduler(app, stop, heartbeat=0.2, standby_retry=0.3)
""")


def test_two_scheduler_processes_fire_a_job_once(app, tmp_path):
    """Two scheduler processes against the same PostgreSQL database: one runs the jobs, the other
    stands by; the date job fires once, every tick comes from one process; when the leader stops,
    the other takes over."""
    if app.config["BACKEND"] != "postgresql":
        pytest.skip("cross-process election needs PostgreSQL")
    out = tmp_path / "fired.txt"
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "OUT": str(out),
           "FIRE_AT": str(time.time() + 4), "INSTANCE_PATH": str(tmp_path)}
    env.pop("SCHEDULER_ENABLED", None)
    procs = [subprocess.Popen([sys.executable, "-c", SCHEDULER_PROCESS], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            lines = out.read_text().splitlines() if out.exists() else []
            if any(line.startswith("once") for line in lines) and len(lines) >= 6:
                break
            time.sleep(0.2)
        time.sleep(1.5)
        lines = out.read_text().splitlines()
        onces = [line for line in lines if line.startswith("once")]
        assert len(onces) == 1, lines
        pids = {line.split()[1] for line in lines}
        assert len(pids) == 1, lines  # every job ran in one process only
        leader = next(p for p in procs if str(p.pid) in pids)
        standby = next(p for p in procs if p is not leader)
        # the leader goes away: the standby takes over (a date job just past is run again there, within
        # misfire_grace_time: that is why jobs must be idempotent)
        leader.send_signal(signal.SIGTERM)
        leader.wait(30)
        deadline = time.time() + 20
        while time.time() < deadline:
            lines = Path(out).read_text().splitlines()
            if any(line == f"tick {standby.pid}" for line in lines):
                break
            time.sleep(0.2)
        lines = Path(out).read_text().splitlines()
        assert f"tick {standby.pid}" in lines
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_scheduler_enabled_starts_at_the_first_request_only(tmp_path):
    """SCHEDULER_ENABLED=1: nothing starts at create_app (CLI commands stay free of it); the first
    request starts one scheduler thread; later requests do not start another."""
    code = textwrap.dedent("""
        import os, threading
        from scheduler import create_app
        app = create_app()
        before = [t.name for t in threading.enumerate()]
        c = app.test_client()
        c.get("/healthz"); c.get("/healthz")
        after = [t.name for t in threading.enumerate()]
        print(before.count("job-scheduler"), after.count("job-scheduler"))
    """)
    env = {**os.environ, "SCHEDULER_ENABLED": "1", "INSTANCE_PATH": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["0", "1"]


def test_reloader_watcher_process_does_not_start_it(tmp_path):
    code = textwrap.dedent("""
        from scheduler import create_app
        from scheduler.jobs import start_in_background
        app = create_app()
        app.debug = True
        print(start_in_background(app))
    """)
    env = {**os.environ, "SCHEDULER_ENABLED": "1", "INSTANCE_PATH": str(tmp_path), "FLASK_RUN_FROM_CLI": "true",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    env.pop("WERKZEUG_RUN_MAIN", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "None"


def test_scheduler_run_cli_delivers_the_outbox_and_stops_on_sigterm(app, db, tmp_path):
    """`flask --app app scheduler run` as its own process: the outbox job runs at start (and every
    30 s), a second such process stands by, SIGTERM stops both cleanly."""
    if app.config["BACKEND"] != "postgresql":
        pytest.skip("uses the PostgreSQL test database from another process")
    from scheduler.delivery.mail import queue_email
    from scheduler.delivery.models import OutboxMessage

    queue_email("maija@example.fi", "Kutsu", "Teksti")
    db.session.commit()
    folder = tmp_path / "outbox"
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "INSTANCE_PATH": str(tmp_path),
           "SMTP_HOST": ""}
    env.pop("SCHEDULER_ENABLED", None)
    root = Path(__file__).resolve().parent.parent
    cmd = [str(Path(sys.executable).parent / "flask"), "--app", "app", "scheduler", "run"]
    logs = [tmp_path / f"scheduler-{i}.log" for i in range(2)]
    procs = [subprocess.Popen(cmd, cwd=root, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)
             for log in logs]

    def outputs():
        return [log.read_text() for log in logs]

    try:
        def status():
            db.session.rollback()  # a fresh snapshot: the other process commits the sent mark
            return db.session.query(OutboxMessage).order_by(OutboxMessage.id).first().status

        deadline = time.time() + 40
        # the file is written before the sent mark commits: wait for both, and for both processes
        while time.time() < deadline and not (
            list(folder.glob("*.eml")) and status() == "sent"
            and all("running" in o or "standing by" in o for o in outputs())
        ):
            time.sleep(0.2)
        assert len(list(folder.glob("*.eml"))) == 1
        assert status() == "sent"

        # LISTEN/NOTIFY: a message queued now leaves at once, not at the next 30-second poll
        time.sleep(1)  # past the catch-up run at start
        queue_email("matti@example.fi", "Kutsu", "Teksti")
        db.session.commit()
        queued_at = time.time()
        while time.time() < queued_at + 10 and len(list(folder.glob("*.eml"))) < 2:
            time.sleep(0.05)
        assert len(list(folder.glob("*.eml"))) == 2
        assert time.time() - queued_at < 5
    finally:
        # both are up (one runs the jobs, one stands by) before they are told to stop
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
    outputs = outputs()
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert sum("scheduler: running" in out for out in outputs) == 1, outputs
    assert sum("standing by" in out for out in outputs) == 1, outputs
