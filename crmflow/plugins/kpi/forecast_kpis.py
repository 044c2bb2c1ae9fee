"""Forecast accuracy and bias against the lag-1 forecast snapshot of each month."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from .periods import Period, period_of
from .protocol import KpiContext, KpiValue
from .records import lines, products

__all__ = ["forecast_accuracy", "forecast_bias", "forecast_pairs"]

# The forecast plugin's snapshot tables (docs/forecast.md, migration 0003_forecast).
forecast_runs = sa.table(
    "forecast_snapshots",
    sa.column("id", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
forecast_values = sa.table(
    "forecast_values",
    sa.column("snapshot_id", sa.Integer),
    sa.column("sku", sa.String),
    sa.column("period_start", sa.Date),
    sa.column("value", sa.Float),
)


def _month_pairs(ctx: KpiContext, month: Period) -> Any:
    """SQL: per group, Σ|A − F|, ΣA and Σ(F − A) over the SKUs forecast for ``month``."""
    cutoff = month.utc_bounds(ctx.timezone)[0]
    in_month = sa.and_(
        forecast_values.c.period_start >= month.start, forecast_values.c.period_start < month.end
    )
    runs = forecast_values.join(forecast_runs, forecast_runs.c.id == forecast_values.c.snapshot_id)
    lag1 = (
        sa.select(forecast_values.c.sku, sa.func.max(forecast_runs.c.created_at).label("at"))
        .select_from(runs)
        .where(in_month, forecast_runs.c.created_at < cutoff)
        .group_by(forecast_values.c.sku)
        .subquery("lag1")
    )
    forecast = (
        sa.select(forecast_values.c.sku, sa.func.sum(forecast_values.c.value).label("f"))
        .select_from(
            runs.join(
                lag1,
                sa.and_(
                    lag1.c.sku == forecast_values.c.sku, lag1.c.at == forecast_runs.c.created_at
                ),
            )
        )
        .where(in_month)
        .group_by(forecast_values.c.sku)
        .subquery("forecast")
    )
    ln = lines(None)
    actual = (
        sa.select(ln.c.sku, sa.func.sum(ln.c.qty).label("a"))
        .where(ln.c.requested_date >= month.start, ln.c.requested_date < month.end)
        .group_by(ln.c.sku)
        .subquery("actual")
    )
    a = sa.func.coalesce(actual.c.a, 0.0)
    src: Any = forecast.outerjoin(actual, actual.c.sku == forecast.c.sku)
    if ctx.breakdown is None:
        grp: Any = sa.literal("")
    else:
        src = src.outerjoin(products, products.c.sku == forecast.c.sku)
        grp = ctx.breakdown.product_group(products)
    return (
        sa.select(
            grp.label("grp"),
            sa.func.sum(sa.func.abs(a - forecast.c.f)),
            sa.func.sum(a),
            sa.func.sum(forecast.c.f - a),
            sa.func.count(),
        )
        .select_from(src)
        .group_by(grp)
    )


def forecast_pairs(ctx: KpiContext) -> dict[str, tuple[float, float, float, int]]:
    """Per group: Σ|A − F|, ΣA, Σ(F − A) and the number of SKU × month pairs.

    A = the month's demand as the forecast plugin defines it: accepted units
    of the order lines requested in the month (cancelled ones left out);
    F = the SKU's forecast for the month in the latest snapshot created
    before the month began (midnight in the factory's time zone). Only the
    calendar months lying wholly in the period count; a SKU without such a
    forecast has no pair.
    """
    if ctx.breakdown is not None and not ctx.breakdown.by_product:
        return {}  # forecasts are per SKU: they have no department or segment
    if not sa.inspect(ctx.conn).has_table(forecast_values.name):
        return {}  # the forecast plugin is not installed here: no forecasts, no value
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0])
    for first in ctx.period.months():
        month = period_of("month", first)
        for grp, abs_err, actual, signed, n in ctx.conn.execute(_month_pairs(ctx, month)):
            acc = totals[grp]
            acc[0] += float(abs_err or 0)
            acc[1] += float(actual or 0)
            acc[2] += float(signed or 0)
            acc[3] += int(n)
    return {g: (v[0], v[1], v[2], int(v[3])) for g, v in totals.items()}


def _values(ctx: KpiContext, pick: Any) -> dict[str | None, KpiValue]:
    out: dict[str | None, KpiValue] = {}
    for grp, (abs_err, actual, signed, n) in forecast_pairs(ctx).items():
        out[ctx.group_of(grp)] = pick(abs_err, actual, signed, n)
    return out


def forecast_accuracy(ctx: KpiContext) -> dict[str | None, KpiValue]:
    """1 − WAPE over SKU × month pairs, WAPE = Σ|A − F| ÷ ΣA, F from the lag-1 snapshot."""
    return _values(
        ctx,
        lambda abs_err, actual, _s, n: KpiValue(
            1.0 - abs_err / actual if actual else None,
            numerator=abs_err,
            denominator=actual,
            count=n,
        ),
    )


def forecast_bias(ctx: KpiContext) -> dict[str | None, KpiValue]:
    """Σ(F − A) ÷ ΣA over the same pairs as forecast accuracy (positive: over-forecast)."""
    return _values(
        ctx,
        lambda _e, actual, signed, n: KpiValue(
            signed / actual if actual else None, numerator=signed, denominator=actual, count=n
        ),
    )

