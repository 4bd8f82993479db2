"""/api/v1/access-log: the access log for administrators (a data protection officer's questions)."""

from __future__ import annotations

from flask import jsonify, request
from flask_babel import lazy_gettext as _l

from ..core.errors import Forbidden, ValidationFailed
from ..people import access_log
from . import api_route, current_api_user

MAX_ENTRIES = 10_000

ENTRY_SCHEMA = {
    "type": "object",
    "properties": {
        "at": {"type": "string"}, "user": {"type": "string"},
        "action": {"type": "string", "enum": list(access_log.ACCESS_ACTIONS)},
        "object_type": {"type": "string", "enum": list(access_log.ACCESS_OBJECT_TYPES)},
        "object_id": {"type": "integer"}, "via": {"type": "string", "enum": list(access_log.ACCESS_VIAS)},
    },
    "required": ["at", "user", "action", "object_type", "object_id", "via"],
}


@api_route("/access-log", summary="Who read (or was refused) which booking or panel case, and when (administrators)",
           params=[{"name": "object_type", "in": "query", "required": False,
                    "schema": {"type": "string", "enum": list(access_log.ACCESS_OBJECT_TYPES)}},
                   {"name": "object_id", "in": "query", "required": False, "schema": {"type": "integer"}}],
           response_schema={"type": "object", "properties": {"entries": {"type": "array", "items": ENTRY_SCHEMA}},
                            "required": ["entries"]})
def access_log_entries():
    if not current_api_user().is_admin:
        raise Forbidden(str(_l("Only administrators can read the access log.")))
    object_type = request.args.get("object_type") or None
    if object_type is not None and object_type not in access_log.ACCESS_OBJECT_TYPES:
        raise ValidationFailed(str(_l("Check the request.")),
                               fields={"object_type": str(_l("Use booking or panel_case."))})
    raw_id = request.args.get("object_id")
    object_id = None
    if raw_id not in (None, ""):
        if not raw_id.isdigit() or int(raw_id) > 2**31 - 1:
            raise ValidationFailed(str(_l("Check the request.")),
                                   fields={"object_id": str(_l("Give the object's number."))})
        object_id = int(raw_id)
    rows = access_log.entries(object_type=object_type, object_id=object_id, limit=MAX_ENTRIES, newest_first=False)
    return jsonify(entries=[access_log.entry_json(e) for e in rows])
