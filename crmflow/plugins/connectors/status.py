"""Connector health every connector plugin reports into: state, errors, failures, cursors."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from crmflow.errors import NotFoundError

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine import Engine

__all__ = [
    "RetryHandler",
    "clear_cursors",
    "connector_cursors",
    "connector_failures",
    "connector_status",
    "connectors_status",
    "failures",
    "read_cursor",
    "record_failure",
    "report_error",
    "report_success",
    "resolve_failure",
    "retry_failures",
    "save_cursor",
]

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)

#: Mirror migration 0150_connectors.
connector_status = sa.Table(
    "connector_status",
    SQLModel.metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("last_attempt", _TS),
    sa.Column("last_success", _TS),
    sa.Column("last_error", sa.Text),
    sa.Column("last_error_at", _TS),
    sa.Column("errors", sa.Integer, nullable=False, server_default="0"),
    sa.Column("records", sa.Text, nullable=False, server_default="{}"),
    sa.Column("lag_seconds", sa.Float),
)
connector_failures = sa.Table(
    "connector_failures",
    SQLModel.metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("connector", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("key", sa.String(500), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.UniqueConstraint("connector", "key", name="uq_connector_failures_key"),
)
connector_cursors = sa.Table(
    "connector_cursors",
    SQLModel.metadata,
    sa.Column("connector", sa.String(100), primary_key=True),
    sa.Column("model", sa.String(100), primary_key=True),
    sa.Column("stamp", sa.String(40), nullable=False),
    sa.Column("record_id", sa.String(140), nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
)

#: ``handler(engine, failure) -> None`` re-delivers one failure; raising keeps it failed.
RetryHandler = Callable[["Engine", dict[str, Any]], None]


def _upsert_status(engine: Engine, name: str, kind: str, values: dict[str, Any]) -> None:
    t = connector_status
    with engine.db.begin() as conn:
        row = conn.execute(sa.select(t).where(t.c.name == name)).mappings().first()
        if row is None:
            base = {"name": name, "kind": kind, "state": "ok", "errors": 0, "records": "{}"}
            conn.execute(t.insert().values({**base, **values}))
        else:
            conn.execute(t.update().where(t.c.name == name).values(kind=kind, **values))


def report_success(
    engine: Engine, name: str, kind: str, *, records: dict[str, int] | None = None,
    lag_seconds: float | None = None, at: datetime | None = None,
) -> None:  # fmt: skip
    """A connector run ended well: state ``ok``; ``records`` adds to the counts per kind."""
    now = at or engine.now()
    with engine.db.connect() as conn:
        old = conn.execute(
            sa.select(connector_status.c.records).where(connector_status.c.name == name)
        ).scalar()
    counts: dict[str, int] = json.loads(old) if old else {}
    for k, n in (records or {}).items():
        counts[k] = counts.get(k, 0) + int(n)
    _upsert_status(engine, name, kind, {
        "state": "ok", "last_attempt": now, "last_success": now,
        "records": json.dumps(counts, sort_keys=True), "lag_seconds": lag_seconds,
    })  # fmt: skip


def report_error(
    engine: Engine, name: str, kind: str, message: str, *, state: str = "error",
    at: datetime | None = None,
) -> None:  # fmt: skip
    """A connector run failed: ``state`` (``error``, or ``config`` for refused
    credentials), the message as the operator should read it, errors + 1."""
    now = at or engine.now()
    with engine.db.connect() as conn:
        errors = conn.execute(
            sa.select(connector_status.c.errors).where(connector_status.c.name == name)
        ).scalar()
    _upsert_status(engine, name, kind, {
        "state": state, "last_attempt": now, "last_error": message[:4000],
        "last_error_at": now, "errors": int(errors or 0) + 1,
    })  # fmt: skip


def record_failure(
    engine: Engine, connector: str, *, kind: str, key: str, payload: dict[str, Any],
    error: str, conn: sa.Connection | None = None,
) -> int:  # fmt: skip
    """Keep a failed push (``kind="push"``) or a quarantined message (``"message"``).

    One row per ``(connector, key)``: failing again updates it (attempts + 1).
    Returns the failure id shown by ``crmflow connectors`` and taken by ``retry``.
    """
    t = connector_failures
    if conn is None:
        with engine.db.begin() as own:
            return record_failure(
                engine, connector, kind=kind, key=key, payload=payload, error=error, conn=own
            )
    now = engine.now()
    found = conn.execute(
        sa.select(t.c.id, t.c.attempts).where(t.c.connector == connector, t.c.key == key)
    ).first()
    if found is not None:
        conn.execute(t.update().where(t.c.id == found.id).values(
            error=error[:4000], status="failed", attempts=found.attempts + 1, updated_at=now,
            payload=json.dumps(payload, default=str)))  # fmt: skip
        return int(found.id)
    return int(conn.execute(t.insert().values(
        connector=connector, kind=kind, key=key[:500], payload=json.dumps(payload, default=str),
        error=error[:4000], status="failed", attempts=1, created_at=now, updated_at=now,
    ).returning(t.c.id)).scalar_one())  # fmt: skip


def resolve_failure(
    engine: Engine, connector: str, key: str, conn: sa.Connection | None = None
) -> None:
    """Mark the failure of ``key`` resolved (its delivery went through after all)."""
    t = connector_failures
    stmt = t.update().where(t.c.connector == connector, t.c.key == key,
                            t.c.status == "failed").values(status="resolved",
                                                           updated_at=engine.now())  # fmt: skip
    if conn is not None:
        conn.execute(stmt)
        return
    with engine.db.begin() as own:
        own.execute(stmt)


def failures(
    engine: Engine, connector: str | None = None, *, status: str | None = "failed"
) -> list[dict[str, Any]]:
    """Failures, oldest first, optionally of one connector and status."""
    t = connector_failures
    q = sa.select(t).order_by(t.c.id)
    if connector is not None:
        q = q.where(t.c.connector == connector)
    if status is not None:
        q = q.where(t.c.status == status)
    with engine.db.connect() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
    for row in rows:
        row["payload"] = json.loads(row["payload"])
    return rows


def connectors_status(engine: Engine) -> list[dict[str, Any]]:
    """Every connector configured or seen: state, last success, lag, errors, failures.

    ``lag_seconds`` is what the connector reported, else the time since its
    last success.

    A connector named in the factory's ``connectors:`` that never ran shows as
    ``never run``. ``quarantined`` counts its failed messages and pushes.
    """
    with engine.db.connect() as conn:
        rows = {
            r["name"]: dict(r)
            for r in conn.execute(
                sa.select(connector_status).order_by(connector_status.c.name)
            ).mappings()
        }
        t = connector_failures
        failed: dict[str, int] = dict(conn.execute(sa.select(t.c.connector, sa.func.count()).where(
            t.c.status == "failed").group_by(t.c.connector)).all())  # fmt: skip
    for name, settings in (engine.factory.connectors or {}).items():
        if name not in rows:
            kind = settings.get("kind") if isinstance(settings, dict) else None
            rows[name] = {"name": name, "kind": str(kind or name), "state": "never run",
                          "last_attempt": None, "last_success": None, "last_error": None,
                          "last_error_at": None, "errors": 0, "records": "{}",
                          "lag_seconds": None}  # fmt: skip
    extra: list[dict[str, Any]] = []
    for item in _providers(engine):
        found = list(item.option("status")(engine))
        extra.extend(found)
        if found:  # the provider reports for these config keys itself
            for key in item.option("covers") or ():
                if rows.get(key, {}).get("state") == "never run":
                    rows.pop(key)
    out = []
    now = engine.now()
    for name in sorted(rows):
        row = rows[name]
        if row["lag_seconds"] is None and row["last_success"] is not None:
            last = row["last_success"]
            last = last if last.tzinfo else last.replace(tzinfo=now.tzinfo)
            row["lag_seconds"] = max(0.0, (now - last).total_seconds())
        out.append({
            "name": name, "kind": row["kind"], "state": row["state"],
            "last_success": _iso(row["last_success"]), "last_attempt": _iso(row["last_attempt"]),
            "lag_seconds": row["lag_seconds"], "errors": row["errors"],
            "last_error": row["last_error"], "last_error_at": _iso(row["last_error_at"]),
            "records": json.loads(row["records"] or "{}"),
            "quarantined": int(failed.get(name, 0)),
        })  # fmt: skip
    base = {"last_attempt": None, "lag_seconds": None, "last_error_at": None, "records": {}}
    out.extend({**base, **row} for row in extra)
    return sorted(out, key=lambda r: r["name"])


def _providers(engine: Engine) -> list[Any]:
    """Connectors registered with ``status=`` (a plugin keeping its own health records)."""
    registry = getattr(engine, "registry", None)
    items = getattr(registry, "connectors", {}) or {}
    return [item for item in items.values() if item.option("status") is not None]


def retry_messages(engine: Engine, item: int | None) -> list[dict[str, Any]]:
    """Quarantined messages of connectors registered with ``retry_messages=``, retried."""
    results: list[dict[str, Any]] = []
    for provider in _providers(engine):
        again = provider.option("retry_messages")
        if again is None:
            continue
        try:
            results.extend(again(engine, item))
        except NotFoundError:
            continue
    if item is not None and not results:
        raise NotFoundError(f"no connector failure or quarantined message {item}")
    return results


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def retry_failures(
    engine: Engine, failure_id: int | None = None, *, handlers: dict[str, RetryHandler]
) -> list[dict[str, Any]]:
    """Re-deliver one failure (by id) or all failed ones through their connector's handler.

    Returns ``[{"id", "connector", "key", "status", "error"}]``: ``resolved``
    when the handler went through, ``failed`` with the new error otherwise.
    """
    if failure_id is not None:
        chosen = [f for f in failures(engine, status=None) if f["id"] == failure_id]
        if not chosen:
            raise NotFoundError(f"no connector failure {failure_id}")
    else:
        chosen = failures(engine)
    results = []
    for failure in chosen:
        handler = handlers.get(failure["connector"])
        if handler is None:
            results.append(
                {
                    **_short(failure),
                    "status": "failed",
                    "error": f"no connector {failure['connector']!r} is installed",
                }
            )
            continue
        try:
            handler(engine, failure)
        except Exception as exc:  # the handler's own error is what the operator reads
            record_failure(
                engine,
                failure["connector"],
                kind=failure["kind"],
                key=failure["key"],
                payload=failure["payload"],
                error=str(exc),
            )
            results.append({**_short(failure), "status": "failed", "error": str(exc)})
            continue
        resolve_failure(engine, failure["connector"], failure["key"])
        results.append({**_short(failure), "status": "resolved", "error": None})
    return results


def _short(failure: dict[str, Any]) -> dict[str, Any]:
    return {"id": failure["id"], "connector": failure["connector"], "key": failure["key"]}


def read_cursor(conn: sa.Connection, connector: str, model: str) -> tuple[str, str] | None:
    """The ``(stamp, record_id)`` a connector reached in ``model``, or None."""
    t = connector_cursors
    row = conn.execute(sa.select(t.c.stamp, t.c.record_id).where(
        t.c.connector == connector, t.c.model == model)).first()  # fmt: skip
    return (row.stamp, row.record_id) if row else None


def save_cursor(
    conn: sa.Connection, connector: str, model: str, stamp: str, record_id: str, now: datetime
) -> None:
    """Advance a cursor inside the transaction that wrote what it covers."""
    t = connector_cursors
    done = conn.execute(t.update().where(t.c.connector == connector, t.c.model == model).values(
        stamp=stamp, record_id=record_id, updated_at=now))  # fmt: skip
    if done.rowcount == 0:
        conn.execute(t.insert().values(connector=connector, model=model, stamp=stamp,
                                       record_id=record_id, updated_at=now))  # fmt: skip


def clear_cursors(engine: Engine, connector: str) -> None:
    """Forget a connector's cursors: its next sync reads everything (``--full``)."""
    with engine.db.begin() as conn:
        conn.execute(connector_cursors.delete().where(connector_cursors.c.connector == connector))
