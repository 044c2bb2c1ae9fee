"""Fill rates and on-time delivery: set-based SQL over order lines and deliveries.

Every figure is a conditional sum over the lines that matter for the period
(due in it, or with a delivery in it), each carrying three delivered
quantities found by index probes: by its due date, before the period, and
before the period's end. Cumulative deliveries only grow, so "completed in
the period" is ``before < ordered ≤ by the end`` and "completed on time" is
``by the due date ≥ ordered``: no running sums are needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .protocol import KpiContext, KpiValue, ratio
from .records import EPSILON, completed_on, days_between, delivered, deliveries, lines

__all__ = [
    "DeliveryFacts",
    "LineFigures",
    "delivery_facts",
    "line_figures",
    "line_fill_rate",
    "on_time_delivery",
    "order_fill_rate",
    "unit_fill_rate",
]


@dataclass(frozen=True)
class LineFigures:
    """Per group: the sums the line-level KPIs (and the cost of goods) are made of."""

    due_lines: int = 0
    due_in_full: int = 0
    units_in_time: float = 0.0
    units_ordered: float = 0.0
    completed: int = 0
    completed_on_time: int = 0
    cost_of_goods: float = 0.0


@dataclass(frozen=True)
class DeliveryFacts:
    """What one pass over the period's lines gives: line figures and order lead times."""

    lines: dict[str, LineFigures]
    lead_days: dict[str, list[float]]


def _least(a: Any, b: Any) -> Any:
    return sa.case((a < b, a), else_=b)


def _count(cond: Any) -> Any:
    return sa.func.sum(sa.case((cond, 1), else_=0))


def _delivery_facts(ctx: KpiContext) -> DeliveryFacts:
    ln = lines(ctx.breakdown)
    due_in = sa.and_(ln.c.due >= ctx.start, ln.c.due < ctx.end)
    d = deliveries.alias()
    touched_order = (
        sa.exists()
        .where(
            d.c.order_id == ln.c.order_id,
            d.c.delivered_date >= ctx.start,
            d.c.delivered_date < ctx.end,
        )
        .correlate_except(d)
    )
    # The lines due in the period and every line of an order delivered to in it.
    facts = (
        sa.select(
            ln.c.grp,
            ln.c.order_id,
            ln.c.sku,
            ln.c.qty,
            ln.c.due,
            ln.c.order_date,
            sa.func.coalesce(ln.c.cost, 0.0).label("cost"),
            sa.case((due_in, 1), else_=0).label("is_due"),
            sa.case((touched_order, 1), else_=0).label("touched"),
            delivered(ln, through=ln.c.due).label("by_due"),
            delivered(ln, before=ctx.start).label("before"),
            delivered(ln, before=ctx.end).label("upto"),
        )
        .where(sa.or_(due_in, touched_order))
        # computed once per line, not once per use below
        .cte("line_facts")
        .prefix_with("MATERIALIZED")
    )
    f = facts.c
    is_due = f.is_due == 1
    in_full = f.by_due >= f.qty - EPSILON
    complete = f.upto >= f.qty - EPSILON
    done_in_period = sa.and_(f.before < f.qty - EPSILON, complete)
    on_lines = sa.select(
        sa.literal("L").label("kind"),
        f.grp,
        _count(is_due).label("v1"),
        _count(sa.and_(is_due, in_full)).label("v2"),
        sa.func.sum(sa.case((is_due, _least(f.by_due, f.qty)), else_=0.0)).label("v3"),
        sa.func.sum(sa.case((is_due, f.qty), else_=0.0)).label("v4"),
        # lines without a due date are neither on time nor late
        _count(sa.and_(done_in_period, f.due.is_not(None))).label("v5"),
        _count(sa.and_(done_in_period, in_full)).label("v6"),
        # deliveries beyond the ordered quantity do not count: min(·, ordered) at both ends
        sa.func.sum((_least(f.upto, f.qty) - _least(f.before, f.qty)) * f.cost).label("v7"),
    ).group_by(f.grp)
    per_order = (
        sa.select(
            f.grp,
            sa.func.min(f.order_date).label("order_date"),
            sa.func.max(
                sa.case((done_in_period, completed_on(facts, ctx.end, f.upto)), else_=None)
            ).label("done"),
            _count(sa.not_(complete)).label("open_lines"),
        )
        .where(f.touched == 1)
        .group_by(f.grp, f.order_id)
        .subquery("order_completion")
    )
    o = per_order.c
    none = sa.null()
    on_orders = sa.select(
        sa.literal("O"), o.grp, days_between(o.order_date, o.done), none, none, none, none,
        none, none,
    ).where(o.open_lines == 0, o.done.is_not(None))  # every line complete, the last in the period
    figures: dict[str, LineFigures] = {}
    lead: dict[str, list[float]] = {}
    for kind, grp, *v in ctx.conn.execute(on_lines.union_all(on_orders)):
        if kind == "L":
            figures[grp] = LineFigures(
                int(v[0] or 0), int(v[1] or 0), float(v[2] or 0), float(v[3] or 0),
                int(v[4] or 0), int(v[5] or 0), float(v[6] or 0),
            )  # fmt: skip
        else:
            lead.setdefault(grp, []).append(float(v[0]))
    return DeliveryFacts(figures, lead)


def delivery_facts(ctx: KpiContext) -> DeliveryFacts:
    """The period's line figures and order lead times, computed once per context and shared."""
    facts: DeliveryFacts = ctx.memo("kpi.delivery_facts", lambda: _delivery_facts(ctx))
    return facts


def line_figures(ctx: KpiContext) -> dict[str, LineFigures]:
    """Per group: due lines, lines in full, units, completed lines, cost of goods."""
    return delivery_facts(ctx).lines


def line_fill_rate(ctx: KpiContext) -> dict[str | None, KpiValue]:
    """Due order lines delivered in full by their due date ÷ due order lines."""
    return {
        ctx.group_of(grp): ratio(f.due_in_full, f.due_lines)
        for grp, f in line_figures(ctx).items()
        if f.due_lines
    }


def unit_fill_rate(ctx: KpiContext) -> dict[str | None, KpiValue]:
    """Σ min(ordered, delivered by the due date) ÷ Σ ordered, over due lines."""
    return {
        ctx.group_of(grp): ratio(f.units_in_time, f.units_ordered)
        for grp, f in line_figures(ctx).items()
        if f.due_lines
    }


def on_time_delivery(ctx: KpiContext) -> dict[str | None, KpiValue]:
    """Lines completed in the period by their due date ÷ lines completed in the period.

    A line is completed on the day its deliveries first reach the ordered
    quantity. Lines without a due date are neither on time nor late and are
    left out.
    """
    return {
        ctx.group_of(grp): ratio(f.completed_on_time, f.completed)
        for grp, f in line_figures(ctx).items()
        if f.completed
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
        .cte("due_orders")
        .prefix_with("MATERIALIZED")
    )
    per_line = (
        sa.select(
            due_orders.c.grp,
            due_orders.c.order_id,
            sa.case(
                (delivered(ln, through=due_orders.c.odue) >= ln.c.qty - EPSILON, 1), else_=0
            ).label("in_full"),
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
        sa.select(per_line.c.grp, sa.func.min(per_line.c.in_full).label("filled"))
        .group_by(per_line.c.grp, per_line.c.order_id)
        .subquery("order_fill")
    )
    query = sa.select(
        per_order.c.grp, sa.func.count(), sa.func.sum(per_order.c.filled)
    ).group_by(per_order.c.grp)
    return {ctx.group_of(grp): ratio(filled, n) for grp, n, filled in ctx.conn.execute(query)}
