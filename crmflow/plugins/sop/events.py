"""`inventory.changed`: store the new level, then add safety stock and the shortage date."""

from __future__ import annotations

import datetime as dt
from typing import Any

from crmflow.core.domain.inventory import projected_inventory, update_position
from crmflow.core.domain.planning import replenishment_sizing
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
    with engine.db.begin() as conn:
        if "on_hand" in payload:
            stored = update_position(
                conn,
                payload["sku"],
                location,
                payload["on_hand"],
                by=str(payload.get("by") or "system"),
                now=now,
                day=payload.get("date"),
                kind=payload.get("stock_kind"),
            )
            payload["on_hand"] = stored["on_hand"]
        proj = projected_inventory(engine, payload["sku"], location=location, conn=conn)
        sizing = replenishment_sizing(engine, conn, payload["sku"], location, today=now.date())
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
