"""Run a step's actions: in the transaction, or as outbox rows run after the commit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.errors import CrmflowError

from . import repository as repo
from .context import ActionContext
from .definition import ActionSpec, WorkflowDef
from .expressions import render_value

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike

__all__ = [
    "held_back","OUTBOX_COLUMNS", "outbox_row", "queued_only", "render_params", "run_inline"]


#: the columns of :func:`outbox_row`'s tuple, in order
OUTBOX_COLUMNS = (
    "instance_id", "history_id", "action_index", "action", "params", "save_as", "key",
    "status", "attempts", "max_attempts", "next_attempt_at", "created_at",
)  # fmt: skip


def outbox_row(
    engine: EngineLike, iid: int, hid: int, index: int, spec: ActionSpec, params: Any, at: Any
) -> tuple[Any, ...]:
    """The outbox row (in the order of Statements.insert_outbox) of one queued action."""
    registered = engine.registry.actions[spec.action]
    return (
        iid, hid, index, spec.action, repo.dumps(params), spec.save_as, f"{iid}:{hid}:{index}",
        "pending", 0, int(registered.option("max_attempts", 5)), at, at,
    )  # fmt: skip


def held_back(
    engine: EngineLike, plugin: str, actor: str | None, data: dict[str, Any],
    started_by: str | None, now: datetime, conn: sa.Connection | None = None,
) -> str | None:  # fmt: skip
    """Why ``plugin``'s action must not run for this instance (its rollout), or None.

    Inside a transaction pass its ``conn``: the check then reads on it.
    """
    rollout = getattr(engine, "rollout", None)
    if rollout is None or not rollout.active(conn):
        return None
    today = now.astimezone(engine.factory.timezone).date()
    refused: str | None = rollout.refusal(plugin, actor, data, starter=started_by, today=today,
                                          conn=conn)  # fmt: skip
    return refused


def run_inline(
    engine: EngineLike, conn: sa.Connection, iid: int, definition: WorkflowDef, hid: int,
    index: int, state: str, spec: ActionSpec, params: Any, data: dict[str, Any],
    actor: str | None, now: datetime, *, started_by: str | None = None,
    started_at: datetime | None = None,
) -> None:  # fmt: skip
    """Run an action inside the transaction; ``save_as`` stores its result in ``data``.

    An action of a plugin that is off, or in pilot for other departments, is skipped.
    """
    registered = engine.registry.actions[spec.action]
    if held_back(engine, registered.plugin, actor, data, started_by, now, conn) is not None:
        return
    ctx = ActionContext(
        engine=engine, instance_id=iid, workflow=definition.id, state=state, data=data,
        actor=actor, idempotency_key=f"{iid}:{hid}:{index}", now=now,
        settings=engine.plugin_settings(registered.plugin), connection=conn,
        started_by=started_by, started_at=started_at,
    )  # fmt: skip
    try:
        result = registered.obj(ctx, **params)
    except CrmflowError:
        raise
    except Exception as exc:
        raise CrmflowError(
            f"action {spec.action!r} (plugin {registered.plugin!r}) failed in state "
            f"{state!r}: {exc}; nothing was changed"
        ) from exc
    if spec.save_as:
        data[spec.save_as] = result


def render_params(
    engine: EngineLike, spec: ActionSpec, data: dict[str, Any], payload: dict[str, Any] | None,
    state: str, now: datetime, actor: str | None = None, started_by: str | None = None,
) -> Any:  # fmt: skip
    context = engine.expression_context(
        data, payload, state, now, actor=actor, started_by=started_by
    )
    return render_value(spec.params, context)


def queued_only(engine: EngineLike, plan: Iterable[tuple[str, str, ActionSpec]]) -> bool:
    return all(engine.registry.actions[s.action].option("outbox", False) for _p, _s, s in plan)
