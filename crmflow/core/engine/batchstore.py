"""The batch's rows: instances read ahead, history ids numbered, everything written at flush.

:class:`BatchStore` is the SQL half of the write step's batch (groupcommit);
:class:`crmflow.core.engine.applyevent.Batch` adds the per-event apply loop.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from . import repository as repo
from .heldrow import HeldInstance
from .results import TransitionRecord
from .routing import Memo, memo_of
from .sqlstatements import Statements, db_time

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike as Engine

__all__ = ["BatchStore", "Event", "Work"]

#: one event of a batch: instance id, trigger, payload, idempotency key
Event = tuple[int, str, dict[str, Any] | None, str | None]


class Work:
    """What one event adds to the batch; appended only once nothing can fail."""

    def __init__(self) -> None:
        self.history: list[tuple[Any, ...]] = []
        self.outbox: list[tuple[Any, ...]] = []
        self.votes: list[tuple[Any, ...]] = []
        self.records: list[TransitionRecord] = []
        #: history rows written before the commit point (children were started after them)
        self.written = 0
        #: children to cancel (their parent left its call state) and children's queued actions
        self.cancel: list[tuple[int, str]] = []
        self.queued = False


class BatchStore:
    """Rows read ahead and held in memory, written with one statement per table at :meth:`flush`."""

    def __init__(
        self, engine: Engine, conn: sa.Connection, st: Statements, cur: Any, now: datetime
    ) -> None:
        self.engine = engine
        self.conn = conn
        self.st = st
        self.cur = cur
        self.now = now
        self.at = db_time(now, self.st.sqlite)
        self.insts: dict[int, HeldInstance] = {}
        self.keys: dict[tuple[int, str], tuple[int, str, str]] = {}
        self.history: list[tuple[Any, ...]] = []
        self.outbox: list[tuple[Any, ...]] = []
        self.votes: list[tuple[Any, ...]] = []
        self.drop_timers: list[tuple[int]] = []
        self.drop_state_timers: list[tuple[int, str]] = []
        self._ids: list[int] = []
        self._next_id = 0
        #: events still to fire: PostgreSQL numbers their history rows in one round trip
        self.need = 0
        self.memos: dict[tuple[str, int], Memo] = {}

    # -- reading -------------------------------------------------------------

    def _load(self, row: Any) -> HeldInstance:
        version = (row[1], row[2])
        memo = self.memos.get(version)
        if memo is None:
            memo = self.memos[version] = memo_of(self.engine.catalog.get(self.conn, *version))
        inst = self.insts[int(row[0])] = HeldInstance(row, memo)
        return inst

    def preload(self, events: list[Event]) -> None:
        """Read the events' instances and their earlier idempotency keys, 500 at a time."""
        if len(events) == 1:  # one fire: nothing to gather or sort
            ids = [int(events[0][0])]
            keys = [] if events[0][3] is None else [events[0][3]]
        else:
            ids = sorted({int(e[0]) for e in events})
            keys = sorted({e[3] for e in events if e[3] is not None})
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            self.cur.execute(self.st.select_instances(len(chunk)), self.st.instance_params(chunk))
            for row in self.cur.fetchall():
                self._load(row)
                if self.st.sqlite and not self._next_id:
                    self._next_id = int(row[-1]) + 1  # the largest history id, read alongside
        for start in range(0, len(keys), 500):
            key_chunk = keys[start : start + 500]
            self.cur.execute(self.st.keys_of(len(key_chunk)), key_chunk)
            for iid, key, hid, to_state, trigger in self.cur.fetchall():
                self.keys[(int(iid), key)] = (int(hid), to_state, trigger)
        self.need = len(events)

    def reload(self, iid: int, *, lock: bool = False) -> HeldInstance | None:
        """The instance held by the batch, else read (and locked if ``lock``); None if absent."""
        found = self.insts.get(iid)
        if found is not None:
            return found
        self.cur.execute(self.st.select_locked if lock else self.st.select_instance, (iid,))
        row = self.cur.fetchone()
        return None if row is None else self._load(row)

    # -- numbering -----------------------------------------------------------

    def write_early(self, work: Work) -> None:
        """Write the event's history rows so far: rows written beside the batch come after."""
        rows = work.history[work.written :]
        if rows:
            self.cur.executemany(self.st.insert_history_ids, rows)
        work.written = len(work.history)

    def restart_ids(self) -> None:
        """Rows were written beside the batch (children started): number history afresh."""
        self._next_id = 0

    def history_id(self) -> int:
        """The id of the next history row (SQLite: counted on; PostgreSQL: from the sequence)."""
        if self.st.sqlite:
            # The write lock (BEGIN IMMEDIATE) is ours: nobody else numbers history rows.
            if not self._next_id:
                self.cur.execute(self.st.max_history)
                self._next_id = int(self.cur.fetchone()[0]) + 1
            hid = self._next_id
            self._next_id += 1
            return hid
        if not self._ids:
            self.cur.execute(self.st.next_history, (max(self.need, 1),))
            self._ids = [int(r[0]) for r in self.cur.fetchall()][::-1]
        return self._ids.pop()

    # -- writing -------------------------------------------------------------

    def flush(self) -> None:
        """Write everything applied so far; raise repo.Conflict if a row moved under us."""
        cur, st = self.cur, self.st
        if self.drop_timers:
            cur.executemany(st.delete_timers, self.drop_timers)
            self.drop_timers = []
        if self.drop_state_timers:
            cur.executemany(st.delete_state_timers, self.drop_state_timers)
            self.drop_state_timers = []
        if self.history:
            cur.executemany(st.insert_history_ids, self.history)
            self.history = []
        timers = [t for inst in self.insts.values() for t in inst.pending_timers]
        if timers:
            cur.executemany(st.insert_timer, timers)
        if self.outbox:
            cur.executemany(st.insert_outbox, self.outbox)
            self.outbox = []
        if self.votes:
            cur.executemany(st.insert_vote, self.votes)
            self.votes = []
        plain: list[tuple[Any, ...]] = []
        final: list[tuple[Any, ...]] = []
        for inst in self.insts.values():
            if inst.pending_timers:
                inst.pending_timers = []
                inst.timers_in_db = True
            if not inst.dirty:
                continue
            values = (inst.state, inst.dumped(), inst.rev, self.at, inst.entered_at,
                      inst.dumped_regions())  # fmt: skip
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
        if final and st.clear_open_key is not None:
            cur.executemany(st.clear_open_key, [(row[-2],) for row in final])
