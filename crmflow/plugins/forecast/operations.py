"""Engine-facing forecast operations and the forecast-run and forecast-accuracy commands."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from .registry import DEFAULT_TOP, model_pool, registered_models
from .service import (
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW,
    accuracy_report,
    record_accuracy,
    run_forecast,
)

__all__ = ["check_accuracy", "forecast_accuracy_command", "forecast_run_command", "refresh"]


def refresh(engine: Any, *, now: dt.datetime | None = None) -> int | None:
    """Forecast every SKU from the engine's order history with the factory's settings.

    Settings (``plugins: forecast:`` in the factory config): ``horizon``
    (months, default 6), ``models`` (candidate list), ``top`` (default 3).
    """
    settings = engine.plugin_settings("forecast") or {}
    available = registered_models(engine.registry)
    pool = model_pool(available, settings.get("models"))
    return run_forecast(engine.db, now=now or engine.now(), horizon=int(settings.get("horizon", 6)),
                        models=pool, top=int(settings.get("top", DEFAULT_TOP)))  # fmt: skip


def check_accuracy(engine: Any, *, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Record accuracy of finished months; emit ``forecast.accuracy_dropped`` below threshold.

    Settings: ``accuracy_threshold`` (default 0.6) and ``accuracy_window``
    (finished months of lag-1 forecasts, default 3).
    """
    settings = engine.plugin_settings("forecast") or {}
    return record_accuracy(
        engine.db, now=now or engine.now(),
        threshold=float(settings.get("accuracy_threshold", DEFAULT_THRESHOLD)),
        window=int(settings.get("accuracy_window", DEFAULT_WINDOW)),
        emit=lambda event, payload: engine.emit(event, payload),
    )  # fmt: skip


def _engine(ctx: click.Context) -> Any:
    from crmflow.cli import open_engine

    return open_engine(ctx)


@click.command("forecast-run")
@click.pass_context
def forecast_run_command(ctx: click.Context) -> None:
    """Forecast every SKU from the order history and store a snapshot; print its id."""
    snap = refresh(_engine(ctx))
    click.echo("no order history" if snap is None else str(snap))


@click.command("forecast-accuracy")
@click.option("--by", type=click.Choice(["sku", "family", "segment", "lag"]), default="sku")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def forecast_accuracy_command(ctx: click.Context, by: str, as_json: bool) -> None:
    """Compare forecasts with actuals, raise accuracy events, print the report."""
    engine = _engine(ctx)
    events = check_accuracy(engine)
    rows = accuracy_report(engine.db, by=by, lag=None if by == "lag" else 1)
    if as_json:
        click.echo(json.dumps({"events": events, "accuracy": rows}, default=str))
        return
    for row in rows:
        acc = "n/a" if row["accuracy"] is None else f"{row['accuracy']:.3f}"
        click.echo(f"{row[by]}\taccuracy {acc}\tperiods {row['periods']}")
    for event in events:
        click.echo(f"forecast.accuracy_dropped {json.dumps(event)}")
