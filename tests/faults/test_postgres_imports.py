"""On PostgreSQL: over-long values rejected per row, parallel imports upsert without a crash."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.faults.test_import_kill import WORKFLOW

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ORDERS = 600


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A schema of its own in the session database, so this test starts empty."""
    schema = f"t_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg_database)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = sa.make_url(pg_database).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def _cli(url: str, flows: Path, *args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("crmflow")), "--db", url, "--workflows",
            str(flows), *args]  # fmt: skip


def test_parallel_imports_and_long_values_on_postgres(pg_url: str, tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "order_track.yaml").write_text(WORKFLOW, encoding="utf-8")
    customers = tmp_path / "customers.csv"
    customers.write_text(
        "customer_id,name,industry,size,region\n"
        f"C1,Acme,auto,large,EU\nC2,{'N' * 201},food,small,US\nC3,Nul\x00l,food,small,US\n",
        encoding="utf-8",
    )
    done = subprocess.run(_cli(pg_url, flows, "import", "customers", str(customers)),
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "customers.csv:3: rejected: name: is 201 characters long; at most 200" in done.stderr
    assert "customers.csv:4: rejected: name: contains a NUL" in done.stderr
    products = tmp_path / "products.csv"
    products.write_text("sku,name,family,kind,unit_cost\nM1,Gear,gears,made,10\n",
                        encoding="utf-8")  # fmt: skip
    subprocess.run(_cli(pg_url, flows, "import", "products", str(products)), check=True,
                   capture_output=True)  # fmt: skip
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,customer_id,order_date,sku,quantity,unit_price,requested_date\n"
        + "".join(f"O{i:04d},C1,2026-01-05,M1,{1 + i % 9},3,2026-02-01\n" for i in range(ORDERS)),
        encoding="utf-8",
    )
    cmd = _cli(pg_url, flows, "import", "orders", str(orders))
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]  # fmt: skip
    outs = [p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _out, err in outs]
    assert all("Traceback" not in err for _out, err in outs)
    db = sa.create_engine(pg_url)
    with db.connect() as conn:
        count = conn.execute(sa.text("select count(*) from orders")).scalar_one()
        created = conn.execute(sa.text(
            "select count(*), count(distinct key) from events where name = 'order.created'"
        )).one()  # fmt: skip
        started = conn.execute(sa.text("select count(*) from instances")).scalar_one()
    db.dispose()
    assert count == ORDERS
    assert tuple(created) == (ORDERS, ORDERS)
    assert started == ORDERS
