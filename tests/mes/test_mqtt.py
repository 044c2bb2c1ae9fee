"""MQTT from the machines: mapped to events, each message applied once, bad ones quarantined."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion

from crmflow import Engine
from crmflow.core.domain.records import CapacityDay
from crmflow.core.engine.inbox import inbox
from crmflow.core.factory import FactoryConfig
from crmflow.plugins.mes.listen import Listener
from crmflow.plugins.mes.store import (
    connector_status,
    list_quarantined,
    messages,
    quarantine_table,
    retry,
)
from crmflow.testing import FakeClock

from .conftest import Broker, wait_for

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
    },
}
STATE = {
    "topic": "plant1/line/+/state",
    "event": "machine.state_changed",
    "stamp": "{{ msg.seq }}",
    "data": {"line": "{{ topic[2] }}", "state": "{{ msg.state }}", "good": "{{ msg.good }}"},
}


def mes_engine(tmp_path: Path, port: int, subs: list[dict[str, Any]]) -> Engine:
    (tmp_path / "wf").mkdir(exist_ok=True)
    factory = FactoryConfig(
        name="plant",
        connectors={
            "mes": [
                {
                    "kind": "mqtt",
                    "name": "plant1",
                    "host": "127.0.0.1",
                    "port": port,
                    "subscribe": subs,
                }
            ]
        },
    )
    return Engine.open(
        f"sqlite:///{tmp_path / 'mes.sqlite3'}",
        workflows=tmp_path / "wf",
        factory=factory,
        clock=FakeClock(),
        load_entry_points=False,
    )


class Publisher:
    """A paho publisher with its own persistent session: QoS 1 survives a broker restart."""

    def __init__(self, port: int, client_id: str = "test-publisher") -> None:
        self.client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
        )
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.max_inflight_messages_set(100)
        self.client.max_queued_messages_set(0)
        self.connected = threading.Event()
        self.client.on_connect = lambda *a: self.connected.set()
        self.acked: set[int] = set()  # PUBACKs (a message queued while away keeps rc NO_CONN)
        self.client.on_publish = lambda _c, _u, mid, _rc, _p: self.acked.add(mid)
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()
        wait_for(self.connected.is_set, 10, "the publisher to connect")
        self.infos: list[paho.MQTTMessageInfo] = []

    def send(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.infos.append(self.client.publish(topic, payload, qos=qos))

    def all_published(self) -> bool:
        return all(i.mid in self.acked for i in self.infos)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _count(engine: Engine, query: Any) -> int:
    with engine.db.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_a_shift_message_updates_the_capacity_record_and_delivers_capacity_changed(
    tmp_path: Path, broker: Broker
) -> None:
    engine = mes_engine(tmp_path, broker.port, [SHIFT])
    listener = Listener(engine).start()
    pub = None
    try:
        wait_for(listener.sources[0].connected.is_set, 10, "the listener to connect")
        pub = Publisher(broker.port)
        body = {"date": "2026-01-06", "planned_h": 16, "worked_h": 15.5, "oee": 0.82, "good": 1200}
        pub.send("plant1/line/L7/shift", json.dumps(body).encode())
        wait_for(
            lambda: _count(engine, sa.select(sa.func.count()).select_from(messages)) == 1,
            20,
            "the message to be applied",
        )
    finally:
        listener.stop()
        if pub:
            pub.close()
    with engine.db.connect() as conn:
        day = conn.execute(sa.select(CapacityDay.__table__)).one()  # type: ignore[attr-defined]
        event = conn.execute(sa.select(inbox.c.event, inbox.c.payload, inbox.c.status)).one()
    assert (day.line, day.date.isoformat(), day.planned_hours, day.worker_hours) == (
        "L7",
        "2026-01-06",
        16.0,
        15.5,
    )
    assert (day.efficiency, day.output, day.updated_by) == (0.82, 1200.0, "mqtt:plant1")
    assert event.event == "capacity.changed" and event.status == "done"
    payload = json.loads(event.payload)
    assert {k: payload[k] for k in ("line", "date", "planned_hours", "output")} == {
        "line": "L7",
        "date": "2026-01-06",
        "planned_hours": 16,
        "output": 1200,
    }
    status = connector_status(engine)
    assert status[0]["name"] == "mqtt:plant1" and status[0]["state"] == "connected"
    assert status[0]["quarantined"] == 0 and status[0]["last_success"] is not None
    engine.close()


def _good(i: int) -> tuple[str, bytes]:
    line = f"L{i % 5 + 1}"
    if i % 2 == 0:  # a shift report: one per line and day
        day = f"2026-{1 + (i // 10) // 28 % 12:02d}-{1 + (i // 10) % 28:02d}"
        year = 2026 + i // 3360
        body = {
            "date": f"{year}{day[4:]}",
            "planned_h": 8 + i % 9,
            "worked_h": 7.5,
            "oee": 0.8,
            "good": i,
        }
        return f"plant1/line/{line}/shift", json.dumps(body).encode()
    body = {"state": "running" if i % 3 else "idle", "good": i, "seq": i}
    return f"plant1/line/{line}/state", json.dumps(body).encode()


def _malformed(i: int) -> tuple[str, bytes]:
    """Fifty different bad messages, ten of each kind (a repeated one is the same message)."""
    kind, n = i % 5, i // 5
    return [
        (f"plant1/line/L{n}/shift", b"{not json " + str(n).encode()),
        (f"plant1/line/X{n}/shift", b""),  # an empty (retained-clearing) payload
        (f"plant1/line/L{n}/shift", json.dumps({"planned_h": 8, "n": n}).encode()),  # no date
        (f"plant1/line/L{n}/state", json.dumps({"good": 1, "seq": n}).encode()),  # no state
        (f"plant1/line/L{n}/shift", json.dumps({"date": "2026-02-30", "planned_h": n}).encode()),
    ][kind]


@pytest.mark.slow
def test_5000_messages_across_two_broker_restarts_are_each_applied_once(
    tmp_path: Path, broker: Broker
) -> None:
    engine = mes_engine(tmp_path, broker.port, [SHIFT, STATE])
    listener = Listener(engine).start()
    pub = None
    applied = sa.select(sa.func.count()).select_from(messages)
    quarantined = sa.select(sa.func.count()).select_from(quarantine_table)
    good = [_good(i) for i in range(4950)]
    bad = [_malformed(i) for i in range(50)]
    sequence: list[tuple[str, bytes]] = []
    for i, msg in enumerate(good):
        sequence.append(msg)
        if i % 99 == 50:
            sequence.append(bad.pop())
    sequence += bad
    assert len(sequence) == 5000
    try:
        wait_for(listener.sources[0].connected.is_set, 10, "the listener to connect")
        pub = Publisher(broker.port)
        done = threading.Event()

        def publish() -> None:
            for topic, payload in sequence:
                pub.send(topic, payload)  # queued by paho while the broker is away
            done.set()

        thread = threading.Thread(target=publish)
        thread.start()
        for at in (1500, 3000):  # the subscriber (and publisher) lose the broker twice
            wait_for(lambda at=at: _count(engine, applied) >= at, 120, f"{at} applied")
            broker.restart()
        thread.join(timeout=60)
        wait_for(done.is_set, 60, "the publisher to queue everything")
        # the same messages again (a device re-sending after its own restart): no effect
        for topic, payload in good[:100]:
            pub.send(topic, payload)
        wait_for(pub.all_published, 120, "every message to reach the broker")
        wait_for(
            lambda: _count(engine, applied) == 4950 and _count(engine, quarantined) == 50,
            120,
            "4950 applied and 50 quarantined",
            lambda: (
                _count(engine, applied),
                _count(engine, quarantined),
                pub.all_published(),
                len(pub.acked),
                listener.sources[0].connected.is_set(),
            ),
        )
        undelivered = sa.select(sa.func.count()).select_from(inbox).where(inbox.c.status != "done")
        wait_for(lambda: _count(engine, undelivered) == 0, 60, "every event to be delivered")
    finally:
        listener.stop()
        if pub:
            pub.close()
    with engine.db.connect() as conn:
        by_event = dict(
            conn.execute(sa.select(inbox.c.event, sa.func.count()).group_by(inbox.c.event)).all()
        )
        days = conn.execute(
            sa.select(sa.func.count()).select_from(CapacityDay.__table__)
        ).scalar_one()  # type: ignore[attr-defined]
        pending = conn.execute(
            sa.select(sa.func.count()).select_from(inbox).where(inbox.c.status != "done")
        ).scalar_one()
    assert by_event == {"capacity.changed": 2475, "machine.state_changed": 2475}
    assert days == 2475 and pending == 0
    assert _count(engine, applied) == 4950  # the 100 re-sent messages changed nothing
    reasons = [q["reason"] for q in list_quarantined(engine)]
    assert len(reasons) == 50
    assert sum("not JSON" in r for r in reasons) == 10
    assert sum("empty payload" in r for r in reasons) == 10
    assert sum(r.startswith("capacity.changed needs date") for r in reasons) == 10
    assert sum(r.startswith("machine.state_changed needs state") for r in reasons) == 10
    assert sum("capacity record refused" in r and "date" in r for r in reasons) == 10
    engine.close()


def test_a_quarantined_message_is_retried_after_the_mapping_is_fixed(
    tmp_path: Path, broker: Broker
) -> None:
    engine = mes_engine(tmp_path, broker.port, [SHIFT])
    listener = Listener(engine).start()
    pub = None
    try:
        wait_for(listener.sources[0].connected.is_set, 10, "the listener to connect")
        pub = Publisher(broker.port)
        pub.send("plant1/line/L1/shift", json.dumps({"day": "2026-01-07", "planned_h": 8}).encode())
        wait_for(lambda: list_quarantined(engine), 20, "the message to be quarantined")
    finally:
        listener.stop()
        if pub:
            pub.close()
    [item] = list_quarantined(engine)
    assert item["source"] == "plant1/line/L1/shift" and "date" in item["reason"]
    assert retry(engine, item["id"])[0]["status"] == "open"  # still wrong: stays quarantined
    fixed = dict(SHIFT, data={**SHIFT["data"], "date": "{{ msg.day }}"})
    engine.factory.connectors["mes"][0]["subscribe"] = [fixed]
    assert retry(engine, item["id"]) == [{"id": item["id"], "status": "applied", "reason": None}]
    assert list_quarantined(engine) == []
    with engine.db.connect() as conn:
        day = conn.execute(sa.select(CapacityDay.__table__)).one()  # type: ignore[attr-defined]
    assert (day.line, day.date.isoformat(), day.planned_hours) == ("L1", "2026-01-07", 8.0)
    engine.close()


def test_sparkplug_b_births_and_data_with_aliases_decode(tmp_path: Path, broker: Broker) -> None:
    from crmflow.plugins.mes.sparkplug import encode_payload

    sub = {
        "topic": "spBv1.0/plant1/+/+",
        "format": "sparkplug_b",
        "event": "machine.state_changed",
        "stamp": "{{ msg.seq }}",
        "data": {
            "line": "{{ topic[3] }}",
            "state": "{{ msg['Line/State'] }}",
            "good": "{{ msg['Line/Good'] }}",
            "type": "{{ msg.message_type }}",
        },
    }
    engine = mes_engine(tmp_path, broker.port, [sub])
    listener = Listener(engine).start()
    pub = None
    birth = encode_payload(
        [
            {"name": "Line/State", "alias": 1, "value": "running"},
            {"name": "Line/Good", "alias": 2, "value": 10},
        ],
        seq=0,
        timestamp=1,
    )
    data = encode_payload(
        [{"alias": 2, "value": 11}, {"alias": 1, "value": "down"}], seq=1, timestamp=2
    )
    orphan = encode_payload([{"alias": 7, "value": 1}], seq=5, timestamp=3)
    try:
        wait_for(listener.sources[0].connected.is_set, 10, "the listener to connect")
        pub = Publisher(broker.port)
        pub.send("spBv1.0/plant1/NBIRTH/L3", birth)
        pub.send("spBv1.0/plant1/NDATA/L3", data)
        pub.send("spBv1.0/plant1/NDATA/L4", orphan)  # no birth seen for L4
        wait_for(
            lambda: (
                _count(engine, sa.select(sa.func.count()).select_from(messages)) == 2
                and list_quarantined(engine)
            ),
            20,
            "two applied and one quarantined",
        )
    finally:
        listener.stop()
        if pub:
            pub.close()
    with engine.db.connect() as conn:
        payloads = [
            json.loads(p)
            for p in conn.execute(sa.select(inbox.c.payload).order_by(inbox.c.id)).scalars()
        ]
    assert [(p["line"], p["state"], p["good"], p["type"]) for p in payloads] == [
        ("L3", "running", 10, "NBIRTH"),
        ("L3", "down", 11, "NDATA"),
    ]
    [bad] = list_quarantined(engine)
    assert bad["source"] == "spBv1.0/plant1/NDATA/L4"
    assert "metric alias 7 of plant1/L4 is unknown" in bad["reason"]
    engine.close()


def test_the_worker_includes_the_listener(tmp_path: Path, broker: Broker) -> None:
    from crmflow.core.engine.worker import Worker
    from crmflow.plugins.mes import stop_listener

    engine = mes_engine(tmp_path, broker.port, [SHIFT])
    pub = None
    try:
        Worker(engine).run_once()  # its first round starts the MES listener
        Worker(engine).run_once()  # and only once
        pub = Publisher(broker.port)
        wait_for(
            lambda: (
                connector_status(engine) and connector_status(engine)[0]["state"] == "connected"
            ),
            20,
            "the listener to subscribe",
        )
        body = {"date": "2026-01-08", "planned_h": 12}
        pub.send("plant1/line/L2/shift", json.dumps(body).encode())
        wait_for(
            lambda: _count(engine, sa.select(sa.func.count()).select_from(messages)) == 1,
            20,
            "the message to be applied",
        )
    finally:
        assert stop_listener(engine) is True
        assert stop_listener(engine) is False
        if pub:
            pub.close()
    engine.close()
