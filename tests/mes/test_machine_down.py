"""The shipped `machine_down` workflow: a line down long enough re-promises its orders."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from crmflow import Engine
from crmflow.core.domain.imports import import_csv
from crmflow.core.domain.records import CapacityDay
from crmflow.core.factory import FactoryConfig
from crmflow.testing import FakeClock

SHIPPED = Path(__file__).resolve().parents[2] / "crmflow" / "workflows"
START = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)  # Monday


def d(offset: int) -> str:
    return (START.date() + dt.timedelta(days=offset)).isoformat()


def plant(tmp_path: Path, clock: FakeClock) -> Engine:
    factory = FactoryConfig(
        name="plant", settings={"machine_down_minutes": 20}, plugins={"forecast": False}
    )
    engine = Engine.open(
        f"sqlite:///{tmp_path / 'md.sqlite3'}",
        workflows=SHIPPED,
        factory=factory,
        clock=clock,
        load_entry_points=False,
    )
    files = {
        "customers": "customer_id,name,industry,size,region\n"
        "C1,Acme,auto,large,EU\nC2,Beta,food,small,US",
        "products": "sku,name,family,kind,unit_cost,line,units_per_hour\n"
        "M1,Gear,gears,made,10,L1,5\nM2,Shaft,gears,made,10,L2,5",
        "capacity": "date,line,planned_hours\n"
        + "\n".join(f"{d(i)},{ln},8" for i in range(0, 40) for ln in ("L1", "L2")),
        "orders": "order_id,customer_id,order_date,sku,quantity,unit_price,requested_date,"
        "sales_rep\n"
        f"O1,C1,{d(-3)},M1,40,5,{d(1)},rita\n"
        f"O2,C2,{d(-2)},M1,30,5,{d(3)},tom\n"
        f"O3,C2,{d(-2)},M2,10,5,{d(2)},tom\n"
        f"O4,C1,{d(-2)},M1,10,5,{d(30)},rita\n",
    }
    for kind, text in files.items():
        path = tmp_path / f"{kind}.csv"
        path.write_text(text + "\n", encoding="utf-8")
        assert not import_csv(engine, kind, path, actor="test", emit=False).rejected
    return engine


def test_a_line_down_long_enough_tells_the_planner_and_tasks_the_reps(tmp_path: Path) -> None:
    clock = FakeClock(START)
    engine = plant(tmp_path, clock)
    started = engine.emit("machine.state_changed", {"line": "L1", "state": "down"}, key="m1")
    [iid] = started.started
    assert engine.emit("machine.state_changed", {"line": "L1", "state": "fault"}).started == []
    assert engine.tick(clock.advance(minutes=10)) >= 1
    assert engine.get(iid).state == "down"  # not yet long enough
    engine.tick(clock.advance(minutes=11))
    inst = engine.get(iid)
    assert inst.state == "confirmed"
    affected = inst.data["affected"]
    assert [(a["order_id"], a["sku"], a["sales_rep"]) for a in affected["orders"]] == [
        ("O1", "M1", "rita"),
        ("O2", "M1", "tom"),
    ]
    assert all(a["new_ctp_date"] for a in affected["orders"])
    from crmflow.notifications import inbox

    planner = inbox(engine, "planner")
    rita, tom = inbox(engine, "rita"), inbox(engine, "tom")
    with engine.db.connect() as conn:
        today = conn.execute(
            sa.select(CapacityDay.__table__.c.planned_hours).where(  # type: ignore[attr-defined]
                CapacityDay.__table__.c.line == "L1",
                CapacityDay.__table__.c.date == START.date(),  # type: ignore[attr-defined]
            )
        ).scalar_one()
    assert today == 0.0  # the day's 8 hours are lost (machine_down_expected_hours)
    assert len(planner) == 1 and "Line L1 is down" in planner[0]["text"]
    assert "O1 M1" in planner[0]["text"]
    assert len(rita) == 1 and len(tom) == 1  # one task per affected order, for its rep
    assert "tell customer C1 about order O1" in rita[0]["text"]
    assert "about order O2" in tom[0]["text"] and rita[0]["link"].endswith("/orders/O1")
    engine.emit("machine.state_changed", {"line": "L1", "state": "running"})
    assert engine.get(iid).state == "recovered"
    engine.close()


def test_a_short_stop_ends_quietly(tmp_path: Path) -> None:
    clock = FakeClock(START)
    engine = plant(tmp_path, clock)
    [iid] = engine.emit("machine.state_changed", {"line": "L2", "state": "down"}).started
    engine.tick(clock.advance(minutes=5))
    engine.emit("machine.state_changed", {"line": "L2", "state": "running"})
    assert engine.get(iid).state == "recovered"
    engine.tick(clock.advance(minutes=60))
    from crmflow.notifications import inbox

    assert inbox(engine, "planner") == []  # nobody is told about a short stop
    engine.close()
