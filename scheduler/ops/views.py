"""`GET /readyz`, `GET /metrics` and the administrators' operations page."""

from __future__ import annotations

import ipaddress
import time

from flask import Blueprint, Response, abort, current_app, g, jsonify, render_template, request
from flask_babel import lazy_gettext as _l

from ..core.nav import AdminLink, add_admin_link
from ..core.permissions import roles_required
from .health import readiness
from .jobruns import job_runs
from .metrics import HTTP_LATENCY, HTTP_METHODS, HTTP_REQUESTS, outbox_counts, render

bp = Blueprint("ops", __name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@bp.route("/readyz")
def readyz():
    ready, checks = readiness()
    body = {"status": "ready" if ready else "not_ready",
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks}}
    return jsonify(body), 200 if ready else 503


def client_allowed(address: str | None, networks) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return any(ip in net or (mapped is not None and mapped in net) for net in networks)


@bp.route("/metrics")
def metrics():
    # the client address after ProxyFix (TRUSTED_PROXY_COUNT): the proxy's own address otherwise
    if not client_allowed(request.remote_addr, current_app.config.get("METRICS_ALLOWED_NETWORKS") or []):
        abort(403)
    return Response(render(), content_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


@bp.route("/admin/operations/")
@roles_required("admin")
def status():
    ready, checks = readiness()
    return render_template("ops/status.html", ready=ready, checks=checks, runs=job_runs(), counts=outbox_counts())


def _observe(response):
    started = g.get("request_started")
    if started is None:
        return response
    group = request.blueprint or ("static" if request.endpoint == "static" else
                                  "unmatched" if request.url_rule is None else "app")
    method = request.method if request.method in HTTP_METHODS else "other"
    HTTP_REQUESTS.labels(group, method, str(response.status_code)).inc()
    HTTP_LATENCY.labels(group).observe(time.perf_counter() - started)
    return response


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.after_request(_observe)
    add_admin_link(app, AdminLink("ops.status", _l("Operations"),
                                  _l("Background jobs, readiness and the delivery queue at a glance."), order=90))
