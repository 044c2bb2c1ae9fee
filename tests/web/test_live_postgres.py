"""Live updates across processes: a transition made through another engine reaches the stream
through PostgreSQL LISTEN/NOTIFY (the history trigger of migration 0120)."""

from __future__ import annotations

import queue
from pathlib import Path

import pytest

from crmflow.admin.live import Broker

EXAMPLES = Path(__file__).resolve().parents[1] / "engine" / "workflows"


@pytest.mark.postgres
def test_a_transition_from_another_engine_reaches_the_listener(pg_url, tmp_path):
    from crmflow.core.engine import Engine
    from crmflow.core.people.accounts import add_user

    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "order.yaml").write_text((EXAMPLES / "order.yaml").read_text())
    serving = Engine.open(pg_url, workflows=folder)
    other = Engine.open(pg_url, workflows=folder)  # another app process or a worker
    broker = Broker(serving)
    try:
        add_user(serving, "pat")  # a login may read it; a stream of nobody gets no transition
        stream = broker.subscribe("pat")
        assert stream is not None
        iid = other.start("order", data={"order": {"number": "SO-1", "quantity": 2}})
        other.fire(iid, "confirm")
        kind, message = stream.get(timeout=20)  # LISTEN wakes the listener; nothing polls
        assert kind == "instance"
        assert message["id"] == iid and message["from"] == "draft"
        assert message["to"] == "confirmed" and message["workflow"] == "order"
        with pytest.raises(queue.Empty):
            stream.get(timeout=0.2)  # the start is not a transition; nothing else came
    finally:
        broker.stop()
        other.close()
        serving.close()
