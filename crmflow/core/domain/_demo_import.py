"""Write the generated demo history; every status follows from it as the services derive it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._demo_data import DemoData
from .records import DOMAIN_TABLES
from .status import refresh_delivery_status

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = ["import_history"]

_ORDER = (
    "production_lines", "customers", "contacts", "products", "orders", "order_lines",
    "deliveries", "inventory_snapshots", "inventory_positions", "capacity_days",
    "production_plans", "purchases",
)  # fmt: skip


def import_history(engine: Engine, data: DemoData, *, actor: str = "demo") -> None:
    """Insert the generated records in bulk, then derive order and line statuses.

    The records are written as an import would write them (orders confirmed,
    lines open, cancelled ones cancelled) and the statuses then come from the
    deliveries through :func:`refresh_delivery_status`, the function the
    import and ``record_delivery`` use, so the history cannot contradict
    itself. (Importing the CSVs row by row would do the same but take
    several times as long for the 35,000 lines.)
    """
    tables = {t.name: t for t in DOMAIN_TABLES}
    stamp = {"updated_at": engine.now(), "updated_by": actor}
    cancelled = {o["order_id"] for o in data.rows.get("orders", []) if o["status"] == "cancelled"}
    rows = dict(data.rows)
    rows["orders"] = [
        {**o, "status": "cancelled" if o["order_id"] in cancelled else "confirmed"}
        for o in data.rows.get("orders", [])
    ]
    rows["order_lines"] = [
        {**line, "status": "cancelled" if line["order_id"] in cancelled else "open"}
        for line in data.rows.get("order_lines", [])
    ]
    with engine.db.begin() as conn:
        for name in _ORDER:
            batch = rows.get(name, [])
            for start in range(0, len(batch), 5000):
                conn.execute(tables[name].insert(), batch[start : start + 5000])
        refresh_delivery_status(conn, [o["order_id"] for o in rows["orders"]], stamp)
