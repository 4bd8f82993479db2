"""Figures for the secretary and the steering group, in the terms the pilot reported itself:
sessions scheduled / held / cancelled; cases submitted / handled / returned; expertise areas
used; days from submission to advice; by month and by municipality. Counts only, no case content."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median

from sqlalchemy import select

from ..core.timefmt import local_to_utc, to_local
from ..extensions import db
from .models import Panel, PanelCase, PanelCaseEvent, PanelSession

COLUMNS = ("sessions_scheduled", "sessions_held", "sessions_not_held", "sessions_cancelled",
           "cases_submitted", "cases_handled", "cases_returned", "median_days_to_advice")


@dataclass
class Row:
    key: str
    counts: Counter = field(default_factory=Counter)
    days: list[int] = field(default_factory=list)

    @property
    def median_days(self) -> float | None:
        return median(self.days) if self.days else None

    def value(self, column: str):
        if column == "median_days_to_advice":
            m = self.median_days
            return "" if m is None else (int(m) if m == int(m) else round(m, 1))
        return self.counts[column]


@dataclass
class Figures:
    year: int
    months: list[Row]
    municipalities: list[Row]
    expertise: list[tuple[str, int]]
    total: Row


def compute(panels: list[Panel], *, year: int) -> Figures:
    start = local_to_utc(datetime(year, 1, 1))
    end = local_to_utc(datetime(year + 1, 1, 1))
    ids = [p.id for p in panels] or [0]
    months = {m: Row(key=f"{year}-{m:02d}") for m in range(1, 13)}
    munis: dict[str, Row] = defaultdict(lambda: Row(key=""))
    total = Row(key=str(year))
    expertise: Counter = Counter()

    def bump(month_dt: datetime, column: str, municipality: str | None = None) -> None:
        months[to_local(month_dt).month].counts[column] += 1
        total.counts[column] += 1
        if municipality is not None:
            munis[municipality].counts[column] += 1

    for s in db.session.execute(select(PanelSession).where(
            PanelSession.panel_id.in_(ids), PanelSession.start_dt >= start, PanelSession.start_dt < end)).unique().scalars():
        bump(s.start_dt, "sessions_scheduled")
        if s.status in ("held", "not_held", "cancelled"):
            bump(s.start_dt, f"sessions_{s.status}")
    for c in db.session.execute(select(PanelCase).where(
            PanelCase.panel_id.in_(ids), PanelCase.submitted_dt >= start, PanelCase.submitted_dt < end)).unique().scalars():
        bump(c.submitted_dt, "cases_submitted", c.municipality)
    for c in db.session.execute(select(PanelCase).where(
            PanelCase.panel_id.in_(ids), PanelCase.handled_dt >= start, PanelCase.handled_dt < end)).unique().scalars():
        bump(c.handled_dt, "cases_handled", c.municipality)
        days = (to_local(c.handled_dt).date() - to_local(c.submitted_dt).date()).days
        months[to_local(c.handled_dt).month].days.append(days)
        munis[c.municipality].days.append(days)
        total.days.append(days)
        expertise.update(c.expertise_codes)
    for ev, muni in db.session.execute(
            select(PanelCaseEvent, PanelCase.municipality).join(PanelCase, PanelCase.id == PanelCaseEvent.case_id)
            .where(PanelCase.panel_id.in_(ids), PanelCaseEvent.action == "returned",
                   PanelCaseEvent.created_dt >= start, PanelCaseEvent.created_dt < end)).all():
        bump(ev.created_dt, "cases_returned", muni)
    for name, row in munis.items():
        row.key = name
    return Figures(year=year, months=list(months.values()),
                   municipalities=sorted(munis.values(), key=lambda r: (-r.counts["cases_submitted"], r.key)),
                   expertise=expertise.most_common(), total=total)


def to_csv(fig: Figures) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(("dimension", "key", *COLUMNS))
    for dim, rows in (("month", fig.months), ("municipality", fig.municipalities), ("year", [fig.total])):
        for r in rows:
            w.writerow((dim, _safe(r.key), *(r.value(c) for c in COLUMNS)))
    for code, n in fig.expertise:
        w.writerow(("expertise", code, "", "", "", "", "", n, "", ""))
    return out.getvalue()


def _safe(text: str) -> str:
    """No spreadsheet formulas from typed-in municipality names."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def chart(fig: Figures) -> dict:
    """Bars for an inline SVG (no script, no inline style): cases submitted and handled per month."""
    width, height, pad = 720, 200, 24
    peak = max([r.counts["cases_submitted"] for r in fig.months] + [r.counts["cases_handled"] for r in fig.months] + [1])
    slot = (width - pad) / 12
    bar = slot / 3
    bars = []
    for i, r in enumerate(fig.months):
        for j, col in enumerate(("cases_submitted", "cases_handled")):
            n = r.counts[col]
            h = (height - pad) * n / peak
            bars.append({"x": round(pad + i * slot + j * bar + bar / 2, 1), "y": round(height - pad - h, 1),
                         "w": round(bar, 1), "h": round(h, 1), "kind": col, "n": n, "month": i + 1})
    labels = [{"x": round(pad + i * slot + slot / 2, 1), "y": height - 6, "text": str(i + 1)} for i in range(12)]
    return {"width": width, "height": height, "bars": bars, "labels": labels, "peak": peak, "base": height - pad}
