"""`crmflow validate`: every problem the DSL page lists, located at FILE:LINE:COL."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from crmflow.cli import cli

GOOD = """\
workflow: approval
version: 1
initial: open
states:
  open:
    deadline: 1h
    on_timeout: remind
  done: {final: true}
transitions:
  - {trigger: remind, from: open}
  - trigger: close
    from: open
    to: done
    when: "data.amount > 10"
    do:
      - action: notify
        with: {to: manager, text: "closed {{ data.amount }}"}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def validate(runner, *paths: str):
    return runner.invoke(cli, ["validate", *paths])


def lines_of(result) -> list[str]:
    return [
        line for line in result.output.splitlines() if ": error: " in line or ": warning: " in line
    ]


def test_valid_folder_exits_zero(runner, tmp_path):
    folder = tmp_path / "wf"
    folder.mkdir()
    write(folder, "approval.yaml", GOOD)

    result = validate(runner, "wf")

    assert result.exit_code == 0, result.output
    assert lines_of(result) == []


def test_shipped_workflows_are_valid(runner):
    from crmflow.core.engine.workflowfiles import SHIPPED_WORKFLOWS

    result = validate(runner, str(SHIPPED_WORKFLOWS))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        # YAML syntax: the problem's position
        (lambda s: s.replace("  open:\n", "  open:\n   bad: [1, 2\n"), "YAML syntax"),
        # unknown keys with a suggestion, at the key itself
        (
            lambda s: s.replace("initial: open", "initial: open\ntransitons: []"),
            "4:1: error: unknown workflow key 'transitons'; did you mean 'transitions'?",
        ),
        (
            lambda s: s.replace("    deadline: 1h", "    dedline: 1h"),
            "6:5: error: unknown state key 'dedline'; did you mean 'deadline'?",
        ),
        (
            lambda s: s.replace("    when: ", "    wen: "),
            "14:5: error: unknown transition key 'wen'; did you mean 'when'?",
        ),
        # undefined states
        (
            lambda s: s.replace("initial: open", "initial: opne"),
            "3:10: error: initial names undefined state 'opne'; did you mean 'open'?",
        ),
        (
            lambda s: s.replace("    to: done", "    to: dnoe"),
            "13:9: error: to names undefined state 'dnoe'; did you mean 'done'?",
        ),
        (
            lambda s: s.replace("    from: open\n    to: done", "    from: closed\n    to: done"),
            "12:11: error: from names undefined state 'closed'",
        ),
        # transition out of a final state
        (
            lambda s: s + "  - {trigger: reopen, from: done, to: open}\n",
            "18:29: error: transition 'reopen' leaves final state 'done'",
        ),
        # unknown action
        (
            lambda s: s.replace("action: notify", "action: notfy"),
            "16:17: error: unknown action 'notfy' (not registered by any enabled plugin); "
            "did you mean 'notify'?",
        ),
        # expression and template that do not parse: the line of the value
        (
            lambda s: s.replace('"data.amount > 10"', '"data.amount >"'),
            "14:11: error: expression 'data.amount >' does not parse",
        ),
        (
            lambda s: s.replace("closed {{ data.amount }}", "closed {{ data.amount "),
            "17:35: error: template 'closed {{ data.amount ' does not parse",
        ),
        # malformed duration and cron
        (
            lambda s: s.replace("deadline: 1h", "deadline: 1 hour"),
            "6:15: error: duration '1 hour' is malformed",
        ),
        (
            lambda s: s.replace("deadline: 1h", "deadline: 30"),
            "6:15: error: duration 30 is a bare number",
        ),
        (
            lambda s: s + "timers:\n  - {cron: '61 * * * *', trigger: remind, in: [open]}\n",
            "19:12: error: cron expression '61 * * * *' is malformed",
        ),
        # on_timeout naming a trigger the state does not accept
        (
            lambda s: s.replace("on_timeout: remind", "on_timeout: close_it"),
            "7:17: error: on_timeout 'close_it' is not a trigger that state 'open' accepts",
        ),
        # unreachable state, at its key
        (
            lambda s: s.replace("  done: {final: true}", "  done: {final: true}\n  limbo: {}"),
            "9:3: error: state 'limbo' is unreachable from initial state 'open'",
        ),
        # Python internals in a template are refused
        (
            lambda s: s.replace("closed {{ data.amount }}", "{{ ''.__class__.__mro__ }}"),
            "reaches the Python internal",
        ),
    ],
)
def test_each_problem_is_reported_at_its_location(runner, tmp_path, edit, expected):
    write(tmp_path, "approval.yaml", edit(GOOD))

    result = validate(runner, "approval.yaml")

    assert result.exit_code == 1, result.output
    assert any(
        line.startswith("approval.yaml:") and expected in line for line in lines_of(result)
    ), result.output


def test_yaml_syntax_error_points_at_the_problem(runner, tmp_path):
    write(tmp_path, "broken.yaml", "workflow: x\nversion: 1\nstates:\n  a: {final: true\n")

    result = validate(runner, "broken.yaml")

    assert result.exit_code == 1
    [line] = lines_of(result)
    assert line.startswith("broken.yaml:5:1: error: YAML syntax")


@pytest.mark.parametrize("key", ["workflow", "version", "initial", "states", "transitions"])
def test_missing_required_key_points_at_line_one(runner, tmp_path, key):
    text = "\n".join(line for line in GOOD.splitlines() if not line.startswith(f"{key}:")) + "\n"
    if key in ("states", "transitions"):
        # drop the whole block: its indented lines would otherwise dangle
        blocks = GOOD.split(f"{key}:\n")
        rest = blocks[1].split("\n")
        kept = [line for line in rest if not line.startswith(" ")]
        text = blocks[0] + "\n".join(kept)
    write(tmp_path, "approval.yaml", text)

    result = validate(runner, "approval.yaml")

    assert result.exit_code == 1
    assert f"approval.yaml:1:1: error: missing required key '{key}'" in result.output


def test_duplicate_workflow_ids_across_files(runner, tmp_path):
    folder = tmp_path / "wf"
    folder.mkdir()
    write(folder, "a.yaml", GOOD)
    write(folder, "b.yaml", GOOD)

    result = validate(runner, "wf")

    assert result.exit_code == 1
    assert "wf/b.yaml:1:11: error: duplicate workflow id 'approval'" in result.output


def test_warning_does_not_change_the_exit_code(runner, tmp_path):
    text = GOOD.replace("  done: {final: true}", "  done: {final: true}\n  stuck: {}")
    text += "  - {trigger: park, from: open, to: stuck}\n"
    write(tmp_path, "approval.yaml", text)

    result = validate(runner, "approval.yaml")

    assert result.exit_code == 0, result.output
    assert lines_of(result) == [
        "approval.yaml:9:3: warning: state 'stuck' is not final and has no way out"
    ]


def test_several_problems_in_one_file_are_all_reported(runner, tmp_path):
    text = GOOD.replace("initial: open", "initial: opne").replace("action: notify", "action: nope")
    write(tmp_path, "approval.yaml", text)

    result = validate(runner, "approval.yaml")

    assert result.exit_code == 1
    assert len([ln for ln in lines_of(result) if ": error: " in ln]) == 2
