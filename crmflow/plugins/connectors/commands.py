"""`crmflow connectors [--json]` and `crmflow connectors retry ID|--all`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from crmflow.cli_helpers import open_engine
from crmflow.errors import InputError, NotFoundError
from crmflow.lazy import lazy

if TYPE_CHECKING:  # pragma: no cover
    from .status import RetryHandler

# the status module (SQLAlchemy) loads when a command runs, not for `crmflow --help`
_STATUS = "crmflow.plugins.connectors.status"
connectors_status = lazy(f"{_STATUS}:connectors_status")
failures = lazy(f"{_STATUS}:failures")
retry_failures = lazy(f"{_STATUS}:retry_failures")
retry_messages = lazy(f"{_STATUS}:retry_messages")

__all__ = ["add_commands", "retry_handlers"]


def retry_handlers(engine: Any) -> dict[str, RetryHandler]:
    """The ``retry=`` handler each registered connector gave ``register_connectors``."""
    return {
        name: item.option("retry")
        for name, item in engine.registry.connectors.items()
        if item.option("retry") is not None
    }



def add_commands(cli: click.Group) -> None:
    """Add the `connectors` group to the root command line."""

    @cli.group(name="connectors", invoke_without_command=True)
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_context
    def connectors(ctx: click.Context, as_json: bool) -> None:
        """Each connector's health: state, last success, lag, errors, failed pushes."""
        if ctx.invoked_subcommand is not None:
            return
        engine = open_engine(ctx)
        rows = connectors_status(engine)
        if as_json:
            for row in rows:
                row["failures"] = [
                    {k: f[k] for k in ("id", "kind", "key", "error", "attempts")}
                    | {"updated_at": f["updated_at"].isoformat()}
                    for f in failures(engine, row["name"])
                ]
            click.echo(json.dumps(rows, indent=2, default=str))
            return
        if not rows:
            click.echo("no connectors configured (factory YAML: connectors:)")
        for row in rows:
            lag = "" if row["lag_seconds"] is None else f", lag {row['lag_seconds']:.0f}s"
            click.echo(
                f"{row['name']} ({row['kind']}): {row['state']}, last success "
                f"{row['last_success'] or 'never'}{lag}, errors {row['errors']}, "
                f"quarantined {row['quarantined']}"
            )
            if row["records"]:
                counts = ", ".join(f"{k} {n}" for k, n in sorted(row["records"].items()))
                click.echo(f"  records: {counts}")
            if row["last_error"]:
                click.echo(f"  last error ({row['last_error_at']}): {row['last_error']}")
            for f in failures(engine, row["name"]):
                click.echo(f"  failed #{f['id']} {f['key']}: {f['error']}")

    @connectors.command(name="retry")
    @click.argument("failure_id", required=False, type=int)
    @click.option("--all", "all_", is_flag=True, help="Retry every failed one.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_context
    def retry(ctx: click.Context, failure_id: int | None, all_: bool, as_json: bool) -> None:
        """Re-deliver a failed push or quarantined message (ID), or --all of them.

        Exit 0 when every one went through, 2 when one failed again.
        """
        if (failure_id is None) == (not all_):
            raise InputError("give a failure ID or --all (not both)", field="ID")
        engine = open_engine(ctx)
        try:
            results = retry_failures(engine, failure_id, handlers=retry_handlers(engine))
        except NotFoundError:
            results = []  # not a failed push: a quarantined message of a subscription?
        if failure_id is None or not results:
            for r in retry_messages(engine, failure_id):
                results.append({"id": r["id"], "connector": r.get("connector", "message"),
                                "key": r.get("key", ""),
                                "status": "resolved" if r["status"] == "applied" else "failed",
                                "error": r.get("reason")})  # fmt: skip
        if as_json:
            click.echo(json.dumps(results, indent=2))
        else:
            for r in results:
                tail = "" if r["error"] is None else f": {r['error']}"
                click.echo(f"#{r['id']} {r['connector']} {r['key']}: {r['status']}{tail}")
            if not results:
                click.echo("nothing to retry")
        if any(r["status"] != "resolved" for r in results):
            ctx.exit(2)
