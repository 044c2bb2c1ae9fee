"""Workflow actions of the S&OP plugin; all run inside the fired trigger's transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from crmflow import ActionContext
from crmflow.core.domain import alerts, approvals, orders, planning
from crmflow.core.domain.ctp import capable_to_promise
from crmflow.core.domain.impact import change_impact, order_exposure
from crmflow.core.domain.inventory import product
from crmflow.core.domain.settings import settings

__all__ = ["ACTIONS"]


def _conn(ctx: ActionContext) -> sa.Connection:
    if ctx.connection is None:  # registered without outbox, so the engine always passes one
        raise RuntimeError("this sop action runs inside the transaction")
    return ctx.connection


@contextmanager
def _tx(ctx: ActionContext) -> Iterator[sa.Connection]:
    """The firing transaction, or (from the outbox) a transaction of the action's own."""
    if ctx.connection is not None:
        yield ctx.connection
        return
    with ctx.engine.db.begin() as conn:
        yield conn


def _actor(ctx: ActionContext) -> str:
    return ctx.actor or "system"


def compute_impact(ctx: ActionContext, order_id: str, sku: str, field: str, old: Any = None,
                   new: Any = None, **_: Any) -> dict[str, Any]:  # fmt: skip
    """Impact of a demand change: tolerance, capable-to-promise, capacity load, plan move."""
    return change_impact(ctx.engine, _conn(ctx), order_id, sku, field, old, new)


def decide_change(ctx: ActionContext, change_id: int, approve: bool = True,
                  comment: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Approve (apply to the order line) or reject a pending demand change (idempotent)."""
    with _tx(ctx) as conn:
        current = orders.demand_change(conn, int(change_id))
        if current["approval_state"] != "pending":  # an outbox retry: decided already
            return {"change_id": current["id"], "approval_state": current["approval_state"]}
        decided = orders.decide_demand_change(
            conn,
            int(change_id),
            approve=_bool(approve),
            by=_decider(ctx, conn, int(change_id)),
            now=ctx.now,
            comment=comment,
        )
    return {"change_id": decided["id"], "approval_state": decided["approval_state"]}


def _decider(ctx: ActionContext, conn: sa.Connection, change_id: int) -> str:
    return _last_voter(ctx) or _last_approver(ctx, conn, f"demand_change:{change_id}:%")


def _last_approver(ctx: ActionContext, conn: sa.Connection, subject: str) -> str:
    """Who decided: the actor, or (from the outbox, which acts as system) the last approver."""
    if ctx.actor and ctx.actor != "system":
        return ctx.actor
    a = approvals.Approval.__table__  # type: ignore[attr-defined]
    last = conn.execute(sa.select(a.c.approver).where(a.c.subject.like(subject))
                        .order_by(a.c.id.desc())).scalar()  # fmt: skip
    return str(last or "system")


def _last_voter(ctx: ActionContext) -> str | None:
    """Who cast the deciding vote of the instance's approval state (None: no votes)."""
    if ctx.actor and ctx.actor != "system":
        return ctx.actor
    if ctx.instance_id is None:
        return None
    votes = ctx.engine.get(ctx.instance_id).approvals
    return str(votes[-1]["by"]) if votes else None


def adjust_plan(ctx: ActionContext, change_id: int) -> dict[str, Any]:
    """Move the production plan for an approved demand change (made parts only)."""
    with _tx(ctx) as conn:
        return _adjust_plan(ctx, conn, int(change_id))


def _adjust_plan(ctx: ActionContext, conn: sa.Connection, change_id: int) -> dict[str, Any]:
    change = orders.demand_change(conn, change_id)
    prod = product(conn, change["sku"])
    if prod["kind"] != "made":
        return {"adjusted": False, "reason": f"{change['sku']} is bought"}
    if change["field"] == "quantity":
        delta = float(change["new_value"]) - float(change["old_value"] or 0.0)
        due = None
    else:
        delta, due = 0.0, change["new_value"]
    source = f"demand_change:{change['id']}"
    adjustments = planning.PlanAdjustment.__table__  # type: ignore[attr-defined]
    done = conn.execute(sa.select(adjustments.c.id, adjustments.c.plan_id).where(
        adjustments.c.source == source)).first()  # fmt: skip
    if done is not None:  # an outbox retry: the plan moved already
        return {"adjusted": True, "adjustment_id": done[0], "plan_id": done[1]}
    adj = planning.propose_adjustment(
        conn, sku=change["sku"], quantity_delta=delta, new_due_date=due,
        reason=f"demand change #{change['id']} of order {change['order_id']}",
        source=source, by=_actor(ctx), now=ctx.now, prod=prod,
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


def create_proposal(ctx: ActionContext, sku: str, kind: str, quantity: Any, amount: Any = 0,
                    location: str | None = None, need_date: Any = None, alert_id: Any = None,
                    reason: str = "projected shortage") -> dict[str, Any]:  # fmt: skip
    """Write the purchase request or plan adjustment sized by the event (one per alert)."""
    return planning.create_proposal(
        _conn(ctx),
        sku=sku,
        kind=kind,
        quantity=quantity,
        amount=amount,
        location=location,
        need_date=need_date,
        alert_id=int(alert_id) if alert_id not in (None, "") else None,
        reason=reason,
        by=_actor(ctx),
        now=ctx.now,
    )


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
    """One approver's decision (the actor); self-approval and outsiders are refused.

    Kept for instances still running on workflow versions written before
    approval states (`approval:` in a state does this in the engine now).
    """
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
    """Approve (plan adjustments are applied) or reject a proposal; idempotent (outbox).

    A plan move of a demand change (``demand_change:ID:plan:PLAN``, the children
    that demand_change calls) is only decided here: the demand change moves the
    plan itself once every child has approved (sop.adjust_plan).
    """
    if str(subject).startswith("demand_change:"):
        return {"subject": str(subject), "status": "approved" if _bool(approve) else "rejected"}
    with _tx(ctx) as conn:
        current = planning.proposal(conn, str(subject))
        if current["status"] != "proposed":  # an outbox retry: decided already
            return {"subject": current["subject"], "status": current["status"]}
        done = planning.decide_proposal(
            conn,
            str(subject),
            approve=_bool(approve),
            by=_last_voter(ctx) or _last_approver(ctx, conn, f"{subject}"),
            now=ctx.now,
        )
    return {"subject": done["subject"], "status": done["status"]}


def set_order_status(ctx: ActionContext, order_id: str, status: str) -> dict[str, Any]:
    with _tx(ctx) as conn:
        orders.set_order_status(conn, str(order_id), status, by=_actor(ctx), now=ctx.now)
    return {"order_id": order_id, "status": status}


def deliver_order(ctx: ActionContext, order_id: str) -> dict[str, Any]:
    """Record what is still undelivered of the order as delivered today (once)."""
    with _tx(ctx) as conn:
        made = orders.deliver_order(conn, str(order_id), by=_actor(ctx), now=ctx.now)
    return {"order_id": order_id, "deliveries": [d["delivery_id"] for d in made]}


def order_check(ctx: ActionContext, order_id: str) -> dict[str, Any]:
    """Order value and the customer's open exposure against the factory's limits."""
    found = order_exposure(_conn(ctx), str(order_id))
    limits = settings(ctx.engine)
    large = found["amount"] > float(limits["large_order_amount"])
    over = found["exposure"] > float(limits["credit_limit"])
    return {**found, "needs_approval": large or over, "large": large, "over_credit": over}


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
    started = ctx.started_at
    if started is None:
        return {"hours": None}
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


#: name -> (function, description, runs from the outbox after the commit)
ACTIONS: dict[str, tuple[Callable[..., Any], str, bool]] = {
    "sop.compute_impact": (compute_impact, "Impact of a demand change (CTP, capacity)", False),
    "sop.decide_change": (decide_change, "Apply or reject a pending demand change", True),
    "sop.adjust_plan": (adjust_plan, "Move the production plan for a demand change", True),
    "sop.open_alert": (open_alert, "Open one alert per SKU and location", False),
    "sop.close_alert": (close_alert, "Close the open alert of a SKU and location", False),
    "sop.create_proposal": (create_proposal, "Write a sized purchase request/adjustment", False),
    "sop.propose_replenishment": (propose_replenishment, "Size and write a proposal", False),
    "sop.record_approval": (record_approval, "Record an approval (no self-approval)", False),
    "sop.decide_proposal": (decide_proposal, "Approve/apply or reject a proposal", True),
    "sop.set_order_status": (set_order_status, "Move an order to a status", True),
    "sop.deliver_order": (deliver_order, "Record an order's undelivered rest as delivered",
                          True),
    "sop.order_check": (order_check, "Order value and credit exposure", False),
    "sop.ctp": (ctp, "Capable-to-promise date for a quantity of a SKU", False),
    "sop.response_time": (response_time, "Hours since the instance started", False),
}
