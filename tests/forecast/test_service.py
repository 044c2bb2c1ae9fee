"""Snapshots, accuracy, champions and the accuracy event on a temporary SQLite database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from crmflow.core.domain.records import Customer, Order, OrderLine, Product
from crmflow.plugins.forecast.records import FORECAST_TABLES
from crmflow.plugins.forecast.service import (
    accuracy_report,
    daily_forecast,
    record_accuracy,
    run_forecast,
)

UTC = dt.UTC


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'f.sqlite3'}")
    tables = [Customer.__table__, Product.__table__, Order.__table__, OrderLine.__table__]  # type: ignore[attr-defined]
    SQLModel.metadata.create_all(engine, tables=tables + FORECAST_TABLES)
    with engine.begin() as conn:
        conn.execute(Customer.__table__.insert(), [  # type: ignore[attr-defined]
            {"customer_id": "c1", "name": "A", "industry": "auto", "size": "L", "region": "N",
             "segment": "oem"},
            {"customer_id": "c2", "name": "B", "industry": "auto", "size": "S", "region": "S",
             "segment": "aftermarket"},
        ])  # fmt: skip
        conn.execute(Product.__table__.insert(), [  # type: ignore[attr-defined]
            {"sku": s, "name": s, "family": "brackets", "kind": "made", "unit_cost": 1.0,
             "lead_time_days": 14, "lot_size": 1.0, "safety_stock": 0.0, "reorder_qty": 0.0}
            for s in ("S1", "S2")
        ])  # fmt: skip
    yield engine
    engine.dispose()


def _order(conn: sa.Connection, oid: str, cust: str, sku: str, day: dt.date, qty: float) -> None:
    conn.execute(
        Order.__table__.insert().values(  # type: ignore[attr-defined]
            order_id=oid, customer_id=cust, order_date=day, priority="normal", status="confirmed"
        )
    )
    conn.execute(
        OrderLine.__table__.insert().values(  # type: ignore[attr-defined]
            order_id=oid, sku=sku, quantity=qty, unit_price=1.0, requested_date=day, status="open"
        )
    )


def _history(db: sa.Engine, months: int, level: float = 100.0) -> None:
    with db.begin() as conn:
        for k in range(months):
            day = dt.date(2022 + k // 12, k % 12 + 1, 10)
            _order(conn, f"o{k}a", "c1", "S1", day, level + (k % 12) * 2)
            _order(conn, f"o{k}b", "c2", "S1", day, level / 2)
            _order(conn, f"o{k}c", "c1", "S2", day, 20.0)


def test_snapshot_accuracy_event_and_daily(db: sa.Engine) -> None:
    _history(db, 36)  # 2022-01 .. 2024-12
    snap = run_forecast(db, now=dt.datetime(2024, 12, 20, tzinfo=UTC), horizon=4)
    assert snap is not None
    with db.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT sku, period_start, lag, value FROM forecast_values WHERE snapshot_id = :s "
            "ORDER BY sku, period_start"), {"s": snap}).all()  # fmt: skip
        champ = conn.execute(sa.text("SELECT model, reason FROM forecast_champions "
                                     "WHERE sku = 'S1'")).one()  # fmt: skip
    assert [str(r.period_start) for r in rows[:4]] == [
        "2024-12-01", "2025-01-01", "2025-02-01", "2025-03-01"]  # fmt: skip
    assert [r.lag for r in rows[:4]] == [0, 1, 2, 3]
    assert champ.reason
    # January turns out at a third of the usual demand for S1.
    with db.begin() as conn:
        _order(conn, "jan", "c1", "S1", dt.date(2025, 1, 10), 50.0)
        _order(conn, "jan2", "c1", "S2", dt.date(2025, 1, 12), 20.0)
    seen: list[tuple[str, dict]] = []
    events = record_accuracy(db, now=dt.datetime(2025, 2, 3, tzinfo=UTC), threshold=0.8,
                             emit=lambda e, p: seen.append((e, p)))  # fmt: skip
    assert [e for e, _ in seen] == ["forecast.accuracy_dropped"]
    assert events[0]["sku"] == "S1" and events[0]["threshold"] == 0.8
    assert events[0]["accuracy"] < 0.8
    # A second check does not repeat the event while the SKU stays below.
    assert record_accuracy(db, now=dt.datetime(2025, 2, 4, tzinfo=UTC), threshold=0.8) == []
    by_sku = {r["sku"]: r for r in accuracy_report(db, by="sku")}
    assert by_sku["S2"]["accuracy"] == pytest.approx(1.0, abs=0.02)
    assert by_sku["S1"]["bias"] > 0
    assert {r["segment"] for r in accuracy_report(db, by="segment")} == {"oem", "aftermarket"}
    assert accuracy_report(db, by="family")[0]["family"] == "brackets"
    daily = daily_forecast(db, ["S2"], dt.date(2025, 1, 1), 3)
    assert daily is not None and daily["S2"][0] == pytest.approx(20.0 / 31, rel=0.05)


def test_no_history_no_snapshot(db: sa.Engine) -> None:
    assert run_forecast(db, now=dt.datetime(2024, 1, 1, tzinfo=UTC)) is None
    assert daily_forecast(db, ["S1"], dt.date(2024, 1, 1), 2) is None
