"""Live updates: taken transitions and each person's notifications fan out to SSE streams.

Each app process runs one listener thread. On PostgreSQL it waits on ``LISTEN
crmflow_history`` (a trigger of migration 0120 notifies after every insert into
``history``, and the notify plugin after it writes or marks read a notification,
whichever process or worker did it); on SQLite, where one process serves, it
looks once a second. Either way it reads the rows after the last one it saw:
a transition goes to the streams of the people who may read instances (asked
once per poll through ``crmflow.core.people.authz.readers``, the rule of the
pages and the API), a notification only to its person's streams, with their
unread count (which a mark-read elsewhere also changes).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
from typing import Any, NamedTuple

import sqlalchemy as sa

from crmflow.core.engine.tables import HistoryRow, InstanceRow
from crmflow.core.people.authz import readers
from crmflow.core.store import is_postgres
from crmflow.plugins.notify.tables import deliveries, messages

__all__ = ["CHANNEL", "END", "Broker", "Event"]

log = logging.getLogger("crmflow.live")
CHANNEL = "crmflow_history"
_history = HistoryRow.__table__  # type: ignore[attr-defined]
_instances = InstanceRow.__table__  # type: ignore[attr-defined]


class Event(NamedTuple):
    """One server-sent event: ``instance`` (a transition) or ``notification``; ``end`` is
    not sent: it tells a stream that the broker stopped."""

    kind: str
    data: dict[str, Any]


END = Event("end", {})


class Broker:
    """Fans taken transitions (to those who may read them) and notifications (to their
    person) out to subscriber queues; one listener thread per process."""

    def __init__(self, engine: Any, *, poll_seconds: float = 1.0, max_streams: int = 200) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.max_streams = max_streams
        self._subscribers: dict[queue.Queue[Event], str | None] = {}  # queue -> its person
        self._shown: dict[queue.Queue[Event], int] = {}  # the unread count each tab shows
        self._lock = threading.Lock()
        self._reading = threading.Lock()  # one poll at a time: each row is published once
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        with engine.db.connect() as conn:
            self.last_id = int(conn.execute(sa.select(sa.func.max(_history.c.id))).scalar() or 0)
            self.last_notification_id = int(conn.execute(
                sa.select(sa.func.max(deliveries.c.id))).scalar() or 0)  # fmt: skip

    # -- subscribers ---------------------------------------------------------

    def subscribe(self, person: str | None = None) -> queue.Queue[Event] | None:
        """A queue of events for ``person`` (transitions, and that person's notifications
        only), or None when too many streams are open."""
        unread = self._counts([person]) if person is not None else {}
        with self._lock:
            if len(self._subscribers) >= self.max_streams:
                return None
            q: queue.Queue[Event] = queue.Queue(maxsize=1000)
            self._subscribers[q] = person
            if person is not None:
                self._shown[q] = unread.get(person, 0)
        self._ensure_thread()
        return q

    def unsubscribe(self, q: queue.Queue[Event]) -> None:
        with self._lock:
            self._subscribers.pop(q, None)
            self._shown.pop(q, None)

    # -- reading new transitions ----------------------------------------------

    def poll(self) -> int:
        """Publish history rows and notifications after the last ones seen, and changed
        unread counts; return how many events were published."""
        with self._reading:
            query = (
                sa.select(_history.c.id, _history.c.instance_id, _history.c.from_state,
                          _history.c.to_state, _history.c.at, _instances.c.workflow)
                .join(_instances, _instances.c.id == _history.c.instance_id)
                .where(_history.c.id > self.last_id).order_by(_history.c.id).limit(1000)
            )  # fmt: skip
            with self.engine.db.connect() as conn:
                rows = conn.execute(query).all()
            published = self._publish_rows(rows)
            published += self._publish_notifications()
        return published

    def _publish_rows(self, rows: list[Any]) -> int:
        """Transitions (a start is not one) to the streams of the people who may read them."""
        moves = []
        for row in rows:
            self.last_id = max(self.last_id, int(row.id))
            if row.from_state is not None:
                moves.append({"id": row.instance_id, "workflow": row.workflow,
                              "from": row.from_state, "to": row.to_state,
                              "at": row.at.isoformat()})  # fmt: skip
        if moves:
            allowed = self._may_read()  # asked once per poll, however many transitions
            for message in moves:
                self.publish(message, allowed)
        return len(moves)

    # -- each person's notifications -------------------------------------------------------

    def _counts(self, persons: list[str], upto: int | None = None) -> dict[str, int]:
        """Unread counts; ``upto``: of the notifications up to that id (those published)."""
        d = deliveries
        query = (
            sa.select(d.c.person, sa.func.count()).where(
                d.c.person.in_(persons), d.c.channel == "inapp", d.c.read_at.is_(None))
            .group_by(d.c.person)
        )  # fmt: skip
        if upto is not None:
            query = query.where(d.c.id <= upto)
        with self.engine.db.connect() as conn:
            return {str(person): int(n) for person, n in conn.execute(query)}

    def _publish_notifications(self) -> int:
        """New in-app notifications to their person's streams, then changed unread counts
        (a notification marked read in another tab, process or command)."""
        d, m = deliveries, messages
        with self._lock:
            persons = {p for p in self._subscribers.values() if p is not None}
        query = (
            sa.select(d.c.id, d.c.person, d.c.text, d.c.created_at, m.c.link, m.c.urgent,
                      m.c.instance_id, m.c.workflow)
            .join(m, m.c.id == d.c.message_id)
            .where(d.c.id > self.last_notification_id, d.c.channel == "inapp")
            .order_by(d.c.id).limit(1000)
        )  # fmt: skip
        with self.engine.db.connect() as conn:
            rows = conn.execute(query).all()
            top = conn.execute(sa.select(sa.func.max(d.c.id))).scalar()
        if not persons:  # nobody listens: only move on
            self.last_notification_id = max(self.last_notification_id, int(top or 0))
            return 0
        seen = max([self.last_notification_id, *(int(r.id) for r in rows)])
        counts = self._counts(sorted(persons), upto=seen)  # one written since is counted next time
        published = 0
        for row in rows:
            self.last_notification_id = max(self.last_notification_id, int(row.id))
            if row.person not in persons:
                continue  # nobody of that name has a stream open here
            at = row.created_at
            at = at.astimezone(dt.UTC) if at.tzinfo else at.replace(tzinfo=dt.UTC)
            unread = counts.get(row.person, 0)
            published += self.publish_to(row.person, {
                "id": row.id, "text": row.text, "link": row.link, "urgent": bool(row.urgent),
                "instance_id": row.instance_id, "workflow": row.workflow,
                "created_at": at.isoformat(), "unread": unread,
            })  # fmt: skip
        with self._lock:  # a tab whose count changed otherwise: read elsewhere
            stale = [(q, counts.get(str(p), 0)) for q, p in self._subscribers.items()
                     if p in persons and self._shown.get(q) != counts.get(p, 0)]  # fmt: skip
            for q, unread in stale:
                self._shown[q] = unread
        for q, unread in stale:
            self._put(q, Event("notification", {"unread": unread}))
        return published + len(stale)

    # -- handing events to streams -----------------------------------------------------------

    def _may_read(self) -> frozenset[str]:
        """The people with a stream open who may read instances now: the rule of the pages
        and the API (:func:`crmflow.core.people.authz.readers`), one query."""
        with self._lock:
            persons = {who for who in self._subscribers.values() if who is not None}
        return readers(self.engine, persons) if persons else frozenset()

    def publish(self, message: dict[str, Any], allowed: frozenset[str] | None = None) -> int:
        """A transition to the open streams of the people who may read it (``allowed``, else
        asked now); a stream without a person gets none. How many streams it reached."""
        if allowed is None:
            allowed = self._may_read()
        with self._lock:
            mine = [q for q, who in self._subscribers.items() if who in allowed]
        for q in mine:
            self._put(q, Event("instance", message))
        return len(mine)

    def publish_to(self, person: str, message: dict[str, Any]) -> int:
        """A notification event to that person's open streams (no one else's); how many."""
        with self._lock:
            mine = [q for q, who in self._subscribers.items() if who == person]
            if "unread" in message:
                self._shown.update((q, int(message["unread"])) for q in mine)
        for q in mine:
            self._put(q, Event("notification", message))
        return 1 if mine else 0

    @staticmethod
    def _put(q: queue.Queue[Event], event: Event) -> None:
        try:
            q.put_nowait(event)
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
                if list(driver.notifies(timeout=1.0, stop_after=1)):
                    self.poll()
        finally:
            raw.close()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """End the listener thread (within a second) and every open stream: each subscriber
        queue gets :data:`END`, so a stream's generator returns at once instead of holding its
        server thread until the next keep-alive finds the client gone."""
        self._stop.set()
        with self._lock:
            streams = list(self._subscribers)
        for q in streams:
            while True:
                try:
                    q.put_nowait(END)
                    break
                except queue.Full:  # a stalled reader: make room for the end
                    try:
                        q.get_nowait()
                    except queue.Empty:
                        pass
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)

    @staticmethod
    def format(event: Event) -> str:
        return f"event: {event.kind}\ndata: {json.dumps(event.data, ensure_ascii=False)}\n\n"
