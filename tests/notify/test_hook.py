"""`on_notification`: listeners (the web app's live stream) hear of each new notification."""

from __future__ import annotations

from typing import Any

from crmflow import hookimpl
from crmflow.notifications import notify


class Listener:
    """A plugin that keeps what it hears, as the live stream would publish it."""

    def __init__(self) -> None:
        self.heard: list[dict[str, Any]] = []

    @hookimpl
    def on_notification(self, engine: Any, notification: dict[str, Any]) -> None:
        self.heard.append(notification)


def test_each_person_reached_is_announced_once_after_the_commit(notify_engine, ping):
    listener = Listener()
    engine = notify_engine(plugins=(listener,))
    iid = ping(engine, ["manager", "supervisor"])
    assert [(n["person"], n["text"], n["instance_id"]) for n in listener.heard] == [
        ("mia", "Ticket T-1 needs you", iid), ("max", "Ticket T-1 needs you", iid),
        ("sam", "Ticket T-1 needs you", iid),
    ]  # fmt: skip
    notify(engine, "mia", "again", key="k1")
    notify(engine, "mia", "again", key="k1")  # the same key: nothing new to announce
    assert [n["text"] for n in listener.heard[3:]] == ["again"]


def test_a_failing_listener_does_not_lose_the_notification(notify_engine, ping):
    class Broken:
        @hookimpl
        def on_notification(self, engine: Any, notification: dict[str, Any]) -> None:
            raise RuntimeError("stream down")

    engine = notify_engine(plugins=(Broken(),))
    ping(engine, "mia")
    from crmflow.notifications import unread_count

    assert unread_count(engine, "mia") == 1
