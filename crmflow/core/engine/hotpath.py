"""The fire path on the raw DB-API connection: few statements, no per-event ORM work."""

from __future__ import annotations

import copy
import json
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from crmflow.errors import CrmflowError, NotFoundError

from . import repository as repo
from .definition import ActionSpec, TransitionDef, WorkflowDef
from .expressions import MissingField, render_value
from .machine import CompiledWorkflow, Run, _role_allows
from .results import FireResult, TransitionRecord
from .timing import has_timers, timer_rows

if TYPE_CHECKING:  # pragma: no cover
    from .runtime import Engine

__all__ = [
    "Statements",
    "db_time",
    "fire_batch",
    "fire_batch_direct",
    "fire_direct",
    "fire_one",
    "release",
    "resolve",
    "statements",
    "statements_for",
]

Plan = tuple[tuple[str, str, ActionSpec], ...]
_T = TypeVar("_T")

_INSTANCE_COLUMNS = "id, workflow, version, state, data, rev, finished, entered_at"
_HISTORY_COLUMNS = 'instance_id, "trigger", from_state, to_state, actor, at, payload, "key"'
_OUTBOX_COLUMNS = (
    'instance_id, history_id, action_index, action, params, save_as, "key", status, attempts, '
    "max_attempts, next_attempt_at, created_at"
)
_TIMER_COLUMNS = 'instance_id, name, kind, "trigger", state, due'


def db_time(value: datetime, sqlite: bool) -> Any:
    """A time as the store keeps it: SQLAlchemy's naive-UTC text on SQLite, aware on PG."""
    if sqlite and value.tzinfo is UTC:
        # The engine's clock is aware UTC already: cut the "+00:00" instead of copying.
        return value.isoformat(" ", "microseconds")[:26]
    utc = value.astimezone(UTC)
    if sqlite:
        return utc.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return utc


def _marks(mark: str, count: int) -> str:
    return ", ".join([mark] * count)


class Statements:
    """The hot path's SQL text for one dialect (built once, reused for every event)."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"
        p = self.mark = "?" if self.sqlite else "%s"
        self.select_instance = f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE id = {p}"
        # PostgreSQL: a batch locks its rows in id order, so two batches never deadlock
        # and no optimistic retry is needed.
        self.lock = "" if self.sqlite else " ORDER BY id FOR UPDATE"
        self.history_by_key = (
            f'SELECT id, to_state FROM history WHERE instance_id = {p} AND "key" = {p}'
        )
        self.insert_history = (
            f"INSERT INTO history ({_HISTORY_COLUMNS}) VALUES ({_marks(p, 8)}) RETURNING id"
        )
        # SQLite hands the new row id to the cursor (lastrowid) without RETURNING.
        self.insert_history_plain = (
            f"INSERT INTO history ({_HISTORY_COLUMNS}) VALUES ({_marks(p, 8)})"
        )
        self.insert_history_ids = (
            f"INSERT INTO history (id, {_HISTORY_COLUMNS}) VALUES ({_marks(p, 9)})"
        )
        self.insert_outbox = f"INSERT INTO outbox ({_OUTBOX_COLUMNS}) VALUES ({_marks(p, 12)})"
        self.insert_timer = f"INSERT INTO timers ({_TIMER_COLUMNS}) VALUES ({_marks(p, 6)})"
        self.delete_timers = f"DELETE FROM timers WHERE instance_id = {p}"
        self.update = (
            f"UPDATE instances SET state = {p}, data = {p}, rev = {p}, updated_at = {p}, "
            f"entered_at = {p} WHERE id = {p} AND rev = {p}"
        )
        self.update_final = (
            f"UPDATE instances SET state = {p}, data = {p}, rev = {p}, updated_at = {p}, "
            f"entered_at = {p}, finished = {p}, open_key = NULL WHERE id = {p} AND rev = {p}"
        )
        self.max_history = "SELECT COALESCE(MAX(id), 0) FROM history"
        self.next_history = (
            "SELECT nextval(pg_get_serial_sequence('history', 'id')) FROM generate_series(1, %s)"
        )

    def select_instances(self, count: int) -> str:
        return (
            f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE id IN "
            f"({_marks(self.mark, count)}){self.lock}"
        )

    def keys_of(self, count: int) -> str:
        return (
            f'SELECT instance_id, "key", id, to_state FROM history WHERE "key" IN '
            f"({_marks(self.mark, count)})"
        )


_STATEMENTS: dict[str, Statements] = {}


def statements_for(dialect: str) -> Statements:
    found = _STATEMENTS.get(dialect)
    if found is None:
        found = _STATEMENTS[dialect] = Statements(dialect)
    return found


def statements(conn: sa.Connection) -> Statements:
    return statements_for(conn.dialect.name)


# -- deciding: the `transitions` machine, memoised per workflow version -----------


@dataclass
class _Memo:
    compiled: CompiledWorkflow
    candidates: dict[tuple[str, str], tuple[TransitionDef, ...]] = field(default_factory=dict)
    plans: dict[tuple[str, int], tuple[str, Plan]] = field(default_factory=dict)
    timed: dict[str, bool] = field(default_factory=dict)
    inline: dict[tuple[str, ...], bool] = field(default_factory=dict)
    routes: dict[tuple[str, str, frozenset[str]], tuple[TransitionDef, str, Plan] | None] = field(
        default_factory=dict
    )


_MEMOS: dict[int, _Memo] = {}


def _memo(compiled: CompiledWorkflow) -> _Memo:
    memo = _MEMOS.get(id(compiled))
    if memo is None or memo.compiled is not compiled:
        memo = _MEMOS[id(compiled)] = _Memo(compiled)
    return memo


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
            except MissingField:
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


def _route(
    memo: _Memo, state: str, trigger: str, roles: frozenset[str]
) -> tuple[TransitionDef, str, Plan] | None:
    """The transition, target and plan ``resolve`` takes when no guard is involved.

    When the first candidate (file order) the roles allow has no guard, the
    machine takes it whatever the data: the outcome is a function of (state,
    trigger, roles), memoised once ``resolve`` has produced its plan. None
    means "ask ``resolve``" (a guard decides, or the plan is not known yet).
    """
    route_key = (state, trigger, roles)
    try:
        return memo.routes[route_key]
    except KeyError:
        pass
    first = None
    for tdef in _candidates(memo, state, trigger):
        if _role_allows(tdef.roles, roles):
            first = tdef
            break
    if first is None or first.when is not None:
        memo.routes[route_key] = None
        return None
    known = memo.plans.get((state, first.index))
    if known is None:
        return None
    found = memo.routes[route_key] = (first, known[0], known[1])
    return found


def _candidates(memo: _Memo, state: str, trigger: str) -> tuple[TransitionDef, ...]:
    """The transitions the machine would try for ``trigger`` in ``state``, in file order."""
    found = memo.candidates.get((state, trigger))
    if found is None:
        found = tuple(
            t
            for t in memo.compiled.definition.transitions
            if t.trigger == trigger and state in t.sources
        )
        memo.candidates[(state, trigger)] = found
    return found


def _timed(compiled: CompiledWorkflow, state: str, memo: _Memo | None = None) -> bool:
    if memo is None:
        memo = _memo(compiled)
    found = memo.timed.get(state)
    if found is None:
        found = memo.timed[state] = has_timers(compiled.definition, state)
    return found


def _inline(engine: Engine, compiled: CompiledWorkflow, plan: Plan) -> bool:
    """Whether a plan has an action that runs inside the transaction (not from the outbox)."""
    memo = _memo(compiled)
    names = tuple(spec.action for _, _, spec in plan)
    found = memo.inline.get(names)
    if found is None:
        found = any(not engine.registry.actions[name].option("outbox", False) for name in names)
        memo.inline[names] = found
    return found


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


def _duplicate(iid: int, hid: int, state: str) -> FireResult:
    return FireResult(True, state, instance_id=iid, duplicate=True, history_id=hid)


def _refusal(iid: int, run: Run) -> FireResult:
    refusal = next((r for r in run.refusals if r.code == "guard"), run.refusals[0])
    return FireResult(False, run.state, refusal.message, refusal.code, iid)


def _finished(iid: int, state: str) -> FireResult:
    reason = f"finished: instance {iid} is finished (state {state!r}); nothing fires"
    return FireResult(False, state, reason, "finished", iid)


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


def _merge(data: dict[str, Any], payload: dict[str, Any], *, copy_first: bool) -> dict[str, Any]:
    if not payload:
        return data
    from .runtime import deep_merge  # runtime imports this module

    return deep_merge(copy.deepcopy(data) if copy_first else data, payload)


@contextmanager
def dbapi_errors(dialect: sa.Dialect) -> Iterator[None]:
    """Raise driver errors as SQLAlchemy's (IntegrityError …), as Core statements would."""
    base = dialect.loaded_dbapi.Error
    try:
        yield
    except base as exc:
        raise sa.exc.DBAPIError.instance(None, None, exc, base, dialect=dialect) from exc


class _Fallback(Exception):
    """The direct path met work that needs a SQLAlchemy Connection (see fire_direct)."""


class _NoConnection:
    """Stands in for the Connection on the direct path: using it means "take the general path".

    The catalog reads a workflow version from the database only when this
    process has not compiled it yet; that (rare) event is redone by fire_in.
    """

    def execute(self, *_args: Any, **_kwargs: Any) -> Any:
        raise _Fallback()


_NO_CONNECTION: Any = _NoConnection()


# -- one event ----------------------------------------------------------------------


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


def _outbox_rows(
    engine: Engine, iid: int, hid: int, plan: Iterable[tuple[str, str, ActionSpec]],
    data: dict[str, Any], payload: dict[str, Any], now: datetime, at: Any,
) -> list[tuple[Any, ...]]:  # fmt: skip
    """The outbox rows of a plan whose actions all run after the commit (as _run_plan)."""
    rows = []
    for index, (_phase, state, spec) in enumerate(plan):
        registered = engine.registry.actions[spec.action]
        params = render_value(spec.params, engine.expression_context(data, payload, state, now))
        rows.append(
            (iid, hid, index, spec.action, repo.dumps(params), spec.save_as,
             f"{iid}:{hid}:{index}", "pending", 0, int(registered.option("max_attempts", 5)),
             at, at)
        )  # fmt: skip
    return rows


def _timer_params(
    st: Statements, engine: Engine, iid: int, definition: WorkflowDef, state: str, now: datetime
) -> list[tuple[Any, ...]]:
    return [
        (r["instance_id"], r["name"], r["kind"], r["trigger"], r["state"],
         db_time(r["due"], st.sqlite))
        for r in timer_rows(engine, iid, definition, state, now)
    ]  # fmt: skip


def _insert_timers(
    cur: Any, st: Statements, engine: Engine, iid: int, definition: WorkflowDef, state: str,
    now: datetime,
) -> None:  # fmt: skip
    rows = _timer_params(st, engine, iid, definition, state, now)
    if rows:
        cur.executemany(st.insert_timer, rows)


# -- a batch of events in one transaction (group commit) ------------------------------


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
