"""The command-line contract: start, fire, show, list, tick, emit as a user types them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from crmflow.cli import cli

EXAMPLES = Path(__file__).resolve().parent / "workflows"


@pytest.fixture
def wf(tmp_path: Path) -> str:
    shutil.copytree(EXAMPLES, tmp_path / "wf")
    return str(tmp_path / "wf")


def run(runner, *args: str, ok: bool = True):
    result = runner.invoke(cli, list(args))
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_start_prints_the_id_alone_on_the_last_line(runner, wf):
    result = run(
        runner,
        "start",
        "order",
        "--workflows",
        wf,
        "--data",
        '{"order": {"number": "SO-1", "quantity": 3}}',
        "--as",
        "sales_rep",
    )

    assert result.stdout.strip().splitlines()[-1] == "1"


def test_fire_show_list_round_trip(runner, wf):
    iid = run(
        runner,
        "--workflows",
        wf,
        "start",
        "order",
        "--data",
        '{"order": {"number": "SO-1", "quantity": 3}}',
    ).stdout.split()[-1]

    assert run(runner, "--workflows", wf, "fire", iid, "confirm").stdout.strip() == "confirmed"
    shown = json.loads(run(runner, "--workflows", wf, "show", iid, "--json").stdout)
    listed = json.loads(run(runner, "--workflows", wf, "list", "--json").stdout)

    assert shown["id"] == int(iid) and shown["workflow"] == "order" and shown["version"] == 1
    assert shown["state"] == "confirmed"
    assert shown["data"]["order"]["number"] == "SO-1"
    assert [(h["trigger"], h["from"], h["to"]) for h in shown["history"]] == [
        ("start", None, "draft"),
        ("confirm", "draft", "confirmed"),
    ]
    assert set(shown["history"][0]) >= {"trigger", "from", "to", "at", "actor"}
    assert [t["trigger"] for t in shown["timers"]] == ["remind"]
    assert set(shown["timers"][0]) >= {"trigger", "due"}
    assert listed[0]["id"] == int(iid) and "history" not in listed[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["fire", "1", "ship"], "not accepted in state 'draft'"),
        (["fire", "1", "cancel", "--as", "planner"], "role"),
    ],
)
def test_refused_fire_exits_3_with_the_reason_and_changes_nothing(runner, wf, args, words):
    run(runner, "--workflows", wf, "start", "order", "--data", '{"order": {"quantity": 1}}')

    result = runner.invoke(cli, ["--workflows", wf, *args])

    assert result.exit_code == 3
    assert words in result.output
    shown = json.loads(run(runner, "--workflows", wf, "show", "1", "--json").stdout)
    assert shown["state"] == "draft" and len(shown["history"]) == 1


def test_guard_false_exits_3(runner, wf):
    run(runner, "--workflows", wf, "start", "order", "--data", '{"order": {"quantity": 0}}')
    result = runner.invoke(cli, ["--workflows", wf, "fire", "1", "confirm"])
    assert result.exit_code == 3 and "guard" in result.output


def test_finished_instance_exits_3(runner, wf):
    run(runner, "--workflows", wf, "start", "order")
    run(runner, "--workflows", wf, "fire", "1", "cancel", "--as", "manager")
    result = runner.invoke(cli, ["--workflows", wf, "fire", "1", "confirm"])
    assert result.exit_code == 3 and "finished" in result.output


def test_same_key_twice_applies_once(runner, wf):
    run(runner, "--workflows", wf, "start", "order", "--data", '{"order": {"quantity": 2}}')
    run(runner, "--workflows", wf, "fire", "1", "confirm", "--key", "evt-7")
    again = run(runner, "--workflows", wf, "fire", "1", "confirm", "--key", "evt-7")

    assert again.stdout.strip() == "confirmed"
    shown = json.loads(run(runner, "--workflows", wf, "show", "1", "--json").stdout)
    assert len(shown["history"]) == 2


def test_tick_with_now_fires_due_deadlines(runner, wf):
    run(runner, "--workflows", wf, "start", "order", "--data", '{"order": {"quantity": 2}}')
    run(runner, "--workflows", wf, "fire", "1", "confirm")
    shown = json.loads(run(runner, "--workflows", wf, "show", "1", "--json").stdout)
    due = shown["timers"][0]["due"]

    assert (
        run(runner, "--workflows", wf, "tick", "--now", "2020-01-01T00:00:00+00:00").stdout.strip()
        == "0"
    )
    assert (
        run(runner, "--workflows", wf, "tick", "--now", "2100-01-01T00:00:00").stdout.strip() == "1"
    )
    shown = json.loads(run(runner, "--workflows", wf, "show", "1", "--json").stdout)
    assert shown["history"][-1]["trigger"] == "remind"
    assert shown["history"][-1]["actor"] == "system"
    assert due


def test_emit_starts_once_per_unique_key_and_moves_waiting_instances(runner, wf):
    payload = '{"order_id": "SO-9", "customer_id": "C1", "priority": "normal", "lines": []}'
    first = run(runner, "--workflows", wf, "emit", "order.created", "--data", payload)
    second = run(runner, "--workflows", wf, "emit", "order.created", "--data", payload)

    assert first.stdout.split() == ["1"]
    assert second.stdout.split() == []
    listed = json.loads(run(runner, "--workflows", wf, "list", "--json").stdout)
    assert len(listed) == 1 and listed[0]["data"]["order"]["order_id"] == "SO-9"


def test_bad_json_data_is_a_clear_error(runner, wf):
    result = runner.invoke(cli, ["--workflows", wf, "start", "order", "--data", "{oops"])
    assert result.exit_code == 2
    assert "--data" in result.output and "JSON" in result.output


def test_options_are_accepted_after_the_command_too(runner, wf, tmp_path):
    db = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    run(runner, "start", "order", "--workflows", wf, "--db", db)
    listed = json.loads(run(runner, "list", "--json", "--workflows", wf, "--db", db).stdout)
    assert len(listed) == 1
    assert (tmp_path / "other.sqlite3").exists()


def test_unknown_workflow_is_a_clear_error(runner, wf):
    result = runner.invoke(cli, ["--workflows", wf, "start", "nope"])
    assert result.exit_code == 4 and "no workflow 'nope'" in result.output


def test_simulate_prints_the_path_and_sla_breaches(runner, wf, tmp_path):
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "start: {at: '2026-01-05T08:00:00+00:00', data: {order: {number: S1, quantity: 2}}}\n"
        "steps:\n"
        "  - {at: +5m, fire: confirm, as: sales_rep, expect: confirmed}\n"
        "  - {wait: 3h}\n"
        "  - {fire: schedule, as: planner}\n"
        "expect: {state: scheduled, breaches: 1}\n"
    )

    result = run(runner, "--workflows", wf, "simulate", "order", str(scenario), "--json")

    report = json.loads(result.stdout)
    assert report["final_state"] == "scheduled"
    assert [p["trigger"] for p in report["path"]] == ["start", "confirm", "remind", "schedule"]
    assert [b["state"] for b in report["sla_breaches"]] == ["confirmed"]
    assert report["ok"] is True
    assert not list(Path(".").glob("**/*.sqlite3"))  # nothing stored
