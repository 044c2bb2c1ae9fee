"""Pytest fixtures for plugin authors (loaded through the `pytest11` entry point)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

__all__ = ["FakeClock", "crmflow_clock", "crmflow_engine"]


class FakeClock:
    """A clock tests move by hand; pass it as ``Engine.open(clock=...)``."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self.now = self.now + (delta or timedelta(**kwargs))
        return self.now

    def set(self, moment: datetime) -> datetime:
        self.now = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return self.now


@pytest.fixture
def crmflow_clock() -> FakeClock:
    """A :class:`FakeClock` starting on Monday 2026-01-05 08:00 UTC."""
    return FakeClock()


@pytest.fixture
def crmflow_engine(tmp_path: Path, crmflow_clock: FakeClock) -> Iterator[Callable[..., Any]]:
    """Build an Engine on a temporary SQLite file: ``crmflow_engine(workflows=DIR,
    plugins=[my_plugin], factory=...)``. Entry-point plugins are not loaded unless
    ``load_entry_points=True``, so a plugin's tests see only what they register."""
    from crmflow.core.engine import Engine

    opened: list[Any] = []

    def make(**kwargs: Any) -> Any:
        kwargs.setdefault("database_url", f"sqlite:///{tmp_path / f'db{len(opened)}.sqlite3'}")
        kwargs.setdefault("clock", crmflow_clock)
        kwargs.setdefault("load_entry_points", False)
        engine = Engine.open(**kwargs)
        opened.append(engine)
        return engine

    yield make
    for engine in opened:
        engine.close()
