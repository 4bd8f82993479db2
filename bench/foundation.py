"""Foundation figures: password hashing, CSV import of a county's users, the admin user list and
search with that many users, and a signed-in page. On SQLite and, when it answers, PostgreSQL.

    .venv/bin/python bench/foundation.py [USERS]      (default 2000 users)

Prints figures; asserts nothing about speed."""

from __future__ import annotations

import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def timed(fn, n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples), max(samples)


def bench_hashing() -> None:
    from scheduler.people.auth import hash_password, verify_password
    from scheduler.people.models import User

    user = User(password_hash=hash_password("correct horse battery staple"))
    med, _ = timed(lambda: hash_password("correct horse battery staple"), 5)
    print(f"argon2id hash (m=32 MiB, t=2, p=1): {med:.0f} ms median")
    med, _ = timed(lambda: verify_password(user, "correct horse battery staple"), 5)
    print(f"argon2id verify: {med:.0f} ms median")


def bench_backend(label: str, uri: str, users: int, tmp: Path) -> None:
    from flask_migrate import upgrade

    from scheduler import create_app
    from scheduler.extensions import db
    from scheduler.people.services import create_unit, create_user, import_users_csv

    options = {"connect_args": {"timeout": 30}} if uri.startswith("sqlite") else {"pool_pre_ping": True}
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri, "SQLALCHEMY_ENGINE_OPTIONS": options,
                      "OUTBOX_DIR": str(tmp / "outbox")})
    with app.app_context():
        upgrade()
        for code in ["LS", "LANU", "PAIHDE"]:
            create_unit(code=code, name_fi=code, kind="other")
        admin = create_user(email="admin@bench.fi", name="Admin", roles=["admin"], password="bench password 123")
        db.session.commit()
        lines = ["email,name,roles,units,language"] + [
            f"person{i:05d}@bench.fi,Henkilö {i:05d} Äijälä,social_worker;consultant,{['LS', 'LANU', 'PAIHDE'][i % 3]},fi"
            for i in range(users)
        ]
        t = time.perf_counter()
        result = import_users_csv("\n".join(lines))
        db.session.commit()
        took = time.perf_counter() - t
        print(f"[{label}] CSV import of {result.created} users: {took:.1f} s ({took / users * 1000:.1f} ms per user)")
        email = admin.email

    client = app.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    t = time.perf_counter()
    client.post("/sign-in", data={"email": email, "password": "bench password 123", "csrf_token": token})
    print(f"[{label}] sign-in POST (argon2 verify included): {(time.perf_counter() - t) * 1000:.0f} ms")
    for what, path in [("home page", "/"), ("user list, page 1 of 50", "/admin/users"),
                       ("user list, page 20", "/admin/users?page=20"),
                       ("search 'äijälä 01' (non-ASCII, case-folded)", "/admin/users?q=%C3%A4ij%C3%A4l%C3%A4"),
                       ("search by e-mail fragment", "/admin/users?q=person0123"),
                       ("filter role + unit", "/admin/users?role=consultant&unit=LANU")]:
        assert client.get(path).status_code == 200
        med, worst = timed(lambda p=path: client.get(p), 20)
        print(f"[{label}] {what}: {med:.1f} ms median, {worst:.1f} ms worst (20 requests)")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    tmp = Path(tempfile.mkdtemp(prefix="bench-foundation-"))
    os.environ["INSTANCE_PATH"] = str(tmp)
    bench_hashing()
    bench_backend("sqlite", f"sqlite:///{tmp / 'bench.sqlite3'}", users, tmp)
    try:
        from sqlalchemy import create_engine, text

        admin = create_engine(PG, isolation_level="AUTOCOMMIT")
        name = "bench_foundation_" + secrets.token_hex(4)
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server: SQLite figures only
        print(f"[postgresql] skipped: {type(exc).__name__}")
        return
    try:
        bench_backend("postgresql", PG.rsplit("/", 1)[0] + "/" + name, users, tmp)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
