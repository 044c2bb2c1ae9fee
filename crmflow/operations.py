"""Operator commands: worker, outbox list/retry, prune, enqueue."""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import sys
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import click

from crmflow.cli_helpers import check_key, open_engine, parse_json
from crmflow.errors import InputError

__all__ = ["load_plugin", "parse_age", "register"]


def parse_age(value: str) -> timedelta:
    """`90d`, `12h`, `2w`, `1h30m` or ISO 8601 (`P90D`)."""
    from crmflow.core.engine.durations import DurationError, parse_duration

    try:
        return parse_duration(value)
    except DurationError as exc:
        raise InputError(f"{value!r} is not an age such as 90d, 12h or P90D", field="age") from exc


def load_plugin(spec: str) -> ModuleType:
    """Import a plugin module by dotted name or by the path of its .py file."""
    path = Path(spec)
    if path.suffix == ".py":
        if not path.is_file():
            raise InputError(f"plugin file {spec!r} does not exist", field="--plugin")
        name = f"crmflow_local_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
        return module
    try:
        return importlib.import_module(spec)
    except ImportError as exc:
        raise InputError(f"cannot import plugin {spec!r}: {exc}", field="--plugin") from exc


def _engine(ctx: click.Context, plugins: tuple[str, ...] = (), **kwargs: Any) -> Any:
    if plugins:
        kwargs["plugins"] = [load_plugin(p) for p in plugins]
    return open_engine(ctx, **kwargs)


def _outbox_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "instance_id": row.instance_id,
        "action": row.action,
        "key": row.key,
        "status": row.status,
        "attempts": row.attempts,
        "max_attempts": row.max_attempts,
        "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
        "last_error": row.last_error,
        "params": json.loads(row.params) if row.params else {},
        "result": json.loads(row.result) if row.result else None,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "done_at": row.done_at.isoformat() if row.done_at else None,
    }


_PLUGIN_OPTION = click.option(
    "--plugin",
    "plugins",
    multiple=True,
    metavar="MODULE|FILE.py",
    help="Also load this plugin (a module name or a .py file); repeatable.",
)


def register(cli: click.Group) -> None:
    """Add the operator commands to the `crmflow` group."""

    @cli.command()
    @click.option("--once", is_flag=True, help="Work until nothing is due, then exit.")
    @click.option(
        "--concurrency", default=1, show_default=True, type=click.IntRange(1, 64),
        help="Worker processes to run on this machine.",
    )  # fmt: skip
    @click.option("--batch", default=100, show_default=True, type=click.IntRange(1, 10_000))
    @click.option("--lease", default="5m", show_default=True, help="Outbox claim lease (30s, 5m).")
    @click.option("--idle", default=0.5, show_default=True, type=float, help="Poll pause (s).")
    @click.option("--prune-after", metavar="AGE", help="Also prune finished instances this old.")
    @click.option("--prune-archive", metavar="FILE.jsonl", help="Archive what is pruned here.")
    @_PLUGIN_OPTION
    @click.pass_context
    def worker(
        ctx: click.Context, once: bool, concurrency: int, batch: int, lease: str, idle: float,
        prune_after: str | None, prune_archive: str | None, plugins: tuple[str, ...],
    ) -> None:  # fmt: skip
        """Run queued events, due timers and the outbox until SIGTERM.

        Any number of workers, on one machine or many, may share one PostgreSQL.
        """
        # A worker's log is its record of work: INFO even without -v.
        logging.getLogger("crmflow").setLevel(
            min(logging.INFO, logging.getLogger().getEffectiveLevel())
        )
        if concurrency > 1:
            _run_children(ctx, concurrency)
            return
        from crmflow.core.engine.worker import Worker

        engine = _engine(ctx, plugins, inline_outbox=False)
        runner = Worker(
            engine, batch=batch, lease=parse_age(lease), idle=idle,
            prune_after=parse_age(prune_after) if prune_after else None,
            prune_archive=Path(prune_archive) if prune_archive else None,
        )  # fmt: skip
        total = runner.run(once=once)
        click.echo(
            json.dumps(
                {"worker": runner.name, "events": total.events, "timers": total.timers,
                 "outbox": total.outbox, "pruned": total.pruned}
            )  # fmt: skip
        )

    @cli.group()
    def outbox() -> None:
        """Inspect and retry side effects (the outbox and its dead letters)."""

    @outbox.command("list")
    @click.option(
        "--status", type=click.Choice(["pending", "done", "dead", "all"]), default="all",
        show_default=True,
    )  # fmt: skip
    @click.option("--limit", default=100, show_default=True, type=int)
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @_PLUGIN_OPTION
    @click.pass_context
    def outbox_list(
        ctx: click.Context, status: str, limit: int, as_json: bool, plugins: tuple[str, ...]
    ) -> None:
        """Outbox rows, newest first."""
        import sqlalchemy as sa

        from crmflow.core.engine.repository import outbox as table
        from crmflow.core.store import reading

        engine = _engine(ctx, plugins)
        query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
        if status != "all":
            query = query.where(table.c.status == status)
        with reading(engine.db) as conn:
            rows = [_outbox_json(r) for r in conn.execute(query)]
        if as_json:
            click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
            return
        for r in rows:
            error = f"  {r['last_error']}" if r["last_error"] else ""
            click.echo(
                f"{r['id']:>6}  {r['status']:<8} {r['attempts']}/{r['max_attempts']}  "
                f"{r['action']}  instance {r['instance_id']}{error}"
            )

    @outbox.command("retry")
    @click.argument("outbox_id", required=False, type=int)
    @click.option("--all", "retry_all", is_flag=True, help="Retry every dead-lettered row.")
    @click.option(
        "--run/--no-run", "run_now", default=True, show_default=True,
        help="Run the outbox right away (else the workers pick the rows up).",
    )  # fmt: skip
    @_PLUGIN_OPTION
    @click.pass_context
    def outbox_retry(
        ctx: click.Context, outbox_id: int | None, retry_all: bool, run_now: bool,
        plugins: tuple[str, ...],
    ) -> None:  # fmt: skip
        """Put a dead-lettered row (ID) or all of them (--all) back in the queue."""
        from crmflow.core.engine.outbox import retry_dead

        if (outbox_id is None) == (not retry_all):
            raise click.UsageError("give one outbox ID or --all")
        engine = _engine(ctx, plugins)
        count = retry_dead(engine, outbox_id)
        click.echo(f"requeued {count}")
        if run_now:
            engine.run_outbox()
            if outbox_id is not None:
                import sqlalchemy as sa

                from crmflow.core.engine.repository import outbox as table
                from crmflow.core.store import reading

                with reading(engine.db) as conn:
                    row = conn.execute(sa.select(table).where(table.c.id == outbox_id)).one()
                click.echo(f"outbox {outbox_id}: {row.status}")
                if row.status != "done":
                    ctx.exit(1)

    @cli.command()
    @click.option("--older-than", "older_than", required=True, metavar="AGE",
                  help="Age of the last change: 90d, 12h, P90D.")  # fmt: skip
    @click.option("--archive", metavar="FILE.jsonl", help="Append what is removed to this file.")
    @click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @_PLUGIN_OPTION
    @click.pass_context
    def prune(
        ctx: click.Context, older_than: str, archive: str | None, dry_run: bool, as_json: bool,
        plugins: tuple[str, ...],
    ) -> None:  # fmt: skip
        """Remove finished instances (and their history) untouched for AGE; open ones stay."""
        from crmflow.core.engine.prune import prune as run_prune

        engine = _engine(ctx, plugins)
        done = run_prune(engine, parse_age(older_than), archive=archive, dry_run=dry_run)
        if as_json:
            click.echo(json.dumps(done.as_json()))
        elif dry_run:
            click.echo(f"{done.instances} finished instance(s) would be pruned")
        else:
            click.echo(
                f"pruned {done.instances} instance(s), {done.history} history row(s)"
                + (f"; archived to {archive}" if archive else "")
            )

    @cli.command()
    @click.argument("target")
    @click.argument("trigger", required=False)
    @click.option("--data", "data", metavar="JSON", help="Payload (a JSON object).")
    @click.option("--key", metavar="KEY", callback=lambda c, p, v: check_key(v),
                  help="Idempotency key: queued and applied once.")
    @click.option("--as", "actor", default=None, metavar="ROLE",
                  help="The role firing it (none by default: role-guarded triggers refuse).")
    @_PLUGIN_OPTION
    @click.pass_context
    def enqueue(
        ctx: click.Context, target: str, trigger: str | None, data: str | None,
        key: str | None, actor: str | None, plugins: tuple[str, ...],
    ) -> None:  # fmt: skip
        """Queue `ID TRIGGER` (a fire) or `EVENT` (an emit) for the workers; prints the row id."""
        engine = _engine(ctx, plugins)
        payload = parse_json(data)
        if target.isdigit():
            if not trigger:
                raise click.UsageError("give a TRIGGER after the instance id")
            row = engine.enqueue(int(target), trigger, payload, key=key, actor=actor)
        else:
            if trigger:
                raise click.UsageError("an EVENT takes no TRIGGER; use --data for its payload")
            row = engine.enqueue(event=target, data=payload, key=key, actor=actor)
        click.echo(row)


def _run_children(ctx: click.Context, concurrency: int) -> None:
    """Start ``concurrency`` single workers and forward SIGTERM/SIGINT to them."""
    import signal
    import subprocess

    # The same command line without `--concurrency N` / `--concurrency=N`.
    cleaned: list[str] = []
    skip = False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
            continue
        if arg == "--concurrency":
            skip = True
            continue
        if arg.startswith("--concurrency="):
            continue
        cleaned.append(arg)
    args = cleaned
    command = [sys.executable, "-c", "from crmflow.cli import main; main()", *args]
    import functools
    import os

    from crmflow.core.engine.worker import PARENT_ENV, die_with_parent

    # Children exit when this process dies, even by SIGKILL (no orphans under PID 1).
    env = {**os.environ, PARENT_ENV: str(os.getpid())}
    children = [
        subprocess.Popen(
            command, env=env, preexec_fn=functools.partial(die_with_parent, os.getpid())
        )
        for _ in range(concurrency)
    ]

    def forward(signum: int, _frame: Any) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        codes = [child.wait() for child in children]
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if any(codes):
        ctx.exit(max(codes))
