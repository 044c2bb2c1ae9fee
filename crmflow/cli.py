"""The `crmflow` command line: a thin edge over the Python API."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from crmflow.cli_helpers import CliHelpers
from crmflow.core.secrets import mask_secrets
from crmflow.errors import CrmflowError, InputError, ValidationError

__all__ = [
    "HELPERS",
    "MAX_KEY",
    "READ_ONLY_COMMANDS",
    "check_key",
    "cli",
    "common_options",
    "main",
    "open_engine",
    "parse_json",
    "parse_now",
]

# The demo factory ships beside the package in a source checkout (`make run`).
DEMO_FACTORY = Path(__file__).resolve().parent.parent / "examples" / "demo" / "factory.yaml"


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None:
        ctx.meta[f"crmflow.{param.name}"] = value
    return value


def _common_params() -> list[click.Option]:
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
    command.params.extend(p for p in _common_params() if p.name not in present)
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
        engine = Engine.open(
            database_url=meta.get("crmflow.db"),
            workflows=meta.get("crmflow.workflows"),
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


class _Group(click.Group):
    """Adds plugin commands on first use; turns crmflow errors into exit codes."""

    _plugins_loaded = False

    def _load_plugin_commands(self) -> None:
        if _Group._plugins_loaded:
            return
        from crmflow import language_commands, operations, rollout_commands
        from crmflow.core.registry import get_plugin_manager

        operations.register(self)
        rollout_commands.register(self)
        from crmflow import people_cli

        people_cli.register(self)
        language_commands.register(self, open_engine)
        get_plugin_manager().hook.register_commands(cli=self, helpers=HELPERS)
        for command in self.commands.values():
            common_options(command)
        _Group._plugins_loaded = True

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load_plugin_commands()
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            ctx.exit(exc.exit_code)
        except CrmflowError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=_Group, params=_common_params())
@click.version_option(package_name="crmflow")
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug) to stderr.")
def cli(verbose: int) -> None:
    """crmflow: workflows for sales-production coordination.

    Every command takes --db, --workflows and --factory.
    """
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.pass_context
def validate(ctx: click.Context, paths: tuple[str, ...]) -> None:
    """Validate workflow files or folders: FILE:LINE:COL: error: … lines."""
    from crmflow.core.validation import validate_workflows

    problems, count = validate_workflows(paths, factory=ctx.meta.get("crmflow.factory"))
    for problem in problems:
        click.echo(str(problem))
    errors = sum(1 for p in problems if p.severity == "error")
    if errors:
        ctx.exit(1)
    click.echo(f"{count} workflow file(s) valid", err=True)


@cli.command()
@click.argument("workflow")
@click.option("--data", "data", metavar="JSON", help="Initial instance data (a JSON object).")
@click.option("--as", "actor", metavar="ROLE", help="Who starts it.")
@click.option("--key", metavar="KEY", callback=lambda c, p, v: check_key(v),
              help="Idempotency key: the same key starts one instance.")
@click.pass_context
def start(ctx: click.Context, workflow: str, data: str | None, actor: str | None,
          key: str | None) -> None:  # fmt: skip
    """Start an instance of WORKFLOW; prints its id."""
    engine = open_engine(ctx)
    iid = engine.start(workflow, data=parse_json(data) or {}, actor=actor, key=key)
    click.echo(iid)


@cli.command()
@click.argument("instance_id", type=int)
@click.argument("trigger")
@click.option("--data", "data", metavar="JSON", help="Event payload (a JSON object).")
@click.option("--key", metavar="KEY", callback=lambda c, p, v: check_key(v),
              help="Idempotency key, scoped to the instance.")
@click.option("--as", "actor", metavar="ROLE", help="The role firing it.")
@click.pass_context
def fire(ctx: click.Context, instance_id: int, trigger: str, data: str | None,
         key: str | None, actor: str | None) -> None:  # fmt: skip
    """Fire TRIGGER on an instance; exit 3 when refused."""
    engine = open_engine(ctx)
    result = engine.fire(instance_id, trigger, data=parse_json(data), key=key, actor=actor)
    if not result.taken:
        click.echo(f"refused: {result.reason}", err=True)
        ctx.exit(3)
    click.echo(result.state)


@cli.command()
@click.argument("instance_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show(ctx: click.Context, instance_id: int, as_json: bool) -> None:
    """Show one instance with its history and timers."""
    inst = open_engine(ctx).get(instance_id)
    if as_json:
        click.echo(json.dumps(mask_secrets(inst.as_json()), default=str))
        return
    click.echo(
        f"#{inst.id} {inst.workflow} v{inst.version}  state: {inst.state}"
        + ("  (finished)" if inst.finished else "")
    )
    for h in inst.history:
        click.echo(
            f"  {h.at:%Y-%m-%d %H:%M:%S}  {h.trigger:<16} {h.from_state or '-'} -> "
            f"{h.to_state}  by {h.actor or '-'}"
        )
    for t in inst.timers:
        click.echo(f"  timer {t.name}: {t.trigger} due {t.due:%Y-%m-%d %H:%M:%S}")
    for v in inst.approvals:  # votes of approval states
        behalf = f" for {v['for']}" if v["for"] != v["by"] else ""
        click.echo(f"  vote {v['decision']} by {v['by']}{behalf} in {v['state']} at {v['at']}")
    if inst.parent is not None:  # sub-workflows
        click.echo(f"  parent #{inst.parent}")
    for c in inst.children:
        click.echo(f"  child #{c['id']} {c['workflow']}: {c['state']}"
                   + ("  (finished)" if c["finished"] else ""))  # fmt: skip


@cli.command(name="list")
@click.option("--workflow", metavar="W")
@click.option("--state", metavar="S")
@click.option("--limit", type=int, default=None)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_(ctx: click.Context, workflow: str | None, state: str | None, limit: int | None,
          as_json: bool) -> None:  # fmt: skip
    """List instances, newest first."""
    found = open_engine(ctx).list(workflow=workflow, state=state, limit=limit)
    if as_json:
        click.echo(
            json.dumps([mask_secrets(i.as_json(history=False)) for i in found], default=str)
        )
        return
    for inst in found:
        click.echo(f"#{inst.id:<6} {inst.workflow:<32} v{inst.version:<3} {inst.state}")


@cli.command()
@click.option("--now", metavar="ISO8601", help="The time to fire timers at (default: now).")
@click.pass_context
def tick(ctx: click.Context, now: str | None) -> None:
    """Fire every timer and deadline due at that time; prints how many fired."""
    engine = open_engine(ctx)
    click.echo(engine.tick(now=parse_now(now, engine.factory.timezone)))


@cli.command()
@click.argument("event")
@click.option("--data", "data", metavar="JSON", help="Event payload (a JSON object).")
@click.option("--key", metavar="KEY", callback=lambda c, p, v: check_key(v),
              help="Event key: a key delivered before changes nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print {started, moved} as JSON.")
@click.pass_context
def emit(ctx: click.Context, event: str, data: str | None, key: str | None,
         as_json: bool) -> None:  # fmt: skip
    """Deliver EVENT to start_on rules and waiting instances; prints the ids."""
    result = open_engine(ctx).emit(event, parse_json(data) or {}, key=key)
    if as_json:
        click.echo(json.dumps({"started": result.started, "moved": result.moved}))
        return
    for iid in result.ids:
        click.echo(iid)
    click.echo(
        f"started {len(result.started)}, moved {len(result.moved)}"
        + (" (already delivered)" if result.duplicate else ""),
        err=True,
    )


@cli.command()
@click.argument("workflow")
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def simulate(ctx: click.Context, workflow: str, scenario: str, as_json: bool) -> None:
    """Dry-run a scenario: the path taken and SLA breaches; nothing is stored."""
    from crmflow.core.engine.simulate import simulate as run_simulation

    report = run_simulation(
        workflow,
        Path(scenario),
        workflows=ctx.meta.get("crmflow.workflows"),
        factory=ctx.meta.get("crmflow.factory"),
    )
    if as_json:
        click.echo(json.dumps(report.as_json(), default=str))
    else:
        click.echo(report.as_text())
    if not report.ok:
        ctx.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List installed plugins, their versions, hooks and whether they are enabled."""
    from crmflow.core.registry.report import plugin_report

    report = plugin_report(ctx.meta.get("crmflow.factory"))
    if as_json:
        click.echo(json.dumps(report, default=str))
        return
    for item in report:
        state = "enabled" if item["enabled"] else "disabled"
        version = item["version"] or ("built-in" if item["builtin"] else "?")
        click.echo(f"{item['name']:<16} {version:<10} {state:<9} {', '.join(item['hooks'])}")


@cli.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Create or upgrade the database schema (Alembic `upgrade heads`)."""
    engine = open_engine(ctx)
    click.echo(f"database at {engine.db.url.render_as_string(hide_password=True)} is up to date")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-worker", is_flag=True, help="Serve only; run `crmflow worker` elsewhere.")
@click.pass_context
def run(ctx: click.Context, host: str, port: int, no_worker: bool) -> None:
    """The web app (waitress) + worker + scheduler in one process."""
    import threading

    import waitress

    from crmflow.admin import create_app
    from crmflow.core.engine.worker import Worker

    engine = open_engine(ctx, inline_outbox=False)
    app = create_app({"ENGINE": engine})
    worker = None if no_worker else Worker(engine)
    thread = None
    if worker is not None:
        thread = threading.Thread(target=worker.run, name="crmflow-worker", daemon=True)
        thread.start()
    click.echo(f"crmflow {engine.factory.title!r} on http://{host}:{port}/", err=True)
    try:
        # Threads: each open live page holds one for its event stream.
        waitress.serve(app, host=host, port=port, threads=32, channel_timeout=120,
                       ident="crmflow")  # fmt: skip
    finally:
        if worker is not None and thread is not None:
            worker.stop()  # finishes the batch in hand
            thread.join(timeout=30)


@cli.command()
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--load-only", is_flag=True, help="Load the demo factory, do not serve.")
@click.pass_context
def demo(ctx: click.Context, seed: int, host: str, port: int, load_only: bool) -> None:
    """Load the demo factory (examples/demo), then `run`."""
    from crmflow.core.domain.demo import load_demo

    ctx.meta.setdefault("crmflow.factory", str(DEMO_FACTORY))
    engine = open_engine(ctx)
    counts = load_demo(engine, seed=seed)
    click.echo("demo loaded: " + ", ".join(f"{k} {v}" for k, v in counts.items()), err=True)
    from crmflow.core.people.accounts import demo_logins

    click.echo("demo logins (new passwords at every start):")
    for username, password in demo_logins(engine):
        roles = ", ".join(sorted(engine.roles_of(username)))
        click.echo(f"  login: {username}  password: {password}  roles: {roles}")
    if not load_only:
        ctx.invoke(run, host=host, port=port, no_worker=False)


for _command in cli.commands.values():
    common_options(_command)


def main(argv: list[str] | None = None) -> Any:
    """Console entry point."""
    try:
        return cli.main(args=argv, prog_name="crmflow")
    except CrmflowError as exc:  # a broken plugin fails before any command runs
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
