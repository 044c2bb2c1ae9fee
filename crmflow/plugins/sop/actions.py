"""Workflow actions of the S&OP plugin; all run inside the fired trigger's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from crmflow import ActionContext
from crmflow.core.domain import alerts, approvals, orders, planning
from crmflow.core.domain.ctp import capable_to_promise, capacity_load, line_of
from crmflow.core.domain.inventory import product
from crmflow.core.domain.records import Order, OrderLine
from crmflow.core.domain.settings import settings
from crmflow.core.engine.tables import InstanceRow

__all__ = ["ACTIONS"]


def _conn(ctx: ActionContext) -> sa.Connection:
    if ctx.connection is None:  # registered without outbox, so the engine always passes one
        raise RuntimeError("sop actions run inside the transaction")
    return ctx.connection


def _actor(ctx: ActionContext) -> str:
    return ctx.actor or "system"


def compute_impact(ctx: ActionContext, order_id: str, sku: str, field: str, old: Any = None,
                   new: Any = None, **_: Any) -> dict[str, Any]:  # fmt: skip
    """Impact of a demand change: tolerance, capable-to-promise, capacity load, plan move."""
    conn = _conn(ctx)
    limits = settings(ctx.engine)
    within = orders.within_tolerance(field, old, new, limits)
    prod = product(conn, sku)
    lines = OrderLine.__table__  # type: ignore[attr-defined]
    line = conn.execute(sa.select(lines).where(
        lines.c.order_id == order_id, lines.c.sku == sku)).mappings().first()  # fmt: skip
    qty = float(new) if field == "quantity" else float(line["quantity"] if line else 0.0)
    today = ctx.now.date()
    ctp = (
        capable_to_promise(ctx.engine, sku, qty, from_date=today, order_id=order_id, conn=conn)
        if qty > 0
        else None
    )
    due = None
    if field != "quantity" and new:
        due = dt.date.fromisoformat(str(new)[:10])
    elif line is not None:
        due = line["promised_date"] or line["requested_date"]
    late = ctp is not None and (
        ctp["date"] is None or (due is not None and ctp["date"] > due.isoformat())
    )
    moves_plan = (
        prod["kind"] == "made" and ctp is not None and (ctp["source"] == "capacity" or late)
    )
    load_pct = None
    prod_line = line_of(conn, prod) if prod["kind"] == "made" else None
    if prod_line is not None:
        load = capacity_load(conn, prod_line, today, today + dt.timedelta(days=14))
        available = sum(d["available"] for d in load.values())
        load_pct = (
            round(sum(d["load"] for d in load.values()) / available, 4) if available else None
        )
    return {
        "within_tolerance": within, "ctp": ctp, "late": late, "moves_plan": moves_plan,
        "line": prod_line, "capacity_load_14d": load_pct, "kind": prod["kind"],
        "due_date": due.isoformat() if due else None,
    }  # fmt: skip


def decide_change(ctx: ActionContext, change_id: int, approve: bool = True,
                  comment: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Approve (apply to the order line) or reject a pending demand change."""
    decided = orders.decide_demand_change(
        _conn(ctx),
        int(change_id),
        approve=_bool(approve),
        by=_actor(ctx),
        now=ctx.now,
        comment=comment,
    )
    return {"change_id": decided["id"], "approval_state": decided["approval_state"]}


def adjust_plan(ctx: ActionContext, change_id: int) -> dict[str, Any]:
    """Move the production plan for an approved demand change (made parts only)."""
    conn = _conn(ctx)
    change = orders.demand_change(conn, int(change_id))
    prod = product(conn, change["sku"])
    if prod["kind"] != "made":
        return {"adjusted": False, "reason": f"{change['sku']} is bought"}
    if change["field"] == "quantity":
        delta = float(change["new_value"]) - float(change["old_value"] or 0.0)
        due = None
    else:
        delta, due = 0.0, change["new_value"]
    if delta == 0 and due is None:
        return {"adjusted": False, "reason": "nothing to move"}
    adj = planning.propose_adjustment(
        conn, sku=change["sku"], quantity_delta=delta, new_due_date=due,
        reason=f"demand change #{change['id']} of order {change['order_id']}",
        source=f"order:{change['order_id']}", by=_actor(ctx), now=ctx.now, prod=prod,
    )  # fmt: skip
    applied = planning.apply_adjustment(conn, adj["id"], by=_actor(ctx), now=ctx.now)
    return {"adjusted": True, "adjustment_id": adj["id"], "plan_id": applied["plan_id"]}


def open_alert(ctx: ActionContext, sku: str, location: str | None = None,
               shortage_date: Any = None, on_hand: Any = None, safety_stock: Any = None,
               kind: str = "inventory_shortage") -> dict[str, Any]:  # fmt: skip
    """Open the alert of (kind, sku, location), or return the one already open."""
    alert, created = alerts.open_alert(
        _conn(ctx), kind=kind, sku=sku, location=location, now=ctx.now,
        message=f"{sku} at {location}: projected below safety stock on {shortage_date}",
        shortage_date=shortage_date, on_hand=_num(on_hand), safety_stock=_num(safety_stock),
        instance_id=ctx.instance_id,
    )  # fmt: skip
    return {"id": alert["id"], "created": created}


def close_alert(ctx: ActionContext, sku: str, location: str | None = None,
                kind: str = "inventory_shortage") -> dict[str, Any]:  # fmt: skip
    closed = alerts.close_alert(
        _conn(ctx), kind=kind, sku=sku, location=location, by=_actor(ctx), now=ctx.now
    )
    return {"closed": closed}


def propose_replenishment(ctx: ActionContext, sku: str, location: str | None = None,
                          alert_id: Any = None) -> dict[str, Any]:  # fmt: skip
    """Purchase request (bought part) or production adjustment (made part), sized by rule."""
    return planning.propose_replenishment(
        ctx.engine,
        _conn(ctx),
        sku,
        location,
        by=_actor(ctx),
        now=ctx.now,
        alert_id=int(alert_id) if alert_id not in (None, "") else None,
    )


def record_approval(
    ctx: ActionContext,
    subject: str,
    amount: Any = 0,
    requested_by: Any = None,
    decision: str = "approved",
    comment: str | None = None,
) -> dict[str, Any]:
    """One approver's decision (the actor); self-approval and outsiders are refused."""
    return approvals.record_approval(
        _conn(ctx),
        str(subject),
        _actor(ctx),
        decision,
        requested_by=str(requested_by or ""),
        amount=float(amount or 0),
        limits=settings(ctx.engine),
        now=ctx.now,
        comment=comment,
    )


def decide_proposal(ctx: ActionContext, subject: str, approve: Any = True) -> dict[str, Any]:
    """Approve (plan adjustments are applied) or reject a proposal."""
    done = planning.decide_proposal(
        _conn(ctx), str(subject), approve=_bool(approve), by=_actor(ctx), now=ctx.now
    )
    return {"subject": done["subject"], "status": done["status"]}


def set_order_status(ctx: ActionContext, order_id: str, status: str) -> dict[str, Any]:
    orders.set_order_status(_conn(ctx), str(order_id), status, by=_actor(ctx), now=ctx.now)
    return {"order_id": order_id, "status": status}


def order_check(ctx: ActionContext, order_id: str) -> dict[str, Any]:
    """Order value and the customer's open exposure against the factory's limits."""
    conn = _conn(ctx)
    o, lines = Order.__table__, OrderLine.__table__  # type: ignore[attr-defined]
    value = sa.func.coalesce(sa.func.sum(lines.c.quantity * lines.c.unit_price), 0.0)
    amount = float(conn.execute(sa.select(value).where(lines.c.order_id == order_id)).scalar())
    customer = conn.execute(sa.select(o.c.customer_id).where(o.c.order_id == order_id)).scalar()
    exposure = float(conn.execute(
        sa.select(value).select_from(lines.join(o, o.c.order_id == lines.c.order_id)).where(
            o.c.customer_id == customer, o.c.status.not_in(["delivered", "cancelled"]),
            lines.c.status.in_(["open", "shipped"]))).scalar())  # fmt: skip
    limits = settings(ctx.engine)
    large = amount > float(limits["large_order_amount"])
    over = exposure > float(limits["credit_limit"])
    return {
        "amount": round(amount, 2),
        "exposure": round(exposure, 2),
        "needs_approval": large or over,
        "large": large,
        "over_credit": over,
    }


def ctp(ctx: ActionContext, sku: str, quantity: Any, from_date: Any = None,
        order_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    return capable_to_promise(
        ctx.engine,
        sku,
        quantity,
        from_date=from_date or None,
        order_id=order_id or None,
        conn=_conn(ctx),
    )


def response_time(ctx: ActionContext) -> dict[str, Any]:
    """Hours since the instance started: the response time of a rush order."""
    i = InstanceRow.__table__  # type: ignore[attr-defined]
    started = _conn(ctx).execute(sa.select(i.c.created_at).where(
        i.c.id == ctx.instance_id)).scalar()  # fmt: skip
    if started is None:
        return {"hours": None}
    if started.tzinfo is None:
        started = started.replace(tzinfo=dt.UTC)
    return {
        "hours": round((ctx.now - started).total_seconds() / 3600, 3),
        "at": ctx.now.isoformat(),
    }


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "approve", "approved")
    return bool(value)


def _num(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


ACTIONS: dict[str, tuple[Callable[..., Any], str]] = {
    "sop.compute_impact": (compute_impact, "Impact of a demand change (CTP, capacity, plan)"),
    "sop.decide_change": (decide_change, "Approve or reject a pending demand change"),
    "sop.adjust_plan": (adjust_plan, "Move the production plan for a demand change"),
    "sop.open_alert": (open_alert, "Open one alert per SKU and location"),
    "sop.close_alert": (close_alert, "Close the open alert of a SKU and location"),
    "sop.propose_replenishment": (
        propose_replenishment,
        "Purchase request or production adjustment by reorder rule",
    ),
    "sop.record_approval": (record_approval, "Record an approval (no self-approval)"),
    "sop.decide_proposal": (decide_proposal, "Approve/apply or reject a proposal"),
    "sop.set_order_status": (set_order_status, "Move an order to a status"),
    "sop.order_check": (order_check, "Order value and credit exposure"),
    "sop.ctp": (ctp, "Capable-to-promise date for a quantity of a SKU"),
    "sop.response_time": (response_time, "Hours since the instance started"),
}
