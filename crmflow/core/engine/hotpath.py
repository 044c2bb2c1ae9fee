"""Single-event fire on the raw DB-API connection: few statements, no per-event ORM work."""

from __future__ import annotations

import json
import os
import threading
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from crmflow.errors import ExpressionError, NotFoundError

from . import repository as repo
from ._dbapi import _NO_CONNECTION, _Fallback, dbapi_errors
from ._eventrows import _duplicate, _finished, _merge, _outbox_rows, _refusal, _timer_params
from ._routing import _candidates, _inline, _memo, _route, _timed
from .definition import WorkflowDef
from .expressions import MissingField
from .machine import CompiledWorkflow, Run, _role_allows
from .results import FireResult, TransitionRecord
from .sqlstatements import Statements, db_time, statements, statements_for

if TYPE_CHECKING:  # pragma: no cover
    from .runtime import Engine

__all__ = [
    "fire_direct",
    "fire_one",
    "release",
    "resolve",
]

_T = TypeVar("_T")


def resolve(compiled: CompiledWorkflow, run: Run, trigger: str) -> bool:
    """What ``compiled.fire(run, trigger)`` does, without running the machine each time.

    The first transition (file order) whose source, roles and guard match is
    taken, exactly as the machine picks it; the plan (on_exit, do, on_enter)
    and the target state that transition produces are computed by the machine
    once per (state, transition) and reused. Refusals always go through the
    machine, so their reasons stay the machine's.
    """
    memo = _memo(compiled)
    candidates = _candidates(memo, run.state, trigger)
    taken = None
    for tdef in candidates:
        if not _role_allows(tdef.roles, run.roles):
            continue
        if tdef.when is not None:
            try:
                if not tdef.when(run.context):
                    continue
            except (MissingField, ExpressionError):  # the machine refuses it with the reason
                continue
        taken = tdef
        break
    if taken is None:
        return compiled.fire(run, trigger)
    known = memo.plans.get((run.state, taken.index))
    if known is None:
        source = run.state
        if not compiled.fire(run, trigger) or run.taken is not taken:
            return bool(run.taken)  # guards are pure, so this is never reached
        memo.plans[(source, taken.index)] = (run.state, tuple(run.plan))
        return True
    run.state, run.taken = known[0], taken
    run.plan.extend(known[1])
    return True


def fire_one(
    engine: Engine, conn: sa.Connection, iid: int, trigger: str, data: dict[str, Any] | None,
    key: str | None, actor: str | None, now: datetime,
) -> tuple[FireResult, list[TransitionRecord], bool]:  # fmt: skip
    """Fire inside the caller's transaction; raise repo.Conflict on a stale row."""
    st = statements(conn)
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with dbapi_errors(conn.dialect):
            return _fire_one(engine, conn, cur, st, iid, trigger, data, key, actor, now)
    finally:
        cur.close()


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
        self.pid = 0
        self._closer: weakref.finalize | None = None

    def get(self, db: sa.Engine) -> Any:
        """The connection (the caller holds ``lock``); opened on first use and after a fork."""
        if self.conn is None or self.pid != os.getpid():
            fairy = db.raw_connection()  # the pool's "connect" listeners set the pragmas
            conn = fairy.driver_connection
            fairy.detach()
            self.conn, self.pid = conn, os.getpid()
            # An engine dropped without close() still closes its connection.
            self._closer = weakref.finalize(self, self.conn.close)
        return self.conn

    def drop(self) -> None:
        """Close the connection (the caller holds ``lock``)."""
        if self._closer is not None and self.pid == os.getpid():
            self._closer()
        self.conn, self._closer = None, None


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


def fire_direct(
    engine: Engine, iid: int, trigger: str, data: dict[str, Any] | None, key: str | None,
    actor: str | None, now: datetime,
) -> tuple[FireResult, list[TransitionRecord], bool] | None:  # fmt: skip
    """SQLite: fire in a transaction of its own on a plain DB-API connection.

    The same statements, lock (BEGIN IMMEDIATE) and single commit as fire_one in
    ``engine.db.begin()``, without SQLAlchemy's Connection, events and result
    objects around them (about half the CPU time of an event). Returns None
    when the event needs a Connection (an action that runs in the transaction,
    a workflow version not compiled yet): the caller then uses fire_one.
    """

    def work(cur: Any) -> tuple[FireResult, list[TransitionRecord], bool]:
        # Records are for on_transition listeners only: none, none built.
        listened = bool(engine.hook("on_transition").get_hookimpls())
        return _fire_one(
            engine, _NO_CONNECTION, cur, statements_for("sqlite"), iid, trigger, data, key,
            actor, now, listened,
        )  # fmt: skip

    return _direct(engine, work, lambda fired: fired[0].taken)


def _direct(engine: Engine, work: Callable[[Any], _T], commit: Callable[[_T], bool]) -> _T | None:
    """Run ``work(cursor)`` in BEGIN IMMEDIATE … COMMIT (or ROLLBACK) on the kept connection."""
    db = engine.db
    if db.dialect.name != "sqlite":
        return None
    # Only a file database behind a QueuePool has connections to spare: an in-memory
    # one lives in its pool's single connection, which must stay in the pool.
    held = _held(engine) if isinstance(db.pool, sa.pool.QueuePool) else None
    if held is not None and held.lock.acquire(blocking=False):
        try:
            return _transaction(engine, held.get(db), work, commit, held)
        finally:
            held.lock.release()
    raw = db.raw_connection()
    try:
        return _transaction(engine, raw.driver_connection, work, commit, None)
    finally:
        raw.close()


def _transaction(
    engine: Engine, dbapi: Any, work: Callable[[Any], _T], commit: Callable[[_T], bool],
    held: _Held | None,
) -> _T | None:  # fmt: skip
    cur = dbapi.cursor()
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
    except _Fallback:
        return None
    finally:
        cur.close()
        if broken and held is not None:
            held.drop()  # unusable: the next event opens a new one
    return done


def _fire_one(
    engine: Engine, conn: sa.Connection, cur: Any, st: Statements, iid: int, trigger: str,
    data: dict[str, Any] | None, key: str | None, actor: str | None, now: datetime,
    records: bool = True,
) -> tuple[FireResult, list[TransitionRecord], bool]:  # fmt: skip
    cur.execute(st.select_instance, (iid,))
    row = cur.fetchone()
    if row is None:
        raise NotFoundError(f"no instance {iid}; `crmflow list` shows the instances")
    if key is not None:
        cur.execute(st.history_by_key, (iid, key))
        earlier = cur.fetchone()
        if earlier is not None:
            return _duplicate(iid, int(earlier[0]), earlier[1]), [], False
    compiled = engine.catalog.get(conn, row[1], row[2])
    old_state = row[3]
    if row[6]:
        return _finished(iid, old_state), [], False
    memo = _memo(compiled)
    payload = data or {}
    stored = row[4]
    # The data is parsed only when something reads it (a guard, a payload to merge,
    # actions); otherwise the stored text is written back as it is.
    inst_data = None
    roles = engine.roles_of(actor)
    route = _route(memo, old_state, trigger, roles)
    if route is None:
        if any(t.when is not None for t in _candidates(memo, old_state, trigger)):
            inst_data = json.loads(stored) if isinstance(stored, str) else stored
            context = engine.expression_context(inst_data, payload, old_state, now)
        else:
            context = {}
        run = Run(state=old_state, roles=roles, context=context)
        if not resolve(compiled, run, trigger) or run.taken is None:
            return _refusal(iid, run), [], False
        taken, new_state, plan = run.taken, run.state, tuple(run.plan)
    else:
        taken, new_state, plan = route
    definition = compiled.definition
    changed = taken.dest is not None or new_state != old_state
    if payload or plan:
        if inst_data is None:
            inst_data = json.loads(stored) if isinstance(stored, str) else stored
        # The row was read for this event alone: merge in place, nothing else holds it.
        new_data = _merge(inst_data, payload, copy_first=False)
    else:
        new_data = inst_data if inst_data is not None else {}
    at = db_time(now, st.sqlite)
    history_row = (
        iid, trigger, old_state, new_state, actor, at, repo.dumps(payload) if payload else "{}",
        key,
    )  # fmt: skip
    if st.sqlite:
        cur.execute(st.insert_history_plain, history_row)
        hid = cur.lastrowid
    else:
        cur.execute(st.insert_history, history_row)
        hid = int(cur.fetchone()[0])
    queued = False
    if plan:
        if conn is not _NO_CONNECTION:
            queued = engine._run_plan(
                conn, iid, definition, hid, plan, new_data, payload, actor, now
            )
        elif _inline(engine, compiled, plan):
            raise _Fallback()
        else:
            rows = _outbox_rows(engine, iid, hid, plan, new_data, payload, now, at)
            cur.executemany(st.insert_outbox, rows)
            queued = True
    text = stored if not (payload or plan) and isinstance(stored, str) else repo.dumps(new_data)
    final = definition.states[new_state].final
    rev = int(row[5])
    entered = at if changed else row[7]
    if final:
        cur.execute(st.update_final, (new_state, text, rev + 1, at, entered, True, iid, rev))
    else:
        cur.execute(st.update, (new_state, text, rev + 1, at, entered, iid, rev))
    if cur.rowcount != 1:
        raise repo.Conflict()
    if changed or final:
        if _timed(compiled, old_state, memo):
            cur.execute(st.delete_timers, (iid,))
        if not final and _timed(compiled, new_state, memo):
            _insert_timers(cur, st, engine, iid, definition, new_state, now)
    result = FireResult(True, new_state, instance_id=iid, history_id=hid)
    if not records:
        return result, [], queued
    record = TransitionRecord(
        iid, definition.id, definition.version, trigger, old_state, new_state, actor, now,
        payload, hid,
    )  # fmt: skip
    return result, [record], queued


def _insert_timers(
    cur: Any, st: Statements, engine: Engine, iid: int, definition: WorkflowDef, state: str,
    now: datetime,
) -> None:  # fmt: skip
    rows = _timer_params(st, engine, iid, definition, state, now)
    if rows:
        cur.executemany(st.insert_timer, rows)
