"""The demo tells one story: statuses, lines, deliveries, workflows and timelines agree."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from crmflow import Engine
from crmflow.core.domain.customers import customer_360
from crmflow.core.domain.demo import DEMO_FACTORY, load_demo
from crmflow.testing import FakeClock

from ..domain.conftest import START
from .consistency import contradictions

CUSTOMERS = 30


def _demo(url: str) -> Engine:
    engine = Engine.open(url, factory=str(DEMO_FACTORY), clock=FakeClock(START),
                         load_entry_points=False)  # fmt: skip
    load_demo(engine, customers=CUSTOMERS)
    return engine


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = _demo(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite3'}")
    yield engine
    engine.close()


def test_every_order_agrees_with_its_lines_workflow_and_timeline(demo: Engine) -> None:
    assert contradictions(demo) == []


def test_every_workflow_state_of_the_demo_is_there(demo: Engine) -> None:
    with demo.db.connect() as conn:
        states = set(conn.execute(sa.text(
            "SELECT workflow || ':' || state FROM instances")).scalars())  # fmt: skip
    for state in ("order_lifecycle:delivered", "order_lifecycle:awaiting_approval",
                  "rush_order:delivered", "demand_change:rejected",
                  "demand_change:plan_adjusted", "demand_change:planner_review"):  # fmt: skip
        assert state in states


def test_a_customer_shows_one_value_tier(demo: Engine) -> None:
    with demo.db.connect() as conn:
        stored = conn.execute(sa.text(
            "SELECT count(*) FROM customers WHERE value_tier IS NOT NULL")).scalar()  # fmt: skip
    assert stored == 0  # no stored copy to contradict the computed tier
    view = customer_360(demo, "C001")
    assert view["value"]["tier"] in {"A", "B", "C"}


def test_the_checker_sees_a_contradiction(demo: Engine, tmp_path: Path) -> None:
    copy = _demo(f"sqlite:///{tmp_path / 'broken.sqlite3'}")
    try:
        with copy.db.begin() as conn:
            conn.execute(sa.text("UPDATE orders SET status = 'shipped' "
                                 "WHERE order_id = 'DEMO-006'"))  # fmt: skip
            conn.execute(sa.text("UPDATE customers SET value_tier = 'Z' "
                                 "WHERE customer_id = 'C001'"))  # fmt: skip
        found = contradictions(copy)
    finally:
        copy.close()
    assert any("DEMO-006" in f for f in found)
    assert any("order_lifecycle" in f and "DEMO-006" in f for f in found)
    assert any("C001 stores tier Z" in f for f in found)


@pytest.mark.postgres
def test_the_demo_agrees_on_postgres(pg_url: str) -> None:
    engine = _demo(pg_url)
    try:
        assert contradictions(engine, timelines=10) == []
    finally:
        engine.close()
