"""Four processes voting on the same approvals (PostgreSQL): `required` distinct votes, once."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from crmflow import Engine

WORKER = Path(__file__).resolve().parents[1] / "engine" / "concurrent_worker.py"
PEOPLE = [f"m{n}" for n in range(6)]
VOTE = """\
workflow: vote
version: 1
initial: open
states:
  open:
    approval: {approvers: [manager], required: 3, on_approved: approved}
  approved: {final: true}
transitions: []
"""


@pytest.mark.postgres
def test_four_processes_voting_count_each_person_once(pg_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    folder.mkdir()
    (folder / "vote.yaml").write_text(VOTE)
    factory = tmp_path / "factory.yaml"
    factory.write_text(
        "factory: race\nusers:\n" + "".join(f"  {p}: {{roles: [manager]}}\n" for p in PEOPLE)
    )
    engine = Engine.open(pg_url, folder, str(factory), load_entry_points=False)
    ids = [engine.start("vote", actor="requester") for _ in range(50)]
    rng = random.Random(7)
    procs = []
    for n in range(4):
        plan = [{"iid": iid, "actor": person} for iid in ids for person in PEOPLE]
        rng.shuffle(plan)
        path = tmp_path / f"plan{n}.json"
        path.write_text(json.dumps(plan))
        procs.append(subprocess.Popen(
            [sys.executable, str(WORKER), pg_url, str(folder), str(path), "vote", str(factory)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))  # fmt: skip
    taken = 0
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        taken += int(out.strip())
    assert taken == 50 * 3  # every vote that counted, and no other
    for iid in ids:
        inst = engine.get(iid)
        voters = [v["for"] for v in inst.approvals]
        assert inst.state == "approved"
        assert len(voters) == 3 and len(set(voters)) == 3
    engine.close()
