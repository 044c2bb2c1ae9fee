"""Benchmark: sustained MQTT ingest into domain events, and publish-to-record latency.

Run: ``.venv/bin/python bench/mes.py [--messages 20000] [--paced 300] [--db sqlite:///path]``.

Starts its own Mosquitto on a free loopback port, then:

1. baseline: a bare paho subscriber (no database) counts the same burst, so the
   ratio says how much of the broker's delivery rate crmflow keeps;
2. burst: ``--messages`` distinct shift reports published as fast as paho can,
   applied by ``Listener`` (capacity record + queued ``capacity.changed`` event
   per message, in batches) and delivered; the rate counts from the first
   publish to the last event delivered, and checks nothing was lost or doubled;
3. paced: ``--paced`` messages at 100/s, each carrying its publish time; the
   latency is from publish to the transaction that wrote its capacity record
   (``connector_messages.applied_at``, the same clock), p50 and p95.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as paho
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crmflow.core.domain.records import CapacityDay  # noqa: E402
from crmflow.core.engine import Engine  # noqa: E402
from crmflow.core.engine.inbox import inbox  # noqa: E402
from crmflow.core.factory import FactoryConfig  # noqa: E402
from crmflow.plugins.mes.listen import Listener  # noqa: E402
from crmflow.plugins.mes.store import messages  # noqa: E402

SHIFT = {
    "topic": "plant1/line/+/shift",
    "event": "capacity.changed",
    "data": {
        "line": "{{ topic[2] }}",
        "date": "{{ msg.date }}",
        "planned_hours": "{{ msg.planned_h }}",
        "worker_hours": "{{ msg.worked_h }}",
        "efficiency": "{{ msg.oee }}",
        "output": "{{ msg.good }}",
        "sent": "{{ msg.sent }}",
    },
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_broker(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
        "max_inflight_messages 0\nlog_type none\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(conf)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("mosquitto did not start")


def payload(i: int, offset: int, sent: float | None = None) -> tuple[str, bytes]:
    day = datetime.fromordinal(datetime(2020, 1, 1).toordinal() + (i + offset) // 20).date()
    body = {
        "date": day.isoformat(),
        "planned_h": 8 + i % 9,
        "worked_h": 7.5,
        "oee": 0.8,
        "good": i,
        "sent": sent,
    }
    return f"plant1/line/L{i % 20}/shift", json.dumps(body).encode()


def publisher(port: int) -> paho.Client:
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-pub")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def baseline(port: int, n: int) -> float:
    """Messages per second a bare subscriber receives (QoS 1, no database)."""
    got = threading.Event()
    count = [0]

    def on_message(*_: object) -> None:
        count[0] += 1
        if count[0] == n:
            got.set()

    sub = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-base")
    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.subscribe("plant1/line/+/shift", qos=1)
    sub.loop_start()
    time.sleep(0.5)
    pub = publisher(port)
    t0 = time.perf_counter()
    for i in range(n):
        pub.publish(*payload(i, 10_000_000), qos=1)
    got.wait(300)
    rate = n / (time.perf_counter() - t0)
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()
    return rate


def count(engine: Engine, query: sa.Select) -> int:  # type: ignore[type-arg]
    with engine.db.connect() as conn:
        return int(conn.execute(query).scalar_one())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--paced", type=int, default=300)
    ap.add_argument("--db", default=None)
    ap.add_argument("--batch", type=int, default=500, help="messages per transaction at most")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crmflow-bench-mes-"))
    broker, port = start_broker(tmp)
    try:
        base = baseline(port, args.messages)
        (tmp / "wf").mkdir()
        factory = FactoryConfig(
            name="bench",
            connectors={
                "mes": [
                    {
                        "kind": "mqtt",
                        "name": "bench",
                        "host": "127.0.0.1",
                        "port": port,
                        "subscribe": [SHIFT],
                    }
                ]
            },
        )
        engine = Engine.open(
            args.db or f"sqlite:///{tmp / 'mes.sqlite3'}",
            workflows=tmp / "wf",
            factory=factory,
            load_entry_points=False,
        )
        listener = Listener(engine, batch=args.batch).start()
        while not listener.sources[0].connected.is_set():
            time.sleep(0.05)
        applied = sa.select(sa.func.count()).select_from(messages)
        delivered = sa.select(sa.func.count()).select_from(inbox).where(inbox.c.status == "done")
        pub = publisher(port)
        t0 = time.perf_counter()
        for i in range(args.messages):
            pub.publish(*payload(i, 0), qos=1)
        t_pub = time.perf_counter() - t0
        while count(engine, delivered) < args.messages:
            time.sleep(0.1)
        t_all = time.perf_counter() - t0
        records = count(engine, sa.select(sa.func.count()).select_from(CapacityDay.__table__))  # type: ignore[attr-defined]
        n_applied = count(engine, applied)
        # paced: latency from publish to the capacity record
        for i in range(args.paced):
            sent = time.time()
            pub.publish(*payload(i, 5_000_000, sent), qos=1)
            time.sleep(0.01)
        while count(engine, applied) < n_applied + args.paced:
            time.sleep(0.05)
        latencies = paced_latencies(engine, n_applied)
        listener.stop()
        pub.disconnect()
        pub.loop_stop()
        engine.close()
    finally:
        broker.terminate()
        broker.wait()
    rate = args.messages / t_all
    lat = sorted(latencies)
    print(
        f"machine: {os.cpu_count()} CPU(s), load {os.getloadavg()[0]:.1f}; database "
        f"{'sqlite (file)' if not args.db else args.db.split(':')[0]}"
    )
    print(f"baseline  bare paho subscriber, QoS 1: {base:,.0f} msg/s")
    print(
        f"burst     {args.messages:,} messages: published in {t_pub:.2f}s, all applied and "
        f"delivered in {t_all:.2f}s = {rate:,.0f} msg/s ({rate / base:.2f} of baseline)"
    )
    whole = n_applied == records == args.messages
    print(
        f"          applied {n_applied:,}, capacity records {records:,}, events delivered "
        f"{args.messages:,}: {'nothing lost or doubled' if whole else 'MISMATCH'}"
    )
    print(
        f"latency   {len(lat)} paced messages, publish -> capacity record: "
        f"p50 {statistics.median(lat) * 1000:.1f} ms, "
        f"p95 {lat[int(len(lat) * 0.95) - 1] * 1000:.1f} ms"
    )


def paced_latencies(engine: Engine, after: int) -> list[float]:
    """Publish time (in the payload) to the record's write time, for the paced messages."""
    t = CapacityDay.__table__  # type: ignore[attr-defined]
    with engine.db.connect() as conn:
        rows = conn.execute(sa.select(inbox.c.payload).where(inbox.c.id > after)).scalars().all()
        stamps = {(r.line, r.date.isoformat()): r.updated_at for r in conn.execute(sa.select(t))}
    out = []
    for body in rows:
        p = json.loads(body)
        written = stamps[(p["line"], p["date"])]
        if written.tzinfo is None:
            written = written.replace(tzinfo=UTC)
        out.append(written.timestamp() - float(p["sent"]))
    return out


if __name__ == "__main__":
    main()
