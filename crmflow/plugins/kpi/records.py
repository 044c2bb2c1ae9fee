"""The records KPIs read, as SQL building blocks shared by the calculators.

The tables are named by their schema (docs/domain.md, the engine's tables),
not imported from the core's modules, so the calculators depend on the
documented columns only, as a third-party plugin would.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FunctionElement

from .breakdown import TOTAL, Breakdown

__all__ = [
    "EPSILON",
    "customers",
    "days_between",
    "deliveries",
    "history",
    "instances",
    "inventory",
    "line_completions",
    "lines",
    "order_lines",
    "orders",
    "products",
]

#: Tolerance when comparing delivered with ordered quantities (float sums).
EPSILON = 1e-9

_S = sa.String
customers = sa.table("customers", sa.column("customer_id", _S), sa.column("segment", _S))
products = sa.table(
    "products", sa.column("sku", _S), sa.column("family", _S), sa.column("unit_cost", sa.Float)
)
orders = sa.table(
    "orders",
    sa.column("order_id", _S),
    sa.column("customer_id", _S),
    sa.column("order_date", sa.Date),
    sa.column("priority", _S),
    sa.column("sales_rep", _S),
    sa.column("status", _S),
)
order_lines = sa.table(
    "order_lines",
    sa.column("order_id", _S),
    sa.column("sku", _S),
    sa.column("quantity", sa.Float),
    sa.column("requested_date", sa.Date),
    sa.column("promised_date", sa.Date),
    sa.column("status", _S),
)
deliveries = sa.table(
    "deliveries",
    sa.column("delivery_id", _S),
    sa.column("order_id", _S),
    sa.column("sku", _S),
    sa.column("delivered_date", sa.Date),
    sa.column("quantity", sa.Float),
)
inventory = sa.table(
    "inventory_snapshots",
    sa.column("date", sa.Date),
    sa.column("sku", _S),
    sa.column("location", _S),
    sa.column("on_hand", sa.Float),
)
instances = sa.table(
    "instances",
    sa.column("id", sa.Integer),
    sa.column("workflow", _S),
    sa.column("state", _S),
    sa.column("data", sa.Text),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
history = sa.table(
    "history",
    sa.column("id", sa.Integer),
    sa.column("instance_id", sa.Integer),
    sa.column("trigger", _S),
    sa.column("from_state", _S),
    sa.column("to_state", _S),
    sa.column("actor", _S),
    sa.column("at", sa.DateTime(timezone=True)),
)


class days_between(FunctionElement[Any]):  # noqa: N801 - reads as a SQL function
    """Whole days from date ``a`` to date ``b``, the same integer on every dialect."""

    type = sa.Integer()
    inherit_cache = True


@compiles(days_between, "sqlite")
def _days_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    a, b = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"CAST(ROUND(julianday({b}) - julianday({a})) AS INTEGER)"


@compiles(days_between)
def _days_default(element: days_between, compiler: Any, **kw: Any) -> str:
    # PostgreSQL: date - date is an integer number of days.
    a, b = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(CAST({b} AS DATE) - CAST({a} AS DATE))"


def lines(breakdown: Breakdown | None) -> sa.Subquery:
    """The order lines KPIs count: not cancelled, positive quantity, with their group.

    Columns: ``order_id, sku, qty, due`` (promised date, else requested date),
    ``order_date`` and ``grp`` (the breakdown's group; ``''`` for the total).
    """
    src: Any = order_lines.join(orders, orders.c.order_id == order_lines.c.order_id)
    grp: ColumnElement = sa.literal(TOTAL, _S)
    if breakdown is not None:
        if breakdown.dimension == "segment":
            src = src.outerjoin(customers, customers.c.customer_id == orders.c.customer_id)
        if breakdown.dimension == "family":
            src = src.outerjoin(products, products.c.sku == order_lines.c.sku)
        grp = breakdown.line_group(
            orders=orders, customers=customers, lines=order_lines, products=products
        )
    return (
        sa.select(
            order_lines.c.order_id,
            order_lines.c.sku,
            order_lines.c.quantity.label("qty"),
            sa.func.coalesce(order_lines.c.promised_date, order_lines.c.requested_date)
            .label("due"),
            orders.c.order_date,
            grp.label("grp"),
        )
        .select_from(src)
        .where(
            sa.func.coalesce(orders.c.status, "") != "cancelled",
            sa.func.coalesce(order_lines.c.status, "") != "cancelled",
            order_lines.c.quantity > 0,
        )
        .subquery("lines")
    )


def cumulative(keys: sa.Select[Any], end: Any) -> sa.Subquery:
    """Deliveries per line and day before ``end`` with the running total per line.

    ``keys`` selects the ``(order_id, sku)`` pairs to include. Columns:
    ``order_id, sku, day, qty, cum`` (delivered up to and including ``day``).
    """
    k = keys.subquery("keys")
    daily = (
        sa.select(
            deliveries.c.order_id,
            deliveries.c.sku,
            deliveries.c.delivered_date.label("day"),
            sa.func.sum(deliveries.c.quantity).label("qty"),
        )
        .join(k, sa.and_(k.c.order_id == deliveries.c.order_id, k.c.sku == deliveries.c.sku))
        .where(deliveries.c.delivered_date < end)
        .group_by(deliveries.c.order_id, deliveries.c.sku, deliveries.c.delivered_date)
        .subquery("daily")
    )
    running = sa.func.sum(daily.c.qty).over(
        partition_by=(daily.c.order_id, daily.c.sku), order_by=daily.c.day
    )
    return sa.select(daily, running.label("cum")).subquery("cum")


def line_completions(ln: sa.Subquery, keys: sa.Select[Any], end: Any) -> sa.Subquery:
    """When each line of ``ln`` (restricted to ``keys``) was first delivered in full before ``end``.

    Columns: ``grp, order_id, sku, qty, due, order_date, done`` (only lines
    completed before ``end`` appear).
    """
    cum = cumulative(keys, end)
    return (
        sa.select(
            ln.c.grp,
            ln.c.order_id,
            ln.c.sku,
            ln.c.qty,
            ln.c.due,
            ln.c.order_date,
            sa.func.min(cum.c.day).label("done"),
        )
        .join(cum, sa.and_(cum.c.order_id == ln.c.order_id, cum.c.sku == ln.c.sku))
        .where(cum.c.cum >= ln.c.qty - EPSILON)
        .group_by(ln.c.grp, ln.c.order_id, ln.c.sku, ln.c.qty, ln.c.due, ln.c.order_date)
        .subquery("completions")
    )
