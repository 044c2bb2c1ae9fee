"""Secrets: refused in the factory file, hidden from expressions, masked in JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crmflow import Engine
from crmflow.cli import cli
from crmflow.core.factory import FactoryConfig, load_factory
from crmflow.errors import ValidationError
from crmflow.testing import FakeClock
from tests.domain.conftest import START

FACTORY = """\
factory: leaky
settings:
  smtp_password: hunter2
  limits: [{name: a, db_pwd: x1}]
  erp_url: https://erp:s3cret@erp.example/api
  auth_header: Bearer abcdefghijklmnop
  note: {credentials: abc}
  private_key: abc
  aws_access_key: AKIAABCDEFGHIJKLMNOP
  passwd: pw
  password_env: SMTP_PASSWORD
users:
  ann: {roles: [sales], password: pw}
"""


def test_the_factory_check_catches_every_kind_of_secret(tmp_path: Path) -> None:
    path = tmp_path / "leaky.yaml"
    path.write_text(FACTORY)
    with pytest.raises(ValidationError) as err:
        load_factory(path)
    found = {(p.line, p.message.split(";")[0]) for p in err.value.problems}
    lines = sorted(line for line, _message in found)
    assert lines == [3, 4, 5, 6, 7, 8, 9, 10, 13], found  # not line 11 (`_env`)


FLOW = """\
workflow: leak
version: 1
initial: open
states:
  open: {}
  done: {final: true}
transitions:
  - trigger: close
    from: open
    to: done
    do:
      - action: notify
        with: {to: ops, text: "{{ factory|tojson }}"}
"""


def test_expressions_see_only_non_secret_settings(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "leak.yaml").write_text(FLOW)
    settings = {"limit": 5, "smtp_password": "hunter2",
                "erp": {"url": "https://u:pw@erp/x", "timeout": 3}}  # fmt: skip
    engine = Engine.open(f"sqlite:///{tmp_path / 's.sqlite3'}", workflows=flows,
                         factory=FactoryConfig(settings=settings), clock=FakeClock(START),
                         load_entry_points=False)  # fmt: skip
    try:
        iid = engine.start("leak", {})
        assert engine.fire(iid, "close").taken
        from crmflow.notifications import inbox

        [message] = inbox(engine, "ops")
        text = message["text"]
    finally:
        engine.close()
    shown = json.loads(text)
    assert shown["limit"] == 5 and shown["erp"] == {"timeout": 3}
    assert "hunter2" not in text and "pw@" not in text


def test_show_and_list_json_mask_secret_fields(runner, tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "leak.yaml").write_text(FLOW)
    data = json.dumps({"customer": "acme", "api_token": "tok-123", "login": {"password": "pw"},
                       "erp": "https://u:pw@erp/x"})  # fmt: skip
    started = runner.invoke(cli, ["--workflows", str(flows), "start", "leak", "--data", data])
    assert started.exit_code == 0, started.output
    for args in (["show", "1", "--json"], ["list", "--json"]):
        result = runner.invoke(cli, ["--workflows", str(flows), *args])
        assert result.exit_code == 0
        assert "tok-123" not in result.output and "pw" not in result.output
        assert "acme" in result.output and "***" in result.output
