"""tick until nothing is due, keys reused for another trigger, simulate going on, migration."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from crmflow.cli import cli
from crmflow.errors import RefusedError

CHAIN = """\
workflow: chain
version: {version}
initial: a
states:
  a: {{deadline: 1h, on_timeout: first}}
  b: {{deadline: 1h, on_timeout: second}}
  {c}: {{deadline: 1h, on_timeout: third}}
  done: {{final: true}}
transitions:
  - {{trigger: first, from: a, to: b}}
  - {{trigger: second, from: b, to: {c}}}
  - {{trigger: third, from: {c}, to: done}}
  - {{trigger: approve, from: a, to: b}}
  - {{trigger: finish, from: [a, b, {c}], to: done}}
"""


@pytest.fixture
def chain_dir(workflows_dir: Path) -> Path:
    (workflows_dir / "chain.yaml").write_text(CHAIN.format(version=1, c="c"))
    return workflows_dir


def test_tick_fires_deadlines_that_earlier_firings_armed_until_nothing_is_due(
    make_engine, chain_dir, clock
):
    engine = make_engine(workflows=chain_dir)
    iid = engine.start("chain")
    start = clock()
    assert engine.tick(now=start + timedelta(hours=2, minutes=30)) == 2
    assert engine.get(iid).state == "c"  # the third deadline is due at 3h: not yet
    assert engine.tick(now=start + timedelta(hours=3)) == 1
    assert engine.get(iid).state == "done"


def test_a_key_used_for_another_trigger_is_refused(make_engine, chain_dir):
    engine = make_engine(workflows=chain_dir)
    iid = engine.start("chain")
    assert engine.fire(iid, "approve", key="approval-1001").state == "b"
    again = engine.fire(iid, "approve", key="approval-1001")
    assert again.taken and again.duplicate
    other = engine.fire(iid, "finish", key="approval-1001")
    assert not other.taken and other.code == "key"
    assert other.reason == "key: key approval-1001 was used for approve"
    assert engine.get(iid).state == "b"
    batch = engine.fire_many([(iid, "finish", None, "approval-1001")])
    assert batch[0].code == "key"


def test_cli_fire_with_a_reused_key_exits_3(runner: CliRunner, chain_dir):
    wf = ["--workflows", str(chain_dir)]
    iid = runner.invoke(cli, ["start", "chain", *wf]).output.strip().splitlines()[-1]
    first = runner.invoke(cli, ["fire", iid, "approve", "--key", "approval-1001", *wf])
    assert first.exit_code == 0
    result = runner.invoke(cli, ["fire", iid, "finish", "--key", "approval-1001", *wf])
    assert result.exit_code == 3
    assert "key approval-1001 was used for approve" in result.output


def test_emit_refuses_a_key_used_for_another_event(make_engine, chain_dir):
    engine = make_engine(workflows=chain_dir)
    engine.emit("stock.low", {"sku": "A"}, key="evt-1")
    assert engine.emit("stock.low", {"sku": "A"}, key="evt-1").duplicate
    with pytest.raises(RefusedError, match="key evt-1 was used for stock.low"):
        engine.emit("stock.high", {"sku": "A"}, key="evt-1")


def test_simulate_lists_a_refusal_and_goes_on(runner: CliRunner, tmp_path, chain_dir):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "start: {at: 2026-03-02T09:00:00, as: alice}\n"
        "steps:\n"
        "  - {fire: third, as: bob}\n"
        "  - {fire: approve, as: bob, key: k1}\n"
        "  - {fire: finish, as: bob, key: k1}\n"
        "  - {fire: finish, as: bob, expect: done}\n"
        "expect: {state: done}\n"
    )
    result = runner.invoke(
        cli, ["simulate", "chain", str(scenario), "--workflows", str(chain_dir), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["final_state"] == "done"
    assert [(r["step"], r["trigger"]) for r in report["refused"]] == [(1, "third"), (3, "finish")]
    assert "key k1 was used for approve" in report["refused"][1]["reason"]


def test_migrate_instances_maps_states_and_lists_the_rest(make_engine, chain_dir, clock):
    engine = make_engine(workflows=chain_dir)
    in_a = engine.start("chain")
    in_c = engine.start("chain")
    engine.fire(in_c, "first")
    engine.fire(in_c, "second")
    done = engine.start("chain")
    engine.fire(done, "finish")
    (chain_dir / "chain_v2.yaml").write_text(CHAIN.format(version=2, c="checked"))
    engine2 = make_engine(workflows=chain_dir)
    dry = engine2.migrate_instances("chain", 2, dry_run=True)
    assert [m["id"] for m in dry.moved] == [in_a] and [x["id"] for x in dry.left] == [in_c]
    assert engine2.get(in_a).version == 1
    report = engine2.migrate_instances("chain", 2, {"c": "checked"})
    assert sorted(m["id"] for m in report.moved) == [in_a, in_c] and report.left == []
    moved = engine2.get(in_c)
    assert (moved.version, moved.state) == (2, "checked")
    assert moved.history[-1].trigger == "migrate"
    assert [t.trigger for t in moved.timers] == ["third"]
    assert engine2.get(done).version == 1  # finished: never moved
    assert engine2.fire(in_c, "third").state == "done"


def test_cli_migrate_instances_dry_run_json(runner: CliRunner, chain_dir):
    wf = ["--workflows", str(chain_dir)]
    iid = runner.invoke(cli, ["start", "chain", *wf]).output.strip().splitlines()[-1]
    runner.invoke(cli, ["fire", iid, "first", *wf])
    (chain_dir / "chain_v2.yaml").write_text(CHAIN.format(version=2, c="checked"))
    out = runner.invoke(cli, ["migrate-instances", "chain", "--to-version", "2", "--map",
                              "b=checked", "--dry-run", "--json", *wf])  # fmt: skip
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["dry_run"] and report["moved"][0]["to"] == "checked"
    shown = json.loads(runner.invoke(cli, ["show", iid, "--json", *wf]).output)
    assert shown["version"] == 1 and shown["state"] == "b"
