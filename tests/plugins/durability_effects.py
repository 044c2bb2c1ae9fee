"""Test-only plugin: outbox actions that record each effect once per idempotency key."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from crmflow import ActionContext, hookimpl

__all__ = ["create_tables", "effect", "flaky", "register_actions", "set_broken"]

_DDL = (
    "CREATE TABLE IF NOT EXISTS durability_effects "
    "(key VARCHAR(500) PRIMARY KEY, n INTEGER NOT NULL, calls INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS durability_switch (name VARCHAR(100) PRIMARY KEY)",
)


def create_tables(db: sa.Engine) -> None:
    with db.begin() as conn:
        for statement in _DDL:
            conn.execute(sa.text(statement))


def set_broken(db: sa.Engine, broken: bool) -> None:
    with db.begin() as conn:
        conn.execute(sa.text("DELETE FROM durability_switch WHERE name = 'erp'"))
        if broken:
            conn.execute(sa.text("INSERT INTO durability_switch (name) VALUES ('erp')"))


def effect(ctx: ActionContext, n: Any = 0) -> dict[str, Any]:
    """Like a connector that de-duplicates by key: a repeated call counts, the effect does not."""
    with ctx.engine.db.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO durability_effects (key, n, calls) VALUES (:k, :n, 1) "
                "ON CONFLICT (key) DO UPDATE SET calls = durability_effects.calls + 1"
            ),
            {"k": ctx.idempotency_key, "n": int(n)},
        )
    return {"n": int(n)}


def flaky(ctx: ActionContext, n: Any = 0) -> dict[str, Any]:
    """Fails while the `erp` switch row exists, as an unreachable ERP would."""
    with ctx.engine.db.connect() as conn:
        broken = conn.execute(
            sa.text("SELECT 1 FROM durability_switch WHERE name = 'erp'")
        ).first()
    if broken:
        raise ConnectionError("ERP unreachable (connection refused)")
    return effect(ctx, n)


@hookimpl
def register_actions(register: Any) -> None:
    register("durability.effect", effect, outbox=True, max_attempts=5)
    register("durability.flaky", flaky, outbox=True, max_attempts=5)
