"""Real worker processes: SIGKILL in the middle on PostgreSQL, SIGTERM on SQLite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa

from crmflow.core.engine import Engine
from crmflow.core.engine.inbox import enqueue_many

INSTANCES = 1000
PINGS = 5  # per instance: 5,000 events


def _worker(url: str, workflows: Path, plugin_file: Path, log: Path, *extra: str) -> Any:
    command = [
        sys.executable, "-c", "from crmflow.cli import main; main()", "worker",
        "--db", url, "--workflows", str(workflows), "--plugin", str(plugin_file),
        "--lease", "2s", "--batch", "50", "--idle", "0.05", *extra,
    ]  # fmt: skip
    env = {**os.environ, "CRMFLOW_LOAD_PLUGINS": ""}
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)  # polling a subprocess's progress, not driving engine time
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def _count(db: sa.Engine, sql: str) -> int:
    with db.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


def _seed(engine: Engine, plugin: ModuleType) -> list[int]:
    plugin.create_tables(engine.db)
    started = engine.now() - timedelta(hours=2)  # their 1h deadlines are already due
    ids = [engine.start("crash", now=started) for _ in range(INSTANCES)]
    enqueue_many(
        engine,
        [
            {"instance_id": iid, "trigger": "ping", "data": {"n": n}, "key": f"ping:{iid}:{n}"}
            for n in range(PINGS)
            for iid in ids
        ],
    )
    return ids


def _assert_exactly_once(db: sa.Engine) -> None:
    history = {
        t: _count(db, f"SELECT count(*) FROM history WHERE \"trigger\" = '{t}'")
        for t in ("start", "ping", "expire")
    }
    assert history == {"start": INSTANCES, "ping": INSTANCES * PINGS, "expire": INSTANCES}
    assert _count(db, "SELECT count(DISTINCT \"key\") FROM history WHERE \"trigger\" = 'ping'") == (
        INSTANCES * PINGS
    )
    effects = INSTANCES * (PINGS + 1)
    assert _count(db, "SELECT count(*) FROM outbox") == effects
    assert _count(db, "SELECT count(*) FROM outbox WHERE status = 'done'") == effects
    assert _count(db, "SELECT count(*) FROM durability_effects") == effects
    assert _count(db, "SELECT count(*) FROM inbox WHERE status <> 'done'") == 0
    # No instance stuck: every one expired, nothing left armed or claimed.
    assert _count(db, "SELECT count(*) FROM instances WHERE state <> 'expired'") == 0
    assert _count(db, "SELECT count(*) FROM timers") == 0


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_one_of_two_workers_loses_nothing_and_doubles_nothing(
    pg_url: str, crash_workflows: Path, plugin: ModuleType, plugin_file: Path, tmp_path: Path
) -> None:
    engine = Engine.open(
        pg_url, workflows=crash_workflows, plugins=[plugin], load_entry_points=False,
        inline_outbox=False,
    )  # fmt: skip
    workers: list[Any] = []
    try:
        _seed(engine, plugin)
        db = engine.db
        workers = [
            _worker(pg_url, crash_workflows, plugin_file, tmp_path / f"w{n}.log") for n in (0, 1)
        ]
        _wait(
            lambda: _count(db, "SELECT count(*) FROM inbox WHERE status = 'done'") >= 1500,
            180, "the first 1,500 events",
        )  # fmt: skip
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(30)
        assert _count(db, "SELECT count(*) FROM inbox WHERE status <> 'done'") > 0, (
            "the workers finished before the kill; the test proved nothing"
        )
        workers.append(_worker(pg_url, crash_workflows, plugin_file, tmp_path / "w2.log"))

        def finished() -> bool:
            return (
                _count(db, "SELECT count(*) FROM inbox WHERE status = 'pending'") == 0
                and _count(db, "SELECT count(*) FROM timers") == 0
                and _count(db, "SELECT count(*) FROM outbox WHERE status <> 'done'") == 0
                and _count(db, "SELECT count(*) FROM outbox") == INSTANCES * (PINGS + 1)
            )

        _wait(finished, 240, "every event, timer and side effect")
        for proc in workers[1:]:
            proc.send_signal(signal.SIGTERM)
        for proc in workers[1:]:
            assert proc.wait(60) == 0, (tmp_path / "w1.log").read_text()[-2000:]
        _assert_exactly_once(db)
        # Calls may repeat after the kill (at-least-once delivery); effects never do.
        assert _count(db, "SELECT sum(calls) FROM durability_effects") >= INSTANCES * (PINGS + 1)
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
        engine.close()


@pytest.mark.slow
def test_sigterm_finishes_the_batch_in_hand_and_releases_the_rest(
    tmp_path: Path, crash_workflows: Path, plugin: ModuleType, plugin_file: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'term.sqlite3'}"
    engine = Engine.open(
        url, workflows=crash_workflows, plugins=[plugin], load_entry_points=False,
        inline_outbox=False,
    )  # fmt: skip
    try:
        _seed(engine, plugin)
        db = engine.db
        proc = _worker(url, crash_workflows, plugin_file, tmp_path / "term.log")
        try:
            _wait(
                lambda: _count(db, "SELECT count(*) FROM inbox WHERE status = 'done'") >= 200,
                120, "the first events",
            )  # fmt: skip
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0, (tmp_path / "term.log").read_text()[-2000:]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
        # Whatever it had claimed is finished or handed back: nothing is left leased.
        assert _count(db, "SELECT count(*) FROM inbox WHERE claimed_by IS NOT NULL") == 0
        assert _count(db, "SELECT count(*) FROM outbox WHERE claimed_by IS NOT NULL") == 0
        # Every event marked done took effect, and no pending one did.
        assert _count(
            db, "SELECT count(*) FROM inbox i JOIN history h ON h.\"key\" = i.\"key\" "
            "WHERE i.status = 'pending'",
        ) == 0  # fmt: skip
        assert _count(db, "SELECT count(*) FROM history WHERE \"trigger\" = 'ping'") == _count(
            db, "SELECT count(*) FROM inbox WHERE status = 'done'"
        )
        rest = _worker(url, crash_workflows, plugin_file, tmp_path / "rest.log", "--once")
        assert rest.wait(240) == 0, (tmp_path / "rest.log").read_text()[-2000:]
        _assert_exactly_once(db)
    finally:
        engine.close()
