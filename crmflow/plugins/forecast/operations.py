"""Engine-facing forecast operations and the forecast-run and forecast-accuracy commands."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from crmflow.textable import format_table

from .champions import champion_report

__all__ = ["ACCURACY_NOTE", "accuracy_table", "build_commands", "check_accuracy", "refresh"]


def refresh(engine: Any, *, now: dt.datetime | None = None) -> int | None:
    """Forecast every SKU from the engine's order history with the factory's settings.

    Settings (``plugins: forecast:`` in the factory config): ``horizon``
    (months, default 6), ``models`` (candidate list), ``top`` (default 3).
    """
    from .registry import DEFAULT_TOP, model_pool, registered_models
    from .service import run_forecast

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
    from .service import DEFAULT_THRESHOLD, DEFAULT_WINDOW, record_accuracy

    settings = engine.plugin_settings("forecast") or {}
    return record_accuracy(
        engine.db, now=now or engine.now(),
        threshold=float(settings.get("accuracy_threshold", DEFAULT_THRESHOLD)),
        window=int(settings.get("accuracy_window", DEFAULT_WINDOW)),
        emit=lambda event, payload: engine.emit(event, payload),
    )  # fmt: skip


def build_commands(helpers: Any) -> list[click.Command]:
    """``forecast-run`` and ``forecast-accuracy``, opening the engine with ``helpers``."""

    @click.command("forecast-run")
    @click.pass_context
    def forecast_run_command(ctx: click.Context) -> None:
        """Forecast every SKU from the order history and store a snapshot; print its id."""
        engine = helpers.open_engine(ctx)
        snap = refresh(engine)
        if snap is None:
            click.echo("no order history")
            return
        click.echo(str(snap))
        rows = champion_report(engine.db)
        uses = [r for r in rows if r["sources"] != "orders"]
        click.echo(f"{len(rows)} SKUs; {len(uses)} use demand signals beside the orders"
                   + "".join(f"\n  {r['sku']}: {r['sources']} ({r['model']})"
                             for r in uses), err=True)  # fmt: skip

    @click.command("forecast-accuracy")
    @click.option("--by", type=click.Choice(["sku", "family", "segment", "lag"]),
                  default="sku")  # fmt: skip
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_context
    def forecast_accuracy_command(ctx: click.Context, by: str, as_json: bool) -> None:
        """Compare forecasts with actuals, raise accuracy events, print the report."""
        engine = helpers.open_engine(ctx)
        from .service import accuracy_report

        events = check_accuracy(engine)
        rows = accuracy_report(engine.db, by=by, lag=None if by == "lag" else 1)
        champions = {r["sku"]: r for r in champion_report(engine.db)} if by == "sku" else {}
        if as_json:
            for row in rows:
                if row.get("sku") in champions:
                    row["champion"] = champions[row["sku"]]
            click.echo(json.dumps({"events": events, "accuracy": rows}, default=str))
            return
        click.echo(format_table(*accuracy_table(rows, by, champions)))
        click.echo(ACCURACY_NOTE)
        for event in events:
            click.echo(f"forecast.accuracy_dropped {json.dumps(event)}")

    return [forecast_run_command, forecast_accuracy_command]


#: What the figures of ``forecast-accuracy`` mean, printed under its table.
ACCURACY_NOTE = (
    "accuracy = 1 - WAPE; WAPE = sum|forecast - actual| / sum actual over the months "
    "(lag 1);\nbelow 0 when the errors add up to more than the demand itself (WAPE > 1), "
    "as on small segments\nwhose share of a SKU's forecast missed. bias = sum(forecast - "
    "actual) / sum actual: above 0\nover-forecast, below 0 under-forecast. Segment figures "
    "split each SKU's forecast by the\nsegment's share of the 12 months before it."
)


def accuracy_table(
    rows: list[dict[str, Any]], by: str, champions: dict[str, dict[str, Any]]
) -> tuple[list[str], list[list[Any]]]:
    """Headers and rows of the accuracy report; by SKU with the live model and its sources."""
    headers = [by, "accuracy", "WAPE", "bias", "MASE", "months", "forecast", "actual"]
    if champions:
        headers += ["live model", "sources"]
    body = []
    for row in rows:
        line = [row[by], row["accuracy"], row["wape"], row["bias"], row["mase"],
                row["periods"], round(row["forecast"], 1), round(row["actual"], 1)]  # fmt: skip
        if champions:
            champ = champions.get(row[by], {})
            line += [champ.get("model"), champ.get("sources")]
        body.append(line)
    return headers, body
