"""Live updates: taken transitions fan out to server-sent-event streams.

Each app process runs one listener thread. On PostgreSQL it waits on ``LISTEN
crmflow_history`` (a trigger of migration 0120 notifies after every insert into
``history``, whichever process or worker made it); on SQLite, where one process
serves, it looks for new history rows once a second. Either way it reads the
rows after the last one it saw and hands them to every open stream.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from typing import Any

import sqlalchemy as sa

from crmflow.core.engine.tables import HistoryRow, InstanceRow
from crmflow.core.store import is_postgres

__all__ = ["CHANNEL", "Broker"]

log = logging.getLogger("crmflow.live")
CHANNEL = "crmflow_history"
_history = HistoryRow.__table__  # type: ignore[attr-defined]
_instances = InstanceRow.__table__  # type: ignore[attr-defined]


class Broker:
    """Fans taken transitions out to subscriber queues; one listener thread per process."""

    def __init__(self, engine: Any, *, poll_seconds: float = 1.0, max_streams: int = 200) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.max_streams = max_streams
        self._subscribers: set[queue.Queue[dict[str, Any]]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        with engine.db.connect() as conn:
            self.last_id = int(conn.execute(sa.select(sa.func.max(_history.c.id))).scalar() or 0)

    # -- subscribers ---------------------------------------------------------

    def subscribe(self) -> queue.Queue[dict[str, Any]] | None:
        """A queue of transition messages, or None when too many streams are open."""
        with self._lock:
            if len(self._subscribers) >= self.max_streams:
                return None
            q: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=1000)
            self._subscribers.add(q)
        self._ensure_thread()
        return q

    def unsubscribe(self, q: queue.Queue[dict[str, Any]]) -> None:
        with self._lock:
            self._subscribers.discard(q)

    # -- reading new transitions ----------------------------------------------

    def poll(self) -> int:
        """Publish history rows after the last one seen; return how many."""
        query = (
            sa.select(_history.c.id, _history.c.instance_id, _history.c.from_state,
                      _history.c.to_state, _history.c.at, _instances.c.workflow)
            .join(_instances, _instances.c.id == _history.c.instance_id)
            .where(_history.c.id > self.last_id).order_by(_history.c.id).limit(1000)
        )  # fmt: skip
        with self.engine.db.connect() as conn:
            rows = conn.execute(query).all()
        for row in rows:
            self.last_id = max(self.last_id, int(row.id))
            if row.from_state is None:
                continue  # a start, not a transition
            message = {"id": row.instance_id, "workflow": row.workflow, "from": row.from_state,
                       "to": row.to_state, "at": row.at.isoformat()}  # fmt: skip
            self.publish(message)
        return len(rows)

    def publish(self, message: dict[str, Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for q in subscribers:
            try:
                q.put_nowait(message)
            except queue.Full:
                pass  # a stalled reader loses messages rather than memory

    # -- the listener thread ----------------------------------------------------

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="crmflow-live", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if is_postgres(self.engine.db):
                    self._listen()
                else:
                    self.poll()
                    self._stop.wait(self.poll_seconds)
            except Exception:  # the database went away: retry shortly
                log.exception("live updates: listener failed; retrying")
                self._stop.wait(5)

    def _listen(self) -> None:
        raw = self.engine.db.raw_connection()
        try:
            driver = raw.driver_connection
            driver.autocommit = True
            driver.execute(f"LISTEN {CHANNEL}")
            self.poll()  # rows written before LISTEN took effect
            while not self._stop.is_set():
                if list(driver.notifies(timeout=5.0, stop_after=1)):
                    self.poll()
        finally:
            raw.close()

    def stop(self) -> None:
        self._stop.set()

    @staticmethod
    def format(message: dict[str, Any]) -> str:
        return f"event: instance\ndata: {json.dumps(message)}\n\n"
