"""On PostgreSQL: the whole path, and two workers sending the same due deliveries at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from crmflow.notifications import delivery_log, notify, send_due, unread_count

pytestmark = pytest.mark.postgres


def test_a_role_is_notified_and_mailed_once_per_person_on_postgres(
    notify_engine, pg_url, smtp, ping
):
    box, port = smtp
    engine = notify_engine(database_url=pg_url, notify={"mail": {
        "host": "127.0.0.1", "port": port, "sender": "c@plant.example"}})  # fmt: skip
    ping(engine, ["manager", "management"])
    assert sorted(r[0] for r, _ in box.received) == ["max@example.com", "mia@example.com"]
    assert unread_count(engine, "mia") == 1 and unread_count(engine, "max") == 1


def test_two_workers_sending_at_once_send_each_delivery_once(notify_engine, pg_url, smtp, clock):
    box, port = smtp
    users = {f"p{i}": {"roles": ["crew"], "email": f"p{i}@example.com",
                       "quiet_hours": "22:00-07:00"} for i in range(40)}  # fmt: skip
    config = {"mail": {"host": "127.0.0.1", "port": port, "sender": "c@plant.example"}}
    first = notify_engine(database_url=pg_url, notify=config, users=users)
    second = notify_engine(database_url=pg_url, notify=config, users=users)
    first.worker_id, second.worker_id = "worker-1", "worker-2"
    clock.set(datetime(2026, 1, 5, 23, 0, tzinfo=UTC))  # quiet: all 40 mails wait
    notify(first, "crew", "Shift plan changed")
    assert box.received == []
    clock.set(datetime(2026, 1, 6, 6, 0, tzinfo=UTC))  # 07:00 in Berlin

    results: list[dict[str, int]] = []
    barrier = threading.Barrier(2)

    def run(engine) -> None:
        barrier.wait()
        results.append(send_due(engine, limit=5))

    threads = [threading.Thread(target=run, args=(e,)) for e in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sum(r["sent"] for r in results) == 40
    assert sorted(r[0] for r, _ in box.received) == sorted(f"p{i}@example.com" for i in range(40))
    assert {d["status"] for d in delivery_log(first)} == {"sent"}
