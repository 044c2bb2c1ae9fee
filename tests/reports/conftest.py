"""Fixtures of the reports tests: a small hand-computed factory on a fake clock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crmflow.core.factory import FactoryConfig
from crmflow.testing import FakeClock

from .sop_data import NOW, ORDER_YAML, load_small


@pytest.fixture
def sop_clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def make_sop(crmflow_engine: Callable[..., Any], tmp_path: Path,
             sop_clock: FakeClock) -> Callable[..., Any]:  # fmt: skip
    """``make_sop(settings=…, plugins=…)``: an engine on the small factory's data."""

    def make(**factory: Any) -> Any:
        folder = tmp_path / "workflows"
        folder.mkdir(exist_ok=True)
        (folder / "order.yaml").write_text(ORDER_YAML.read_text())
        config = FactoryConfig(name="small", title="Small Works", **factory)
        engine = crmflow_engine(workflows=folder, factory=config, clock=sop_clock)
        load_small(engine)
        return engine

    return make


@pytest.fixture
def sop(make_sop: Callable[..., Any]) -> Any:
    return make_sop()
