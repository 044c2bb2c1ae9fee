"""`crmflow notifications [--user] [--failed] [--json]` and `crmflow notifications retry`."""

from __future__ import annotations

import json

from click.testing import CliRunner

from crmflow.cli import cli


def _run(engine, workflows, tmp_path, *args: str):
    url = engine.db.url.render_as_string(hide_password=False)
    return CliRunner().invoke(cli, [
        "notifications", *args, "--db", url, "--workflows", str(workflows),
        "--factory", str(tmp_path / "plant.yaml"),
    ])  # fmt: skip


def test_the_operator_lists_deliveries_as_json_in_the_documented_shape(
    notify_engine, smtp, ping, workflows, tmp_path
):
    box, port = smtp
    box.rcpt_reply = "550 5.1.1 mailbox unavailable"
    engine = notify_engine(notify={"mail": {"host": "127.0.0.1", "port": port,
                                            "sender": "c@plant.example"}})  # fmt: skip
    ping(engine, "mia")
    result = _run(engine, workflows, tmp_path, "--json")
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)
    assert [(i["to"], i["channel"], i["status"]) for i in items] == [
        ("mia", "inapp", "sent"), ("mia", "mail", "failed"),
    ]  # fmt: skip
    for item in items:
        assert {"id", "to", "channel", "status", "error", "text", "created_at", "sent_at"} <= set(
            item
        )
        assert item["text"] == "Ticket T-1 needs you"
    assert items[0]["sent_at"] == items[0]["created_at"] and items[1]["sent_at"] is None
    assert "550" in items[1]["error"]

    failed = json.loads(_run(engine, workflows, tmp_path, "--failed", "--json").output)
    assert [i["channel"] for i in failed] == ["mail"]
    assert json.loads(_run(engine, workflows, tmp_path, "--user", "max", "--json").output) == []
    text = _run(engine, workflows, tmp_path, "--failed").output
    assert "failed" in text and "mia" in text and "550" in text


def test_retry_sends_a_failed_delivery_again(notify_engine, smtp, ping, workflows, tmp_path):
    box, port = smtp
    box.rcpt_reply = "550 5.1.1 mailbox unavailable"
    engine = notify_engine(notify={"mail": {"host": "127.0.0.1", "port": port,
                                            "sender": "c@plant.example"}})  # fmt: skip
    ping(engine, "manager")
    failed = json.loads(_run(engine, workflows, tmp_path, "--failed", "--json").output)
    assert len(failed) == 2
    box.rcpt_reply = None  # the address was fixed on the server
    result = _run(engine, workflows, tmp_path, "retry", str(failed[0]["id"]))
    assert result.exit_code == 0, result.output
    assert " sent " in result.output and len(box.received) == 1
    result = _run(engine, workflows, tmp_path, "retry", "--all")
    assert result.exit_code == 0 and len(box.received) == 2
    assert json.loads(_run(engine, workflows, tmp_path, "--failed", "--json").output) == []


def test_a_retry_that_fails_again_exits_1_naming_how_many(
    notify_engine, smtp, ping, workflows, tmp_path
):
    box, port = smtp
    box.rcpt_reply = "550 5.1.1 mailbox unavailable"
    engine = notify_engine(notify={"mail": {"host": "127.0.0.1", "port": port,
                                            "sender": "c@plant.example"}})  # fmt: skip
    ping(engine, "manager")
    result = _run(engine, workflows, tmp_path, "retry", "--all")  # the address is still bad
    assert result.exit_code == 1 and "2 of 2 failed again" in result.output
    assert result.output.count("  failed   mail") == 2 and box.received == []


def test_retry_needs_an_id_or_all_and_names_an_unknown_id(notify_engine, workflows, tmp_path):
    engine = notify_engine()
    assert _run(engine, workflows, tmp_path, "retry").exit_code == 2
    result = _run(engine, workflows, tmp_path, "retry", "999")
    assert result.exit_code != 0 and "no failed delivery 999" in result.output


def test_templates_lists_ours_and_the_factorys_overrides(notify_engine, workflows, tmp_path):
    folder = tmp_path / "notify_templates"
    folder.mkdir()
    (folder / "late_in_state.yaml").write_text("en: {title: 'LATE {{ what }}'}\n")
    (folder / "shift_change.yaml").write_text("en: {title: x}\nzh-CN: {title: y}\n")
    engine = notify_engine()
    items = {i["name"]: i for i in json.loads(
        _run(engine, workflows, tmp_path, "templates", "--json").output)}  # fmt: skip
    assert {"approval_waiting", "decision", "alert_opened"} <= set(items)
    assert items["decision"]["shipped"] and items["decision"]["languages"] == ["en", "zh-CN"]
    assert not items["late_in_state"]["shipped"] and items["late_in_state"]["languages"] == ["en"]
    assert items["shift_change"]["file"] == str(folder / "shift_change.yaml")
