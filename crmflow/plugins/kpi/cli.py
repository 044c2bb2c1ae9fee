"""`crmflow kpi …`: KPI values, breakdowns, snapshots, trends and pilot comparisons."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from .periods import KINDS, Period, last_full, parse_date

__all__ = ["kpi", "use_helpers"]

#: as .breakdown.DIMENSIONS (a test keeps them equal), without importing SQLAlchemy for --help
DIMENSIONS = ("department", "segment", "family", "sku")

#: The CLI helpers ``register_commands`` handed this plugin.
_helpers: list[Any] = []


def use_helpers(helpers: Any) -> None:
    """Keep the CLI's helpers (``register_commands``) for the ``kpi`` commands."""
    _helpers[:] = [helpers]


def _engine(ctx: click.Context) -> Any:
    if not _helpers:
        raise click.UsageError("the kpi commands run under the crmflow CLI", ctx=ctx)
    return _helpers[0].open_engine(ctx)


def _date(value: str | None, option: str) -> dt.date | None:
    return parse_date(value, option) if value else None


def _now(value: str | None, engine: Any) -> dt.datetime:
    if not value:
        return engine.now()
    try:
        now = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint="--now") from None
    if now.tzinfo is None:  # like `tick --now`: a time without offset is the factory's
        from .service import factory_timezone

        now = now.replace(tzinfo=factory_timezone(engine.factory))
    return now.astimezone(dt.UTC)


def _dump(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, default=str))


def _fmt(value: float | None, unit: str | None) -> str:
    if value is None:
        return "-"
    if unit == "fraction":
        return f"{value * 100:.1f}%"
    return f"{value:.2f}"


def _print_report(report: dict[str, Any]) -> None:
    units = report.get("units", {})
    period = report["period"]
    click.echo(f"KPIs {period['from']} .. {period['to']} (exclusive), {period['days']} days")
    for key, value in report.items():
        if key in ("period", "factory", "units", "details", "by"):
            continue
        unit = units.get(key) or units.get(key.rsplit("_", 1)[0])
        click.echo(f"  {key:<34} {_fmt(value, unit):>10}")
    by = report.get("by")
    if by:
        click.echo(f"by {by['dimension']}:")
        for group, values in by["groups"].items():
            shown = ", ".join(
                f"{k}={_fmt(v, units.get(k))}"
                for k, v in values.items()
                if k in units and v is not None
            )
            click.echo(f"  {group}: {shown}")


@click.group(invoke_without_command=True)
@click.option("--from", "start", metavar="DATE", help="first day (ISO date)")
@click.option("--to", "end", metavar="DATE", help="day after the last (exclusive)")
@click.option("--by", type=click.Choice(DIMENSIONS), help="break the KPIs down")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def kpi(
    ctx: click.Context, start: str | None, end: str | None, by: str | None, as_json: bool
) -> None:
    """KPI values of the factory for a period: fill rates, on-time, forecast, stock, lead times.

    The period is [--from, --to); without dates, the last full month. The
    definitions are in docs/kpis.md.
    """
    if ctx.invoked_subcommand is not None:
        return
    from .service import kpi_report

    engine = _engine(ctx)
    report = kpi_report(engine, _date(start, "--from"), _date(end, "--to"), by)
    _dump(report) if as_json else _print_report(report)


@kpi.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_kpis(ctx: click.Context, as_json: bool) -> None:
    """The KPIs the factory computes, with their unit and plugin."""
    from .service import engine_kpis

    specs = engine_kpis(_engine(ctx))
    rows = [
        {
            "key": s.key,
            "keys": s.keys,
            "unit": s.unit,
            "plugin": s.plugin,
            "description": s.description,
        }
        for s in specs
    ]
    if as_json:
        _dump(rows)
        return
    for row in rows:
        click.echo(
            f"{row['key']:<30} {row['unit'] or '':<9} {row['plugin']:<10} "
            f"{row['description'] or ''}"
        )


@kpi.command("snapshot")
@click.option(
    "--period",
    "kind",
    type=click.Choice(KINDS),
    default="month",
    show_default=True,
    help="store the last full period of this kind",
)
@click.option("--from", "start", metavar="DATE", help="or an explicit period: first day")
@click.option("--to", "end", metavar="DATE", help="day after the last (exclusive)")
@click.option(
    "--by",
    "dims",
    multiple=True,
    type=click.Choice(DIMENSIONS),
    help="breakdowns to store (repeat; default: plugins.kpi.snapshot_by)",
)
@click.option("--due-only", is_flag=True, help="only what the snapshot_cron schedule says is due")
@click.option("--now", metavar="ISO8601", help="the time to act at (default: now)")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def snapshot(
    ctx: click.Context,
    kind: str,
    start: str | None,
    end: str | None,
    dims: tuple[str, ...],
    due_only: bool,
    now: str | None,
    as_json: bool,
) -> None:
    """Store the KPIs of a period (and its breakdowns); raise threshold events."""
    from .schedule import run_due_snapshots, snapshot_and_check
    from .service import factory_timezone

    engine = _engine(ctx)
    at = _now(now, engine)
    if due_only:
        results = run_due_snapshots(engine, at)
    else:
        if start or end:
            first, last = _date(start, "--from"), _date(end, "--to")
            if first is None or last is None:
                raise click.UsageError("give both --from and --to, or neither")
            period, period_kind = Period(first, last), None
        else:
            today = at.astimezone(factory_timezone(engine.factory)).date()
            period, period_kind = last_full(kind, today), kind
        result, events = snapshot_and_check(
            engine, period, kind=period_kind, dimensions=dims or None
        )
        results = [{**result.as_json(), "events": events}]
    if as_json:
        _dump(results)
        return
    if not results:
        click.echo("no snapshot due")
    for item in results:
        p = item["period"]
        click.echo(
            f"stored {item['rows']} values for {p['from']} .. {p['to']}"
            f" ({', '.join(item['dimensions']) or 'total only'});"
            f" {len(item['events'])} threshold event(s)"
        )


@kpi.command("trend")
@click.argument("key")
@click.option("--period", "kind", type=click.Choice(KINDS), default="month", show_default=True)
@click.option("--by", "dimension", type=click.Choice(DIMENSIONS), help="a breakdown's groups")
@click.option("--group", help="one group of the breakdown")
@click.option("--limit", type=int, default=12, show_default=True, help="how many periods")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def trend(
    ctx: click.Context,
    key: str,
    kind: str,
    dimension: str | None,
    group: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Stored snapshot values of one KPI key, oldest first (nothing is recomputed)."""
    from .snapshots import read_trend

    if group is not None and dimension is None:
        raise click.UsageError("--group needs --by")
    rows = read_trend(_engine(ctx), key, kind=kind, dimension=dimension, group=group, limit=limit)
    if as_json:
        _dump(rows)
        return
    for row in rows:
        label = f" {row['group']}" if "group" in row else ""
        value = "-" if row["value"] is None else f"{row['value']:.4f}"
        click.echo(f"{row['from']} .. {row['to']}{label}: {value}")


@kpi.command("pilot")
@click.argument("departments", nargs=-1)
@click.option("--from", "start", metavar="DATE", help="compare over [--from, --to)")
@click.option("--to", "end", metavar="DATE", help="also the end of the after-pilot window")
@click.option("--workflow", metavar="NAME", help="the pilot of this workflow's rollout")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def pilot(
    ctx: click.Context, departments: tuple[str, ...], start: str | None, end: str | None,
    workflow: str | None, as_json: bool,
) -> None:
    """KPIs of the pilot departments against the rest, and before/after the pilot started.

    DEPARTMENTS default to the rollout's pilot departments (of --workflow, or of
    everything in pilot), else every department with a pilot_start; the pilot
    starts at the rollout's `since`.
    """
    from .pilot import pilot_comparison

    result = pilot_comparison(
        _engine(ctx), departments, _date(start, "--from"), _date(end, "--to"), workflow=workflow
    )
    if as_json:
        _dump(result)
        return
    click.echo(
        f"pilot: {', '.join(result['pilot_departments'])}"
        f" (start {result['pilot_start']}); rest: {', '.join(result['rest_departments'])}"
    )
    for label in ("period", "before", "after"):
        side = result if label == "period" else result.get(label)
        if not side:
            continue
        p = side["period"]
        click.echo(f"{label}: {p['from']} .. {p['to']}")
        for key in side["pilot"]:
            pilot_v, rest_v = side["pilot"][key], side["rest"][key]
            click.echo(f"  {key:<34} pilot {pilot_v!s:>12}  rest {rest_v!s:>12}")
