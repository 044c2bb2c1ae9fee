"""Apply MES messages: render, dedupe by message key, write records and queue events at once."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.domain.imports import import_rows
from crmflow.core.domain.records import CapacityDay
from crmflow.core.engine.inbox import drain, inbox

from .mapping import MappingError, Subscription, decode_json, message_key
from .sparkplug import AliasBook
from .store import messages, quarantine, report_status, taken_keys

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine import Engine

__all__ = ["Applied", "Incoming", "Ingestor", "deliver_events", "dumps_values"]

log = logging.getLogger("crmflow.mes")

#: how long the inbox rows of a batch stay claimed by the listener that delivers them
CLAIM = timedelta(minutes=5)
_CAPACITY_FIELDS = ("line", "date", "planned_hours", "worker_hours", "efficiency", "output")


@dataclass
class Incoming:
    """One message or data change as received, before it is understood."""

    source: str  # MQTT topic, or the OPC UA subscription's node ids
    payload: bytes
    subscription: Subscription
    values: dict[str, Any] | None = None  # OPC UA: node name -> value (no decoding)
    stamp: str | None = None  # OPC UA: the server's source timestamp
    ack: Callable[[], None] | None = None


@dataclass
class Applied:
    """What one batch did."""

    applied: int = 0
    repeated: int = 0
    quarantined: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    #: the events queued in the inbox, ``(name, payload, key)``, delivered after the commit
    events: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)


@dataclass
class _Ready:
    item: Incoming
    data: dict[str, Any]
    key: str


class Ingestor:
    """Turns one connector's messages into records and domain events, each once."""

    def __init__(self, engine: Engine, connector: str, kind: str) -> None:
        self.engine = engine
        self.connector = connector
        self.kind = kind
        self.aliases = AliasBook()
        self.actor = connector
        #: False when retrying: a message that fails again is reported, not quarantined twice
        self.keep_bad = True

    def context(self, item: Incoming) -> dict[str, Any]:
        """The template context: ``topic`` (levels), ``topic_name``, ``msg`` or node values."""
        if item.values is not None:
            return {**item.values, "values": item.values, "stamp": item.stamp}
        if item.subscription.format == "sparkplug_b":
            msg = self.aliases.message(item.source, item.payload)
        else:
            msg = decode_json(item.payload)
        return {"topic": item.source.split("/"), "topic_name": item.source, "msg": msg}

    def prepare(self, item: Incoming) -> _Ready:
        data, stamp = item.subscription.render(self.context(item))
        return _Ready(item, data, message_key(item.source, item.payload, stamp or item.stamp))

    def apply(self, items: list[Incoming], *, deliver: bool = True) -> Applied:
        """Apply a batch in one transaction; bad messages go to quarantine with the reason.

        Acknowledges each message after the commit, then delivers the queued
        events (``deliver=False`` leaves them to the workers).
        """
        done = Applied()
        ready: list[_Ready] = []
        bad: list[tuple[Incoming, str]] = []
        for item in items:
            try:
                ready.append(self.prepare(item))
            except MappingError as exc:
                bad.append((item, str(exc)))
            except Exception as exc:  # never let one message stop the others
                log.exception("message on %s could not be prepared", item.source)
                bad.append((item, f"could not be read: {exc!r}"))
        try:
            self._write(ready, bad, done)
        except Exception:
            if len(items) == 1:
                raise
            log.exception("batch of %d failed; applying its messages one by one", len(items))
            done = Applied()
            for item in items:
                try:
                    part = self.apply([item], deliver=False)
                except Exception as exc:
                    with self.engine.db.begin() as conn:
                        self._quarantine(conn, item, f"could not be applied: {exc!r}", done)
                    continue
                done.applied += part.applied
                done.repeated += part.repeated
                done.quarantined += part.quarantined
                done.events += part.events
        for item in items:
            if item.ack is not None:
                try:
                    item.ack()
                except Exception:  # the broker redelivers; the key makes it a no-op
                    log.warning("ack failed for a message on %s", item.source, exc_info=True)
        if deliver and done.events:
            self.deliver(done.events)
        return done

    def deliver(self, events: list[tuple[str, dict[str, Any], str]]) -> None:
        """Deliver a committed batch's events at once and mark their inbox rows done.

        The rows were queued claimed by this connector for :data:`CLAIM`, so a
        worker leaves them alone meanwhile; if delivery fails or the process
        dies, the workers deliver them after the lease (each key once).
        """
        try:
            results: list[Any] = self.engine.emit_many(events, actor=self.actor)
        except Exception:
            log.exception(
                "%s: delivering %d events failed; the workers retry them",
                self.connector,
                len(events),
            )
            return
        now = self.engine.now()
        rows: list[dict[str, Any]] = []
        for (_name, _payload, key), result in zip(events, results, strict=True):
            outcome = {"started": result.started, "moved": result.moved}
            rows.append({"b_key": key, "b_result": json.dumps(outcome)})
        with self.engine.db.begin() as conn:
            conn.execute(
                inbox.update()
                .where(inbox.c.key == sa.bindparam("b_key"), inbox.c.status == "pending")
                .values(
                    status="done",
                    attempts=1,
                    result=sa.bindparam("b_result"),
                    done_at=now,
                    claimed_by=None,
                    claimed_until=None,
                ),
                rows,
            )

    def _quarantine(self, conn: sa.Connection, item: Incoming, reason: str, done: Applied) -> None:
        if self.keep_bad:
            quarantine(conn, self.connector, item.source, item.payload, reason, self.engine.now())
        done.quarantined.append((item.source, reason))

    def _write(self, ready: list[_Ready], bad: list[tuple[Incoming, str]], done: Applied) -> None:
        now = self.engine.now()
        with self.engine.db.begin() as conn:
            taken = taken_keys(conn, [r.key for r in ready])
            fresh: list[_Ready] = []
            for r in ready:
                if r.key in taken:
                    done.repeated += 1
                else:
                    taken.add(r.key)
                    fresh.append(r)
            refused = self._write_capacity(conn, [r for r in fresh if _is_capacity(r)])
            taken_rows: list[dict[str, Any]] = []
            queued: list[dict[str, Any]] = []
            for r in fresh:
                if id(r) in refused:
                    bad.append((r.item, refused[id(r)]))
                    continue
                taken_rows.append({"key": r.key, "connector": self.connector, "applied_at": now})
                payload = dict(r.data)
                payload.setdefault("received_at", now.isoformat())
                event, key = r.item.subscription.event, f"{self.kind}:{r.key}"
                queued.append(
                    {
                        "instance_id": None,
                        "trigger": None,
                        "event": event,
                        "payload": json.dumps(payload, default=str),
                        "key": key,
                        "actor": self.actor,
                        "status": "pending",
                        "attempts": 0,
                        "created_at": now,
                        "claimed_by": self.connector,
                        "claimed_until": now + CLAIM,
                    }
                )
                done.events.append((event, payload, key))
                done.applied += 1
            if taken_rows:
                conn.execute(messages.insert(), taken_rows)
                conn.execute(inbox.insert(), queued)
            for item, reason in bad:
                self._quarantine(conn, item, reason, done)
            report_status(
                self.engine,
                self.connector,
                self.kind,
                "connected",
                success=True,
                error=bad[-1][1] if bad else None,
                messages_applied=done.applied,
                conn=conn,
            )

    def _write_capacity(self, conn: sa.Connection, ready: list[_Ready]) -> dict[int, str]:
        """Upsert the capacity records (line + day) as `import capacity` does; reasons refused."""
        refused: dict[int, str] = {}
        groups: list[list[_Ready]] = [[]]
        seen: set[tuple[Any, Any]] = set()
        for r in ready:  # one record key once per group, so the newest message wins
            k = (r.data.get("line"), str(r.data.get("date")))
            if k in seen:
                groups.append([])
                seen = set()
            seen.add(k)
            groups[-1].append(r)
        for group in groups:
            if not group:
                continue
            records = [{f: r.data.get(f) for f in _CAPACITY_FIELDS} for r in group]
            self._fill_planned(conn, records)
            report, _events = import_rows(
                self.engine, "capacity", records, actor=self.actor, source=self.connector, conn=conn
            )
            for line, reason in report.rejected:
                refused[id(group[line - 1])] = f"capacity record refused: {reason}"
        return refused

    @staticmethod
    def _fill_planned(conn: sa.Connection, records: list[dict[str, Any]]) -> None:
        """A message without planned hours keeps those of the line's day, when there are any."""
        table = CapacityDay.__table__  # type: ignore[attr-defined]
        for rec in records:
            if rec.get("planned_hours") is not None:
                continue
            try:
                day = datetime.fromisoformat(str(rec["date"])).date()
            except ValueError:
                continue  # the import's date parser names the problem
            found = conn.execute(
                sa.select(table.c.planned_hours).where(
                    table.c.line == str(rec["line"]), table.c.date == day
                )
            ).scalar()
            if found is not None:
                rec["planned_hours"] = found


def _is_capacity(r: _Ready) -> bool:
    return r.item.subscription.event == "capacity.changed"


def deliver_events(engine: Engine, limit: int = 500) -> int:
    """Deliver queued events now (the workers would too; each is delivered once)."""
    total = 0
    while True:
        done = drain(engine, limit=limit)
        total += done.total
        if done.total < limit:
            return total


def dumps_values(values: dict[str, Any]) -> bytes:
    """A stable byte form of OPC UA values (the payload hashed into the message key)."""
    return json.dumps(values, sort_keys=True, default=str).encode()
