"""The ERP connector: Odoo (JSON-2, JSON-RPC) and ERPNext (REST), pulled and pushed.

Built as a third-party plugin would be: it registers the ``erp`` connector,
the ``erp.push`` outbox action, ``crmflow sync erp`` and the periodic sync of
the worker through crmflow's hooks, and reports its health into
:mod:`crmflow.plugins.connectors.status`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from crmflow import hookimpl
from crmflow.lazy import lazy

from .commands import add_commands

if TYPE_CHECKING:  # pragma: no cover
    from .config import ErpConfig

NAME = "erp"
# the client, the sync and the config checks (httpx, SQLAlchemy) load when first used
erp_config = lazy("crmflow.plugins.erp.config:erp_config")
# (not named `connect`: importing the submodule `erp.connect` would replace it)
open_connection = lazy("crmflow.plugins.erp.connect:connect")
push_one = lazy("crmflow.plugins.erp.push:push_one")
sync_erp = lazy("crmflow.plugins.erp.sync:sync_erp")

__all__ = [
    "register_actions",
    "register_commands",
    "register_connectors",
    "register_settings",
    "run_scheduled",
]


def _retry(engine: Any, failure: dict[str, Any]) -> None:
    """``crmflow connectors retry``: push a dead-lettered subject again."""
    config = _config(engine)
    conn = open_connection(config)
    try:
        push_one(engine, conn, str(failure["payload"]["subject"]))
    finally:
        conn.close()


def _config(engine: Any) -> ErpConfig:
    config = erp_config(engine.factory)
    if config is None:
        from crmflow.errors import ConfigError

        raise ConfigError("this factory has no connectors.erp section")
    return config


@hookimpl
def register_connectors(register: Any) -> None:
    register(
        NAME,
        erp_config,
        retry=_retry,
        description="Odoo 14-19+ / ERPNext 15: orders, stock, production, purchases",
    )


def push_now(ctx: Any, subject: str) -> dict[str, Any]:
    """Push an approved purchase request or production adjustment to the ERP now."""
    conn = open_connection(_config(ctx.engine))
    try:
        return push_one(ctx.engine, conn, str(subject))
    finally:
        conn.close()


@hookimpl
def register_actions(register: Any) -> None:
    # (not named `push`: the submodule `erp.push` would shadow it once imported)
    register("erp.push", push_now, outbox=True, description=push_now.__doc__)


@hookimpl
def register_settings(register: Any) -> None:
    register(
        "erp_rush_tags",
        ["urgent", "rush"],
        description="ERP order tags that make an order a rush order",
    )


@hookimpl
def register_commands(cli: Any) -> None:
    add_commands(cli)


@hookimpl
def run_scheduled(engine: Any, now: datetime) -> None:
    """Sync every ``connectors.erp.every``; the occurrence is claimed by a conditional update."""
    config = erp_config(engine.factory)
    if config is None:
        return
    import sqlalchemy as sa

    from crmflow.plugins.connectors.status import connector_status

    t = connector_status
    with engine.db.begin() as conn:
        row = conn.execute(sa.select(t.c.last_attempt).where(t.c.name == NAME)).first()
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(
                        t.insert().values(
                            name=NAME,
                            kind=config.kind,
                            state="syncing",
                            last_attempt=now,
                            errors=0,
                            records="{}",
                        )
                    )
            except sa.exc.IntegrityError:
                return
        else:
            due = now - config.every
            claimed = conn.execute(t.update().where(
                t.c.name == NAME, sa.or_(t.c.last_attempt.is_(None), t.c.last_attempt <= due)
            ).values(last_attempt=now))  # fmt: skip
            if claimed.rowcount != 1:
                return
    sync_erp(engine)
