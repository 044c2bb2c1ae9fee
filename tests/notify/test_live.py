"""The live stream follows each person's inbox: a `notify` step reaches that person's streams
(every tab), nobody else's, with the unread count; marking read counts their other tabs down."""

from __future__ import annotations

import queue
from typing import Any

import pytest

from crmflow.admin.live import Broker, Event
from crmflow.errors import NotFoundError
from crmflow.notifications import mark_all_read, mark_read, notify


def _drain(stream: queue.Queue[Event]) -> list[dict[str, Any]]:
    """The notification events waiting in a stream (transitions go to everyone; left out)."""
    found = []
    while True:
        try:
            event = stream.get_nowait()
        except queue.Empty:
            return found
        if event.kind == "notification":
            found.append(event.data)


@pytest.fixture
def broker(notify_engine: Any) -> Any:
    engine = notify_engine()
    live = Broker(engine)
    yield engine, live
    live.stop()


def test_a_notify_step_reaches_that_persons_streams_and_no_one_elses(broker, ping, clock):
    engine, live = broker
    tab1, tab2 = live.subscribe("mia"), live.subscribe("mia")
    other, anonymous = live.subscribe("max"), live.subscribe()
    iid = ping(engine, "mia")  # the workflow's notify action writes it, after the step's commit
    live.poll()
    for tab in (tab1, tab2):
        [event] = _drain(tab)
        assert event["text"] == "Ticket T-1 needs you" and event["unread"] == 1
        assert event["link"] == f"/instances/{iid}" and event["instance_id"] == iid
        assert event["created_at"] == clock.now.isoformat() and event["urgent"] is False
    assert _drain(other) == [] and _drain(anonymous) == []
    assert live.poll() == 0  # published once

    notify(engine, "manager", "Stock low for B1", key="b1")  # mia and max are managers
    live.poll()
    [mine] = _drain(tab1)
    [theirs] = _drain(other)
    assert (mine["text"], mine["unread"]) == ("Stock low for B1", 2)
    assert (theirs["text"], theirs["unread"]) == ("Stock low for B1", 1)
    assert mine["id"] != theirs["id"]  # each their own inbox entry
    with pytest.raises(NotFoundError):
        mark_read(engine, "mia", theirs["id"])  # the id max was sent is max's alone


def test_marking_read_counts_the_persons_other_tabs_down(broker, ping):
    engine, live = broker
    ping(engine, "mia")
    ping(engine, ["mia", "max"], number="T-2")
    live.poll()  # nobody listened then
    tab1, tab2, other = live.subscribe("mia"), live.subscribe("mia"), live.subscribe("max")
    live.poll()
    assert _drain(tab1) == [] and _drain(other) == []  # nothing new since the streams opened
    first = max(n["id"] for n in engine_inbox(engine, "mia"))
    mark_read(engine, "mia", first)  # in tab 1, the API, or another process
    live.poll()
    assert _drain(tab1) == [{"unread": 1}] and _drain(tab2) == [{"unread": 1}]
    assert _drain(other) == []
    mark_all_read(engine, "mia")
    live.poll()
    assert _drain(tab2) == [{"unread": 0}] and _drain(other) == []
    live.poll()
    assert _drain(tab2) == []  # an unchanged count is not sent again


def test_a_closed_stream_hears_nothing_more(broker, ping):
    engine, live = broker
    tab, other = live.subscribe("mia"), live.subscribe("max")
    live.unsubscribe(tab)
    ping(engine, ["mia", "max"])
    live.poll()
    assert _drain(tab) == [] and [n["unread"] for n in _drain(other)] == [1]


def _next_notification(stream: queue.Queue[Event]) -> dict[str, Any]:
    while True:
        event = stream.get(timeout=20)  # LISTEN wakes the listener; nothing polls
        if event.kind == "notification":
            return event.data


@pytest.mark.postgres
def test_on_postgres_another_process_notifying_or_marking_read_reaches_the_stream(
    notify_engine, pg_url, ping
):
    serving = notify_engine(database_url=pg_url)  # the app process with the open page
    worker = notify_engine(database_url=pg_url)  # a worker running the workflow's notify step
    live = Broker(serving)
    try:
        tab, other = live.subscribe("mia"), live.subscribe("max")
        ping(worker, "mia")
        event = _next_notification(tab)
        assert (event["text"], event["unread"]) == ("Ticket T-1 needs you", 1)
        mark_read(worker, "mia", event["id"])  # read in a tab served by another process
        assert _next_notification(tab) == {"unread": 0}
        assert _drain(other) == []
    finally:
        live.stop()


def engine_inbox(engine: Any, person: str) -> list[dict[str, Any]]:
    from crmflow.notifications import inbox

    return inbox(engine, person)
