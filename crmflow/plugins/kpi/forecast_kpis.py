"""Forecast accuracy and bias against the lag-1 forecast snapshot of each month."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from .periods import period_of
from .protocol import KpiContext, KpiValue
from .records import lines, products

__all__ = ["forecast_accuracy", "forecast_bias", "forecast_pairs", "month_start"]

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


class month_start(FunctionElement[Any]):  # noqa: N801 - reads as a SQL function
    """The first day of a date's month, as a date, on every dialect."""

    type = sa.Date()
    inherit_cache = True


@compiles(month_start, "sqlite")
def _month_sqlite(element: month_start, compiler: Any, **kw: Any) -> str:
    # SQLite keeps dates as ISO text: 'YYYY-MM-DD'.
    (arg,) = (compiler.process(a, **kw) for a in element.clauses)
    return f"(substr({arg}, 1, 7) || '-01')"


@compiles(month_start)
def _month_default(element: month_start, compiler: Any, **kw: Any) -> str:
    (arg,) = (compiler.process(a, **kw) for a in element.clauses)
    return f"CAST(date_trunc('month', {arg}) AS DATE)"


def _pairs_query(ctx: KpiContext, months: list[Any]) -> Any:
    """SQL: per group, Σ|A − F|, ΣA, Σ(F − A) and the pair count over ``months``."""
    # When each month began in the factory's zone (a CASE: no join with a month table).
    cutoff = sa.case(
        {m: period_of("month", m).utc_bounds(ctx.timezone)[0] for m in months},
        value=forecast_values.c.period_start,
    )
    first, end = months[0], period_of("month", months[-1]).end
    runs = forecast_values.join(forecast_runs, forecast_runs.c.id == forecast_values.c.snapshot_id)
    lag1 = (
        sa.select(
            forecast_values.c.sku,
            forecast_values.c.period_start,
            sa.func.max(forecast_runs.c.created_at).label("at"),
        )
        .select_from(runs)
        .where(
            forecast_values.c.period_start >= first,
            forecast_values.c.period_start < end,
            forecast_runs.c.created_at < cutoff,
        )
        .group_by(forecast_values.c.sku, forecast_values.c.period_start)
        .subquery("lag1")
    )
    forecast = (
        sa.select(
            forecast_values.c.sku,
            forecast_values.c.period_start.label("month"),
            sa.func.sum(forecast_values.c.value).label("f"),
        )
        .select_from(
            runs.join(
                lag1,
                sa.and_(
                    lag1.c.sku == forecast_values.c.sku,
                    lag1.c.period_start == forecast_values.c.period_start,
                    lag1.c.at == forecast_runs.c.created_at,
                ),
            )
        )
        .group_by(forecast_values.c.sku, forecast_values.c.period_start)
        .subquery("forecast")
    )
    ln = lines(None, cost=False)
    month = month_start(ln.c.requested_date)
    actual = (
        sa.select(ln.c.sku, month.label("month"), sa.func.sum(ln.c.qty).label("a"))
        .where(ln.c.requested_date >= first, ln.c.requested_date < end)
        # month first: grouping by SKU first makes SQLite walk the SKU index (3× slower)
        .group_by(month, ln.c.sku)
        .subquery("actual")
    )
    a = sa.func.coalesce(actual.c.a, 0.0)
    src: Any = forecast.outerjoin(
        actual, sa.and_(actual.c.sku == forecast.c.sku, actual.c.month == forecast.c.month)
    )
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


def _forecast_pairs(ctx: KpiContext) -> dict[str, tuple[float, float, float, int]]:
    if ctx.breakdown is not None and not ctx.breakdown.by_product:
        return {}  # forecasts are per SKU: they have no department or segment
    months = ctx.period.months()
    if not months or not sa.inspect(ctx.conn).has_table(forecast_values.name):
        return {}  # no whole month, or no forecast plugin here: no pairs
    return {
        grp: (float(err or 0), float(act or 0), float(signed or 0), int(n))
        for grp, err, act, signed, n in ctx.conn.execute(_pairs_query(ctx, months))
    }


def forecast_pairs(ctx: KpiContext) -> dict[str, tuple[float, float, float, int]]:
    """Per group: Σ|A − F|, ΣA, Σ(F − A) and the number of SKU × month pairs.

    A = the month's demand as the forecast plugin defines it: accepted units
    of the order lines requested in the month (cancelled ones left out);
    F = the SKU's forecast for the month in the latest snapshot created
    before the month began (midnight in the factory's time zone). Only the
    calendar months lying wholly in the period count; a SKU without such a
    forecast has no pair. Computed once per context for accuracy and bias.
    """
    pairs: dict[str, tuple[float, float, float, int]] = ctx.memo(
        "kpi.forecast_pairs", lambda: _forecast_pairs(ctx)
    )
    return pairs


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
