"""crmflow's shared CLI helpers: global options, the Engine, --data/--now/--key parsing."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from crmflow.cli_surface import CliHelpers
from crmflow.errors import InputError

__all__ = [
    "HELPERS",
    "MAX_KEY",
    "READ_ONLY_COMMANDS",
    "CliHelpers",
    "check_key",
    "common_options",
    "common_params",
    "open_engine",
    "parse_json",
    "parse_now",
]


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None:
        ctx.meta[f"crmflow.{param.name}"] = value
    return value


def common_params() -> list[click.Option]:
    """The global --db/--workflows/--factory options, fresh for each command."""
    return [
        click.Option(["--db"], metavar="URL", expose_value=False, callback=_remember,
                     help="Database URL (default: $CRMFLOW_DATABASE_URL, else the SQLite file)."),
        click.Option(["--workflows"], metavar="DIR", expose_value=False, callback=_remember,
                     help="Workflow folder (default: the factory's, else the shipped ones)."),
        click.Option(["--factory"], metavar="NAME", expose_value=False, callback=_remember,
                     envvar="CRMFLOW_FACTORY",
                     help="Factory name (factories/NAME.yaml) or path to its YAML."),
    ]  # fmt: skip


def common_options(command: click.Command) -> click.Command:
    """Give a command the global --db/--workflows/--factory options (idempotent)."""
    present = {p.name for p in command.params}
    command.params.extend(p for p in common_params() if p.name not in present)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            common_options(sub)
    return command


def open_engine(ctx: click.Context, **kwargs: Any) -> Any:
    """The Engine for this invocation, built once from the global options."""
    from crmflow.core.engine import Engine

    meta = ctx.meta
    if "crmflow.engine" not in meta:
        read_only = _command_path(ctx) in READ_ONLY_COMMANDS
        kwargs.setdefault("strict_workflows", not read_only)
        from crmflow.core.demofolder import demo_workflows_for

        workflows = meta.get("crmflow.workflows")
        engine = Engine.open(
            database_url=meta.get("crmflow.db"),
            workflows=workflows or demo_workflows_for(meta.get("crmflow.factory"), workflows),
            factory=meta.get("crmflow.factory"),
            **kwargs,
        )
        for problem in engine.catalog.warnings if engine.catalog.skipped else ():
            if problem.severity == "error":
                click.echo(f"warning: {problem} (file skipped)", err=True)
        meta["crmflow.engine"] = engine
        ctx.call_on_close(engine.close)
    return meta["crmflow.engine"]


#: Commands (paths below `crmflow`) that only read: an invalid workflow file in the
#: folder is a warning for them, and they go on with the valid ones. Plugins add theirs.
READ_ONLY_COMMANDS: set[str] = {
    "show", "list", "plugins", "order", "customer", "customers", "segments", "ctp",
    "inventory projected", "kpi", "kpi list", "kpi trend", "outbox list",
    "forecast-accuracy", "forecast champions",
}  # fmt: skip


def _command_path(ctx: click.Context) -> str:
    names = []
    while ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(reversed(names))


MAX_KEY = 200  # leaves room for the prefixes the engine adds (the key columns hold 500)


def check_key(value: str | None) -> str | None:
    """An idempotency key from the command line: at most 200 printable characters."""
    if value is None:
        return None
    if len(value) > MAX_KEY:
        raise click.BadParameter(f"is {len(value)} characters long; at most {MAX_KEY}")
    if any(ord(ch) < 32 for ch in value):
        raise click.BadParameter("contains a NUL or control character")
    return value


def parse_json(value: str | None, option: str = "--data") -> dict[str, Any] | None:
    """A --data value: a JSON object, or a located InputError."""
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg} at column {exc.colno})", field=option) from exc
    if not isinstance(parsed, dict):
        raise InputError("must be a JSON object such as '{\"qty\": 5}'", field=option)
    if "\\u0000" in value or "\x00" in value:  # PostgreSQL text cannot hold NUL
        raise InputError("contains a NUL character (\\u0000)", field=option)
    return parsed


def parse_now(value: str | None, tz: Any) -> datetime | None:
    """An ISO 8601 time; without an offset it is in the factory's time zone."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(
            f"{value!r} is not an ISO 8601 time such as 2026-03-29T02:30", field="--now"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment


def _format_table(*args: Any, **kwargs: Any) -> str:
    from crmflow.textable import format_table

    return format_table(*args, **kwargs)


#: The helpers every plugin's ``register_commands`` gets (docs/hooks.md).
HELPERS = CliHelpers(open_engine=open_engine, common_options=common_options,
                     parse_json=parse_json, parse_now=parse_now,
                     format_table=_format_table)  # fmt: skip
