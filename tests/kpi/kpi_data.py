"""Test data of the KPI tests: a migrated database with a hand-computed month of records."""

from __future__ import annotations

import atexit
import datetime as dt
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from crmflow import hookspecs
from crmflow.core.factory import Department, FactoryConfig
from crmflow.core.registry import PluginManager, build_registry
from crmflow.core.store import make_db, migrate

NOW = dt.datetime(2026, 11, 10, 9, 0, tzinfo=dt.UTC)
OCT = (dt.date(2026, 10, 1), dt.date(2026, 11, 1))

D = dt.date


class KpiEngine:
    """The slice of the Engine the KPI plugin uses: db, factory, registry, clock, emit."""

    def __init__(
        self, url: str, factory: FactoryConfig, plugins: tuple[object, ...] = ()
    ) -> None:
        import crmflow.plugins.kpi as kpi_plugin

        if url.startswith("sqlite:///"):
            _migrated_copy(url)
            self.db = make_db(url)
        else:
            self.db = make_db(url)
            migrate(self.db)
        self.factory = factory
        pm = PluginManager()
        pm.add_hookspecs(hookspecs)
        pm.register(kpi_plugin, name="kpi")
        for plugin in plugins:
            pm.register(plugin, name=getattr(plugin, "__name__", None))
        self.registry = build_registry(pm, [n for n, p in pm.list_name_plugin() if p])
        self.clock = NOW
        self.events: list[tuple[str, dict[str, Any], str | None]] = []

    def now(self) -> dt.datetime:
        return self.clock

    def plugin_settings(self, name: str) -> dict[str, Any]:
        return self.factory.plugin_settings(name)

    def emit(
        self, event: str, payload: dict[str, Any], *, key: str | None = None, actor: str = "system"
    ) -> None:
        # Like the engine's event log: a key already delivered is not delivered again.
        if key is not None and any(e == event and k == key for e, _, k in self.events):
            return
        self.events.append((event, payload, key))


_TEMPLATE: list[Path] = []


def _migrated_copy(url: str) -> None:
    """Give a new SQLite file the migrated schema: migrate once per session, then copy."""
    if not _TEMPLATE:
        folder = tempfile.mkdtemp(prefix="crmflow-kpi-")
        atexit.register(shutil.rmtree, folder, True)
        template = Path(folder) / "template.sqlite3"
        db = make_db(f"sqlite:///{template}")
        migrate(db)
        db.dispose()  # the last connection out checkpoints the WAL into the file
        _TEMPLATE.append(template)
    shutil.copyfile(_TEMPLATE[0], url.removeprefix("sqlite:///"))


def make_factory(**kpi_settings: Any) -> FactoryConfig:
    return FactoryConfig(
        name="test",
        departments=[
            Department("north", "North", members=("alice",), pilot_start=D(2026, 10, 15)),
            Department("south", "South", members=("bob",)),
        ],
        plugins={"kpi": kpi_settings},
    )


def insert(conn: sa.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(sa.table(table, *(sa.column(c) for c in rows[0])).insert(), rows)


def load_month(engine: KpiEngine) -> None:
    """October 2026, computed by hand in test_calculators.py."""
    with engine.db.begin() as conn:
        insert(conn, "customers", [
            {"customer_id": "C1", "name": "Acme", "industry": "auto", "size": "L",
             "region": "EU", "segment": "oem"},
            {"customer_id": "C2", "name": "Bolt", "industry": "retail", "size": "S",
             "region": "EU", "segment": "retail"},
            {"customer_id": "C3", "name": "Cog", "industry": "auto", "size": "M",
             "region": "US", "segment": None},
        ])  # fmt: skip
        insert(conn, "products", [
            {"sku": "P1", "name": "Pump 1", "family": "pumps", "kind": "made", "unit_cost": 10.0,
             "lead_time_days": 14, "lot_size": 1, "safety_stock": 0, "reorder_qty": 0},
            {"sku": "P2", "name": "Pump 2", "family": "pumps", "kind": "made", "unit_cost": 5.0,
             "lead_time_days": 14, "lot_size": 1, "safety_stock": 0, "reorder_qty": 0},
            {"sku": "P3", "name": "Valve", "family": "valves", "kind": "bought", "unit_cost": 2.0,
             "lead_time_days": 14, "lot_size": 1, "safety_stock": 0, "reorder_qty": 0},
        ])  # fmt: skip
        orders = [
            ("O1", "C1", D(2026, 9, 20), "alice", "confirmed"),
            ("O2", "C2", D(2026, 10, 1), "bob", "confirmed"),
            ("O3", "C1", D(2026, 10, 5), "carol", "confirmed"),
            ("O4", "C3", D(2026, 9, 1), "alice", "confirmed"),
            ("O5", "C2", D(2026, 10, 2), "bob", "confirmed"),
            ("O6", "C1", D(2026, 10, 1), "alice", "cancelled"),
            ("O7", "C2", D(2026, 10, 3), "bob", "confirmed"),
        ]
        insert(conn, "orders", [
            {"order_id": o, "customer_id": c, "order_date": d, "priority": "normal",
             "sales_rep": rep, "status": status}
            for o, c, d, rep, status in orders
        ])  # fmt: skip
        lines = [
            ("O1", "P1", 10, D(2026, 10, 10), None, "open"),
            ("O1", "P3", 5, D(2026, 10, 10), D(2026, 10, 12), "open"),
            ("O2", "P2", 4, D(2026, 10, 20), None, "open"),
            ("O3", "P1", 8, D(2026, 11, 5), None, "open"),
            ("O4", "P3", 10, D(2026, 9, 25), None, "open"),
            ("O5", "P1", 2, D(2026, 10, 30), None, "open"),
            ("O6", "P1", 100, D(2026, 10, 15), None, "open"),
            ("O7", "P2", 3, D(2026, 10, 5), None, "cancelled"),
            ("O7", "P3", 1, D(2026, 10, 6), None, "open"),
        ]
        insert(conn, "order_lines", [
            {"order_id": o, "sku": s, "quantity": q, "unit_price": 1.0, "requested_date": r,
             "promised_date": p, "status": st}
            for o, s, q, r, p, st in lines
        ])  # fmt: skip
        deliveries = [
            ("O1", "P1", D(2026, 10, 8), 10),
            ("O1", "P3", D(2026, 10, 11), 3),
            ("O1", "P3", D(2026, 10, 14), 2),
            ("O2", "P2", D(2026, 10, 18), 6),
            ("O3", "P1", D(2026, 10, 25), 8),
            ("O4", "P3", D(2026, 9, 20), 4),
            ("O4", "P3", D(2026, 10, 3), 6),
            ("O6", "P1", D(2026, 10, 10), 50),
            ("O7", "P3", D(2026, 10, 6), 1),
        ]
        insert(conn, "deliveries", [
            {"delivery_id": f"D{i}", "order_id": o, "sku": s, "delivered_date": d, "quantity": q}
            for i, (o, s, d, q) in enumerate(deliveries)
        ])  # fmt: skip
        stock = [
            (D(2026, 9, 30), "P1", "A", 1000),
            (D(2026, 10, 1), "P1", "A", 10),
            (D(2026, 10, 1), "P3", "A", 50),
            (D(2026, 10, 15), "P1", "B", 5),
            (D(2026, 10, 15), "P2", "A", 10),
        ]
        insert(conn, "inventory_snapshots", [
            {"date": d, "sku": s, "location": loc, "kind": "finished", "on_hand": q}
            for d, s, loc, q in stock
        ])  # fmt: skip
    load_rush(engine)


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def load_rush(engine: KpiEngine) -> None:
    """Rush-order instances and their history (hours computed by hand)."""
    instances = [
        # id, workflow, start, data, [(trigger, from, to, actor, at)]
        (1, "rush_order", "2026-10-05T08:00", {"order": {"order_id": "O2"}}, [
            ("remind", "new", "new", "system", "2026-10-05T08:30"),
            ("comment", "new", "new", "planner1", "2026-10-05T09:00"),
            ("accept", "new", "accepted", "planner1", "2026-10-05T11:00"),
        ]),
        (2, "rush_order", "2026-10-10T12:00", {"order_id": "O1"}, [
            ("accept", "new", "accepted", "alice", "2026-10-10T12:45"),
            ("ship", "accepted", "shipped", "alice", "2026-10-10T13:00"),
        ]),
        (3, "rush_order", "2026-10-20T00:00", {"order": {"order_id": "O5"}}, [
            ("escalate", "new", "escalated", "system", "2026-10-20T04:00"),
            ("accept", "escalated", "accepted", "bob", "2026-10-20T06:00"),
        ]),
        (4, "rush_order", "2026-09-30T23:00", {}, [
            ("accept", "new", "accepted", "bob", "2026-10-01T01:00"),
        ]),
        (5, "other", "2026-10-05T08:00", {}, [
            ("accept", "new", "accepted", "bob", "2026-10-05T09:00"),
        ]),
        (6, "rush_order", "2026-10-31T22:00", {}, [
            ("accept", "new", "accepted", "bob", "2026-11-01T02:00"),
        ]),
    ]  # fmt: skip
    with engine.db.begin() as conn:
        for iid, workflow, start, data, steps in instances:
            at = _at(start)
            insert(conn, "instances", [
                {"id": iid, "workflow": workflow, "version": 1, "state": steps[-1][2],
                 "data": json.dumps(data), "rev": 1, "finished": False, "created_at": at,
                 "updated_at": at, "entered_at": at},
            ])  # fmt: skip
            rows = [{"instance_id": iid, "trigger": "start", "from_state": None,
                     "to_state": "new", "actor": "sales", "at": at}]  # fmt: skip
            rows += [
                {"instance_id": iid, "trigger": t, "from_state": f, "to_state": to,
                 "actor": actor, "at": _at(when)}
                for t, f, to, actor, when in steps
            ]  # fmt: skip
            insert(conn, "history", rows)


def load_forecasts(engine: KpiEngine, extra: list[tuple[str, str, float]] = ()) -> None:
    """Forecast snapshots for October 2026: (created_at, sku, value) per SKU × month.

    The lag-1 forecast of October is the latest made before October 1:
    P1 10 (the August 100 is older, the October 12 too late), P2 6, P3 3
    (a later, partial snapshot), P9 5 (no orders: actual 0).
    """
    rows = [
        ("2026-08-15T10:00", "P1", 100.0),
        ("2026-09-20T10:00", "P1", 10.0),
        ("2026-09-20T10:00", "P2", 6.0),
        ("2026-09-20T10:00", "P3", 6.0),
        ("2026-09-20T10:00", "P9", 5.0),
        ("2026-09-25T10:00", "P3", 3.0),
        ("2026-10-05T10:00", "P1", 12.0),
        *extra,
    ]
    with engine.db.begin() as conn:
        for n, created in enumerate(sorted({r[0] for r in rows}), start=1):
            insert(conn, "forecast_snapshots", [
                {"id": n, "created_at": _at(created), "horizon": 6, "season": 12,
                 "first_period": D(2026, 10, 1), "models": "[]", "params": "{}",
                 "source": "test"},
            ])  # fmt: skip
            insert(conn, "forecast_values", [
                {"snapshot_id": n, "sku": sku, "period_start": D(2026, 10, 1), "lag": 1,
                 "value": value, "model": "test"}
                for at, sku, value in rows
                if at == created
            ])  # fmt: skip
