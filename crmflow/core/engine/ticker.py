"""Fire due timers and deadlines, each exactly once, through the normal fire path."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from . import repository as repo
from .machine import SYSTEM
from .schedule import next_cron

if TYPE_CHECKING:  # pragma: no cover
    from .runtime import Engine

__all__ = ["BATCH", "LEASE", "claim_due", "tick"]

log = logging.getLogger("crmflow.scheduler")

BATCH = 500
LEASE = timedelta(minutes=5)
_LATE = timedelta(minutes=1)


def claim_due(engine: Engine, now: datetime, limit: int = BATCH) -> list[Any]:
    """Claim due timer rows for this worker.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` plus a lease, so many workers share
    the work and a dead worker's claims come back when the lease expires.
    SQLite: one writer at a time (``BEGIN IMMEDIATE``) is the exclusive claim.
    """
    t = repo.timers
    due = (t.c.due <= now) & (t.c.claimed_until.is_(None) | (t.c.claimed_until < now))
    query = sa.select(t).where(due).order_by(t.c.due, t.c.id).limit(limit)
    with engine.db.begin() as conn:
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = conn.execute(query).all()
        if rows and conn.dialect.name == "postgresql":
            conn.execute(
                t.update()
                .where(t.c.id.in_([r.id for r in rows]))
                .values(claimed_by=engine.worker_id, claimed_until=now + LEASE)
            )
    return rows


def tick(engine: Engine, now: datetime) -> int:
    """Fire everything due by ``now``; return the number of timers that fired."""
    fired = 0
    while True:
        batch = claim_due(engine, now)
        if not batch:
            return fired
        for timer in batch:
            fired += fire_timer(engine, timer, now)
        if len(batch) < BATCH:
            return fired


def fire_timer(engine: Engine, timer: Any, now: datetime) -> int:
    """Delete the timer row and fire its trigger in one transaction (1 if it fired)."""
    due = repo.utc(timer.due)
    key = f"timer:{timer.id}:{timer.name}:{due.isoformat()}"
    for _attempt in range(8):
        try:
            with engine.db.begin() as conn:
                t = repo.timers
                gone = conn.execute(t.delete().where(t.c.id == timer.id)).rowcount
                if gone != 1:
                    return 0  # another worker fired it
                result, records, queued = engine.fire_in(
                    conn, timer.instance_id, timer.trigger, {}, key, SYSTEM, now
                )
                if timer.kind == "cron" and (not result.taken or result.state == timer.state):
                    _rearm_cron(conn, engine, timer, now)
        except repo.Conflict:
            continue
        break
    else:
        log.error(
            "timer %s of instance %s kept conflicting; left for the next tick",
            timer.id,
            timer.instance_id,
        )
        return 0
    late = now - due
    if late > _LATE:
        log.warning(
            "timer %s (%s) of instance %s fired %s late",
            timer.name,
            timer.trigger,
            timer.instance_id,
            late,
        )
    if not result.taken:
        log.info(
            "timer %s of instance %s was refused: %s", timer.name, timer.instance_id, result.reason
        )
        return 0
    engine._after_commit(records, queued)
    return 1


def _rearm_cron(conn: sa.Connection, engine: Engine, timer: Any, now: datetime) -> None:
    """The next occurrence after `now`: missed occurrences coalesce into one firing."""
    row = repo.select_instance(conn, timer.instance_id)
    if row is None or row.finished:
        return
    compiled = engine.catalog.get(conn, row.workflow, row.version)
    index = int(timer.name.split(":", 1)[1])
    tdef = next((t for t in compiled.definition.timers if t.index == index), None)
    if tdef is None or tdef.cron is None or row.state not in tdef.states:
        return
    t = repo.timers
    armed = conn.execute(
        sa.select(t.c.id).where(t.c.instance_id == timer.instance_id, t.c.name == timer.name)
    ).first()
    if armed is not None:
        return  # the transition re-entered the state and armed it already
    repo.insert_timers(
        conn,
        [
            {
                "instance_id": timer.instance_id,
                "name": timer.name,
                "kind": "cron",
                "trigger": timer.trigger,
                "state": row.state,
                "due": next_cron(tdef.cron, now, engine.factory.timezone),
            }
        ],
    )
