"""iMIP invitations: built by delivery.ical, checked by icalendar, libical's RFC 5546 restriction
check and recurring-ical-events, and carried by e-mail as RFC 6047 says."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from icalendar import Calendar

from scheduler.delivery.ical import Attendee, Meeting, invitation_ics
from scheduler.delivery.mail import queue_invitation
from scheduler.delivery.outbox import deliver_due

from .fixtures_mail import calendar_parts, check_invitation

HEL = ZoneInfo("Europe/Helsinki")


def meeting(**kw) -> Meeting:
    values = dict(
        uid="b7f3c2a9e1d04f6a@konsultaatio.example.fi", sequence=0,
        start_dt=datetime(2027, 1, 5, 13, 0, tzinfo=HEL), end_dt=datetime(2027, 1, 5, 13, 45, tzinfo=HEL),
        summary="LANU-konsultaatio", organizer_email="no-reply@konsultaatio.example.fi",
        organizer_name="Konsultaatiopalvelu",
        attendees=(Attendee("sanna@example.fi", "Sanna Sosiaalityöntekijä"),
                   Attendee("lauri@example.fi", "Lauri Lääkäri, LANU", "CHAIR"),
                   Attendee("ulkopuolinen@example.fi", "", "OPT-PARTICIPANT")),
        url="https://konsultaatio.example.fi/consultations/bookings/12",
        location="", join_url="https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0",
    )
    values.update(kw)
    return Meeting(**values)


@pytest.mark.parametrize("method", ["REQUEST", "CANCEL"])
def test_invitation_passes_both_parsers(method):
    before = datetime.now(UTC).replace(microsecond=0)
    ics = invitation_ics(meeting(sequence=2), method)
    cal = check_invitation(ics, method)
    tz = cal.walk("VTIMEZONE")[0]
    assert "RRULE" in tz.walk("DAYLIGHT")[0] and "RDATE" not in ics  # the Outlook-safe VTIMEZONE
    (ev,) = cal.walk("VEVENT")
    assert str(ev["UID"]) == "b7f3c2a9e1d04f6a@konsultaatio.example.fi" and int(ev["SEQUENCE"]) == 2
    assert ev["STATUS"] == ("CANCELLED" if method == "CANCEL" else "CONFIRMED")
    stamp = ev.decoded("DTSTAMP")
    assert stamp.tzinfo is not None and stamp.utcoffset() == timedelta(0) and stamp >= before
    assert "DTSTAMP:" in ics and ics.split("DTSTAMP:")[1][:16].endswith("Z")
    assert ev.decoded("DTSTART") == datetime(2027, 1, 5, 11, 0, tzinfo=UTC)
    assert ev["DTSTART"].params["TZID"] == "Europe/Helsinki"
    org = ev["ORGANIZER"]
    assert str(org) == "mailto:no-reply@konsultaatio.example.fi" and org.params["CN"] == "Konsultaatiopalvelu"
    attendees = ev["ATTENDEE"]
    assert [str(a) for a in attendees] == ["mailto:sanna@example.fi", "mailto:lauri@example.fi",
                                           "mailto:ulkopuolinen@example.fi"]
    for a in attendees:
        assert a.params["PARTSTAT"] == "NEEDS-ACTION" and a.params["RSVP"] == "FALSE"  # replies would go to no-reply
    assert [a.params["ROLE"] for a in attendees] == ["REQ-PARTICIPANT", "CHAIR", "OPT-PARTICIPANT"]
    assert attendees[0].params["CN"] == "Sanna Sosiaalityöntekijä"
    assert "CN" not in attendees[2].params
    assert "https://konsultaatio.example.fi/consultations/bookings/12" in str(ev["DESCRIPTION"])
    assert "teams.microsoft.com" in str(ev["DESCRIPTION"]) and str(ev["LOCATION"]) == "Microsoft Teams"
    assert "\r\n" in ics and all(len(line.encode()) <= 75 for line in ics.split("\r\n"))


def test_expansion_in_winter_and_summer_time():
    winter = Calendar.from_ical(invitation_ics(meeting()))
    (occ,) = recurring_ical_events.of(winter).between(date(2027, 1, 5), date(2027, 1, 6))
    assert occ.decoded("DTSTART").astimezone(UTC) == datetime(2027, 1, 5, 11, 0, tzinfo=UTC)
    summer = Calendar.from_ical(invitation_ics(meeting(start_dt=datetime(2027, 6, 15, 9, 0, tzinfo=HEL),
                                                       end_dt=datetime(2027, 6, 15, 10, 0, tzinfo=HEL))))
    (occ,) = recurring_ical_events.of(summer).between(date(2027, 6, 1), date(2027, 7, 1))
    assert occ.decoded("DTSTART").astimezone(UTC) == datetime(2027, 6, 15, 6, 0, tzinfo=UTC)
    assert recurring_ical_events.of(summer).between(date(2027, 7, 1), date(2028, 1, 1)) == []


def test_libical_catches_what_we_must_not_forget():
    """The check is not a rubber stamp: without ORGANIZER or SEQUENCE the CANCEL is refused."""
    from .fixtures_mail import libical_check

    ics = invitation_ics(meeting(sequence=1), "CANCEL")
    broken = "\r\n".join(line for line in ics.split("\r\n")
                         if not line.startswith(("ORGANIZER", "SEQUENCE")))
    result = libical_check(broken)
    assert not result["ok"] and any("ORGANIZER" in e for e in result["errors"])
    assert any("SEQUENCE" in e for e in result["errors"])


def test_bad_meetings_are_refused():
    with pytest.raises(ValueError):
        invitation_ics(meeting(start_dt=datetime(2027, 1, 5, 13, 0)))
    with pytest.raises(ValueError):
        invitation_ics(meeting(end_dt=datetime(2027, 1, 5, 12, 0, tzinfo=HEL)))
    with pytest.raises(ValueError):
        invitation_ics(meeting(attendees=()))
    with pytest.raises(ValueError):
        invitation_ics(meeting(), "PUBLISH")


def test_invitation_email_is_imip_in_the_recipients_language(smtp_app, smtp_server, db):
    m = meeting()
    queue_invitation("sanna@example.fi", "fi", m)
    queue_invitation("stina@example.fi", "sv", meeting(summary="LANU-konsultation"))
    queue_invitation("sanna@example.fi", "fi", m)  # the same version again: a no-op
    db.session.commit()
    assert deliver_due()["sent"] == 2
    fi, sv = (r.message for r in smtp_server.received)
    assert fi["Subject"] == "Kutsu: LANU-konsultaatio, ti 5.1.2027 klo 13.00–13.45"
    assert sv["Subject"] == "Inbjudan: LANU-konsultation, tis 5.1.2027 kl. 13.00–13.45"
    for mail in (fi, sv):
        assert mail.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html", "text/calendar"]
        (part,) = calendar_parts(mail)
        assert part.get_param("method") == "REQUEST" and part.get_content_charset() == "utf-8"
        assert part.get("Content-Disposition") is None  # inline, not an attachment
        ics = part.get_content()
        check_invitation(ics, part.get_param("method"))
    assert "Sinut on kutsuttu" in fi.get_body(("plain",)).get_content()
    assert "Du har bjudits in" in sv.get_body(("plain",)).get_content()

    # an update keeps the UID and raises SEQUENCE; a cancellation is METHOD:CANCEL
    queue_invitation("sanna@example.fi", "fi", meeting(sequence=1, start_dt=datetime(2027, 1, 5, 14, 0, tzinfo=HEL),
                                                       end_dt=datetime(2027, 1, 5, 14, 45, tzinfo=HEL)))
    queue_invitation("sanna@example.fi", "fi", meeting(sequence=2), "CANCEL")
    db.session.commit()
    assert deliver_due()["sent"] == 2
    update, cancel = (r.message for r in smtp_server.received[2:])
    assert update["Subject"].startswith("Päivitetty kutsu:") and cancel["Subject"].startswith("Peruttu:")
    up_cal = check_invitation(calendar_parts(update)[0].get_content(), "REQUEST")
    cancel_part = calendar_parts(cancel)[0]
    assert cancel_part.get_param("method") == "CANCEL"
    cancel_cal = check_invitation(cancel_part.get_content(), "CANCEL")
    uids = {str(c.walk("VEVENT")[0]["UID"]) for c in (up_cal, cancel_cal)}
    assert uids == {m.uid}
    assert [int(c.walk("VEVENT")[0]["SEQUENCE"]) for c in (up_cal, cancel_cal)] == [1, 2]


def test_invitation_in_the_mail_folder(mail_folder, db):
    from email import message_from_bytes, policy

    queue_invitation("sanna@example.fi", "en", meeting())
    db.session.commit()
    deliver_due()
    (path,) = mail_folder.glob("*.eml")
    mail = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert mail["Subject"] == "Invitation: LANU-konsultaatio, Tue 5.1.2027 at 13.00–13.45"
    (part,) = calendar_parts(mail)
    check_invitation(part.get_content(), "REQUEST")
