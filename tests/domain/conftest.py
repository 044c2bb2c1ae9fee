"""Fixtures of the domain tests: a migrated database and a small factory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from crmflow.core.store import make_db, migrate

NOW = dt.datetime(2024, 3, 4, 9, 0, tzinfo=dt.UTC)


class RecordingEngine:
    """The slice of the Engine the domain services use, recording emitted events."""

    def __init__(self, url: str) -> None:
        self.db = make_db(url)
        migrate(self.db)
        self.clock = NOW
        self.events: list[tuple[str, dict[str, Any], str | None]] = []
        self.settings: dict[str, Any] = {}

    def now(self) -> dt.datetime:
        return self.clock

    def emit(
        self, event: str, payload: dict[str, Any], *, key: str | None = None, actor: str = "system"
    ) -> None:
        self.events.append((event, payload, key))


@pytest.fixture
def deng(tmp_path: Path) -> RecordingEngine:
    return RecordingEngine(f"sqlite:///{tmp_path / 'domain.sqlite3'}")


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path
