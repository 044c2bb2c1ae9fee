"""SQLite's direct path: a transaction on a plain DB-API connection the engine keeps."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from .dbapi import Fallback, dbapi_errors

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike as Engine

__all__ = ["release", "run_direct"]

_T = TypeVar("_T")


class _Held:
    """The DB-API connection an Engine keeps out of the pool for fire_direct.

    A checkout from SQLAlchemy's pool and the check-in (with its reset) cost
    about a quarter of an event's CPU time, so an engine keeps one SQLite
    connection for its events, detached from the pool (the pool never lends it
    and opens others as before). One event uses it at a time; an event fired
    meanwhile by another thread takes a pooled connection as before.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.conn: Any = None
        #: one cursor for every event on the kept connection (a new one costs each event)
        self.cur: Any = None
        self.pid = 0
        self._closer: weakref.finalize[[], _Held] | None = None

    def get(self, db: sa.Engine) -> Any:
        """The connection (the caller holds ``lock``); opened on first use and after a fork."""
        if self.conn is None or self.pid != os.getpid():
            fairy = db.raw_connection()  # the pool's "connect" listeners set the pragmas
            conn: Any = fairy.driver_connection
            fairy.detach()
            self.conn, self.cur, self.pid = conn, conn.cursor(), os.getpid()
            # An engine dropped without close() still closes its connection.
            self._closer = weakref.finalize(self, self.conn.close)
        return self.conn

    def drop(self) -> None:
        """Close the connection (the caller holds ``lock``)."""
        if self._closer is not None and self.pid == os.getpid():
            self._closer()
        self.conn, self.cur, self._closer = None, None, None


def _held(engine: Engine) -> _Held:
    found = engine.__dict__.get("_held_connection")
    if found is None:
        found = engine.__dict__.setdefault("_held_connection", _Held())
    return found  # type: ignore[no-any-return]


def release(engine: Engine) -> None:
    """Close the connection fire_direct keeps (Engine.close)."""
    held = engine.__dict__.get("_held_connection")
    if held is not None:
        with held.lock:
            held.drop()


def run_direct(
    engine: Engine, work: Callable[[Any], _T], commit: Callable[[_T], bool]
) -> _T | None:
    """Run ``work(cursor)`` in BEGIN IMMEDIATE … COMMIT (or ROLLBACK) on the kept connection."""
    db = engine.db
    if db.dialect.name != "sqlite":
        return None
    # Only a file database behind a QueuePool has connections to spare: an in-memory
    # one lives in its pool's single connection, which must stay in the pool.
    held = _held(engine) if isinstance(db.pool, sa.pool.QueuePool) else None
    if held is not None and held.lock.acquire(blocking=False):
        try:
            conn = held.get(db)
            return _transaction(engine, conn, held.cur, work, commit, held)
        finally:
            held.lock.release()
    raw = db.raw_connection()
    try:
        dbapi: Any = raw.driver_connection
        cur = dbapi.cursor()
        try:
            return _transaction(engine, dbapi, cur, work, commit, None)
        finally:
            cur.close()
    finally:
        raw.close()


def _transaction(
    engine: Engine, dbapi: Any, cur: Any, work: Callable[[Any], _T],
    commit: Callable[[_T], bool], held: _Held | None,
) -> _T | None:  # fmt: skip
    broken = False
    try:
        with dbapi_errors(engine.db.dialect):
            cur.execute("BEGIN IMMEDIATE")
            try:
                done = work(cur)
                cur.execute("COMMIT" if commit(done) else "ROLLBACK")
            except BaseException:
                try:
                    if dbapi.in_transaction:
                        dbapi.rollback()
                except Exception:
                    broken = True
                raise
    except Fallback:
        return None
    finally:
        if broken and held is not None:
            held.drop()  # unusable: the next event opens a new one
    return done
