"""Human names of KPI keys and figures, translated (the keys stay the JSON names)."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["format_kpi", "kpi_label"]


def kpi_label(key: str, _: Callable[..., str]) -> str:
    """The title of a KPI key in the current language (the key itself when unknown)."""
    labels = {
        "order_fill_rate": _("Order fill rate"),
        "line_fill_rate": _("Line fill rate"),
        "unit_fill_rate": _("Unit fill rate"),
        "on_time_delivery": _("On-time delivery"),
        "forecast_accuracy": _("Forecast accuracy"),
        "forecast_bias": _("Forecast bias"),
        "inventory_turnover": _("Inventory turnover"),
        "days_inventory_outstanding": _("Days inventory outstanding"),
        "delivery_lead_time_days": _("Delivery lead time (days)"),
        "rush_response_hours": _("Rush response (hours)"),
    }
    return labels.get(key, key)


def format_kpi(value: float | None, unit: str | None) -> str:
    """A KPI for people: fractions as percentages, the rest with two decimals, None as –."""
    if value is None:
        return "–"
    if unit == "fraction":
        return f"{value * 100:.1f} %"
    return f"{value:,.2f}"
