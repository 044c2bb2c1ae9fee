"""Sales orders: create, change a line (kept as a demand change), decide, deliver."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.sqlrows import inserted_id
from crmflow.errors import InputError, NotFoundError, RefusedError

from ._events import Event
from ._parse import as_date, as_enum, as_number, as_text, iso
from ._writers import line_change_event
from .impact import change_impact, order_exposure
from .records import Approval, Customer, Delivery, DemandChange, Order, OrderLine, Product
from .settings import settings
from .status import refresh_delivery_status
from .tolerance import within_tolerance
from .writer import domain_write

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = [
    "LINE_FIELDS",
    "ORDER_STATUSES",
    "change_order_line",
    "create_order",
    "decide_demand_change",
    "demand_change",
    "deliver_order",
    "parse_new_value",
    "record_delivery",
    "set_order_status",
    "within_tolerance",
]

LINE_FIELDS = ("quantity", "requested_date", "promised_date")
ORDER_STATUSES = (
    "draft", "confirmed", "scheduled", "in_production", "shipped", "delivered", "cancelled",
)  # fmt: skip

_orders = Order.__table__  # type: ignore[attr-defined]
_lines = OrderLine.__table__  # type: ignore[attr-defined]
_changes = DemandChange.__table__  # type: ignore[attr-defined]


def _parse_new(field: str, new: Any, today: dt.date) -> Any:
    if field == "quantity":
        return as_number(positive=True)(field, new)
    value = as_date(field, new)
    if value < today:
        raise InputError(f"{value.isoformat()} is in the past (today is {today})", field=field)
    return value


def parse_new_value(field: str, new: Any, today: dt.date) -> Any:
    """A line's new quantity (positive) or date (not in the past), as a change would store it."""
    return _parse_new(field, new, today)


def create_order(
    engine: Engine,
    *,
    order_id: str,
    customer_id: str,
    lines: list[dict[str, Any]],
    by: str,
    order_date: Any = None,
    priority: str = "normal",
    sales_rep: str | None = None,
    status: str = "confirmed",
) -> dict[str, Any]:
    """Create an order with its lines and emit ``order.created``; bad input changes nothing."""
    now = engine.now()
    today = now.date()
    order_id = as_text("order_id", order_id)
    priority = as_enum("normal", "rush")("priority", priority)
    status = as_enum(*ORDER_STATUSES)("status", status)
    day = as_date("order_date", order_date) if order_date is not None else today
    if not lines:
        raise InputError("an order needs at least one line", field="lines")
    parsed = []
    for i, line in enumerate(lines):
        sku = as_text(f"lines[{i}].sku", line.get("sku"))
        parsed.append({
            "order_id": order_id, "sku": sku,
            "quantity": as_number(positive=True)(f"lines[{i}].quantity", line.get("quantity")),
            "unit_price": as_number(minimum=0)(f"lines[{i}].unit_price",
                                               line.get("unit_price", 0)),
            "requested_date": as_date(f"lines[{i}].requested_date", line.get("requested_date")),
            "promised_date": (as_date(f"lines[{i}].promised_date", line["promised_date"])
                              if line.get("promised_date") else None),
            "status": "open", "updated_at": now, "updated_by": by,
        })  # fmt: skip
    if len({p["sku"] for p in parsed}) != len(parsed):
        raise InputError("a SKU appears twice; merge the lines", field="lines")
    with domain_write(engine, actor=by) as unit:
        conn = unit.conn
        if conn.execute(
            sa.select(_orders.c.order_id).where(_orders.c.order_id == order_id)
        ).first():
            raise InputError(f"order {order_id!r} exists already", field="order_id")
        cust = Customer.__table__.c  # type: ignore[attr-defined]
        if not conn.execute(
            sa.select(cust.customer_id).where(cust.customer_id == customer_id)
        ).first():
            raise InputError(f"unknown customer {customer_id!r}", field="customer_id")
        prod = Product.__table__.c  # type: ignore[attr-defined]
        skus = {p["sku"] for p in parsed}
        known = set(conn.execute(sa.select(prod.sku).where(prod.sku.in_(skus))).scalars())
        for i, p in enumerate(parsed):
            if p["sku"] not in known:
                raise InputError(f"unknown sku {p['sku']!r}", field=f"lines[{i}].sku")
        conn.execute(_orders.insert().values(
            order_id=order_id, customer_id=customer_id, order_date=day, priority=priority,
            sales_rep=sales_rep, status=status, created_at=now, updated_at=now, updated_by=by,
        ))  # fmt: skip
        conn.execute(_lines.insert(), parsed)
        exposure = order_exposure(conn, order_id)
        payload = {
            "order_id": order_id, "customer_id": customer_id, "priority": priority,
            "order_date": day.isoformat(), "sales_rep": sales_rep, "status": status,
            **exposure,
            "lines": [{"sku": p["sku"], "quantity": p["quantity"],
                       "requested_date": p["requested_date"].isoformat()} for p in parsed],
        }  # fmt: skip
        unit.add(Event("order.created", payload, key=f"order.created:{order_id}"))
    return payload


def _line(conn: sa.Connection, order_id: str, sku: str) -> dict[str, Any]:
    row = (
        conn.execute(sa.select(_lines).where(_lines.c.order_id == order_id, _lines.c.sku == sku))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFoundError(f"order {order_id!r} has no line for sku {sku!r}")
    return dict(row)


def change_order_line(
    engine: Engine, order_id: str, sku: str, field: str, new: Any, reason: str, by: str
) -> dict[str, Any]:
    """Record a change of a line's quantity or date and emit ``order.line_changed``.

    The change is a new ``demand_changes`` row, never an edit of an earlier
    one. Within the factory's tolerance it is accepted at once and the line
    takes the new value; beyond it the change waits (``pending``) and the line
    keeps its accepted value until :func:`decide_demand_change` approves it.
    """
    if field not in LINE_FIELDS:
        raise InputError(f"must be one of {', '.join(LINE_FIELDS)} (got {field!r})", field="field")
    now = engine.now()
    value = _parse_new(field, new, now.date())
    reason = as_text("reason", reason)
    by = as_text("by", by)
    limits = settings(engine)
    with domain_write(engine, actor=by) as unit:
        conn = unit.conn
        line = _line(conn, order_id, sku)
        if line["status"] in ("delivered", "cancelled"):
            raise RefusedError(
                f"line {order_id}/{sku} is {line['status']}; it cannot change", reason="closed"
            )
        old = line[field]
        if old == value:
            raise InputError(f"is already {iso(value)}", field=field)
        pending = conn.execute(sa.select(_changes.c.id).where(
            _changes.c.order_id == order_id, _changes.c.sku == sku, _changes.c.field == field,
            _changes.c.approval_state == "pending")).scalar()  # fmt: skip
        if pending is not None:
            raise RefusedError(
                f"line {order_id}/{sku} has pending change #{pending} of {field}; decide it first",
                reason="pending",
            )
        within = within_tolerance(field, old, value, limits)
        state = "auto_accepted" if within else "pending"
        cid = inserted_id(conn.execute(_changes.insert().values(
            order_id=order_id, sku=sku, field=field,
            old_value=None if old is None else str(iso(old)), new_value=str(iso(value)),
            reason=reason, changed_by=by, changed_at=now, approval_state=state,
            decided_by="system" if within else None, decided_at=now if within else None,
            source="user",
        )))  # fmt: skip
        if within:
            _apply(conn, order_id, sku, field, value, by, now)
        impact = change_impact(engine, conn, order_id, sku, field, iso(old), iso(value))
        event = line_change_event(cid, order_id, sku, field, old, value, reason, by, state)
        event.payload.update(
            within_tolerance=within, impact=impact, customer_id=line.get("customer_id")
        )
        unit.add(event)
    return {**event.payload}


def _apply(
    conn: sa.Connection, order_id: str, sku: str, field: str, value: Any, by: str, now: dt.datetime
) -> None:
    conn.execute(
        _lines.update()
        .where(_lines.c.order_id == order_id, _lines.c.sku == sku)
        .values({field: value, "updated_at": now, "updated_by": by})
    )


def demand_change(conn: sa.Connection, change_id: int) -> dict[str, Any]:
    """One demand change as a dict (NotFoundError if there is none)."""
    row = conn.execute(sa.select(_changes).where(_changes.c.id == change_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"no demand change {change_id}")
    return dict(row)


def decide_demand_change(
    conn: sa.Connection, change_id: int, *, approve: bool, by: str, now: dt.datetime,
    comment: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Approve (apply to the line) or reject a pending change, inside ``conn``'s transaction."""
    change = demand_change(conn, int(change_id))
    if change["approval_state"] != "pending":
        raise RefusedError(
            f"demand change {change_id} is {change['approval_state']}, not pending",
            reason="decided",
        )
    if by == change["changed_by"]:
        raise RefusedError(
            f"{by} made demand change {change_id} and cannot approve it", reason="self_approval"
        )
    state = "approved" if approve else "rejected"
    conn.execute(_changes.update().where(_changes.c.id == change["id"]).values(
        approval_state=state, decided_by=by, decided_at=now))  # fmt: skip
    conn.execute(Approval.__table__.insert().values(  # type: ignore[attr-defined]
        subject=f"demand_change:{change['id']}", approver=by, decision=state,
        comment=comment, decided_at=now))  # fmt: skip
    if approve:
        field = change["field"]
        value = (
            float(change["new_value"])
            if field == "quantity"
            else as_date(field, change["new_value"])
        )
        _apply(conn, change["order_id"], change["sku"], field, value, by, now)
    return {**change, "approval_state": state, "decided_by": by}


def set_order_status(
    conn: sa.Connection, order_id: str, status: str, *, by: str, now: dt.datetime
) -> None:
    """Move an order header to ``status`` (the order_lifecycle workflow does).

    What deliveries recorded stays: a delivered or cancelled order keeps its
    status, and a shipped one never goes back to an earlier status.
    """
    status = as_enum(*ORDER_STATUSES)("status", status)
    current = conn.execute(
        sa.select(_orders.c.status).where(_orders.c.order_id == order_id)
    ).scalar()
    if current is None:
        raise NotFoundError(f"no order {order_id!r}")
    if current in ("delivered", "cancelled") or (
        current == "shipped" and status not in ("delivered", "cancelled")
    ):
        return
    conn.execute(_orders.update().where(_orders.c.order_id == order_id).values(
        status=status, updated_at=now, updated_by=by))  # fmt: skip
    if status == "cancelled":
        conn.execute(_lines.update().where(_lines.c.order_id == order_id).values(
            status="cancelled", updated_at=now, updated_by=by))  # fmt: skip
    if status == "shipped":  # the goods left: the open lines with them
        conn.execute(_lines.update().where(_lines.c.order_id == order_id,
                                           _lines.c.status == "open").values(
            status="shipped", updated_at=now, updated_by=by))  # fmt: skip


def deliver_order(
    conn: sa.Connection, order_id: str, *, by: str, now: dt.datetime, day: Any = None
) -> list[dict[str, Any]]:
    """Record the delivery of what is still undelivered of an order; returns the deliveries.

    One delivery per open or shipped line, of its remaining quantity, dated
    ``day`` (default: ``now``'s date), id ``<order>/<sku>/final``. Line and
    order statuses then follow from the deliveries (:func:`refresh_delivery_status`).
    Calling it again records nothing more.
    """
    table = Delivery.__table__  # type: ignore[attr-defined]
    day = as_date("delivered_date", day) if day else now.date()
    if conn.execute(sa.select(_orders.c.order_id).where(
            _orders.c.order_id == order_id)).first() is None:  # fmt: skip
        raise NotFoundError(f"no order {order_id!r}")
    got = (
        sa.select(sa.func.coalesce(sa.func.sum(table.c.quantity), 0.0))
        .where(table.c.order_id == _lines.c.order_id, table.c.sku == _lines.c.sku)
        .scalar_subquery()
    )
    rows = conn.execute(
        sa.select(_lines.c.sku, _lines.c.quantity, got)
        .where(_lines.c.order_id == order_id, _lines.c.status.in_(["open", "shipped"]))
        .order_by(_lines.c.sku)
    ).all()
    stamp = {"updated_at": now, "updated_by": by}
    made = []
    for sku, qty, delivered in rows:
        left = float(qty) - float(delivered or 0.0)
        if left <= 0:
            continue
        row = {"delivery_id": f"{order_id}/{sku}/final", "order_id": order_id, "sku": sku,
               "quantity": left, "delivered_date": day, "shipped_date": None, **stamp}  # fmt: skip
        conn.execute(table.insert().values(row))
        made.append({**row, "delivered_date": day.isoformat()})
    refresh_delivery_status(conn, [order_id], stamp)
    return made


def record_delivery(
    engine: Engine, *, delivery_id: str, order_id: str, sku: str, quantity: Any,
    delivered_date: Any, by: str, shipped_date: Any = None,
) -> dict[str, Any]:  # fmt: skip
    """Record a delivery of an order line, update statuses, emit ``delivery.recorded``."""
    now = engine.now()
    delivery_id = as_text("delivery_id", delivery_id)
    qty = as_number(positive=True)("quantity", quantity)
    day = as_date("delivered_date", delivered_date)
    shipped = as_date("shipped_date", shipped_date) if shipped_date else None
    stamp = {"updated_at": now, "updated_by": by}
    table = Delivery.__table__  # type: ignore[attr-defined]
    with domain_write(engine, actor=by) as unit:
        conn = unit.conn
        _line(conn, order_id, sku)
        if conn.execute(sa.select(table.c.delivery_id).where(
                table.c.delivery_id == delivery_id)).first():  # fmt: skip
            raise InputError(f"delivery {delivery_id!r} exists already", field="delivery_id")
        conn.execute(table.insert().values(
            delivery_id=delivery_id, order_id=order_id, sku=sku, quantity=qty,
            delivered_date=day, shipped_date=shipped, **stamp))  # fmt: skip
        refresh_delivery_status(conn, [order_id], stamp)
        payload = {
            "delivery_id": delivery_id,
            "order_id": order_id,
            "sku": sku,
            "quantity": qty,
            "delivered_date": day.isoformat(),
        }
        unit.add(Event("delivery.recorded", payload, key=f"delivery:{delivery_id}"))
    return payload
