"""/api/v1/access-log: the access log for administrators (a data protection officer's questions)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import jsonify
from flask_babel import lazy_gettext as _l
from pydantic import Field

from ..core.errors import Forbidden
from ..people import access_log
from . import api_route, current_api_user
from .schema import ApiModel, ResponseModel

MAX_ENTRIES = 10_000


class AccessLogQuery(ApiModel):
    object_type: Literal["booking", "panel_case"] | None = None
    object_id: int | None = Field(None, ge=1, le=2**31 - 1)


class AccessLogEntryOut(ResponseModel):
    at: datetime
    user: str
    action: Literal["read", "refused"]
    object_type: Literal["booking", "panel_case"]
    object_id: int
    via: Literal["page", "api"]


class AccessLogOut(ResponseModel):
    entries: list[AccessLogEntryOut]


@api_route("/access-log", summary="Who read (or was refused) which booking or panel case, and when (administrators)",
           query=AccessLogQuery, response=AccessLogOut)
def access_log_entries(query: AccessLogQuery):
    if not current_api_user().is_admin:
        raise Forbidden(str(_l("Only administrators can read the access log.")))
    rows = access_log.entries(object_type=query.object_type, object_id=query.object_id, limit=MAX_ENTRIES,
                              newest_first=False)
    return jsonify(entries=[access_log.entry_json(e) for e in rows])
