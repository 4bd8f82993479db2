"""The demo: every demo person who takes part in a consultation or a panel session has a feed
with something in it, and nothing of a case."""

from __future__ import annotations

from sqlalchemy import select

from .test_feeds import parse_feed


def test_demo_feeds_have_content_and_no_case_text(app, db):
    from scheduler.consultations.models import Booking
    from scheduler.demo import seed_demo
    from scheduler.feeds.services import personal_feed
    from scheduler.panels.models import PanelCase
    from scheduler.people.models import User

    seed_demo(production=False)
    db.session.commit()
    secrets = [t for b in db.session.scalars(select(Booking)) for t in (b.case_ref, b.question)]
    secrets += [t for c in db.session.scalars(select(PanelCase)) for t in (c.case_ref, c.background, c.questions)]
    assert secrets
    for email in ("sosiaalityontekija@demo.fi", "lanu@demo.fi", "sihteeri@demo.fi", "juristi@demo.fi"):
        user = db.session.execute(select(User).where(User.email == email)).scalar_one()
        feed = personal_feed(user)
        assert parse_feed(feed.body).walk("VEVENT"), email
        text = feed.body.decode()
        assert not [s for s in secrets if s and s in text], email
