"""`crmflow notifications`: what was sent, to whom, through which channel; retry what failed."""

from __future__ import annotations

import json
from typing import Any

import click

from crmflow.cli_helpers import open_engine
from crmflow.lazy import lazy

list_templates = lazy("crmflow.plugins.notify.render:list_templates")
delivery_log = lazy("crmflow.plugins.notify.sending:delivery_log")
retry_failed = lazy("crmflow.plugins.notify.sending:retry_failed")
send_due = lazy("crmflow.plugins.notify.sending:send_due")

__all__ = ["add_commands"]



def _line(item: dict[str, Any]) -> str:
    when = item["sent_at"] or item["due_at"] or item["created_at"]
    tail = f"  [{item['error']}]" if item["error"] else ""
    return (f"{item['id']:>6}  {item['status']:<8} {item['channel']:<9} {item['to']:<14} "
            f"{when[:16]}  {item['text']}{tail}")  # fmt: skip


def add_commands(cli: click.Group) -> None:
    """Add `notifications` and its `retry`, `templates` and `send` commands."""

    @cli.group(invoke_without_command=True)
    @click.option("--user", "user", metavar="NAME", help="Only deliveries to this person.")
    @click.option("--failed", is_flag=True, help="Only failed deliveries.")
    @click.option("--limit", type=int, help="Only the newest N.")
    @click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
    @click.pass_context
    def notifications(ctx: click.Context, user: str | None, failed: bool, limit: int | None,
                      as_json: bool) -> None:  # fmt: skip
        """List deliveries: to whom, through which channel, sent or failed and why."""
        if ctx.invoked_subcommand is not None:
            return
        items = delivery_log(open_engine(ctx), user=user, failed=failed, limit=limit)
        if as_json:
            click.echo(json.dumps(items, ensure_ascii=False))
            return
        if not items:
            click.echo("no deliveries" + (" failed" if failed else ""))
        for item in items:
            click.echo(_line(item))

    @notifications.command("retry")
    @click.argument("delivery_id", required=False, type=int)
    @click.option("--all", "retry_all", is_flag=True, help="Every failed delivery.")
    @click.option("--queue-only", is_flag=True,
                  help="Only queue them for the workers (default: send right away).")
    @click.pass_context
    def retry(ctx: click.Context, delivery_id: int | None, retry_all: bool,
              queue_only: bool) -> None:  # fmt: skip
        """Send a failed delivery (ID) or every failed one (--all) again; exit 1 if any
        fails again."""
        if (delivery_id is None) == (not retry_all):
            raise click.UsageError("give one delivery ID or --all")
        engine = open_engine(ctx)
        ids = retry_failed(engine, delivery_id)
        if not ids:
            click.echo("no failed deliveries")
            return
        if queue_only:
            click.echo(f"queued {len(ids)}")
            return
        send_due(engine, ids=ids)
        still = 0
        for item in delivery_log(engine):
            if item["id"] in ids:
                click.echo(_line(item))
                still += item["status"] == "failed"
        if still:  # a script or cron job sees that the cause is not cured yet
            click.echo(f"{still} of {len(ids)} failed again", err=True)
            ctx.exit(1)

    @notifications.command("templates")
    @click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
    @click.pass_context
    def templates(ctx: click.Context, as_json: bool) -> None:
        """The message templates a workflow can name (the factory's override ours)."""
        items = list_templates(open_engine(ctx))
        if as_json:
            click.echo(json.dumps(items, ensure_ascii=False))
            return
        for item in items:
            where = "shipped" if item["shipped"] else item["file"]
            click.echo(f"{item['name']:<20} {', '.join(item['languages']):<12} {where}")

    @notifications.command("send")
    @click.pass_context
    def send(ctx: click.Context) -> None:
        """Send what is due now (the workers do this every round)."""
        counts = send_due(open_engine(ctx))
        click.echo(json.dumps(counts))
