"""`crmflow sync erp [--full]`: a thin edge over :func:`sync_erp`."""

from __future__ import annotations

import json
from typing import Any

import click

from crmflow.lazy import lazy

sync_erp = lazy("crmflow.plugins.erp.sync:sync_erp")  # loads when `sync erp` runs

__all__ = ["add_commands"]


def add_commands(cli: click.Group) -> None:
    """Add the `sync` group with its `erp` command."""
    group = cli.commands.get("sync")
    if not isinstance(group, click.Group):

        @cli.group(name="sync")
        def sync() -> None:
            """Pull from and push to the factory's outside systems once."""

        group = sync

    @group.command(name="erp")
    @click.option("--full", is_flag=True, help="Read everything again, not only what changed.")
    @click.option("--no-push", is_flag=True, help="Only pull; leave pushes waiting.")
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
    @click.pass_context
    def erp(ctx: click.Context, full: bool, no_push: bool, as_json: bool) -> None:
        """Pull what changed in the ERP (per-model cursors), then push what waits.

        Prints counts per record kind. Exit 0, or 2 when the ERP could not be
        reached or refused the credentials (the reason is printed).
        """
        from crmflow.cli_helpers import open_engine

        engine: Any = open_engine(ctx)
        report = sync_erp(engine, full=full, push=not no_push)
        for line in report.rejected:
            click.echo(f"rejected: {line}", err=True)
        for line in report.skipped:
            click.echo(f"skipped: {line}", err=True)
        if as_json:
            click.echo(json.dumps(report.to_dict(), indent=2, default=str))
            return
        for kind, c in report.counts.items():
            click.echo(f"{kind}: read {c['read']}, added {c['added']}, updated {c['updated']}, "
                       f"unchanged {c['unchanged']}, rejected {c['rejected']}")  # fmt: skip
        click.echo(f"events delivered: {report.events}")
        for p in report.pushed:
            tail = p.get("remote") or p.get("error")
            click.echo(f"push {p['subject']}: {p['status']} ({tail})")
