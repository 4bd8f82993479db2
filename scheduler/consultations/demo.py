"""Demo data for consultations, called by scheduler.demo.seed_demo inside its transaction.

Three services consult each other in both directions (the reports' central ask): LANU and the
substance services hold consultation hours for child welfare, and child welfare holds a monthly
joint consultation meeting for them. Dates are relative to today, so the demo is always current:
a few past consultations, a few booked ones in the coming weeks, and many free times.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from ..core.db import utcnow
from ..core.timefmt import local_to_utc, to_local
from . import services as svc
from .slots import build_rrule, occurrences, slots_of


def _next_weekday(start: date, weekday: int) -> date:
    return start + timedelta(days=(weekday - start.weekday()) % 7)


def _book(series, actor, index: int, case_ref: str, question: str, *, now: datetime, participants=()):
    """Book the index-th free slot of the series counted from `now`."""
    free = [sv for occ in occurrences(series, now, now + timedelta(days=120)) for sv in slots_of(occ)
            if sv.start_dt >= now + timedelta(hours=series.min_notice_hours)]
    sv = free[index]
    return svc.book_slot(actor=actor, slot_id=sv.id, case_ref=case_ref, question=question,
                         participants=list(participants), now=now)


def seed(users: dict) -> None:
    """users: e-mail → User of the demo people (see scheduler/demo.py)."""
    now = utcnow()
    today = to_local(now).date()
    past = local_to_utc(datetime.combine(today - timedelta(days=30), time(8)))  # "then", for past bookings
    sanna, stina = users["sosiaalityontekija@demo.fi"], users["socialarbetare@demo.fi"]
    lauri, paivi = users["lanu@demo.fi"], users["paihde@demo.fi"]

    tue = _next_weekday(today - timedelta(days=21), 1)
    lanu = svc.create_series(actor=lauri, now=past, data=svc.SeriesInput(
        unit="LANU-ROI", title="LANU-konsultaatio lastensuojelulle", rrule=build_rrule("weekly", tue),
        first_start=datetime.combine(tue, time(13)), slot_minutes=30, slots=2, capacity=1, modality="teams",
        languages=["fi", "sv"], open_to=["child_welfare", "substance"], min_notice_hours=24, horizon_days=90,
        description="Lasten ja nuorten psykiatrian konsultaatio: oireilu, hoitoonohjaus, yhteistyö koulun kanssa.",
        title_sv="LANU-konsultation för barnskyddet", title_en="Child psychiatry (LANU) consultation for child welfare",
        description_sv="Konsultation inom barn- och ungdomspsykiatrin: symtom, remiss till vård, samarbete med skolan.",
        description_en="Child and youth psychiatry: symptoms, referral to care, working with the school."))

    thu = _next_weekday(today - timedelta(days=14), 3)
    paihde = svc.create_series(actor=paivi, now=past, data=svc.SeriesInput(
        unit="PAIHDE-ROI", title="Päihdekonsultaatio", rrule=build_rrule("biweekly", thu),
        first_start=datetime.combine(thu, time(9)), slot_minutes=30, slots=3, capacity=1, modality="phone",
        location="Soitamme varaajalle", languages=["fi"], open_to=["child_welfare", "lanu"], min_notice_hours=24,
        horizon_days=120, description="Nuoren tai vanhemman päihteiden käyttö: arviointi ja palveluohjaus."))

    wed = _next_weekday(today.replace(day=1), 2) + timedelta(days=7)  # the 2nd Wednesday of this month
    ls = svc.create_series(actor=sanna, now=past, data=svc.SeriesInput(
        unit="LS-ROI", title="Lastensuojelun yhteinen konsultaatiokokous", rrule=build_rrule("monthly", wed),
        first_start=datetime.combine(wed, time(10)), slot_minutes=60, slots=1, capacity=4, modality="in_person",
        location="Rovakatu 2, neuvotteluhuone Ounas", languages=["fi", "sv"],
        open_to=["lanu", "substance", "education"], min_notice_hours=48, horizon_days=180,
        description="Kuukausittainen monialainen konsultaatio: useita tapauksia samassa kokouksessa.",
        title_sv="Barnskyddets gemensamma konsultationsmöte", title_en="Child welfare joint consultation meeting",
        location_sv="Rovakatu 2, mötesrummet Ounas", location_en="Rovakatu 2, meeting room Ounas"))

    # past consultations (booked "then"), so "My consultations" shows both lists
    _book(lanu, sanna, 0, "LS-2026-031", "Nuoren koulupoissaolot ja ahdistus: tarvitaanko LANUn arvio?", now=past)
    _book(paihde, sanna, 0, "LS-2026-027", "Vanhemman alkoholinkäyttö ja lapsen arki: miten ottaa puheeksi?",
          now=past)
    # coming consultations
    _book(lanu, sanna, 1, "LS-2026-041", "14-vuotiaan itsetuhoiset puheet: kiireellisyys ja hoitopolku?", now=now,
          participants=["opettaja@demo.fi"])
    _book(lanu, stina, 4, "LS-2026-044", "Hur stöder vi en ungdom med ätstörning medan placeringen utreds?", now=now)
    _book(paihde, sanna, 2, "LS-2026-045", "Nuoren kannabiksen käyttö sijaishuollossa: mitä tukea on tarjolla?",
          now=now)
    _book(ls, lauri, 0, "LANU-2026-112", "Perheen tilanne huolestuttaa: milloin lastensuojeluilmoitus?", now=now)
    _book(ls, paivi, 0, "PAIHDE-2026-08", "Äidin päihdekuntoutus ja lasten tapaamiset: miten sovitetaan?", now=now)
