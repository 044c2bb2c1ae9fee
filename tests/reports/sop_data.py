"""A small factory with hand-computable S&OP figures (today is Wednesday 2026-11-25)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import sqlalchemy as sa

D = dt.date
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
TODAY = NOW.date()

ORDER_YAML = (Path(__file__).resolve().parents[1] / "engine" / "workflows" / "order.yaml")


def insert(conn: sa.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows (keys missing from some rows are NULL in those)."""
    keys = {k for row in rows for k in row}
    rows = [{k: row.get(k) for k in keys} for row in rows]
    from crmflow.core.domain.records import DOMAIN_TABLES

    known = {t.name: t for t in DOMAIN_TABLES}  # their Python defaults fill the rest
    target = known[table] if table in known else sa.Table(table, sa.MetaData(),
                                                          autoload_with=conn)  # fmt: skip
    conn.execute(target.insert(), rows)


def _weekdays(start: dt.date, end: dt.date) -> list[dt.date]:
    days = []
    day = start
    while day < end:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def load_small(engine: Any) -> None:
    """Two lines, three SKUs, a little history, open orders, plans and one forecast snapshot.

    Capacity (week of 2026-11-30): L1 has 16 worker hours × 0.5 = 8 h a day, 40 h
    in the week, and carries P-A1 (600 units at 10/h = 60 h): overloaded. L2 has
    no worker hours, so 8 planned × 0.75 = 6 h a day, 30 h, and carries P-A2
    (50 units at 5/h = 10 h).
    """
    with engine.db.begin() as conn:
        insert(conn, "production_lines", [
            {"line": "L1", "name": "Line 1", "units_per_hour": 10.0},
            {"line": "L2", "name": "Line 2", "units_per_hour": 5.0},
        ])  # fmt: skip
        insert(conn, "customers", [
            {"customer_id": "C1", "name": "Acme", "industry": "auto", "size": "L",
             "region": "EU", "segment": "oem"},
            {"customer_id": "C2", "name": "Bolt", "industry": "retail", "size": "S",
             "region": "EU", "segment": "retail"},
        ])  # fmt: skip
        product = {"lead_time_days": 7, "lot_size": 1.0, "reorder_qty": 0.0}
        insert(conn, "products", [
            {"sku": "A1", "name": "Pump A1", "family": "pumps", "kind": "made", "unit_cost": 10.0,
             "line": "L1", "safety_stock": 20.0, "reorder_point": 40.0, **product},
            {"sku": "A2", "name": "Pump A2", "family": "pumps", "kind": "made", "unit_cost": 8.0,
             "line": "L2", "safety_stock": 0.0, "reorder_point": None, **product},
            {"sku": "V1", "name": "Valve", "family": "valves", "kind": "bought", "unit_cost": 2.0,
             "safety_stock": 5.0, "reorder_point": 10.0, **product},
        ])  # fmt: skip
        insert(conn, "orders", [
            {"order_id": "O1", "customer_id": "C1", "order_date": D(2026, 11, 2),
             "priority": "normal", "sales_rep": "alice", "status": "delivered"},
            {"order_id": "O2", "customer_id": "C2", "order_date": D(2026, 11, 9),
             "priority": "normal", "sales_rep": "bob", "status": "delivered"},
            {"order_id": "O3", "customer_id": "C1", "order_date": D(2026, 11, 9),
             "priority": "normal", "sales_rep": "alice", "status": "delivered"},
            {"order_id": "O4", "customer_id": "C1", "order_date": D(2026, 11, 20),
             "priority": "normal", "sales_rep": "alice", "status": "confirmed"},
            {"order_id": "O5", "customer_id": "C2", "order_date": D(2026, 11, 21),
             "priority": "normal", "sales_rep": "bob", "status": "confirmed"},
            {"order_id": "O6", "customer_id": "C2", "order_date": D(2026, 11, 9),
             "priority": "normal", "sales_rep": "bob", "status": "cancelled"},
        ])  # fmt: skip
        line = {"unit_price": 100.0, "promised_date": None}
        insert(conn, "order_lines", [
            {"order_id": "O1", "sku": "A1", "quantity": 30.0, "requested_date": D(2026, 11, 10),
             "status": "delivered", **line},
            {"order_id": "O2", "sku": "A1", "quantity": 12.0, "requested_date": D(2026, 11, 17),
             "status": "delivered", **line},
            {"order_id": "O3", "sku": "V1", "quantity": 7.0, "requested_date": D(2026, 11, 18),
             "status": "delivered", **line},
            {"order_id": "O4", "sku": "A1", "quantity": 50.0, "requested_date": D(2026, 12, 2),
             "status": "open", **line},
            {"order_id": "O5", "sku": "A2", "quantity": 20.0, "requested_date": D(2026, 12, 9),
             "status": "open", **line},
            {"order_id": "O6", "sku": "A1", "quantity": 999.0, "requested_date": D(2026, 11, 11),
             "status": "cancelled", **line},
        ])  # fmt: skip
        insert(conn, "deliveries", [
            {"delivery_id": "D1", "order_id": "O1", "sku": "A1", "delivered_date": D(2026, 11, 10),
             "quantity": 30.0},
            {"delivery_id": "D2", "order_id": "O2", "sku": "A1", "delivered_date": D(2026, 11, 18),
             "quantity": 12.0},
            {"delivery_id": "D3", "order_id": "O3", "sku": "V1", "delivered_date": D(2026, 11, 18),
             "quantity": 7.0},
        ])  # fmt: skip
        insert(conn, "inventory_positions", [
            {"sku": "A1", "location": "MAIN", "on_hand": 100.0, "allocated": 0.0,
             "as_of": TODAY},
            {"sku": "V1", "location": "MAIN", "on_hand": 3.0, "allocated": 0.0, "as_of": TODAY},
        ])  # fmt: skip
        days = _weekdays(TODAY, D(2026, 12, 12))
        insert(conn, "capacity_days", [
            {"date": d, "line": "L1", "planned_hours": 8.0, "worker_hours": 16.0,
             "efficiency": 0.5} for d in days
        ] + [
            {"date": d, "line": "L2", "planned_hours": 8.0, "worker_hours": None,
             "efficiency": 0.75} for d in days
        ])  # fmt: skip
        insert(conn, "production_plans", [
            {"plan_id": "P-A1", "sku": "A1", "line": "L1", "start_date": D(2026, 11, 30),
             "due_date": D(2026, 12, 4), "quantity": 600.0, "status": "planned"},
            {"plan_id": "P-A2", "sku": "A2", "line": "L2", "start_date": D(2026, 12, 1),
             "due_date": D(2026, 12, 2), "quantity": 50.0, "status": "released"},
        ])  # fmt: skip
        insert(conn, "forecast_snapshots", [
            {"id": 1, "created_at": NOW - dt.timedelta(days=3), "horizon": 3, "season": 12,
             "first_period": D(2026, 12, 1), "models": "[]", "params": "{}", "source": "orders"},
        ])  # fmt: skip
        insert(conn, "forecast_series", [
            {"snapshot_id": 1, "sku": "A1", "kind": "regular", "model": "ets", "params": "{}",
             "backtest_mase": 0.5, "scale": 40.0, "history_months": 24},
            {"snapshot_id": 1, "sku": "A2", "kind": "regular", "model": "ets", "params": "{}",
             "backtest_mase": 1.0, "scale": 30.0, "history_months": 24},
        ])  # fmt: skip
        insert(conn, "forecast_values", [
            {"snapshot_id": 1, "sku": s, "period_start": m, "lag": lag, "value": v, "model": "ets"}
            for s, m, lag, v in [
                ("A1", D(2026, 12, 1), 1, 310.0), ("A2", D(2026, 12, 1), 1, 62.0),
                ("A1", D(2027, 1, 1), 2, 310.0), ("A2", D(2027, 1, 1), 2, 31.0),
            ]
        ])  # fmt: skip
