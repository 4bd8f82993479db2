"""Fixtures for the consultation tests (a pytest plugin, see conftest.py) and their helpers."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

NOW = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def world(db, make_unit, make_user):
    """Two services that consult each other: child welfare (LS) and LANU, plus a substance unit."""
    ls = make_unit("LS", kind="child_welfare")
    lanu = make_unit("LANU", kind="lanu")
    paihde = make_unit("PAIHDE", kind="substance")
    worker = make_user("worker@example.fi", roles=("social_worker",), units=[ls], name="Sanna Sosiaali")
    worker2 = make_user("worker2@example.fi", roles=("social_worker",), units=[ls], name="Stina Social")
    doctor = make_user("doctor@example.fi", roles=("consultant",), units=[lanu], name="Lauri Lanu")
    nurse = make_user("nurse@example.fi", roles=("consultant",), units=[paihde], name="Päivi Päihde")
    host_ls = make_user("hostls@example.fi", roles=("consultant", "social_worker"), units=[ls], name="Leena Host")
    admin = make_user("admin@example.fi", roles=("admin",), units=[], name="Aino Admin")
    return type("World", (), dict(ls=ls, lanu=lanu, paihde=paihde, worker=worker, worker2=worker2, doctor=doctor,
                                  nurse=nurse, host_ls=host_ls, admin=admin))


@pytest.fixture
def make_series(db):
    def make(actor, unit, *, commit=True, now=NOW, **kw):
        from scheduler.consultations.services import SeriesInput, create_series

        data = dict(unit=unit, title="LANU-konsultaatio", rrule="FREQ=WEEKLY;BYDAY=TU",
                    first_start=datetime(2027, 1, 5, 13, 0), slot_minutes=30, slots=2, capacity=1,
                    modality="teams", location="", languages=["fi", "sv"], open_to=["child_welfare"],
                    min_notice_hours=24, horizon_days=365, until=None)
        data.update(kw)
        series = create_series(actor=actor, data=SeriesInput(**data), now=now)
        if commit:
            db.session.commit()
        return series

    return make


def local(y, m, d, hh, mm=0) -> datetime:
    from scheduler.core.timefmt import local_to_utc

    return local_to_utc(datetime(y, m, d, hh, mm))


def slot_id(series, y, m, d, hh, mm=0) -> str:
    from scheduler.consultations.slots import slot_key

    return slot_key(series.id, local(y, m, d, hh, mm))


def flt(d1: date, d2: date, **kw):
    from scheduler.consultations.services import SlotFilter

    return SlotFilter(date_from=d1, date_to=d2, **kw)
