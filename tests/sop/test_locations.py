"""Projected inventory per location: demand and supply belong to the location that ships."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from crmflow.core.domain.inventory import projected_inventory

from ..domain.conftest import d
from .conftest import load

ORDERS = "order_id,customer_id,order_date,sku,quantity,unit_price,requested_date\n"


def _stock(eng, tmp_path: Path, rows: str) -> None:
    load(eng, tmp_path, "inventory", "date,sku,location,on_hand\n" + rows)


def test_stock_at_a_second_location_raises_no_false_shortage(make_sop, tmp_path: Path) -> None:
    eng = make_sop()
    _stock(eng, tmp_path, f"{d(0)},B1,MAIN,689")
    load(eng, tmp_path, "orders", ORDERS + f"O1,C1,{d(0)},B1,600,5,{d(3)}")
    # 20 more units at a second location: the SKU still covers its demand.
    run = eng.emit("inventory.changed", {"sku": "B1", "location": "SPARE", "on_hand": 20})
    assert run.started == []
    with eng.db.connect() as conn:
        assert conn.execute(sa.text("select count(*) from alerts")).scalar() == 0
        assert conn.execute(sa.text("select count(*) from purchase_requests")).scalar() == 0
    spare = projected_inventory(eng, "B1", location="SPARE", days=10)
    assert spare["shipping_location"] == "MAIN"
    assert [r["projected"] for r in spare["daily"]] == [20] * 10
    assert spare["safety_stock"] == 0 and spare["shortage_date"] is None


def test_the_sku_total_is_the_sum_of_its_locations(make_sop, tmp_path: Path) -> None:
    eng = make_sop()
    _stock(eng, tmp_path, f"{d(0)},B1,MAIN,100\n{d(0)},B1,SPARE,20")
    load(eng, tmp_path, "orders", ORDERS + f"O1,C1,{d(0)},B1,90,5,{d(2)}")
    load(eng, tmp_path, "purchases",
         f"po_id,supplier,sku,quantity,order_date,due_date\nP1,Acme,B1,40,{d(-3)},{d(6)}")
    total = projected_inventory(eng, "B1", days=10)
    assert total["locations"] == ["MAIN", "SPARE"]
    parts = [projected_inventory(eng, "B1", location=loc, days=10) for loc in total["locations"]]
    for i, row in enumerate(total["daily"]):
        assert row["projected"] == sum(p["daily"][i]["projected"] for p in parts)
    assert total["safety_stock"] == sum(p["safety_stock"] for p in parts) == 20
    main = parts[0]
    # MAIN ships: 100 - 90 = 10 < safety 20 on day 2, then +40 on day 6.
    assert [r["projected"] for r in main["daily"]][:7] == [100, 100, 10, 10, 10, 10, 50]
    assert main["shortage_date"] == d(2)
    # The SKU as a whole has 30 on day 2, still above its safety stock of 20.
    assert total["shortage_date"] is None


def test_the_factory_names_the_shipping_location(make_sop, tmp_path: Path) -> None:
    eng = make_sop(settings={"shipping_location": {"bought": "DOCK", "default": "FG"}})
    _stock(eng, tmp_path, f"{d(0)},B1,STORE,500\n{d(0)},B1,DOCK,30")
    load(eng, tmp_path, "orders", ORDERS + f"O1,C1,{d(0)},B1,25,5,{d(1)}")
    dock = projected_inventory(eng, "B1", location="DOCK", days=5)
    store = projected_inventory(eng, "B1", location="STORE", days=5)
    assert dock["shipping_location"] == "DOCK"
    assert [r["projected"] for r in dock["daily"]] == [30, 5, 5, 5, 5]
    assert dock["shortage_date"] == d(1)  # 5 < 20 at the location that ships
    assert [r["projected"] for r in store["daily"]] == [500] * 5
    # The shortage at DOCK proposes a replenishment there; STORE stays quiet.
    run = eng.emit("inventory.changed", {"sku": "B1", "location": "DOCK"})
    assert len(run.started) == 1
    assert eng.emit("inventory.changed", {"sku": "B1", "location": "STORE"}).started == []


def test_projected_uses_the_live_champion_forecast_and_names_it(make_sop, tmp_path) -> None:
    import datetime as dt

    from crmflow.plugins.forecast import refresh

    eng = make_sop(forecast=True)
    _stock(eng, tmp_path, f"{d(0)},B1,MAIN,500")
    lines = []
    for k in range(1, 40):  # 39 months of about 60 a month before today
        year, month = divmod(2026 * 12 + 0 - k, 12)
        day = dt.date(year, month + 1, 12)
        lines.append(f"H{k},C2,{day},B1,{60 + (k % 3)},3,{day}")
    load(eng, tmp_path, "orders", ORDERS + "\n".join(lines))
    before = projected_inventory(eng, "B1", days=28)
    assert before["forecast_source"] == "trailing_average"
    snap = refresh(eng)
    with eng.db.connect() as conn:
        model = conn.execute(sa.text(
            "SELECT model FROM forecast_champions WHERE sku = 'B1'")).scalar()  # fmt: skip
    after = projected_inventory(eng, "B1", days=28)
    assert after["forecast_source"] == f"champion {model} (snapshot {snap})"
    # about 60 a month, two a day beyond the booked orders (the first week's forecast is
    # consumed by the history's lines, still open and so due on day one)
    assert 1.5 < sum(r["forecast"] for r in after["daily"][7:]) / 21 < 2.5
