"""A third-party crmflow plugin, installed through its `crmflow` entry point."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from crmflow import ActionContext, hookimpl

__all__ = ["register_actions", "register_functions"]

_stamps = sa.table(
    "notifications",
    sa.column("recipient"),
    sa.column("text"),
    sa.column("channel"),
    sa.column("created_at"),
    sa.column("instance_id"),
)


def stamp(ctx: ActionContext, label: str = "") -> dict[str, Any]:
    """Leave a mark in the firing transaction, proving the action ran there."""
    assert ctx.connection is not None
    ctx.connection.execute(
        _stamps.insert().values(
            recipient="hello",
            text=f"{label}@{ctx.state}",
            channel="test",
            created_at=ctx.now,
            instance_id=ctx.instance_id,
        )
    )
    return {"label": label, "greeting": ctx.settings.get("greeting", "hi")}


def is_big(amount: Any, limit: Any = 100) -> bool:
    return float(amount) > float(limit)


@hookimpl
def register_actions(register: Any) -> None:
    register("hello.stamp", stamp, description="stamp the instance")


@hookimpl
def register_functions(register: Any) -> None:
    register("is_big", is_big)
