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
from .records import (
    EPSILON,
    completed_on,
    days_between,
    deliveries,
    lines,
    order_lines,
)

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
    """What one pass over the period's lines gives: line figures, lead times, order fill."""

    lines: dict[str, LineFigures]
    lead_days: dict[str, list[float]]
    #: per group: orders due in the period, and those filled by their due date
    orders_due: dict[str, tuple[int, int]]


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
    other = order_lines.alias()
    order_due_in = (
        sa.exists()
        .where(
            other.c.order_id == ln.c.order_id,
            sa.func.coalesce(other.c.promised_date, other.c.requested_date) >= ctx.start,
            sa.func.coalesce(other.c.promised_date, other.c.requested_date) < ctx.end,
        )
        .correlate_except(other)
    )
    # The lines due in the period and every line of an order due or delivered to in it.
    candidates = (
        sa.select(
            ln.c.grp,
            ln.c.order_id,
            ln.c.sku,
            ln.c.qty,
            ln.c.due,
            ln.c.order_date,
            sa.func.coalesce(ln.c.cost, 0.0).label("cost"),
            sa.case((due_in, 1), else_=0).label("is_due"),
        )
        .where(sa.or_(due_in, touched_order, order_due_in))
        .subquery("candidates")
    )
    c = candidates.c
    day, qty = d.c.delivered_date, d.c.quantity

    def summed(cond: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((cond, qty), else_=None)), 0.0)

    # One pass over each line's deliveries (read from the covering index) gives
    # all its figures at once.
    facts = (
        sa.select(
            c.grp,
            c.order_id,
            c.sku,
            c.qty,
            c.due,
            c.order_date,
            c.cost,
            c.is_due,
            summed(day <= c.due).label("by_due"),
            summed(day < ctx.start).label("before"),
            summed(day < ctx.end).label("upto"),
            sa.func.max(sa.case((sa.and_(day < ctx.end, qty > 0), day), else_=None)).label("last"),
        )  # fmt: skip
        .select_from(candidates.outerjoin(d, sa.and_(d.c.order_id == c.order_id, d.c.sku == c.sku)))
        .group_by(c.grp, c.order_id, c.sku, c.qty, c.due, c.order_date, c.cost, c.is_due)
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
        # the cost of goods counts every unit delivered in the period (all of it left
        # stock), also beyond the ordered quantity (kpis.md)
        sa.func.sum((f.upto - f.before) * f.cost).label("v7"),
    ).group_by(f.grp)
    # The day each line was complete (before the period's end), for the orders' figures.
    full_on = sa.case((complete, completed_on(facts, ctx.end, f.upto, f.last)), else_=None)
    short = sa.and_(f.due.is_not(None), sa.not_(in_full))
    # One pass per order (or, by family or SKU, the part of it in a group) gives both
    # its completion and its fill. An order is due on the latest due date of its
    # lines; every line of an order with a line due in the period is among the facts,
    # so that maximum is exact when it is in the period. Deliveries only grow, so a
    # line short at its own due date is in full by the order's when it was complete
    # by then: the order is filled when no such line is still open and the latest
    # day one of them was complete is not after the order's due date.
    per_order = (
        sa.select(
            f.grp,
            sa.func.min(f.order_date).label("order_date"),
            sa.func.max(sa.case((done_in_period, full_on), else_=None)).label("done"),
            _count(sa.not_(complete)).label("open_lines"),
            sa.func.max(f.due).label("odue"),
            _count(sa.and_(short, full_on.is_(None))).label("never"),
            sa.func.max(sa.case((short, full_on), else_=None)).label("need"),
        )
        # an order with a line completed in the period was delivered to in it, so
        # all its lines are among the facts and "no open line" is exact
        .group_by(f.grp, f.order_id)
        .subquery("per_order")
    )
    o = per_order.c
    # every line complete, the last in the period
    lead_time = sa.case(
        (sa.and_(o.open_lines == 0, o.done.is_not(None)), days_between(o.order_date, o.done)),
        else_=None,
    )
    due = sa.and_(o.odue >= ctx.start, o.odue < ctx.end)
    filled = sa.and_(due, o.never == 0, sa.or_(o.need.is_(None), o.need <= o.odue))
    none = sa.null()
    # A histogram of the lead times (few rows) rather than one row per order.
    on_orders = sa.select(
        sa.literal("O"), o.grp, lead_time, _count(lead_time.is_not(None)), _count(due),
        _count(filled), none, none, none,
    ).group_by(o.grp, lead_time)  # fmt: skip
    figures: dict[str, LineFigures] = {}
    lead: dict[str, list[float]] = {}
    orders_due: dict[str, tuple[int, int]] = {}
    statement = sa.union_all(on_lines, on_orders)
    for kind, grp, *v in ctx.conn.execute(statement):
        if kind == "L":
            figures[grp] = LineFigures(
                int(v[0] or 0), int(v[1] or 0), float(v[2] or 0), float(v[3] or 0),
                int(v[4] or 0), int(v[5] or 0), float(v[6] or 0),
            )  # fmt: skip
            continue
        if v[1]:
            lead.setdefault(grp, []).extend([float(v[0])] * int(v[1]))
        if v[2]:
            n, done = orders_due.get(grp, (0, 0))
            orders_due[grp] = (n + int(v[2]), done + int(v[3] or 0))
    return DeliveryFacts(figures, lead, orders_due)


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
    return {
        ctx.group_of(grp): ratio(filled, n)
        for grp, (n, filled) in delivery_facts(ctx).orders_due.items()
    }
