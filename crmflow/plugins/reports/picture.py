"""Demand history, forecast with its backtest band, orders on hand and the production plan."""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from crmflow.core.domain.inventory import open_flows
from crmflow.core.domain.records import Customer, Order, OrderLine
from crmflow.core.store import reading
from crmflow.errors import InputError

from .cache import cache_of
from .selection import Selection, buckets, skus_of

__all__ = ["demand_picture", "department_members"]

_lines = OrderLine.__table__  # type: ignore[attr-defined]
_orders = Order.__table__  # type: ignore[attr-defined]
_customers = Customer.__table__  # type: ignore[attr-defined]
_snapshots = sa.table("forecast_snapshots", sa.column("id"))
_values = sa.table("forecast_values", sa.column("snapshot_id"), sa.column("sku"),
                   sa.column("period_start"), sa.column("value"))  # fmt: skip
_series = sa.table("forecast_series", sa.column("snapshot_id"), sa.column("sku"),
                   sa.column("backtest_mase"), sa.column("scale"))  # fmt: skip


def department_members(engine: Any, department: str | None) -> list[str] | None:
    """The members of a factory department (None without one); InputError when unknown."""
    if department is None:
        return None
    for dept in getattr(engine.factory, "departments", None) or []:
        if dept.id == department:
            return list(dept.members)
    raise InputError(f"no department {department!r} in the factory config", field="department")


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _daily_demand(engine: Any, sel: Selection, skus: list[str], first: dt.date,
                  end: dt.date) -> dict[dt.date, float]:  # fmt: skip
    """Units requested per day (the forecast plugin's actuals: requested date, not cancelled)."""
    query = (
        sa.select(_lines.c.requested_date, sa.func.sum(_lines.c.quantity))
        .select_from(_lines.join(_orders, _orders.c.order_id == _lines.c.order_id))
        .where(_lines.c.status != "cancelled", _orders.c.status != "cancelled",
               _lines.c.requested_date >= first, _lines.c.requested_date < end)
        .group_by(_lines.c.requested_date)
    )  # fmt: skip
    if sel.sku or sel.family:
        query = query.where(_lines.c.sku.in_(skus))
    if sel.segment:
        query = query.join(_customers, _customers.c.customer_id == _orders.c.customer_id).where(
            _customers.c.segment == sel.segment
        )
    members = department_members(engine, sel.department)
    if members is not None:
        query = query.where(_orders.c.sales_rep.in_(members or ["\x00"]))
    with reading(engine.db) as conn:
        return {_as_date(day): float(qty or 0.0) for day, qty in conn.execute(query)}


def _monthly_forecast(engine: Any, skus: list[str]) -> tuple[dict[dt.date, float],
                                                              dict[dt.date, float]]:  # fmt: skip
    """Latest snapshot: forecast per month and its error (root-sum-square of SKU backtest MAEs).

    A SKU's backtest MAE is its backtest MASE times its MASE scale (the
    in-sample seasonal-naive MAE), both stored with the snapshot.
    """
    value: dict[dt.date, float] = defaultdict(float)
    square: dict[dt.date, float] = defaultdict(float)
    try:
        with reading(engine.db) as conn:
            latest = conn.execute(sa.select(sa.func.max(_snapshots.c.id))).scalar()
            if latest is None:
                return {}, {}
            errors = {
                sku: float(mase) * float(scale)
                for sku, mase, scale in conn.execute(
                    sa.select(_series.c.sku, _series.c.backtest_mase, _series.c.scale).where(
                        _series.c.snapshot_id == latest
                    )
                )
                if mase is not None and scale is not None and math.isfinite(mase * scale)
            }
            query = sa.select(_values.c.sku, _values.c.period_start, _values.c.value).where(
                _values.c.snapshot_id == latest
            )
            if len(skus) < 900:
                query = query.where(_values.c.sku.in_(skus))
            wanted = set(skus)
            for sku, period, qty in conn.execute(query):
                if sku not in wanted:
                    continue
                month = _as_date(period)
                value[month] += float(qty)
                square[month] += errors.get(sku, 0.0) ** 2
    except sa.exc.OperationalError:  # the forecast plugin's tables are not migrated here
        return {}, {}
    return dict(value), {m: math.sqrt(s) for m, s in square.items()}


def _spread(monthly: dict[dt.date, float], first: dt.date, end: dt.date) -> float | None:
    """The part of monthly figures falling in ``[first, end)``, spread evenly over each month;
    None when no month of the span has a figure (beyond the forecast's horizon)."""
    total = 0.0
    covered = False
    day = first
    while day < end:
        month = day.replace(day=1)
        size = calendar.monthrange(day.year, day.month)[1]
        month_end = (month + dt.timedelta(days=32)).replace(day=1)
        upto = min(end, month_end)
        covered = covered or month in monthly
        total += monthly.get(month, 0.0) * (upto - day).days / size
        day = upto
    return total if covered else None


def _flows(engine: Any, sku: str, start: dt.date, end: dt.date) -> dict[str, dict[dt.date, float]]:
    def compute() -> dict[str, dict[dt.date, float]]:
        with reading(engine.db) as conn:
            got = open_flows(conn, sku, start, end)
        return {name: dict(days) for name, days in got.items()}

    key = ("flows", sku, start, end)
    return cache_of(engine).get(key, (f"sku:{sku}", "per-sku"), compute)


def demand_picture(engine: Any, sel: Selection) -> dict[str, Any]:
    """Per bucket: demand (past), forecast with a low/high band, orders on hand and plan.

    ``demand`` is units requested in the bucket (past and current buckets);
    ``forecast`` comes from the latest forecast snapshot, its band is ± the
    backtest error; ``orders`` is open order quantity still to deliver by due
    date and ``plan`` planned or released production by due date, both from
    today on (overdue amounts count today), as `crmflow inventory projected`
    counts them.
    """
    skus = skus_of(engine, sel)
    spans = buckets(sel)
    cache = cache_of(engine)
    key = ("demand_picture", sel.with_(start=None, end=None))

    def compute() -> dict[str, Any]:
        first, end = spans[0][0], spans[-1][1]
        daily = _daily_demand(engine, sel, skus, first, min(end, sel.today + dt.timedelta(days=1)))
        monthly, error = _monthly_forecast(engine, skus)
        orders: dict[dt.date, float] = defaultdict(float)
        plan: dict[dt.date, float] = defaultdict(float)
        filtered = bool(sel.segment or sel.department)
        for sku in skus:
            flows = _flows(engine, sku, sel.today, end)
            for day, qty in flows["orders"].items():
                orders[day] += qty
            for day, qty in flows["production"].items():
                plan[day] += qty
        rows = []
        for lo, hi in spans:
            past = lo <= sel.today
            future = hi > sel.today
            fc = _spread(monthly, max(lo, sel.today), hi) if future and monthly else None
            err = _spread(error, max(lo, sel.today), hi) if fc is not None else None
            err = err or 0.0
            rows.append({
                "bucket": lo.isoformat(), "to": hi.isoformat(),
                "demand": round(sum(q for d, q in daily.items() if lo <= d < hi), 3)
                if past else None,
                "forecast": None if fc is None else round(fc, 3),
                "forecast_low": None if fc is None else round(max(fc - (err or 0.0), 0.0), 3),
                "forecast_high": None if fc is None else round(fc + (err or 0.0), 3),
                "orders": None if not future or filtered else round(
                    sum(q for d, q in orders.items() if lo <= d < hi), 3),
                "plan": None if not future else round(
                    sum(q for d, q in plan.items() if lo <= d < hi), 3),
            })  # fmt: skip
        return {
            "bucket": sel.bucket, "skus": len(skus), "today": sel.today.isoformat(),
            "forecast_source": "snapshot" if monthly else None, "rows": rows,
        }  # fmt: skip

    return cache.get(key, ("demand", "forecast", "orders", "plan"), compute)
