"""Operator commands: the outbox and its dead letters."""

from __future__ import annotations

import json

import click
import sqlalchemy as sa

__all__ = ["register"]


def register(cli: click.Group) -> None:
    """Add the operator commands to the root group."""
    cli.add_command(outbox)


@click.group()
def outbox() -> None:
    """Inspect and retry queued side effects."""


@outbox.command(name="list")
@click.option("--status", type=click.Choice(["pending", "done", "dead"]), default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def outbox_list(ctx: click.Context, status: str | None, as_json: bool) -> None:
    """List outbox rows (newest first), e.g. the dead letters."""
    from crmflow.cli import open_engine
    from crmflow.core.engine.repository import outbox as table

    engine = open_engine(ctx)
    query = sa.select(table).order_by(table.c.id.desc()).limit(500)
    if status:
        query = query.where(table.c.status == status)
    with engine.db.connect() as conn:
        rows = conn.execute(query).all()
    items = [
        {"id": r.id, "instance_id": r.instance_id, "action": r.action, "status": r.status,
         "attempts": r.attempts, "max_attempts": r.max_attempts, "last_error": r.last_error,
         "key": r.key, "params": json.loads(r.params)}
        for r in rows
    ]  # fmt: skip
    if as_json:
        click.echo(json.dumps(items, default=str))
        return
    for item in items:
        click.echo(
            f"{item['id']:>6} {item['status']:<8} {item['action']:<24} "
            f"{item['attempts']}/{item['max_attempts']}  {item['last_error'] or ''}"
        )


@outbox.command(name="retry")
@click.argument("outbox_id", type=int, required=False)
@click.option("--all", "retry_all", is_flag=True, help="Retry every dead letter.")
@click.pass_context
def outbox_retry(ctx: click.Context, outbox_id: int | None, retry_all: bool) -> None:
    """Put a dead-lettered side effect (or all of them) back in the queue and run it."""
    from crmflow.cli import open_engine
    from crmflow.core.engine.outbox import retry_dead

    if outbox_id is None and not retry_all:
        raise click.UsageError("give an outbox id, or --all")
    engine = open_engine(ctx)
    count = retry_dead(engine, None if retry_all else outbox_id)
    engine.run_outbox()
    click.echo(f"requeued {count}")
