"""Lists a sales manager asks for: the highest-value customers and those whose demand swings."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.store import reading
from crmflow.errors import InputError

from .customers import rfm_scores
from .records import Customer, Order, OrderLine, Product
from .settings import settings

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = ["demand_swings", "emit_demand_swings", "top_customers"]

_customers = Customer.__table__  # type: ignore[attr-defined]
_orders = Order.__table__  # type: ignore[attr-defined]
_lines = OrderLine.__table__  # type: ignore[attr-defined]
_products = Product.__table__  # type: ignore[attr-defined]


def top_customers(
    engine: Engine, *, by: str = "value", limit: int = 10, today: Any = None
) -> list[dict[str, Any]]:
    """The ``limit`` customers with the most order value over the last 365 days.

    Each with its rank, revenue (``monetary``), orders, RFM score and tier
    (the computation of the customer view, so both always agree).
    """
    if by != "value":
        raise InputError("must be value", field="top")
    if limit < 1:
        raise InputError("must be at least 1", field="limit")
    today = today or engine.now().date()
    with reading(engine.db) as conn:
        scores = rfm_scores(conn, today)
        names: dict[str, str] = {
            str(cid): str(name)
            for cid, name in conn.execute(sa.select(_customers.c.customer_id, _customers.c.name))
        }
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1]["monetary"], kv[0]))[:limit]
    return [{"rank": i + 1, "customer_id": cid, "name": names.get(cid),
             "revenue_12m": s["monetary"], "orders_12m": s["frequency"],
             "last_order_days": s["recency_days"], "score": s["score"], "tier": s["tier"]}
            for i, (cid, s) in enumerate(ranked)]  # fmt: skip


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def demand_swings(engine: Engine, *, today: Any = None) -> list[dict[str, Any]]:
    """Customers whose recent monthly demand of a product family left its usual band.

    Per customer and family, the band is mean ± 2 standard deviations of the
    monthly quantities before the last ``swing_recent_months`` finished
    months (over ``swing_history_months``, at least six of them since the
    first order); when the recent months' mean is outside it, demand swings.
    ``change`` is that mean against the band's middle.
    """
    limits = settings(engine)
    today = today or engine.now().date()
    history, recent = int(limits["swing_history_months"]), int(limits["swing_recent_months"])
    last = _month_index(today) - 1  # the last finished month
    first = last - history + 1
    since = dt.date(first // 12, first % 12 + 1, 1)
    until = dt.date(today.year, today.month, 1)
    qty: dict[tuple[str, str], dict[int, float]] = defaultdict(lambda: defaultdict(float))
    start: dict[tuple[str, str], int] = {}
    reps: dict[str, str | None] = {}
    with reading(engine.db) as conn:
        rows = conn.execute(
            sa.select(_orders.c.customer_id, _products.c.family, _orders.c.order_date,
                      _lines.c.quantity, _orders.c.sales_rep)
            .select_from(_lines.join(_orders, _orders.c.order_id == _lines.c.order_id)
                         .join(_products, _products.c.sku == _lines.c.sku))
            .where(_orders.c.status != "cancelled", _lines.c.status != "cancelled",
                   _orders.c.order_date >= since, _orders.c.order_date < until)
            .order_by(_orders.c.order_date)
        )  # fmt: skip
        for cid, family, day, amount, rep in rows:
            key = (cid, family)
            month = _month_index(day)
            qty[key][month] += float(amount)
            start.setdefault(key, month)
            reps[cid] = rep or reps.get(cid)
        names: dict[str, str] = {
            str(cid): str(name)
            for cid, name in conn.execute(sa.select(_customers.c.customer_id, _customers.c.name))
        }
    out = []
    for (cid, family), by_month in sorted(qty.items()):
        series = [by_month.get(m, 0.0) for m in range(max(first, start[(cid, family)]), last + 1)]
        base, latest = series[:-recent], series[-recent:]
        if len(base) < 6 or len(latest) < recent:
            continue
        mean, sd = statistics.fmean(base), statistics.pstdev(base)
        low, high = max(mean - 2 * sd, 0.0), mean + 2 * sd
        now_mean = statistics.fmean(latest)
        if low <= now_mean <= high:
            continue
        out.append({
            "customer_id": cid, "name": names.get(cid), "family": family,
            "sales_rep": reps.get(cid), "recent": [round(v, 3) for v in latest],
            "band_low": round(low, 3), "band_high": round(high, 3),
            "change": round((now_mean - mean) / mean, 4) if mean else None,
            "direction": "up" if now_mean > mean else "down",
            "month": f"{last // 12:04d}-{last % 12 + 1:02d}",
        })  # fmt: skip
    return out


def emit_demand_swings(engine: Engine, *, today: Any = None) -> list[dict[str, Any]]:
    """Emit ``customer.demand_swing`` for each swing; once per customer, family and month."""
    found = demand_swings(engine, today=today)
    for swing in found:
        payload = {k: swing[k] for k in ("customer_id", "family", "recent", "band_low",
                                         "band_high", "change", "direction", "sales_rep")}
        engine.emit("customer.demand_swing", payload,
                    key=f"customer.demand_swing:{swing['customer_id']}:{swing['family']}:"
                        f"{swing['month']}")  # fmt: skip
    return found
