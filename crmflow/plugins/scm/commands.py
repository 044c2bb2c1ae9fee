"""`crmflow edi poll`: one round of EDI sending and receiving."""

from __future__ import annotations

import json

import click

from crmflow.lazy import lazy

poll = lazy("crmflow.plugins.scm.service:poll")  # loads when `edi poll` runs

__all__ = ["add_commands"]


def add_commands(cli: click.Group) -> None:
    """Add the `edi` group."""

    @cli.group()
    def edi() -> None:
        """EDI with suppliers (EDIFACT ORDERS/DESADV, X12 850/856)."""

    @edi.command(name="poll")
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
    @click.pass_context
    def poll_(ctx: click.Context, as_json: bool) -> None:
        """Send what the outbox holds and read the inbox once.

        Exit 0; 1 when a file was rejected (it is in inbox/rejected/ with a .reason).
        """
        from crmflow.cli_helpers import open_engine

        report = poll(open_engine(ctx))
        if as_json:
            click.echo(json.dumps(report.to_dict()))
        else:
            for name in report.sent:
                click.echo(f"sent {name}")
            for name in report.applied:
                click.echo(f"applied {name}")
            for name, reason in report.rejected:
                click.echo(f"rejected {name}: {reason}", err=True)
        if report.rejected:
            ctx.exit(1)
