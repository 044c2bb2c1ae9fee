"""Order and line status derived from deliveries (set-based, for imports and services)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from ._parse import chunked
from .records import Delivery, Order, OrderLine

__all__ = ["refresh_delivery_status"]


def refresh_delivery_status(
    conn: sa.Connection, order_ids: Iterable[str], stamp: dict[str, Any]
) -> None:
    """Derive line and order status from the deliveries recorded so far.

    A line delivered in full is ``delivered``; one delivered in part is
    ``shipped``. An order whose lines are all delivered (or cancelled, with at
    least one delivered) is ``delivered``; one whose every open line has
    shipped is ``shipped``; one whose lines are all cancelled is ``cancelled``.
    Statuses only move forward: nothing delivered goes back to open.
    """
    lines = OrderLine.__table__  # type: ignore[attr-defined]
    orders = Order.__table__  # type: ignore[attr-defined]
    deliveries = Delivery.__table__  # type: ignore[attr-defined]
    delivered = (
        sa.select(sa.func.coalesce(sa.func.sum(deliveries.c.quantity), 0))
        .where(deliveries.c.order_id == lines.c.order_id, deliveries.c.sku == lines.c.sku)
        .scalar_subquery()
    )

    def having(*statuses: str) -> sa.Exists:
        return (
            sa.select(sa.literal(1))
            .select_from(lines)
            .where(lines.c.order_id == orders.c.order_id, lines.c.status.in_(statuses))
            .exists()
        )

    for batch in chunked(sorted(set(order_ids))):
        conn.execute(
            lines.update()
            .where(
                lines.c.order_id.in_(batch),
                lines.c.status.not_in(["delivered", "cancelled"]),
                delivered >= lines.c.quantity,
            )
            .values(status="delivered", **stamp)
        )
        conn.execute(
            lines.update()
            .where(
                lines.c.order_id.in_(batch),
                lines.c.status == "open",
                delivered > 0,
            )
            .values(status="shipped", **stamp)
        )
        mine = sa.and_(orders.c.order_id.in_(batch),
                       orders.c.status.not_in(["delivered", "cancelled"]))  # fmt: skip
        conn.execute(
            orders.update()
            .where(mine, ~having("open", "shipped"), having("delivered"))
            .values(status="delivered", **stamp)
        )
        conn.execute(
            orders.update()
            .where(mine, orders.c.status != "shipped", ~having("open"), having("shipped"))
            .values(status="shipped", **stamp)
        )
        conn.execute(
            orders.update()
            .where(mine, ~having("open", "shipped", "delivered"), having("cancelled"))
            .values(status="cancelled", **stamp)
        )
