"""Inventory turnover and days of inventory outstanding, at the products' unit cost."""

from __future__ import annotations

import sqlalchemy as sa

from .fill import line_figures
from .protocol import KpiContext, KpiValue
from .records import inventory, products

__all__ = ["cost_of_goods", "days_inventory_outstanding", "inventory_turnover", "inventory_value"]


def cost_of_goods(ctx: KpiContext) -> dict[str, float]:
    """Σ delivered quantity × unit cost per group, over deliveries in the period.

    Every delivered unit counts, also beyond the line's ordered quantity
    (all of it left stock): ``delivered before the end − delivered before the start``.
    """
    return {grp: f.cost_of_goods for grp, f in line_figures(ctx).items()}


def inventory_value(ctx: KpiContext) -> tuple[int, dict[str, float]]:
    """The number of stock-count dates in the period and Σ on hand × unit cost per group.

    The average inventory value of a group is its sum divided by the number
    of dates, so the groups' averages add up to the factory's. ``{}`` per
    group when the breakdown is not a product's (stock has no department).
    """
    in_period = sa.and_(inventory.c.date >= ctx.start, inventory.c.date < ctx.end)
    n_dates = ctx.conn.execute(
        sa.select(sa.func.count(sa.distinct(inventory.c.date))).where(in_period)
    ).scalar_one()
    if ctx.breakdown is None:
        grp = sa.literal("")
    else:
        product_grp = ctx.breakdown.product_group(products)
        if product_grp is None:
            return int(n_dates), {}
        grp = product_grp
    query = (
        sa.select(grp.label("grp"), sa.func.sum(inventory.c.on_hand * products.c.unit_cost))
        .join(products, products.c.sku == inventory.c.sku)
        .where(in_period)
        .group_by(grp)
    )
    return int(n_dates), {g: float(v or 0) for g, v in ctx.conn.execute(query)}


def _turnover(ctx: KpiContext) -> dict[str | None, KpiValue]:
    cogs = {g: c for g, c in cost_of_goods(ctx).items() if c}
    n_dates, stock = ctx.memo("kpi.inventory_value", lambda: inventory_value(ctx))
    groups = set(cogs) | set(stock)
    out: dict[str | None, KpiValue] = {}
    for grp in groups:
        cost = cogs.get(grp, 0.0)
        splittable = ctx.breakdown is None or ctx.breakdown.by_product
        if not n_dates or not splittable:
            # No stock counts in the period (or none that can be split this way).
            out[ctx.group_of(grp)] = KpiValue(None, numerator=cost)
            continue
        average = stock.get(grp, 0.0) / n_dates
        value = cost / average if average > 0 else None
        out[ctx.group_of(grp)] = KpiValue(
            value, numerator=cost, denominator=average, info={"stock_dates": n_dates}
        )
    if ctx.breakdown is None and not out:
        out[None] = KpiValue(None)
    return out


def inventory_turnover(ctx: KpiContext) -> dict[str | None, KpiValue]:
    """Cost of goods delivered in the period ÷ average inventory value over the stock counts."""
    return _turnover(ctx)


def days_inventory_outstanding(ctx: KpiContext) -> dict[str | None, KpiValue]:
    """Days in the period ÷ inventory turnover (``None`` when turnover is 0 or unknown)."""
    out: dict[str | None, KpiValue] = {}
    for grp, turn in _turnover(ctx).items():
        if turn.value is None:
            out[grp] = KpiValue(None)
            continue
        value = ctx.period.days / turn.value if turn.value else None
        out[grp] = KpiValue(
            value,
            numerator=float(ctx.period.days),
            denominator=turn.value,
            info={"cost_of_goods": turn.numerator, "average_inventory": turn.denominator},
        )
    return out
