"""`crmflow delegate` and `crmflow migrate-instances`: thin edges over the Engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from crmflow.errors import InputError

__all__ = ["register"]


def _mapping(values: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for value in values:
        old, sep, new = value.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise InputError(f"{value!r} is not OLD=NEW", field="--map")
        found[old.strip()] = new.strip()
    return found


def register(cli: click.Group, open_engine: Callable[..., Any]) -> None:
    """Add the language's commands to the `crmflow` group."""

    @cli.command()
    @click.argument("from_person", metavar="FROM")
    @click.argument("to_person", metavar="TO")
    @click.option("--from", "start", required=True, metavar="DATE", help="First day (ISO).")
    @click.option("--until", required=True, metavar="DATE", help="Last day, included (ISO).")
    @click.option("--reason", metavar="TEXT", help="Why (holiday, sick leave…).")
    @click.option("--as", "actor", metavar="NAME", help="Who records the delegation.")
    @click.option("--json", "as_json", is_flag=True, help="Print the delegation as JSON.")
    @click.pass_context
    def delegate(
        ctx: click.Context, from_person: str, to_person: str, start: str, until: str,
        reason: str | None, actor: str | None, as_json: bool,
    ) -> None:  # fmt: skip
        """Hand FROM's approval votes to TO from --from to --until (both days included,
        in the factory's time zone)."""
        engine = open_engine(ctx)
        done = engine.delegate(from_person, to_person, start, until, reason=reason, by=actor)
        if as_json:
            click.echo(json.dumps(done))
        else:
            click.echo(
                f"delegation {done['id']}: {done['to']} votes for {done['from']} from "
                f"{done['from_date']} to {done['until']}"
            )

    @cli.command(name="migrate-instances")
    @click.argument("workflow")
    @click.option("--to-version", "to_version", type=int, required=True, metavar="N")
    @click.option("--map", "maps", multiple=True, metavar="OLD=NEW", help="Rename a state.")
    @click.option("--dry-run", is_flag=True, help="Change nothing; say what would happen.")
    @click.option("--as", "actor", metavar="NAME", help="Who migrates (kept in history).")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def migrate_instances(
        ctx: click.Context, workflow: str, to_version: int, maps: tuple[str, ...],
        dry_run: bool, actor: str | None, as_json: bool,
    ) -> None:  # fmt: skip
        """Move the open instances of WORKFLOW to version N, one transaction each."""
        engine = open_engine(ctx)
        report = engine.migrate_instances(
            workflow, to_version, _mapping(maps), dry_run=dry_run, actor=actor
        )
        if as_json:
            click.echo(json.dumps(report.as_json()))
            return
        verb = "would move" if dry_run else "moved"
        click.echo(f"{verb} {len(report.moved)} instance(s) of {workflow} to version {to_version}")
        for item in report.moved:
            click.echo(f"  {item['id']}: {item['from']} (v{item['from_version']}) -> {item['to']}")
        for item in report.left:
            click.echo(f"  left {item['id']} in {item['from']}: {item['reason']}")
