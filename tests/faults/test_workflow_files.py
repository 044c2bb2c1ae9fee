"""Workflow files a clumsy user or an attacker writes: located errors, never a hang."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from crmflow.cli import cli

EXAMPLES = Path(__file__).resolve().parents[1] / "engine" / "workflows"

BASE = """\
workflow: w
version: 1
initial: a
states:
  a: {}
  b: {final: true}
transitions:
  - trigger: go
    from: a
    to: b
"""


def _bomb() -> str:
    text = 'a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n'
    for level in range(1, 9):
        text += f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]\n"
    return BASE + "description: {}\n".format("x") + "extra:\n" + textwrap.indent(text, "  ")


CASES = [
    ("bomb.yaml", _bomb().encode(), "aliases expand this document beyond"),
    ("latin.yaml", (BASE + "title: café\n").encode("latin-1"), "not UTF-8 text (byte 0xe9)"),
    ("bell.yaml", (BASE + "title: a\x07b\n").encode(), "character U+0007 is not allowed"),
    ("deep.yaml", (BASE + "description: " + "[" * 495 + "]" * 495 + "\n").encode(),
     "nested deeper than 64 levels"),
    ("digits.yaml", BASE.replace("version: 1", "version: " + "9" * 4301).encode(),
     "value cannot be read"),
    ("hex.yaml", BASE.replace("version: 1", "version: 0x" + "f" * 5000).encode(),
     "number too large"),
    ("huge_version.yaml", BASE.replace("version: 1", "version: 99999999999").encode(),
     "version must be a whole number from 1 to 1,000,000"),
    ("overflow.yaml", BASE.replace("a: {}", "a: {deadline: 99999999999999w, on_timeout: go}")
     .encode(), "longer than the maximum of 3653 days"),
    ("digits_duration.yaml", BASE.replace("a: {}", "a: {deadline: 1" + "9" * 4400 + "w, "
     "on_timeout: go}").encode(), "longer than the maximum"),
    ("long.yaml", BASE.replace("a: {}", "a: {deadline: 600000w, on_timeout: go}").encode(),
     "longer than the maximum"),
    ("parens.yaml", (BASE + "    when: \"" + "(" * 200 + "1" + ")" * 200 + "\"\n").encode(),
     "nested too deeply"),
    ("param.yaml", (BASE + "    do:\n      - action: notify\n        with: {too: sales}\n")
     .encode(), "action 'notify' takes no parameter 'too'; did you mean 'to'?"),
    ("macro.yaml", (BASE + "    do:\n      - action: notify\n        with: {to: x, text: "
                    "\"{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}\"}\n").encode(),
     "uses {% macro %}"),
]  # fmt: skip


@pytest.mark.parametrize("name, data, message", CASES, ids=[c[0] for c in CASES])
def test_bad_workflow_files_get_a_located_error(runner, tmp_path, name, data, message) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    first = result.output.splitlines()[0]
    assert first.startswith(f"{path}:") and ": error: " in first, result.output
    assert message in result.output


def test_a_big_workflow_validates(runner, tmp_path: Path) -> None:
    n = 5_000
    lines = ["workflow: big", "version: 1", "initial: s0", "states:"]
    lines += [f"  s{i}: {{}}" for i in range(n)] + ["  end: {final: true}", "transitions:"]
    lines += [f"  - {{trigger: t{i}, from: s{i}, to: s{i + 1}, when: 'data.q > {i}'}}"
              for i in range(n - 1)]  # fmt: skip
    lines.append(f"  - {{trigger: fin, from: s{n - 1}, to: end}}")
    path = tmp_path / "big.yaml"
    path.write_text("\n".join(lines) + "\n")
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0, result.output


def test_read_only_commands_warn_about_a_broken_file_and_go_on(runner, tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    shutil.copytree(EXAMPLES, folder)
    started = runner.invoke(cli, ["--workflows", str(folder), "start", "order", "--data",
                                  '{"order": {"id": 1, "qty": 5}}'])  # fmt: skip
    assert started.exit_code == 0, started.output
    (folder / "broken.yaml").write_bytes(b"workflow: broken\nversion: \xff\n")
    listed = runner.invoke(cli, ["--workflows", str(folder), "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert "warning:" in listed.stderr and "broken.yaml:2:" in listed.stderr
    assert '"workflow": "order"' in listed.stdout
    shown = runner.invoke(cli, ["--workflows", str(folder), "show", "1"])
    assert shown.exit_code == 0
    # A command that writes still refuses to run with a broken workflow folder.
    again = runner.invoke(cli, ["--workflows", str(folder), "start", "order"])
    assert again.exit_code == 1
    assert "broken.yaml:2:" in again.output
