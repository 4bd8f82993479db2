"""Property-based fuzzing of the whole API from its own OpenAPI document (issue 11, section 4).

schemathesis reads /api/v1/openapi.json from the app in-process (WSGI) and generates requests for
every operation, valid ones and invalid ones, sent as three roles (social worker, secretary,
admin) over a small world where ids 1, 2, … exist. No answer may be a 5xx (or an exception), and
every answer must match the document (the response models), so the document cannot drift from
what the API does. Bounded: a fixed number of examples per operation, derandomized (the same
examples every run) and a hard time budget for the whole test.
"""

from __future__ import annotations

import contextvars
import os
import time
from datetime import datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.generation import GenerationMode

# Examples per operation: valid ones, then invalid ones. Each example goes to one of the three roles in
# turn, so every role meets every operation. An operation that takes no input needs only a couple.
# A deeper run by hand: FUZZ_SCALE=10 FUZZ_BUDGET=600 pytest tests/test_api_fuzz.py
SCALE = float(os.environ.get("FUZZ_SCALE") or 1)
EXAMPLES = {GenerationMode.POSITIVE: int(18 * SCALE), GenerationMode.NEGATIVE: int(9 * SCALE)}
NO_INPUT_EXAMPLES = 2
BUDGET_SECONDS = float(os.environ.get("FUZZ_BUDGET") or 45)  # per backend: the whole test stays ~2 minutes


@pytest.fixture
def fuzz_world(db, make_unit, make_user):
    from scheduler.consultations import services as svc
    from scheduler.panels import cases, services
    from scheduler.panels.panel_admin import create_panel
    from scheduler.people.auth import create_api_token

    ls, lanu = make_unit("LS", kind="child_welfare"), make_unit("LANU", kind="lanu")
    worker = make_user("worker@example.fi", roles=("social_worker",), units=[ls])
    secretary = make_user("secretary@example.fi", roles=("secretary",))
    admin = make_user("admin@example.fi", roles=("admin",))
    expert = make_user("expert@example.fi", roles=("expert",))
    series = svc.create_series(actor=admin, data=svc.SeriesInput(
        unit=lanu, title="LANU", rrule="FREQ=WEEKLY;BYDAY=TU", first_start=datetime(2027, 1, 5, 13, 0),
        slots=2, capacity=2, open_to=["child_welfare"], horizon_days=730))
    db.session.commit()
    slots = svc.list_slots(actor=worker, flt=svc.SlotFilter(date_from=datetime(2027, 1, 1).date(),
                                                            date_to=datetime(2027, 2, 1).date()))
    svc.book_slot(actor=worker, slot_id=slots[0].id, case_ref="LS-1", question="Miten?")
    panel = create_panel(actor=admin, name="Työryhmä", rrule="FREQ=MONTHLY;BYDAY=2TH", first_start="2027-01-14T12:30",
                         secretaries=[secretary.email], experts=[{"email": expert.email, "expertise": ["legal"]}])
    db.session.commit()
    case = cases.submit_case(actor=worker, panel_id=panel.id, case_ref="ROI-1", child_age=12, municipality="Kemi",
                             language="fi", background="Tausta", questions="Kysymys", expertise=["legal"])
    session = services.open_sessions(panel)[0]
    cases.schedule_case(case, actor=secretary, session_id=session.id, experts=[expert.email])
    db.session.commit()
    tokens = [create_api_token(u, "fuzz") for u in (worker, secretary, admin)]
    db.session.commit()
    assert series.id == 1
    return tokens


def _takes_input(operation) -> bool:
    return bool(operation.path_parameters or operation.query or operation.body)


def test_the_api_answers_no_5xx_to_anything_its_document_allows(app, db, fuzz_world):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 17
    started = time.monotonic()
    failures: list[str] = []
    calls = 0

    def send(case, token):
        # each call in its own context, as a real server runs it (its own app context and session)
        return contextvars.Context().run(case.call, headers={"Authorization": f"Bearer {token}"})

    for mode, examples in EXAMPLES.items():
        for operation in operations:
            checks = [not_a_server_error] + ([response_schema_conformance] if mode is GenerationMode.POSITIVE else [])

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=examples if _takes_input(operation) else NO_INPUT_EXAMPLES, derandomize=True,
                      deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            def fuzz(case):
                nonlocal calls
                if time.monotonic() - started > BUDGET_SECONDS:
                    return
                token = fuzz_world[calls % len(fuzz_world)]
                calls += 1
                try:
                    response = send(case, token)
                except Exception as exc:  # TESTING propagates what would be a 500
                    failures.append(f"{case.method} {case.formatted_path}: {type(exc).__name__}: {exc}"[:400])
                    return
                try:
                    case.validate_response(response, checks=checks)
                except Exception as exc:
                    failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: "
                                    f"{str(exc)[:600]}\n  {case.as_curl_command()[:600]}")

            if time.monotonic() - started < BUDGET_SECONDS:
                fuzz()
    elapsed = time.monotonic() - started
    print(f"fuzz: {calls} calls in {elapsed:.0f} s")
    assert not failures, f"{len(failures)} failures in {calls} calls:\n" + "\n".join(dict.fromkeys(failures))
    assert calls > 150, f"only {calls} calls in {elapsed:.0f} s: the budget is too small to mean anything"
