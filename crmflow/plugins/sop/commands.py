"""Planner commands: `import`, `inventory projected`, `customer(s)`, `segments`, `order`, `ctp`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from crmflow.core.domain.kind_names import IMPORT_KIND_NAMES

from . import views

# The domain services load inside each command: `crmflow --help` needs none of them.

__all__ = ["add_commands"]


def _out(value: Any, as_json: bool) -> None:
    text = json.dumps(value, indent=None if as_json else 2, default=str)
    click.echo(text)


def _show(value: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    """JSON with --json (the shapes scripts rely on), else an aligned text for people."""
    if as_json:
        _out(value, True)
    else:
        click.echo(text(value))


def add_commands(cli: click.Group, helpers: Any) -> None:
    """Add the S&OP commands to the root group; ``helpers`` opens the engine."""

    def _engine(ctx: click.Context) -> Any:
        return helpers.open_engine(ctx)

    @cli.command(name="import")
    @click.argument("kind", type=click.Choice(IMPORT_KIND_NAMES))
    @click.argument("file", type=click.Path(dir_okay=False))
    @click.option(
        "--as",
        "actor",
        default="import",
        show_default=True,
        help="Who is importing (kept on every written row).",
    )
    @click.option("--no-events", is_flag=True, help="Load history without emitting events.")
    @click.option("--encoding", metavar="NAME",
                  help="Text encoding of FILE (default UTF-8 with or without BOM; gb18030 or "
                  "gbk for Chinese Excel exports, cp1252, utf-16).")  # fmt: skip
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
    @click.pass_context
    def import_(ctx: click.Context, kind: str, file: str, actor: str, no_events: bool,
                encoding: str | None, as_json: bool) -> None:  # fmt: skip
        """Load FILE.csv of KIND; upsert by key; bad rows are listed with their line.

        Exit 0 when the file loaded (rejected rows go to stderr), 2 when a
        required column is missing (nothing was written).
        """
        from crmflow.core.domain.imports import import_csv

        report = import_csv(
            _engine(ctx), kind, file, actor=actor, emit=not no_events, encoding=encoding
        )
        for line, reason in report.rejected:
            click.echo(f"{file}:{line}: rejected: {reason}", err=True)
        for line, reason in report.warnings:
            click.echo(f"{file}:{line}: warning: {reason}", err=True)
        for key, reason in report.events_failed:
            click.echo(f"warning: event {key} not delivered yet: {reason}", err=True)
        if as_json:
            _out(report.to_dict(), True)
            return
        click.echo(
            f"{kind}: added {report.added}, updated {report.updated}, unchanged "
            f"{report.unchanged}, rejected {len(report.rejected)}"
        )

    @cli.group()
    def inventory() -> None:
        """Inventory views."""

    @inventory.command()
    @click.argument("sku")
    @click.option("--location", help="One location (default: the SKU, all locations).")
    @click.option("--days", type=int)
    @click.option("--start", help="First day (ISO date); default today.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_context
    def projected(ctx: click.Context, sku: str, location: str | None, days: int | None,
                  start: str | None, as_json: bool) -> None:  # fmt: skip
        """Projected stock of SKU per day, its shortage date and which forecast it used."""
        from crmflow.core.domain.inventory import projected_inventory

        result = projected_inventory(_engine(ctx), sku, location=location, days=days, start=start)
        _show(result, as_json, views.projected_text)

    @cli.command()
    @click.argument("customer_id")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_context
    def customer(ctx: click.Context, customer_id: str, as_json: bool) -> None:
        """Customer 360: cycle, preferences, value, volatility."""
        from crmflow.core.domain.customers import customer_360

        _show(customer_360(_engine(ctx), customer_id), as_json, views.customer_text)

    @cli.command()
    @click.option("--top", type=click.Choice(["value"]), help="Rank customers by VALUE.")
    @click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
    @click.option("--swings", is_flag=True,
                  help="Customers whose recent demand of a family left its usual band.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_context
    def customers(ctx: click.Context, top: str | None, limit: int, swings: bool,
                  as_json: bool) -> None:  # fmt: skip
        """Lists for sales: the top customers by value, or the ones whose demand swings."""
        from crmflow.core.domain.customer_lists import demand_swings, top_customers

        if swings == bool(top):
            raise click.UsageError("give --top value or --swings", ctx=ctx)
        if swings:
            _show(demand_swings(_engine(ctx)), as_json, views.swings_text)
            return
        _show(top_customers(_engine(ctx), by=str(top), limit=limit), as_json,
              views.customers_text)  # fmt: skip

    @cli.command()
    @click.option(
        "--by",
        type=click.Choice(["industry", "size", "region", "segment"]),
        default="industry",
        show_default=True,
    )
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_context
    def segments(ctx: click.Context, by: str, as_json: bool) -> None:
        """Demand and growth by customer segment."""
        from crmflow.core.domain.customers import segment_analysis

        _show(segment_analysis(_engine(ctx), by=by), as_json,
              lambda rows: views.segments_text(rows, by))  # fmt: skip

    @cli.command()
    @click.argument("order_id")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_context
    def order(ctx: click.Context, order_id: str, as_json: bool) -> None:
        """Order tracking: the order's timeline from sales to delivery."""
        from crmflow.core.domain.timeline import order_timeline

        _show(order_timeline(_engine(ctx), order_id), as_json, views.order_text)

    @cli.command()
    @click.argument("sku")
    @click.argument("quantity")
    @click.option("--from", "from_date", help="Earliest date (ISO); default today.")
    @click.option("--order", "order_id", help="The order whose line changes.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_context
    def ctp(ctx: click.Context, sku: str, quantity: str, from_date: str | None,
            order_id: str | None, as_json: bool) -> None:  # fmt: skip
        """Capable-to-promise: the earliest date for QUANTITY of SKU."""
        from crmflow.core.domain.ctp import capable_to_promise

        answer = capable_to_promise(_engine(ctx), sku, quantity, from_date=from_date,
                                    order_id=order_id)  # fmt: skip
        _show(answer, as_json, views.ctp_text)
