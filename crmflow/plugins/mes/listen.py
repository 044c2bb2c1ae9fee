"""`crmflow listen`: run a factory's MES connectors and apply what they receive."""

from __future__ import annotations

import json
import logging
import queue
import threading
from typing import TYPE_CHECKING, Any

from .ingest import Applied, Incoming, Ingestor, deliver_events
from .mapping import Connector, opcua_source, parse_connectors

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine import Engine

__all__ = ["Listener", "connectors_of", "opcua_source", "retry_message"]

log = logging.getLogger("crmflow.mes")


def connectors_of(engine: Engine) -> list[Connector]:
    """The factory's MES connectors, validated (:class:`ConfigError` names the bad key)."""
    return parse_connectors(engine.factory.connectors.get("mes"))


class Listener:
    """One source and one applier thread per connector; ``stop()`` ends them."""

    def __init__(
        self, engine: Engine, connectors: list[Connector] | None = None, *, batch: int = 500
    ) -> None:
        self.engine = engine
        self.connectors = connectors_of(engine) if connectors is None else connectors
        self.batch = batch
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.sources: list[Any] = []
        self.totals: dict[str, Applied] = {}

    def start(self) -> Listener:
        for connector in self.connectors:
            q: queue.Queue[Incoming] = queue.Queue()
            source = _source(self.engine, connector, q)
            self.sources.append(source)
            ingestor = Ingestor(self.engine, connector.name, connector.kind)
            self.totals[connector.name] = Applied()
            thread = threading.Thread(
                target=self._apply_loop,
                args=(ingestor, q),
                name=f"crmflow-{connector.name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
            source.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for source in self.sources:
            try:
                source.stop()
            except Exception:
                log.warning("stopping %r failed", source, exc_info=True)
        for thread in self._threads:
            thread.join(timeout=10)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until stopped (``crmflow listen``); True when stopped."""
        return self._stop.wait(timeout)

    def _apply_loop(self, ingestor: Ingestor, q: queue.Queue[Incoming]) -> None:
        total = self.totals[ingestor.connector]
        while not self._stop.is_set():
            try:
                first = q.get(timeout=0.5)
            except queue.Empty:
                try:  # idle: deliver what a lost race left queued (each event once)
                    deliver_events(self.engine)
                except Exception:
                    log.warning("delivering queued events failed", exc_info=True)
                continue
            items = [first]
            while len(items) < self.batch:
                try:
                    items.append(q.get_nowait())
                except queue.Empty:
                    break
            try:
                done = ingestor.apply(items)
            except Exception:  # the database is away: nothing was acked, the broker redelivers
                log.exception(
                    "%s: a batch of %d could not be applied", ingestor.connector, len(items)
                )
                continue
            total.applied += done.applied
            total.repeated += done.repeated
            total.quarantined += done.quarantined


def _source(engine: Engine, connector: Connector, q: queue.Queue[Incoming]) -> Any:
    if connector.kind == "mqtt":
        from .mqtt import MqttSource

        return MqttSource(engine, connector, q)
    from .opcua import OpcUaSource

    return OpcUaSource(engine, connector, q)


def retry_message(engine: Engine, row: dict[str, Any]) -> str | None:
    """Apply a quarantined MES message again; None when applied, else the reason."""
    connector = next((c for c in connectors_of(engine) if c.name == row["connector"]), None)
    if connector is None:
        return f"connector {row['connector']!r} is no longer configured"
    payload = bytes(row["payload"])
    for sub in connector.subscriptions:
        item = _retry_item(connector, sub, row["source"], payload)
        if item is None:
            continue
        ingestor = Ingestor(engine, connector.name, connector.kind)
        ingestor.keep_bad = False
        done = ingestor.apply([item])
        return done.quarantined[0][1] if done.quarantined else None
    return f"no subscription of {connector.name} matches {row['source']!r} any more"


def _retry_item(connector: Connector, sub: Any, source: str, payload: bytes) -> Incoming | None:
    if connector.kind == "mqtt":
        import paho.mqtt.client as paho

        if sub.topic is None or not paho.topic_matches_sub(sub.topic, source):
            return None
        return Incoming(source=source, payload=payload, subscription=sub)
    if source != opcua_source(sub):
        return None
    values = json.loads(payload)
    stamp = values.pop("__stamp__", None)
    return Incoming(source=source, payload=payload, subscription=sub, values=values, stamp=stamp)
