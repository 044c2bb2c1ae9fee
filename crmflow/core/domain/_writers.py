"""Per-kind writers of the import: upsert the checked rows and list the events to emit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from ._events import Event
from ._kinds import Kind
from ._parse import chunked, iso
from ._upsert import UpsertResult, fetch_existing, model_defaults, upsert_rows
from .import_report import ImportReport
from .records import (
    DemandChange,
    InventoryPosition,
    Order,
    OrderLine,
    Product,
    ProductionLine,
)
from .status import refresh_delivery_status

__all__ = ["WRITERS", "line_change_event"]

Rows = list[tuple[int, dict[str, Any]]]
Writer = Callable[[sa.Connection, Kind, Rows, ImportReport, dict[str, Any], str], list[Event]]

LINE_FIELDS = ("quantity", "requested_date", "promised_date")


def _count(report: ImportReport, result: UpsertResult) -> None:
    report.added += len(result.added)
    report.updated += len(result.updated)
    report.unchanged += result.unchanged


def _plain(on_insert: dict[str, Any] | None = None) -> Writer:
    """Upsert every file column; no events."""

    def write(conn, kind, rows, report, stamp, actor):  # type: ignore[no-untyped-def]
        values = [r for _, r in rows]
        compare = [c.name for c in kind.columns if c.name not in kind.key]
        insert_defaults = {**model_defaults(kind.model), **(on_insert or {})}
        if "created_at" in kind.table.c:
            insert_defaults["created_at"] = stamp["updated_at"]
        _count(
            report,
            upsert_rows(
                conn,
                kind.table,
                list(kind.key),
                values,
                compare=compare,
                stamp=stamp,
                on_insert=insert_defaults,
            ),
        )
        if "line" in kind.table.c:
            _ensure_lines(conn, {r["line"] for r in values if r.get("line")})
        return []

    return write


def _ensure_lines(conn: sa.Connection, lines: set[str]) -> None:
    table = ProductionLine.__table__  # type: ignore[attr-defined]
    known = set(fetch_existing(conn, table, ["line"], [(x,) for x in lines]))
    new = [
        {"line": x, "name": x, "units_per_hour": 10.0} for x in sorted(lines) if (x,) not in known
    ]
    if new:
        conn.execute(table.insert(), new)


def line_change_event(
    change_id: int,
    order_id: str,
    sku: str,
    field: str,
    old: Any,
    new: Any,
    reason: str,
    by: str,
    state: str,
) -> Event:
    """The ``order.line_changed`` event of one recorded demand change."""
    payload = {
        "order_id": order_id,
        "sku": sku,
        "field": field,
        "old": iso(old),
        "new": iso(new),
        "reason": reason,
        "by": by,
        "change_id": change_id,
        "approval_state": state,
    }
    return Event("order.line_changed", payload, key=f"demand_change:{change_id}")


def _write_orders(conn, kind, rows, report, stamp, actor):  # type: ignore[no-untyped-def]
    now = stamp["updated_at"]
    headers: dict[str, dict[str, Any]] = {}
    for _, r in rows:
        head = headers.setdefault(r["order_id"], {"order_id": r["order_id"]})
        for f in ("customer_id", "order_date", "priority", "sales_rep"):
            if f in r:
                head.setdefault(f, r[f])
    orders_t = Order.__table__  # type: ignore[attr-defined]
    head_result = upsert_rows(
        conn,
        orders_t,
        ["order_id"],
        list(headers.values()),
        compare=["customer_id", "order_date", "priority", "sales_rep"],
        stamp=stamp,
        on_insert={
            "status": "confirmed",
            "priority": "normal",
            "sales_rep": None,
            "created_at": now,
        },
    )
    new_orders = {h["order_id"] for h in head_result.added}
    line_cols = ["quantity", "unit_price", "requested_date", "promised_date", "status"]
    lines = [{k: v for k, v in r.items() if k in {"order_id", "sku", *line_cols}} for _, r in rows]
    result = upsert_rows(
        conn,
        OrderLine.__table__,  # type: ignore[attr-defined]  # sqlmodel: no __table__ in stubs
        ["order_id", "sku"],
        lines,
        compare=line_cols,
        stamp=stamp,
        on_insert={"status": "open", "promised_date": None},
    )
    _count(report, result)
    # An order's status follows its lines (all cancelled: cancelled; all delivered: delivered).
    refresh_delivery_status(conn, {r["order_id"] for _, r in rows}, stamp)
    # Every change of an existing line is kept as a demand change: ERP exports edit in place,
    # crmflow keeps the old value, who and when.
    changes: list[dict[str, Any]] = []
    for old, new in result.updated:
        for f in LINE_FIELDS:
            if f in new and old.get(f) != new[f]:
                changes.append(
                    _change(old["order_id"], old["sku"], f, old.get(f), new[f], actor, now,
                            report.reason)  # fmt: skip
                )
    for new in result.added:
        if new["order_id"] not in new_orders:
            changes.append(
                _change(new["order_id"], new["sku"], "quantity", None, new["quantity"], actor, now,
                        report.reason)  # fmt: skip
            )
    events: list[Event] = []
    by_order: dict[str, list[dict[str, Any]]] = {}
    for _, r in rows:
        if r["order_id"] in new_orders:
            by_order.setdefault(r["order_id"], []).append(
                {
                    "sku": r["sku"],
                    "quantity": r["quantity"],
                    "requested_date": iso(r["requested_date"]),
                }
            )
    for head in head_result.added:
        events.append(
            Event(
                "order.created",
                {
                    "order_id": head["order_id"],
                    "customer_id": head["customer_id"],
                    "priority": head.get("priority", "normal"),
                    "order_date": iso(head["order_date"]),
                    "sales_rep": head.get("sales_rep"),
                    "lines": by_order[head["order_id"]],
                },
                key=f"order.created:{head['order_id']}",
            )
        )
    table = DemandChange.__table__  # type: ignore[attr-defined]
    for change in changes:
        row = {k: v for k, v in change.items() if not k.startswith("_")}
        cid = conn.execute(table.insert().values(row)).inserted_primary_key[0]
        events.append(
            line_change_event(
                cid,
                change["order_id"],
                change["sku"],
                change["field"],
                change["_old"],
                change["_new"],
                report.reason,
                actor,
                "imported",
            )
        )
    return events


def _change(
    order_id: str, sku: str, field: str, old: Any, new: Any, actor: str, now: Any,
    reason: str = "import",
) -> dict[str, Any]:  # fmt: skip
    return {
        "order_id": order_id,
        "sku": sku,
        "field": field,
        "old_value": None if old is None else str(iso(old)),
        "new_value": str(iso(new)),
        "reason": reason,
        "changed_by": actor,
        "changed_at": now,
        "approval_state": "imported",
        "source": reason,
        "_old": old,
        "_new": new,
    }


def _write_deliveries(conn, kind, rows, report, stamp, actor):  # type: ignore[no-untyped-def]
    result = upsert_rows(
        conn,
        kind.table,
        ["delivery_id"],
        [r for _, r in rows],
        compare=["order_id", "sku", "delivered_date", "quantity", "shipped_date"],
        stamp=stamp,
        on_insert={"shipped_date": None},
    )
    _count(report, result)
    touched = {r["order_id"] for r in result.added} | {n["order_id"] for _, n in result.updated}
    refresh_delivery_status(conn, touched, stamp)
    return [
        Event(
            "delivery.recorded",
            {
                "delivery_id": r["delivery_id"],
                "order_id": r["order_id"],
                "sku": r["sku"],
                "quantity": r["quantity"],
                "delivered_date": iso(r["delivered_date"]),
            },
            key=f"delivery:{r['delivery_id']}",
        )
        for r in result.added
    ]


def _write_inventory(conn, kind, rows, report, stamp, actor):  # type: ignore[no-untyped-def]
    products = Product.__table__  # type: ignore[attr-defined]
    skus = sorted({r["sku"] for _, r in rows})
    product_kind: dict[str, str] = {}
    for batch in chunked(skus):
        q = sa.select(products.c.sku, products.c.kind).where(products.c.sku.in_(batch))
        product_kind.update({s: k for s, k in conn.execute(q)})
    values = []
    for _, r in rows:
        default = "raw" if product_kind.get(r["sku"]) == "bought" else "finished"
        values.append({**r, "kind": r.get("kind", default)})
    _count(
        report,
        upsert_rows(
            conn, kind.table, list(kind.key), values, compare=["on_hand", "kind"], stamp=stamp
        ),
    )
    # The position follows the newest count per SKU and location.
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for v in values:
        k = (v["sku"], v["location"])
        if k not in latest or v["date"] > latest[k]["date"]:
            latest[k] = v
    positions = InventoryPosition.__table__  # type: ignore[attr-defined]
    existing = fetch_existing(conn, positions, ["sku", "location"], list(latest))
    events = []
    moved = []
    for k, v in latest.items():
        old = existing.get(k)
        if old is not None and old["as_of"] is not None and old["as_of"] > v["date"]:
            continue
        if old is not None and old["on_hand"] == v["on_hand"] and old["as_of"] == v["date"]:
            continue
        moved.append(
            {
                "sku": k[0],
                "location": k[1],
                "kind": v["kind"],
                "on_hand": v["on_hand"],
                "as_of": v["date"],
            }
        )
        if old is None or old["on_hand"] != v["on_hand"]:
            events.append(
                Event(
                    "inventory.changed",
                    {
                        "sku": k[0],
                        "location": k[1],
                        "on_hand": v["on_hand"],
                        "date": iso(v["date"]),
                        "stock_kind": v["kind"],
                    },
                    key=f"inventory:{k[0]}:{k[1]}:{iso(v['date'])}:{v['on_hand']:g}",
                )
            )
    upsert_rows(
        conn,
        positions,
        ["sku", "location"],
        moved,
        compare=["kind", "on_hand", "as_of"],
        stamp=stamp,
        on_insert={"allocated": 0.0},
    )
    return events


def _write_capacity(conn, kind, rows, report, stamp, actor):  # type: ignore[no-untyped-def]
    values = [r for _, r in rows]
    result = upsert_rows(
        conn,
        kind.table,
        ["date", "line"],
        values,
        compare=["planned_hours", "worker_hours", "efficiency", "output"],
        stamp=stamp,
    )
    _count(report, result)
    _ensure_lines(conn, {r["line"] for r in values})
    changed = result.added + [new for _, new in result.updated]
    return [
        Event(
            "capacity.changed",
            {
                "line": r["line"],
                "date": iso(r["date"]),
                "planned_hours": r["planned_hours"],
                "worker_hours": r.get("worker_hours"),
                "efficiency": r.get("efficiency"),
                "output": r.get("output"),
            },
        )
        for r in changed
    ]


WRITERS: dict[str, Writer] = {
    "customers": _plain(),
    "products": _plain(),
    "orders": _write_orders,
    "deliveries": _write_deliveries,
    "inventory": _write_inventory,
    "capacity": _write_capacity,
    "production": _plain({"status": "planned"}),
    "purchases": _plain(),
    "opportunities": _plain(),
    "market_indicators": _plain(),
    "feedback": _plain(),
}
