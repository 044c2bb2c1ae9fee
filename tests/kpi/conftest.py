"""Fixtures of the KPI tests: a migrated database, with or without the October records."""

from __future__ import annotations

from pathlib import Path

import pytest

from .kpi_data import KpiEngine, load_month, make_factory


@pytest.fixture
def kengine(tmp_path: Path) -> KpiEngine:
    return KpiEngine(f"sqlite:///{tmp_path / 'kpi.sqlite3'}", make_factory())


@pytest.fixture
def month(kengine: KpiEngine) -> KpiEngine:
    load_month(kengine)
    return kengine
