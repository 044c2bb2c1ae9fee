"""Demand forecasting plugin: models, per-series selection, accuracy tracking."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crmflow.hookspecs import hookimpl

from .models import BUILTIN_MODELS
from .operations import refresh
from .protocol import Batch, ForecastModel, Forecasts, local_model

if TYPE_CHECKING:  # pragma: no cover
    import click

__all__ = [
    "Batch",
    "ForecastModel",
    "Forecasts",
    "demand_forecast",
    "local_model",
    "refresh",
    "register_commands",
    "register_forecast_models",
]


@hookimpl
def register_forecast_models(register: Any) -> None:
    """The built-in models; ``naive``, ``seasonal_naive`` and ``arima`` are opt-in."""
    for name, (model, description, opt_in) in BUILTIN_MODELS.items():
        register(name, model, description=description, opt_in=opt_in)


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
