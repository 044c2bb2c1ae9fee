"""The live stream gives each person only the transitions they may read: the rule of the pages
and of `GET /api/instances/{id}` (an active login reads every instance; a disabled one, none)."""

from __future__ import annotations

import queue
from typing import Any

from crmflow.admin.live import Broker, Event
from crmflow.core.people.accounts import add_user, disable_user

from .pages import token_for


def _instances(stream: queue.Queue[Event] | None) -> list[dict[str, Any]]:
    """The `instance` events waiting in a stream (notifications left out)."""
    assert stream is not None
    found = []
    while True:
        try:
            event = stream.get_nowait()
        except queue.Empty:
            return found
        if event.kind == "instance":
            found.append(event.data)


def _ship_one(engine: Any) -> int:
    """Ship one of the demo's rush orders in production (it has six): one transition."""
    inst = next(i for i in engine.list(workflow="rush_order")
                if i.state == "in_production")  # fmt: skip
    assert engine.fire(inst.id, "ship", actor="paul").taken
    return int(inst.id)


def test_a_person_who_may_not_read_an_instance_gets_no_event_for_it(web, demo_engine):
    paul, rita = token_for(demo_engine, "paul"), token_for(demo_engine, "rita")
    live = Broker(demo_engine)
    try:
        pauls, ritas = live.subscribe("paul"), live.subscribe("rita")
        nobody, unknown = live.subscribe(), live.subscribe("ghost")  # no login behind them
        disable_user(demo_engine, "rita")  # her tab stays open; the stream must stop telling her
        iid = _ship_one(demo_engine)
        assert live.poll() >= 1

        [event] = _instances(pauls)
        assert (event["id"], event["workflow"]) == (iid, "rush_order")
        assert (event["from"], event["to"]) == ("in_production", "shipped")
        assert _instances(ritas) == [] and _instances(nobody) == [] and _instances(unknown) == []
        # the same answer the JSON API gives each of them for that instance
        assert web.get(f"/api/instances/{iid}", headers=paul).status_code == 200
        assert web.get(f"/api/instances/{iid}", headers=rita).status_code == 401

        add_user(demo_engine, "rita")  # enabled again: asked anew at the next poll
        second = _ship_one(demo_engine)
        live.poll()
        assert [e["id"] for e in _instances(ritas)] == [second]
        assert [e["id"] for e in _instances(pauls)] == [second]
        assert web.get(f"/api/instances/{second}", headers=rita).status_code == 200
    finally:
        live.stop()


def test_who_may_read_is_asked_once_per_poll_not_per_transition(demo_engine, monkeypatch):
    import crmflow.admin.live as live_module

    token_for(demo_engine, "paul")
    asked: list[frozenset[str]] = []
    real = live_module.readers

    def counting(engine: Any, usernames: Any) -> frozenset[str]:
        names = frozenset(usernames)
        asked.append(names)
        return real(engine, names)

    monkeypatch.setattr(live_module, "readers", counting)
    live = Broker(demo_engine)
    try:
        streams = [live.subscribe("paul") for _ in range(3)]
        live.poll()
        assert asked == []  # nothing new: no question
        ids = [_ship_one(demo_engine) for _ in range(2)]
        assert live.poll() == 2
        assert asked == [frozenset({"paul"})]
        for stream in streams:
            assert [e["id"] for e in _instances(stream)] == ids
    finally:
        live.stop()
