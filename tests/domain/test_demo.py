"""The demo factory: every KPI of kpis.md has a value, and loading twice changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from crmflow import Engine
from crmflow.core.domain.demo import DEMO_FACTORY, SNAPSHOT_MONTHS, load_demo
from crmflow.core.factory import load_factory
from crmflow.errors import InputError
from crmflow.plugins.kpi import kpi_report
from crmflow.testing import FakeClock

from .conftest import START

#: Every key `crmflow kpi --json` returns (kpis.md), extras included.
KPI_KEYS = (
    "order_fill_rate", "line_fill_rate", "unit_fill_rate", "on_time_delivery",
    "forecast_accuracy", "forecast_bias", "inventory_turnover", "days_inventory_outstanding",
    "delivery_lead_time_days", "delivery_lead_time_days_p50", "delivery_lead_time_days_p90",
    "rush_response_hours", "rush_response_hours_p90",
)  # fmt: skip
#: A small demo factory: the same generator, a fifth of the customers.
CUSTOMERS = 40


def _open(path: Path, factory: object = None) -> Engine:
    return Engine.open(
        f"sqlite:///{path}", factory=factory or str(DEMO_FACTORY), clock=FakeClock(START),
        load_entry_points=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = _open(tmp_path_factory.mktemp("demo") / "demo.sqlite3")
    load_demo(engine, customers=CUSTOMERS)
    yield engine
    engine.close()


def _rows(engine: Engine, sql: str, **params: object) -> list[sa.Row]:
    with engine.db.connect() as conn:
        return list(conn.execute(sa.text(sql), params))


def test_every_kpi_has_a_value_for_the_last_full_month(demo: Engine) -> None:
    report = kpi_report(demo)
    assert report["period"] == {"from": "2025-12-01", "to": "2026-01-01", "days": 31}
    missing = [key for key in KPI_KEYS if report.get(key) is None]
    assert missing == []
    for key in ("order_fill_rate", "line_fill_rate", "unit_fill_rate", "on_time_delivery"):
        assert 0 < report[key] <= 1
    assert report["forecast_accuracy"] <= 1 and -1 < report["forecast_bias"] < 1
    assert 0 < report["rush_response_hours"] <= report["rush_response_hours_p90"] < 24


def test_a_lag1_snapshot_precedes_each_month_and_knows_only_the_past(demo: Engine) -> None:
    snaps = _rows(demo, "SELECT created_at, first_period FROM forecast_snapshots ORDER BY id")
    assert len(snaps) == SNAPSHOT_MONTHS
    tz = demo.factory.timezone
    for created, first in snaps:
        created = dt.datetime.fromisoformat(str(created)).replace(tzinfo=dt.UTC)
        local = created.astimezone(tz)
        # an hour before the next month began in the factory's zone
        began = (local + dt.timedelta(hours=1)).replace(tzinfo=None)
        assert began.day == 1 and began.hour == 0
        assert dt.date.fromisoformat(str(first)) == local.date().replace(day=1)
    assert dt.date.fromisoformat(str(snaps[-1][1])) == dt.date(2025, 12, 1)
    # History starts in January 2023 (three years back) and ends before the snapshot's month.
    longest = _rows(demo, "SELECT snapshot_id, MAX(history_months) FROM forecast_series "
                          "GROUP BY snapshot_id ORDER BY snapshot_id")  # fmt: skip
    assert [m for _s, m in longest] == list(range(23, 23 + SNAPSHOT_MONTHS))


def test_rush_orders_of_the_last_months_were_answered_by_people(demo: Engine) -> None:
    history = _rows(
        demo,
        "SELECT i.id, i.created_at, h.trigger, h.actor, h.at FROM instances i "
        "JOIN history h ON h.instance_id = i.id "
        "WHERE i.workflow = 'rush_order' AND i.start_key LIKE 'demo:rush:%' ORDER BY h.id",
    )
    by_instance: dict[int, list[tuple[str, str, str]]] = {}
    for iid, _created, trigger, actor, at in history:
        by_instance.setdefault(iid, []).append((trigger, actor, str(at)))
    starts = sorted(str(created)[:10] for _i, created, trigger, *_ in history
                    if trigger == "start")  # fmt: skip
    assert len(by_instance) >= 5 and starts[0] < "2025-12-01" and starts[-1] < "2026-01-05"
    escalated_first = 0
    for steps in by_instance.values():
        answer = next(s for s in steps if s[0] in ("accept", "reject"))
        assert answer[1] in ("paul", "petra", "sam") and answer[2] > steps[0][2]
        escalated_first += steps[1][0] == "escalate" and steps[1][1] == "system"
    assert 0 < escalated_first < len(by_instance)
    # The in-flight rush orders are still there, in every state.
    states = {s for (s,) in _rows(demo, "SELECT state FROM instances WHERE workflow='rush_order'")}
    assert {"received", "checks", "plan_adjustment", "awaiting_approval",
            "in_production", "delivered", "rejected"} <= states  # fmt: skip


def test_loading_twice_changes_nothing(demo: Engine) -> None:
    def counts() -> dict[str, int]:
        names = sa.inspect(demo.db).get_table_names()
        with demo.db.connect() as conn:
            return {n: conn.execute(sa.text(f'SELECT COUNT(*) FROM "{n}"')).scalar() for n in names}

    before = counts()
    load_demo(demo, customers=CUSTOMERS)
    assert counts() == before


def test_without_the_forecast_plugin_the_demo_has_no_snapshots(tmp_path: Path) -> None:
    config = load_factory(DEMO_FACTORY)
    config.plugins["forecast"] = False
    engine = _open(tmp_path / "plain.sqlite3", config)
    try:
        load_demo(engine, customers=30)
        report = kpi_report(engine)
        assert report["forecast_accuracy"] is None and report["rush_response_hours"] is not None
    finally:
        engine.close()


def test_too_few_customers_are_refused(tmp_path: Path) -> None:
    engine = _open(tmp_path / "tiny.sqlite3")
    try:
        with pytest.raises(InputError, match="at least 30"):
            load_demo(engine, customers=5)
    finally:
        engine.close()
