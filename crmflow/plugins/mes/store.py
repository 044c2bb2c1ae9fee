"""Connector bookkeeping: taken-message keys, quarantine and status, shared by MES and SCM."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.store import reading
from crmflow.errors import NotFoundError

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine import Engine

__all__ = [
    "connector_state",
    "connector_status",
    "list_quarantined",
    "messages",
    "quarantine",
    "quarantine_table",
    "register_retry",
    "report_status",
    "retry",
    "taken_keys",
]

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)
_meta = sa.MetaData()

#: Mirrors migration 0160_mes_scm.
messages = sa.Table(
    "connector_messages",
    _meta,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("connector", sa.String(100), nullable=False),
    sa.Column("applied_at", _TS, nullable=False),
)
quarantine_table = sa.Table(
    "connector_quarantine",
    _meta,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("connector", sa.String(100), nullable=False),
    sa.Column("source", sa.String(500), nullable=False),
    sa.Column("key", sa.String(300), nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("retried_at", _TS, nullable=True),
    sa.UniqueConstraint("connector", "key", name="uq_connector_quarantine_key"),
)
connector_state = sa.Table(
    "connector_state",
    _meta,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("state", sa.String(40), nullable=False),
    sa.Column("last_success", _TS, nullable=True),
    sa.Column("last_message", _TS, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("errors", sa.Integer, nullable=False),
    sa.Column("messages", sa.BigInteger, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
)

#: connector kind -> ``retry(engine, row) -> str | None`` (None: applied; else the reason)
_RETRIERS: dict[str, Callable[[Engine, dict[str, Any]], str | None]] = {}


def register_retry(prefix: str, func: Callable[[Engine, dict[str, Any]], str | None]) -> None:
    """Say how quarantined items of connectors named ``prefix:…`` are delivered again."""
    _RETRIERS[prefix] = func


def taken_keys(conn: sa.Connection, keys: Iterable[str]) -> set[str]:
    """The keys among ``keys`` whose message was already applied."""
    wanted = sorted(set(keys))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        batch = wanted[start : start + 500]
        found.update(
            conn.execute(sa.select(messages.c.key).where(messages.c.key.in_(batch))).scalars()
        )
    return found


def quarantine(
    conn: sa.Connection, connector: str, source: str, payload: bytes, reason: str, now: datetime
) -> int:
    """Keep a message that could not be applied, with its reason; return its id.

    The same message (source and payload) delivered again is kept once.
    """
    key = hashlib.sha256(source.encode() + b"\0" + payload).hexdigest()
    t = quarantine_table
    found = conn.execute(
        sa.select(t.c.id).where(t.c.connector == connector, t.c.key == key)
    ).scalar()
    if found is not None:
        return int(found)
    row = {
        "connector": connector, "source": source[:500], "key": key, "payload": payload,
        "reason": reason, "status": "open", "attempts": 0, "created_at": now,
    }  # fmt: skip
    return int(conn.execute(t.insert().values(**row).returning(t.c.id)).scalar_one())


def list_quarantined(
    engine: Engine, connector: str | None = None, *, status: str = "open", limit: int = 1000
) -> list[dict[str, Any]]:
    """Quarantined messages (newest first) with their reason, as JSON-ready dicts."""
    q = sa.select(quarantine_table).order_by(quarantine_table.c.id.desc()).limit(limit)
    if connector is not None:
        q = q.where(quarantine_table.c.connector == connector)
    if status != "all":
        q = q.where(quarantine_table.c.status == status)
    with reading(engine.db) as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    for row in rows:
        row.pop("key")
        payload = bytes(row.pop("payload"))
        row["payload"] = payload.decode("utf-8", "replace")
        row["created_at"] = _iso(row["created_at"])
        row["retried_at"] = _iso(row["retried_at"])
    return rows


def retry(engine: Engine, item: int | None = None) -> list[dict[str, Any]]:
    """Deliver quarantined messages again (one id, or every open one when ``None``).

    Each gets ``status`` ``applied`` or stays ``open`` with the new reason.
    """
    q = sa.select(quarantine_table).where(quarantine_table.c.status == "open")
    if item is not None:
        q = sa.select(quarantine_table).where(quarantine_table.c.id == item)
    with reading(engine.db) as conn:
        rows = [dict(r._mapping) for r in conn.execute(q.order_by(quarantine_table.c.id))]
    if item is not None and not rows:
        raise NotFoundError(f"no quarantined message {item}")
    results = []
    for row in rows:
        retrier = _RETRIERS.get(row["connector"].split(":", 1)[0])
        reason = "no connector configured to retry it" if retrier is None else retrier(engine, row)
        values: dict[str, Any] = {"attempts": row["attempts"] + 1, "retried_at": engine.now()}
        if reason is None:
            values["status"] = "applied"
        else:
            values["reason"] = reason
        with engine.db.begin() as conn:
            conn.execute(
                quarantine_table.update().where(quarantine_table.c.id == row["id"]).values(**values)
            )
        results.append({"id": row["id"], "status": values.get("status", "open"), "reason": reason})
    return results


def report_status(
    engine: Engine,
    name: str,
    kind: str,
    state: str,
    *,
    success: bool = False,
    error: str | None = None,
    messages_applied: int = 0,
    conn: sa.Connection | None = None,
) -> None:
    """Record a connector's state (``connected``, ``reconnecting``, ``failed`` …)."""
    now = engine.now()
    if conn is None:
        with engine.db.begin() as own:
            report_status(
                engine,
                name,
                kind,
                state,
                success=success,
                error=error,
                messages_applied=messages_applied,
                conn=own,
            )
        return
    t = connector_state
    found = conn.execute(sa.select(t).where(t.c.name == name)).first()
    values: dict[str, Any] = {"kind": kind, "state": state, "updated_at": now}
    if success:
        values["last_success"] = now
    if messages_applied:
        values["last_message"] = now
    if error is not None:
        values["last_error"] = error
    if found is None:
        conn.execute(
            t.insert().values(
                name=name, errors=1 if error else 0, messages=messages_applied, **values
            )
        )
    else:
        values["errors"] = found.errors + (1 if error else 0)
        values["messages"] = found.messages + messages_applied
        conn.execute(t.update().where(t.c.name == name).values(**values))


def connector_status(engine: Engine) -> list[dict[str, Any]]:
    """Each connector that reported: state, last success and message, errors, quarantined."""
    since = engine.now() - timedelta(minutes=1)
    q = quarantine_table
    with reading(engine.db) as conn:
        states = [dict(r._mapping) for r in conn.execute(sa.select(connector_state))]
        open_counts: dict[str, int] = dict(
            conn.execute(
                sa.select(q.c.connector, sa.func.count())
                .where(q.c.status == "open")
                .group_by(q.c.connector)
            ).all()
        )
        per_minute: dict[str, int] = dict(
            conn.execute(
                sa.select(messages.c.connector, sa.func.count())
                .where(messages.c.applied_at >= since)
                .group_by(messages.c.connector)
            ).all()
        )
    result = []
    for s in sorted(states, key=lambda r: r["name"]):
        result.append(
            {
                "name": s["name"],
                "kind": s["kind"],
                "state": s["state"],
                "last_success": _iso(s["last_success"]),
                "last_message": _iso(s["last_message"]),
                "errors": s["errors"],
                "last_error": s["last_error"],
                "quarantined": int(open_counts.get(s["name"], 0)),
                "messages": s["messages"],
                "messages_per_minute": int(per_minute.get(s["name"], 0)),
            }
        )
    return result


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
