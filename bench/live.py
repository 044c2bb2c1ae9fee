"""Live stream cost: one ``Broker.poll()`` with 100 open streams, idle and with transitions.

    python bench/live.py [--rounds 200] [--streams 100]

Prints one JSON line per figure (median milliseconds of one poll, SQLite) and the
ratios to ``poll_idle`` measured in the same run: ``poll_idle`` (nothing new),
``poll_one`` (one transition since the last poll) and ``poll_ten`` (ten). The
streams belong to 11 people; ten have an active login, one a disabled one (who
may read nothing, so gets no ``instance`` event). Queues are drained between
rounds, outside the timing.
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from crmflow.admin.live import Broker
from crmflow.core.engine import Engine
from crmflow.core.people.accounts import add_user, disable_user
from crmflow.testing import FakeClock

WORKFLOW = """\
workflow: toggle
version: 1
initial: open
states: {open: {}, busy: {}, done: {final: true}}
transitions:
  - {trigger: take, from: open, to: busy}
  - {trigger: free, from: busy, to: open}
  - {trigger: close, from: "*", to: done}
"""
PEOPLE = [f"p{n:02d}" for n in range(11)]


def _engine(folder: Path) -> Engine:
    (folder / "wf").mkdir()
    (folder / "wf" / "toggle.yaml").write_text(WORKFLOW)
    factory = folder / "factory.yaml"
    users = {name: {"roles": ["crew"]} for name in PEOPLE}
    factory.write_text(yaml.safe_dump({"factory": "bench", "users": users}))
    clock = FakeClock(datetime(2026, 11, 30, 8, tzinfo=UTC))
    return Engine.open(f"sqlite:///{folder / 'live.sqlite3'}", workflows=folder / "wf",
                       factory=str(factory), clock=clock)  # fmt: skip


def _drain(streams: list[queue.Queue[Any]]) -> None:
    for q in streams:
        while True:
            try:
                q.get_nowait()
            except queue.Empty:
                break


def _time_poll(broker: Broker, streams: list[queue.Queue[Any]], before: Any, rounds: int
               ) -> float:  # fmt: skip
    times = []
    for _ in range(rounds):
        before()
        start = time.perf_counter()
        broker.poll()
        times.append(time.perf_counter() - start)
        _drain(streams)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--streams", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = _engine(Path(tmp))
        for name in PEOPLE:
            add_user(engine, name)
        disable_user(engine, PEOPLE[-1])
        ids = [engine.start("toggle", actor="p00") for _ in range(10)]
        broker = Broker(engine)
        streams = [broker.subscribe(PEOPLE[n % len(PEOPLE)]) for n in range(args.streams)]
        live = [q for q in streams if q is not None]
        state = dict.fromkeys(ids, "open")

        def fire(count: int) -> Any:
            def run() -> None:
                for iid in ids[:count]:
                    trigger = "take" if state[iid] == "open" else "free"
                    engine.fire(iid, trigger, actor="p00")
                    state[iid] = "busy" if trigger == "take" else "open"

            return run

        broker.poll()
        _drain(live)
        figures = {
            "poll_idle": _time_poll(broker, live, fire(0), args.rounds),
            "poll_one": _time_poll(broker, live, fire(1), args.rounds),
            "poll_ten": _time_poll(broker, live, fire(10), args.rounds),
        }
        broker.stop()
        engine.close()
    for name, ms in figures.items():
        print(json.dumps({"figure": name, "streams": len(live), "ms_median": round(ms, 3),
                          "ratio_to_idle": round(ms / figures["poll_idle"], 2)}))  # fmt: skip


if __name__ == "__main__":
    main()
