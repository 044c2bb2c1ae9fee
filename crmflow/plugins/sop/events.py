"""`inventory.changed`: store the new level, then add safety stock and the shortage date."""

from __future__ import annotations

import datetime as dt
from typing import Any

from crmflow.core.domain.inventory import plugin_forecast, projected_inventory, update_position
from crmflow.core.domain.planning import replenishment_sizing
from crmflow.core.domain.settings import settings
from crmflow.core.store import reading
from crmflow.errors import InputError

__all__ = ["on_inventory_changed"]


def on_inventory_changed(engine: Any, payload: dict[str, Any]) -> None:
    """Update the position the event names and enrich the payload in place.

    Adds ``safety_stock``, ``projected_shortage_date`` (ISO date or None),
    ``lead_time_days``, ``kind`` (``made``/``bought``), ``shortage_within_lead_time``,
    ``location`` and ``replenishment`` (the reorder-rule proposal, not yet written).
    A bad payload raises InputError before anything is stored.
    """
    if not payload.get("sku"):
        raise InputError("inventory.changed needs a sku", field="sku")
    location = payload.get("location") or "MAIN"
    payload["location"] = location
    now = engine.now()
    today = now.date()
    if "on_hand" in payload:
        with engine.db.begin() as conn:
            stored = update_position(
                conn, payload["sku"], location, payload["on_hand"],
                by=str(payload.get("by") or "system"), now=now, day=payload.get("date"),
                kind=payload.get("stock_kind"),
            )  # fmt: skip
        payload["on_hand"] = stored["on_hand"]
    # The forecast plugin reads on its own connection: ask it before opening ours.
    days = max(int(settings(engine)["planning_horizon_days"]), 120)
    forecast = plugin_forecast(engine, payload["sku"], today, days)
    with reading(engine.db) as conn:
        proj = projected_inventory(engine, payload["sku"], location=location, conn=conn,
                                   start=today, forecast=forecast)  # fmt: skip
        sizing = replenishment_sizing(engine, conn, payload["sku"], location, today=today,
                                      forecast=forecast)  # fmt: skip
    today = now.date()
    lead = int(proj["lead_time_days"] or 0)
    shortage = proj["shortage_date"]
    within = shortage is not None and dt.date.fromisoformat(shortage) <= today + dt.timedelta(
        days=lead
    )
    payload.update({
        "safety_stock": proj["safety_stock"], "projected_shortage_date": shortage,
        "lead_time_days": lead, "kind": proj["kind"], "shortage_within_lead_time": within,
        "projected_min": proj["min_projected"], "forecast_source": proj["forecast_source"],
        "replenishment": sizing,
    })  # fmt: skip
