"""Take the README's screenshots with Playwright: a fresh demo database, a local server, headless
Chromium. Run after visible changes:

    .venv/bin/python scripts/screenshots.py            # writes docs/screenshots/*.png

Needs /usr/bin/chromium (`apt-get install -y chromium`) and the test extras (`make install-test`).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def main() -> int:
    sys.path.insert(0, str(ROOT))
    tmp = Path(tempfile.mkdtemp(prefix="screenshots-"))
    os.environ["INSTANCE_PATH"] = str(tmp)
    from flask_migrate import upgrade
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from scheduler import create_app
    from scheduler.demo import DEMO_PASSWORD, seed_demo
    from scheduler.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'demo.sqlite3'}", "OUTBOX_DIR": str(tmp / "outbox")})
    with app.app_context():
        upgrade()
        seed_demo(production=False)
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    OUT.mkdir(parents=True, exist_ok=True)

    def sign_in(page, email):
        page.goto(base + "/sign-in")
        page.get_by_label("Sähköpostiosoite").fill(email)
        page.get_by_label("Salasana").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Kirjaudu sisään").click()
        page.wait_for_url(base + "/")

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            desktop = {"viewport": {"width": 1200, "height": 760}, "locale": "fi-FI", "timezone_id": "Europe/Helsinki"}

            ctx = browser.new_context(**desktop)
            page = ctx.new_page()
            page.goto(base + "/sign-in")
            page.screenshot(path=str(OUT / "sign-in.png"))
            sign_in(page, "sosiaalityontekija@demo.fi")
            page.screenshot(path=str(OUT / "home.png"))
            page.goto(base + "/consultations/")
            page.screenshot(path=str(OUT / "book-consultation.png"), full_page=True)
            page.goto(base + "/consultations/mine")
            page.screenshot(path=str(OUT / "my-consultations.png"), full_page=True)
            ctx.close()

            ctx = browser.new_context(**desktop)
            page = ctx.new_page()
            sign_in(page, "sihteeri@demo.fi")
            page.goto(base + "/panels/secretary")
            page.screenshot(path=str(OUT / "panel-secretary.png"), full_page=True)
            page.goto(base + "/panels/figures")
            page.screenshot(path=str(OUT / "panel-figures.png"), full_page=True)
            ctx.close()

            ctx = browser.new_context(**desktop)
            page = ctx.new_page()
            sign_in(page, "admin@demo.fi")
            page.goto(base + "/admin/users")
            page.screenshot(path=str(OUT / "admin-users.png"), full_page=True)
            page.goto(base + "/admin/outbox/mail")
            page.screenshot(path=str(OUT / "outbox-mail.png"), full_page=True)
            ctx.close()

            # a phone (360 × 740): the booking list's filters fold away, the first free time is on screen
            ctx = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=1, locale="fi-FI",
                                      timezone_id="Europe/Helsinki")
            page = ctx.new_page()
            sign_in(page, "sosiaalityontekija@demo.fi")
            page.goto(base + "/consultations/")
            page.screenshot(path=str(OUT / "book-consultation-phone.png"))
            ctx.close()

            # Swedish content: the Swedish-speaking social worker's booking list
            ctx = browser.new_context(**{**desktop, "viewport": {"width": 1200, "height": 1150}})
            page = ctx.new_page()
            sign_in(page, "socialarbetare@demo.fi")
            page.goto(base + "/consultations/")
            page.screenshot(path=str(OUT / "book-consultation-sv.png"))
            ctx.close()

            ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1, locale="sv-FI",
                                      timezone_id="Europe/Helsinki")
            page = ctx.new_page()
            page.goto(base + "/sign-in")
            page.screenshot(path=str(OUT / "sign-in-phone-sv.png"))
            ctx.close()
            browser.close()
    finally:
        server.shutdown()
    for f in sorted(OUT.glob("*.png")):
        print(f.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
