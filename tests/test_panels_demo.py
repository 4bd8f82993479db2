"""The demo shows the panel's capability: sessions, a published agenda, an inbox, a statement."""

from __future__ import annotations

from sqlalchemy import select


def test_demo_panel(app, db):
    from scheduler.demo import seed_demo
    from scheduler.panels.cases import suggest_experts
    from scheduler.panels.models import Panel, PanelCase

    seed_demo(production=False)
    db.session.commit()
    panel = db.session.scalars(select(Panel)).one()
    assert [u.email for u in panel.secretaries] == ["sihteeri@demo.fi"]
    assert {e.user.email for e in panel.experts} == {"juristi@demo.fi", "psykologi@demo.fi", "opettaja@demo.fi"}
    cases = {c.case_ref: c for c in db.session.scalars(select(PanelCase))}
    assert cases["ROI-LS-2041"].status == "handled" and cases["ROI-LS-2041"].session.status == "held"
    assert cases["ROI-LS-2041"].statement.recommendations
    assert cases["ROI-LS-2107"].session.status == "agenda_published"
    assert cases["ROI-LS-2133"].status == "submitted" and cases["ROI-BS-0412"].language == "sv"
    assert suggest_experts(cases["ROI-LS-2107"])
    assert any(s.status == "scheduled" for s in panel.sessions)
