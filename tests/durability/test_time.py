"""Durable time on a fake clock: DST, missed timers, business calendar; dead letters; prune."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from crmflow.cli import cli
from crmflow.core.engine import Engine
from crmflow.core.factory import Calendar, FactoryConfig
from crmflow.testing import FakeClock

CRON = """\
workflow: nightly
version: 1
initial: watching
states:
  watching: {}
  closed: {final: true}
transitions:
  - {trigger: remind, from: watching}
  - {trigger: close, from: watching, to: closed}
timers:
  - {cron: "30 2 * * *", trigger: remind, in: [watching]}
"""

SLA = """\
workflow: sla
version: 1
initial: received
states:
  received: {deadline: 30m, on_timeout: escalate}
  working: {deadline: 4h, calendar: working, on_timeout: escalate}
  escalated: {}
  done: {final: true}
transitions:
  - {trigger: accept, from: received, to: working}
  - {trigger: escalate, from: [received, working], to: escalated}
  - {trigger: finish, from: [received, working, escalated], to: done}
"""


def _open(tmp_path: Path, clock: FakeClock, factory: FactoryConfig, **kwargs: Any) -> Engine:
    folder = tmp_path / "wf"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nightly.yaml").write_text(CRON)
    (folder / "sla.yaml").write_text(SLA)
    return Engine.open(
        f"sqlite:///{tmp_path / 'db.sqlite3'}", workflows=folder, factory=factory, clock=clock,
        load_entry_points=False, **kwargs,
    )  # fmt: skip


def _reminders(engine: Engine, iid: int, tz: ZoneInfo) -> list[str]:
    return [
        h.at.astimezone(tz).isoformat(timespec="minutes")
        for h in engine.get(iid).history
        if h.trigger == "remind"
    ]


@pytest.mark.parametrize(
    ("zone", "spring", "fall"),
    [
        ("Europe/Berlin", date(2026, 3, 29), date(2026, 10, 25)),
        ("America/New_York", date(2026, 3, 8), date(2026, 11, 1)),
    ],
)
def test_cron_fires_once_per_day_across_dst(
    tmp_path: Path, zone: str, spring: date, fall: date
) -> None:
    tz = ZoneInfo(zone)
    for day in (spring, fall):
        start = datetime.combine(day - timedelta(days=1), datetime.min.time(), tz).replace(
            hour=12
        )
        clock = FakeClock(start.astimezone(UTC))
        engine = _open(tmp_path / day.isoformat(), clock, FactoryConfig(timezone=tz))
        try:
            iid = engine.start("nightly")
            # Tick every 10 minutes for three days, as a scheduler would.
            for _ in range(3 * 24 * 6):
                clock.advance(minutes=10)
                engine.tick()
            fired = _reminders(engine, iid, tz)
        finally:
            engine.close()
        days = [f[:10] for f in fired]
        assert days == [(day + timedelta(days=n)).isoformat() for n in range(3)], fired
        # Every day's reminder is at 02:30 wall time, except a skipped 02:30 (spring forward),
        # which runs once, shifted by the gap.
        assert fired[0][11:16] == ("03:30" if day == spring else "02:30"), fired
        assert all(f[11:16] == "02:30" for f in fired[1:]), fired


def test_missed_deadline_fires_late_once_and_logs_how_late(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    engine = _open(tmp_path, clock, FactoryConfig())
    try:
        iid = engine.start("sla")
        watcher = engine.start("nightly")
        clock.advance(days=3)  # no worker ran for three days
        with caplog.at_level(logging.WARNING, logger="crmflow.scheduler"):
            fired = engine.tick()
        assert fired == 2  # the deadline once, and the missed cron nights coalesced into one
        assert engine.tick() == 0
        inst = engine.get(iid)
        assert inst.state == "escalated"
        assert [h.trigger for h in inst.history] == ["start", "escalate"]
        assert [h.trigger for h in engine.get(watcher).history] == ["start", "remind"]
        # The cron is armed again for the next night, not for the missed ones.
        assert engine.get(watcher).timers[0].due == datetime(2026, 1, 9, 2, 30, tzinfo=UTC)
        assert any("late" in r.getMessage() and "2 days" in r.getMessage() for r in caplog.records)
    finally:
        engine.close()


def test_deadline_counts_working_hours_of_the_factory_calendar(tmp_path: Path) -> None:
    tz = ZoneInfo("Europe/Berlin")
    calendar = Calendar(
        working_days=frozenset(range(5)),
        hours=((datetime.min.time().replace(hour=8), datetime.min.time().replace(hour=17)),),
        holidays=frozenset({date(2026, 1, 12)}),  # the Monday after
    )
    # Friday 2026-01-09 15:00 in Berlin: 2 working hours left that day.
    clock = FakeClock(datetime(2026, 1, 9, 15, 0, tzinfo=tz).astimezone(UTC))
    engine = _open(tmp_path, clock, FactoryConfig(timezone=tz, calendar=calendar))
    try:
        iid = engine.start("sla")
        assert engine.fire(iid, "accept").taken
        due = engine.get(iid).timers[0].due
        # 2h on Friday, weekend and the Monday holiday skipped, 2h on Tuesday.
        assert due == datetime(2026, 1, 13, 10, 0, tzinfo=tz)
        assert engine.tick(now=datetime(2026, 1, 13, 9, 59, tzinfo=tz)) == 0
        assert engine.get(iid).state == "working"
        assert engine.tick(now=datetime(2026, 1, 13, 10, 0, tzinfo=tz)) == 1
        assert engine.get(iid).state == "escalated"
    finally:
        engine.close()


def test_action_failing_five_times_is_dead_lettered_and_cli_retry_succeeds(
    tmp_path: Path, plugin: ModuleType, plugin_file: Path, crash_workflows: Path
) -> None:
    from click.testing import CliRunner

    url = f"sqlite:///{tmp_path / 'dl.sqlite3'}"
    clock = FakeClock()
    engine = Engine.open(
        url, workflows=crash_workflows, clock=clock, plugins=[plugin], load_entry_points=False,
        inline_outbox=False,
    )  # fmt: skip
    try:
        plugin.create_tables(engine.db)
        plugin.set_broken(engine.db, True)
        iid = engine.start("po")
        assert engine.fire(iid, "order").taken  # the transition commits; the call is queued
        for _ in range(10):
            engine.run_outbox()
            clock.advance(hours=2)  # past any backoff
        with engine.db.connect() as conn:
            row = conn.execute(sa.text("SELECT id, status, attempts, last_error FROM outbox")).one()
        assert (row.status, row.attempts) == ("dead", 5)
        assert "ERP unreachable" in row.last_error
        runner = CliRunner()
        listed = runner.invoke(
            cli, ["outbox", "list", "--status", "dead", "--json", "--db", url,
                  "--workflows", str(crash_workflows), "--plugin", str(plugin_file)],
        )  # fmt: skip
        assert listed.exit_code == 0, listed.output
        dead = json.loads(listed.output)
        assert [d["id"] for d in dead] == [row.id] and "ERP unreachable" in dead[0]["last_error"]
        plugin.set_broken(engine.db, False)  # the ERP is back
        retried = runner.invoke(
            cli, ["outbox", "retry", str(row.id), "--db", url, "--workflows",
                  str(crash_workflows), "--plugin", str(plugin_file)],
        )  # fmt: skip
        assert retried.exit_code == 0, retried.output
        assert f"outbox {row.id}: done" in retried.output
        with engine.db.connect() as conn:
            effects = conn.execute(sa.text("SELECT key, n, calls FROM durability_effects")).all()
        assert [(e.n, e.calls) for e in effects] == [(7, 1)]
    finally:
        engine.close()


def test_prune_archives_finished_instances_and_never_touches_open_ones(tmp_path: Path) -> None:
    from click.testing import CliRunner

    # `crmflow prune` runs on the real clock: date the instances relative to it.
    clock = FakeClock(datetime.now(UTC) - timedelta(days=200))
    engine = _open(tmp_path, clock, FactoryConfig())
    try:
        old_done = engine.start("sla")
        assert engine.fire(old_done, "finish").taken
        old_open = engine.start("sla")
        clock.advance(days=150)
        new_done = engine.start("sla")
        assert engine.fire(new_done, "finish").taken
    finally:
        engine.close()
    archive = tmp_path / "archive.jsonl"
    result = CliRunner().invoke(
        cli, ["prune", "--older-than", "90d", "--archive", str(archive), "--json",
              "--db", f"sqlite:///{tmp_path / 'db.sqlite3'}", "--workflows", str(tmp_path / "wf")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert (counts["instances"], counts["history"]) == (1, 2)
    lines = [json.loads(line) for line in archive.read_text().splitlines()]
    assert [line["id"] for line in lines] == [old_done]
    assert [h["trigger"] for h in lines[0]["history"]] == ["start", "finish"]
    engine = _open(tmp_path, clock, FactoryConfig())
    try:
        # The open instance is older than the finished one that was pruned, and stays.
        assert {i.id for i in engine.list()} == {old_open, new_done}
        assert [h.trigger for h in engine.get(old_open).history] == ["start"]
    finally:
        engine.close()
