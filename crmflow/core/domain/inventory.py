"""Inventory positions and the projected-inventory view (with the shortage date)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.store import reading
from crmflow.errors import InputError, NotFoundError

from ._parse import as_date, as_enum, as_number, as_text
from ._upsert import upsert_rows
from .records import (
    InventoryPosition,
    InventorySnapshot,
    Order,
    OrderLine,
    Product,
    ProductionPlan,
    Purchase,
)
from .settings import settings

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = [
    "open_flows",
    "plugin_forecast",
    "position",
    "product",
    "projected_inventory",
    "safety_stock",
    "shipping_location",
    "trailing_daily_demand",
    "update_position",
]

_positions = InventoryPosition.__table__  # type: ignore[attr-defined]
_products = Product.__table__  # type: ignore[attr-defined]
_lines = OrderLine.__table__  # type: ignore[attr-defined]
_orders = Order.__table__  # type: ignore[attr-defined]
_plans = ProductionPlan.__table__  # type: ignore[attr-defined]
_purchases = Purchase.__table__  # type: ignore[attr-defined]
_deliveries = sa.table("deliveries", sa.column("order_id"), sa.column("sku"),
                       sa.column("quantity"))  # fmt: skip


def product(conn: sa.Connection, sku: str, field: str = "sku") -> dict[str, Any]:
    """The product row of ``sku``; InputError naming ``field`` when unknown."""
    row = conn.execute(sa.select(_products).where(_products.c.sku == sku)).mappings().first()
    if row is None:
        raise InputError(f"unknown sku {sku!r}", field=field)
    return dict(row)


def update_position(
    conn: sa.Connection, sku: Any, location: Any, on_hand: Any, *, by: str, now: dt.datetime,
    day: Any = None, kind: Any = None,
) -> dict[str, Any]:  # fmt: skip
    """Store a new stock level for a SKU at a location (position + that day's snapshot).

    A level dated before the position's latest count only fills the snapshot.
    """
    sku = as_text("sku", sku)
    location = as_text("location", location)
    level = as_number(minimum=0)("on_hand", on_hand)
    day = as_date("date", day) if day else now.date()
    prod = product(conn, sku)
    kind = (
        as_enum("raw", "wip", "finished")("kind", kind)
        if kind
        else ("raw" if prod["kind"] == "bought" else "finished")
    )
    stamp = {"updated_at": now, "updated_by": by}
    upsert_rows(conn, InventorySnapshot.__table__, ["date", "sku", "location"],  # type: ignore[attr-defined]
                [{"date": day, "sku": sku, "location": location, "on_hand": level, "kind": kind}],
                compare=["on_hand", "kind"], stamp=stamp)  # fmt: skip
    old = (
        conn.execute(
            sa.select(_positions).where(_positions.c.sku == sku, _positions.c.location == location)
        )
        .mappings()
        .first()
    )
    if old is None or old["as_of"] is None or old["as_of"] <= day:
        upsert_rows(
            conn,
            _positions,
            ["sku", "location"],
            [{"sku": sku, "location": location, "on_hand": level, "as_of": day, "kind": kind}],
            compare=["on_hand", "as_of", "kind"],
            stamp=stamp,
            on_insert={"allocated": 0.0, "safety_stock": None, "reorder_point": None},
        )
    return {
        "sku": sku,
        "location": location,
        "on_hand": level,
        "date": day.isoformat(),
        "kind": kind,
    }


def shipping_location(conn: sa.Connection, sku: str, setting: Any = None) -> str | None:
    """The location that ships ``sku``: where its demand and its supply are projected.

    ``setting`` is the factory's ``shipping_location``: a location name, or a
    mapping of SKU (or product kind ``made``/``bought``) to location with an
    optional ``default``. Without one that names a location, the SKU's
    location holding the most stock ships it (ties: the first name); None
    when the SKU is stocked nowhere.
    """
    if isinstance(setting, dict):
        kind = conn.execute(sa.select(_products.c.kind).where(_products.c.sku == sku)).scalar()
        setting = setting.get(sku) or setting.get(kind or "") or setting.get("default")
    if setting:
        return str(setting)
    row = conn.execute(
        sa.select(_positions.c.location)
        .where(_positions.c.sku == sku)
        .order_by(_positions.c.on_hand.desc(), _positions.c.location)
        .limit(1)
    ).first()
    return str(row[0]) if row else None


def safety_stock(
    conn: sa.Connection, sku: str, location: str | None = None, *, shipping: Any = None
) -> float:
    """Safety stock of ``sku`` at ``location``, or of the whole SKU when none is named.

    A position's own safety stock counts at its location; the product's
    safety stock counts at the shipping location (see :func:`shipping_location`,
    ``shipping`` is its setting) when that position has none of its own.
    Other locations keep none, so the SKU's figure is the sum of its locations'.
    """
    prod = product(conn, sku)
    rows: dict[str, float | None] = {
        str(loc): (None if value is None else float(value))
        for loc, value in conn.execute(
            sa.select(_positions.c.location, _positions.c.safety_stock).where(
                _positions.c.sku == sku
            )
        )
    }
    ship = shipping_location(conn, sku, shipping)
    if ship is not None and rows.get(ship) is None:
        rows[ship] = float(prod["safety_stock"] or 0.0)
    if ship is None and location is None:
        return float(prod["safety_stock"] or 0.0)
    if location is not None:
        return float(rows.get(location) or 0.0)
    return float(sum(float(v or 0.0) for v in rows.values()))


def trailing_daily_demand(conn: sa.Connection, sku: str, start: dt.date, days: int) -> float:
    """Mean ordered quantity per day over the ``days`` before ``start`` (by order date)."""
    total = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(_lines.c.quantity), 0.0))
        .select_from(_lines.join(_orders, _orders.c.order_id == _lines.c.order_id))
        .where(_lines.c.sku == sku, _lines.c.status != "cancelled",
               _orders.c.status != "cancelled",
               _orders.c.order_date >= start - dt.timedelta(days=days),
               _orders.c.order_date < start)
    ).scalar()  # fmt: skip
    return float(total or 0.0) / max(days, 1)


def open_flows(
    conn: sa.Connection, sku: str, start: dt.date, end: dt.date, *,
    exclude_line: tuple[str, str] | None = None,
) -> dict[str, dict[dt.date, float]]:  # fmt: skip
    """Scheduled production, open receipts and open order demand per day in [start, end).

    Anything overdue (due before ``start`` and still open) counts on ``start``.
    """
    flows: dict[str, dict[dt.date, float]] = {
        "production": defaultdict(float), "receipts": defaultdict(float),
        "orders": defaultdict(float),
    }  # fmt: skip

    def day(d: dt.date) -> dt.date:
        return max(d, start)

    plans = sa.select(_plans.c.due_date, _plans.c.quantity).where(
        _plans.c.sku == sku, _plans.c.status.in_(["planned", "released"]), _plans.c.due_date < end
    )
    for due, qty in conn.execute(plans):
        flows["production"][day(due)] += float(qty)
    # A supplier's despatch advice (EDI) replaces the ordered quantity; its date is due_date.
    advised = sa.func.coalesce(_purchases.c.advised_quantity, _purchases.c.quantity)
    pos = sa.select(_purchases.c.due_date, advised,
                    _purchases.c.received_quantity).where(
        _purchases.c.sku == sku, _purchases.c.received_date.is_(None),
        _purchases.c.due_date < end)  # fmt: skip
    for due, qty, got in conn.execute(pos):
        flows["receipts"][day(due)] += max(float(qty) - float(got or 0.0), 0.0)
    delivered = (
        sa.select(sa.func.coalesce(sa.func.sum(_deliveries.c.quantity), 0.0))
        .where(_deliveries.c.order_id == _lines.c.order_id, _deliveries.c.sku == _lines.c.sku)
        .scalar_subquery()
    )
    due = sa.func.coalesce(_lines.c.promised_date, _lines.c.requested_date)
    lines = (
        sa.select(_lines.c.order_id, due, _lines.c.quantity, delivered)
        .select_from(_lines.join(_orders, _orders.c.order_id == _lines.c.order_id))
        .where(_lines.c.sku == sku, _lines.c.status.in_(["open", "shipped"]),
               _orders.c.status.not_in(["cancelled", "delivered", "draft"]), due < end)
    )  # fmt: skip
    for order_id, due_day, qty, got in conn.execute(lines):
        if exclude_line == (order_id, sku):
            continue
        remaining = float(qty) - float(got or 0.0)
        if remaining > 0:
            flows["orders"][day(as_date("due", due_day))] += remaining
    return flows


def projected_inventory(
    engine: Engine, sku: str, *, location: str | None = None, start: Any = None,
    days: int | None = None, conn: sa.Connection | None = None,
    forecast: list[float] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Stock per day: on hand + production + receipts − open orders − forecast.

    Forecast demand is the live champion forecast of the ``demand_forecast``
    hook (the forecast plugin) when it answers for the SKU, else the trailing
    average of daily orders; open orders consume it (the forecast beyond
    booked orders only, netted per week), so demand is not counted twice.
    Callers holding a connection pass ``forecast`` (see :func:`plugin_forecast`);
    without a connection the hook is asked here. ``forecast_source`` says
    which was used. The first day the projection is below safety stock is
    ``shortage_date``.

    Demand and supply belong to the SKU's shipping location (the factory
    setting ``shipping_location``, see :func:`shipping_location`); another
    location projects its own stock only. With no ``location`` the
    projection is the SKU's, the sum of its locations' (``locations`` lists them).
    """
    limits = settings(engine)
    start = as_date("start", start) if start else engine.now().date()
    days = int(days or limits["planning_horizon_days"])
    if days <= 0 or days > 3660:
        raise InputError("must be between 1 and 3660", field="days")
    if conn is None:
        if forecast is None:
            with reading(engine.db) as own:
                product(own, sku)
            forecast = plugin_forecast(engine, sku, start, days)
        with reading(engine.db) as own:
            return projected_inventory(engine, sku, location=location, start=start, days=days,
                                       conn=own, forecast=forecast)  # fmt: skip
    prod = product(conn, sku)
    stocks = {
        str(loc): float(qty or 0.0)
        for loc, qty in conn.execute(
            sa.select(_positions.c.location, _positions.c.on_hand).where(_positions.c.sku == sku)
        )
    }
    ship = shipping_location(conn, sku, limits.get("shipping_location"))
    on_hand = stocks.get(location, 0.0) if location is not None else sum(stocks.values())
    safety = safety_stock(conn, sku, location, shipping=limits.get("shipping_location"))
    end = start + dt.timedelta(days=days)
    flows = open_flows(conn, sku, start, end)
    if forecast is not None and len(forecast) >= days:
        source = str(getattr(forecast, "source", None) or "forecast")
        forecast = [max(float(v), 0.0) for v in forecast[:days]]
    else:
        daily = trailing_daily_demand(conn, sku, start, int(limits["trailing_days"]))
        forecast, source = [daily] * days, "trailing_average"
    extras = _net_forecast(
        forecast, [flows["orders"].get(start + dt.timedelta(days=i), 0.0) for i in range(days)]
    )
    # Demand and supply flow through the shipping location only.
    moves = location is None or location == ship or (ship is None and not stocks)
    rows = []
    level = on_hand
    shortage = None
    for i in range(days):
        d = start + dt.timedelta(days=i)
        made = flows["production"].get(d, 0.0) if moves else 0.0
        got = flows["receipts"].get(d, 0.0) if moves else 0.0
        orders = flows["orders"].get(d, 0.0) if moves else 0.0
        extra = extras[i] if moves else 0.0
        level += made + got - orders - extra
        if shortage is None and level < safety - 1e-9:
            shortage = d
        rows.append({
            "date": d.isoformat(), "production": made, "receipts": got, "orders": orders,
            "forecast": round(extra, 6), "projected": round(level, 6),
        })  # fmt: skip
    out = {
        "sku": sku, "location": location, "kind": prod["kind"], "start": start.isoformat(),
        "days": days, "on_hand": on_hand, "safety_stock": safety,
        "lead_time_days": prod["lead_time_days"], "forecast_source": source,
        "shipping_location": ship,
        "shortage_date": shortage.isoformat() if shortage else None,
        "min_projected": min((r["projected"] for r in rows), default=on_hand), "daily": rows,
    }  # fmt: skip
    if location is None:
        out["locations"] = sorted(set(stocks) | ({ship} if ship else set()))
    return out


def _net_forecast(forecast: list[float], orders: list[float], bucket: int = 7) -> list[float]:
    """Forecast not yet covered by booked orders, netted per week and spread over its days."""
    net: list[float] = []
    for first in range(0, len(forecast), bucket):
        f = forecast[first : first + bucket]
        o = orders[first : first + bucket]
        left = max(sum(f) - sum(o), 0.0)
        total = sum(f)
        net.extend((v / total * left if total > 0 else 0.0) for v in f)
    return net


def plugin_forecast(engine: Engine, sku: str, start: dt.date, days: int) -> list[float] | None:
    """Daily forecast of ``sku`` from an enabled plugin's ``demand_forecast``, or None.

    Call it with no connection of yours open (the plugin reads the database).
    """
    # Only plugins enabled for this factory may answer.
    answer = engine.hook("demand_forecast")(engine=engine, skus=[sku], start=start, days=days)
    series = (answer or {}).get(sku)
    if series is None or len(series) < days:
        return None
    return _Forecast([max(float(v), 0.0) for v in series[:days]],
                     getattr(series, "source", None) or "forecast")  # fmt: skip


class _Forecast(list[float]):
    """A daily forecast that says where it comes from (``source``)."""

    def __init__(self, values: list[float], source: str) -> None:
        super().__init__(values)
        self.source = source


def position(conn: sa.Connection, sku: str, location: str) -> dict[str, Any]:
    """The inventory position of a SKU at a location."""
    row = (
        conn.execute(
            sa.select(_positions).where(_positions.c.sku == sku, _positions.c.location == location)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFoundError(f"no inventory position for {sku!r} at {location!r}")
    return dict(row)
