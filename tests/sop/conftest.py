"""Fixtures of the S&OP planner tests: the domain factory on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crmflow import Engine
from crmflow.core.domain.imports import import_csv
from crmflow.core.factory import FactoryConfig
from crmflow.testing import FakeClock

from ..domain.conftest import SETTINGS, SHIPPED, START, USERS, d, write_csv

__all__ = ["load"]


def load(eng: Engine, tmp_path: Path, kind: str, text: str) -> None:
    """Import ``text`` as a CSV of ``kind``; every row must load."""
    report = import_csv(eng, kind, write_csv(tmp_path / f"{kind}-x.csv", text), actor="t")
    assert report.rejected == []


@pytest.fixture
def sop_clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def make_sop(db_url: str, sop_clock: FakeClock, tmp_path: Path) -> Iterator[Any]:
    """Open an engine with the shipped workflows and a small factory on ``db_url``."""
    opened: list[Engine] = []

    def make(settings: dict[str, Any] | None = None, forecast: bool = False) -> Engine:
        factory = FactoryConfig(
            name="test", settings={**SETTINGS, **(settings or {})}, users=USERS,
            plugins={"forecast": forecast},
        )  # fmt: skip
        eng = Engine.open(db_url, workflows=SHIPPED, factory=factory, clock=sop_clock,
                          load_entry_points=False)  # fmt: skip
        opened.append(eng)
        load(eng, tmp_path, "customers",
             "customer_id,name,industry,size,region\nC1,Acme,automotive,large,EU\n"
             "C2,Beta,food,small,US")  # fmt: skip
        load(eng, tmp_path, "products",
             "sku,name,family,kind,unit_cost,lead_time_days,lot_size,safety_stock,"
             "reorder_qty,line,units_per_hour\nB1,Bolt,fasteners,bought,2,10,50,20,100,,\n"
             "M1,Gear,gears,made,10,5,10,10,0,L1,5")  # fmt: skip
        load(eng, tmp_path, "capacity", "date,line,planned_hours,efficiency\n"
             + "\n".join(f"{d(i)},L1,8,1.0" for i in range(0, 60)))  # fmt: skip
        return eng

    yield make
    for eng in opened:
        eng.close()
