"""Fixtures of the domain tests: an engine with the shipped workflows and a small factory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from crmflow import Engine
from crmflow.core.domain.imports import import_csv
from crmflow.core.factory import FactoryConfig
from crmflow.testing import FakeClock

SHIPPED = Path(__file__).resolve().parents[2] / "crmflow" / "workflows"
START = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)  # Monday
TODAY = START.date()

SETTINGS: dict[str, Any] = {
    "demand_tolerance": 0.1,
    "date_tolerance_days": 2,
    "planning_horizon_days": 28,
    "trailing_days": 28,
    "large_order_amount": 10000,
    "credit_limit": 50000,
    "approval_single_limit": 1000,
    "approval_dual_limit": 5000,
    "approval_quorum": 2,
    "approval_board": ["sam", "mia", "max"],
    "approvers": ["sam", "mia", "max", "paul", "bea"],
}
USERS = {
    "rita": {"roles": ["sales"]},
    "paul": {"roles": ["planner"]},
    "sam": {"roles": ["supervisor"]},
    "mia": {"roles": ["manager"]},
    "max": {"roles": ["manager"]},
    "bea": {"roles": ["purchasing"]},
}


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def d(offset: int) -> str:
    """An ISO date ``offset`` days from the test's today."""
    return (TODAY + dt.timedelta(days=offset)).isoformat()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def eng(tmp_path: Path, clock: FakeClock) -> Engine:
    """An engine on a fresh SQLite file; forecast plugin off so demand is the trailing mean."""
    factory = FactoryConfig(
        name="test", settings=dict(SETTINGS), users=USERS, plugins={"forecast": False}
    )
    engine = Engine.open(
        f"sqlite:///{tmp_path / 'domain.sqlite3'}", workflows=SHIPPED, factory=factory,
        clock=clock, load_entry_points=False,
    )  # fmt: skip
    yield engine
    engine.close()


@pytest.fixture
def factory_data(eng: Engine, tmp_path: Path) -> Engine:
    """Two customers, a bought part B1, a made part M1 on line L1 with capacity."""
    files = {
        "customers": "customer_id,name,industry,size,region\n"
        "C1,Acme,automotive,large,EU\nC2,Beta,food,small,US",
        "products": "sku,name,family,kind,unit_cost,lead_time_days,lot_size,safety_stock,"
        "reorder_qty,line,units_per_hour\n"
        "B1,Bolt,fasteners,bought,2,10,50,20,100,,\n"
        "M1,Gear,gears,made,10,5,10,10,0,L1,5",
        "capacity": "date,line,planned_hours,efficiency\n"
        + "\n".join(f"{d(i)},L1,8,1.0" for i in range(0, 60)),
    }
    for kind, text in files.items():
        import_csv(eng, kind, write_csv(tmp_path / f"{kind}.csv", text), actor="test")
    return eng
