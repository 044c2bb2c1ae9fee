"""Built-in KPI plugin: the KPIs of kpis.md, `crmflow kpi`, snapshots and thresholds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crmflow.hookspecs import hookimpl
from crmflow.lazy import lazy

if TYPE_CHECKING:  # pragma: no cover
    from .pilot import pilot_comparison
    from .protocol import Calculator, KpiContext, KpiValue, ratio
    from .schedule import run_due_snapshots, snapshot_and_check
    from .service import kpi_report
    from .snapshots import read_trend, take_snapshot

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

#: key -> (module:calculator, unit, extra keys, description), in the order of kpis.md.
#: The calculators are registered lazily: their modules load when a KPI is computed.
BUILTIN_KPIS: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "order_fill_rate": ("fill:order_fill_rate", "fraction", (),
                        "Orders due in the period whose every line was in full by the order's "
                        "due date ÷ orders due."),
    "line_fill_rate": ("fill:line_fill_rate", "fraction", (),
                       "Due order lines delivered in full by their due date ÷ due order lines."),
    "unit_fill_rate": ("fill:unit_fill_rate", "fraction", (),
                       "Σ min(ordered, delivered by the due date) ÷ Σ ordered, over due lines."),
    "on_time_delivery": ("fill:on_time_delivery", "fraction", (),
                         "Lines completed in the period by their due date ÷ lines completed in "
                         "the period."),
    "forecast_accuracy": ("forecast_kpis:forecast_accuracy", "fraction", (),
                          "1 − WAPE over SKU × month pairs, WAPE = Σ|A − F| ÷ ΣA, F from the "
                          "lag-1 snapshot."),
    "forecast_bias": ("forecast_kpis:forecast_bias", "fraction", (),
                      "Σ(F − A) ÷ ΣA over the same pairs as forecast accuracy (positive: "
                      "over-forecast)."),
    "inventory_turnover": ("stock:inventory_turnover", "turns", (),
                           "Cost of goods delivered in the period ÷ average inventory value "
                           "over the stock counts."),
    "days_inventory_outstanding": ("stock:days_inventory_outstanding", "days", (),
                                   "Days in the period ÷ inventory turnover (``None`` when "
                                   "turnover is 0 or unknown)."),
    "delivery_lead_time_days": ("times:delivery_lead_time_days", "days", ("p50", "p90"),
                                "Mean days from order date to completion, over orders "
                                "completed in the period."),
    "rush_response_hours": ("times:rush_response_hours", "hours", ("p90",),
                            "Mean hours from a rush order's start to a person's first move out "
                            "of its initial state."),
}  # fmt: skip
_LAZY_EXPORTS = {
    "Calculator": "protocol", "KpiContext": "protocol", "KpiValue": "protocol",
    "ratio": "protocol", "kpi_report": "service", "pilot_comparison": "pilot",
    "read_trend": "snapshots", "take_snapshot": "snapshots",
    "run_due_snapshots": "schedule", "snapshot_and_check": "schedule",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    """The public names, imported on first use."""
    if name in _LAZY_EXPORTS:
        import importlib

        value = getattr(importlib.import_module(f"{__name__}.{_LAZY_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@hookimpl
def register_kpis(register: Any) -> None:
    for key, (target, unit, extras, doc) in BUILTIN_KPIS.items():
        register(key, lazy(f"{__name__}.{target}", __doc__=doc), description=doc, unit=unit,
                 extras=extras)  # fmt: skip


@hookimpl
def run_scheduled(engine: Any, now: Any) -> None:
    """Store the KPI snapshots the factory's `snapshot_cron` says are due."""
    from .schedule import run_due_snapshots

    run_due_snapshots(engine, now)


@hookimpl
def register_admin_blueprints(register: Any) -> None:
    register(lazy(f"{__name__}.web:bp", name="kpi"), url_prefix="/kpi", menu="KPIs")


@hookimpl
def register_commands(cli: Any, helpers: Any) -> None:
    from .cli import kpi, use_helpers

    use_helpers(helpers)
    cli.add_command(kpi)
