"""`crmflow validate` on the additions: exact FILE:LINE:COL errors for each misuse."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from crmflow.cli import cli

HEAD = "workflow: w\nversion: 1\nentity: order\ninitial: a\n"


def _validate(runner: CliRunner, tmp_path: Path, text: str) -> tuple[int, list[str]]:
    path = tmp_path / "w.yaml"
    path.write_text(text)
    result = runner.invoke(cli, ["validate", str(path)])
    return result.exit_code, [line for line in result.output.splitlines() if ": error: " in line]


def test_unknown_name_in_a_guard_suggests_the_variable(runner, tmp_path):
    code, errors = _validate(runner, tmp_path, HEAD + (
        "states:\n  a: {}\n  b: {final: true}\n"
        "transitions:\n  - trigger: go\n    from: a\n    to: b\n"
        "    when: \"actr == 'bob'\"\n"
    ))  # fmt: skip
    assert code == 1
    assert errors == [
        f"{tmp_path / 'w.yaml'}:12:11: error: unknown name 'actr' in \"actr == 'bob'\"; "
        "did you mean 'actor'?"
    ]


def test_actor_roles_started_by_and_save_as_names_are_known(runner, tmp_path):
    code, errors = _validate(runner, tmp_path, HEAD + (
        "states:\n  a:\n    on_enter:\n      - action: notify\n"
        "        with: {to: \"{{ started_by }}\", text: hi}\n        save_as: sent\n"
        "  b: {final: true}\n"
        "transitions:\n  - trigger: go\n    from: a\n    to: b\n"
        "    when: \"'manager' in actor_roles and sent and order.qty > 1 and actor\"\n"
    ))  # fmt: skip
    assert (code, errors) == (0, [])


def test_an_action_parameter_the_action_does_not_take(runner, tmp_path):
    code, errors = _validate(runner, tmp_path, HEAD + (
        "states:\n  a:\n    on_enter:\n      - action: notify\n"
        "        with:\n          to: planner\n          txt: hi\n"
        "  b: {final: true}\n"
        "transitions:\n  - {trigger: go, from: a, to: b}\n"
    ))  # fmt: skip
    assert code == 1
    assert len(errors) == 1
    assert errors[0].startswith(f"{tmp_path / 'w.yaml'}:11:11: error: action 'notify' takes no "
                                "parameter 'txt'; did you mean 'text'?")  # fmt: skip


def test_approval_without_on_approved_and_undefined_target(runner, tmp_path):
    code, errors = _validate(runner, tmp_path, HEAD + (
        "states:\n  a:\n    approval:\n      approvers: [manager]\n"
        "      on_rejected: nowhere\n  b: {final: true}\n"
        "transitions:\n  - {trigger: go, from: a, to: b}\n"
    ))  # fmt: skip
    assert code == 1
    file = tmp_path / "w.yaml"
    assert f"{file}:7:5: error: approval has no 'on_approved:' (the state entered when approved)" \
        in errors  # fmt: skip
    assert f"{file}:9:20: error: on_rejected names undefined state 'nowhere'" in errors


def test_approve_transition_out_of_an_approval_state_is_an_error(runner, tmp_path):
    code, errors = _validate(runner, tmp_path, HEAD + (
        "states:\n  a:\n    approval: {approvers: [manager], on_approved: b}\n"
        "  b: {final: true}\n"
        "transitions:\n  - {trigger: approve, from: a, to: b}\n"
    ))  # fmt: skip
    assert code == 1
    assert errors[0].startswith(f"{tmp_path / 'w.yaml'}:10:15: error: approval state 'a' takes")


def test_automatic_transition_without_when_must_be_last(runner, tmp_path):
    code, errors = _validate(runner, tmp_path, HEAD + (
        "states:\n  a: {}\n  b: {final: true}\n  c: {final: true}\n"
        "transitions:\n  - {from: a, to: b}\n  - {from: a, to: c, when: 'order.qty > 1'}\n"
    ))  # fmt: skip
    assert code == 1
    assert errors == [
        f"{tmp_path / 'w.yaml'}:10:5: error: automatic transition from 'a' has no 'when:' but is "
        "not the last automatic transition out of 'a' (transition 2 would never be taken)"
    ]


def test_an_unguarded_automatic_loop_is_an_error(runner, tmp_path):
    code, errors = _validate(runner, tmp_path, HEAD + (
        "states:\n  a: {}\n  b: {}\n  c: {}\n  d: {final: true}\n"
        "transitions:\n  - {trigger: go, from: a, to: b}\n"
        "  - {from: b, to: c}\n  - {from: c, to: b}\n  - {trigger: stop, from: c, to: d}\n"
    ))  # fmt: skip
    assert code == 1
    assert any("automatic transitions loop: b -> c -> b" in e for e in errors)
