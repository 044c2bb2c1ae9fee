"""Replenishment proposals, purchase requests and production-plan adjustments."""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.sqlrows import inserted_id
from crmflow.errors import InputError, NotFoundError, RefusedError

from ._parse import as_date, as_number, as_text
from .ctp import line_of
from .inventory import product, projected_inventory
from .records import PlanAdjustment, Product, ProductionPlan, PurchaseRequest

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = [
    "apply_adjustment",
    "create_proposal",
    "replenishment_sizing",
    "decide_proposal",
    "propose_adjustment",
    "propose_replenishment",
    "proposal",
    "replenishment_quantity",
]

_requests = PurchaseRequest.__table__  # type: ignore[attr-defined]
_adjustments = PlanAdjustment.__table__  # type: ignore[attr-defined]
_plans = ProductionPlan.__table__  # type: ignore[attr-defined]
_products = Product.__table__  # type: ignore[attr-defined]


def replenishment_quantity(
    reorder_qty: float, target: float, projected: float, lot_size: float
) -> float:
    """ERP reorder rule: ``max(reorder qty, target − projected)`` rounded up to the lot size."""
    need = max(float(reorder_qty or 0.0), float(target) - float(projected))
    if need <= 0:
        return 0.0
    lot = float(lot_size or 1.0)
    return math.ceil(need / lot - 1e-9) * lot


def replenishment_sizing(
    engine: Engine,
    conn: sa.Connection,
    sku: str,
    location: str | None,
    *,
    today: dt.date,
    forecast: list[float] | None = None,
) -> dict[str, Any]:
    """Size a replenishment by the reorder rule, without writing anything.

    Target = safety stock + daily demand × lead time (at least the reorder
    point); projected = the lowest projected stock within the lead time.
    """
    prod = product(conn, sku)
    lead = int(prod["lead_time_days"] or 0)
    proj = projected_inventory(engine, sku, location=location, days=max(lead + 7, 14),
                               start=today, conn=conn, forecast=forecast)  # fmt: skip
    daily = sum(r["orders"] + r["forecast"] for r in proj["daily"]) / len(proj["daily"])
    # The product's reorder point, like its safety stock, belongs to the shipping location.
    ships = location is None or location == proj["shipping_location"]
    reorder_point = float(prod["reorder_point"] or 0.0) if ships else 0.0
    target = max(proj["safety_stock"] + daily * lead, reorder_point)
    projected = min(r["projected"] for r in proj["daily"][: max(lead, 1)])
    qty = replenishment_quantity(prod["reorder_qty"], target, projected, prod["lot_size"])
    if qty <= 0:
        qty = float(prod["lot_size"] or 1.0)
    need = proj["shortage_date"] or (today + dt.timedelta(days=lead)).isoformat()
    return {
        "kind": "purchase_request" if prod["kind"] == "bought" else "plan_adjustment",
        "quantity": qty, "amount": round(qty * float(prod["unit_cost"]), 2), "need_date": need,
        "target": round(target, 3), "projected": round(projected, 3),
        "reason": f"projected {projected:g} below target {target:g} within {lead} days",
    }  # fmt: skip


def propose_replenishment(
    engine: Engine, conn: sa.Connection, sku: str, location: str | None, *, by: str,
    now: dt.datetime, alert_id: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Size (:func:`replenishment_sizing`) and write a purchase request or plan adjustment."""
    size = replenishment_sizing(engine, conn, sku, location, today=now.date())
    return create_proposal(
        conn,
        sku=sku,
        kind=size["kind"],
        quantity=size["quantity"],
        amount=size["amount"],
        location=location,
        need_date=size["need_date"],
        alert_id=alert_id,
        reason=size["reason"],
        by=by,
        now=now,
    )


def create_proposal(
    conn: sa.Connection, *, sku: str, kind: str, quantity: Any, by: str, now: dt.datetime,
    amount: Any = 0, location: str | None = None, need_date: Any = None,
    alert_id: int | None = None, reason: str = "projected shortage",
) -> dict[str, Any]:  # fmt: skip
    """Write a purchase request (``kind`` purchase_request/bought) or a plan adjustment.

    A proposal still open for the same alert is returned instead: a repeated
    alert never creates a second purchase request.
    """
    source = f"alert:{alert_id}" if alert_id is not None else None
    if source is not None and (again := _open_proposal(conn, source)) is not None:
        return again
    qty = as_number(positive=True)("quantity", quantity)
    value = as_number(minimum=0)("amount", amount)
    need = as_date("need_date", need_date) if need_date else None
    sku = as_text("sku", sku)
    if kind in ("purchase_request", "bought"):
        values = {
            "sku": sku,
            "location": location,
            "quantity": qty,
            "need_date": need,
            "amount": value,
            "reason": str(reason)[:200],
            "alert_id": alert_id,
            "status": "proposed",
            "requested_by": by,
            "created_at": now,
        }
        rid = inserted_id(conn.execute(_requests.insert().values(values)))
        return _shape("purchase_request", {**values, "id": rid})
    if kind not in ("plan_adjustment", "made"):
        raise InputError("must be purchase_request or plan_adjustment", field="kind")
    prod = conn.execute(sa.select(_products).where(_products.c.sku == sku)).mappings().first()
    values = {
        "plan_id": None, "sku": sku, "line": line_of(conn, dict(prod)) if prod else None,
        "quantity_delta": qty, "new_due_date": need, "amount": value,
        "reason": str(reason)[:200], "source": source, "status": "proposed",
        "requested_by": by, "created_at": now,
    }  # fmt: skip
    aid = inserted_id(conn.execute(_adjustments.insert().values(values)))
    return _shape("plan_adjustment", {**values, "id": aid})


def propose_adjustment(
    conn: sa.Connection, *, sku: str, quantity_delta: Any, reason: str, by: str,
    now: dt.datetime, new_due_date: Any = None, plan_id: str | None = None,
    source: str | None = None, prod: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Propose a change of the production plan: more or less of a SKU, or a new due date."""
    prod = prod or product(conn, as_text("sku", sku))
    delta = as_number()("quantity_delta", quantity_delta)
    due = as_date("new_due_date", new_due_date) if new_due_date else None
    if delta == 0 and due is None:
        raise InputError(
            "an adjustment changes the quantity or the due date", field="quantity_delta"
        )
    if prod["kind"] != "made":
        raise InputError(f"{sku} is bought, not made; propose a purchase request", field="sku")
    values = {
        "plan_id": plan_id, "sku": prod["sku"], "line": line_of(conn, prod),
        "quantity_delta": delta, "new_due_date": due,
        "amount": round(abs(delta) * float(prod["unit_cost"]), 2),
        "reason": as_text("reason", reason)[:200], "source": source, "status": "proposed",
        "requested_by": by, "created_at": now,
    }  # fmt: skip
    aid = inserted_id(conn.execute(_adjustments.insert().values(values)))
    return _shape("plan_adjustment", {**values, "id": aid})


def _shape(kind: str, row: dict[str, Any]) -> dict[str, Any]:
    out = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in row.items()}
    qty = row.get("quantity", row.get("quantity_delta"))
    return {**out, "kind": kind, "subject": f"{kind}:{row['id']}", "quantity": qty}


def _open_proposal(conn: sa.Connection, source: str) -> dict[str, Any] | None:
    alert_id = int(source.split(":", 1)[1])
    row = conn.execute(sa.select(_requests).where(
        _requests.c.alert_id == alert_id, _requests.c.status.in_(["proposed", "approved"]))
    ).mappings().first()  # fmt: skip
    if row is not None:
        return _shape("purchase_request", dict(row))
    row = conn.execute(sa.select(_adjustments).where(
        _adjustments.c.source == source, _adjustments.c.status.in_(["proposed", "approved"]))
    ).mappings().first()  # fmt: skip
    return _shape("plan_adjustment", dict(row)) if row is not None else None


def proposal(conn: sa.Connection, subject: str) -> dict[str, Any]:
    """A purchase request or plan adjustment by subject (``purchase_request:7``)."""
    kind, _, raw_id = str(subject).partition(":")
    table = {"purchase_request": _requests, "plan_adjustment": _adjustments}.get(kind)
    if table is None or not raw_id.isdigit():
        raise InputError(
            f"{subject!r} is not purchase_request:ID or plan_adjustment:ID", field="subject"
        )
    row = conn.execute(sa.select(table).where(table.c.id == int(raw_id))).mappings().first()
    if row is None:
        raise NotFoundError(f"no {kind} {raw_id}")
    return _shape(kind, dict(row))


def decide_proposal(
    conn: sa.Connection, subject: str, *, approve: bool, by: str, now: dt.datetime
) -> dict[str, Any]:
    """Mark a proposal approved (a plan adjustment is applied at once) or rejected."""
    item = proposal(conn, subject)
    if item["status"] != "proposed":
        raise RefusedError(f"{subject} is {item['status']}, not proposed", reason="decided")
    table = _requests if item["kind"] == "purchase_request" else _adjustments
    status = "approved" if approve else "rejected"
    conn.execute(table.update().where(table.c.id == item["id"]).values(
        status=status, decided_by=by, decided_at=now))  # fmt: skip
    if approve and item["kind"] == "plan_adjustment":
        return apply_adjustment(conn, item["id"], by=by, now=now)
    return {**item, "status": status, "decided_by": by}


def apply_adjustment(
    conn: sa.Connection, adjustment_id: int, *, by: str, now: dt.datetime
) -> dict[str, Any]:
    """Change the production plan as an approved adjustment says; returns the adjustment."""
    adj = proposal(conn, f"plan_adjustment:{adjustment_id}")
    if adj["status"] not in ("approved", "proposed"):
        raise RefusedError(f"plan_adjustment:{adjustment_id} is {adj['status']}", reason="decided")
    stamp = {"updated_at": now, "updated_by": by}
    due = as_date("new_due_date", adj["new_due_date"]) if adj["new_due_date"] else None
    plan_id = adj["plan_id"]
    if plan_id is None and adj["quantity_delta"] < 0:
        plan_id = conn.execute(
            sa.select(_plans.c.plan_id)
            .where(
                _plans.c.sku == adj["sku"],
                _plans.c.status == "planned",
                _plans.c.due_date >= now.date(),
            )
            .order_by(_plans.c.due_date.desc())
        ).scalar()
    if plan_id is not None:
        plan = conn.execute(sa.select(_plans).where(_plans.c.plan_id == plan_id)).mappings().first()
        if plan is None:
            raise NotFoundError(f"no production plan {plan_id!r}")
        values: dict[str, Any] = {
            "quantity": max(plan["quantity"] + adj["quantity_delta"], 0.0),
            **stamp,
        }
        if due is not None:
            values["due_date"] = due
            values["start_date"] = min(plan["start_date"], due)
        if values["quantity"] == 0:
            values["status"] = "cancelled"
        conn.execute(_plans.update().where(_plans.c.plan_id == plan_id).values(values))
    elif adj["quantity_delta"] > 0:
        plan_id = f"ADJ-{adjustment_id}"
        due = due or now.date() + dt.timedelta(days=7)
        conn.execute(_plans.insert().values(
            plan_id=plan_id, sku=adj["sku"], line=adj["line"] or "", quantity=adj["quantity_delta"],
            start_date=max(now.date(), due - dt.timedelta(days=3)), due_date=due,
            status="planned", **stamp))  # fmt: skip
    conn.execute(_adjustments.update().where(_adjustments.c.id == adj["id"]).values(
        status="applied", applied_at=now, plan_id=plan_id))  # fmt: skip
    return {**adj, "status": "applied", "plan_id": plan_id}
