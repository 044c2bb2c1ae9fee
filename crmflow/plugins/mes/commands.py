"""MES commands: `crmflow listen`, and `crmflow connectors [--json]` / `connectors retry`."""

from __future__ import annotations

import json
import logging
import signal

import click

from crmflow.cli_helpers import open_engine
from crmflow.lazy import lazy

# the listener and the store (paho, SQLAlchemy) load when a command runs
Listener = lazy("crmflow.plugins.mes.listen:Listener")
connector_status = lazy("crmflow.plugins.mes.store:connector_status")
list_quarantined = lazy("crmflow.plugins.mes.store:list_quarantined")
retry = lazy("crmflow.plugins.mes.store:retry")

__all__ = ["add_commands"]



def add_commands(cli: click.Group) -> None:
    """Add `listen`, and a `connectors` group unless another plugin gives one."""

    @cli.command()
    @click.pass_context
    def listen(ctx: click.Context) -> None:
        """Run the factory's MES subscriptions (MQTT, OPC UA) in the foreground.

        Each message becomes its domain event, delivered to the workflows here.
        `crmflow run` and `crmflow worker` include this; run one of them, not both.
        """
        engine = open_engine(ctx)
        listener = Listener(engine)
        if not listener.connectors:
            raise click.ClickException("the factory configures no connectors.mes")
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        listener.start()
        click.echo(f"listening: {', '.join(c.name for c in listener.connectors)} (Ctrl-C stops)")
        previous = signal.signal(signal.SIGTERM, lambda *_: listener.stop())
        try:
            while not listener.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            listener.stop()
            signal.signal(signal.SIGTERM, previous)

    if "connectors" in cli.commands:
        return

    @cli.group(invoke_without_command=True)
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_context
    def connectors(ctx: click.Context, as_json: bool) -> None:
        """Each connector: state, last success, errors, quarantined messages."""
        if ctx.invoked_subcommand is not None:
            return
        engine = open_engine(ctx)
        status = connector_status(engine)
        for item in status:
            item["quarantined_messages"] = list_quarantined(engine, item["name"], limit=20)
        if as_json:
            click.echo(json.dumps(status, default=str))
            return
        for item in status:
            click.echo(
                f"{item['name']}  {item['state']}  last success {item['last_success']}  "
                f"{item['messages_per_minute']}/min  errors {item['errors']}  "
                f"quarantined {item['quarantined']}"
            )
            for q in item["quarantined_messages"]:
                click.echo(f"  #{q['id']} {q['source']}: {q['reason']}")

    @connectors.command(name="retry")
    @click.argument("item", required=False, type=int)
    @click.option("--all", "all_", is_flag=True, help="Retry every quarantined message.")
    @click.pass_context
    def retry_(ctx: click.Context, item: int | None, all_: bool) -> None:
        """Deliver quarantined message ID (or --all) again."""
        if (item is None) == (not all_):
            raise click.UsageError("give a quarantined message ID or --all")
        results = retry(open_engine(ctx), None if all_ else item)
        for r in results:
            click.echo(f"#{r['id']}: {r['status']}" + (f" ({r['reason']})" if r["reason"] else ""))
        if any(r["status"] != "applied" for r in results):
            ctx.exit(1)
