"""Parallel states: regions entered together, deadlines per region, join all/any/N, leaving."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from crmflow.cli import cli

from .conftest import factory

CHECKS = """\
workflow: checks
version: 1
initial: received
states:
  received: {{}}
  checks:
    deadline: 4h
    on_timeout: overdue
    parallel:
      capacity:
        initial: pending
        states:
          pending: {{owner: planner, deadline: 30m, on_timeout: capacity_late}}
          late: {{owner: manager}}
          ok: {{final: true}}
      material:
        initial: pending
        states:
          pending: {{owner: planner, deadline: 2h, on_timeout: material_late}}
          ok: {{final: true}}
      credit:
        initial: pending
        states:
          pending: {{owner: finance, deadline: 1h, on_timeout: credit_late}}
          ok: {{final: true}}
    join: {join}
    on_done: ready
  ready: {{}}
  rejected: {{final: true}}
  done: {{final: true}}
transitions:
  - {{trigger: accept, from: received, to: checks}}
  - {{trigger: capacity_late, from: checks.capacity.pending, to: checks.capacity.late}}
  - {{trigger: capacity_ok, from: [checks.capacity.pending, checks.capacity.late],
     to: checks.capacity.ok}}
  - {{trigger: material_late, from: checks.material.pending}}
  - {{trigger: material_ok, from: checks.material.pending, to: checks.material.ok}}
  - {{trigger: credit_late, from: checks.credit.pending}}
  - {{trigger: credit_ok, from: checks.credit.pending, to: checks.credit.ok, roles: [finance]}}
  - {{trigger: goods_ok, from: checks.capacity.pending, to: checks.capacity.ok}}
  - {{trigger: goods_ok, from: checks.material.pending, to: checks.material.ok}}
  - {{trigger: overdue, from: checks}}
  - {{trigger: reject, from: checks, to: rejected}}
  - {{trigger: no_capacity, from: checks.capacity.pending, to: rejected}}
  - {{trigger: finish, from: ready, to: done}}
"""


def _engine(make_engine, workflows_dir: Path, join: str = "all"):
    (workflows_dir / "checks.yaml").write_text(CHECKS.format(join=join))
    engine = make_engine(workflows=workflows_dir, factory=factory())
    iid = engine.start("checks", actor="erin")
    assert engine.fire(iid, "accept").state == "checks"
    return engine, iid


def _timers(engine, iid) -> dict[str, str]:
    return {t.trigger: t.due.isoformat() for t in engine.get(iid).timers}


def _moves(engine, iid) -> list[tuple[str, str | None, str]]:
    return [(h.trigger, h.from_state, h.to_state) for h in engine.get(iid).history]


def test_entering_starts_every_region_and_arms_each_deadline(make_engine, workflows_dir, clock):
    engine, iid = _engine(make_engine, workflows_dir)
    shown = engine.get(iid).as_json()
    assert shown["state"] == "checks"
    assert shown["regions"] == {"capacity": "pending", "material": "pending", "credit": "pending"}
    at = clock.now
    assert _timers(engine, iid) == {
        "capacity_late": (at + timedelta(minutes=30)).isoformat(),
        "credit_late": (at + timedelta(hours=1)).isoformat(),
        "material_late": (at + timedelta(hours=2)).isoformat(),
        "overdue": (at + timedelta(hours=4)).isoformat(),
    }
    # not in a parallel state: regions is empty
    other = engine.start("checks")
    assert engine.get(other).as_json()["regions"] == {}


def test_a_region_deadline_moves_only_its_region(make_engine, workflows_dir, clock):
    engine, iid = _engine(make_engine, workflows_dir)
    assert engine.tick(now=clock.now + timedelta(minutes=31)) == 1
    inst = engine.get(iid)
    assert inst.regions == {"capacity": "late", "material": "pending", "credit": "pending"}
    assert _moves(engine, iid)[-1] == (
        "capacity_late",
        "checks.capacity.pending",
        "checks.capacity.late",
    )
    # the other regions' deadlines and the parallel state's own deadline stay armed
    assert set(_timers(engine, iid)) == {"credit_late", "material_late", "overdue"}
    assert engine.tick(now=clock.now + timedelta(minutes=61)) == 1
    assert engine.get(iid).regions["credit"] == "pending"  # internal: the region stays
    assert set(_timers(engine, iid)) == {"material_late", "overdue"}


def test_join_all_enters_on_done_when_every_region_is_done(make_engine, workflows_dir):
    engine, iid = _engine(make_engine, workflows_dir)
    assert engine.fire(iid, "capacity_ok").state == "checks"
    assert engine.fire(iid, "material_ok").state == "checks"
    refused = engine.fire(iid, "credit_ok", actor="dave")
    assert not refused.taken and refused.code == "role"
    assert engine.fire(iid, "credit_ok", actor="finance").state == "ready"
    inst = engine.get(iid)
    assert (inst.state, inst.regions, inst.timers) == ("ready", {}, [])
    assert _moves(engine, iid)[-2:] == [
        ("credit_ok", "checks.credit.pending", "checks.credit.ok"),
        ("join", "checks", "ready"),
    ]


def test_join_any_leaves_the_other_regions_and_cancels_their_timers(make_engine, workflows_dir):
    engine, iid = _engine(make_engine, workflows_dir, join="any")
    assert engine.fire(iid, "material_ok").state == "ready"
    inst = engine.get(iid)
    assert inst.regions == {} and inst.timers == []
    refused = engine.fire(iid, "capacity_ok")
    assert not refused.taken and refused.code == "trigger"


def test_join_n_waits_for_n_regions(make_engine, workflows_dir):
    engine, iid = _engine(make_engine, workflows_dir, join="2")
    assert engine.fire(iid, "capacity_ok").state == "checks"
    assert engine.fire(iid, "credit_ok", actor="finance").state == "ready"


def test_from_the_parallel_state_leaves_all_regions(make_engine, workflows_dir):
    engine, iid = _engine(make_engine, workflows_dir)
    engine.fire(iid, "capacity_ok")
    assert engine.fire(iid, "reject").state == "rejected"
    inst = engine.get(iid)
    assert inst.finished and inst.regions == {} and inst.timers == []
    assert _moves(engine, iid)[-1] == ("reject", "checks", "rejected")


def test_a_trigger_two_regions_accept_moves_both(make_engine, workflows_dir):
    engine, iid = _engine(make_engine, workflows_dir)
    assert engine.fire(iid, "goods_ok").state == "checks"
    inst = engine.get(iid)
    assert inst.regions == {"capacity": "ok", "material": "ok", "credit": "pending"}
    assert _moves(engine, iid)[-2:] == [
        ("goods_ok", "checks.capacity.pending", "checks.capacity.ok"),
        ("goods_ok", "checks.material.pending", "checks.material.ok"),
    ]
    assert set(_timers(engine, iid)) == {"credit_late", "overdue"}


def test_a_trigger_no_region_accepts_is_refused_with_what_is_accepted(make_engine, workflows_dir):
    engine, iid = _engine(make_engine, workflows_dir)
    engine.fire(iid, "capacity_ok")
    refused = engine.fire(iid, "finish")
    assert not refused.taken and refused.code == "trigger"
    assert "material_ok" in refused.reason and "capacity_ok" not in refused.reason
    assert engine.get(iid).rev == 3  # nothing changed


def test_fire_many_moves_regions_and_joins(make_engine, workflows_dir):
    engine, iid = _engine(make_engine, workflows_dir)
    results = engine.fire_many([
        (iid, "capacity_ok", None, None),
        (iid, "material_ok", None, "m-1"),
        (iid, "credit_ok", None, None),
    ], actor="finance")  # fmt: skip
    assert [r.state for r in results] == ["checks", "checks", "ready"]
    assert engine.get(iid).timers == []
    again = engine.fire(iid, "material_ok", key="m-1")
    assert again.duplicate and again.state == "checks"  # the state the key's fire left


def test_tick_joins_when_a_region_deadline_finishes_it(make_engine, workflows_dir, clock):
    (workflows_dir / "quick.yaml").write_text(
        "workflow: quick\nversion: 1\ninitial: checks\nstates:\n"
        "  checks:\n    parallel:\n"
        "      a:\n        initial: wait\n        states:\n"
        "          wait: {deadline: 10m, on_timeout: give_up}\n          gone: {final: true}\n"
        "      b:\n        initial: wait\n        states:\n"
        "          wait: {deadline: 20m, on_timeout: give_up}\n          gone: {final: true}\n"
        "    on_done: closed\n"
        "  closed: {final: true}\n"
        "transitions:\n"
        "  - {trigger: give_up, from: checks.a.wait, to: checks.a.gone}\n"
        "  - {trigger: give_up, from: checks.b.wait, to: checks.b.gone}\n"
    )
    engine = make_engine(workflows=workflows_dir, factory=factory())
    iid = engine.start("quick")  # a parallel initial state starts its regions at once
    assert engine.get(iid).regions == {"a": "wait", "b": "wait"}
    assert engine.tick(now=clock.now + timedelta(minutes=11)) == 1
    assert engine.get(iid).regions == {"a": "gone", "b": "wait"}  # b's deadline did not move a
    assert engine.tick(now=clock.now + timedelta(minutes=21)) == 1
    inst = engine.get(iid)
    assert (inst.state, inst.finished, inst.regions) == ("closed", True, {})


def test_show_json_and_simulate_show_regions(
    runner: CliRunner, tmp_path: Path, workflows_dir: Path
) -> None:
    (workflows_dir / "checks.yaml").write_text(CHECKS.format(join="all"))
    base = ["--workflows", str(workflows_dir)]
    started = runner.invoke(cli, [*base, "start", "checks"])
    iid = started.output.strip().splitlines()[-1]
    assert runner.invoke(cli, [*base, "fire", iid, "accept"]).output.strip() == "checks"
    runner.invoke(cli, [*base, "fire", iid, "capacity_ok"])
    shown = json.loads(runner.invoke(cli, [*base, "show", iid, "--json"]).output)
    assert shown["state"] == "checks"
    assert shown["regions"] == {"capacity": "ok", "material": "pending", "credit": "pending"}
    listed = runner.invoke(cli, [*base, "list"]).output
    assert "checks" in listed and "checks.capacity" not in listed
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "start: {at: 2026-03-02T09:00:00}\n"
        "steps:\n"
        "  - {fire: accept, expect: checks}\n"
        "  - {wait: 45m, fire: material_ok, expect: checks.material.ok}\n"
        "  - {wait: 30m, fire: credit_ok, as: finance, expect: checks}\n"
        "expect: {state: checks}\n"
    )
    result = runner.invoke(cli, [*base, "simulate", "checks", str(scenario)])
    assert result.exit_code == 0, result.output
    assert "regions: capacity=late, material=ok, credit=ok" in result.output
    assert "capacity_late      checks.capacity.pending -> checks.capacity.late" in result.output
    as_json = runner.invoke(cli, [*base, "simulate", "checks", str(scenario), "--json"])
    report = json.loads(as_json.output)
    assert report["regions"] == {"capacity": "late", "material": "ok", "credit": "ok"}
    # the credit region's 1h deadline was missed by 15 minutes (its timeout kept it there)
    assert [(b["state"], b["over_by"]) for b in report["sla_breaches"]] == [
        ("checks.credit.pending", "0:15:00")
    ]


def test_a_region_move_out_of_the_parallel_state_leaves_every_region(make_engine, workflows_dir):
    engine, iid = _engine(make_engine, workflows_dir)
    engine.fire(iid, "material_ok")
    assert engine.fire(iid, "no_capacity").state == "rejected"
    inst = engine.get(iid)
    assert (inst.finished, inst.regions, inst.timers) == (True, {}, [])
    assert _moves(engine, iid)[-1] == ("no_capacity", "checks", "rejected")


def test_migrating_into_a_parallel_state_starts_its_regions(make_engine, workflows_dir):
    (workflows_dir / "checks.yaml").write_text(
        "workflow: checks\nversion: 1\ninitial: received\nstates:\n"
        "  received: {}\n  checking: {}\n  ready: {}\n  rejected: {final: true}\n"
        "transitions:\n  - {trigger: accept, from: received, to: checking}\n"
        "  - {trigger: reject, from: checking, to: rejected}\n"
        "  - {trigger: done, from: checking, to: ready}\n"
    )
    engine = make_engine(workflows=workflows_dir, factory=factory())
    iid = engine.start("checks")
    engine.fire(iid, "accept")
    (workflows_dir / "checks_v2.yaml").write_text(
        CHECKS.format(join="all").replace("version: 1", "version: 2")
    )
    engine2 = make_engine(workflows=workflows_dir, factory=factory())
    report = engine2.migrate_instances("checks", 2, {"checking": "checks"})
    assert [m["id"] for m in report.moved] == [iid]
    inst = engine2.get(iid)
    assert (inst.version, inst.state) == (2, "checks")
    assert inst.regions == {"capacity": "pending", "material": "pending", "credit": "pending"}
    assert {t.trigger for t in inst.timers} >= {"capacity_late", "material_late", "credit_late"}
    engine2.fire(iid, "goods_ok")
    assert engine2.fire(iid, "credit_ok", actor="finance").state == "ready"


def test_the_worker_applies_queued_region_moves(make_engine, workflows_dir):
    from crmflow.core.engine.worker import Worker

    engine, iid = _engine(make_engine, workflows_dir)
    engine.enqueue(iid, "goods_ok", key="q-1")
    engine.enqueue(iid, "credit_ok", actor="finance", key="q-2")
    Worker(engine).run(once=True)
    inst = engine.get(iid)
    assert (inst.state, inst.regions, inst.timers) == ("ready", {}, [])
    assert [m[0] for m in _moves(engine, iid)[-4:]] == ["goods_ok", "goods_ok", "credit_ok", "join"]



LATE = (
    CHECKS.format(join="all")
    .replace("          late: {owner: manager}",
             "          late: {owner: manager, deadline: 1h, on_timeout: capacity_late}")
    .replace("  - {trigger: material_late,",
             "  - {trigger: capacity_late, from: checks.capacity.late}\n"
             "  - {trigger: material_late,")
)  # fmt: skip


def _late_region(make_engine, workflows_dir: Path, clock, v2: str):
    """An instance whose capacity region went late 40 minutes after entering `checks`."""
    (workflows_dir / "checks.yaml").write_text(LATE)
    engine = make_engine(workflows=workflows_dir, factory=factory())
    iid = engine.start("checks")
    engine.fire(iid, "accept")
    late_at = clock.advance(minutes=40)
    engine.fire(iid, "capacity_late")
    clock.advance(minutes=10)
    (workflows_dir / "checks_v2.yaml").write_text(v2.replace("version: 1", "version: 2"))
    return make_engine(workflows=workflows_dir, factory=factory()), iid, late_at


def test_migrating_keeps_a_region_deadline_counting_from_its_own_entry(
    make_engine, workflows_dir, clock
):
    engine, iid, late_at = _late_region(make_engine, workflows_dir, clock, LATE)
    assert [m["id"] for m in engine.migrate_instances("checks", 2).moved] == [iid]
    inst = engine.get(iid)
    assert inst.regions == {"capacity": "late", "material": "pending", "credit": "pending"}
    assert _timers(engine, iid)["capacity_late"] == (late_at + timedelta(hours=1)).isoformat()


def test_migrating_a_region_state_that_has_no_counterpart_lists_the_instance(
    make_engine, workflows_dir, clock
):
    renamed = LATE.replace("          late:", "          waiting:").replace(
        "checks.capacity.late", "checks.capacity.waiting"
    )
    engine, iid, _late_at = _late_region(make_engine, workflows_dir, clock, renamed)
    dry = engine.migrate_instances("checks", 2, dry_run=True)
    assert dry.moved == [] and [x["id"] for x in dry.left] == [iid]
    assert "checks.capacity.late" in dry.left[0]["reason"]
    assert engine.migrate_instances("checks", 2).moved == []
    assert engine.get(iid).version == 1
    # renamed with --map: the region goes on in `waiting`, its deadline counted from the move
    report = engine.migrate_instances(
        "checks", 2, {"checks.capacity.late": "checks.capacity.waiting"}
    )
    assert [m["id"] for m in report.moved] == [iid]
    inst = engine.get(iid)
    assert (inst.version, inst.state) == (2, "checks")
    assert inst.regions == {"capacity": "waiting", "material": "pending", "credit": "pending"}
    assert _timers(engine, iid)["capacity_late"] == (clock.now + timedelta(hours=1)).isoformat()


def test_a_trigger_two_regions_accept_moves_both_before_the_join(make_engine, workflows_dir):
    engine, iid = _engine(make_engine, workflows_dir, join="any")
    assert engine.fire(iid, "goods_ok").state == "ready"
    assert _moves(engine, iid)[-3:] == [
        ("goods_ok", "checks.capacity.pending", "checks.capacity.ok"),
        ("goods_ok", "checks.material.pending", "checks.material.ok"),
        ("join", "checks", "ready"),
    ]
    inst = engine.get(iid)
    assert inst.regions == {} and inst.timers == []
