"""Impact of a demand change (tolerance, CTP, capacity load) and an order's credit exposure."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from .ctp import capable_to_promise, capacity_load, line_of
from .inventory import product
from .records import Order, OrderLine
from .settings import settings
from .tolerance import within_tolerance

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = ["change_impact", "order_exposure"]

_lines = OrderLine.__table__  # type: ignore[attr-defined]
_orders = Order.__table__  # type: ignore[attr-defined]


def change_impact(
    engine: Engine, conn: sa.Connection, order_id: str, sku: str, field: str, old: Any,
    new: Any,
) -> dict[str, Any]:  # fmt: skip
    """What a change of a line does: within tolerance? CTP date, late, plan move, line load.

    ``moves_plan`` is true for a made part when the new quantity or date can
    only be met from free capacity (or not in time at all).
    """
    limits = settings(engine)
    within = within_tolerance(field, old, new, limits)
    prod = product(conn, sku)
    line = conn.execute(sa.select(_lines).where(
        _lines.c.order_id == order_id, _lines.c.sku == sku)).mappings().first()  # fmt: skip
    qty = float(new) if field == "quantity" else float(line["quantity"] if line else 0.0)
    today = engine.now().date()
    ctp = capable_to_promise(engine, sku, qty, from_date=today, order_id=order_id,
                             conn=conn) if qty > 0 else None  # fmt: skip
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
        if available:
            load_pct = round(sum(d["load"] for d in load.values()) / available, 4)
    return {
        "within_tolerance": within, "ctp": ctp, "late": late, "moves_plan": moves_plan,
        "line": prod_line, "capacity_load_14d": load_pct, "kind": prod["kind"],
        "due_date": due.isoformat() if due else None,
    }  # fmt: skip


def order_exposure(conn: sa.Connection, order_id: str) -> dict[str, float]:
    """The order's value and its customer's open order value (credit exposure)."""
    value = sa.func.coalesce(sa.func.sum(_lines.c.quantity * _lines.c.unit_price), 0.0)
    amount = float(conn.execute(sa.select(value).where(_lines.c.order_id == order_id)).scalar_one())
    customer = conn.execute(
        sa.select(_orders.c.customer_id).where(_orders.c.order_id == order_id)
    ).scalar()
    exposure = float(conn.execute(
        sa.select(value).select_from(_lines.join(_orders, _orders.c.order_id == _lines.c.order_id))
        .where(_orders.c.customer_id == customer,
               _orders.c.status.not_in(["delivered", "cancelled"]),
               _lines.c.status.in_(["open", "shipped"]))).scalar_one())  # fmt: skip
    return {"amount": round(amount, 2), "exposure": round(exposure, 2)}
