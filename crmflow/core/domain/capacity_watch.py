"""Capacity overload per line and week: planned load against available hours, with alerts."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from .alerts import close_alert, open_alert
from .records import Alert, CapacityDay, Product, ProductionLine, ProductionPlan
from .settings import settings

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = ["KIND", "check_capacity", "weekly_load"]

#: The alert kind of an overloaded line and week.
KIND = "capacity_overloaded"
_cap = CapacityDay.__table__  # type: ignore[attr-defined]
_plans = ProductionPlan.__table__  # type: ignore[attr-defined]
_products = Product.__table__  # type: ignore[attr-defined]
_lines = ProductionLine.__table__  # type: ignore[attr-defined]
_alerts = Alert.__table__  # type: ignore[attr-defined]


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def weekly_load(conn: sa.Connection, start: dt.date, weeks: int) -> list[dict[str, Any]]:
    """Per line and week (Monday) from ``start``'s week: load and available hours.

    Load: planned and released production (quantity ÷ the part's units per
    hour, else the line's) spread evenly over the plan's days. Available:
    worker hours × efficiency of the line's capacity days (planned hours when
    no worker hours are known).
    """
    first = _monday(start)
    end = first + dt.timedelta(weeks=weeks)
    available: dict[tuple[str, dt.date], float] = defaultdict(float)
    for day, line, planned, workers, eff in conn.execute(
        sa.select(_cap.c.date, _cap.c.line, _cap.c.planned_hours, _cap.c.worker_hours,
                  _cap.c.efficiency).where(_cap.c.date >= first, _cap.c.date < end)
    ):  # fmt: skip
        hours = float(workers if workers is not None else planned)
        available[(line, _monday(day))] += hours * float(1.0 if eff is None else eff)
    rates: dict[str, float] = {
        str(line): float(rate or 0.0)
        for line, rate in conn.execute(sa.select(_lines.c.line, _lines.c.units_per_hour))
    }
    load: dict[tuple[str, dt.date], float] = defaultdict(float)
    for begin, due, qty, line, rate in conn.execute(
        sa.select(_plans.c.start_date, _plans.c.due_date, _plans.c.quantity, _plans.c.line,
                  _products.c.units_per_hour)
        .select_from(_plans.join(_products, _products.c.sku == _plans.c.sku))
        .where(_plans.c.status.in_(["planned", "released"]), _plans.c.due_date >= first,
               _plans.c.start_date < end)
    ):  # fmt: skip
        span = max((due - begin).days + 1, 1)
        per_day = float(qty) / float(rate or rates.get(line) or 10.0) / span
        for i in range(span):
            day = begin + dt.timedelta(days=i)
            if first <= day < end:
                load[(line, _monday(day))] += per_day
    keys = sorted(set(available) | set(load))
    return [{"line": line, "week": week.isoformat(), "load_hours": round(load[(line, week)], 3),
             "available_hours": round(available[(line, week)], 3)}
            for line, week in keys]  # fmt: skip


def check_capacity(engine: Engine, *, today: dt.date | None = None) -> dict[str, list[Any]]:
    """Open an alert and emit ``capacity.overloaded`` once per overloaded line and week.

    A week is overloaded when its load exceeds the available hours by more
    than the factory's ``capacity_overload_threshold`` (a share, default 0)
    over the next ``capacity_horizon_weeks`` weeks. An open alert whose line
    and week is no longer overloaded (or has passed) is closed. Returns the
    events' payloads (``opened``) and the closed alerts' ids (``closed``).
    """
    limits = settings(engine)
    now = engine.now()
    today = today or now.date()
    threshold = float(limits["capacity_overload_threshold"])
    weeks = int(limits["capacity_horizon_weeks"])
    opened: list[dict[str, Any]] = []
    closed: list[int] = []
    with engine.db.begin() as conn:
        rows = weekly_load(conn, today, weeks)
        over = {(r["line"], r["week"]): r for r in rows
                if r["load_hours"] > r["available_hours"] * (1.0 + threshold) + 1e-9}  # fmt: skip
        for (line, week), row in over.items():
            message = (f"line {line} week of {week}: {row['load_hours']:g} h planned, "
                       f"{row['available_hours']:g} h available")  # fmt: skip
            _, created = open_alert(conn, kind=KIND, sku=None, location=line, message=message,
                                    now=now, shortage_date=week, period=week)  # fmt: skip
            if created:
                opened.append(row)
        for alert in conn.execute(
            sa.select(_alerts.c.location, _alerts.c.shortage_date).where(
                _alerts.c.kind == KIND, _alerts.c.status == "open")
        ).all():  # fmt: skip
            week = alert.shortage_date.isoformat() if alert.shortage_date else ""
            if (alert.location, week) not in over:
                done = close_alert(conn, kind=KIND, sku=None, location=alert.location,
                                   by="system", now=now, period=week)  # fmt: skip
                if done is not None:
                    closed.append(done)
    for row in opened:
        engine.emit("capacity.overloaded", dict(row),
                    key=f"capacity.overloaded:{row['line']}:{row['week']}")  # fmt: skip
    return {"opened": opened, "closed": closed}
