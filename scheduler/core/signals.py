"""Domain events. Services send them inside the transaction that makes the change; the delivery
package listens and writes its outbox rows in that same transaction (so nothing is lost or sent
twice). Only the transaction that won a guarded transition sends (core/transactions.py): a lost
race or a repeated action sends nothing. Every signal's sender is the changed object; `action`
says what happened.

- booking_changed(booking, action="created"|"rescheduled"|"cancelled", previous_start=None)
- panel_session_changed(session, action="published"|"updated"|"cancelled"|"held")
- panel_case_changed(case, action="submitted"|"accepted"|"returned"|"declined"|"withdrawn"|"scheduled"|"moved"
  |"statement")
- panel_attendance_changed(session, user_id=…, attending=True|False): an invited expert answered.
- teams_meeting_ready(meeting_key, join_url=...): the delivery worker created (or found) the Teams
  meeting for a booking or panel session; invitations that carry the join link can now be queued.

Operations (sent by the outbox and the job runner; received by `scheduler.ops` for metrics and alerts):
- outbox_attempted(message, outcome="sent"|"retry"|"failed", error=exception or None): one delivery
  attempt, sent just before its outcome commits (a receiver may add rows to that transaction).
- job_finished(job_id, ok=bool, started_dt=aware datetime, duration=seconds, error=exception or None):
  a background job ran in this process (its own transaction has committed or rolled back).
"""

from blinker import Namespace

_signals = Namespace()

booking_changed = _signals.signal("booking-changed")
panel_session_changed = _signals.signal("panel-session-changed")
panel_case_changed = _signals.signal("panel-case-changed")
teams_meeting_ready = _signals.signal("teams-meeting-ready")
panel_attendance_changed = _signals.signal("panel-attendance-changed")
outbox_attempted = _signals.signal("outbox-attempted")
job_finished = _signals.signal("job-finished")
