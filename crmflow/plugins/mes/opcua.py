"""OPC UA subscriber (asyncua client): data changes of named nodes, reconnect and resubscribe."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from typing import TYPE_CHECKING, Any

from .ingest import Incoming, dumps_values
from .mapping import Connector, Subscription, opcua_source
from .store import report_status

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine import Engine

__all__ = ["OpcUaSource"]

log = logging.getLogger("crmflow.mes.opcua")


class _Handler:
    """asyncua's subscription handler: every data change becomes one message."""

    def __init__(self, source: OpcUaSource, where: dict[str, tuple[int, str]]) -> None:
        self.source = source
        self.where = where  # node id string -> (subscription index, name)

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        try:
            index, name = self.where[node.nodeid.to_string()]
            value = data.monitored_item.Value
            stamp = value.SourceTimestamp or value.ServerTimestamp
            self.source.changed(index, name, val, stamp.isoformat() if stamp else None)
        except Exception:  # never break asyncua's notification loop
            log.exception("%s: a data change could not be queued", self.source.connector.name)

    def status_change_notification(self, status: Any) -> None:
        log.warning("%s: subscription status %s", self.source.connector.name, status)


class OpcUaSource:
    """Follows a server's nodes from its own thread and event loop.

    Connects, reads every node once, subscribes to data changes and then
    checks the connection every ``check_every`` seconds; when the server goes
    away it reconnects with backoff and subscribes again (the first
    notifications after that carry the server's current values).
    """

    def __init__(self, engine: Engine, connector: Connector, out: queue.Queue[Incoming]) -> None:
        self.engine = engine
        self.connector = connector
        self.out = out
        s = connector.settings
        self.url = str(s["url"])
        self.period_ms = int(s.get("publishing_interval_ms", 200))
        self.check_every = float(s.get("check_every", 1.0))
        self.backoff = (float(s.get("reconnect_min", 0.2)), float(s.get("reconnect_max", 30)))
        self.connected = threading.Event()
        self.values: list[dict[str, Any]] = [{} for _ in connector.subscriptions]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._stop = asyncio.Event()
            ready.set()
            try:
                self._loop.run_until_complete(self._main())
            finally:
                self._loop.close()

        self._thread = threading.Thread(target=run, name=f"crmflow-{self.connector.name}",
                                        daemon=True)  # fmt: skip
        self._thread.start()
        ready.wait(10)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=15)

    def changed(self, index: int, name: str, value: Any, stamp: str | None) -> None:
        """One node changed: the message carries every node of its subscription."""
        sub = self.connector.subscriptions[index]
        self.values[index][name] = value
        values = dict(self.values[index])
        self.out.put(
            Incoming(
                source=opcua_source(sub),
                payload=dumps_values({**values, "__stamp__": stamp}),
                subscription=sub,
                values=values,
                stamp=stamp,
            )
        )

    async def _main(self) -> None:
        assert self._stop is not None
        delay = self.backoff[0]
        while not self._stop.is_set():
            try:
                await self._session()
                delay = self.backoff[0]
            except Exception as exc:
                self.connected.clear()
                log.warning("%s: %s; reconnecting in %.1fs", self.connector.name, exc, delay)
                self._status("reconnecting", f"{type(exc).__name__}: {exc}")
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, self.backoff[1])
        self._status("stopped", None)

    async def _session(self) -> None:
        from asyncua import Client

        assert self._stop is not None
        client = Client(self.url, timeout=4)
        await client.connect()
        try:
            where: dict[str, tuple[int, str]] = {}
            nodes = []
            for index, sub in enumerate(self.connector.subscriptions):
                for name, node_id in _nodes(sub):
                    node = client.get_node(node_id)
                    self.values[index][name] = await node.read_value()
                    where[node.nodeid.to_string()] = (index, name)
                    nodes.append(node)
            subscription = await client.create_subscription(self.period_ms, _Handler(self, where))
            await subscription.subscribe_data_change(nodes)
            self.connected.set()
            self._status("connected", None)
            log.info("%s: subscribed %d node(s) on %s", self.connector.name, len(nodes), self.url)
            while not self._stop.is_set():
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=self.check_every)
                except TimeoutError:
                    await asyncio.wait_for(nodes[0].read_value(), timeout=4)  # still there?
        finally:
            self.connected.clear()
            try:
                await asyncio.wait_for(client.disconnect(), timeout=2)
            except Exception:
                log.debug("%s: disconnect after a lost connection failed", self.connector.name)

    def _status(self, state: str, error: str | None) -> None:
        try:
            report_status(self.engine, self.connector.name, "opcua", state, error=error)
        except Exception:
            log.warning("%s: could not record state %s", self.connector.name, state)


def _nodes(sub: Subscription) -> list[tuple[str, str]]:
    return sorted(sub.nodes.items())
