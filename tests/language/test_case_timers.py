"""Case timers: `since:` across states (and a restart), `every:`/`max:` reminders."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

SLA = """\
workflow: sla
version: 1
initial: received
states:
  received: {}
  checking: {}
  waiting:
    deadline: 8h
    on_timeout: escalate
  done: {final: true}
transitions:
  - {trigger: check, from: received, to: checking}
  - {trigger: wait, from: checking, to: waiting}
  - {trigger: back, from: waiting, to: checking}
  - {trigger: sla_missed, from: [received, checking, waiting]}
  - {trigger: remind, from: waiting}
  - {trigger: escalate, from: waiting}
  - {trigger: finish, from: [received, checking, waiting], to: done}
timers:
  - after: 4h
    since: start
    trigger: sla_missed
    in: [received, checking, waiting]
  - every: 2h
    max: 3
    trigger: remind
    in: [waiting]
"""


@pytest.fixture
def sla_dir(workflows_dir: Path) -> Path:
    (workflows_dir / "sla.yaml").write_text(SLA)
    return workflows_dir


def _triggers(engine, iid):
    return [h.trigger for h in engine.get(iid).history]


def test_a_since_start_timer_survives_moves_and_a_restart(make_engine, sla_dir, clock):
    engine = make_engine(workflows=sla_dir)
    start = clock()
    iid = engine.start("sla")
    clock.advance(hours=1)
    engine.fire(iid, "check")
    clock.advance(hours=1)
    engine.fire(iid, "wait")
    clock.advance(hours=1)
    engine.fire(iid, "back")
    due = [t.due for t in engine.get(iid).timers if t.trigger == "sla_missed"]
    assert due == [start + timedelta(hours=4)]  # not re-armed by the moves
    engine.close()
    restarted = make_engine(workflows=sla_dir)  # a new process on the same database
    assert restarted.tick(now=start + timedelta(hours=3, minutes=59)) == 0
    assert restarted.tick(now=start + timedelta(hours=4)) == 1
    assert _triggers(restarted, iid).count("sla_missed") == 1
    # moving again between its states does not fire it a second time
    clock.set(start + timedelta(hours=5))
    restarted.fire(iid, "wait")
    restarted.fire(iid, "back")
    assert restarted.tick(now=start + timedelta(hours=6)) == 0
    assert _triggers(restarted, iid).count("sla_missed") == 1


def test_every_reminds_without_resetting_the_deadline_at_most_max_times(
    make_engine, sla_dir, clock
):
    engine = make_engine(workflows=sla_dir)
    iid = engine.start("sla")
    engine.fire(iid, "check")
    engine.fire(iid, "wait")
    entered = clock()
    for hours in (2, 4, 6, 8):
        engine.tick(now=entered + timedelta(hours=hours))
    triggers = _triggers(engine, iid)
    assert triggers.count("remind") == 3  # max: 3
    assert triggers.count("escalate") == 1  # the reminders did not re-arm the deadline
    assert triggers.count("sla_missed") == 1


def test_every_periods_missed_while_no_worker_ran_fire_once(make_engine, sla_dir, clock):
    engine = make_engine(workflows=sla_dir)
    iid = engine.start("sla")
    engine.fire(iid, "check")
    engine.fire(iid, "wait")
    entered = clock()
    assert engine.tick(now=entered + timedelta(hours=5)) >= 1
    assert _triggers(engine, iid).count("remind") == 1
    nxt = [t.due for t in engine.get(iid).timers if t.trigger == "remind"]
    assert nxt == [entered + timedelta(hours=6)]


def test_since_a_state_counts_from_its_first_entry(make_engine, workflows_dir, clock):
    (workflows_dir / "since.yaml").write_text(
        SLA.replace("workflow: sla", "workflow: since").replace(
            "    since: start\n    trigger: sla_missed\n    in: [received, checking, waiting]",
            "    since: checking\n    trigger: sla_missed\n    in: [checking, waiting]",
        )
)
    engine = make_engine(workflows=workflows_dir)
    start = clock()
    iid = engine.start("since")
    clock.advance(hours=1)
    engine.fire(iid, "check")  # first entry into `checking`: the count starts here
    clock.advance(hours=1)
    engine.fire(iid, "wait")
    clock.advance(hours=1)
    engine.fire(iid, "back")  # entering `checking` again does not move it
    due = [t.due for t in engine.get(iid).timers if t.trigger == "sla_missed"]
    assert due == [start + timedelta(hours=5)]
    assert engine.tick(now=start + timedelta(hours=5)) == 1
    assert [h.trigger for h in engine.get(iid).history].count("sla_missed") == 1


def test_every_keeps_counting_across_moves_between_its_states(make_engine, workflows_dir, clock):
    (workflows_dir / "ping.yaml").write_text(
        "workflow: ping\nversion: 1\ninitial: a\n"
        "states:\n  a: {}\n  b: {}\n  done: {final: true}\n"
        "transitions:\n  - {trigger: swap, from: a, to: b}\n  - {trigger: swap, from: b, to: a}\n"
        "  - {trigger: remind, from: [a, b]}\n  - {trigger: finish, from: [a, b], to: done}\n"
        "timers:\n  - {every: 2h, max: 2, trigger: remind, in: [a, b]}\n"
)
    engine = make_engine(workflows=workflows_dir)
    start = clock()
    iid = engine.start("ping")
    clock.advance(hours=1)
    engine.fire(iid, "swap")  # a -> b: the 2h period still ends at start + 2h
    assert [t.due for t in engine.get(iid).timers] == [start + timedelta(hours=2)]
    engine.tick(now=start + timedelta(hours=2))
    clock.set(start + timedelta(hours=3))
    engine.fire(iid, "swap")  # b -> a: the second (last) reminder stays at start + 4h
    assert [(t.name, t.due) for t in engine.get(iid).timers] == [
        ("every:0:2", start + timedelta(hours=4))
    ]
    engine.tick(now=start + timedelta(hours=8))
    assert [h.trigger for h in engine.get(iid).history].count("remind") == 2
    assert engine.get(iid).timers == []


def test_since_a_state_is_not_armed_before_the_instance_entered_that_state(
    make_engine, workflows_dir, clock
):
    # `waiting` can be reached without passing `checking`: the count has not begun
    (workflows_dir / "since.yaml").write_text(
        SLA.replace("workflow: sla", "workflow: since")
        .replace("{trigger: wait, from: checking,", "{trigger: wait, from: [received, checking],")
        .replace(
            "    since: start\n    trigger: sla_missed\n    in: [received, checking, waiting]",
            "    since: checking\n    trigger: sla_missed\n    in: [checking, waiting]",
        )
)
    engine = make_engine(workflows=workflows_dir)
    start = clock()
    iid = engine.start("since")
    engine.fire(iid, "wait")
    assert [t.trigger for t in engine.get(iid).timers if t.trigger == "sla_missed"] == []
    engine.tick(now=start + timedelta(hours=5))
    assert "sla_missed" not in _triggers(engine, iid)
    clock.set(start + timedelta(hours=6))
    engine.fire(iid, "back")  # first entry into `checking`: from here on
    due = [t.due for t in engine.get(iid).timers if t.trigger == "sla_missed"]
    assert due == [start + timedelta(hours=10)]


def test_migrating_to_a_renamed_state_keeps_a_since_start_timer_counting_from_the_start(
    make_engine, sla_dir, clock
):
    engine = make_engine(workflows=sla_dir)
    start = clock()
    iid = engine.start("sla")
    clock.advance(hours=1)
    engine.fire(iid, "check")
    clock.advance(hours=1)
    (sla_dir / "sla_v2.yaml").write_text(
        SLA.replace("version: 1", "version: 2").replace("checking", "verifying")
)
    engine2 = make_engine(workflows=sla_dir)
    report = engine2.migrate_instances("sla", 2, {"checking": "verifying"})
    assert [m["id"] for m in report.moved] == [iid]
    due = [t.due for t in engine2.get(iid).timers if t.trigger == "sla_missed"]
    assert due == [start + timedelta(hours=4)]


LANES = (
    "workflow: lanes\nversion: 1\ninitial: checks\n"
    "states:\n"
    "  checks:\n"
    "    parallel:\n"
    "      cap:\n"
    "        initial: pending\n"
    "        states: {pending: {}, waiting: {}, ok: {final: true}}\n"
    "      credit:\n"
    "        initial: pending\n"
    "        states: {pending: {}, ok: {final: true}}\n"
    "    on_done: done\n"
    "  done: {final: true}\n"
    "transitions:\n"
    "  - {trigger: wait, from: checks.cap.pending, to: checks.cap.waiting}\n"
    "  - {trigger: cap_ok, from: checks.cap.waiting, to: checks.cap.ok}\n"
    "  - {trigger: credit_ok, from: checks.credit.pending, to: checks.credit.ok}\n"
    "  - {trigger: remind, from: [checks.cap.pending, checks.cap.waiting]}\n"
    "timers:\n"
    "  - {every: 30m, max: 2, trigger: remind, in: [checks.cap.pending, checks.cap.waiting]}\n"
)


def test_every_in_a_region_keeps_counting_across_moves_between_its_states(
    make_engine, workflows_dir, clock
):
    (workflows_dir / "lanes.yaml").write_text(LANES)
    engine = make_engine(workflows=workflows_dir)
    start = clock()
    iid = engine.start("lanes")
    clock.advance(minutes=20)
    engine.fire(iid, "wait")  # still in the timer's states: the period ends at start + 30m
    assert [t.due for t in engine.get(iid).timers] == [start + timedelta(minutes=30)]
    assert engine.tick(now=start + timedelta(minutes=30)) == 1
    assert [t.due for t in engine.get(iid).timers] == [start + timedelta(hours=1)]


def _reminded_twice(make_engine, sla_dir, clock):
    """An `sla` instance in `waiting` whose reminder (max 3) fired twice; when it entered."""
    engine = make_engine(workflows=sla_dir)
    iid = engine.start("sla")
    engine.fire(iid, "check")
    engine.fire(iid, "wait")
    entered = clock()
    engine.tick(now=entered + timedelta(hours=2))
    engine.tick(now=entered + timedelta(hours=4))
    assert _triggers(engine, iid).count("remind") == 2
    return engine, iid, entered


def test_migrating_keeps_an_every_timer_counting_towards_max(make_engine, sla_dir, clock):
    engine, iid, entered = _reminded_twice(make_engine, sla_dir, clock)
    clock.set(entered + timedelta(hours=5))
    (sla_dir / "sla_v2.yaml").write_text(SLA.replace("version: 1", "version: 2"))
    engine2 = make_engine(workflows=sla_dir)
    assert [m["id"] for m in engine2.migrate_instances("sla", 2).moved] == [iid]
    assert [(t.name, t.due) for t in engine2.get(iid).timers if t.trigger == "remind"] == [
        ("every:1:3", entered + timedelta(hours=6))
    ]
    for hours in (6, 8, 10, 12, 14):
        engine2.tick(now=entered + timedelta(hours=hours))
    assert _triggers(engine2, iid).count("remind") == 3  # max: 3 in all, not 2 + 3


def test_migrating_to_a_mapped_state_keeps_an_exhausted_every_timer_quiet(
    make_engine, sla_dir, clock
):
    engine, iid, entered = _reminded_twice(make_engine, sla_dir, clock)
    engine.tick(now=entered + timedelta(hours=6))
    assert _triggers(engine, iid).count("remind") == 3
    clock.set(entered + timedelta(hours=7))
    # version 2 renames `waiting` and lists the reminder first (another timer index)
    head, _, timers = SLA.replace("version: 1", "version: 2").partition("timers:\n")
    since, every = timers.split("  - every:")
    (sla_dir / "sla_v2.yaml").write_text(
        (head + "timers:\n  - every:" + every + since).replace("waiting", "pending")
)
    engine2 = make_engine(workflows=sla_dir)
    report = engine2.migrate_instances("sla", 2, {"waiting": "pending"})
    assert [m["id"] for m in report.moved] == [iid]
    assert [t for t in engine2.get(iid).timers if t.trigger == "remind"] == []
    for hours in (8, 10, 12, 14):
        engine2.tick(now=entered + timedelta(hours=hours))
    assert _triggers(engine2, iid).count("remind") == 3


def test_migrating_keeps_an_every_timer_of_a_region_counting(make_engine, workflows_dir, clock):
    (workflows_dir / "lanes.yaml").write_text(LANES)
    engine = make_engine(workflows=workflows_dir)
    start = clock()
    iid = engine.start("lanes")
    assert engine.tick(now=start + timedelta(minutes=30)) == 1
    clock.set(start + timedelta(minutes=40))
    (workflows_dir / "lanes_v2.yaml").write_text(LANES.replace("version: 1", "version: 2"))
    engine2 = make_engine(workflows=workflows_dir)
    assert [m["id"] for m in engine2.migrate_instances("lanes", 2).moved] == [iid]
    assert [(t.name, t.due) for t in engine2.get(iid).timers] == [
        ("every:0:2", start + timedelta(hours=1))
    ]
    for minutes in (60, 90, 120):
        engine2.tick(now=start + timedelta(minutes=minutes))
    assert _triggers(engine2, iid).count("remind") == 2


def test_since_on_a_region_state_counts_from_start_or_the_named_states_first_entry(
    make_engine, workflows_dir, clock
):
    (workflows_dir / "zones.yaml").write_text(
        LANES.replace("workflow: lanes", "workflow: zones")
        .replace("initial: checks\n", "initial: intake\n")
        .replace("states:\n  checks:\n", "states:\n  intake: {}\n  checks:\n", 1)
        .replace("transitions:\n", "transitions:\n  - {trigger: go, from: intake, to: checks}\n")
        .replace("  - {trigger: remind,", "  - {trigger: slow, from: checks.cap.waiting}\n"
                 "  - {trigger: late,")
        .split("timers:\n")[0]
        + "timers:\n"
        "  - {after: 4h, since: start, trigger: late,"
        " in: [checks.cap.pending, checks.cap.waiting]}\n"
        "  - {after: 3h, since: checks.cap.pending, trigger: slow, in: [checks.cap.waiting]}\n"
    )
    engine = make_engine(workflows=workflows_dir)
    start = clock()
    iid = engine.start("zones")
    clock.advance(hours=1)
    engine.fire(iid, "go")  # enters checks.cap.pending: `since: start` still counts from start
    assert [(t.trigger, t.due) for t in engine.get(iid).timers] == [
        ("late", start + timedelta(hours=4))
    ]
    clock.advance(hours=1)
    engine.fire(iid, "wait")  # `since: checks.cap.pending`: from its first entry, at 1h
    assert sorted((t.trigger, t.due) for t in engine.get(iid).timers) == [
        ("late", start + timedelta(hours=4)), ("slow", start + timedelta(hours=4))
    ]
    assert engine.tick(now=start + timedelta(hours=4)) == 2
    triggers = _triggers(engine, iid)
    assert (triggers.count("late"), triggers.count("slow")) == (1, 1)
