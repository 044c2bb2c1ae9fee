"""Fixtures of the durability tests: the effects plugin and workflows that use it."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from crmflow.operations import load_plugin

PLUGIN_FILE = Path(__file__).resolve().parents[1] / "plugins" / "durability_effects.py"

CRASH = """\
workflow: crash
version: 1
initial: open
states:
  open: {deadline: 1h, on_timeout: expire}
  expired: {}
transitions:
  - trigger: ping
    from: [open, expired]
    do:
      - action: durability.effect
        with: {n: "{{ event.n }}"}
  - trigger: expire
    from: open
    to: expired
    do:
      - action: durability.effect
        with: {n: -1}
"""

FLAKY = """\
workflow: po
version: 1
initial: draft
states:
  draft: {}
  ordered: {final: true}
transitions:
  - trigger: order
    from: draft
    to: ordered
    do:
      - action: durability.flaky
        with: {n: 7}
"""


@pytest.fixture
def plugin_file() -> Path:
    return PLUGIN_FILE


@pytest.fixture
def plugin() -> ModuleType:
    return load_plugin(str(PLUGIN_FILE))


@pytest.fixture
def crash_workflows(tmp_path: Path) -> Path:
    folder = tmp_path / "crash-workflows"
    folder.mkdir()
    (folder / "crash.yaml").write_text(CRASH)
    (folder / "po.yaml").write_text(FLAKY)
    return folder
