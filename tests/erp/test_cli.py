"""`crmflow sync erp`, `crmflow connectors [--json]`, `retry`, and the factory section check."""

from __future__ import annotations

import json

from click.testing import CliRunner

from crmflow.cli import cli

from .conftest import seed, write_factory


def _run(tmp_path, *args, env=None):
    db = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    return CliRunner().invoke(cli, [*args, "--db", db, "--factory", str(tmp_path / "factory.yaml")],
                              env=env, catch_exceptions=False)


def test_sync_prints_counts_and_connectors_lists_health(odoo, tmp_path):
    seed(odoo, orders=2, lines=2)
    write_factory(tmp_path, odoo.url)
    env = {"ODOO_API_KEY": odoo.api_key}
    result = _run(tmp_path, "sync", "erp", env=env)
    assert result.exit_code == 0, result.output
    assert "orders: read 2, added 4, updated 0" in result.output
    listed = _run(tmp_path, "connectors", "--json", env=env)
    rows = json.loads(listed.output)
    assert rows[0]["name"] == "erp" and rows[0]["kind"] == "odoo" and rows[0]["state"] == "ok"
    assert {"name", "kind", "state", "last_success", "errors", "quarantined"} <= set(rows[0])
    assert rows[0]["records"]["orders"] == 4 and rows[0]["quarantined"] == 0


def test_refused_credentials_exit_2_naming_them_and_show_in_connectors(odoo, tmp_path):
    write_factory(tmp_path, odoo.url, protocol="json2")
    result = _run(tmp_path, "sync", "erp", env={"ODOO_API_KEY": "nope"})
    assert result.exit_code == 2
    assert "refused the credentials" in result.output and "Invalid apikey" in result.output
    shown = _run(tmp_path, "connectors", env={"ODOO_API_KEY": "nope"})
    assert "erp (odoo): config" in shown.output and "Invalid apikey" in shown.output


def test_unreachable_erp_exits_2_with_the_reason(tmp_path):
    write_factory(tmp_path, "http://127.0.0.1:9", protocol="json2", timeout=0.5)
    result = _run(tmp_path, "sync", "erp", env={"ODOO_API_KEY": "k"})
    assert result.exit_code == 2 and "could not be reached" in result.output


def test_bad_erp_section_is_reported_at_its_line(odoo, tmp_path):
    path = tmp_path / "factory.yaml"
    path.write_text(
        "factory: t\nconnectors:\n  erp:\n    kind: sap\n    url: ftp://x\n"
        "    api_key_env: abc\n    every: soon\n    protcol: auto\n", encoding="utf-8")
    result = _run(tmp_path, "sync", "erp")
    assert result.exit_code == 1
    out = result.output
    assert f"{path}:4:11: error: connectors.erp: kind must be one of odoo, erpnext" in out
    assert f"{path}:5:10:" in out and f"{path}:6:18:" in out and f"{path}:7:12:" in out
    assert "unknown key 'protcol'; did you mean 'protocol'?" in out


def test_a_secret_value_in_the_section_is_refused(tmp_path):
    path = tmp_path / "factory.yaml"
    path.write_text("factory: t\nconnectors:\n  erp:\n    kind: odoo\n    url: http://x\n"
                    "    api_key: abc123\n", encoding="utf-8")
    result = _run(tmp_path, "connectors")
    assert result.exit_code == 1 and ":6:" in result.output and "api_key_env" in result.output


def test_retry_without_id_or_all_is_refused(odoo, tmp_path):
    write_factory(tmp_path, odoo.url)
    result = _run(tmp_path, "connectors", "retry")
    assert result.exit_code == 2 and "give a failure ID or --all" in result.output
