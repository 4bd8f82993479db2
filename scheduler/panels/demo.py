"""Demo data for panels, called by scheduler.demo.seed_demo inside its transaction.

A Lapland-style panel meeting monthly on the second Thursday at 12.30–15.30, with the demo
secretary and three experts; sessions relative to today: a past session that was held with a
statement, the next session with a published agenda, and two submissions in the inbox."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dateutil.relativedelta import TH, relativedelta

from . import cases, panel_admin, services


def _second_thursday(year: int, month: int) -> date:
    return date(year, month, 1) + relativedelta(weekday=TH(2))


def seed(users: dict) -> None:
    """users: e-mail → User of the demo people (see scheduler/demo.py)."""
    admin = users.get("admin@demo.fi")
    secretary = users.get("sihteeri@demo.fi")
    worker = users.get("sosiaalityontekija@demo.fi")
    worker_sv = users.get("socialarbetare@demo.fi")
    if not (admin and secretary and worker):
        return
    now = datetime.now(UTC)
    # start the rhythm a few months back, so that one session lies in the past
    back = (now - relativedelta(months=3)).date()
    first = _second_thursday(back.year, back.month)
    created_at = now - timedelta(days=75)
    panel = panel_admin.create_panel(
        actor=admin, name="Lapin lastensuojelun monialainen asiantuntijatyöryhmä", region="Lappi",
        name_sv="Lapplands multiprofessionella expertgrupp för barnskyddet",
        name_en="Lapland multidisciplinary child welfare expert panel",
        rrule="FREQ=MONTHLY;BYDAY=2TH", first_start=datetime.combine(first, datetime.min.time()).replace(hour=12, minute=30),
        session_minutes=180, case_minutes=45, submission_deadline_days=10, agenda_days=5,
        secretaries=["sihteeri@demo.fi"],
        experts=[
            {"email": "juristi@demo.fi", "expertise": ["legal", "criminal"], "organisation": "Lapin hyvinvointialue, lakipalvelut",
             "languages": ["fi", "sv"]},
            {"email": "psykologi@demo.fi", "expertise": ["psychological", "therapeutic"],
             "organisation": "Lasten ja nuorten psykiatrian poliklinikka", "languages": ["fi"]},
            {"email": "opettaja@demo.fi", "expertise": ["education"], "organisation": "Rovaniemen oppilashuolto",
             "languages": ["fi"]},
        ],
        now=created_at,
    )
    past = [s for s in panel.sessions if s.end_dt < now - timedelta(days=2) and s.start_dt > created_at]
    coming = [s for s in panel.sessions if s.start_dt > now + timedelta(days=1)]
    # a case handled at a past session, with the panel's statement
    if past:
        held = past[-1]
        before = held.start_dt - timedelta(days=20)
        case = cases.submit_case(
            actor=worker, panel_id=panel.id, case_ref="ROI-LS-2041", child_age=13, municipality="Rovaniemi",
            language="fi",
            background="Nuori on ollut avohuollon tukitoimien asiakkaana kaksi vuotta. Koulupoissaolot ovat "
                       "lisääntyneet, ja vanhemmat ovat eri mieltä tuen tarpeesta.",
            questions="Millainen tuki auttaisi koulunkäynnin jatkumisessa? Tarvitaanko lastenpsykiatrinen arvio?",
            expertise=["psychological", "education"], services_tried="Perhetyö, koulukuraattori",
            now=before)
        cases.schedule_case(case, actor=secretary, session_id=held.id,
                               experts=["psykologi@demo.fi", "opettaja@demo.fi"], now=before)
        services.publish_agenda(held, actor=secretary, now=held.start_dt - timedelta(days=6))
        services.mark_held(held, actor=secretary, now=held.end_dt)
        cases.record_statement(
            case, actor=secretary,
            text="Työryhmä pitää tärkeänä, että koulunkäynnin tuki ja perheen tuki sovitetaan yhteen. "
                 "Lastenpsykiatrinen arvio on perusteltu, jos poissaolot jatkuvat.",
            recommendations=["Oppilashuollon verkostopalaveri kuukauden sisällä",
                             "Psykologin arvio nuoren voimavaroista", "Perhetyön jatkaminen viikoittain"],
            responsible_services=["Oppilashuolto", "Lastensuojelu", "LANU"],
            follow_up=(held.start_dt + timedelta(days=90)).date(), now=held.end_dt + timedelta(days=1))
    # an earlier session that was cancelled (the figures show scheduled / held / cancelled)
    if len(past) > 1:
        services.cancel_session(past[0], actor=secretary, reason="Syyslomaviikko",
                                now=past[0].start_dt - timedelta(days=14))
    # the next session with a published agenda
    if coming:
        nxt = coming[0]
        before = min(now, nxt.start_dt - timedelta(days=7))
        case = cases.submit_case(
            actor=worker, panel_id=panel.id, case_ref="ROI-LS-2107", child_age=9, municipality="Sodankylä",
            language="fi",
            background="Lapsi on sijoitettuna sukulaisperheeseen. Biologinen vanhempi vaatii sijoituksen purkamista.",
            questions="Mitä oikeudellisia näkökohtia on huomioitava? Miten lapsen mielipide selvitetään?",
            expertise=["legal", "psychological"], now=before - timedelta(days=5))
        cases.schedule_case(case, actor=secretary, session_id=nxt.id,
                               experts=["juristi@demo.fi", "psykologi@demo.fi"], now=before)
        if nxt.start_dt > now:
            services.publish_agenda(nxt, actor=secretary, now=now)
    # two submissions waiting in the secretary's inbox
    preferred = coming[1].id if len(coming) > 1 else None
    cases.submit_case(
        actor=worker, panel_id=panel.id, case_ref="ROI-LS-2133", child_age=16, municipality="Kemijärvi",
        language="fi", background="Nuoren päihteiden käyttö on lisääntynyt, ja hän on ollut useasti karkuteillä.",
        questions="Millainen moniammatillinen suunnitelma tukisi nuorta? Onko sijaishuolto tarpeen?",
        expertise=["substance", "child_welfare"], services_tried="Nuorten päihdetyö, perhekuntoutus",
        preferred_session_id=preferred)
    if worker_sv is not None:
        cases.submit_case(
            actor=worker_sv, panel_id=panel.id, case_ref="ROI-BS-0412", child_age=11, municipality="Rovaniemi",
            language="sv", background="Barnet har en neuropsykiatrisk diagnos och skolan orkar inte längre ge stöd.",
            questions="Hur kan stödet i skolan och hemmet samordnas?", expertise=["education", "disability"])
