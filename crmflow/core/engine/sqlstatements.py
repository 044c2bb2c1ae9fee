"""The fire paths' SQL text per dialect, and times as the store keeps them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

__all__ = [
    "Statements",
    "db_time",
    "statements",
    "statements_for",
]

_INSTANCE_COLUMNS = (
    "id, workflow, version, state, data, rev, finished, entered_at, created_by, created_at, "
    "regions, parent_id"
)
_HISTORY_COLUMNS = 'instance_id, "trigger", from_state, to_state, actor, at, payload, "key"'
_OUTBOX_COLUMNS = (
    'instance_id, history_id, action_index, action, params, save_as, "key", status, attempts, '
    "max_attempts, next_attempt_at, created_at"
)
_TIMER_COLUMNS = 'instance_id, name, kind, "trigger", state, due'
_MAX_HISTORY = ", (SELECT COALESCE(MAX(id), 0) FROM history)"


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
        self._selects: dict[int, str] = {}
        p = self.mark = "?" if self.sqlite else "%s"
        self.select_instance = f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE id = {p}"
        # PostgreSQL: a batch locks its rows in id order, so two batches never deadlock
        # and no optimistic retry is needed.
        self.lock = "" if self.sqlite else " ORDER BY id FOR UPDATE"
        #: an instance read to change it beside the event's own (a parent, a child)
        self.select_locked = self.select_instance + ("" if self.sqlite else " FOR UPDATE")
        self.children_of = (
            f"SELECT id, finished FROM instances WHERE parent_id = {p} ORDER BY id"
            + ("" if self.sqlite else " FOR UPDATE")
        )
        self.set_parent = f"UPDATE instances SET parent_id = {p} WHERE id = {p}"
        self.history_by_key = (
            f'SELECT id, to_state, "trigger" FROM history WHERE instance_id = {p} AND "key" = {p}'
        )
        self.every_timers = (
            f"SELECT name, due FROM timers WHERE instance_id = {p} AND kind = 'every'"
        )
        self.first_entry = (
            f"SELECT MIN(at) FROM history WHERE instance_id = {p} AND to_state = {p}"
        )
        self.select_votes = (
            f"SELECT voter, for_person, decision, at, comment, state FROM votes "
            f"WHERE instance_id = {p} AND state = {p} AND at >= {p} ORDER BY id"
        )
        self.insert_vote = (
            "INSERT INTO votes (instance_id, history_id, state, voter, for_person, decision, "
            f"at, comment) VALUES ({_marks(p, 8)})"
        )
        self.select_delegations = (
            "SELECT approver, delegate, start_date, end_date, reason FROM delegations "
            f"WHERE (delegate = {p} OR approver = {p}) AND start_date <= {p} "
            f"AND end_date >= {p} ORDER BY id"
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
            f"entered_at = {p}, regions = {p} WHERE id = {p} AND rev = {p}"
        )
        # SQLite rewrites the entry of every index whose column a SET names, even to the
        # same NULL: most instances have no open_key, so it is cleared only where set
        # (one WAL page less per finishing event). PostgreSQL compares the values.
        clear = "" if self.sqlite else ", open_key = NULL"
        self.update_final = (
            f"UPDATE instances SET state = {p}, data = {p}, rev = {p}, updated_at = {p}, "
            f"entered_at = {p}, regions = {p}, finished = {p}{clear} WHERE id = {p} AND rev = {p}"
        )
        self.clear_open_key = (
            "UPDATE instances SET open_key = NULL WHERE id = ? AND open_key IS NOT NULL"
            if self.sqlite else None
        )  # fmt: skip
        # a region of a parallel state moved on: its old state's timers go
        self.delete_state_timers = f"DELETE FROM timers WHERE instance_id = {p} AND state = {p}"
        self.max_history = "SELECT COALESCE(MAX(id), 0) FROM history"
        self.next_history = (
            "SELECT nextval(pg_get_serial_sequence('history', 'id')) FROM generate_series(1, %s)"
        )

    def select_instances(self, count: int) -> str:
        """The events' instances; on PostgreSQL with their parents, all locked in id order.

        A child's move changes its parent's row too: locking the parent (a lower id)
        with the child keeps the lock order of a parent's batch cancelling its children.
        Its parameters are the ids, twice on PostgreSQL (:meth:`instance_params`).
        SQLite numbers history rows itself under the write lock (see the batch): there
        the largest history id rides along with the rows, one statement less per event.
        """
        found = self._selects.get(count)
        if found is None:
            marks = _marks(self.mark, count)
            if self.sqlite:
                found = (
                    f"SELECT {_INSTANCE_COLUMNS}{_MAX_HISTORY} FROM instances "
                    f"WHERE id IN ({marks})"
                )
            else:
                found = (
                    f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE id IN ({marks}) OR id IN "
                    f"(SELECT parent_id FROM instances WHERE id IN ({marks})){self.lock}"
                )
            self._selects[count] = found
        return found

    def instance_params(self, ids: list[int]) -> list[int]:
        return ids if self.sqlite else ids + ids

    def keys_of(self, count: int) -> str:
        return (
            f'SELECT instance_id, "key", id, to_state, "trigger" FROM history WHERE "key" IN '
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
