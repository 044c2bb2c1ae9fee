"""Built-in KPI plugin: the KPIs of kpis.md, `crmflow kpi`, snapshots and thresholds."""

from __future__ import annotations

from typing import Any

from crmflow.hookspecs import hookimpl

from .fill import line_fill_rate, on_time_delivery, order_fill_rate, unit_fill_rate
from .forecast_kpis import forecast_accuracy, forecast_bias
from .pilot import pilot_comparison
from .protocol import Calculator, KpiContext, KpiValue, ratio
from .schedule import run_due_snapshots, snapshot_and_check
from .service import kpi_report
from .snapshots import read_trend, take_snapshot
from .stock import days_inventory_outstanding, inventory_turnover
from .times import delivery_lead_time_days, rush_response_hours

__all__ = [
    "BUILTIN_KPIS",
    "Calculator",
    "KpiContext",
    "KpiValue",
    "kpi_report",
    "pilot_comparison",
    "ratio",
    "read_trend",
    "register_admin_blueprints",
    "register_commands",
    "register_kpis",
    "run_due_snapshots",
    "run_scheduled",
    "snapshot_and_check",
    "take_snapshot",
]

#: key -> (calculator, unit, extra keys), in the order of kpis.md.
BUILTIN_KPIS: dict[str, tuple[Any, str, tuple[str, ...]]] = {
    "order_fill_rate": (order_fill_rate, "fraction", ()),
    "line_fill_rate": (line_fill_rate, "fraction", ()),
    "unit_fill_rate": (unit_fill_rate, "fraction", ()),
    "on_time_delivery": (on_time_delivery, "fraction", ()),
    "forecast_accuracy": (forecast_accuracy, "fraction", ()),
    "forecast_bias": (forecast_bias, "fraction", ()),
    "inventory_turnover": (inventory_turnover, "turns", ()),
    "days_inventory_outstanding": (days_inventory_outstanding, "days", ()),
    "delivery_lead_time_days": (delivery_lead_time_days, "days", ("p50", "p90")),
    "rush_response_hours": (rush_response_hours, "hours", ("p90",)),
}


@hookimpl
def register_kpis(register: Any) -> None:
    for key, (calculator, unit, extras) in BUILTIN_KPIS.items():
        doc = (calculator.__doc__ or "").strip().split("\n")[0]
        register(key, calculator, description=doc, unit=unit, extras=extras)


@hookimpl
def run_scheduled(engine: Any, now: Any) -> None:
    """Store the KPI snapshots the factory's `snapshot_cron` says are due."""
    run_due_snapshots(engine, now)


@hookimpl
def register_admin_blueprints(register: Any) -> None:
    from .web import bp

    register(bp, url_prefix="/kpi", menu="KPIs")


@hookimpl
def register_commands(cli: Any, helpers: Any) -> None:
    from .cli import kpi, use_helpers

    use_helpers(helpers)
    cli.add_command(kpi)
