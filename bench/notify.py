"""Notification cost: a fired step that notifies, against the same step without it.

    python bench/notify.py [--events 300]

Prints one JSON line per figure and the ratios to the baseline measured in the
same run: ``fire_plain`` (an internal transition, no action), ``fire_notify_inapp``
(the same with `notify` to a role of two people: message, deliveries, outbox),
``fire_notify_mail`` (plus one mail each to an SMTP server on loopback, when
aiosmtpd is installed) and ``release_held`` (deliveries held by quiet hours,
sent when they end: one summary mail per person; deliveries per second).
"""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from crmflow.core.engine import Engine
from crmflow.notifications import send_due
from crmflow.testing import FakeClock

WORKFLOW = """\
workflow: bench
version: 1
initial: open
states: {open: {}, done: {final: true}}
transitions:
  - {trigger: plain, from: open}
  - trigger: ping
    from: open
    do:
      - action: notify
        with: {to: crew, text: "Ticket {{ n }} needs you"}
  - {trigger: close, from: open, to: done}
"""


def _factory(folder: Path, mail_port: int | None, quiet: bool) -> Path:
    users = {name: {"roles": ["crew"], "email": f"{name}@example.com"}
             for name in ("ann", "bob")}  # fmt: skip
    if quiet:
        for user in users.values():
            user["quiet_hours"] = "22:00-07:00"
    doc: dict[str, Any] = {"factory": "bench", "timezone": "Europe/Berlin", "users": users}
    if mail_port:
        doc["notify"] = {"mail": {"host": "127.0.0.1", "port": mail_port, "sender": "b@x.example"}}
    path = folder / f"bench-{mail_port}-{quiet}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _engine(folder: Path, name: str, mail_port: int | None = None, quiet: bool = False,
            clock: FakeClock | None = None) -> Engine:  # fmt: skip
    return Engine.open(f"sqlite:///{folder / name}.sqlite3", folder / "workflows",
                       str(_factory(folder, mail_port, quiet)), clock=clock,
                       load_entry_points=False)  # fmt: skip


def _rate(engine: Engine, trigger: str, events: int) -> float:
    ids = [engine.start("bench", data={"n": i}) for i in range(events)]
    began = time.perf_counter()
    for iid in ids:
        engine.fire(iid, trigger, actor="system")
    return events / (time.perf_counter() - began)


def _smtp() -> tuple[Any, int] | None:
    try:
        from aiosmtpd.controller import Controller
        from aiosmtpd.handlers import Sink
    except ImportError:
        return None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="crmflow-bench-notify-"))
    (folder / "workflows").mkdir()
    (folder / "workflows" / "bench.yaml").write_text(WORKFLOW)
    figures: dict[str, float] = {}
    figures["fire_plain"] = _rate(_engine(folder, "plain"), "plain", args.events)
    figures["fire_notify_inapp"] = _rate(_engine(folder, "inapp"), "ping", args.events)
    server = _smtp()
    if server is not None:
        controller, port = server
        try:
            figures["fire_notify_mail"] = _rate(_engine(folder, "mail", port), "ping",
                                                args.events)  # fmt: skip
            clock = FakeClock(datetime(2026, 1, 5, 23, 0, tzinfo=UTC))
            held = _engine(folder, "held", port, quiet=True, clock=clock)
            _rate(held, "ping", args.events)
            clock.set(datetime(2026, 1, 6, 6, 0, tzinfo=UTC))
            began = time.perf_counter()
            sent = send_due(held)["sent"]
            figures["release_held"] = sent / (time.perf_counter() - began)
        finally:
            controller.stop()
    base = figures["fire_plain"]
    for name, value in figures.items():
        unit = "deliveries/s" if name == "release_held" else "events/s"
        line = {"figure": name, unit: round(value, 1)}
        if unit == "events/s":
            line["ratio_to_plain"] = round(value / base, 3)
        print(json.dumps(line))


if __name__ == "__main__":
    main()
