"""Order tracking: one order's timeline merged from records, workflows and events."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.engine.tables import EventLog, HistoryRow, InstanceRow
from crmflow.core.store import reading
from crmflow.errors import NotFoundError

from .records import Delivery, DemandChange, Order, OrderLine, PlanAdjustment, ProductionPlan

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = ["order_timeline"]

_STAGE_OF_WORKFLOW_STATE = {
    "draft": "sales", "awaiting_approval": "sales", "confirmed": "sales",
    "scheduled": "planning", "capacity_check": "planning", "checks": "planning",
    "plan_adjustment": "planning",
    "in_production": "production", "shipped": "shipping", "delivered": "delivery",
}  # fmt: skip


def _at(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat() + "T00:00:00"
    return str(value)


def _on(day: dt.date, stamp: Any) -> Any:
    """A record's date, at the moment it was written when that was on the same day.

    A delivery recorded at 22:00 then sorts after what happened that day
    before it, not at midnight ahead of it.
    """
    if isinstance(stamp, dt.datetime) and stamp.date() == day:
        return stamp
    return day


def _mentions(doc: Any, order_id: str) -> bool:
    if isinstance(doc, dict):
        if doc.get("order_id") == order_id:
            return True
        return any(_mentions(v, order_id) for v in doc.values() if isinstance(v, dict | list))
    if isinstance(doc, list):
        return any(_mentions(v, order_id) for v in doc)
    return False


def order_timeline(engine: Engine, order_id: str) -> dict[str, Any]:
    """Everything that happened to an order, oldest first, each entry with its stage."""
    orders, lines = Order.__table__, OrderLine.__table__  # type: ignore[attr-defined]
    changes, deliveries = DemandChange.__table__, Delivery.__table__  # type: ignore[attr-defined]
    plans, adjustments = ProductionPlan.__table__, PlanAdjustment.__table__  # type: ignore[attr-defined]
    entries: list[dict[str, Any]] = []

    def add(at: Any, stage: str, what: str, source: str, by: str | None = None,
            **extra: Any) -> None:  # fmt: skip
        entries.append(
            {"at": _at(at), "stage": stage, "what": what, "source": source, "by": by, **extra}
        )

    with reading(engine.db) as conn:
        order = (
            conn.execute(sa.select(orders).where(orders.c.order_id == order_id)).mappings().first()
        )
        if order is None:
            raise NotFoundError(f"no order {order_id!r}")
        order_lines = [
            dict(r)
            for r in conn.execute(sa.select(lines).where(lines.c.order_id == order_id)).mappings()
        ]
        add(
            _on(order["order_date"], order["created_at"]),
            "sales",
            "order placed",
            "order",
            order["sales_rep"],
            lines=len(order_lines),
        )
        for c in conn.execute(
            sa.select(changes).where(changes.c.order_id == order_id).order_by(changes.c.id)
        ).mappings():
            add(
                c["changed_at"],
                "sales",
                f"{c['sku']} {c['field']} {c['old_value']} → "
                f"{c['new_value']} ({c['reason']}): {c['approval_state']}",
                "demand_change",
                c["changed_by"],
                change_id=c["id"],
            )
            if c["decided_at"] is not None and c["approval_state"] in ("approved", "rejected"):
                add(
                    c["decided_at"],
                    "planning",
                    f"change #{c['id']} {c['approval_state']}",
                    "demand_change",
                    c["decided_by"],
                    change_id=c["id"],
                )
        for p in conn.execute(sa.select(plans).where(plans.c.order_id == order_id)).mappings():
            add(
                p["start_date"],
                "production",
                f"production {p['plan_id']} of {p['quantity']:g} "
                f"{p['sku']} on {p['line']} ({p['status']})",
                "production_plan",
                p["updated_by"],
            )
        sources = [f"order:{order_id}"]
        for a in conn.execute(
            sa.select(adjustments).where(adjustments.c.source.in_(sources))
        ).mappings():
            add(
                a["created_at"],
                "planning",
                f"plan adjustment #{a['id']} {a['status']}",
                "plan_adjustment",
                a["requested_by"],
            )
        for d in conn.execute(
            sa.select(deliveries).where(deliveries.c.order_id == order_id)
        ).mappings():
            if d["shipped_date"] is not None:
                add(
                    d["shipped_date"],
                    "shipping",
                    f"shipped {d['quantity']:g} {d['sku']}",
                    "delivery",
                    d["updated_by"],
                    delivery_id=d["delivery_id"],
                )
            add(
                _on(d["delivered_date"], d["updated_at"]),
                "delivery",
                f"delivered {d['quantity']:g} {d['sku']}",
                "delivery",
                d["updated_by"],
                delivery_id=d["delivery_id"],
            )
        _workflow_entries(conn, order_id, add)
        _event_entries(conn, order_id, add)
    entries.sort(key=lambda e: e["at"])
    return {
        "order_id": order_id, "customer_id": order["customer_id"], "status": order["status"],
        "priority": order["priority"],
        "lines": [{"sku": x["sku"], "quantity": x["quantity"],
                   "requested_date": x["requested_date"].isoformat(),
                   "promised_date": x["promised_date"].isoformat() if x["promised_date"]
                   else None, "status": x["status"]} for x in order_lines],
        "timeline": entries,
    }  # fmt: skip


def _workflow_entries(conn: sa.Connection, order_id: str, add: Any) -> None:
    instances = InstanceRow.__table__  # type: ignore[attr-defined]
    history = HistoryRow.__table__  # type: ignore[attr-defined]
    # LIKE narrows the scan; the JSON check confirms the instance is about this order.
    found = conn.execute(sa.select(instances.c.id, instances.c.workflow, instances.c.data).where(
        instances.c.data.like(f"%{order_id}%"))).all()  # fmt: skip
    ids = {iid: wf for iid, wf, data in found if _mentions(json.loads(data or "{}"), order_id)}
    if not ids:
        return
    q = sa.select(history).where(history.c.instance_id.in_(ids)).order_by(history.c.id)
    for h in conn.execute(q).mappings():
        stage = _STAGE_OF_WORKFLOW_STATE.get(h["to_state"], "planning")
        add(
            h["at"],
            stage,
            f"{ids[h['instance_id']]}: {h['trigger']} → {h['to_state']}",
            "workflow",
            h["actor"],
            instance_id=h["instance_id"],
        )


def _event_entries(conn: sa.Connection, order_id: str, add: Any) -> None:
    events = EventLog.__table__  # type: ignore[attr-defined]
    q = sa.select(events.c.name, events.c.payload, events.c.at, events.c.actor).where(
        events.c.payload.like(f"%{order_id}%"), events.c.name.not_like("order.%")
    )
    for name, payload, at, actor in conn.execute(q):
        if _mentions(json.loads(payload or "{}"), order_id):
            add(
                at,
                "shipping" if "ship" in name or "deliver" in name else "planning",
                f"event {name}",
                "event",
                actor,
            )
