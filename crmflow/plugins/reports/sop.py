"""The S&OP picture: one Python API behind the dashboard, its JSON and CSV, and the review pack."""

from __future__ import annotations

from typing import Any

from .capacity import capacity_outlook
from .charts import Card, Translate, capacity_card, demand_card, sparkline, stock_card
from .picture import demand_picture
from .selection import Selection
from .stock import stock_outlook
from .tiles import kpi_tiles
from .worklist import worklist

__all__ = ["card", "sop_picture"]


def card(engine: Any, sel: Selection, name: str, _: Translate, *,
         detail: str | None = None) -> Card:  # fmt: skip
    """One chart card (``demand``, ``capacity`` or ``stock``) for a selection."""
    if name == "demand":
        return demand_card(demand_picture(engine, sel), _)
    if name == "capacity":
        return capacity_card(capacity_outlook(engine, sel), _)
    if name == "stock":
        return stock_card(stock_outlook(engine, sel, detail=detail), _)
    raise KeyError(name)


def sop_picture(engine: Any, sel: Selection, _: Translate) -> dict[str, Any]:
    """Everything the dashboard shows: chart cards, KPI tiles (with sparklines) and the worklist."""
    tiles = kpi_tiles(engine, sel)
    for tile in tiles["tiles"]:
        tile["spark"] = sparkline(tile["trend"])
    return {
        "selection": sel.query(),
        "cards": [card(engine, sel, name, _) for name in ("demand", "capacity", "stock")],
        "kpis": tiles,
        "work": worklist(engine),
    }
