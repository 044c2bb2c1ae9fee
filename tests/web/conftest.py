"""Web fixtures: the demo factory loaded once per session, copied for each test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crmflow.testing import FakeClock

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo" / "factory.yaml"


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from crmflow.core.domain.demo import load_demo
    from crmflow.core.engine import Engine

    path = tmp_path_factory.mktemp("demo") / "demo.sqlite3"
    engine = Engine.open(f"sqlite:///{path}", factory=str(DEMO))
    load_demo(engine, seed=7)
    engine.close()
    return path


@pytest.fixture
def web_clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def demo_app(demo_template: Path, tmp_path: Path, web_clock: FakeClock) -> Iterator[Any]:
    from crmflow.admin import create_app
    from crmflow.core.engine import Engine

    path = tmp_path / "demo.sqlite3"
    shutil.copy(demo_template, path)
    engine = Engine.open(f"sqlite:///{path}", factory=str(DEMO), clock=web_clock)
    app = create_app({"TESTING": True, "ENGINE": engine, "SECRET_KEY": "test"})
    yield app
    live = app.extensions.get("crmflow.live")
    if live is not None:
        live.stop()
    engine.close()


@pytest.fixture
def demo_engine(demo_app: Any) -> Any:
    return demo_app.extensions["crmflow"]


@pytest.fixture
def web(demo_app: Any) -> Any:
    return demo_app.test_client()
