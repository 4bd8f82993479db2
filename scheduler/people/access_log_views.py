"""The access log page for administrators: filters (object, person, dates) and a CSV export."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import Blueprint, Response, render_template, request
from flask_babel import lazy_gettext as _l

from ..core.nav import NavItem, add_nav
from ..core.permissions import roles_required
from ..core.timefmt import local_to_utc, parse_date
from . import access_log

bp = Blueprint("access_log", __name__, url_prefix="/admin/access-log")

PER_PAGE = 100
CSV_LIMIT = 100_000

OBJECT_TYPE_LABELS = {"booking": _l("Consultation booking"), "panel_case": _l("Panel case")}
ACTION_LABELS = {"read": _l("Read"), "refused": _l("Refused")}
VIA_LABELS = {"page": _l("Page"), "api": _l("API")}


def init_app(app) -> None:
    app.register_blueprint(bp)
    add_nav(app, NavItem("access_log.index", _l("Access log"), roles=("admin",),
                         description=_l("Who has read which booking or panel case, and when; refused reads too."),
                         order=81))


def _filters() -> tuple[dict, dict, dict]:
    """(query filters, the form's values, field errors) from the query string."""
    args = request.args
    values = {k: (args.get(k) or "").strip() for k in ("object_type", "object_id", "person", "from", "to")}
    errors: dict[str, str] = {}
    flt: dict = {}
    if values["object_type"]:
        if values["object_type"] in access_log.ACCESS_OBJECT_TYPES:
            flt["object_type"] = values["object_type"]
        else:
            errors["object_type"] = str(_l("Choose the kind of object."))
    if values["object_id"]:
        if values["object_id"].isdigit() and int(values["object_id"]) <= 2**31 - 1:
            flt["object_id"] = int(values["object_id"])
        else:
            errors["object_id"] = str(_l("Give the object's number."))
    if values["person"]:
        flt["person"] = values["person"]
    for key, name, shift in (("from", "start", 0), ("to", "end", 1)):
        if values[key]:
            try:
                day = parse_date(values[key]) + timedelta(days=shift)
                flt[name] = local_to_utc(datetime.combine(day, time()))
            except ValueError:
                errors[key] = str(_l("Write the date in the form d.m.yyyy."))
    return flt, values, errors


@bp.route("/")
@roles_required("admin")
def index():
    flt, values, errors = _filters()
    if request.args.get("format") == "csv" and not errors:
        rows = access_log.entries(limit=CSV_LIMIT, newest_first=False, **flt)
        return Response(access_log.to_csv(rows), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=access-log.csv"})
    page = max(request.args.get("page", 1, type=int), 1)
    rows = [] if errors else access_log.entries(limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE, **flt)
    link_args = {k: v for k, v in values.items() if v}
    return render_template("people/access_log.html", rows=rows[:PER_PAGE], page=page, has_more=len(rows) > PER_PAGE,
                           values=values, errors=errors, link_args=link_args, object_types=OBJECT_TYPE_LABELS,
                           actions=ACTION_LABELS, vias=VIA_LABELS), (422 if errors else 200)
