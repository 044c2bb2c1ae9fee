"""Group commit: a batch of events applied in memory, written with one statement per table."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.errors import CrmflowError, NotFoundError

from . import repository as repo
from ._dbapi import _NO_CONNECTION, _Fallback, dbapi_errors
from ._eventrows import _duplicate, _finished, _merge, _outbox_rows, _refusal, _timer_params
from ._routing import _candidates, _inline, _Memo, _memo, _route, _timed
from .hotpath import _direct, fire_one, resolve
from .machine import CompiledWorkflow, Run
from .results import FireResult, TransitionRecord
from .sqlstatements import Statements, db_time, statements, statements_for

if TYPE_CHECKING:  # pragma: no cover
    from .runtime import Engine

__all__ = [
    "fire_batch",
    "fire_batch_direct",
]


class _Inst:
    """An instance row as a batch holds it between its read and its write.

    ``text`` is the stored JSON while the data is unchanged: the data is parsed
    only when something reads it, and written back as it was read otherwise.
    """

    __slots__ = (
        "id", "state", "text", "_data", "rev", "finished", "entered_at", "db_rev",
        "timers_in_db", "dirty", "final", "pending_timers", "memo",
    )  # fmt: skip

    def __init__(self, row: Any, memo: _Memo, timed: bool) -> None:
        self.memo = memo
        self.id = int(row[0])
        self.state = row[3]
        stored = row[4]
        self.text: str | None = stored if isinstance(stored, str) else None
        self._data: dict[str, Any] | None = None if self.text is not None else stored
        self.rev = self.db_rev = int(row[5])
        self.finished = bool(row[6])
        self.entered_at = row[7]
        self.timers_in_db = timed and not self.finished
        self.dirty = self.final = False
        self.pending_timers: list[tuple[Any, ...]] = []

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = json.loads(self.text)  # type: ignore[arg-type]
        return self._data

    def set_data(self, data: dict[str, Any]) -> None:
        self._data, self.text = data, None

    def dumped(self) -> str:
        return self.text if self.text is not None else repo.dumps(self._data)


def _load(
    engine: Engine, conn: sa.Connection, row: Any, memos: dict[tuple[str, int], _Memo]
) -> tuple[_Inst, CompiledWorkflow]:
    version = (row[1], row[2])
    memo = memos.get(version)
    if memo is None:
        memo = memos[version] = _memo(engine.catalog.get(conn, row[1], row[2]))
    compiled = memo.compiled
    return _Inst(row, memo, _timed(compiled, row[3], memo)), compiled


def _decide(
    engine: Engine, compiled: CompiledWorkflow, inst: _Inst, trigger: str,
    payload: dict[str, Any], actor: str | None, now: datetime,
) -> Run:  # fmt: skip
    candidates = _candidates(_memo(compiled), inst.state, trigger)
    # Only guards read the context: without one, building it is wasted work.
    guarded = any(t.when is not None for t in candidates)
    run = Run(
        state=inst.state,
        roles=engine.roles_of(actor),
        context=engine.expression_context(inst.data, payload, inst.state, now) if guarded else {},
    )
    if not resolve(compiled, run, trigger):
        run.taken = None
    return run


class _Batch:
    """Events applied in memory, written with one statement per table at the end."""

    def __init__(
        self, engine: Engine, conn: sa.Connection, st: Statements, cur: Any, now: datetime
    ) -> None:
        self.engine = engine
        self.conn = conn
        self.st = st
        self.cur = cur
        self.now = now
        self.at = db_time(now, self.st.sqlite)
        self.insts: dict[int, tuple[_Inst, CompiledWorkflow]] = {}
        self.keys: dict[tuple[int, str], tuple[int, str]] = {}
        self.history: list[tuple[Any, ...]] = []
        self.outbox: list[tuple[Any, ...]] = []
        self.drop_timers: list[tuple[int]] = []
        self._ids: list[int] = []
        self._next_id = 0
        self._need = 0
        self.roles: dict[str | None, frozenset[str]] = {}
        self.memos: dict[tuple[str, int], _Memo] = {}
        # Records are for on_transition listeners only: none, none built.
        self.listened = bool(engine.hook("on_transition").get_hookimpls())

    def preload(self, events: list[tuple[int, str, dict[str, Any] | None, str | None]]) -> None:
        ids = sorted({int(e[0]) for e in events})
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            self.cur.execute(self.st.select_instances(len(chunk)), chunk)
            for row in self.cur.fetchall():
                inst, compiled = _load(self.engine, self.conn, row, self.memos)
                self.insts[inst.id] = (inst, compiled)
        keys = sorted({e[3] for e in events if e[3] is not None})
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            self.cur.execute(self.st.keys_of(len(chunk)), chunk)
            for iid, key, hid, to_state in self.cur.fetchall():
                self.keys[(int(iid), key)] = (int(hid), to_state)
        self._need = len(events)

    def _history_id(self) -> int:
        if self.st.sqlite:
            # The write lock (BEGIN IMMEDIATE) is ours: nobody else numbers history rows.
            if not self._next_id:
                self.cur.execute(self.st.max_history)
                self._next_id = int(self.cur.fetchone()[0]) + 1
            hid = self._next_id
            self._next_id += 1
            return hid
        if not self._ids:
            self.cur.execute(self.st.next_history, (max(self._need, 1),))
            self._ids = [int(r[0]) for r in self.cur.fetchall()][::-1]
        return self._ids.pop()

    def reload(self, iid: int) -> tuple[_Inst, CompiledWorkflow] | None:
        found = self.insts.get(iid)
        if found is not None:
            return found
        self.cur.execute(self.st.select_instance, (iid,))
        row = self.cur.fetchone()
        if row is None:
            return None
        self.insts[iid] = _load(self.engine, self.conn, row, self.memos)
        return self.insts[iid]

    def fire(
        self, iid: int, trigger: str, data: dict[str, Any] | None, key: str | None,
        actor: str | None,
    ) -> tuple[FireResult, list[TransitionRecord], bool]:  # fmt: skip
        self._need -= 1
        loaded = self.reload(iid)
        if loaded is None:
            raise NotFoundError(f"no instance {iid}; `crmflow list` shows the instances")
        if key is not None:
            earlier = self.keys.get((iid, key))
            if earlier is not None:
                return _duplicate(iid, earlier[0], earlier[1]), [], False
        inst, compiled = loaded
        if inst.finished:
            return _finished(iid, inst.state), [], False
        engine, now = self.engine, self.now
        payload = data or {}
        old_state = inst.state
        roles = self.roles.get(actor)
        if roles is None:
            roles = self.roles[actor] = engine.roles_of(actor)
        memo = inst.memo
        route = _route(memo, old_state, trigger, roles)
        if route is None:
            run = _decide(engine, compiled, inst, trigger, payload, actor, now)
            if run.taken is None:
                return _refusal(iid, run), [], False
            taken, new_state, plan = run.taken, run.state, tuple(run.plan)
        else:
            taken, new_state, plan = route
        if plan and _inline(engine, compiled, plan):
            return self._in_transaction(iid, trigger, data, key, actor)
        definition = compiled.definition
        changed = taken.dest is not None or new_state != old_state
        new_data = _merge(inst.data, payload, copy_first=True) if payload else None
        hid = self._history_id()
        outbox: list[tuple[Any, ...]] = []
        if plan:
            merged = inst.data if new_data is None else new_data
            outbox = _outbox_rows(engine, iid, hid, plan, merged, payload, now, self.at)
        final = definition.states[new_state].final
        # Nothing can fail from here on: the event is applied to the batch.
        self.history.append(
            (
                hid,
                iid,
                trigger,
                old_state,
                new_state,
                actor,
                self.at,
                repo.dumps(payload) if payload else "{}",
                key,
            )
        )
        if outbox:
            self.outbox.extend(outbox)
        if key is not None:
            self.keys[(iid, key)] = (hid, new_state)
        if changed or final:
            inst.pending_timers.clear()
            if inst.timers_in_db:
                self.drop_timers.append((iid,))
                inst.timers_in_db = False
            if not final and _timed(compiled, new_state, memo):
                inst.pending_timers.extend(
                    _timer_params(self.st, engine, iid, definition, new_state, now)
                )
            inst.entered_at = self.at
        if new_data is not None:
            inst.set_data(new_data)
        inst.state, inst.rev, inst.dirty = new_state, inst.rev + 1, True
        if final:
            inst.finished = inst.final = True
        result = FireResult(True, new_state, instance_id=iid, history_id=hid)
        if not self.listened:
            return result, [], bool(outbox)
        record = TransitionRecord(
            iid, definition.id, definition.version, trigger, old_state, new_state, actor, now,
            payload, hid,
        )  # fmt: skip
        return result, [record], bool(outbox)

    def _in_transaction(
        self, iid: int, trigger: str, data: dict[str, Any] | None, key: str | None,
        actor: str | None,
    ) -> tuple[FireResult, list[TransitionRecord], bool]:  # fmt: skip
        """An event whose actions run in the transaction: the row-by-row path, in a savepoint."""
        if self.conn is _NO_CONNECTION:
            raise _Fallback()
        self.flush()
        self.insts.pop(iid, None)
        self._next_id = 0  # the row-by-row path numbers its own history row
        nested = self.conn.begin_nested()
        try:
            fired = fire_one(self.engine, self.conn, iid, trigger, data, key, actor, self.now)
        except BaseException:
            nested.rollback()
            raise
        nested.commit()
        result = fired[0]
        if key is not None and result.taken and result.history_id is not None:
            self.keys[(iid, key)] = (result.history_id, result.state)
        return fired

    def flush(self) -> None:
        """Write everything applied so far; raise repo.Conflict if a row moved under us."""
        cur, st = self.cur, self.st
        if self.drop_timers:
            cur.executemany(st.delete_timers, self.drop_timers)
            self.drop_timers = []
        if self.history:
            cur.executemany(st.insert_history_ids, self.history)
            self.history = []
        timers = [t for inst, _c in self.insts.values() for t in inst.pending_timers]
        if timers:
            cur.executemany(st.insert_timer, timers)
        if self.outbox:
            cur.executemany(st.insert_outbox, self.outbox)
            self.outbox = []
        plain: list[tuple[Any, ...]] = []
        final: list[tuple[Any, ...]] = []
        for inst, _compiled in self.insts.values():
            if inst.pending_timers:
                inst.pending_timers = []
                inst.timers_in_db = True
            if not inst.dirty:
                continue
            values = (inst.state, inst.dumped(), inst.rev, self.at, inst.entered_at)
            if inst.final:
                final.append((*values, True, inst.id, inst.db_rev))
            else:
                plain.append((*values, inst.id, inst.db_rev))
            inst.dirty, inst.db_rev = False, inst.rev
        for statement, rows in ((st.update, plain), (st.update_final, final)):
            if rows:
                cur.executemany(statement, rows)
                if cur.rowcount != len(rows):
                    raise repo.Conflict()


def fire_batch(
    engine: Engine, conn: sa.Connection,
    events: Iterable[tuple[int, str, dict[str, Any] | None, str | None]],
    actor: str | None, now: datetime,
) -> tuple[list[FireResult], list[TransitionRecord], bool]:  # fmt: skip
    """Apply a batch in the caller's transaction; raise repo.Conflict if it must be retried.

    An event refused or failing with a CrmflowError gets its own result and
    leaves the others alone, as if each event had its own savepoint.
    """
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with dbapi_errors(conn.dialect):
            return _run_batch(_Batch(engine, conn, statements(conn), cur, now), events, actor)
    finally:
        cur.close()


def _run_batch(
    batch: _Batch, events: Iterable[tuple[int, str, dict[str, Any] | None, str | None]],
    actor: str | None,
) -> tuple[list[FireResult], list[TransitionRecord], bool]:  # fmt: skip
    items = list(events)
    results: list[FireResult] = []
    records: list[TransitionRecord] = []
    queued = False
    batch.preload(items)
    for iid, trigger, data, key in items:
        try:
            result, taken, q = batch.fire(int(iid), trigger, data, key, actor)
        except CrmflowError as exc:
            result = FireResult(False, "", f"error: {exc}", "error", iid)
            taken, q = [], False
        results.append(result)
        records.extend(taken)
        queued = queued or q
    batch.flush()
    return results, records, queued


def fire_batch_direct(
    engine: Engine, events: list[tuple[int, str, dict[str, Any] | None, str | None]],
    actor: str | None, now: datetime,
) -> tuple[list[FireResult], list[TransitionRecord], bool] | None:  # fmt: skip
    """SQLite: fire_batch in a transaction of its own on a plain DB-API connection.

    None when the batch needs a Connection (see fire_direct): the caller then
    runs fire_batch in ``engine.db.begin()``.
    """

    def work(cur: Any) -> tuple[list[FireResult], list[TransitionRecord], bool]:
        batch = _Batch(engine, _NO_CONNECTION, statements_for("sqlite"), cur, now)
        return _run_batch(batch, events, actor)

    return _direct(engine, work, lambda _fired: True)
