"""Engine benchmarks: raw SQLite floor, fire, fire_many, scheduler tick, PostgreSQL workers."""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crmflow import Engine
from crmflow.core.engine.sqlstatements import db_time, statements_for

__all__ = ["main"]

WORKFLOW = """\
workflow: order
version: 1
entity: order
initial: received
states:
  received: {}
  checked: {}
  approved: {}
  produced: {}
  shipped: {}
  delivered: {final: true}
transitions:
  - {trigger: check, from: received, to: checked, when: "order.qty > 0"}
  - {trigger: approve, from: checked, to: approved}
  - {trigger: produce, from: approved, to: produced}
  - {trigger: ship, from: produced, to: shipped}
  - {trigger: deliver, from: shipped, to: delivered}
"""
TIMED = """\
workflow: timed
version: 1
initial: waiting
states:
  waiting: {deadline: 1h, on_timeout: expire}
  expired: {final: true}
transitions:
  - {trigger: expire, from: waiting, to: expired}
"""
QUEUE = """\
workflow: queue
version: 1
initial: open
states:
  open: {}
  closed: {final: true}
transitions:
  - {trigger: ping, from: open}
  - {trigger: close, from: open, to: closed}
"""
APPROVAL = """\
workflow: board
version: 1
initial: voting
states:
  voting:
    approval: {approvers: [manager], required: 3, on_approved: approved}
  approved: {final: true}
transitions: []
"""
ROUTED = """\
workflow: routed
version: 1
entity: order
initial: received
states:
  received: {}
  checking: {}
  big: {}
  small: {final: true}
transitions:
  - {trigger: check, from: received, to: checking}
  - {from: checking, to: big, when: "order.qty > 100"}
  - {from: checking, to: small}
"""
PARALLEL = """\
workflow: checks
version: 1
initial: checks
states:
  checks:
    parallel:
      capacity: {initial: pending, states: {pending: {owner: planner}, ok: {final: true}}}
      material: {initial: pending, states: {pending: {owner: buyer}, ok: {final: true}}}
      credit: {initial: pending, states: {pending: {owner: finance}, ok: {final: true}}}
    on_done: ready
  ready: {final: true}
transitions:
  - {trigger: capacity_ok, from: checks.capacity.pending, to: checks.capacity.ok}
  - {trigger: material_ok, from: checks.material.pending, to: checks.material.ok}
  - {trigger: credit_ok, from: checks.credit.pending, to: checks.credit.ok}
"""
REGION_TRIGGERS = ("capacity_ok", "material_ok", "credit_ok")
FACTORY = "factory: bench\nusers:\n  m1: {roles: [manager]}\n  m2: {roles: [manager]}\n" \
    "  m3: {roles: [manager]}\n"
TRIGGERS = ("check", "approve", "produce", "ship", "deliver")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def emit(figure: str, **values: Any) -> None:
    print(json.dumps({"figure": figure, **values}), flush=True)


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


class Floor:
    """Plain sqlite3, WAL, synchronous=FULL: one UPDATE and one INSERT per transaction."""

    def __init__(self, path: Path, instances: int) -> None:
        self.con = sqlite3.connect(path, isolation_level=None)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=FULL")
        self.con.execute("CREATE TABLE inst (id INTEGER PRIMARY KEY, state TEXT, rev INTEGER)")
        self.con.execute(
            "CREATE TABLE hist (id INTEGER PRIMARY KEY, iid INTEGER, trig TEXT, at TEXT)"
        )
        self.con.executemany(
            "INSERT INTO inst VALUES (?, 'received', 1)", [(i,) for i in range(instances)]
        )
        self.instances = instances

    def run(self, step: int, rows: range) -> None:
        con = self.con
        at = datetime.now(UTC).isoformat()
        for i in rows:
            con.execute("BEGIN")
            con.execute("UPDATE inst SET state = ?, rev = rev + 1 WHERE id = ?", (str(step), i))
            con.execute("INSERT INTO hist (iid, trig, at) VALUES (?, ?, ?)", (i, "t", at))
            con.execute("COMMIT")

    def close(self) -> None:
        self.con.close()


class EngineSql:
    """The engine's own statements for one plain event, replayed by plain sqlite3.

    Same schema (a migrated engine database), same pragmas, same SQL text as the
    fire path (``statements_for("sqlite")``): BEGIN IMMEDIATE, the instance row
    with the largest history id, one history row, the instance update, COMMIT.
    What the engine costs beyond this is Python; what this costs beyond the floor
    is the schema (its indexes and columns).
    """

    def __init__(self, engine: Engine, ids: list[int]) -> None:
        raw = engine.db.raw_connection()  # the pool's listeners set the engine's pragmas
        self.con: Any = raw.driver_connection
        raw.detach()
        self.con.isolation_level = None
        st = statements_for("sqlite")
        self.select, self.insert, self.update = (
            st.select_instances(1), st.insert_history_ids, st.update,
        )  # fmt: skip
        self.ids = ids

    def run(self, step: int, rows: range) -> None:
        con, trigger = self.con, f"t{step}"
        at = db_time(datetime.now(UTC), True)
        for number in rows:
            iid = self.ids[number]
            con.execute("BEGIN IMMEDIATE")
            row = con.execute(self.select, (iid,)).fetchone()
            con.execute(
                self.insert, (row[-1] + 1, iid, trigger, row[3], trigger, None, at, "{}", None)
            )
            con.execute(self.update, (trigger, row[4], row[5] + 1, at, at, None, iid, row[5]))
            con.execute("COMMIT")

    def close(self) -> None:
        self.con.close()


def open_engine(url: str, workflows: Path, **kwargs: Any) -> Engine:
    return Engine.open(url, workflows=workflows, load_entry_points=False, **kwargs)


def bench_fire(tmp: Path, workflows: Path, instances: int, rounds: int, chunk: int) -> None:
    """Floor, the engine's SQL replayed raw, and `fire`, interleaved every ``chunk`` events.

    Interleaving lets disk noise hit all three alike.
    """
    floor = Floor(tmp / "floor.sqlite3", instances)
    engine = open_engine(f"sqlite:///{tmp / 'fire.sqlite3'}", workflows)
    replay_engine = open_engine(f"sqlite:///{tmp / 'replay.sqlite3'}", workflows)
    replay = EngineSql(
        replay_engine, [replay_engine.start("order", {}) for _ in range(instances)]
    )
    try:
        floor_s = fire_s = replay_s = 0.0
        events = 0
        for _ in range(rounds):
            ids = [engine.start("order", {"order": {"qty": 3}}) for _ in range(instances)]
            for step, trigger in enumerate(TRIGGERS):
                # Round robin: each step fires on every instance, so every event reloads
                # its instance; the floor does the same rows in the same slices.
                for first in range(0, instances, chunk):
                    rows = range(first, min(first + chunk, instances))
                    started = time.perf_counter()
                    floor.run(step, rows)
                    floor_s += time.perf_counter() - started
                    started = time.perf_counter()
                    replay.run(events + step, rows)
                    replay_s += time.perf_counter() - started
                    started = time.perf_counter()
                    for iid in ids[first : first + chunk]:
                        if not engine.fire(iid, trigger).taken:
                            raise AssertionError(f"{trigger} refused on {iid}")
                    fire_s += time.perf_counter() - started
                events += instances
        floor_rate, fire_rate = events / floor_s, events / fire_s
        replay_rate = events / replay_s
        emit("sqlite_floor", events_per_s=round(floor_rate), events=events, chunk=chunk)
        emit(
            "engine_sql_raw", events_per_s=round(replay_rate), events=events,
            ratio_to_floor=round(replay_rate / floor_rate, 3),
            note="the fire path's own statements and schema, replayed by plain sqlite3",
        )  # fmt: skip
        emit(
            "fire_sqlite", events_per_s=round(fire_rate), events=events,
            ratio_to_floor=round(fire_rate / floor_rate, 3), target_ratio=0.6,
            ratio_to_engine_sql=round(fire_rate / replay_rate, 3),
        )  # fmt: skip
    finally:
        floor.close()
        replay.close()
        replay_engine.close()
        engine.close()


def bench_language(tmp: Path, workflows: Path, instances: int, chunk: int) -> None:
    """Per fire: a vote of a 3-vote approval, a region move of a 3-region parallel state
    (the third joins) and an automatic routing, each against a plain move."""
    factory = tmp / "factory.yaml"
    factory.write_text(FACTORY)
    engine = open_engine(f"sqlite:///{tmp / 'language.sqlite3'}", workflows, factory=factory)
    try:
        plain_s = vote_s = routed_s = region_s = 0.0
        plain = [engine.start("order", {"order": {"qty": 3}}) for _ in range(instances)]
        boards = [engine.start("board") for _ in range(instances)]
        routed = [engine.start("routed", {"order": {"qty": 3}}) for _ in range(instances)]
        checks = [engine.start("checks") for _ in range(instances)]
        for step, voter in enumerate(("m1", "m2", "m3")):
            for first in range(0, instances, chunk):
                started = time.perf_counter()
                for iid in plain[first : first + chunk]:
                    engine.fire(iid, TRIGGERS[step])
                plain_s += time.perf_counter() - started
                started = time.perf_counter()
                for iid in boards[first : first + chunk]:
                    if not engine.fire(iid, "approve", actor=voter).taken:
                        raise AssertionError(f"vote of {voter} refused on {iid}")
                vote_s += time.perf_counter() - started
                started = time.perf_counter()
                for iid in checks[first : first + chunk]:
                    if not engine.fire(iid, REGION_TRIGGERS[step]).taken:
                        raise AssertionError(f"region move {REGION_TRIGGERS[step]} refused")
                region_s += time.perf_counter() - started
                if step == 0:
                    started = time.perf_counter()
                    for iid in routed[first : first + chunk]:
                        engine.fire(iid, "check")
                    routed_s += time.perf_counter() - started
        plain_per = plain_s / (3 * instances)
        emit(
            "approval_vote_sqlite", per_fire_ms=round(vote_s / (3 * instances) * 1000, 3),
            plain_per_fire_ms=round(plain_per * 1000, 3),
            ratio_to_plain=round(vote_s / (3 * instances) / plain_per, 3), target_ratio=1.5,
        )  # fmt: skip
        emit(
            "parallel_region_sqlite", per_fire_ms=round(region_s / (3 * instances) * 1000, 3),
            plain_per_fire_ms=round(plain_per * 1000, 3),
            ratio_to_plain=round(region_s / (3 * instances) / plain_per, 3), target_ratio=1.5,
        )  # fmt: skip
        emit(
            "automatic_routing_sqlite", per_fire_ms=round(routed_s / instances * 1000, 3),
            ratio_to_plain=round(routed_s / instances / plain_per, 3),
        )  # fmt: skip
    finally:
        engine.close()


def bench_fire_many(tmp: Path, workflows: Path, instances: int, rounds: int) -> None:
    engine = open_engine(f"sqlite:///{tmp / 'many.sqlite3'}", workflows)
    try:
        total = 0.0
        events = 0
        for _ in range(rounds):
            ids = [engine.start("order", {"order": {"qty": 3}}) for _ in range(instances)]
            for trigger in TRIGGERS:
                batches = [
                    [(iid, trigger, None, None) for iid in ids[i : i + 100]]
                    for i in range(0, len(ids), 100)
                ]
                started = time.perf_counter()
                for batch in batches:
                    results = engine.fire_many(batch)
                    if not all(r.taken for r in results):
                        raise AssertionError(f"{trigger} refused in a batch")
                total += time.perf_counter() - started
                events += instances
        emit(
            "fire_many_sqlite", events_per_s=round(events / total), events=events,
            batch=100, target_events_per_s=50_000,
        )  # fmt: skip
    finally:
        engine.close()


def _seed_timers(engine: Engine, pending: int, due: int, now: datetime) -> None:
    """Instances in `waiting` with one deadline each, seeded in one transaction."""
    sqlite = engine.db.dialect.name == "sqlite"
    created = db_time(now - timedelta(hours=2), sqlite)
    engine.catalog.remember(engine.db, engine.catalog.newest("timed").definition)
    with engine.db.begin() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cur = raw.cursor()
        cur.executemany(
            "INSERT INTO instances (id, workflow, version, state, data, rev, finished, "
            "created_at, updated_at, entered_at) VALUES (?, 'timed', 1, 'waiting', '{}', 1, 0, "
            "?, ?, ?)",
            [(i, created, created, created) for i in range(1, pending + 1)],
        )
        cur.executemany(
            "INSERT INTO timers (instance_id, name, kind, \"trigger\", state, due) "
            "VALUES (?, 'deadline', 'deadline', 'expire', 'waiting', ?)",
            [
                (i, db_time(now - timedelta(minutes=1) if i <= due else now + timedelta(
                    hours=1 + i % 500), sqlite))
                for i in range(1, pending + 1)
            ],
        )  # fmt: skip
        cur.close()


def bench_tick(tmp: Path, workflows: Path, pending: int, due: int) -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    engine = open_engine(f"sqlite:///{tmp / 'tick.sqlite3'}", workflows, clock=lambda: now)
    try:
        _seed_timers(engine, pending, due, now)
        # The seeding's 20k+ Python rows are garbage now: collected here, a full collection
        # they trigger is not charged to the tick (where it fell shifted with earlier runs).
        gc.collect()
        started = time.perf_counter()
        fired = engine.tick(now)
        elapsed = time.perf_counter() - started
        if fired != due:
            raise AssertionError(f"tick fired {fired}, expected {due}")
        emit(
            "scheduler_tick_sqlite", seconds=round(elapsed, 3), pending=pending, due=due,
            fired=fired, target_seconds=0.5,
        )  # fmt: skip
    finally:
        engine.close()


def _pg_database() -> tuple[str, Callable[[], None]] | None:
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001 - report and skip the PostgreSQL figures
        emit("postgres_workers", skipped=f"PostgreSQL unreachable: {exc}")
        return None
    name = f"crmflow_bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", drop


def bench_pg_workers(workflows: Path, events: int, counts: tuple[int, ...]) -> None:
    created = _pg_database()
    if created is None:
        return
    url, drop = created
    try:
        engine = open_engine(url, workflows, inline_outbox=False)
        try:
            for workers in counts:
                _pg_round(engine, url, workflows, events, workers)
        finally:
            engine.close()
    finally:
        drop()


def _pg_round(engine: Engine, url: str, workflows: Path, events: int, workers: int) -> None:
    import sqlalchemy as sa

    from crmflow.core.engine.inbox import enqueue_many, inbox

    instances = 1000
    ids = []
    for _ in range(instances):
        ids.append(engine.start("queue"))
    tag = uuid.uuid4().hex[:6]
    items = [
        {"instance_id": ids[n % instances], "trigger": "ping", "data": {"n": n},
         "key": f"b{tag}:{n}"}
        for n in range(events)
    ]  # fmt: skip
    enqueue_many(engine, items)
    command = [
        sys.executable, "-c", "from crmflow.cli import main; main()", "worker", "--once",
        "--db", url, "--workflows", str(workflows), "--batch", "200", "--idle", "0.05",
    ]  # fmt: skip
    env = {**os.environ, "CRMFLOW_LOAD_PLUGINS": ""}
    started = time.perf_counter()
    procs = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(workers)
    ]
    for proc in procs:
        proc.wait(timeout=600)
    elapsed = time.perf_counter() - started
    h = sa.table("history", sa.column("instance_id"), sa.column("key"))
    with engine.db.connect() as conn:
        applied = conn.execute(
            sa.select(sa.func.count()).where(h.c.key.like(f"b{tag}:%"))
        ).scalar_one()
        distinct = conn.execute(
            sa.select(sa.func.count(sa.distinct(h.c.key))).where(h.c.key.like(f"b{tag}:%"))
        ).scalar_one()
        left = conn.execute(
            sa.select(sa.func.count()).where(inbox.c.status == "pending")
        ).scalar_one()
    emit(
        "postgres_workers", workers=workers, events=events,
        events_per_s=round(events / elapsed), seconds=round(elapsed, 2),
        applied=applied, lost=events - distinct, doubled=applied - distinct, pending=left,
        ok=applied == events == distinct and left == 0,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=1, help="repeat fire/fire_many rounds")
    parser.add_argument("--chunk", type=int, default=100, help="events between floor/fire switches")
    parser.add_argument("--timers", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--pg-events", type=int, default=20_000)
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args(argv)
    emit("machine", **machine())
    with tempfile.TemporaryDirectory(prefix="crmflow-bench-") as folder:
        tmp = Path(folder)
        workflows = tmp / "workflows"
        workflows.mkdir()
        (workflows / "order.yaml").write_text(WORKFLOW)
        (workflows / "timed.yaml").write_text(TIMED)
        (workflows / "queue.yaml").write_text(QUEUE)
        (workflows / "board.yaml").write_text(APPROVAL)
        (workflows / "routed.yaml").write_text(ROUTED)
        (workflows / "checks.yaml").write_text(PARALLEL)
        bench_fire(tmp, workflows, args.instances, args.rounds, args.chunk)
        bench_language(tmp, workflows, args.instances // 2, args.chunk)
        bench_fire_many(tmp, workflows, args.instances, args.rounds)
        bench_tick(tmp, workflows, args.timers, args.due)
        if not args.skip_pg:
            bench_pg_workers(workflows, args.pg_events, (1, 2, 4))


if __name__ == "__main__":
    main()
