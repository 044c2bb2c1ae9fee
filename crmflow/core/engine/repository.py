"""SQL of the engine's hot path: read and write instances, history, timers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from .regions import load_regions
from .results import HistoryEntry, Instance, TimerEntry
from .tables import EventLog, HistoryRow, InstanceRow, Notification, OutboxRow, TimerRow, VoteRow

__all__ = [
    "Conflict",
    "children_of",
    "events",
    "history",
    "instances",
    "load_instance",
    "load_instances",
    "notifications",
    "outbox",
    "timers",
    "utc",
    "votes",
    "votes_of",
]

instances: sa.Table = InstanceRow.__table__  # type: ignore[attr-defined]
history: sa.Table = HistoryRow.__table__  # type: ignore[attr-defined]
timers: sa.Table = TimerRow.__table__  # type: ignore[attr-defined]
outbox: sa.Table = OutboxRow.__table__  # type: ignore[attr-defined]
notifications: sa.Table = Notification.__table__  # type: ignore[attr-defined]
events: sa.Table = EventLog.__table__  # type: ignore[attr-defined]
votes: sa.Table = VoteRow.__table__  # type: ignore[attr-defined]


class Conflict(Exception):
    """The instance row changed under us (optimistic concurrency); retry."""


def utc(value: datetime) -> datetime:
    """Aware UTC (the store hands back aware UTC too)."""
    if value.tzinfo is UTC:
        return value  # the engine's own clock: nothing to convert
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# One encoder for every call: json.dumps builds a new one per call when given options.
_ENCODE = json.JSONEncoder(separators=(",", ":"), default=str, ensure_ascii=False).encode


def dumps(value: Any) -> str:
    return _ENCODE(value)


def _instance(row: Any) -> Instance:
    return Instance(
        id=row.id,
        workflow=row.workflow,
        version=row.version,
        state=row.state,
        data=json.loads(row.data),
        rev=row.rev,
        finished=bool(row.finished),
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        entered_at=utc(row.entered_at),
        key=row.open_key,
        started_by=row.created_by,
        regions=load_regions(getattr(row, "regions", None)) or {},
        parent=row.parent_id,
    )


def select_instance(conn: sa.Connection, iid: int, *, lock: bool = False) -> Any:
    query = sa.select(instances).where(instances.c.id == iid)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).first()


def load_instance(conn: sa.Connection, iid: int) -> Instance | None:
    row = select_instance(conn, iid)
    if row is None:
        return None
    inst = _instance(row)
    inst.history = [
        HistoryEntry(
            id=h.id,
            trigger=h.trigger,
            from_state=h.from_state,
            to_state=h.to_state,
            at=utc(h.at),
            actor=h.actor,
            payload=json.loads(h.payload) if h.payload else None,
            key=h.key,
        )
        for h in conn.execute(
            sa.select(history).where(history.c.instance_id == iid).order_by(history.c.id)
        )
    ]
    inst.timers = _timers_of(conn, [iid]).get(iid, [])
    inst.approvals = votes_of(conn, iid)
    inst.children = children_of(conn, iid)
    return inst


def children_of(conn: sa.Connection, iid: int) -> list[dict[str, Any]]:
    """The children an instance's `call:` states started, oldest first (``show --json``)."""
    i = instances
    rows = conn.execute(
        sa.select(i.c.id, i.c.workflow, i.c.state, i.c.finished)
        .where(i.c.parent_id == iid).order_by(i.c.id)
    )  # fmt: skip
    return [{"id": r.id, "workflow": r.workflow, "state": r.state, "finished": bool(r.finished)}
            for r in rows]  # fmt: skip


def votes_of(conn: sa.Connection, iid: int) -> list[dict[str, Any]]:
    """The votes cast on an instance, oldest first, as ``show --json`` lists them."""
    return [
        {"by": v.voter, "for": v.for_person, "decision": v.decision, "at": utc(v.at).isoformat(),
         "comment": v.comment, "state": v.state}
        for v in conn.execute(sa.select(votes).where(votes.c.instance_id == iid)
                              .order_by(votes.c.id))
    ]  # fmt: skip


def _timers_of(conn: sa.Connection, ids: Iterable[int]) -> dict[int, list[TimerEntry]]:
    result: dict[int, list[TimerEntry]] = {}
    id_list = list(ids)
    for start in range(0, len(id_list), 500):  # bounded IN lists on every database
        for t in conn.execute(
            sa.select(timers)
            .where(timers.c.instance_id.in_(id_list[start : start + 500]))
            .order_by(timers.c.due, timers.c.id)
        ):
            result.setdefault(t.instance_id, []).append(
                TimerEntry(trigger=t.trigger, due=utc(t.due), name=t.name, kind=t.kind)
            )
    return result


def load_instances(
    conn: sa.Connection,
    *,
    workflow: str | None = None,
    state: str | None = None,
    finished: bool | None = None,
    limit: int | None = None,
) -> list[Instance]:
    query = sa.select(instances).order_by(instances.c.id.desc())
    if workflow:
        query = query.where(instances.c.workflow == workflow)
    if state:
        query = query.where(instances.c.state == state)
    if finished is not None:
        query = query.where(instances.c.finished == finished)
    if limit:
        query = query.limit(limit)
    found = [_instance(row) for row in conn.execute(query)]
    by_id = _timers_of(conn, [i.id for i in found])
    kids = _children_of_many(conn, [i.id for i in found])
    for inst in found:
        inst.timers = by_id.get(inst.id, [])
        inst.children = kids.get(inst.id, [])
    return found


def _children_of_many(conn: sa.Connection, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    i = instances
    found: dict[int, list[dict[str, Any]]] = {}
    for start in range(0, len(ids), 500):  # bounded IN lists on every database
        for r in conn.execute(
            sa.select(i.c.id, i.c.workflow, i.c.state, i.c.finished, i.c.parent_id)
            .where(i.c.parent_id.in_(ids[start : start + 500])).order_by(i.c.id)
        ):  # fmt: skip
            found.setdefault(int(r.parent_id), []).append(
                {"id": r.id, "workflow": r.workflow, "state": r.state, "finished": bool(r.finished)}
            )
    return found


def history_by_key(conn: sa.Connection, iid: int, key: str) -> Any:
    return conn.execute(
        sa.select(history.c.id, history.c.to_state).where(
            history.c.instance_id == iid, history.c.key == key
        )
    ).first()


def insert_history(
    conn: sa.Connection,
    *,
    iid: int,
    trigger: str,
    from_state: str | None,
    to_state: str,
    actor: str | None,
    at: datetime,
    payload: Any,
    key: str | None,
) -> int:
    result = conn.execute(
        history.insert()
        .values(
            instance_id=iid,
            trigger=trigger,
            from_state=from_state,
            to_state=to_state,
            actor=actor,
            at=at,
            payload=dumps(payload) if payload is not None else None,
            key=key,
        )
        .returning(history.c.id)
    )
    return int(result.scalar_one())


def insert_timers(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(timers.insert(), rows)


def delete_timers(conn: sa.Connection, iid: int) -> None:
    conn.execute(timers.delete().where(timers.c.instance_id == iid))
