"""Workflows of the language's additions, written into the test's workflow folder."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crmflow.core.factory import FactoryConfig

BOARD = """\
workflow: board
version: 1
entity: request
initial: draft
states:
  draft: {}
  board_approval:
    owner: manager
    approval:
      approvers: [manager, finance]
      required: "2 if request.amount > 1000 else 1"
      on_approved: approved
      on_rejected: rejected
  approved:
    on_enter:
      - action: notify
        with: {to: "{{ started_by }}", text: "{{ request.title }} approved"}
  rejected: {final: true}
  done: {final: true}
transitions:
  - {trigger: submit, from: draft, to: board_approval}
  - {trigger: close, from: approved, to: done}
  - {trigger: withdraw, from: board_approval, to: rejected, when: "actor == started_by"}
"""

ROUTING = """\
workflow: routing
version: 1
entity: order
initial: received
states:
  received: {}
  checking: {deadline: 1h, on_timeout: late}
  big: {owner: manager}
  small: {}
  late: {}
  done: {final: true}
transitions:
  - {trigger: check, from: received, to: checking}
  - {from: checking, to: big, when: "order.amount > 1000"}
  - {from: checking, to: small, when: "data.stock is defined and data.stock >= order.qty"}
  - {trigger: note, from: checking}
  - {trigger: late, from: checking, to: late}
  - {trigger: finish, from: [big, small, late], to: done}
"""

LOOP = """\
workflow: loop
version: 1
initial: a
states:
  a: {}
  b: {}
  c: {}
  end: {final: true}
transitions:
  - {trigger: go, from: a, to: b}
  - {from: b, to: c, when: "data.spin"}
  - {from: c, to: b, when: "data.spin"}
  - {trigger: stop, from: [b, c], to: end}
"""

TZ = ZoneInfo("Europe/Berlin")


def factory() -> FactoryConfig:
    return FactoryConfig(
        timezone=TZ,
        users={
            "alice": {"roles": ["manager"]},
            "bob": {"roles": ["manager"]},
            "carol": {"roles": ["finance", "manager"]},
            "dave": {"roles": ["planner"]},
            "erin": {"roles": ["sales"]},
        },
    )


@pytest.fixture
def language_dir(workflows_dir: Path) -> Path:
    for name, text in (("board", BOARD), ("routing", ROUTING), ("loop", LOOP)):
        (workflows_dir / f"{name}.yaml").write_text(text)
    return workflows_dir
