"""Several processes on one PostgreSQL: no key applied twice, no second open instance."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from crmflow import Engine
from crmflow.core.engine.repository import history, instances

WORKER = Path(__file__).resolve().parent / "concurrent_worker.py"

COUNTER = """\
workflow: counter
version: 1
initial: open
states:
  open: {}
  closed: {final: true}
transitions:
  - {trigger: bump, from: open}
  - {trigger: close, from: open, to: closed}
start_on:
  - event: part.requested
    unique: "{{ event.part }}"
"""


def _prepare(url: str, tmp_path: Path) -> tuple[Engine, Path]:
    folder = tmp_path / "wf"
    folder.mkdir()
    (folder / "counter.yaml").write_text(COUNTER)
    engine = Engine.open(url, folder, load_entry_points=False)
    return engine, folder


def _run_workers(url: str, folder: Path, plans: list[list[dict]], mode: str,
                 tmp_path: Path) -> list[int]:  # fmt: skip
    procs = []
    for n, plan in enumerate(plans):
        plan_file = tmp_path / f"plan{n}.json"
        plan_file.write_text(json.dumps(plan))
        procs.append(subprocess.Popen(
            [sys.executable, str(WORKER), url, str(folder), str(plan_file), mode],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))  # fmt: skip
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        outputs.append(int(out.strip()))
    return outputs


@pytest.mark.postgres
def test_four_processes_apply_every_key_once(pg_url, tmp_path):
    engine, folder = _prepare(pg_url, tmp_path)
    ids = [engine.start("counter") for _ in range(50)]
    rng = random.Random(42)
    events = [{"iid": rng.choice(ids), "key": f"k{n}"} for n in range(800)]
    twice = rng.sample(events, 200)  # these keys are sent a second time, by another process
    plans: list[list[dict]] = [[] for _ in range(4)]
    for n, event in enumerate(events):
        plans[n % 4].append(event)
    for n, event in enumerate(twice):
        plans[(events.index(event) + 1 + n % 3) % 4].append(event)
    for plan in plans:
        rng.shuffle(plan)

    applied = _run_workers(pg_url, folder, plans, "fire", tmp_path)

    expected = Counter(e["iid"] for e in events)
    with engine.db.connect() as conn:
        rows = conn.execute(
            sa.select(history.c.instance_id, history.c.key).where(history.c.trigger == "bump")
        ).all()
        revs = dict(conn.execute(sa.select(instances.c.id, instances.c.rev)).all())
    engine.close()
    assert sum(applied) == len(events)
    assert Counter(r.instance_id for r in rows) == expected
    assert len({(r.instance_id, r.key) for r in rows}) == len(rows)
    assert all(revs[i] == 1 + expected[i] for i in ids)  # every taken fire bumped the row once


@pytest.mark.postgres
def test_same_event_from_two_processes_opens_one_instance_per_key(pg_url, tmp_path):
    engine, folder = _prepare(pg_url, tmp_path)
    plan = [{"part": f"P-{n}"} for n in range(150)]

    started = _run_workers(pg_url, folder, [plan, plan], "emit", tmp_path)

    with engine.db.connect() as conn:
        keys = conn.execute(sa.select(instances.c.open_key)).scalars().all()
    engine.close()
    assert sorted(keys) == sorted(p["part"] for p in plan)
    assert sum(started) == 150  # each start was reported by exactly one process
