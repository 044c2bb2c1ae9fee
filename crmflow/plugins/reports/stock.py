"""Projected inventory per SKU with safety stock, reorder point and first shortage date."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from crmflow.core.domain.inventory import plugin_forecast, projected_inventory
from crmflow.core.domain.records import Product
from crmflow.core.store import reading

from .cache import cache_of
from .selection import Selection, skus_of

__all__ = ["projection_of", "stock_outlook"]

_products = Product.__table__  # type: ignore[attr-defined]


def projection_of(engine: Any, sku: str, start: dt.date, days: int) -> dict[str, Any]:
    """`crmflow inventory projected SKU` for ``days`` from ``start``, cached per SKU.

    Recomputed only after an event naming this SKU (or one naming none) or
    when the cache entry ages out.
    """

    def compute() -> dict[str, Any]:
        forecast = plugin_forecast(engine, sku, start, days)
        with reading(engine.db) as conn:
            return projected_inventory(
                engine, sku, start=start, days=days, conn=conn, forecast=forecast
            )

    return cache_of(engine).get(("projection", sku, start, days), (f"sku:{sku}", "per-sku"),
                                compute)  # fmt: skip


def stock_outlook(engine: Any, sel: Selection, *, detail: str | None = None) -> dict[str, Any]:
    """Every selected SKU's projection summary, soonest shortage first, and one SKU's days.

    ``detail`` names the SKU whose daily projection is returned (default: the
    selection's SKU, else the first SKU short of safety stock, else the first).
    """
    skus = skus_of(engine, sel)
    days = max(sel.horizon * (7 if sel.bucket == "week" else 30), 7)
    with reading(engine.db) as conn:
        reorder = dict(conn.execute(
            sa.select(_products.c.sku, _products.c.reorder_point)
            .where(_products.c.sku.in_(skus) if len(skus) < 900 else sa.true())
        ).all())  # fmt: skip
    rows = []
    for sku in skus:
        proj = projection_of(engine, sku, sel.today, days)
        rows.append({
            "sku": sku, "on_hand": proj["on_hand"], "safety_stock": proj["safety_stock"],
            "reorder_point": reorder.get(sku), "min_projected": proj["min_projected"],
            "shortage_date": proj["shortage_date"], "forecast_source": proj["forecast_source"],
        })  # fmt: skip
    rows.sort(key=lambda r: (r["shortage_date"] is None, r["shortage_date"] or "", r["sku"]))
    chosen = detail or sel.sku or (rows[0]["sku"] if rows else None)
    daily = None
    if chosen is not None:
        proj = projection_of(engine, chosen, sel.today, days)
        daily = {
            "sku": chosen, "safety_stock": proj["safety_stock"],
            "reorder_point": reorder.get(chosen), "shortage_date": proj["shortage_date"],
            "rows": [{"date": r["date"], "projected": r["projected"]} for r in proj["daily"]],
        }  # fmt: skip
    return {
        "days": days, "skus": rows, "short": sum(1 for r in rows if r["shortage_date"]),
        "detail": daily,
    }
