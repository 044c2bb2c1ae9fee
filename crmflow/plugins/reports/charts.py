"""Server-built chart specs (Apache ECharts options) and the tables behind them, per card."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["CARDS", "Card", "capacity_card", "demand_card", "stock_card", "table_csv"]

Translate = Callable[..., str]


@dataclass
class Card:
    """One dashboard card: a chart spec and the table of the numbers drawn."""

    id: str
    title: str
    spec: dict[str, Any]
    columns: list[tuple[str, str]]  # (key, heading)
    rows: list[dict[str, Any]]
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "spec": self.spec, "note": self.note,
                "table": {"columns": [{"key": k, "title": t} for k, t in self.columns],
                          "rows": self.rows}}  # fmt: skip


def _base(categories: list[str]) -> dict[str, Any]:
    return {
        "animation": False,
        "tooltip": {"trigger": "axis"},
        "legend": {"type": "scroll", "top": 0},
        "grid": {"left": 48, "right": 16, "top": 36, "bottom": 56, "containLabel": True},
        "xAxis": {"type": "category", "data": categories},
        "yAxis": {"type": "value"},
        "dataZoom": [{"type": "inside"}],
    }


def demand_card(picture: dict[str, Any], _: Translate) -> Card:
    """Demand, forecast with its band, orders on hand and plan per bucket."""
    rows = picture["rows"]
    cats = [r["bucket"] for r in rows]
    low = [r["forecast_low"] for r in rows]
    width = [None if r["forecast_high"] is None
             else round(r["forecast_high"] - r["forecast_low"], 3) for r in rows]  # fmt: skip
    spec = _base(cats)
    spec["series"] = [
        {"id": "demand", "name": _("Demand"), "type": "line", "data": [r["demand"] for r in rows]},
        {"id": "forecast", "name": _("Forecast"), "type": "line",
         "lineStyle": {"type": "dashed"}, "data": [r["forecast"] for r in rows]},
        {"id": "band_low", "name": _("Forecast band"), "type": "line", "stack": "band",
         "symbol": "none", "lineStyle": {"opacity": 0}, "data": low},
        {"id": "band", "name": _("Forecast band"), "type": "line", "stack": "band",
         "symbol": "none", "lineStyle": {"opacity": 0}, "areaStyle": {"opacity": 0.2},
         "data": width},
        {"id": "orders", "name": _("Orders on hand"), "type": "bar",
         "data": [r["orders"] for r in rows]},
        {"id": "plan", "name": _("Production plan"), "type": "bar",
         "data": [r["plan"] for r in rows]},
    ]  # fmt: skip
    columns = [("bucket", _("From")), ("demand", _("Demand")), ("forecast", _("Forecast")),
               ("forecast_low", _("Band low")), ("forecast_high", _("Band high")),
               ("orders", _("Orders on hand")), ("plan", _("Production plan"))]  # fmt: skip
    return Card("demand", _("Demand, forecast and plan"), spec, columns, rows)


def capacity_card(outlook: dict[str, Any], _: Translate) -> Card:
    """Load % per line and bucket as a heat map; 100 % and more is an overload."""
    lines = outlook["lines"]
    cats = [r["bucket"] for r in lines[0]["rows"]] if lines else []
    data = []
    rows = []
    for j, line in enumerate(lines):
        for i, r in enumerate(line["rows"]):
            pct = None if r["load_pct"] is None else round(r["load_pct"] * 100, 1)
            data.append([i, j, pct if pct is not None else "-"])
            rows.append({"line": line["line"], **r})
    spec = _base(cats)
    spec.pop("dataZoom")
    spec["tooltip"] = {"position": "top"}
    spec["yAxis"] = {"type": "category", "data": [line["line"] for line in lines]}
    spec["visualMap"] = {"type": "piecewise", "orient": "horizontal", "left": "center",
                         "bottom": 0, "dimension": 2, "pieces": [
                             {"lt": 85, "label": "< 85 %", "color": "#9bd3ae"},
                             {"gte": 85, "lte": 100, "label": "85–100 %", "color": "#f3d36b"},
                             {"gt": 100, "label": _("overload"), "color": "#e06c5a"}]}  # fmt: skip
    spec["series"] = [{"id": "load_pct", "name": _("Load %"), "type": "heatmap", "data": data,
                       "label": {"show": len(cats) <= 13}}]  # fmt: skip
    columns = [("line", _("Line")), ("bucket", _("From")), ("available", _("Available hours")),
               ("load", _("Load hours")), ("load_pct", _("Load %")),
               ("line_hours", _("Line hours")), ("overload", _("Overload"))]  # fmt: skip
    over = sum(line["overloads"] for line in lines)
    return Card("capacity", _("Capacity load per line"), spec, columns, rows,
                note=_("%(n)s overloaded line-weeks", n=over))  # fmt: skip


def stock_card(outlook: dict[str, Any], _: Translate) -> Card:
    """The chosen SKU's projected stock with safety stock and reorder point; every SKU's table."""
    detail = outlook["detail"] or {"sku": "-", "rows": [], "safety_stock": None,
                                   "reorder_point": None, "shortage_date": None}  # fmt: skip
    cats = [r["date"] for r in detail["rows"]]
    spec = _base(cats)
    flat = len(cats)

    def level(value: Any) -> list[Any]:
        return [value] * flat

    spec["series"] = [
        {"id": "projected", "name": _("Projected stock"), "type": "line", "symbol": "none",
         "data": [r["projected"] for r in detail["rows"]]},
        {"id": "safety_stock", "name": _("Safety stock"), "type": "line", "symbol": "none",
         "lineStyle": {"type": "dashed"}, "data": level(detail["safety_stock"])},
        {"id": "reorder_point", "name": _("Reorder point"), "type": "line", "symbol": "none",
         "lineStyle": {"type": "dotted"}, "data": level(detail["reorder_point"])},
    ]  # fmt: skip
    columns = [("sku", _("SKU")), ("on_hand", _("On hand")), ("safety_stock", _("Safety stock")),
               ("reorder_point", _("Reorder point")), ("min_projected", _("Lowest projected")),
               ("shortage_date", _("First shortage"))]  # fmt: skip
    title = _("Projected inventory: %(sku)s", sku=detail["sku"])
    note = _("%(n)s SKUs below safety stock within the horizon", n=outlook["short"])
    return Card("stock", title, spec, columns, outlook["skus"], note=note)


def sparkline(trend: list[dict[str, Any]]) -> dict[str, Any]:
    """A tile's small trend chart of stored snapshot values."""
    return {
        "animation": False, "grid": {"left": 2, "right": 2, "top": 4, "bottom": 4},
        "xAxis": {"type": "category", "show": False, "data": [t["from"] for t in trend]},
        "yAxis": {"type": "value", "show": False, "scale": True},
        "tooltip": {"trigger": "axis"},
        "series": [{"id": "trend", "type": "line", "symbol": "none",
                    "data": [t["value"] for t in trend]}],
    }  # fmt: skip


CARDS = ("demand", "capacity", "stock")


def table_csv(card: Card) -> str:
    """The card's table as CSV with a header row of the column keys."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([k for k, _ in card.columns])
    for row in card.rows:
        writer.writerow(["" if row.get(k) is None else _cell(row.get(k)) for k, _ in card.columns])
    return out.getvalue()


def _cell(value: Any) -> str:
    text = str(value)
    # A cell starting with = + - @ would be a formula in a spreadsheet: quote it as text.
    if text[:1] in ("=", "+", "@") or (text[:1] == "-" and not _number(text)):
        return "'" + text
    return text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
