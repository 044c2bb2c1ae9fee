"""The write step: a batch of events fired in one transaction, one statement per table.

One fired event is a batch of one; ``fire_many``, timers, the worker and
``emit`` hand over more. Every event goes through the same :func:`decide`.
Reading order: :func:`fire_batch` here, then ``Batch.preload``
(batchstore), ``Batch.fire``/``Batch.apply`` (applyevent) for each event, and
``Batch.flush`` (batchstore) at the end.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.errors import CrmflowError, RefusedError

from . import subflows
from .applyevent import Batch
from .batchstore import Event
from .dbapi import NO_CONNECTION, dbapi_errors
from .decide import Decision, Snapshot, next_auto
from .direct import run_direct
from .results import FireResult, TransitionRecord
from .sqlstatements import statements, statements_for

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike as Engine

__all__ = ["Batch", "Event", "fire_batch", "fire_batch_direct", "settle"]

Fired = tuple[list[FireResult], list[TransitionRecord], bool]


def fire_batch(
    engine: Engine, conn: sa.Connection, events: Iterable[Event], actor: str | None,
    now: datetime, *, raise_errors: bool = False, times: list[datetime] | None = None,
    scopes: list[str | None] | None = None,
) -> Fired:  # fmt: skip
    """Apply a batch in the caller's transaction; raise repo.Conflict if it must be retried.

    An event refused or failing with a CrmflowError gets its own result and
    leaves the others alone, as if each event had its own savepoint (unless
    ``raise_errors``: a single fire lets the error reach its caller).
    ``times`` gives each event its own time (timers: their due times);
    ``scopes`` each event's timer state (a region's deadline moves that region only).
    """
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with dbapi_errors(conn.dialect):
            batch = Batch(engine, conn, statements(conn), cur, now)
            return _run_batch(batch, events, actor, raise_errors, times, scopes)
    finally:
        cur.close()


def _run_batch(
    batch: Batch, events: Iterable[Event], actor: str | None, raise_errors: bool,
    times: list[datetime] | None = None, scopes: list[str | None] | None = None,
) -> Fired:  # fmt: skip
    items = list(events)
    results: list[FireResult] = []
    records: list[TransitionRecord] = []
    queued = False
    batch.preload(items)
    for number, (iid, trigger, data, key) in enumerate(items):
        if times is not None:
            batch.set_time(times[number])
        if scopes is not None:
            batch.scope = scopes[number]
        try:
            result, taken, q = batch.fire(int(iid), trigger, data, key, actor)
        except CrmflowError as exc:
            if raise_errors:
                raise
            result = FireResult(False, "", f"error: {exc}", "error", iid)
            taken, q = [], False
        results.append(result)
        records.extend(taken)
        queued = queued or q
    batch.flush()
    return results, records, queued


def fire_batch_direct(
    engine: Engine, events: list[Event], actor: str | None, now: datetime, *,
    raise_errors: bool = False,
) -> Fired | None:  # fmt: skip
    """SQLite: fire_batch in a transaction of its own on a plain DB-API connection.

    None when the batch needs a Connection (an action that runs in the
    transaction, votes to read, a version not compiled yet): the caller then
    runs fire_batch in ``engine.db.begin()``.
    """

    def work(cur: Any) -> Fired:
        batch = Batch(engine, NO_CONNECTION, statements_for("sqlite"), cur, now)
        return _run_batch(batch, events, actor, raise_errors)

    return run_direct(engine, work, lambda fired: any(r.taken for r in fired[0]))


def settle(
    engine: Engine, conn: sa.Connection, iid: int, payload: dict[str, Any], actor: str | None,
    now: datetime,
) -> tuple[FireResult, list[TransitionRecord], bool]:  # fmt: skip
    """Take the automatic transitions out of an instance's state (after its start).

    An initial `call:` state starts its children instead.
    """
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with dbapi_errors(conn.dialect):
            batch = Batch(engine, conn, statements(conn), cur, now)
            inst = batch.reload(iid)
            assert inst is not None
            snap = Snapshot(inst.id, inst.state, inst.started_by, lambda: inst.data)
            snap.regions = inst.regions
            if inst.memo.definition.states[inst.state].call is not None:
                records, queued = subflows.start_initial(batch, inst, actor)
                batch.flush()
                return FireResult(True, inst.state, instance_id=iid), records, queued
            step = next_auto(engine, inst.memo, snap, inst.state, inst.data, payload, actor, now)
            if step is None:
                return FireResult(True, inst.state, instance_id=iid), [], False
            fired = batch.apply(inst, snap, Decision(step), "auto", {}, None, actor)
            if not fired[0].taken:
                raise RefusedError(fired[0].reason or "auto: loop", reason="auto")
            batch.flush()
            return fired
    finally:
        cur.close()
