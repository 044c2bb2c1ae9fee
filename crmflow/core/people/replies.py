"""Idempotency keys of web and API requests: the same key again returns the first answer."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from .accounts import metadata

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = ["IN_PROGRESS", "idempotent_replies", "remembered"]

IN_PROGRESS = 0

#: Mirrors migration 0120_web_auth.
idempotent_replies = sa.Table(
    "idempotent_replies",
    metadata,
    sa.Column("username", sa.String(200), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("request", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
_t = idempotent_replies


def remembered(
    engine: Engine, username: str, key: str | None, request: str,
    run: Callable[[], tuple[int, Any]],
) -> tuple[int, Any]:  # fmt: skip
    """``run()`` once per (person, key): later calls with the key get its ``(status, body)``.

    A key reused for a different ``request`` answers 422; a key whose first
    request is still running answers 409. Answers of 400 and above are not kept
    (nothing changed). Without a key, ``run()`` runs.
    """
    if not key:
        return run()
    key = key[:200]
    signature = hashlib.sha256(request.encode("utf-8", "surrogatepass")).hexdigest()
    now = engine.now().astimezone(dt.UTC).replace(tzinfo=None)
    try:
        with engine.db.begin() as conn:
            conn.execute(_t.insert().values(username=username, key=key, request=signature,
                                            status=IN_PROGRESS, body="", created_at=now))
    except sa.exc.IntegrityError:
        with engine.db.connect() as conn:
            row = conn.execute(sa.select(_t).where(_t.c.username == username,
                                                   _t.c.key == key)).first()  # fmt: skip
        if row is None:
            return run()
        if row.request != signature:
            return 422, {"error": {"code": "idempotency_key", "field": "Idempotency-Key",
                                   "message": "this key was used for another request"}}
        if row.status == IN_PROGRESS:
            return 409, {"error": {"code": "conflict", "message":
                                   "the first request with this key is still running"}}
        return int(row.status), json.loads(row.body)
    try:
        status, body = run()
    except BaseException:
        with engine.db.begin() as conn:
            conn.execute(_t.delete().where(_t.c.username == username, _t.c.key == key))
        raise
    with engine.db.begin() as conn:
        mine = sa.and_(_t.c.username == username, _t.c.key == key)
        if status >= 400:  # a refusal changed nothing: the key stays free for a corrected retry
            conn.execute(_t.delete().where(mine))
        else:
            conn.execute(_t.update().where(mine).values(
                status=status, body=json.dumps(body, default=str)))  # fmt: skip
    return status, body
