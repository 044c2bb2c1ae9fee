"""Demand forecasting plugin: models, per-series selection, accuracy tracking."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crmflow.hookspecs import hookimpl
from crmflow.lazy import lazy

if TYPE_CHECKING:  # pragma: no cover
    import click

    from .operations import refresh
    from .protocol import Batch, ForecastModel, Forecasts, local_model

__all__ = [
    "BUILTIN_MODEL_TABLE",
    "Batch",
    "ForecastModel",
    "Forecasts",
    "demand_forecast",
    "local_model",
    "refresh",
    "register_commands",
    "register_forecast_models",
]


#: name -> (description, opt-in): the built-in models of .models, registered lazily.
BUILTIN_MODEL_TABLE: dict[str, tuple[str, bool]] = {
    "seasonal_naive": ("repeat last season (benchmark)", True),
    "naive": ("repeat last value (benchmark)", True),
    "ets": ("exponential smoothing, AICc-selected (log scale)", False),
    "holt_winters": ("damped Holt-Winters (log scale)", False),
    "theta": ("Theta method, seasonally adjusted", False),
    "pooled": ("global ridge model over all series' log windows", False),
    "combination": ("mean of ets, holt_winters, theta, pooled", False),
    "croston": ("Croston SBA for intermittent demand", False),
    "tsb": ("TSB for intermittent demand", False),
    "arima": ("AutoARIMA via statsforecast (slow)", True),
}
_LAZY_EXPORTS = {
    "Batch": ".protocol", "ForecastModel": ".protocol", "Forecasts": ".protocol",
    "local_model": ".protocol", "refresh": ".operations",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    """The public names, imported on first use (numpy loads only when forecasting)."""
    if name in _LAZY_EXPORTS:
        import importlib

        value = getattr(importlib.import_module(_LAZY_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@hookimpl
def register_forecast_models(register: Any) -> None:
    """The built-in models; ``naive``, ``seasonal_naive`` and ``arima`` are opt-in."""
    for name, (description, opt_in) in BUILTIN_MODEL_TABLE.items():
        register(name, lazy("crmflow.plugins.forecast.models:BUILTIN_MODELS", name,
                            __doc__=description), description=description,
                 opt_in=opt_in)  # fmt: skip


@hookimpl
def register_commands(cli: click.Group, helpers: Any) -> None:
    """Add ``crmflow forecast`` (with ``champions``), ``forecast-run`` and ``forecast-accuracy``."""
    from .champions import build_champions
    from .command import forecast_command
    from .operations import build_commands

    forecast_command.add_command(build_champions(helpers))
    cli.add_command(forecast_command)
    for command in build_commands(helpers):
        cli.add_command(helpers.common_options(command))


@hookimpl
def demand_forecast(engine: Any, skus: list[str], start: Any, days: int) -> Any:
    """Daily demand from the live forecast snapshot (None when there is none)."""
    from .service import daily_forecast

    return daily_forecast(engine.db, skus, start, days)
