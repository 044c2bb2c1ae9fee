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
    "completed_on",
    "customers",
    "days_between",
    "delivered",
    "delivered_between",
    "deliveries",
    "history",
    "instances",
    "inventory",
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


def lines(breakdown: Breakdown | None, *, cost: bool = True) -> sa.Subquery:
    """The order lines KPIs count: not cancelled, positive quantity, with their group.

    Columns: ``order_id, sku, qty, due`` (promised date, else requested date),
    ``requested_date``, ``order_date``, ``cost`` (the product's unit cost) and
    ``grp`` (the breakdown's group; ``''`` for the total). ``cost=False`` leaves
    the cost out, and with it the product lookup of each line (SQLite keeps an
    unused outer join).
    """
    src: Any = order_lines.join(orders, orders.c.order_id == order_lines.c.order_id)
    if cost or (breakdown is not None and breakdown.by_product):
        src = src.outerjoin(products, products.c.sku == order_lines.c.sku)
    grp: ColumnElement = sa.literal(TOTAL, _S)
    if breakdown is not None:
        if breakdown.dimension == "segment":
            src = src.outerjoin(customers, customers.c.customer_id == orders.c.customer_id)
        grp = breakdown.line_group(
            orders=orders, customers=customers, lines=order_lines, products=products
        )
    return (
        sa.select(
            order_lines.c.order_id,
            order_lines.c.sku,
            order_lines.c.quantity.label("qty"),
            sa.func.coalesce(order_lines.c.promised_date, order_lines.c.requested_date).label(
                "due"
            ),
            order_lines.c.requested_date,
            orders.c.order_date,
            *([products.c.unit_cost.label("cost")] if cost else []),
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


def _same_line(d: Any, ln: Any) -> ColumnElement:
    return sa.and_(d.c.order_id == ln.c.order_id, d.c.sku == ln.c.sku)


def delivered(ln: Any, *, before: Any = None, through: Any = None) -> ColumnElement:
    """Quantity delivered on a line of ``ln`` before a day, or up to and including one.

    A correlated sum over the line's deliveries (an index probe per line),
    0 when there are none.
    """
    d = deliveries.alias()  # its own alias: never correlated to an enclosing query
    cond = d.c.delivered_date < before if before is not None else d.c.delivered_date <= through
    return sa.func.coalesce(
        sa.select(sa.func.sum(d.c.quantity))
        .where(_same_line(d, ln), cond)
        .correlate_except(d)
        .scalar_subquery(),
        0.0,
    )


def delivered_between(ln: Any, start: Any, end: Any) -> ColumnElement:
    """True when a line of ``ln`` has a delivery in ``[start, end)``."""
    d = deliveries.alias()
    return (
        sa.exists()
        .where(_same_line(d, ln), d.c.delivered_date >= start, d.c.delivered_date < end)
        .correlate_except(d)
    )


def completed_on(ln: Any, end: Any, upto: Any, last: Any = None) -> ColumnElement:
    """The day a line's deliveries first reached its quantity, for a line complete before ``end``.

    ``upto`` is what was delivered on the line before ``end``. When that is
    not more than ordered, the line was completed by its last delivery before
    ``end`` (``last`` when known, else one index probe); only an over-delivered
    line, whose earlier deliveries may already have covered it, has its day
    searched for.
    """
    d, d2 = deliveries.alias(), deliveries.alias()
    if last is None:
        last = (
            sa.select(sa.func.max(d.c.delivered_date))
            .where(_same_line(d, ln), d.c.delivered_date < end, d.c.quantity > 0)
            .correlate_except(d)
            .scalar_subquery()
        )
    d = deliveries.alias()
    running = (
        sa.select(sa.func.sum(d2.c.quantity))
        .where(
            d2.c.order_id == d.c.order_id,
            d2.c.sku == d.c.sku,
            d2.c.delivered_date <= d.c.delivered_date,
        )
        .correlate_except(d2)
        .scalar_subquery()
    )
    first_full = (
        sa.select(sa.func.min(d.c.delivered_date))
        .where(_same_line(d, ln), d.c.delivered_date < end, running >= ln.c.qty - EPSILON)
        .correlate_except(d)
        .scalar_subquery()
    )
    return sa.case((upto <= ln.c.qty + EPSILON, last), else_=first_full)
