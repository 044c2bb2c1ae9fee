"""The `crmflow` command line: a thin edge over the Python API."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from crmflow.cli_helpers import (
    HELPERS,
    MAX_KEY,
    READ_ONLY_COMMANDS,
    check_key,
    common_options,
    common_params,
    open_engine,
    parse_json,
    parse_now,
)
from crmflow.core.secrets import mask_secrets
from crmflow.errors import CrmflowError, ValidationError

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
]  # the helpers live in crmflow.cli_helpers; re-exported for older imports


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


@click.group(cls=_Group, params=common_params())
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
@click.option("--now", metavar="ISO8601",
              help="When it starts (default: now; without an offset, factory time zone).")
@click.pass_context
def start(ctx: click.Context, workflow: str, data: str | None, actor: str | None,
          key: str | None, now: str | None) -> None:  # fmt: skip
    """Start an instance of WORKFLOW; prints its id."""
    engine = open_engine(ctx)
    iid = engine.start(workflow, data=parse_json(data) or {}, actor=actor, key=key,
                       now=parse_now(now, engine.factory.timezone))  # fmt: skip
    click.echo(iid)


@cli.command()
@click.argument("instance_id", type=int)
@click.argument("trigger")
@click.option("--data", "data", metavar="JSON", help="Event payload (a JSON object).")
@click.option("--key", metavar="KEY", callback=lambda c, p, v: check_key(v),
              help="Idempotency key, scoped to the instance.")
@click.option("--as", "actor", metavar="ROLE", help="The role firing it.")
@click.option("--now", metavar="ISO8601",
              help="When it fires (default: now; without an offset, factory time zone).")
@click.pass_context
def fire(ctx: click.Context, instance_id: int, trigger: str, data: str | None,
         key: str | None, actor: str | None, now: str | None) -> None:  # fmt: skip
    """Fire TRIGGER on an instance; exit 3 when refused."""
    engine = open_engine(ctx)
    result = engine.fire(instance_id, trigger, data=parse_json(data), key=key, actor=actor,
                         now=parse_now(now, engine.factory.timezone))  # fmt: skip
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
    if inst.regions:  # a parallel state: each region's state
        click.echo("  regions: " + ", ".join(f"{r}={s}" for r, s in inst.regions.items()))
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
    from crmflow.core.demofolder import DEMO_FACTORY, demo_workflows_for
    from crmflow.core.domain.demo import load_demo

    ctx.meta.setdefault("crmflow.factory", str(DEMO_FACTORY))
    # its own copy of the shipped workflows (first run), where the studio saves new versions
    demo_workflows_for(ctx.meta["crmflow.factory"], ctx.meta.get("crmflow.workflows"), make=True)
    engine = open_engine(ctx)
    click.echo(f"workflows: {engine.catalog.folder} (the studio saves new versions here)",
               err=True)  # fmt: skip
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
