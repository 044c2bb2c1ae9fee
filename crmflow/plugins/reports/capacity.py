"""Capacity load per production line and bucket against available hours, overloads marked."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from crmflow.core.domain.ctp import capacity_load
from crmflow.core.domain.records import CapacityDay, ProductionLine
from crmflow.core.store import reading

from .cache import cache_of
from .selection import Selection, bucket_start, buckets

__all__ = ["capacity_outlook"]

_cap = CapacityDay.__table__  # type: ignore[attr-defined]
_lines = ProductionLine.__table__  # type: ignore[attr-defined]


def _crew_hours(conn: sa.Connection, start: dt.date, end: dt.date) -> dict[tuple[str, dt.date],
                                                                         float]:  # fmt: skip
    """Σ worker hours × efficiency per line and day (where worker hours are recorded)."""
    query = sa.select(_cap.c.line, _cap.c.date, _cap.c.worker_hours, _cap.c.efficiency).where(
        _cap.c.date >= start, _cap.c.date < end, _cap.c.worker_hours.is_not(None)
    )
    return {
        (line, day): float(hours) * float(1.0 if eff is None else eff)
        for line, day, hours, eff in conn.execute(query)
    }


def capacity_outlook(engine: Any, sel: Selection) -> dict[str, Any]:
    """Per line and bucket from today on: available and loaded hours, load %, overload.

    Available hours are worker hours × efficiency (the issue's definition),
    or, on days without recorded worker hours, the line hours × efficiency of
    :func:`crmflow.core.domain.ctp.capacity_load`; ``line_hours`` keeps the
    latter, which capable-to-promise uses. The load is capacity_load's (plan
    quantity ÷ units per hour, spread over the plan's days).
    """
    spans = [(lo, hi) for lo, hi in buckets(sel) if hi > sel.today]
    start = max(spans[0][0], sel.today)
    end = spans[-1][1]

    def compute() -> dict[str, Any]:
        with reading(engine.db) as conn:
            names = list(conn.execute(sa.select(_lines.c.line).order_by(_lines.c.line)).scalars())
            crew = _crew_hours(conn, start, end)
            per_line = {name: capacity_load(conn, name, start, end) for name in names}
        lines = []
        for name in names:
            sums: dict[dt.date, dict[str, float]] = defaultdict(
                lambda: {"available": 0.0, "load": 0.0, "line_hours": 0.0}
            )
            for day, entry in per_line[name].items():
                lo = max(bucket_start(day, sel.bucket), start)
                sums[lo]["available"] += crew.get((name, day), entry["available"])
                sums[lo]["load"] += entry["load"]
                sums[lo]["line_hours"] += entry["available"]
            rows = []
            for lo, _hi in spans:
                got = sums.get(max(lo, start), {"available": 0.0, "load": 0.0, "line_hours": 0.0})
                avail, load = got["available"], got["load"]
                rows.append({
                    "bucket": lo.isoformat(), "available": round(avail, 2),
                    "load": round(load, 2), "line_hours": round(got["line_hours"], 2),
                    "load_pct": round(load / avail, 4) if avail > 0 else None,
                    "overload": load > avail + 1e-9,
                })  # fmt: skip
            lines.append({"line": name, "rows": rows,
                          "overloads": sum(1 for r in rows if r["overload"])})  # fmt: skip
        return {"bucket": sel.bucket, "from": start.isoformat(), "to": end.isoformat(),
                "lines": lines}  # fmt: skip

    key = ("capacity", sel.today, sel.bucket, sel.horizon)
    return cache_of(engine).get(key, ("capacity", "plan"), compute)
