"""Fill rates and on-time delivery: set-based SQL over order lines and deliveries."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from .protocol import KpiContext, KpiValue, ratio
from .records import EPSILON, deliveries, line_completions, lines

__all__ = ["line_fill_rate", "on_time_delivery", "order_fill_rate", "unit_fill_rate"]


def _delivered_by(ln: Any, day: Any) -> Any:
    """Quantity delivered on the line of ``ln`` on or before ``day`` (0 when none)."""
    return sa.func.coalesce(
        sa.select(sa.func.sum(deliveries.c.quantity))
        .where(
            deliveries.c.order_id == ln.c.order_id,
            deliveries.c.sku == ln.c.sku,
            deliveries.c.delivered_date <= day,
        )
        .scalar_subquery(),
        0.0,
    )


def _due_lines(ctx: KpiContext) -> dict[str, tuple[int, int, float, float]]:
    """Per group: due lines, lines in full by their due date, units in time, units ordered."""
    ln = lines(ctx.breakdown)
    per_line = (
        sa.select(ln.c.grp, ln.c.qty, _delivered_by(ln, ln.c.due).label("dlv"))
        .where(ln.c.due >= ctx.start, ln.c.due < ctx.end)
        .subquery("due_lines")
    )
    full = sa.case((per_line.c.dlv >= per_line.c.qty - EPSILON, 1), else_=0)
    capped = sa.case((per_line.c.dlv < per_line.c.qty, per_line.c.dlv), else_=per_line.c.qty)
    query = sa.select(
        per_line.c.grp,
        sa.func.count(),
        sa.func.sum(full),
        sa.func.sum(capped),
        sa.func.sum(per_line.c.qty),
    ).group_by(per_line.c.grp)
    return {
        grp: (int(n), int(n_full or 0), float(units or 0), float(ordered or 0))
        for grp, n, n_full, units, ordered in ctx.conn.execute(query)
    }


def line_fill_rate(ctx: KpiContext) -> dict[str | None, KpiValue]:
    """Due order lines delivered in full by their due date ÷ due order lines."""
    return {
        ctx.group_of(grp): ratio(n_full, n)
        for grp, (n, n_full, _units, _ordered) in _due_lines(ctx).items()
    }


def unit_fill_rate(ctx: KpiContext) -> dict[str | None, KpiValue]:
    """Σ min(ordered, delivered by the due date) ÷ Σ ordered, over due lines."""
    return {
        ctx.group_of(grp): ratio(units, ordered)
        for grp, (_n, _n_full, units, ordered) in _due_lines(ctx).items()
    }


def order_fill_rate(ctx: KpiContext) -> dict[str | None, KpiValue]:
    """Orders due in the period whose every line was in full by the order's due date ÷ orders due.

    An order's due date is the latest due date of its lines; with a
    breakdown by family or SKU, the part of an order in each group counts as
    an order of that group.
    """
    ln = lines(ctx.breakdown)
    order_due = sa.func.max(ln.c.due)
    due_orders = (
        sa.select(ln.c.grp, ln.c.order_id, order_due.label("odue"))
        .where(ln.c.due.is_not(None))
        .group_by(ln.c.grp, ln.c.order_id)
        .having(sa.and_(order_due >= ctx.start, order_due < ctx.end))
        .subquery("due_orders")
    )
    per_line = (
        sa.select(
            due_orders.c.grp,
            due_orders.c.order_id,
            sa.case(
                (_delivered_by(ln, due_orders.c.odue) >= ln.c.qty - EPSILON, 1), else_=0
            ).label("full"),
        )
        .select_from(
            ln.join(
                due_orders,
                sa.and_(ln.c.order_id == due_orders.c.order_id, ln.c.grp == due_orders.c.grp),
            )
        )
        .where(ln.c.due.is_not(None))
        .subquery("order_line_fill")
    )
    per_order = (
        sa.select(per_line.c.grp, sa.func.min(per_line.c.full).label("filled"))
        .group_by(per_line.c.grp, per_line.c.order_id)
        .subquery("order_fill")
    )
    query = sa.select(
        per_order.c.grp, sa.func.count(), sa.func.sum(per_order.c.filled)
    ).group_by(per_order.c.grp)
    return {ctx.group_of(grp): ratio(filled, n) for grp, n, filled in ctx.conn.execute(query)}


def on_time_delivery(ctx: KpiContext) -> dict[str | None, KpiValue]:
    """Lines completed in the period on or before their due date ÷ lines completed in the period.

    A line is completed on the day its deliveries first reach the ordered
    quantity. Lines without a due date are neither on time nor late and are
    left out.
    """
    ln = lines(ctx.breakdown)
    touched = (
        sa.select(deliveries.c.order_id, deliveries.c.sku)
        .where(deliveries.c.delivered_date >= ctx.start, deliveries.c.delivered_date < ctx.end)
        .distinct()
    )
    done = line_completions(ln, touched, ctx.end)
    on_time = sa.case((done.c.done <= done.c.due, 1), else_=0)
    query = (
        sa.select(done.c.grp, sa.func.count(), sa.func.sum(on_time))
        .where(done.c.done >= ctx.start, done.c.due.is_not(None))
        .group_by(done.c.grp)
    )
    return {ctx.group_of(grp): ratio(n_on_time, n) for grp, n, n_on_time in ctx.conn.execute(query)}
