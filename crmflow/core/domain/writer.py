"""Records and their domain events in one transaction; events delivered after the commit.

Every writer of domain records (the CSV import, the order services, connectors, the
web API) uses :func:`domain_write`::

    with domain_write(engine, actor="erp") as unit:
        unit.conn.execute(orders.insert().values(...))
        unit.add(Event("order.created", payload, key=f"order.created:{order_id}"))

The events are rows of the engine's ``inbox`` table written by the same
transaction as the records (a transactional outbox): a process killed at any
point either loses both or keeps both. After the commit the writing process
delivers them at once; what it could not deliver (killed, or a delivery that
failed) stays pending and is delivered by ``crmflow worker`` or by the next
writer (:func:`deliver_pending`). Delivery
passes the event key to ``emit``, so a redelivery is a no-op: each event
takes effect exactly once.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.engine import repository as repo
from crmflow.core.engine.inbox import MAX_ATTEMPTS, inbox
from crmflow.core.engine.inbox import deliver as deliver_one
from crmflow.core.store import reading
from crmflow.errors import InputError

from ._events import Event

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = [
    "Delivered",
    "Event",
    "DomainWrite",
    "MAX_KEY",
    "deliver_pending",
    "domain_write",
    "pending_events",
    "record_events",
]

log = logging.getLogger("crmflow.domain.events")

MAX_KEY = 500  # the inbox key column
_BATCH = 500


@dataclass
class Delivered:
    """What one delivery round did: delivered events and failures with their reason."""

    delivered: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)

    def add(self, other: Delivered) -> None:
        self.delivered += other.delivered
        self.failed.extend(other.failed)


@dataclass
class DomainWrite:
    """One unit of work: a connection in a transaction and the events it causes."""

    conn: sa.Connection
    actor: str
    events: list[Event] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    delivered: Delivered = field(default_factory=Delivered)

    def add(self, event: Event) -> None:
        """Record ``event`` with the rows written in this unit (committed with them)."""
        self.events.append(event)

    def extend(self, events: Iterable[Event]) -> None:
        self.events.extend(events)


@contextmanager
def domain_write(
    engine: Engine, *, actor: str, deliver: bool = True, conn: sa.Connection | None = None
) -> Iterator[DomainWrite]:
    """A transaction for records and their events; events are delivered after it commits.

    ``deliver=False`` leaves the events to the worker. With ``conn`` the unit
    joins a transaction the caller owns (and the caller delivers afterwards with
    :func:`deliver_pending`).
    """
    if conn is not None:
        unit = DomainWrite(conn, actor)
        yield unit
        unit.keys = record_events(conn, unit.events, actor=actor, now=engine.now())
        return
    with engine.db.begin() as own:
        unit = DomainWrite(own, actor)
        yield unit
        unit.keys = record_events(own, unit.events, actor=actor, now=engine.now())
    if deliver and unit.keys:
        unit.delivered = deliver_pending(engine, keys=unit.keys)


def record_events(
    conn: sa.Connection, events: Iterable[Event], *, actor: str, now: datetime
) -> list[str]:
    """Write ``events`` as pending inbox rows in ``conn``'s transaction; return their keys.

    A key already in the inbox (the same event written before) is skipped, so
    writing the same records twice queues their events once.
    """
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for event in events:
        key = event.key or f"event:{event.name}:{uuid.uuid4().hex}"
        if len(key) > MAX_KEY:
            raise InputError(
                f"event key of {event.name} is {len(key)} characters; at most {MAX_KEY}",
                field="key",
            )
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            {
                "instance_id": None,
                "trigger": None,
                "event": event.name,
                "payload": repo.dumps(event.payload),
                "key": key,
                "actor": actor,
                "status": "pending",
                "attempts": 0,
                "created_at": now,
            }
        )
    for start in range(0, len(rows), _BATCH):
        _insert_new(conn, rows[start : start + _BATCH])
    return [r["key"] for r in rows]


def _insert_new(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    name = conn.dialect.name
    if name in ("postgresql", "sqlite"):
        from sqlalchemy.dialects import postgresql, sqlite

        insert = postgresql.insert if name == "postgresql" else sqlite.insert
        conn.execute(insert(inbox).on_conflict_do_nothing(index_elements=["key"]), rows)
        return
    keys = [r["key"] for r in rows]
    known = set(conn.execute(sa.select(inbox.c.key).where(inbox.c.key.in_(keys))).scalars())
    fresh = [r for r in rows if r["key"] not in known]
    if fresh:
        conn.execute(inbox.insert(), fresh)


def pending_events(engine: Engine) -> int:
    """How many domain events wait for delivery."""
    with reading(engine.db) as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(inbox)
                .where(inbox.c.event.is_not(None), inbox.c.status == "pending")
            ).scalar_one()
        )


def deliver_pending(
    engine: Engine,
    *,
    keys: list[str] | None = None,
    now: datetime | None = None,
    limit: int | None = None,
) -> Delivered:
    """Deliver pending domain events (those of ``keys``, else every due one) in order.

    Each batch is delivered with ``emit_many`` (keyed, so a repeat is a no-op)
    and marked done; rows a worker holds a lease on are left to it. A batch that
    fails is retried event by event, and an event
    that keeps failing is recorded with its error (see ``crmflow worker``).
    """
    now = repo.utc(now) if now else engine.now()
    done = Delivered()
    if keys is not None:
        for start in range(0, len(keys), _BATCH):
            done.add(_deliver_batch(engine, now, keys=keys[start : start + _BATCH]))
        return done
    while limit is None or done.delivered + len(done.failed) < limit:
        size = _BATCH if limit is None else min(_BATCH, limit - done.delivered - len(done.failed))
        step = _deliver_batch(engine, now, size=size)
        done.add(step)
        if step.delivered == 0:  # nothing due, or only failures (retried later)
            break
    return done


def _due(now: datetime) -> Any:
    return (
        inbox.c.event.is_not(None)
        & (inbox.c.status == "pending")
        & (inbox.c.claimed_until.is_(None) | (inbox.c.claimed_until < now))
    )


def _select(engine: Engine, now: datetime, keys: list[str] | None, size: int) -> list[Any]:
    # No lease of our own: a writer killed mid-delivery must not hide its events from the
    # next one for a lease's length. A worker's lease is respected; delivering an event
    # that a worker delivers at the same moment is harmless, as both are keyed.
    query = sa.select(inbox.c.id, inbox.c.event, inbox.c.payload, inbox.c.key, inbox.c.actor)
    query = query.where(_due(now)).order_by(inbox.c.id)
    query = query.where(inbox.c.key.in_(keys)) if keys is not None else query.limit(size)
    with reading(engine.db) as conn:
        return list(conn.execute(query).all())


def _deliver_batch(
    engine: Engine,
    now: datetime,
    *,
    keys: list[str] | None = None,
    size: int = _BATCH,
) -> Delivered:
    done = Delivered()
    rows = _select(engine, now, keys, size)
    if not rows:
        return done
    by_actor: dict[str | None, list[Any]] = {}
    for row in rows:
        by_actor.setdefault(row.actor, []).append(row)
    for actor, group in by_actor.items():
        try:
            results = engine.emit_many(
                [(r.event, json.loads(r.payload), r.key) for r in group],
                actor=actor or "system",
            )
        except Exception as exc:  # one bad event must not hold back the others
            log.warning("event batch failed (%s); delivering one by one", exc)
            for row in group:
                if deliver_one(engine, row.id, now):
                    done.delivered += 1
                else:
                    done.failed.append((row.key, _error_of(engine, row.id)))
            continue
        marks = [
            {
                "row_id": row.id,
                "result": repo.dumps({"started": res.started, "moved": res.moved}),
            }
            for row, res in zip(group, results, strict=True)
        ]
        with engine.db.begin() as conn:
            conn.execute(
                inbox.update()
                .where(inbox.c.id == sa.bindparam("row_id"), inbox.c.status == "pending")
                .values(
                    status="done",
                    attempts=inbox.c.attempts + 1,
                    result=sa.bindparam("result"),
                    done_at=now,
                    claimed_by=None,
                    claimed_until=None,
                ),
                marks,
            )
        done.delivered += len(group)
    return done


def _error_of(engine: Engine, row_id: int) -> str:
    with reading(engine.db) as conn:
        row = conn.execute(
            sa.select(inbox.c.last_error, inbox.c.attempts).where(inbox.c.id == row_id)
        ).first()
    if row is None:
        return "unknown"
    retry = "" if row.attempts >= MAX_ATTEMPTS else " (the worker retries it)"
    return f"{row.last_error}{retry}"
