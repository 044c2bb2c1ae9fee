"""The `machine_down` workflow's actions: orders a line's downtime affects, tasks for reps."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from crmflow import ActionContext
from crmflow.core.domain.ctp import capable_to_promise
from crmflow.core.domain.imports import import_rows
from crmflow.core.domain.records import CapacityDay, Order, OrderLine, Product, ProductionPlan

__all__ = ["ACTIONS", "FUNCTIONS", "affected_orders", "mark_down", "minutes_since", "task_reps"]

_OPEN_ORDER = ("cancelled", "delivered", "draft")


def _conn(ctx: ActionContext) -> sa.Connection:
    if ctx.connection is None:  # registered without outbox: always inside the transaction
        raise RuntimeError("this mes action runs inside the transaction")
    return ctx.connection


def minutes_since(value: Any, now: Any) -> float:
    """Minutes from an ISO time stamp (or datetime) to ``now``; 0 when there is none."""
    if not value:
        return 0.0
    then = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if then.tzinfo is None:
        then = then.replace(tzinfo=dt.UTC)
    return max((now - then).total_seconds() / 60.0, 0.0)


def mark_down(ctx: ActionContext, **_: Any) -> dict[str, Any]:
    """When the line was seen down (the workflow's clock)."""
    return {"since": ctx.now.isoformat()}


def affected_orders(ctx: ActionContext, line: Any, **_: Any) -> dict[str, Any]:
    """Open order lines of the parts made on ``line`` due in the next days, with new CTP dates.

    The line's capacity of today loses ``factory.machine_down_expected_hours``
    (the capacity record is updated as `import capacity` would, by
    ``machine_down``), so capable-to-promise sees the downtime.
    """
    conn = _conn(ctx)
    line = str(line)
    today = ctx.now.astimezone(ctx.engine.factory.timezone).date()
    horizon = int(ctx.engine.settings.get("machine_down_horizon_days", 14))
    lost = float(ctx.engine.settings.get("machine_down_expected_hours", 8))
    end = today + dt.timedelta(days=horizon)
    cap = CapacityDay.__table__  # type: ignore[attr-defined]
    row = conn.execute(sa.select(cap).where(cap.c.line == line, cap.c.date == today)).first()
    if row is not None and lost > 0:
        import_rows(
            ctx.engine,
            "capacity",
            [
                {
                    "line": line,
                    "date": today,
                    "planned_hours": max(row.planned_hours - lost, 0.0),
                    "worker_hours": row.worker_hours,
                    "efficiency": row.efficiency,
                    "output": row.output,
                }
            ],
            actor="machine_down",
            source=f"machine_down:{line}",
            conn=conn,
        )
    products = Product.__table__  # type: ignore[attr-defined]
    plans = ProductionPlan.__table__  # type: ignore[attr-defined]
    skus = set(conn.execute(sa.select(products.c.sku).where(products.c.line == line)).scalars())
    skus |= set(
        conn.execute(
            sa.select(plans.c.sku).where(
                plans.c.line == line,
                plans.c.due_date >= today,
                plans.c.start_date <= end,
                plans.c.status.in_(["planned", "released"]),
            )
        ).scalars()
    )
    lines = OrderLine.__table__  # type: ignore[attr-defined]
    orders = Order.__table__  # type: ignore[attr-defined]
    due = sa.func.coalesce(lines.c.promised_date, lines.c.requested_date)
    q = (
        sa.select(
            lines.c.order_id,
            lines.c.sku,
            lines.c.quantity,
            due.label("due"),
            orders.c.customer_id,
            orders.c.sales_rep,
        )
        .join(orders, orders.c.order_id == lines.c.order_id)
        .where(
            lines.c.sku.in_(sorted(skus)),
            lines.c.status == "open",
            orders.c.status.not_in(_OPEN_ORDER),
            due <= end,
        )
        .order_by(due, lines.c.order_id, lines.c.sku)
    )
    affected = []
    for r in conn.execute(q):
        ctp = capable_to_promise(ctx.engine, r.sku, r.quantity, order_id=r.order_id, conn=conn)
        affected.append(
            {
                "order_id": r.order_id,
                "sku": r.sku,
                "quantity": r.quantity,
                "customer_id": r.customer_id,
                "sales_rep": r.sales_rep,
                "due": r.due.isoformat(),
                "new_ctp_date": ctp["date"],
                "late": ctp["date"] is None or ctp["date"] > r.due.isoformat(),
            }
        )
    text = (
        "; ".join(
            f"{a['order_id']} {a['sku']} due {a['due']} -> CTP {a['new_ctp_date']}"
            for a in affected
        )
        or "no open orders"
    )
    return {
        "line": line,
        "count": len(affected),
        "orders": affected,
        "summary": text,
        "reps": sorted({a["sales_rep"] for a in affected if a["sales_rep"]}),
    }


def task_reps(ctx: ActionContext, affected: Any = None, line: Any = "", **_: Any) -> dict[str, Any]:
    """One task per order for its sales rep: tell the customer the new date.

    Runs from the outbox after the step's commit; each task is a notification
    keyed by the step and the order, so a retried step writes it once.
    """
    from crmflow.notifications import notify

    tasks = []
    for a in (affected or {}).get("orders", []):
        if not a.get("sales_rep"):
            continue
        text = (
            f"Line {line} is down: tell customer {a['customer_id']} about order "
            f"{a['order_id']} ({a['sku']}, due {a['due']}); it can now be promised for "
            f"{a['new_ctp_date'] or 'no date within the horizon'}"
        )
        nid = notify(
            ctx.engine, a["sales_rep"], text, urgent=True, instance_id=ctx.instance_id,
            key=f"mes.task:{ctx.idempotency_key}:{a['order_id']}:{a['sku']}",
            link=f"/orders/{a['order_id']}",
        )  # fmt: skip
        tasks.append({"id": int(nid), "to": a["sales_rep"], "order_id": a["order_id"]})
    return {"tasks": tasks}


#: name -> (function, description, runs from the outbox after the commit)
ACTIONS = {
    "mes.mark_down": (mark_down, "When a line was seen down"),
    "mes.affected_orders": (affected_orders, "Open orders a line's downtime affects, new CTP"),
    "mes.task_reps": (task_reps, "A task per affected order for its sales rep"),
}
FUNCTIONS = {"minutes_since": (minutes_since, "Minutes from an ISO time stamp to now")}
