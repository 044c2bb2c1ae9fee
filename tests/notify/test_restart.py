"""A worker killed mid-send: the mail is never sent twice, and the operator sees why."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crmflow.notifications import delivery_log, retry_failed, send_due


@pytest.mark.slow
def test_a_worker_killed_while_sending_never_sends_it_twice(
    notify_engine, smtp, ping, clock, workflows, tmp_path
):
    box, port = smtp
    box.hold = threading.Event()
    clock.set(datetime.now(UTC))  # the worker process runs on the real clock
    engine = notify_engine(inline_outbox=False, notify={"mail": {
        "host": "127.0.0.1", "port": port, "sender": "crmflow@plant.example"}})  # fmt: skip
    ping(engine, "mia")
    url = engine.db.url.render_as_string(hide_password=False)
    command = [
        sys.executable, "-c", "from crmflow.cli import main; main()", "worker", "--once",
        "--db", url, "--workflows", str(workflows), "--factory", str(tmp_path / "plant.yaml"),
    ]  # fmt: skip
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(command, env={**os.environ, "CRMFLOW_LOAD_PLUGINS": ""},
                              stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        assert box.hold.wait(120), Path(tmp_path / "worker.log").read_text()
        worker.send_signal(signal.SIGKILL)  # dies after the server has the mail, before 250
        worker.wait(30)
    finally:
        box.release.set()
        if worker.poll() is None:
            worker.kill()
        log.close()
    assert len(box.received) == 1

    # a new worker round after the lease: the outbox runs the step again, nothing is resent
    clock.advance(timedelta(minutes=6))
    engine.run_outbox()
    send_due(engine)
    assert len(box.received) == 1
    [mail] = [d for d in delivery_log(engine) if d["channel"] == "mail"]
    assert mail["status"] == "failed" and "interrupted while sending" in mail["error"]
    assert [d["to"] for d in delivery_log(engine) if d["channel"] == "inapp"] == ["mia"]

    # the operator decides it did not arrive and sends it again, once
    retry_failed(engine, mail["id"])
    send_due(engine)
    assert len(box.received) == 2
