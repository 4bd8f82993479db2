"""Fixtures for the expert panel's tests (a pytest plugin, see conftest.py) and their helpers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

NOW = datetime(2027, 1, 1, 10, 0, tzinfo=UTC)
RRULE = "FREQ=MONTHLY;BYDAY=2TH"
CASE = {
    "case_ref": "ROI-2027-017",
    "child_age": 14,
    "municipality": "Rovaniemi",
    "language": "fi",
    "background": "Nuori on ollut sijoitettuna kaksi vuotta; koulunkäynti on katkennut.",
    "questions": "Miten tukea koulunkäyntiä ja kuka koordinoi palveluja?",
    "expertise": ["education", "psychological"],
    "services_tried": "Perhetyö, koulupsykologi",
}


@pytest.fixture
def people(make_user):
    admin = make_user(email="admin@example.fi", roles=("admin",), name="Aino Admin")
    secretary = make_user(email="sihteeri@example.fi", roles=("secretary",), name="Seija Sihteeri")
    worker = make_user(email="sosiaali@example.fi", roles=("social_worker",), name="Sanna Sosiaali")
    other_worker = make_user(email="toinen@example.fi", roles=("social_worker",), name="Toini Toinen")
    lawyer = make_user(email="juristi@example.fi", roles=("expert",), name="Jussi Juristi")
    psych = make_user(email="psykologi@example.fi", roles=("expert",), name="Pia Psykologi")
    teacher = make_user(email="opettaja@example.fi", roles=("expert",), name="Oskari Opettaja")
    return {"admin": admin, "secretary": secretary, "worker": worker, "other_worker": other_worker,
            "lawyer": lawyer, "psych": psych, "teacher": teacher}


@pytest.fixture
def panel(db, people):
    from scheduler.panels.panel_admin import create_panel

    p = create_panel(
        actor=people["admin"], name="Lapin asiantuntijatyöryhmä", region="Lappi", rrule=RRULE,
        first_start="2027-01-14T12:30", session_minutes=180, case_minutes=45, submission_deadline_days=10,
        agenda_days=5, secretaries=["sihteeri@example.fi"],
        experts=[{"email": "juristi@example.fi", "expertise": ["legal", "criminal"]},
                 {"email": "psykologi@example.fi", "expertise": ["psychological", "therapeutic"]},
                 {"email": "opettaja@example.fi", "expertise": ["education"], "languages": ["fi", "sv"]}],
        now=NOW,
    )
    db.session.commit()
    return p


def submit(db, panel, worker, **over):
    from scheduler.panels.cases import submit_case

    data = dict(CASE, **over)
    case = submit_case(actor=worker, panel_id=panel.id, now=NOW, **data)
    db.session.commit()
    return case


@pytest.fixture
def signals():
    """Record every panel signal sent during the test (the real blinker signals)."""
    from scheduler.core.signals import panel_case_changed, panel_session_changed

    seen: list[tuple[str, object, str]] = []

    def on_session(sender, **kw):
        seen.append(("session", sender.id, kw.get("action")))

    def on_case(sender, **kw):
        seen.append(("case", sender.id, kw.get("action")))

    panel_session_changed.connect(on_session)
    panel_case_changed.connect(on_case)
    yield seen
    panel_session_changed.disconnect(on_session)
    panel_case_changed.disconnect(on_case)
