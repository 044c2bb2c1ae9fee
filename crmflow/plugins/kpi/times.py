"""Time KPIs: delivery lead time of completed orders, response time to rush orders.

Selection and grouping are SQL; the per-order (per-instance) values come back
as one number each and their mean and percentiles are computed here, so the
figures are identical on SQLite (no ``percentile_cont``) and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from .breakdown import NONE_GROUP
from .fill import delivery_facts
from .protocol import KpiContext, KpiValue
from .records import customers, history, instances, order_lines, orders, products

__all__ = ["delivery_lead_time_days", "percentile", "rush_response_hours", "summarise"]

#: The workflow whose instances are rush orders.
RUSH_WORKFLOW = "rush_order"
#: The actor timers, deadlines and the engine act as.
SYSTEM_ACTOR = "system"


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by linear interpolation between closest ranks.

    The same rule as PostgreSQL's ``percentile_cont`` and numpy's default:
    position ``q × (n − 1)`` in the sorted values.
    """
    if not ordered:
        return None
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarise(values: Sequence[float], quantiles: dict[str, float]) -> KpiValue:
    """Mean, count and the named quantiles of ``values`` (``None`` each when empty)."""
    ordered = sorted(values)
    mean = math.fsum(ordered) / len(ordered) if ordered else None
    extra = {name: percentile(ordered, q) for name, q in quantiles.items()}
    return KpiValue(mean, count=len(ordered), extra=extra)


def delivery_lead_time_days(ctx: KpiContext) -> dict[str | None, KpiValue]:
    """Mean days from order date to completion, over orders completed in the period.

    An order is completed on the day its last line is delivered in full; it
    counts when that day is in the period. ``_p50`` and ``_p90`` come along.
    """
    return {
        ctx.group_of(grp): summarise(days, {"p50": 0.5, "p90": 0.9})
        for grp, days in delivery_facts(ctx).lead_days.items()
    }


def _json_text(conn: sa.Connection, column: Any, *path: str) -> Any:
    """The text at ``path`` in a JSON text column, on SQLite and PostgreSQL."""
    if conn.dialect.name == "postgresql":
        return sa.cast(column, sa.dialects.postgresql.JSONB)[path].astext
    return sa.func.json_extract(column, "$." + ".".join(f'"{p}"' for p in path))


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive UTC, PostgreSQL aware datetimes.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def rush_response_hours(ctx: KpiContext) -> dict[str | None, KpiValue]:
    """Mean hours from a rush order's start to a person's first move out of its initial state.

    Over ``rush_order`` instances started in the period. Instances nobody
    has answered yet are left out of the mean and counted as ``pending``.
    """
    start_utc, end_utc = ctx.utc_bounds()
    begun = (
        sa.select(
            instances.c.id,
            instances.c.data,
            history.c.to_state.label("initial"),
            history.c.at.label("started"),
        )
        .join(history, history.c.instance_id == instances.c.id)
        .where(
            instances.c.workflow == RUSH_WORKFLOW,
            instances.c.created_at >= start_utc,
            instances.c.created_at < end_utc,
            history.c.trigger == "start",
            history.c.from_state.is_(None),
        )
        .subquery("begun")
    )
    response = (
        sa.select(sa.func.min(history.c.at))
        .where(
            history.c.instance_id == begun.c.id,
            history.c.from_state == begun.c.initial,
            history.c.to_state != begun.c.initial,
            history.c.actor.is_not(None),
            history.c.actor != SYSTEM_ACTOR,
        )
        .scalar_subquery()
    )
    grp, src = _instance_group(ctx, begun)
    query = sa.select(grp.label("grp"), begun.c.id, begun.c.started, response).select_from(src)
    if ctx.breakdown is not None:
        query = query.distinct()
    values: dict[str, list[float]] = defaultdict(list)
    pending: dict[str, int] = defaultdict(int)
    for group, _iid, started, answered in ctx.conn.execute(query):
        if answered is None:
            pending[group] += 1
            values.setdefault(group, [])
            continue
        seconds = (_aware(answered) - _aware(started)).total_seconds()
        values[group].append(seconds / 3600.0)
    out: dict[str | None, KpiValue] = {}
    for group, vals in values.items():
        summary = summarise(vals, {"p90": 0.9})
        out[ctx.group_of(group)] = KpiValue(
            summary.value,
            count=summary.count,
            extra=summary.extra,
            info={"pending": pending[group]},
        )
    return out


def _instance_group(ctx: KpiContext, begun: sa.Subquery) -> tuple[Any, Any]:
    """The group of a rush instance, through the order its data names (``order.order_id``)."""
    if ctx.breakdown is None:
        return sa.literal(""), begun
    order_id = sa.func.coalesce(
        _json_text(ctx.conn, begun.c.data, "order", "order_id"),
        _json_text(ctx.conn, begun.c.data, "order_id"),
    )
    src: Any = begun.outerjoin(orders, orders.c.order_id == order_id)
    if ctx.breakdown.dimension == "segment":
        src = src.outerjoin(customers, customers.c.customer_id == orders.c.customer_id)
    if ctx.breakdown.by_product:
        src = src.outerjoin(order_lines, order_lines.c.order_id == orders.c.order_id)
        src = src.outerjoin(products, products.c.sku == order_lines.c.sku)
    grp = ctx.breakdown.line_group(
        orders=orders, customers=customers, lines=order_lines, products=products
    )
    return sa.func.coalesce(grp, NONE_GROUP), src
