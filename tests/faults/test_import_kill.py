"""A `crmflow import` killed at any point loses no event: a re-run delivers each once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

ORDERS = 10_000
WORKFLOW = """\
workflow: order_track
version: 1
entity: order
initial: open
states:
  open: {}
  done: {final: true}
transitions:
  - {trigger: close, from: open, to: done}
start_on:
  - event: order.created
    unique: "{{ event.order_id }}"
"""


def _cli(db: str, flows: Path, *args: str) -> list[str]:
    script = str(Path(sys.executable).with_name("crmflow"))
    return [script, "--db", db, "--workflows", str(flows), *args]


def _write_files(tmp: Path) -> dict[str, Path]:
    files = {
        "customers": "customer_id,name,industry,size,region\n"
        "C1,Acme,auto,large,EU\nC2,Beta,food,small,US\n",
        "products": "sku,name,family,kind,unit_cost\n"
        "M1,Gear,gears,made,10\nM2,Shaft,gears,made,5\n",
        "orders": "order_id,customer_id,order_date,sku,quantity,unit_price,requested_date\n"
        + "".join(
            f"O{i:05d},C{1 + i % 2},2026-01-0{1 + i % 5},M{1 + i % 2},{1 + i % 40},3,2026-02-01\n"
            for i in range(ORDERS)
        ),
    }
    paths = {}
    for kind, text in files.items():
        paths[kind] = tmp / f"{kind}.csv"
        paths[kind].write_text(text, encoding="utf-8")
    return paths


def _count(db: sa.Engine, sql: str) -> int:
    with db.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


def _kill_when(cmd: list[str], db: sa.Engine, sql: str, threshold: int) -> bool:
    """Run ``cmd``; SIGKILL it once ``sql`` counts ``threshold``. True when it was killed."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None:
            try:
                reached = _count(db, sql) >= threshold
            except sa.exc.OperationalError:  # the table is still being created
                reached = False
            if reached:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                return True
            try:
                proc.wait(timeout=0.02)  # waits on the process, not on the clock
            except subprocess.TimeoutExpired:
                pass
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_killed_imports_lose_no_order_created(tmp_path: Path) -> None:
    rng = random.Random(10)
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "order_track.yaml").write_text(WORKFLOW, encoding="utf-8")
    files = _write_files(tmp_path)
    url = f"sqlite:///{tmp_path / 'kill.sqlite3'}"
    env_ok = subprocess.run(
        _cli(url, flows, "import", "customers", str(files["customers"])), capture_output=True
    )
    assert env_ok.returncode == 0, env_ok.stderr
    subprocess.run(
        _cli(url, flows, "import", "products", str(files["products"])), check=True,
        capture_output=True,
    )  # fmt: skip
    db = sa.create_engine(url)
    cmd = _cli(url, flows, "import", "orders", str(files["orders"]))
    delivered = "select count(*) from events where name = 'order.created'"
    kills = 0
    # Killed at once, then just after the rows committed (the case that lost 9,000 events),
    # then at random points of the delivery.
    kills += _kill_when(cmd, db, "select count(*) from inbox", 0)
    kills += _kill_when(cmd, db, "select count(*) from orders", 1)
    for _ in range(3):
        start = _count(db, delivered)
        kills += _kill_when(cmd, db, delivered, start + rng.randint(1, 3_000))
    assert kills >= 3, "the import finished before it could be killed"
    final = subprocess.run(cmd, capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    per_order = (
        "select count(*) from (select key from events where name = 'order.created' "
        "group by key having count(*) = 1) as once"
    )
    assert _count(db, "select count(*) from orders") == ORDERS
    assert _count(db, delivered) == ORDERS
    assert _count(db, per_order) == ORDERS
    assert _count(db, "select count(*) from instances where workflow = 'order_track'") == ORDERS
    assert _count(db, "select count(distinct open_key) from instances") == ORDERS
    assert _count(db, "select count(*) from inbox where status != 'done'") == 0
    db.dispose()
