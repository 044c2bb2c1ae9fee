"""The same figures on PostgreSQL as on SQLite: period arithmetic, percentiles, snapshots."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from crmflow.plugins.kpi import kpi_report, take_snapshot
from crmflow.plugins.kpi.periods import Period

from .kpi_data import KpiEngine, load_forecasts, load_month, make_factory

pytestmark = pytest.mark.postgres

OCT = (dt.date(2026, 10, 1), dt.date(2026, 11, 1))


def _loaded(url: str) -> KpiEngine:
    engine = KpiEngine(url, make_factory())
    load_month(engine)
    load_forecasts(engine)
    return engine


@pytest.mark.parametrize("by", [None, "department", "segment", "family", "sku"])
def test_postgres_gives_the_sqlite_figures(pg_url: str, tmp_path: Path, by: str | None) -> None:
    lite = _loaded(f"sqlite:///{tmp_path / 'k.sqlite3'}")
    pg = _loaded(pg_url)
    try:
        assert kpi_report(pg, *OCT, by=by) == kpi_report(lite, *OCT, by=by)
        if by is None:
            assert kpi_report(pg, *OCT)["delivery_lead_time_days_p90"] == pytest.approx(28.8)
    finally:
        pg.db.dispose()


def test_snapshots_on_postgres(pg_url: str) -> None:
    pg = _loaded(pg_url)
    try:
        first = take_snapshot(pg, Period(*OCT), kind="month", dimensions=["family"])
        again = take_snapshot(pg, Period(*OCT), kind="month", dimensions=["family"])
        assert first.rows == again.rows == 13 * 4
        assert again.totals["line_fill_rate"] == 0.6
    finally:
        pg.db.dispose()
