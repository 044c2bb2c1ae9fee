"""Fire due timers and deadlines, each exactly once, through the normal fire path."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.store import reading

from . import groupcommit
from . import repository as repo
from .machine import SYSTEM
from .regions import in_any, load_regions
from .schedule import next_cron
from .timing import due_after, every_name

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike as Engine

__all__ = ["BATCH", "MAX_ROUNDS", "claim_due", "fire_due", "tick", "timer_key"]

log = logging.getLogger("crmflow.scheduler")

BATCH = 500
_LATE = timedelta(minutes=1)


def _due(now: datetime) -> Any:
    t = repo.timers
    return (t.c.due <= now) & (t.c.claimed_until.is_(None) | (t.c.claimed_until < now))


def claim_due(engine: Engine, now: datetime, limit: int = BATCH) -> list[Any]:
    """The due timer rows, oldest first (a read: :func:`tick` claims and fires them)."""
    t = repo.timers
    with reading(engine.db) as conn:
        return list(
            conn.execute(sa.select(t).where(_due(now)).order_by(t.c.due, t.c.id).limit(limit))
        )


#: rounds of due timers one tick takes before it leaves the rest to the next tick
MAX_ROUNDS = 1000


def tick(engine: Engine, now: datetime, *, limit: int = BATCH) -> int:
    """Fire everything due by ``now``, until nothing is due; return how many timers fired.

    A batch fires one timer per instance (the first may move it and cancel the
    others); a move may arm a deadline that is already due by ``now``. So the
    rounds go on until no row is due, each round in its own transaction,
    bounded by :data:`MAX_ROUNDS` (a cron every second over a year stops there).
    """
    fired = 0
    for _round in range(MAX_ROUNDS):
        taken, seen = fire_due(engine, now, limit)
        fired += taken
        if seen == 0:
            return fired
    log.warning("tick stopped after %d rounds; the next tick fires the rest", MAX_ROUNDS)
    return fired


def timer_key(timer: Any) -> str:
    """The idempotency key of a timer row's firing: one row fires once.

    A `since:` timer is armed again at the same due time when the instance
    moves between its states: its key leaves out the row, so it fires once.
    """
    if timer.kind == "since":
        return f"timer:{timer.name}:{repo.utc(timer.due).isoformat()}"
    return f"timer:{timer.id}:{timer.name}:{repo.utc(timer.due).isoformat()}"


def fire_due(engine: Engine, now: datetime, limit: int = BATCH) -> tuple[int, int]:
    """Claim, delete and fire one batch of due timers in one transaction.

    Returns (fired, rows seen). PostgreSQL: the rows are locked with ``FOR UPDATE
    SKIP LOCKED``, so schedulers share the work; a scheduler that dies mid-batch
    rolls back and its rows come back at once. SQLite: ``BEGIN IMMEDIATE`` makes
    the batch's transaction the one exclusive claim. A row is deleted in the
    transaction that fires it, and its key makes a second firing a no-op.
    """
    t = repo.timers
    query = sa.select(t).where(_due(now)).order_by(t.c.due, t.c.id).limit(limit)
    for _attempt in range(8):
        try:
            with engine.db.begin() as conn:
                if conn.dialect.name == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                rows = conn.execute(query).all()
                if not rows:
                    return 0, 0
                # One timer per instance per batch: the first may move the instance and
                # cancel the others, which the next batch then no longer sees.
                seen: set[int] = set()
                chosen = []
                for row in rows:
                    if row.instance_id not in seen:
                        seen.add(row.instance_id)
                        chosen.append(row)
                conn.execute(t.delete().where(t.c.id.in_([r.id for r in chosen])))
                events: list[tuple[int, str, dict[str, Any], str]] = [
                    (r.instance_id, r.trigger, {}, timer_key(r)) for r in chosen
                ]
                # A deadline a timer arms counts from the timer's due time (never later
                # than now), so a chain of overdue deadlines fires in one tick.
                times = [min(now, repo.utc(r.due)) for r in chosen]
                results, records, queued = groupcommit.fire_batch(
                    engine, conn, events, SYSTEM, now, times=times,
                    scopes=[r.state for r in chosen],
                )  # fmt: skip
                for timer, result in zip(chosen, results, strict=True):
                    if timer.kind == "cron" and (not result.taken or result.state == timer.state):
                        _rearm_cron(conn, engine, timer, now)
                    elif timer.kind == "every" and (not result.taken or not result.duplicate):
                        _rearm_every(conn, engine, timer, now)
        except (repo.Conflict, sa.exc.IntegrityError, sa.exc.OperationalError) as exc:
            log.info("timer batch rolled back (%s); trying again", exc)
            continue
        break
    else:
        log.error("due timers kept conflicting with other writers; left for the next tick")
        return 0, 0
    engine.after_commit(records, queued)
    fired = 0
    for timer, result in zip(chosen, results, strict=True):
        late = now - repo.utc(timer.due)
        if late > _LATE:
            log.warning(
                "timer %s (%s) of instance %s fired %s late",
                timer.name, timer.trigger, timer.instance_id, late,
            )  # fmt: skip
        if result.taken and not result.duplicate:
            fired += 1
        elif not result.taken:
            log.info(
                "timer %s of instance %s was refused: %s",
                timer.name, timer.instance_id, result.reason,
            )  # fmt: skip
    return fired, len(rows)


def _rearm_cron(conn: sa.Connection, engine: Engine, timer: Any, now: datetime) -> None:
    """The next occurrence after `now`: missed occurrences coalesce into one firing."""
    row = repo.select_instance(conn, timer.instance_id)
    if row is None or row.finished:
        return
    compiled = engine.catalog.get(conn, row.workflow, row.version)
    index = int(timer.name.split(":", 1)[1])
    tdef = next((t for t in compiled.definition.timers if t.index == index), None)
    if tdef is None or tdef.cron is None or not in_any(tdef.states, row.state, _regions(row)):
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
                "state": timer.state,
                "due": next_cron(tdef.cron, now, engine.factory.timezone),
            }
        ],
    )


def _rearm_every(conn: sa.Connection, engine: Engine, timer: Any, now: datetime) -> None:
    """The next period of an `every:` timer while the instance stays in its states.

    Periods missed while no worker ran fire once: the next due time is the
    first period boundary after ``now``; the count stops at ``max``.
    """
    row = repo.select_instance(conn, timer.instance_id)
    if row is None or row.finished:
        return
    compiled = engine.catalog.get(conn, row.workflow, row.version)
    _kind, index, count = timer.name.split(":")
    tdef = next((t for t in compiled.definition.timers if t.index == int(index)), None)
    if tdef is None or tdef.every is None or not in_any(tdef.states, row.state, _regions(row)):
        return
    t = repo.timers
    prefix = f"{tdef.name}:"
    armed = conn.execute(
        sa.select(t.c.id).where(t.c.instance_id == timer.instance_id, t.c.name.like(prefix + "%"))
    ).first()
    if armed is not None:
        return  # the transition entered one of its states anew and armed it already
    fired = int(count)
    if tdef.max is not None and fired >= tdef.max:
        return
    due = repo.utc(timer.due)
    while due <= now:
        due = due_after(engine, due, tdef.every, tdef.calendar)
    repo.insert_timers(conn, [{
        "instance_id": timer.instance_id, "name": every_name(tdef, fired + 1), "kind": "every",
        "trigger": timer.trigger, "state": timer.state, "due": due,
    }])  # fmt: skip


def _regions(row: Any) -> dict[str, str] | None:
    return load_regions(getattr(row, "regions", None))
