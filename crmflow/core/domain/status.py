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
    """Mark lines delivered in full as ``delivered``, and orders whose lines all are."""
    lines = OrderLine.__table__  # type: ignore[attr-defined]
    orders = Order.__table__  # type: ignore[attr-defined]
    deliveries = Delivery.__table__  # type: ignore[attr-defined]
    delivered = (
        sa.select(sa.func.coalesce(sa.func.sum(deliveries.c.quantity), 0))
        .where(deliveries.c.order_id == lines.c.order_id, deliveries.c.sku == lines.c.sku)
        .scalar_subquery()
    )
    open_lines = (
        sa.select(sa.literal(1))
        .select_from(lines)
        .where(
            lines.c.order_id == orders.c.order_id,
            lines.c.status.not_in(["delivered", "cancelled"]),
        )
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
            orders.update()
            .where(
                orders.c.order_id.in_(batch),
                orders.c.status.not_in(["delivered", "cancelled"]),
                ~open_lines,
            )
            .values(status="delivered", **stamp)
        )
