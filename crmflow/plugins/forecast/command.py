"""The ``crmflow forecast`` command: long-format CSV in, forecasts CSV out."""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

import click

from crmflow.core.csvsafe import safe_cell

if TYPE_CHECKING:  # pragma: no cover - the modules load when a forecast runs
    from .inputs import LongInput
    from .selection import PanelForecast

__all__ = ["forecast_command", "forecast_long", "write_forecasts"]

_BAR_MIN_SERIES = 50
DEFAULT_TOP = 3  # as .registry.DEFAULT_TOP, without importing the models for --help


def forecast_long(
    data: LongInput, horizon: int, *, season: int | None = None, models: Any = None,
    regressor_files: dict[str, str] | None = None, top: int = DEFAULT_TOP,
    progress: Callable[[int, int], None] | None = None,
) -> PanelForecast:  # fmt: skip
    """Forecast every series of a parsed long-format file (the command's Python API)."""
    from .registry import model_pool, registered_models
    from .regressors import build_regressors, read_regressor_csv
    from .selection import forecast_panel
    season = season or data.fmt.season
    pool = models if models is not None else model_pool(registered_models())
    sources = [read_regressor_csv(path, kind) for kind, path in (regressor_files or {}).items()]
    regressors = None
    if sources:
        periods = [
            [data.fmt.label(s.start + k * data.fmt.step) for k in range(len(s.values) + horizon)]
            for s in data.series
        ]
        regressors = build_regressors(
            [(s.series_id, s.family) for s in data.series], periods, sources
        )
    return forecast_panel(
        [s.values for s in data.series], horizon, season, pool,
        regressors=regressors, top=top, progress=progress,
    )  # fmt: skip


def write_forecasts(out: TextIO, data: LongInput, result: PanelForecast) -> None:
    """Write ``series_id,date,value`` rows, periods continued in the input's format."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["series_id", "date", "value"])
    fmt = data.fmt
    for series, row in zip(data.series, result.values, strict=True):
        last = series.start + (len(series.values) - 1) * fmt.step
        for k, value in enumerate(row, start=1):
            writer.writerow(
                [
                    safe_cell(series.series_id),  # an id such as =HYPERLINK(...) stays text
                    fmt.label(last + k * fmt.step),
                    f"{value:.6g}" if abs(value) >= 1e6 else f"{round(float(value), 4):g}",
                ]
            )


@click.group("forecast", invoke_without_command=True)
@click.option(
    "--input",
    "input_path",
    default=None,
    type=click.Path(dir_okay=False),
    help="Long-format CSV: series_id,period,value (optional family column).",
)
@click.option(
    "--horizon", default=None, type=click.IntRange(min=1), help="Number of periods to forecast."
)
@click.option(
    "--season",
    type=click.IntRange(min=1),
    default=None,
    help="Periods per seasonal cycle (default: 12 monthly, 52 weekly, 7 daily, 1).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Output CSV (default: standard output).",
)
@click.option(
    "--models",
    default=None,
    metavar="A,B,…",
    help="Candidate models (default: every registered model that is not opt-in).",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=DEFAULT_TOP,
    show_default=True,
    help="Each series averages its TOP best models by rolling-origin backtest.",
)
@click.option(
    "--market",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Market index CSV (period,value; series_id or family optional).",
)
@click.option(
    "--pipeline",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Open pipeline CSV (period,quantity,probability; series_id or family).",
)
@click.option(
    "--feedback",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Customer feedback CSV (period,value; series_id or family).",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Also write the chosen model per series and its backtest MASE to this CSV.",
)
@click.pass_context
def forecast_command(
    ctx: click.Context, input_path: str | None, horizon: int | None, season: int | None,
    output: str | None, models: str | None,
    top: int, market: str | None, pipeline: str | None, feedback: str | None,
    report: str | None,
) -> None:  # fmt: skip
    """Forecast long-format series; every series gets the mean of its best models.

    A bad series (missing or non-numeric value, duplicate period, too short)
    is reported on stderr with its row and skipped; the others are forecast
    and the exit code is 0. A missing column stops the command (exit 2).
    ``crmflow forecast champions`` shows the factory's live models instead.
    """
    if ctx.invoked_subcommand is not None:
        return
    for value, name in ((input_path, "--input"), (horizon, "--horizon")):
        if value is None:
            raise click.UsageError(f"Missing option '{name}'.", ctx=ctx)
    assert input_path is not None and horizon is not None
    from .inputs import read_long_csv
    from .registry import model_pool, registered_models

    data = read_long_csv(input_path)
    for problem in data.problems:
        click.echo(f"error: {problem}", err=True)
    names = [n.strip() for n in models.split(",") if n.strip()] if models else None
    pool = model_pool(registered_models(), names)
    files = {k: v for k, v in (("market", market), ("pipeline", pipeline),
                               ("feedback", feedback)) if v}  # fmt: skip
    if len(data.series) >= _BAR_MIN_SERIES:
        with click.progressbar(length=1, label="forecasting", file=sys.stderr) as bar:

            def progress(done: int, total: int) -> None:
                bar.length = total
                bar.update(done - bar.pos)

            result = forecast_long(
                data,
                horizon,
                season=season,
                models=pool,
                regressor_files=files,
                top=top,
                progress=progress,
            )
    else:
        result = forecast_long(data, horizon, season=season, models=pool,
                               regressor_files=files, top=top)  # fmt: skip
    if output:
        with open(output, "w", newline="", encoding="utf-8") as handle:
            write_forecasts(handle, data, result)
    else:
        write_forecasts(sys.stdout, data, result)
    if report:
        with open(report, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(
                [
                    "series_id",
                    "kind",
                    "model",
                    "backtest_mase",
                    "challenger",
                    "challenger_mase",
                    "reason",
                ]
            )
            for series, choice in zip(data.series, result.choices, strict=True):
                writer.writerow(
                    [
                        safe_cell(series.series_id),
                        choice.kind,
                        choice.model,
                        f"{choice.score:.4f}",
                        choice.challenger or "",
                        f"{choice.challenger_score:.4f}",
                        choice.reason,
                    ]
                )
