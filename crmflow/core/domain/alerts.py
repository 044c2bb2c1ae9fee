"""Alerts: at most one open alert per kind, SKU and location; closed when the cause ends."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from crmflow.core.sqlrows import inserted_id

from ._parse import as_date
from .records import Alert

__all__ = ["alert_key", "close_alert", "list_alerts", "open_alert"]

_alerts = Alert.__table__  # type: ignore[attr-defined]


def alert_key(kind: str, sku: str | None, location: str | None, period: str | None = None) -> str:
    """The open-alert key: one open alert per kind, SKU, location (and period, e.g. a week)."""
    key = f"{kind}:{sku or ''}:{location or ''}"
    return f"{key}:{period}" if period else key


def _open(conn: sa.Connection, key: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(_alerts).where(_alerts.c.open_key == key)).mappings().first()
    return dict(row) if row else None


def open_alert(
    conn: sa.Connection, *, kind: str, sku: str | None, location: str | None, message: str,
    now: dt.datetime, shortage_date: Any = None, on_hand: float | None = None,
    safety_stock: float | None = None, instance_id: int | None = None,
    period: str | None = None,
) -> tuple[dict[str, Any], bool]:  # fmt: skip
    """The open alert for (kind, sku, location), creating it if none; ``(alert, created)``.

    The unique ``open_key`` makes a second open alert impossible even when two
    writers race: the loser gets the winner's alert.
    """
    key = alert_key(kind, sku, location, period)
    existing = _open(conn, key)
    if existing is not None:
        return existing, False
    values = {
        "kind": kind, "sku": sku, "location": location, "status": "open", "open_key": key,
        "message": message, "shortage_date": as_date("shortage_date", shortage_date)
        if shortage_date else None, "on_hand": on_hand, "safety_stock": safety_stock,
        "instance_id": instance_id, "opened_at": now,
    }  # fmt: skip
    try:
        with conn.begin_nested():
            aid = inserted_id(conn.execute(_alerts.insert().values(values)))
    except sa.exc.IntegrityError:
        winner = _open(conn, key)
        if winner is None:
            raise
        return winner, False
    return {**values, "id": aid}, True


def close_alert(
    conn: sa.Connection, *, kind: str, sku: str | None, location: str | None, by: str,
    now: dt.datetime, period: str | None = None,
) -> int | None:  # fmt: skip
    """Close the open alert of (kind, sku, location); return its id, None if none was open."""
    existing = _open(conn, alert_key(kind, sku, location, period))
    if existing is None:
        return None
    conn.execute(
        _alerts.update()
        .where(_alerts.c.id == existing["id"])
        .values(status="closed", open_key=None, closed_at=now, closed_by=by)
    )
    return int(existing["id"])


def list_alerts(conn: sa.Connection, *, status: str | None = "open") -> list[dict[str, Any]]:
    q = sa.select(_alerts).order_by(_alerts.c.id.desc())
    if status is not None:
        q = q.where(_alerts.c.status == status)
    return [dict(r) for r in conn.execute(q).mappings()]
