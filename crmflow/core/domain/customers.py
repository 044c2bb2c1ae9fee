"""Customer 360 (cycle, preferences, RFM value, volatility) and segment analysis."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.store import reading
from crmflow.errors import InputError, NotFoundError

from .records import Customer, Order, OrderLine, Product

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = ["customer_360", "demand_volatility", "rfm_scores", "segment_analysis"]

_customers = Customer.__table__  # type: ignore[attr-defined]
_orders = Order.__table__  # type: ignore[attr-defined]
_lines = OrderLine.__table__  # type: ignore[attr-defined]
_products = Product.__table__  # type: ignore[attr-defined]


def _month(d: dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def _months_back(today: dt.date, n: int) -> list[str]:
    y, m = today.year, today.month
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        m -= 1
        if m == 0:
            y, m = y - 1, 12
    return out[::-1]


def _line_query() -> sa.Select[Any]:
    return (
        sa.select(_orders.c.customer_id, _orders.c.order_id, _orders.c.order_date,
                  _lines.c.sku, _lines.c.quantity, _lines.c.unit_price, _products.c.family)
        .select_from(_lines.join(_orders, _orders.c.order_id == _lines.c.order_id)
                     .join(_products, _products.c.sku == _lines.c.sku))
        .where(_orders.c.status != "cancelled", _lines.c.status != "cancelled")
    )  # fmt: skip


def rfm_scores(conn: sa.Connection, today: dt.date) -> dict[str, dict[str, Any]]:
    """RFM per customer over the last 365 days, scored 1–5 by quintile, with a tier A/B/C."""
    since = today - dt.timedelta(days=365)
    q = (
        sa.select(_orders.c.customer_id, sa.func.max(_orders.c.order_date),
                  sa.func.count(sa.distinct(_orders.c.order_id)),
                  sa.func.sum(_lines.c.quantity * _lines.c.unit_price))
        .select_from(_lines.join(_orders, _orders.c.order_id == _lines.c.order_id))
        .where(_orders.c.status != "cancelled", _lines.c.status != "cancelled",
               _orders.c.order_date >= since, _orders.c.order_date <= today)
        .group_by(_orders.c.customer_id)
    )  # fmt: skip
    raw = {c: (today - last, n, float(m or 0.0)) for c, last, n, m in conn.execute(q)}
    if not raw:
        return {}

    def score(values: dict[str, float], reverse: bool) -> dict[str, int]:
        ordered = sorted(values, key=lambda k: values[k], reverse=reverse)
        size = len(ordered)
        return {k: 1 + (i * 5) // size for i, k in enumerate(ordered)}

    r = score({c: v[0].days for c, v in raw.items()}, reverse=True)  # recent = high
    f = score({c: v[1] for c, v in raw.items()}, reverse=False)
    m = score({c: v[2] for c, v in raw.items()}, reverse=False)
    out = {}
    for c, (age, n, money) in raw.items():
        total = r[c] + f[c] + m[c]
        tier = "A" if total >= 12 else "B" if total >= 8 else "C"
        out[c] = {
            "recency_days": age.days,
            "frequency": n,
            "monetary": round(money, 2),
            "r": r[c],
            "f": f[c],
            "m": m[c],
            "score": total,
            "tier": tier,
        }
    return out


def customer_360(engine: Engine, customer_id: str, *, today: Any = None) -> dict[str, Any]:
    """Purchase cycle, product preferences, value, volatility of one customer."""
    today = today or engine.now().date()
    with reading(engine.db) as conn:
        cust = (
            conn.execute(sa.select(_customers).where(_customers.c.customer_id == customer_id))
            .mappings()
            .first()
        )
        if cust is None:
            raise NotFoundError(f"no customer {customer_id!r}")
        rows = conn.execute(
            _line_query().where(_orders.c.customer_id == customer_id, _orders.c.order_date <= today)
        ).all()
        rfm = rfm_scores(conn, today).get(customer_id)
    dates = sorted({r.order_date for r in rows})
    gaps = [(b - a).days for a, b in zip(dates, dates[1:], strict=False)]
    cycle = statistics.median(gaps) if gaps else None
    family_qty: dict[str, float] = defaultdict(float)
    monthly_qty: dict[str, float] = defaultdict(float)
    monthly_rev: dict[str, float] = defaultdict(float)
    for r in rows:
        family_qty[r.family] += float(r.quantity)
        monthly_qty[_month(r.order_date)] += float(r.quantity)
        monthly_rev[_month(r.order_date)] += float(r.quantity) * float(r.unit_price)
    total_qty = sum(family_qty.values())
    months24 = _months_back(today, 24)
    first = _month(dates[0]) if dates else None
    series = [monthly_qty.get(mo, 0.0) for mo in months24 if first and mo >= first]
    rev12 = sum(monthly_rev.get(mo, 0.0) for mo in months24[12:])
    rev_prev = sum(monthly_rev.get(mo, 0.0) for mo in months24[:12])
    return {
        "customer": {k: cust[k] for k in ("customer_id", "name", "industry", "size", "region",
                                           "segment", "value_tier")},
        "orders": len({r.order_id for r in rows}),
        "first_order": dates[0].isoformat() if dates else None,
        "last_order": dates[-1].isoformat() if dates else None,
        "purchase_cycle_days": cycle,
        "next_expected_order": (dates[-1] + dt.timedelta(days=round(cycle))).isoformat()
        if cycle is not None else None,
        "preferences": {fam: round(q / total_qty, 4) for fam, q in
                        sorted(family_qty.items(), key=lambda kv: -kv[1])} if total_qty else {},
        "value": {**(rfm or {"score": None, "tier": None}),
                  "revenue_12m": round(rev12, 2), "revenue_prev_12m": round(rev_prev, 2),
                  "revenue_trend": round((rev12 - rev_prev) / rev_prev, 4) if rev_prev else None,
                  "monthly_revenue": {mo: round(monthly_rev.get(mo, 0.0), 2)
                                      for mo in months24[12:]}},
        "volatility": demand_volatility(series),
    }  # fmt: skip


def demand_volatility(series: list[float], recent: int = 3) -> dict[str, Any]:
    """CV of monthly quantity; flagged when a recent month leaves the usual band (mean ± 2σ)."""
    if len(series) < 2 or sum(series) == 0:
        return {"cv": None, "months": len(series), "flag": False, "band": None}
    mean = statistics.fmean(series)
    cv = statistics.pstdev(series) / mean if mean else None
    base = series[:-recent]
    if len(base) < 6:
        return {
            "cv": round(cv, 4) if cv is not None else None,
            "months": len(series),
            "flag": False,
            "band": None,
        }
    b_mean, b_sd = statistics.fmean(base), statistics.pstdev(base)
    low, high = max(b_mean - 2 * b_sd, 0.0), b_mean + 2 * b_sd
    latest = series[-recent:]
    flag = any(v < low or v > high for v in latest)
    return {"cv": round(cv, 4) if cv is not None else None, "months": len(series),
            "flag": flag, "band": [round(low, 3), round(high, 3)],
            "latest": latest}  # fmt: skip


def segment_analysis(
    engine: Engine, *, by: str = "industry", today: Any = None
) -> list[dict[str, Any]]:
    """Demand and growth per industry, size or region: last 12 months against the 12 before."""
    if by not in ("industry", "size", "region", "segment"):
        raise InputError("must be industry, size, region or segment", field="by")
    today = today or engine.now().date()
    start = today - dt.timedelta(days=730)
    mid = today - dt.timedelta(days=365)
    column = _customers.c[by]
    q = (
        sa.select(column, _orders.c.order_date, _lines.c.quantity, _lines.c.unit_price,
                  _orders.c.customer_id)
        .select_from(_lines.join(_orders, _orders.c.order_id == _lines.c.order_id)
                     .join(_customers, _customers.c.customer_id == _orders.c.customer_id))
        .where(_orders.c.status != "cancelled", _lines.c.status != "cancelled",
               _orders.c.order_date > start, _orders.c.order_date <= today)
    )  # fmt: skip
    acc: dict[str, dict[str, Any]] = {}
    with reading(engine.db) as conn:
        for key, day, qty, price, cust in conn.execute(q):
            a = acc.setdefault(
                str(key),
                {
                    "qty": 0.0,
                    "prev_qty": 0.0,
                    "revenue": 0.0,
                    "prev_revenue": 0.0,
                    "customers": set(),
                },
            )
            recent = day > mid
            a["qty" if recent else "prev_qty"] += float(qty)
            a["revenue" if recent else "prev_revenue"] += float(qty) * float(price)
            a["customers"].add(cust)
    out = []
    for key, a in sorted(acc.items()):
        growth = (a["qty"] - a["prev_qty"]) / a["prev_qty"] if a["prev_qty"] else None
        out.append(
            {
                by: key,
                "customers": len(a["customers"]),
                "quantity_12m": a["qty"],
                "quantity_prev_12m": a["prev_qty"],
                "revenue_12m": round(a["revenue"], 2),
                "growth": round(growth, 4) if growth is not None else None,
            }
        )
    return out
