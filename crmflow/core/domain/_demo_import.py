"""Load the generated demo history through the import service a user would call."""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.errors import CrmflowError

from ._demo_data import DemoData
from ._kinds import KINDS
from .imports import import_csv
from .records import DOMAIN_TABLES

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = ["import_history"]

#: Import kinds in dependency order, and the generated table each is made from.
_KINDS = (
    ("customers", "customers"), ("products", "products"), ("orders", "order_lines"),
    ("deliveries", "deliveries"), ("inventory", "inventory_snapshots"),
    ("capacity", "capacity_days"), ("production", "production_plans"),
    ("purchases", "purchases"),
)  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _order_rows(data: DemoData) -> list[dict[str, Any]]:
    """One CSV row per order line with its order's header; only cancellation is stated.

    Line and order statuses follow from the deliveries imported next, as
    they do for a user's import.
    """
    heads = {o["order_id"]: o for o in data.rows.get("orders", [])}
    rows = []
    for line in data.rows.get("order_lines", []):
        head = heads[line["order_id"]]
        rows.append({
            **line, "customer_id": head["customer_id"], "order_date": head["order_date"],
            "priority": head["priority"], "sales_rep": head["sales_rep"],
            "status": "cancelled" if head["status"] == "cancelled" else None,
        })  # fmt: skip
    return rows


def import_history(engine: Engine, data: DemoData, *, actor: str = "demo") -> None:
    """Import every generated record with ``crmflow import``'s service, without events.

    Production lines and contacts have no import kind and are inserted as
    they are. A rejected row is a bug of the generator: it raises.
    """
    tables = {t.name: t for t in DOMAIN_TABLES}

    def direct(name: str) -> None:
        rows = data.rows.get(name, [])
        if rows:
            with engine.db.begin() as conn:
                conn.execute(sa.insert(tables[name]), rows)

    direct("production_lines")
    with tempfile.TemporaryDirectory(prefix="crmflow-demo-") as folder:
        for kind, table in _KINDS:
            rows = _order_rows(data) if kind == "orders" else data.rows.get(table, [])
            if not rows:
                continue
            columns = [c.name for c in KINDS[kind].columns]
            path = Path(folder) / f"{kind}.csv"
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(columns)
                writer.writerows([_cell(r.get(c)) for c in columns] for r in rows)
            report = import_csv(engine, kind, path, actor=actor, emit=False)
            if report.rejected:
                line, reason = report.rejected[0]
                raise CrmflowError(f"demo {kind}.csv:{line}: {reason}")
            if kind == "customers":
                direct("contacts")
