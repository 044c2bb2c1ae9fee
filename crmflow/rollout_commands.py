"""Rollout commands: `crmflow rollout` (stages), `crmflow diagram` and `crmflow checklist`."""

from __future__ import annotations

import getpass
import json
from datetime import date

import click

from crmflow.cli_helpers import open_engine
from crmflow.errors import InputError

__all__ = ["register", "shell_user"]


def shell_user() -> str:
    """Who changes the rollout from a shell without `--as`: `cli:` and the login name."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name in this environment
        return "cli"


def register(cli: click.Group) -> None:
    """Add `rollout`, `diagram` and `checklist` to the `crmflow` group."""

    @cli.group(invoke_without_command=True)
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_context
    def rollout(ctx: click.Context, as_json: bool) -> None:
        """Show where each workflow and plugin stands: off, pilot (departments) or all."""
        if ctx.invoked_subcommand is not None:
            return
        from crmflow.core.rollout import rollout_names

        engine = open_engine(ctx)
        states = engine.rollout.states(rollout_names(engine))
        if as_json:
            click.echo(json.dumps([s.as_json() for s in states.values()]))
            return
        width = max((len(n) for n in states), default=4)
        for state in states.values():
            scope = ", ".join(state.departments) if state.mode == "pilot" else ""
            since = f" since {state.since.isoformat()}" if state.since else ""
            click.echo(f"{state.name:<{width}}  {state.mode:<5}  {scope}{since}".rstrip())

    @rollout.command("set")
    @click.argument("name")
    @click.argument("mode", type=click.Choice(["off", "pilot", "all"]))
    @click.argument("departments", nargs=-1)
    @click.option("--since", metavar="DATE", help="When the pilot starts (YYYY-MM-DD).")
    @click.option("--reason", metavar="TEXT", help="Why (kept with the change).")
    @click.option("--as", "actor", metavar="USER", help="Who makes the change (recorded).")
    @click.pass_context
    def rollout_set(
        ctx: click.Context, name: str, mode: str, departments: tuple[str, ...],
        since: str | None, reason: str | None, actor: str | None,
    ) -> None:  # fmt: skip
        """Set NAME (a workflow or plugin) to off, all or pilot DEPT…; recorded with who and why."""
        from crmflow.core.rollout import rollout_names

        engine = open_engine(ctx)
        known = rollout_names(engine)
        if name not in known:
            raise InputError(
                f"no workflow or plugin {name!r}; known: {', '.join(known)}", field="NAME"
            )
        try:
            since_date = date.fromisoformat(since) if since else None
        except ValueError as exc:
            raise InputError(
                f"{since!r} is not a date such as 2026-12-01", field="--since"
            ) from exc
        change = engine.rollout.set(
            name, mode, departments, since=since_date, by=actor or shell_user(), reason=reason,
            now=engine.now(), roles=engine.roles_of(actor) if actor else None,
        )  # fmt: skip
        click.echo(json.dumps(change.as_json()))

    @rollout.command("history")
    @click.argument("name", required=False)
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_context
    def rollout_history(ctx: click.Context, name: str | None, as_json: bool) -> None:
        """Every recorded rollout change (who, when, what, why), oldest first."""
        changes = open_engine(ctx).rollout.history(name)
        if as_json:
            click.echo(json.dumps([c.as_json() for c in changes]))
            return
        for c in changes:
            scope = " " + ",".join(c.departments) if c.departments else ""
            why = f"  ({c.reason})" if c.reason else ""
            click.echo(f"{c.changed_at:%Y-%m-%d %H:%M}  {c.changed_by:<12} {c.name} -> "
                       f"{c.mode}{scope}{why}")  # fmt: skip

    @cli.command()
    @click.argument("workflow")
    @click.option("--format", "fmt", type=click.Choice(["mermaid", "svg"]), default="mermaid",
                  show_default=True)  # fmt: skip
    @click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file.")
    @click.option("--counts", is_flag=True, help="Show running and overdue instances per state.")
    @click.pass_context
    def diagram(ctx: click.Context, workflow: str, fmt: str, output: str | None,
                counts: bool) -> None:  # fmt: skip
        """Draw WORKFLOW's states, transitions, guards, roles and timers (Mermaid or SVG)."""
        from crmflow.core.diagram import WorkflowDiagram, state_counts

        engine = open_engine(ctx)
        source = engine.catalog.newest(workflow).definition
        picture = WorkflowDiagram.from_source(source.source)
        per_state = state_counts(engine, workflow) if counts else None
        text = picture.mermaid(per_state) if fmt == "mermaid" else picture.svg(per_state)
        if output:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
            click.echo(f"wrote {output}", err=True)
        else:
            click.echo(text)

    @cli.command()
    @click.argument("username", required=False)
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_context
    def checklist(ctx: click.Context, username: str | None, as_json: bool) -> None:
        """First steps per person: what USERNAME (default: everyone) has really done."""
        from crmflow.core.onboarding import factory_people, team_progress

        engine = open_engine(ctx)
        people = factory_people(engine)
        if username is not None:
            if username not in people:
                raise InputError(
                    f"no person {username!r} in the factory config; people: "
                    f"{', '.join(sorted(people)) or 'none'}", field="USERNAME",
                )  # fmt: skip
            people = {username: people[username]}
        rows = team_progress(engine.db, people)
        if as_json:
            click.echo(json.dumps(rows))
            return
        for row in rows:
            click.echo(f"{row['username']:<12} {row['done']}/{row['total']}")
            for step in row["steps"]:
                mark = "x" if step["done"] else " "
                click.echo(f"  [{mark}] {step['title']}")
