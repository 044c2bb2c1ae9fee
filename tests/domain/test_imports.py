"""`crmflow import`: rejections with line numbers, upsert by key, idempotence, events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from crmflow.core.domain.imports import import_csv
from crmflow.errors import InputError

from .conftest import d, write_csv

ORDERS = (
    "order_id,customer_id,order_date,sku,quantity,unit_price,requested_date,promised_date\n"
    f"O1,C1,{d(-5)},B1,10,1.0,{d(10)},\n"
    f"O1,C1,{d(-5)},M1,5,20,{d(10)},{d(12)}\n"
    f"O2,C9,{d(-5)},M1,5,20,{d(10)},\n"
    f"O3,C2,{d(-5)},M1,-5,20,{d(10)},\n"
    f"O4,C2,2024-13-02,M1,5,20,{d(10)},\n"
    f"O5,C2,{d(-5)},NOPE,5,20,{d(10)},\n"
    f"O1,C1,{d(-5)},B1,11,1.0,{d(10)},\n"
)


def _events(eng) -> list[tuple[str, dict]]:
    with eng.db.connect() as conn:
        rows = conn.execute(sa.text("select name, payload from events order by id")).all()
    return [(name, json.loads(payload)) for name, payload in rows]


def test_bad_rows_are_rejected_with_line_and_reason(factory_data, tmp_path: Path) -> None:
    report = import_csv(factory_data, "orders", write_csv(tmp_path / "o.csv", ORDERS),
                        actor="erp")  # fmt: skip
    assert (report.added, report.updated) == (2, 0)
    reasons = dict(report.rejected)
    assert sorted(reasons) == [4, 5, 6, 7, 8]
    assert "unknown customer 'C9'" in reasons[4]
    assert "quantity" in reasons[5] and "negative" in reasons[5]
    assert "order_date" in reasons[6]
    assert "unknown sku 'NOPE'" in reasons[7]
    assert "duplicate key O1 + B1 (first on line 2)" in reasons[8]
    created = [p for n, p in _events(factory_data) if n == "order.created"]
    assert [(p["order_id"], len(p["lines"])) for p in created] == [("O1", 2)]


def test_second_import_changes_nothing(factory_data, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "o.csv", ORDERS)
    import_csv(factory_data, "orders", path, actor="erp")
    before = len(_events(factory_data))
    again = import_csv(factory_data, "orders", path, actor="erp")
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
    assert len(_events(factory_data)) == before


def test_changed_line_is_kept_as_a_demand_change(factory_data, tmp_path: Path) -> None:
    import_csv(factory_data, "orders", write_csv(tmp_path / "o.csv", ORDERS), actor="erp")
    changed = ORDERS.replace(f"O1,C1,{d(-5)},B1,10,", f"O1,C1,{d(-5)},B1,12,")
    report = import_csv(factory_data, "orders", write_csv(tmp_path / "o2.csv", changed),
                        actor="erp")  # fmt: skip
    assert report.updated == 1
    [(name, payload)] = [e for e in _events(factory_data) if e[0] == "order.line_changed"]
    assert (payload["field"], payload["old"], payload["new"], payload["by"]) == (
        "quantity",
        10.0,
        12.0,
        "erp",
    )
    with factory_data.db.connect() as conn:
        rows = conn.execute(sa.text("select old_value, new_value, approval_state, source "
                                    "from demand_changes")).all()  # fmt: skip
    assert rows == [("10.0", "12.0", "imported", "import")]


def test_missing_required_column_writes_nothing(factory_data, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "o.csv", "order_id,customer_id,sku\nO1,C1,B1")
    with pytest.raises(InputError, match="missing required column.*order_date") as info:
        import_csv(factory_data, "orders", path, actor="erp")
    assert info.value.line == 1
    with factory_data.db.connect() as conn:
        assert conn.execute(sa.text("select count(*) from orders")).scalar() == 0


def test_deliveries_inventory_capacity_emit_events(factory_data, tmp_path: Path) -> None:
    eng = factory_data
    import_csv(eng, "orders", write_csv(tmp_path / "o.csv", ORDERS), actor="erp")
    deliveries = (
        "delivery_id,order_id,sku,delivered_date,quantity\n"
        f"D1,O1,B1,{d(0)},10\nD2,O1,XX,{d(0)},1\nD3,O9,B1,{d(0)},1"
    )
    report = import_csv(eng, "deliveries", write_csv(tmp_path / "d.csv", deliveries), actor="erp")
    assert report.added == 1 and [line for line, _ in report.rejected] == [3, 4]
    inventory = f"date,sku,location,on_hand\n{d(-1)},B1,WH,80\n{d(0)},B1,WH,70"
    import_csv(eng, "inventory", write_csv(tmp_path / "i.csv", inventory), actor="erp")
    names = [n for n, _ in _events(eng)]
    assert names.count("delivery.recorded") == 1
    assert names.count("inventory.changed") == 1  # the newest count per SKU and location
    [inv] = [p for n, p in _events(eng) if n == "inventory.changed"]
    assert (inv["on_hand"], inv["safety_stock"]) == (70, 20)
    with eng.db.connect() as conn:
        assert (
            conn.execute(sa.text("select status from order_lines where sku='B1'")).scalar()
            == "delivered"
        )
        assert conn.execute(sa.text("select on_hand, as_of from inventory_positions")).one() == (
            70.0,
            d(0),
        )
