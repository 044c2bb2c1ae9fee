"""Capable-to-promise and capacity load: the earliest date stock and free capacity allow."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.store import reading
from crmflow.errors import InputError

from ._parse import as_date, as_number, as_text
from .inventory import open_flows, product
from .records import CapacityDay, InventoryPosition, Product, ProductionLine, ProductionPlan
from .settings import settings

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = ["capable_to_promise", "capacity_load", "line_of", "rate_of"]

_cap = CapacityDay.__table__  # type: ignore[attr-defined]
_lines = ProductionLine.__table__  # type: ignore[attr-defined]
_plans = ProductionPlan.__table__  # type: ignore[attr-defined]


def line_of(conn: sa.Connection, prod: dict[str, Any]) -> str | None:
    """The line a made part runs on: its own, else the first line known."""
    if prod.get("line"):
        return str(prod["line"])
    return conn.execute(sa.select(_lines.c.line).order_by(_lines.c.line)).scalar()


def rate_of(conn: sa.Connection, prod: dict[str, Any], line: str | None) -> float:
    """Units per hour of a part: the product's rate, else its line's, else 10."""
    if prod.get("units_per_hour"):
        return float(prod["units_per_hour"])
    if line is not None:
        rate = conn.execute(
            sa.select(_lines.c.units_per_hour).where(_lines.c.line == line)
        ).scalar()
        if rate:
            return float(rate)
    return 10.0


def capacity_load(
    conn: sa.Connection, line: str, start: dt.date, end: dt.date
) -> dict[dt.date, dict[str, float]]:
    """Per day in [start, end): available hours (planned × efficiency), load and free hours.

    A plan's hours (quantity ÷ its part's rate) are spread evenly over its days.
    """
    days: dict[dt.date, dict[str, float]] = {}
    q = sa.select(_cap.c.date, _cap.c.planned_hours, _cap.c.efficiency).where(
        _cap.c.line == line, _cap.c.date >= start, _cap.c.date < end
    )
    for day, hours, eff in conn.execute(q):
        days[day] = {"available": float(hours) * float(1.0 if eff is None else eff), "load": 0.0}
    prods = Product.__table__  # type: ignore[attr-defined]
    plans = (
        sa.select(_plans.c.start_date, _plans.c.due_date, _plans.c.quantity,
                  prods.c.units_per_hour)
        .select_from(_plans.join(prods, prods.c.sku == _plans.c.sku))
        .where(_plans.c.line == line, _plans.c.status.in_(["planned", "released"]),
               _plans.c.due_date >= start, _plans.c.start_date < end)
    )  # fmt: skip
    default_rate = float(
        conn.execute(sa.select(_lines.c.units_per_hour).where(_lines.c.line == line)).scalar()
        or 10.0
    )
    load: dict[dt.date, float] = defaultdict(float)
    for first, due, qty, rate in conn.execute(plans):
        span = max((due - first).days + 1, 1)
        hours = float(qty) / float(rate or default_rate) / span
        for i in range(span):
            load[first + dt.timedelta(days=i)] += hours
    for day, entry in days.items():
        entry["load"] = round(load.get(day, 0.0), 6)
        entry["free"] = round(max(entry["available"] - entry["load"], 0.0), 6)
    return dict(sorted(days.items()))


def capable_to_promise(
    engine: Engine, sku: Any, quantity: Any, *, from_date: Any = None,
    order_id: str | None = None, conn: sa.Connection | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The earliest date ``quantity`` of ``sku`` can be promised, on or after ``from_date``.

    First from projected stock and already planned supply (open orders come
    first; a changed line's own quantity is left out when ``order_id`` is
    given), then for made parts from free line capacity, for bought parts
    after the lead time. ``date`` is None when the horizon does not suffice.
    """
    today = engine.now().date()
    sku = as_text("sku", sku)
    qty = as_number(positive=True)("quantity", quantity)
    start = as_date("from_date", from_date) if from_date else today
    if start < today:
        raise InputError(
            f"{start.isoformat()} is in the past (today is {today})", field="from_date"
        )
    if conn is None:
        with reading(engine.db) as own:
            return capable_to_promise(
                engine, sku, qty, from_date=start, order_id=order_id, conn=own
            )
    prod = product(conn, sku)
    horizon = max(
        int(settings(engine)["planning_horizon_days"]), int(prod["lead_time_days"] or 0) + 28
    )
    end = start + dt.timedelta(days=horizon)
    pos = InventoryPosition.__table__  # type: ignore[attr-defined]
    level = float(
        conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(pos.c.on_hand), 0.0)).where(pos.c.sku == sku)
        ).scalar()
        or 0.0
    )
    flows = open_flows(conn, sku, today, end, exclude_line=(order_id, sku) if order_id else None)
    levels = []
    for i in range((end - today).days):
        d = today + dt.timedelta(days=i)
        level += flows["production"].get(d, 0.0) + flows["receipts"].get(d, 0.0)
        level -= flows["orders"].get(d, 0.0)
        levels.append((d, level))
    # suffix minimum: promising q on day d must keep every later day non-negative
    suffix: list[float] = [0.0] * len(levels)
    running = float("inf")
    for i in range(len(levels) - 1, -1, -1):
        running = min(running, levels[i][1])
        suffix[i] = running
    offset = (start - today).days
    result: dict[str, Any] = {
        "sku": sku,
        "quantity": qty,
        "from_date": start.isoformat(),
        "kind": prod["kind"],
        "date": None,
        "source": None,
        "line": None,
    }
    for i in range(offset, len(levels)):
        if suffix[i] >= qty - 1e-9:
            return {**result, "date": levels[i][0].isoformat(), "source": "stock"}
    if prod["kind"] == "bought":
        lead = int(prod["lead_time_days"] or 0)
        day = max(start, today + dt.timedelta(days=lead))
        return {
            **result,
            "date": day.isoformat(),
            "source": "purchase",
            "reason": f"needs a purchase: lead time {lead} days",
        }
    line = line_of(conn, prod)
    if line is None:
        return {**result, "reason": "no production line is known for this part"}
    rate = rate_of(conn, prod, line)
    load = capacity_load(conn, line, start, end)
    made = 0.0
    for i in range(offset, len(levels)):
        day = levels[i][0]
        made += load.get(day, {}).get("free", 0.0) * rate
        shortfall = qty - max(suffix[i], 0.0)
        if made >= shortfall - 1e-9:
            return {
                **result,
                "date": day.isoformat(),
                "source": "capacity",
                "line": line,
                "extra_production": round(shortfall, 6),
            }
    return {
        **result,
        "line": line,
        "reason": f"not enough free capacity on line {line} within {horizon} days",
    }
