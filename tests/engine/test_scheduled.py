"""Worker rounds run plugins' scheduled jobs through the `run_scheduled` hook."""

from __future__ import annotations

import logging
import types
from datetime import timedelta

from crmflow import hookimpl
from crmflow.core.engine.worker import Worker


def _plugin(name: str, calls: list, fail: bool = False) -> types.ModuleType:
    module = types.ModuleType(name)

    @hookimpl
    def run_scheduled(engine, now):
        calls.append((name, now))
        if fail:
            raise RuntimeError("export server down")

    module.run_scheduled = run_scheduled
    return module


def test_each_round_runs_every_plugins_job_and_a_failure_stops_none(
    make_engine, clock, caplog
):
    calls: list = []
    engine = make_engine(plugins=[_plugin("broken", calls, fail=True), _plugin("good", calls)])
    worker = Worker(engine)

    with caplog.at_level(logging.ERROR, logger="crmflow.worker"):
        worker.run_once()
        clock.advance(timedelta(minutes=1))
        worker.run_once()

    assert sorted(name for name, _ in calls) == ["broken", "broken", "good", "good"]
    assert {now for _, now in calls} == {clock.now - timedelta(minutes=1), clock.now}
    assert "scheduled job of plugin broken failed" in caplog.text
