"""The durable inbound event queue: enqueue now, apply exactly once in a worker."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from crmflow.core.store import reading
from crmflow.errors import CrmflowError, InputError

from . import groupcommit
from . import repository as repo
from .backoff import backoff
from .machine import SYSTEM

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike as Engine

__all__ = ["Drained", "MAX_ATTEMPTS", "deliver", "drain", "enqueue", "enqueue_many", "inbox"]

log = logging.getLogger("crmflow.inbox")

MAX_ATTEMPTS = 5
LEASE = timedelta(minutes=5)

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: Mirrors migration 0005_worker. A row targets an instance (``instance_id`` +
#: ``trigger``, applied through the fire path) or names a domain event (``event``,
#: delivered through ``emit``). ``key`` is the idempotency key of the application.
inbox = sa.Table(
    "inbox",
    SQLModel.metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("instance_id", _ID, nullable=True),
    sa.Column("trigger", sa.String(200), nullable=True),
    sa.Column("event", sa.String(200), nullable=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("key", sa.String(500), nullable=False, unique=True),
    sa.Column("actor", sa.String(200), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("claimed_by", sa.String(200), nullable=True),
    sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_inbox_status_id", "status", "id"),
)


@dataclass
class Drained:
    """What one drain round did."""

    applied: int = 0
    refused: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.applied + self.refused + self.failed


def _row(
    *, instance_id: int | None, trigger: str | None, event: str | None,
    data: Mapping[str, Any] | None, key: str | None, actor: str | None, now: datetime,
) -> dict[str, Any]:  # fmt: skip
    if (instance_id is None) == (event is None):
        raise InputError("an inbox item names either an instance and a trigger, or an event")
    if instance_id is not None and not trigger:
        raise InputError("an inbox item for an instance needs a trigger", field="trigger")
    return {
        "instance_id": instance_id,
        "trigger": trigger,
        "event": event,
        "payload": repo.dumps(dict(data or {})),
        "key": key or f"inbox:{uuid.uuid4().hex}",
        "actor": actor,
        "status": "pending",
        "attempts": 0,
        "created_at": now,
    }


def enqueue(
    engine: Engine, instance_id: int | None = None, trigger: str | None = None,
    data: Mapping[str, Any] | None = None, *, event: str | None = None, key: str | None = None,
    actor: str | None = SYSTEM, conn: sa.Connection | None = None,
) -> int:  # fmt: skip
    """Queue one event; the same ``key`` queued twice is one row. Returns the row id."""
    row = _row(
        instance_id=instance_id, trigger=trigger, event=event, data=data, key=key, actor=actor,
        now=engine.now(),
    )  # fmt: skip
    if conn is not None:
        return _insert(conn, row)
    try:
        with engine.db.begin() as own:
            return _insert(own, row)
    except sa.exc.IntegrityError:
        with reading(engine.db) as own:
            found = own.execute(sa.select(inbox.c.id).where(inbox.c.key == row["key"])).scalar()
        if found is None:
            raise
        return int(found)


def _insert(conn: sa.Connection, row: dict[str, Any]) -> int:
    return int(conn.execute(inbox.insert().values(**row).returning(inbox.c.id)).scalar_one())


def enqueue_many(engine: Engine, items: Iterable[Mapping[str, Any]]) -> int:
    """Queue many events in one transaction (keys already queued are skipped)."""
    now = engine.now()
    rows = [
        _row(
            instance_id=item.get("instance_id"), trigger=item.get("trigger"),
            event=item.get("event"), data=item.get("data"), key=item.get("key"),
            actor=item.get("actor", SYSTEM), now=now,
        )  # fmt: skip
        for item in items
    ]
    if not rows:
        return 0
    with engine.db.begin() as conn:
        known: set[str] = set()
        keys = [r["key"] for r in rows]
        for start in range(0, len(keys), 500):
            known.update(
                conn.execute(
                    sa.select(inbox.c.key).where(inbox.c.key.in_(keys[start : start + 500]))
                ).scalars()
            )
        fresh = [r for r in rows if r["key"] not in known]
        if fresh:
            conn.execute(inbox.insert(), fresh)
    return len(fresh)


def _due(now: datetime) -> Any:
    return (inbox.c.status == "pending") & (
        inbox.c.claimed_until.is_(None) | (inbox.c.claimed_until < now)
    )


def drain(
    engine: Engine, now: datetime | None = None, *, limit: int = 100,
    lease: timedelta = LEASE,
) -> Drained:  # fmt: skip
    """Apply up to ``limit`` queued instance events and ``limit`` domain events."""
    now = repo.utc(now) if now else engine.now()
    done = Drained()
    _drain_fires(engine, now, limit, done)
    _drain_events(engine, now, limit, lease, done)
    return done


def _drain_fires(engine: Engine, now: datetime, limit: int, done: Drained) -> None:
    """Instance events: claimed, applied and marked done in one transaction.

    A worker that dies mid-batch rolls the whole batch back (its row locks go
    with its connection), so another worker applies each event exactly once.
    """
    query = (
        sa.select(
            inbox.c.id, inbox.c.instance_id, inbox.c.trigger, inbox.c.payload, inbox.c.key,
            inbox.c.actor, inbox.c.attempts,
        )  # fmt: skip
        .where(_due(now) & inbox.c.instance_id.is_not(None))
        .order_by(inbox.c.id)
        .limit(limit)
    )
    rows: list[Any] = []
    try:
        with engine.db.begin() as conn:
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = list(conn.execute(query).all())
            if not rows:
                return
            records, queued = _apply(engine, conn, rows, now, done)
    except (repo.Conflict, sa.exc.IntegrityError, sa.exc.OperationalError) as exc:
        # Lost a race with a concurrent writer (or a deadlock victim): the rows stay
        # pending and the next round applies them.
        log.info("inbox batch rolled back, retried next round: %s", exc)
        return
    except Exception:
        log.exception("inbox batch failed; applying its events one by one")
        for row in rows:
            _apply_alone(engine, row, now, done)
        return
    engine.after_commit(records, queued)


def _apply(
    engine: Engine, conn: sa.Connection, rows: list[Any], now: datetime, done: Drained
) -> tuple[list[Any], bool]:
    by_actor: dict[str | None, list[Any]] = {}
    for row in rows:
        by_actor.setdefault(row.actor, []).append(row)
    records: list[Any] = []
    queued = False
    marks: list[dict[str, Any]] = []
    for actor, group in by_actor.items():
        events = [(r.instance_id, r.trigger, json.loads(r.payload), r.key) for r in group]
        results, taken, q = groupcommit.fire_batch(engine, conn, events, actor, now)
        records.extend(taken)
        queued = queued or q
        for row, result in zip(group, results, strict=True):
            if result.taken:
                status, done.applied = "done", done.applied + 1
            elif result.code == "error":
                status, done.failed = "dead", done.failed + 1
            else:
                status, done.refused = "refused", done.refused + 1
            marks.append(
                {
                    "row_id": row.id,
                    "status": status,
                    "result": repo.dumps(
                        {"taken": result.taken, "state": result.state, "reason": result.reason}
                    ),
                    "last_error": result.reason if status == "dead" else None,
                    "attempts": row.attempts + 1,
                }
            )
    conn.execute(
        inbox.update()
        .where(inbox.c.id == sa.bindparam("row_id"))
        .values(
            status=sa.bindparam("status"),
            result=sa.bindparam("result"),
            last_error=sa.bindparam("last_error"),
            attempts=sa.bindparam("attempts"),
            done_at=now,
            claimed_by=None,
            claimed_until=None,
        ),
        marks,
    )
    return records, queued


def _apply_alone(engine: Engine, row: Any, now: datetime, done: Drained) -> None:
    try:
        with engine.db.begin() as conn:
            records, queued = _apply(engine, conn, [row], now, done)
    except Exception as exc:
        _failed(engine, row.id, row.attempts, exc, now)
        done.failed += 1
        return
    engine.after_commit(records, queued)


def _failed(engine: Engine, row_id: int, attempts: int, exc: Exception, now: datetime) -> None:
    attempts += 1
    dead = attempts >= MAX_ATTEMPTS
    error = f"{type(exc).__name__}: {exc}"
    with engine.db.begin() as conn:
        conn.execute(
            inbox.update()
            .where(inbox.c.id == row_id)
            .values(
                attempts=attempts,
                status="dead" if dead else "pending",
                last_error=error,
                claimed_by=None,
                claimed_until=None if dead else now + backoff(attempts),
            )
        )
    (log.error if dead else log.warning)(
        "inbox %s attempt %s/%s failed: %s", row_id, attempts, MAX_ATTEMPTS, error
    )


def _drain_events(
    engine: Engine, now: datetime, limit: int, lease: timedelta, done: Drained
) -> None:
    """Domain events: leased, delivered with their key (so a redelivery is a no-op)."""
    query = (
        sa.select(inbox.c.id)
        .where(_due(now) & inbox.c.event.is_not(None))
        .order_by(inbox.c.id)
        .limit(limit)
    )
    with engine.db.begin() as conn:
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = [int(i) for i in conn.execute(query).scalars()]
        if ids:
            conn.execute(
                inbox.update()
                .where(inbox.c.id.in_(ids))
                .values(claimed_by=engine.worker_id, claimed_until=now + lease)
            )
    for row_id in ids:
        if deliver(engine, row_id, now):
            done.applied += 1
        else:
            done.failed += 1


def deliver(engine: Engine, row_id: int, now: datetime | None = None) -> bool:
    """Deliver one queued domain event now; True when it was delivered (or already was)."""
    now = repo.utc(now) if now else engine.now()
    with reading(engine.db) as conn:
        row = conn.execute(sa.select(inbox).where(inbox.c.id == row_id)).first()
    if row is None or row.status != "pending" or row.event is None:
        return row is not None and row.status == "done"
    try:
        result = engine.emit(row.event, json.loads(row.payload), key=row.key, actor=row.actor)
    except CrmflowError as exc:
        _failed(engine, row.id, MAX_ATTEMPTS - 1, exc, now)  # a refusal will not heal itself
        return False
    except Exception as exc:
        _failed(engine, row.id, row.attempts, exc, now)
        return False
    with engine.db.begin() as conn:
        conn.execute(
            inbox.update()
            .where(inbox.c.id == row.id, inbox.c.status == "pending")
            .values(
                status="done",
                attempts=row.attempts + 1,
                result=repo.dumps({"started": result.started, "moved": result.moved}),
                done_at=now,
                claimed_by=None,
                claimed_until=None,
            )
        )
    return True
