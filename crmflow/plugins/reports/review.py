"""The weekly S&OP review: every figure of the pack, from the same functions as the CLI."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import sqlalchemy as sa

from crmflow.core.domain.records import Alert, DemandChange
from crmflow.core.store import reading
from crmflow.errors import InputError
from crmflow.plugins.kpi.breakdown import make_breakdown
from crmflow.plugins.kpi.periods import Period, shift_months
from crmflow.plugins.kpi.records import history, instances
from crmflow.plugins.kpi.service import (
    compute,
    engine_kpis,
    factory_timezone,
    kpi_report,
    report_json,
    settings_of,
    today,
)

from .capacity import capacity_outlook
from .picture import demand_picture
from .selection import Selection
from .stock import stock_outlook
from .tiles import targets_of

__all__ = ["last_full_week", "parse_week", "review_figures", "week_label"]

_alerts = Alert.__table__  # type: ignore[attr-defined]
_changes = DemandChange.__table__  # type: ignore[attr-defined]
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
RUSH_WORKFLOW = "rush_order"


def parse_week(text: str) -> tuple[dt.date, dt.date]:
    """``2026-W48`` → its Monday and the Monday after (ISO 8601 weeks)."""
    found = _WEEK.match(text.strip())
    if not found:
        raise InputError(f"{text!r} is not an ISO week such as 2026-W48", field="--week")
    try:
        monday = dt.date.fromisocalendar(int(found[1]), int(found[2]), 1)
    except ValueError:
        raise InputError(f"{text!r}: there is no week {found[2]} in {found[1]}",
                         field="--week") from None  # fmt: skip
    return monday, monday + dt.timedelta(days=7)


def week_label(monday: dt.date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def last_full_week(day: dt.date) -> dt.date:
    """The Monday of the last whole ISO week before ``day``."""
    return day - dt.timedelta(days=day.weekday() + 7)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def _bounds(engine: Any, start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = factory_timezone(engine.factory)
    return (dt.datetime.combine(start, dt.time(), tz).astimezone(dt.UTC),
            dt.datetime.combine(end, dt.time(), tz).astimezone(dt.UTC))  # fmt: skip


def _changes_in(conn: sa.Connection, lo: dt.datetime, hi: dt.datetime) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(_changes).where(
        _changes.c.changed_at >= lo, _changes.c.changed_at < hi,
        _changes.c.source != "import").order_by(_changes.c.changed_at)).mappings()  # fmt: skip
    out = []
    for row in rows:
        item = {k: _iso(v) for k, v in row.items()}
        delta = None
        if row["field"] == "quantity":
            try:
                delta = float(row["new_value"]) - float(row["old_value"] or 0)
            except ValueError:
                delta = None
        item["quantity_delta"] = delta
        out.append(item)
    return out


def _alerts_in(conn: sa.Connection, lo: dt.datetime, hi: dt.datetime) -> dict[str, Any]:
    def listed(column: Any) -> list[dict[str, Any]]:
        rows = conn.execute(sa.select(_alerts.c.id, _alerts.c.kind, _alerts.c.sku,
                                      _alerts.c.message, _alerts.c.shortage_date)
                            .where(column >= lo, column < hi).order_by(_alerts.c.id)).mappings()
        return [{k: _iso(v) for k, v in r.items()} for r in rows]  # fmt: skip

    still = conn.execute(sa.select(sa.func.count()).select_from(_alerts).where(
        _alerts.c.status == "open")).scalar()  # fmt: skip
    return {"opened": listed(_alerts.c.opened_at), "closed": listed(_alerts.c.closed_at),
            "open_now": int(still or 0)}  # fmt: skip


def _rush_in(conn: sa.Connection, lo: dt.datetime, hi: dt.datetime) -> list[dict[str, Any]]:
    """Rush-order instances started in the week, with their first step out of the start."""
    started = conn.execute(sa.select(instances.c.id, instances.c.state, instances.c.created_at)
                           .where(instances.c.workflow == RUSH_WORKFLOW,
                                  instances.c.created_at >= lo, instances.c.created_at < hi)
                           .order_by(instances.c.created_at)).all()  # fmt: skip
    out = []
    for iid, state, created in started:
        first = conn.execute(sa.select(history.c.at, history.c.actor, history.c.to_state).where(
            history.c.instance_id == iid, history.c.from_state.is_not(None))
            .order_by(history.c.at, history.c.id).limit(1)).first()  # fmt: skip
        out.append({"id": iid, "state": state, "started": _iso(created),
                    "first_step": None if first is None else {
                        "at": _iso(first[0]), "actor": first[1], "to": first[2]}})  # fmt: skip
    return out


def _worst(report: dict[str, Any], key: str, n: int = 5) -> list[dict[str, Any]]:
    groups = (report.get("by") or {}).get("groups", {})
    rows = [{"group": g, key: v.get(key)} for g, v in groups.items() if v.get(key) is not None]
    return sorted(rows, key=lambda r: (r[key], r["group"]))[:n]


FORECAST_KPIS = ("forecast_accuracy", "forecast_bias")


def forecast_report(engine: Any, start: dt.date, end: dt.date, by: str) -> dict[str, Any]:
    """`crmflow kpi --json --by BY` restricted to the forecast KPIs (the others are not read)."""
    specs = [spec for spec in engine_kpis(engine) if spec.key in FORECAST_KPIS]
    with reading(engine.db) as conn:
        table = compute(conn, specs, Period(start, end), factory=engine.factory,
                        breakdown=make_breakdown(by, engine.factory),
                        settings=settings_of(engine))  # fmt: skip
    return report_json(table)


def review_figures(engine: Any, start: dt.date, end: dt.date) -> dict[str, Any]:
    """Every number of the review of ``[start, end)`` (a week), as JSON-ready data.

    KPIs are `crmflow kpi --json --from START --to END` and the week before;
    forecast accuracy is the KPI plugin's for the last full month before
    ``end``, by family and by SKU; the outlooks (demand, capacity, stock)
    start at ``end`` or today, whichever is later.
    """
    this = kpi_report(engine, start, end)
    last = kpi_report(engine, start - dt.timedelta(days=7), start)
    month_end = end.replace(day=1)
    month_start = shift_months(month_end, -1)
    by_family = forecast_report(engine, month_start, month_end, "family")
    by_sku = forecast_report(engine, month_start, month_end, "sku")
    lo, hi = _bounds(engine, start, end)
    with reading(engine.db) as conn:
        changes = _changes_in(conn, lo, hi)
        alerts = _alerts_in(conn, lo, hi)
        rush = _rush_in(conn, lo, hi)
    ahead = max(end, today(engine))
    sel = Selection(today=ahead, bucket="week", horizon=8, history=8)
    return {
        "week": week_label(start), "period": {"from": start.isoformat(), "to": end.isoformat()},
        "kpis": this, "kpis_last_week": last, "targets": targets_of(engine),
        "forecast": {
            "period": {"from": month_start.isoformat(), "to": month_end.isoformat()},
            "total": by_family.get("forecast_accuracy"),
            "families": {g: {"forecast_accuracy": v.get("forecast_accuracy"),
                             "forecast_bias": v.get("forecast_bias")}
                         for g, v in sorted((by_family.get("by") or {}).get("groups", {}).items())},
            "worst_skus": _worst(by_sku, "forecast_accuracy"),
        },
        "changes": changes, "alerts": alerts,
        "rush": {"orders": rush, "response_hours": this.get("rush_response_hours"),
                 "response_hours_p90": this.get("rush_response_hours_p90")},
        "capacity": capacity_outlook(engine, sel),
        "demand": demand_picture(engine, sel),
        "stock": {k: v for k, v in stock_outlook(engine, sel).items() if k != "detail"},
    }  # fmt: skip
