"""Keys beyond their columns are refused before writing, alike on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmflow import Engine
from crmflow.cli import cli
from crmflow.errors import ExpressionError
from crmflow.testing import FakeClock
from tests.domain.conftest import START

FLOW = """\
workflow: keyed
version: 1
entity: thing
initial: open
states:
  open: {}
  done: {final: true}
transitions:
  - {trigger: close, from: open, to: done}
start_on:
  - event: thing.made
    unique: "{{ event.id }}"
"""


def test_an_over_long_key_on_the_command_line_is_a_usage_error(runner) -> None:
    result = runner.invoke(cli, ["emit", "thing.made", "--key", "k" * 201])
    assert result.exit_code == 2
    assert "'--key': is 201 characters long; at most 200" in result.output


def test_an_over_long_unique_key_is_refused(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "keyed.yaml").write_text(FLOW)
    engine = Engine.open(f"sqlite:///{tmp_path / 'k.sqlite3'}", workflows=flows,
                         clock=FakeClock(START), load_entry_points=False)  # fmt: skip
    try:
        with pytest.raises(ExpressionError, match="gives 600 characters; at most 500"):
            engine.emit("thing.made", {"id": "x" * 600})
        assert engine.list() == []
        assert engine.emit("thing.made", {"id": "x" * 500}).started
    finally:
        engine.close()
