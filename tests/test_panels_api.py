# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
"""The panel API contract of issue 4 (exact paths and JSON fields)."""

from __future__ import annotations

from .panels_fixtures import CASE

PANEL = {
    "name": "Lapin asiantuntijatyöryhmä", "rrule": "FREQ=MONTHLY;BYDAY=2TH", "first_start": "2027-01-14T12:30",
    "session_minutes": 180, "case_minutes": 45, "submission_deadline_days": 10, "agenda_days": 5,
    "secretaries": ["sihteeri@example.fi"],
    "experts": [{"email": "juristi@example.fi", "expertise": ["legal"]},
                {"email": "psykologi@example.fi", "expertise": ["psychological"]},
                {"email": "opettaja@example.fi", "expertise": ["education"]}],
}


def _setup(api, people):
    admin = api(people["admin"])
    resp = admin.post("/api/v1/panels", json=PANEL)
    assert resp.status_code == 201, resp.json
    return resp.json["id"]


def test_create_and_list_panels(api, people):
    admin = api(people["admin"])
    resp = admin.post("/api/v1/panels", json=PANEL)
    assert resp.status_code == 201
    body = resp.json
    assert body["id"] and body["rrule"] == "FREQ=MONTHLY;BYDAY=2TH" and body["first_start"] == "2027-01-14T12:30:00+02:00"
    assert body["secretaries"] == ["sihteeri@example.fi"] and len(body["experts"]) == 3
    assert api(people["worker"]).get("/api/v1/panels").json["panels"][0]["id"] == body["id"]
    resp = api(people["secretary"]).post("/api/v1/panels", json=PANEL)
    assert resp.status_code == 403 and resp.json["error"]["code"] == "forbidden"
    resp = admin.post("/api/v1/panels", json=dict(PANEL, rrule="FREQ=SOMETIMES", session_minutes="x"))
    assert resp.status_code == 422 and {"rrule", "session_minutes"} <= set(resp.json["error"]["fields"])


def test_sessions_window(api, people):
    panel_id = _setup(api, people)
    resp = api(people["worker"]).get(f"/api/v1/panels/{panel_id}/sessions?from=2027-02-01&to=2027-04-01")
    sessions = resp.json["sessions"]
    assert [s["start"] for s in sessions] == ["2027-02-11T12:30:00+02:00", "2027-03-11T12:30:00+02:00"]
    assert sessions[0] == {**sessions[0], "end": "2027-02-11T15:30:00+02:00", "status": "scheduled", "capacity": 4,
                           "cases": 0}
    assert api(people["worker"]).get(f"/api/v1/panels/{panel_id}/sessions?from=huomenna").status_code == 422


def test_the_whole_flow_through_the_api(api, people):
    panel_id = _setup(api, people)
    worker, secretary, psych, lawyer = (api(people[k]) for k in ("worker", "secretary", "psych", "lawyer"))
    sessions = worker.get(f"/api/v1/panels/{panel_id}/sessions?from=2027-03-01&to=2027-04-01").json["sessions"]
    sid = sessions[0]["id"]
    resp = worker.post("/api/v1/panel-cases", json=dict(CASE, panel_id=panel_id, client_consent=False,
                                                         preferred_session_id=sid))
    assert resp.status_code == 201 and resp.json["status"] == "submitted"
    case_id = resp.json["id"]
    bad = worker.post("/api/v1/panel-cases", json=dict(CASE, panel_id=panel_id, questions="Onko 131052-308T?"))
    assert bad.status_code == 422 and "questions" in bad.json["error"]["fields"]

    assert worker.post(f"/api/v1/panel-cases/{case_id}/schedule", json={"session_id": sid}).status_code == 403
    resp = secretary.post(f"/api/v1/panel-cases/{case_id}/schedule",
                          json={"session_id": sid, "experts": ["psykologi@example.fi", "opettaja@example.fi"]})
    assert resp.status_code == 200
    assert resp.json["status"] == "scheduled"
    assert (resp.json["start"], resp.json["end"]) == ("2027-03-11T12:30:00+02:00", "2027-03-11T13:15:00+02:00")

    assert psych.get(f"/api/v1/panel-cases/{case_id}").status_code == 404  # not yet published
    assert lawyer.get(f"/api/v1/panel-cases/{case_id}").status_code == 404

    resp = secretary.post(f"/api/v1/panel-sessions/{sid}/publish")
    assert resp.status_code == 200 and resp.json["status"] == "agenda_published"
    got = psych.get(f"/api/v1/panel-cases/{case_id}")
    assert got.status_code == 200 and got.json["background"] == CASE["background"] and got.json["statement"] is None

    agenda = psych.get(f"/api/v1/panel-sessions/{sid}/agenda").json
    assert agenda["session"]["id"] == sid
    item = agenda["items"][0]
    assert item["case_id"] == case_id and item["case_ref"] == CASE["case_ref"]
    assert item["experts"] == ["opettaja@example.fi", "psykologi@example.fi"]
    assert item["background"] == CASE["background"] and item["questions"] == CASE["questions"]
    assert lawyer.get(f"/api/v1/panel-sessions/{sid}/agenda").status_code == 404

    # advice only once the session has started: before that, 409 and nothing is recorded
    resp = secretary.post(f"/api/v1/panel-cases/{case_id}/statement",
                          json={"text": "Suositus", "recommendations": ["A", "B"], "follow_up": "2027-06-01"})
    assert resp.status_code == 409 and resp.json["error"]["code"] == "conflict"
    assert worker.get(f"/api/v1/panel-cases/{case_id}").json["statement"] is None
    _start_session_now(sid)
    resp = secretary.post(f"/api/v1/panel-cases/{case_id}/statement",
                          json={"text": "Suositus", "recommendations": ["A", "B"], "follow_up": "2027-06-01"})
    assert resp.status_code == 200
    st = worker.get(f"/api/v1/panel-cases/{case_id}").json["statement"]
    assert st["text"] == "Suositus" and st["recommendations"] == ["A", "B"] and st["follow_up"] == "2027-06-01"
    assert worker.post(f"/api/v1/panel-cases/{case_id}/statement", json={"text": "x"}).status_code == 403


def _start_session_now(session_id: int) -> None:
    """The session began a moment ago (the API runs on the real clock)."""
    from datetime import timedelta

    from scheduler.core.db import utcnow
    from scheduler.extensions import db
    from scheduler.panels.models import PanelSession

    s = db.session.get(PanelSession, session_id)
    length = s.end_dt - s.start_dt
    s.start_dt = utcnow() - timedelta(minutes=5)
    s.end_dt = s.start_dt + length
    db.session.commit()


def test_agenda_hides_contents_from_those_not_assigned(api, people, make_user):
    panel_id = _setup(api, people)
    worker, secretary, psych = api(people["worker"]), api(people["secretary"]), api(people["psych"])
    sid = worker.get(f"/api/v1/panels/{panel_id}/sessions?from=2027-03-01&to=2027-04-01").json["sessions"][0]["id"]
    a = worker.post("/api/v1/panel-cases", json=dict(CASE, panel_id=panel_id)).json["id"]
    b = worker.post("/api/v1/panel-cases", json=dict(CASE, panel_id=panel_id, case_ref="B")).json["id"]
    secretary.post(f"/api/v1/panel-cases/{a}/schedule", json={"session_id": sid, "experts": ["psykologi@example.fi"]})
    secretary.post(f"/api/v1/panel-cases/{b}/schedule", json={"session_id": sid, "experts": ["juristi@example.fi"]})
    secretary.post(f"/api/v1/panel-sessions/{sid}/publish")
    items = {i["case_id"]: i for i in psych.get(f"/api/v1/panel-sessions/{sid}/agenda").json["items"]}
    assert "background" in items[a] and "background" not in items[b] and "questions" not in items[b]


def test_full_session_is_409(api, people):
    panel_id = _setup(api, people)
    worker, secretary = api(people["worker"]), api(people["secretary"])
    sid = worker.get(f"/api/v1/panels/{panel_id}/sessions?from=2027-03-01&to=2027-04-01").json["sessions"][0]["id"]
    ids = [worker.post("/api/v1/panel-cases", json=dict(CASE, panel_id=panel_id, case_ref=f"R{i}")).json["id"]
           for i in range(5)]
    for cid in ids[:4]:
        assert secretary.post(f"/api/v1/panel-cases/{cid}/schedule", json={"session_id": sid}).status_code == 200
    resp = secretary.post(f"/api/v1/panel-cases/{ids[4]}/schedule", json={"session_id": sid})
    assert resp.status_code == 409 and resp.json["error"]["code"] == "conflict"
    assert worker.get(f"/api/v1/panel-cases/{ids[4]}").json["status"] == "submitted"


def test_openapi_lists_the_panel_paths(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for p in ["/api/v1/panels", "/api/v1/panels/{panel_id}/sessions", "/api/v1/panel-cases",
              "/api/v1/panel-cases/{case_id}", "/api/v1/panel-cases/{case_id}/schedule",
              "/api/v1/panel-sessions/{session_id}/publish", "/api/v1/panel-sessions/{session_id}/agenda",
              "/api/v1/panel-cases/{case_id}/statement"]:
        assert p in paths, p
