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


PARALLEL = (
    "workflow: w\nversion: 1\ninitial: a\nstates:\n  a: {}\n"
    "  checks:\n    parallel:\n"
    "      capacity:\n        initial: pending\n        states:\n"
    "          pending: {}\n          ok: {final: true}\n"
    "      credit:\n        initial: pending\n        states:\n"
    "          pending: {}\n          ok: {final: true}\n"
    "    join: JOIN\n    on_done: ON_DONE\n"
    "  ready: {final: true}\n"
    "transitions:\n  - {trigger: go, from: a, to: checks}\n"
    "  - {trigger: cap, from: checks.capacity.FROM, to: checks.capacity.ok}\n"
    "  - {trigger: cred, from: checks.credit.pending, to: checks.credit.ok}\n"
)


def _parallel(join: str = "all", on_done: str = "ready", source: str = "pending") -> str:
    return (
        PARALLEL.replace("JOIN", join).replace("ON_DONE", on_done).replace("FROM", source)
    )


def test_a_valid_parallel_state(runner, tmp_path):
    assert _validate(runner, tmp_path, _parallel()) == (0, [])
    assert _validate(runner, tmp_path, _parallel(join="any")) == (0, [])
    assert _validate(runner, tmp_path, _parallel(join="2")) == (0, [])


def test_a_region_state_that_does_not_exist_suggests_the_name(runner, tmp_path):
    code, errors = _validate(runner, tmp_path, _parallel(source="pendng"))
    assert code == 1
    assert errors[:1] == [
        f"{tmp_path / 'w.yaml'}:23:26: error: from names undefined state "
        "'checks.capacity.pendng'; did you mean 'checks.capacity.pending'?"
    ]


def test_join_larger_than_the_regions_or_not_all_any_n(runner, tmp_path):
    file = tmp_path / "w.yaml"
    assert _validate(runner, tmp_path, _parallel(join="3")) == (
        1, [f"{file}:18:11: error: join 3 is larger than the number of regions (2)"]
    )
    assert _validate(runner, tmp_path, _parallel(join="most")) == (
        1, [f"{file}:18:11: error: join must be all, any or a number of regions, not 'most'"]
    )


def test_on_done_unknown_or_missing(runner, tmp_path):
    file = tmp_path / "w.yaml"
    code, errors = _validate(runner, tmp_path, _parallel(on_done="redy"))
    assert code == 1 and errors[0] == (
        f"{file}:19:14: error: on_done names undefined state 'redy'; did you mean 'ready'?"
    )
    code, errors = _validate(runner, tmp_path, _parallel().replace("    on_done: ready\n", ""))
    assert code == 1 and errors[0] == (
        f"{file}:6:3: error: parallel state 'checks' has no 'on_done:' (the state entered "
        "when the join is met)"
    )


def test_a_region_without_initial_or_final_state(runner, tmp_path):
    file = tmp_path / "w.yaml"
    text = _parallel().replace(
        "      credit:\n        initial: pending\n", "      credit:\n"
    ).replace("          ok: {final: true}\n    join", "          ok: {}\n    join")
    code, errors = _validate(runner, tmp_path, text)
    assert code == 1
    assert errors[:2] == [
        f"{file}:13:7: error: region 'credit' has no 'initial:'",
        f"{file}:13:7: error: region 'credit' has no final state (a region is done at one of "
        "its final states)",
    ]


def test_entering_a_region_state_from_outside_is_an_error(runner, tmp_path):
    text = _parallel() + "  - {trigger: jump, from: a, to: checks.credit.ok}\n"
    code, errors = _validate(runner, tmp_path, text)
    assert code == 1
    assert errors == [
        f"{tmp_path / 'w.yaml'}:25:34: error: 'checks.credit.ok' is a state of region 'credit' "
        "of parallel state 'checks': only a move inside that region may enter it (to start "
        "the regions, go to 'checks')"
    ]


def test_an_unknown_name_in_a_region_state_template_is_located(runner, tmp_path):
    text = _parallel().replace(
        "          pending: {}\n          ok: {final: true}\n      credit:",
        "          pending:\n            on_enter:\n              - action: notify\n"
        '                with: {to: planner, text: "{{ ordr }}"}\n'
        "          ok: {final: true}\n      credit:",
    )
    code, errors = _validate(runner, tmp_path, text)
    assert code == 1
    assert [e.split("; known:")[0] for e in errors] == [
        f"{tmp_path / 'w.yaml'}:14:43: error: unknown name 'ordr' in '{{{{ ordr }}}}'"
    ]


def test_on_timeout_cannot_vote_in_an_approval_state(runner, tmp_path):
    # a deadline fires as `system`, which cannot vote: an `on_timeout: reject` would never act
    code, errors = _validate(runner, tmp_path, HEAD + (
        "states:\n  a:\n    deadline: 1h\n    on_timeout: reject\n"
        "    approval: {approvers: [manager], on_approved: b, on_rejected: c}\n"
        "  b: {final: true}\n  c: {final: true}\n"
        "transitions: []\n"
    ))  # fmt: skip
    assert code == 1
    assert len(errors) == 1
    assert errors[0].startswith(
        f"{tmp_path / 'w.yaml'}:8:17: error: on_timeout 'reject' is not a trigger that state 'a' "
        "accepts"
    )


def _quote_advice(word: str, value: str, kind: str) -> str:
    return (f"error: {word} is read by YAML as the boolean {value}, not as {kind}; "
            f"quote it: \"{word}\"")  # fmt: skip


def test_yes_no_on_off_where_a_name_is_expected_say_to_quote_them(runner, tmp_path):
    code, errors = _validate(runner, tmp_path, HEAD + (
        "states:\n"
        "  a:\n"                                        # 6
        "    owner: off\n"                              # 7
        "    approval:\n"
        "      approvers: [manager, yes]\n"            # 9
        "      on_approved: b\n"
        "      on_rejected: no\n"                       # 11
        "  b: {}\n"
        "  on: {final: true}\n"                         # 13
        "transitions:\n"
        "  - {trigger: go, from: b, to: on}\n"          # 15
        "  - {trigger: Yes, from: b, to: b, roles: [No]}\n"  # 16
        "timers:\n"
        "  - {after: 1h, trigger: go, in: [b, off]}\n"  # 18
    ))  # fmt: skip
    file = tmp_path / "w.yaml"
    assert code == 1
    assert [e for e in errors if "read by YAML as the boolean" in e] == [
        f"{file}:7:12: {_quote_advice('off', 'false', 'a role')}",
        f"{file}:9:28: {_quote_advice('yes', 'true', 'a role or person')}",
        f"{file}:11:20: {_quote_advice('no', 'false', 'a state name')}",
        f"{file}:13:3: {_quote_advice('on', 'true', 'a state name')}",
        f"{file}:15:32: {_quote_advice('on', 'true', 'a state name')}",
        f"{file}:16:15: {_quote_advice('Yes', 'true', 'a trigger')}",
        f"{file}:16:44: {_quote_advice('No', 'false', 'a role')}",
        f"{file}:18:38: {_quote_advice('off', 'false', 'a state name')}",
    ], errors
    # the checks after it see the word, not False/True
    assert not any("False" in e or "True" in e for e in errors), errors


def test_quoted_yes_and_no_are_names(runner, tmp_path):
    code, errors = _validate(runner, tmp_path, HEAD + (
        "states:\n  a:\n    approval:\n      approvers: [manager]\n"
        "      on_approved: \"yes\"\n      on_rejected: 'no'\n"
        "  \"yes\": {final: true}\n  'no': {final: true}\n"
        "transitions: []\n"
    ))  # fmt: skip
    assert (code, errors) == (0, [])
