from sqlalchemy import select


def test_unit_and_user_create_and_token(app, db):
    runner = app.test_cli_runner()
    r = runner.invoke(args=["unit", "create", "LS-TEST", "--name", "Testin lastensuojelu", "--kind", "child_welfare"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(args=["unit", "create", "LS-TEST", "--name", "Again", "--kind", "child_welfare"])
    assert r.exit_code != 0 and "code:" in r.output
    r = runner.invoke(args=["unit", "create", "X", "--name", "N", "--kind", "nonsense"])
    assert r.exit_code != 0

    r = runner.invoke(
        args=["user", "create", "Maija@Example.fi", "--name", "Maija", "--role", "social_worker", "--role", "consultant",
              "--unit", "LS-TEST", "--password-stdin"],
        input="a long enough password\n",
    )
    assert r.exit_code == 0, r.output
    from scheduler.people.models import User

    user = db.session.execute(select(User).where(User.email == "maija@example.fi")).scalar_one()
    assert user.roles == ["consultant", "social_worker"] and [u.code for u in user.units] == ["LS-TEST"]

    r = runner.invoke(args=["user", "token", "maija@example.fi"])
    assert r.exit_code == 0
    token = r.output.strip().splitlines()[-1]
    resp = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and resp.json["email"] == "maija@example.fi"


def test_user_create_refuses_unknown_unit_and_short_password(app):
    runner = app.test_cli_runner()
    r = runner.invoke(args=["user", "create", "a@example.fi", "--name", "A", "--role", "admin", "--unit", "NOPE"])
    assert r.exit_code != 0
    r = runner.invoke(args=["user", "create", "a@example.fi", "--name", "A", "--role", "admin", "--password-stdin"], input="short\n")
    assert r.exit_code != 0


def test_seed_demo_once_and_refused_in_production(app, db):
    runner = app.test_cli_runner()
    r = runner.invoke(args=["seed-demo"])
    assert r.exit_code == 0, r.output
    assert "sihteeri@demo.fi" in r.output and "demo-salasana" in r.output
    r = runner.invoke(args=["seed-demo"])
    assert r.exit_code != 0
    assert "sihteeri@demo.fi" in r.output  # `make run` again still shows the logins
    app.config["PRODUCTION"] = True
    try:
        r = runner.invoke(args=["seed-demo"])
        assert r.exit_code != 0 and "production" in r.output
        assert "demo-salasana" not in r.output
    finally:
        app.config["PRODUCTION"] = False


def test_seed_demo_refuses_production_settings_even_on_an_empty_database(app, db):
    from sqlalchemy import func, select

    from scheduler.people.models import User

    runner = app.test_cli_runner()
    app.config["PRODUCTION"] = True
    try:
        r = runner.invoke(args=["seed-demo"])
        assert r.exit_code != 0 and "APP_ENV=production" in r.output and "demo-salasana" not in r.output
    finally:
        app.config["PRODUCTION"] = False
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_csv_import_all_or_nothing(app, db, make_unit):
    from scheduler.people.services import get_user_by_email, import_users_csv

    make_unit(code="LS1")
    bad = "email,name,roles,units\nok@example.fi,Ok Person,social_worker,LS1\nbroken,Bad,social_worker,LS1\n"
    result = import_users_csv(bad)
    assert result.errors and result.errors[0][0] == 3
    db.session.commit()
    assert get_user_by_email("ok@example.fi") is None

    good = "email;name;roles;units;language\nok@example.fi;Ok Person;social_worker consultant;LS1;sv\n"
    result = import_users_csv(good)
    db.session.commit()
    assert result.created == 1 and not result.errors
    user = get_user_by_email("ok@example.fi")
    assert user.language == "sv" and user.roles == ["consultant", "social_worker"]
    result = import_users_csv("email,name,roles\nok@example.fi,Ok Renamed,social_worker\n")
    db.session.commit()
    assert result.updated == 1


def test_the_real_command_line(tmp_path):
    """`flask --app app …` in its own process, as an IT person runs it, against a fresh SQLite file;
    then the same database as production: seed-demo refuses (production settings)."""
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    flask = Path(sys.executable).parent / "flask"
    db_url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    base_env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY", "BASE_URL", "APP_ENV"}}
    base_env.update({"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": db_url})

    def run(*args, stdin=None, env=None):
        return subprocess.run([str(flask), "--app", "app", *args], cwd=root, env=env or base_env, input=stdin,
                              capture_output=True, text=True, timeout=120)

    assert run("db", "upgrade").returncode == 0
    r = run("unit", "create", "LS-ROI", "--name", "Rovaniemen lastensuojelu", "--kind", "child_welfare")
    assert r.returncode == 0, r.stderr
    r = run("user", "create", "it@example.fi", "--name", "Iina IT", "--role", "admin", "--role", "consultant",
            "--unit", "LS-ROI", "--password-stdin", stdin="a long enough password\n")
    assert r.returncode == 0, r.stderr
    r = run("user", "token", "it@example.fi")
    assert r.returncode == 0, r.stderr
    last = r.stdout.rstrip("\n").split("\n")[-1]
    assert re.fullmatch(r"lsk_[A-Za-z0-9_-]{40,}", last), r.stdout
    token = last
    r = run("user", "token", "nobody@example.fi")
    assert r.returncode != 0 and "nobody@example.fi" in r.stderr

    prod_env = {**base_env, "APP_ENV": "production", "SECRET_KEY": "k" * 40, "BASE_URL": "https://konsultaatio.example.fi",
                "ACCESSIBILITY_FEEDBACK_EMAIL": "saavutettavuus@example.fi"}
    r = run("seed-demo", env=prod_env)
    assert r.returncode != 0 and "APP_ENV=production" in r.stderr
    assert "demo-salasana" not in r.stdout

    # the token works against the same database
    from scheduler import create_app

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": db_url})
    resp = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and resp.json["roles"] == ["admin", "consultant"]
    assert resp.json["units"][0]["code"] == "LS-ROI"
    with app.app_context():
        from scheduler.extensions import db

        db.engine.dispose()
