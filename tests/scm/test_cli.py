"""The EDI and connector commands, on a factory file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from crmflow.cli import cli

from .test_edifact import DESADV

FACTORY = """\
factory: plant
connectors:
  scm:
    kind: edi
    standard: edifact
    our_id: {id: "4000001000002", qualifier: "14"}
    partners:
      SUP-ACME: {id: "4012345000009", qualifier: "14"}
    inbox: edi/in
    outbox: edi/out
"""


def _run(tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    factory = tmp_path / "plant.yaml"
    return CliRunner().invoke(cli, [*args, "--db", db, "--factory", str(factory)],
                              catch_exceptions=False)  # fmt: skip


def test_edi_poll_and_connectors_json(tmp_path: Path) -> None:
    (tmp_path / "plant.yaml").write_text(FACTORY, encoding="utf-8")
    (tmp_path / "edi" / "in").mkdir(parents=True)
    (tmp_path / "edi" / "in" / "desadv.edi").write_text(DESADV, encoding="utf-8")
    result = _run(tmp_path, "edi", "poll", "--json")
    assert result.exit_code == 1  # the DESADV names an order crmflow does not know
    report = json.loads(result.stdout)
    assert report == {"sent": [], "applied": [], "rejected": [
        {"file": "desadv.edi", "reason": "line 1: unknown order PR000001"}]}  # fmt: skip
    assert (tmp_path / "edi" / "in" / "rejected" / "desadv.edi.reason").exists()
    status = json.loads(_run(tmp_path, "connectors", "--json").stdout)
    [edi] = status
    assert {k: edi[k] for k in ("name", "kind", "state", "quarantined")} == {
        "name": "edi", "kind": "edi", "state": "ok", "quarantined": 0}  # fmt: skip
    assert edi["errors"] == 1 and "unknown order" in edi["last_error"]
    assert edi["last_success"] is not None


def test_listen_without_mes_connectors_says_so(tmp_path: Path) -> None:
    (tmp_path / "plant.yaml").write_text("factory: plant\n", encoding="utf-8")
    result = _run(tmp_path, "listen")
    assert result.exit_code != 0 and "configures no connectors.mes" in result.output


def test_a_bad_mes_mapping_is_a_located_config_error(tmp_path: Path) -> None:
    (tmp_path / "plant.yaml").write_text(
        "factory: plant\nconnectors:\n  mes:\n    - kind: mqtt\n      host: 127.0.0.1\n"
        "      subscribe:\n        - {topic: a/+, event: capacity.changed, data: {line: x}}\n",
        encoding="utf-8",
    )
    result = _run(tmp_path, "listen")
    assert result.exit_code != 0
    assert "connectors.mes[0].subscribe[0].data: capacity.changed needs date" in result.output
