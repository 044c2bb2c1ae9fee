"""The KPI admin pages and their JSON, over the October records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crmflow.admin import create_app
from crmflow.plugins.kpi import take_snapshot
from crmflow.plugins.kpi.periods import Period
from tests.web.pages import sign_in

from .kpi_data import KpiEngine, load_month, make_factory

OCT = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1))

@pytest.fixture
def kpi_client(tmp_path: Path) -> Iterator[Any]:
    url = f"sqlite:///{tmp_path / 'web.sqlite3'}"
    loader = KpiEngine(url, make_factory())
    load_month(loader)
    take_snapshot(loader, OCT, kind="month", dimensions=[])
    loader.db.dispose()
    app = create_app({"TESTING": True, "DATABASE_URL": url, "WORKFLOWS": str(tmp_path)})
    client = app.test_client()
    sign_in(client, app.extensions["crmflow"], "mia", roles=("manager",))
    yield client
    app.extensions["crmflow"].close()


def test_report_json_is_the_cli_report(kpi_client: Any) -> None:
    got = kpi_client.get("/kpi/report.json?from=2026-10-01&to=2026-11-01&by=family").get_json()
    assert got["line_fill_rate"] == 0.6
    assert got["by"]["groups"]["valves"]["line_fill_rate"] == 0.5


def test_trend_json_reads_snapshots(kpi_client: Any) -> None:
    got = kpi_client.get("/kpi/trend.json?key=line_fill_rate").get_json()
    assert [(t["from"], t["value"]) for t in got] == [("2026-10-01", 0.6)]
    assert kpi_client.get("/kpi/trend.json").status_code == 400


def test_the_page_shows_values_and_trends(kpi_client: Any) -> None:
    page = kpi_client.get("/kpi/?from=2026-10-01&to=2026-11-01&by=department")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "line_fill_rate" in html and "60.0%" in html  # formatted for the language (en)
    assert "By department" in html


def test_bad_dates_are_a_400_that_says_why(kpi_client: Any) -> None:
    got = kpi_client.get("/kpi/report.json?from=2026-10-32")
    assert got.status_code == 400
    assert "from" in got.get_json()["error"]
