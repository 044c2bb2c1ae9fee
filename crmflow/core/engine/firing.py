"""Firing on the Engine: one trigger, a batch, or inside the caller's transaction.

Each is one transaction through the write step (groupcommit), retried when a
concurrent writer moved a row first; hooks and the outbox run after commit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.store import reading
from crmflow.errors import ConcurrencyError

from . import groupcommit
from . import repository as repo
from .results import FireResult, TransitionRecord

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike as Engine

__all__ = ["RETRIES", "fire", "fire_in", "fire_many", "rollout_refusal"]

#: attempts before a fire gives up on rows that keep changing under it
RETRIES = 8


def fire(
    engine: Engine, iid: int, trigger: str, data: dict[str, Any] | None, key: str | None,
    actor: str | None, when: datetime,
) -> FireResult:  # fmt: skip
    """Fire ``trigger`` on ``iid`` at ``when`` (``Engine.fire``); a refusal changes nothing."""
    event = [(iid, trigger, data, key)]
    if engine.rollout.active():
        refused = rollout_refusal(engine, iid, actor, when)
        if refused is not None:
            return refused
    for _attempt in range(RETRIES):
        try:
            fired = groupcommit.fire_batch_direct(engine, event, actor, when, raise_errors=True)
            if fired is None:
                with engine.db.begin() as conn:
                    fired = groupcommit.fire_batch(
                        engine, conn, event, actor, when, raise_errors=True
                    )
                    if not fired[0][0].taken:
                        conn.rollback()
            results, records, queued = fired
        except repo.Conflict:
            continue
        except sa.exc.OperationalError as exc:
            if not _transient(exc):
                raise
            continue  # a deadlock with a timer batch: PostgreSQL rolled us back; retry
        except sa.exc.IntegrityError:
            if key is None:
                raise
            continue  # the same key was applied by a concurrent process: the retry sees it
        engine.after_commit(records, queued)
        return results[0]
    raise ConcurrencyError(f"instance {iid} kept changing while firing {trigger!r}; try again")


def rollout_refusal(
    engine: Engine, iid: int, actor: str | None, now: datetime
) -> FireResult | None:
    """The refusal of a fire by an actor the staged rollout leaves out; None: allowed."""
    i = repo.instances
    with reading(engine.db) as conn:
        row = conn.execute(
            sa.select(i.c.workflow, i.c.state, i.c.data, i.c.created_by).where(i.c.id == iid)
        ).first()
    if row is None:
        return None  # the fire itself reports the missing instance
    refused = engine.rollout.refusal(
        row.workflow, actor, _json_data(row.data), starter=row.created_by,
        today=engine.today(now),
    )  # fmt: skip
    if refused is None:
        return None
    return FireResult(False, row.state, reason=f"rollout: {refused}", code="rollout",
                      instance_id=iid)  # fmt: skip


def fire_many(
    engine: Engine, events: Iterable[tuple[int, str, dict[str, Any] | None, str | None]],
    actor: str | None,
) -> list[FireResult]:  # fmt: skip
    """Fire a batch in one transaction (group commit); each event keeps its rules."""
    batch = list(events)
    for _attempt in range(RETRIES):
        try:
            now = engine.now()
            fired = groupcommit.fire_batch_direct(engine, batch, actor, now)
            if fired is None:
                with engine.db.begin() as conn:
                    fired = groupcommit.fire_batch(engine, conn, batch, actor, now)
            results, records, queued = fired
        except (repo.Conflict, sa.exc.IntegrityError):
            # A concurrent writer got there first (PostgreSQL); the retry sees its work.
            continue
        engine.after_commit(records, queued)
        return results
    raise ConcurrencyError("a batch kept conflicting with concurrent writers; try again")


def fire_in(
    engine: Engine, conn: sa.Connection, iid: int, trigger: str, data: dict[str, Any] | None,
    key: str | None, actor: str | None, now: datetime,
) -> tuple[FireResult, list[TransitionRecord], bool]:  # fmt: skip
    """Fire inside the caller's transaction; raise repo.Conflict on a stale row."""
    results, records, queued = groupcommit.fire_batch(
        engine, conn, [(iid, trigger, data, key)], actor, now, raise_errors=True
    )
    return results[0], records, queued


def _json_data(stored: Any) -> dict[str, Any]:
    data = json.loads(stored) if isinstance(stored, str) else stored
    return data if isinstance(data, dict) else {}


def _transient(exc: sa.exc.OperationalError) -> bool:
    """A deadlock or serialization failure: the transaction may simply be retried."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in ("40P01", "40001")
