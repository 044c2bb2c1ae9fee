"""Demo factory load time (`crmflow demo`) against a plain-sqlite3 copy of the same rows.

    python bench/demo.py [--rounds 2] [--seed 7]

Each round loads the demo factory (examples/demo, `load_demo`) into a fresh SQLite
file, then copies every row it wrote into another fresh file with plain `sqlite3`
(the same schema and indexes, WAL, synchronous=FULL, one transaction per table):
the floor of writing that data, measured in the same process right after, so the
noise of a shared machine hits both alike. Prints one JSON line per round
(`demo_s`, `floor_s`, `rows`, `ratio` = demo / floor) and a summary line with the
medians. The tests assert what the demo holds; its speed is this figure (it was a
"< 30 s" assertion in tests/domain/test_views.py that failed under load).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from crmflow import Engine
from crmflow.core.domain.demo import DEMO_FACTORY, load_demo
from crmflow.testing import FakeClock

START = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)  # the tests' demo start


def _load(path: Path, seed: int) -> float:
    engine = Engine.open(f"sqlite:///{path}", factory=str(DEMO_FACTORY),
                         clock=FakeClock(START), load_entry_points=False)  # fmt: skip
    try:
        began = time.perf_counter()
        load_demo(engine, seed=seed)
        return time.perf_counter() - began
    finally:
        engine.close()


def _floor(source: Path, target: Path) -> tuple[float, int]:
    """Seconds to write every row of ``source`` into ``target`` with plain sqlite3."""
    src = sqlite3.connect(source)
    schema = src.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
        " AND name NOT LIKE 'sqlite_%' ORDER BY type = 'index'"
    ).fetchall()
    tables = [name for kind, name, _ in schema if kind == "table"]
    data = {t: src.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables}
    src.close()
    dst = sqlite3.connect(target, isolation_level=None)
    dst.execute("PRAGMA journal_mode=WAL")
    dst.execute("PRAGMA synchronous=FULL")
    for _, _, sql in schema:
        dst.execute(sql)
    began = time.perf_counter()
    for table, rows in data.items():
        if not rows:
            continue
        marks = ", ".join("?" * len(rows[0]))
        dst.execute("BEGIN")
        dst.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)
        dst.execute("COMMIT")
    seconds = time.perf_counter() - began
    dst.close()
    return seconds, sum(len(rows) for rows in data.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    demo_times, floor_times = [], []
    with tempfile.TemporaryDirectory(prefix="crmflow-bench-demo-") as tmp:
        for i in range(args.rounds):
            loaded = Path(tmp) / f"demo{i}.sqlite3"
            demo_s = _load(loaded, args.seed)
            floor_s, rows = _floor(loaded, Path(tmp) / f"floor{i}.sqlite3")
            demo_times.append(demo_s)
            floor_times.append(floor_s)
            print(json.dumps({"round": i + 1, "demo_s": round(demo_s, 3),
                              "floor_s": round(floor_s, 3), "rows": rows,
                              "ratio": round(demo_s / floor_s, 1)}))  # fmt: skip
    demo_med, floor_med = statistics.median(demo_times), statistics.median(floor_times)
    print(json.dumps({"figure": "demo_load_sqlite", "demo_s": round(demo_med, 3),
                      "floor_s": round(floor_med, 3), "ratio": round(demo_med / floor_med, 1),
                      "was_a_test_limit_s": 30}))  # fmt: skip


if __name__ == "__main__":
    main()
