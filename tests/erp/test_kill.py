"""20,000 orders / 60,000 lines, sync SIGKILLed mid-way then again: each record and event once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import pytest
import sqlalchemy as sa

from .conftest import events, seed, write_factory

ORDERS = 20_000


def _sync(tmp_path, env, kill_at=None, odoo=None):
    cmd = [sys.executable, "-c", "from crmflow.cli import main; main()", "sync", "erp",
           "--db", f"sqlite:///{tmp_path / 'kill.sqlite3'}", "--factory",
           str(tmp_path / "factory.yaml"), "--workflows", str(tmp_path / "wf")]
    if kill_at is None:
        done = subprocess.run(cmd, env=env, capture_output=True, timeout=900, check=False)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    reached = threading.Event()
    odoo.on_call = lambda n: reached.set() if len(odoo.calls) >= kill_at else None
    assert reached.wait(600), "the sync never got that far"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    odoo.on_call = None
    return None


@pytest.mark.slow
def test_sigkill_mid_sync_then_again_loads_each_order_and_event_once(odoo, tmp_path):
    seed(odoo, orders=ORDERS, lines=3, products=50)
    (tmp_path / "wf").mkdir()
    write_factory(tmp_path, odoo.url, page_size=1000, timeout=60)
    env = {**os.environ, "ODOO_API_KEY": odoo.api_key}
    # calls: partners, products, newest line, then per order page: orders + lines + refs
    _sync(tmp_path, env, kill_at=12, odoo=odoo)
    _sync(tmp_path, env)
    from crmflow.core.engine import Engine

    engine = Engine.open(database_url=f"sqlite:///{tmp_path / 'kill.sqlite3'}",
                         workflows=tmp_path / "wf", load_entry_points=False)  # fmt: skip
    try:
        with engine.db.connect() as conn:
            assert conn.execute(sa.text("select count(*) from orders")).scalar() == ORDERS
            assert conn.execute(sa.text("select count(*) from order_lines")).scalar() == 3 * ORDERS
            assert conn.execute(sa.text("select sum(quantity) from order_lines")).scalar() == \
                sum(x["product_uom_qty"] for x in odoo.records("sale.order.line"))
        created = events(engine, "order.created")
        assert len(created) == ORDERS
        assert len({json.loads(e["payload"])["order_id"] for e in created}) == ORDERS
        # a change in Odoo, a sync killed after reading it, then again: delivered once
        odoo.now = "2026-01-09 10:00:00"
        changed = odoo.records("sale.order.line")[:10]
        for line in changed:
            odoo.write("sale.order.line", line["id"], product_uom_qty=line["product_uom_qty"] + 1)
        start = len(odoo.calls)
        _sync(tmp_path, env, kill_at=start + 5, odoo=odoo)
        _sync(tmp_path, env)
        assert len(events(engine, "order.line_changed")) == 10
        assert len(events(engine, "order.created")) == ORDERS
    finally:
        engine.close()
