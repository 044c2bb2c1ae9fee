"""OPC UA from a line: the client follows value changes and a server restart."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from asyncua import Server, ua

from crmflow import Engine
from crmflow.core.engine.inbox import inbox
from crmflow.core.factory import FactoryConfig
from crmflow.plugins.mes.listen import Listener
from crmflow.plugins.mes.store import connector_status
from crmflow.testing import FakeClock

from .conftest import free_port, wait_for


class LineServer:
    """An asyncua server in its own thread with Line1.State and Line1.Good."""

    def __init__(self, port: int, state: str, good: int) -> None:
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.nodes: dict[str, Any] = {}
        self.server = self._call(self._start(state, good), 30)

    def _call(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self, state: str, good: int) -> Server:
        server = Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://127.0.0.1:{self.port}/line/")
        idx = await server.register_namespace("urn:crmflow:test:line")
        line = await server.nodes.objects.add_object(ua.NodeId("Line1", idx), "Line1")
        self.nodes["state"] = await line.add_variable(ua.NodeId("Line1.State", idx), "State", state)
        self.nodes["good"] = await line.add_variable(
            ua.NodeId("Line1.Good", idx), "Good", good, ua.VariantType.Int64
        )
        await server.start()
        return server

    def write(self, name: str, value: Any) -> None:
        self._call(self.nodes[name].write_value(value))

    async def _shutdown(self) -> None:
        await self.server.stop()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> None:
        self._call(self._shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def _events(engine: Engine) -> list[dict[str, Any]]:
    with engine.db.connect() as conn:
        rows = conn.execute(
            sa.select(inbox.c.payload)
            .where(inbox.c.event == "machine.state_changed")
            .order_by(inbox.c.id)
        ).scalars()
        return [json.loads(r) for r in rows]


def test_the_client_follows_changes_and_a_server_restart(tmp_path: Path) -> None:
    port = free_port()
    server = LineServer(port, "running", 100)
    (tmp_path / "wf").mkdir()
    mapping = {
        "nodes": {"state": "ns=2;s=Line1.State", "good": "ns=2;s=Line1.Good"},
        "event": "machine.state_changed",
        "data": {"line": "L1", "state": "{{ state }}", "good": "{{ good }}"},
    }
    factory = FactoryConfig(
        name="plant",
        connectors={"mes": [{"kind": "opcua", "name": "line1",
                             "url": f"opc.tcp://127.0.0.1:{port}/line/", "subscribe": [mapping],
                             "check_every": 0.2, "reconnect_max": 0.5}]},
    )  # fmt: skip
    engine = Engine.open(f"sqlite:///{tmp_path / 'ua.sqlite3'}", workflows=tmp_path / "wf",
                         factory=factory, clock=FakeClock(), load_entry_points=False)  # fmt: skip
    listener = Listener(engine).start()
    try:
        wait_for(lambda: any(e["state"] == "running" for e in _events(engine)), 30, "running")
        server.write("good", 150)
        wait_for(lambda: any(e["good"] == 150 for e in _events(engine)), 30, "good = 150")
        server.write("state", "down")
        wait_for(lambda: _events(engine)[-1]["state"] == "down", 30, "the line going down")
        server.stop()
        wait_for(lambda: not listener.sources[0].connected.is_set(), 30, "the loss to be seen")
        server = LineServer(port, "idle", 150)  # the PLC's server comes back
        wait_for(lambda: _events(engine)[-1]["state"] == "idle", 60, "the value after restart")
        server.write("state", "running")
        wait_for(lambda: _events(engine)[-1]["state"] == "running", 30, "a change after restart")
    finally:
        listener.stop()
        server.stop()
    states: list[str] = []
    for event in _events(engine):  # each change once, in order (repeats: other nodes changed)
        if not states or states[-1] != event["state"]:
            states.append(event["state"])
    assert states == ["running", "down", "idle", "running"]
    assert all(e["line"] == "L1" for e in _events(engine))
    status = {s["name"]: s for s in connector_status(engine)}["opcua:line1"]
    assert status["quarantined"] == 0 and status["errors"] >= 1  # the restart was seen
    engine.close()
