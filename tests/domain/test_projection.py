"""Projected inventory, shortage date and capable-to-promise on hand-computed cases."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from crmflow.core.domain.ctp import capable_to_promise
from crmflow.core.domain.imports import import_csv
from crmflow.core.domain.inventory import projected_inventory
from crmflow.errors import InputError

from .conftest import d, write_csv


def _load(eng, tmp_path: Path, kind: str, text: str) -> None:
    report = import_csv(eng, kind, write_csv(tmp_path / f"{kind}-x.csv", text), actor="t")
    assert report.rejected == []


def test_projected_shortage_date_hand_computed(factory_data, tmp_path: Path) -> None:
    eng = factory_data
    # on hand 100; open orders: 30 on day 2, 50 on day 5; receipt 40 on day 6; no history,
    # so the trailing average (forecast) is 0. Safety stock of B1 is 20.
    _load(eng, tmp_path, "inventory", f"date,sku,location,on_hand\n{d(0)},B1,WH,100")
    _load(
        eng,
        tmp_path,
        "orders",
        "order_id,customer_id,order_date,sku,quantity,unit_price,requested_date\n"
        f"O1,C1,{d(0)},B1,30,5,{d(2)}\nO2,C2,{d(0)},B1,50,5,{d(5)}",
    )
    _load(
        eng,
        tmp_path,
        "purchases",
        f"po_id,supplier,sku,quantity,order_date,due_date\nP1,Acme,B1,40,{d(-3)},{d(6)}",
    )
    proj = projected_inventory(eng, "B1", days=10)
    levels = [row["projected"] for row in proj["daily"]]
    # day: 0:100 1:100 2:70 3:70 4:70 5:20 6:60 ...
    assert levels[:7] == [100, 100, 70, 70, 70, 20, 60]
    assert proj["shortage_date"] is None  # 20 is not below 20
    _load(
        eng,
        tmp_path,
        "orders",
        "order_id,customer_id,order_date,sku,quantity,unit_price,requested_date\n"
        f"O3,C1,{d(0)},B1,1,5,{d(4)}",
    )
    proj = projected_inventory(eng, "B1", days=10)
    assert proj["shortage_date"] == d(5)  # 100 - 30 - 1 - 50 = 19 < 20 on day 5
    assert proj["forecast_source"] == "trailing_average"


def test_trailing_average_forecast_consumed_by_orders(factory_data, tmp_path: Path) -> None:
    eng = factory_data
    # 28 units ordered in the 28 days before today: 1 per day of forecast demand.
    _load(
        eng,
        tmp_path,
        "orders",
        "order_id,customer_id,order_date,sku,quantity,unit_price,requested_date\n"
        f"H1,C1,{d(-10)},B1,28,5,{d(-5)},\n",
    )
    with eng.db.begin() as conn:  # the old order was delivered
        conn.execute(sa.text("update order_lines set status='delivered'"))
    _load(eng, tmp_path, "inventory", f"date,sku,location,on_hand\n{d(0)},B1,WH,100")
    proj = projected_inventory(eng, "B1", days=7)
    assert [r["forecast"] for r in proj["daily"]] == [1.0] * 7
    assert proj["daily"][-1]["projected"] == 93


def test_ctp_from_stock_then_capacity(factory_data, tmp_path: Path) -> None:
    eng = factory_data
    _load(eng, tmp_path, "inventory", f"date,sku,location,on_hand\n{d(0)},M1,WH,30")
    assert capable_to_promise(eng, "M1", 30)["source"] == "stock"
    # 70 more than stock: line L1 makes 8 h x 5/h = 40 a day, so day 1 (80 cumulative).
    result = capable_to_promise(eng, "M1", 100)
    assert (result["source"], result["date"], result["line"]) == ("capacity", d(1), "L1")
    bought = capable_to_promise(eng, "B1", 10)
    assert (bought["source"], bought["date"]) == ("purchase", d(10))


def test_ctp_bad_input_is_refused(factory_data) -> None:
    with pytest.raises(InputError, match="quantity"):
        capable_to_promise(factory_data, "M1", -5)
    with pytest.raises(InputError, match="unknown sku"):
        capable_to_promise(factory_data, "NOPE", 5)
    with pytest.raises(InputError, match="in the past"):
        capable_to_promise(factory_data, "M1", 5, from_date=d(-1))
