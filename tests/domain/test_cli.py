"""The planner commands: import exit codes and rejected lines, JSON views."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from crmflow.cli import cli

from .conftest import write_csv


def _run(tmp_path: Path, *args: str):
    db = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    return CliRunner().invoke(cli, [*args, "--db", db], catch_exceptions=False)


def test_import_reports_rows_and_rejections(tmp_path: Path) -> None:
    customers = write_csv(
        tmp_path / "c.csv",
        "customer_id,name,industry,size,region\nC1,Acme,auto,large,EU\n,NoId,food,small,US",
    )
    result = _run(tmp_path, "import", "customers", str(customers))
    assert result.exit_code == 0
    assert "customers: added 1, updated 0, unchanged 0, rejected 1" in result.stdout
    assert f"{customers}:3: rejected: customer_id: is required and empty" in result.stderr
    again = _run(tmp_path, "import", "customers", str(customers), "--json")
    assert json.loads(again.stdout)["unchanged"] == 1


def test_import_missing_column_exits_2(tmp_path: Path) -> None:
    bad = write_csv(tmp_path / "p.csv", "sku,name\nS1,Bolt")
    result = _run(tmp_path, "import", "products", str(bad))
    assert result.exit_code == 2
    assert "missing required column(s) family, kind, unit_cost" in result.stderr


def test_views_as_json(tmp_path: Path) -> None:
    write_csv(tmp_path / "c.csv", "customer_id,name,industry,size,region\nC1,Acme,auto,large,EU")
    write_csv(
        tmp_path / "p.csv",
        "sku,name,family,kind,unit_cost,safety_stock\nS1,Bolt,fasteners,bought,1,5",
    )
    write_csv(
        tmp_path / "o.csv",
        "order_id,customer_id,order_date,sku,quantity,unit_price,"
        "requested_date\nO1,C1,2025-01-02,S1,3,2,2025-01-20",
    )
    for kind, name in (("customers", "c"), ("products", "p"), ("orders", "o")):
        assert _run(tmp_path, "import", kind, str(tmp_path / f"{name}.csv")).exit_code == 0
    proj = json.loads(_run(tmp_path, "inventory", "projected", "S1", "--days", "3",
                           "--json").stdout)  # fmt: skip
    assert (proj["safety_stock"], len(proj["daily"])) == (5.0, 3)
    order = json.loads(_run(tmp_path, "order", "O1", "--json").stdout)
    assert order["timeline"][0]["what"] == "order placed"
    customer = json.loads(_run(tmp_path, "customer", "C1", "--json").stdout)
    assert customer["preferences"] == {"fasteners": 1.0}
