"""WeCom, DingTalk and Feishu robots over real HTTP: signed, retried on rate limits only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crmflow.notifications import delivery_log, send_due

from .conftest import ROBOT_CONFIG


def _robot_rows(engine, channel):
    return [d for d in delivery_log(engine) if d["channel"] == channel]


@pytest.mark.parametrize("channel", ["wecom", "dingtalk", "feishu"])
def test_one_signed_markdown_post_per_message_naming_everyone_it_reaches(
    notify_engine, robots, ping, channel
):
    engine = notify_engine(notify=ROBOT_CONFIG)
    ping(engine, "manager", channels=[channel])
    [post] = robots.accepted(channel)
    rows = _robot_rows(engine, channel)
    assert [(d["to"], d["status"]) for d in rows] == [("mia", "sent"), ("max", "sent")]
    if channel == "wecom":
        text = post.body["markdown"]["content"]
    elif channel == "dingtalk":
        text = post.body["markdown"]["text"]
        assert post.body["markdown"]["title"] == "Ticket T-1 needs you"
        assert post.body["at"]["atMobiles"] == ["13800000001"]  # mia's mobile
        assert post.query["timestamp"] == str(int(robots.clock().timestamp() * 1000))
    else:
        text = post.body["card"]["elements"][0]["content"]
        assert post.body["timestamp"] == str(int(robots.clock().timestamp()))
    assert "**Ticket T-1 needs you**" in text and "@mia @max" in text
    assert "[Open](/instances/" in text


@pytest.mark.parametrize(("channel", "secret_env"), [
    ("dingtalk", "DINGTALK_SECRET"), ("feishu", "FEISHU_SECRET"),
])  # fmt: skip
def test_a_wrong_secret_is_refused_by_the_vendor_and_fails_at_once(
    notify_engine, robots, ping, clock, monkeypatch, channel, secret_env
):
    monkeypatch.setenv(secret_env, "not-the-secret")
    engine = notify_engine(notify=ROBOT_CONFIG)
    ping(engine, "mia", channels=[channel])
    [row] = _robot_rows(engine, channel)
    code = {"dingtalk": "310000 sign not match", "feishu": "19021 sign match fail"}[channel]
    assert row["status"] == "failed" and code in row["error"] and row["attempts"] == 1
    clock.advance(hours=2)
    send_due(engine)
    assert len([p for p in robots.posts if p.kind == channel]) == 1  # never tried again


@pytest.mark.parametrize(("channel", "env", "value", "code"), [
    ("wecom", "WECOM_HOOK", "/cgi-bin/webhook/send?key=gone", "93000"),
    ("dingtalk", "DINGTALK_HOOK", "/robot/send?access_token=gone", "300001"),
    ("feishu", "FEISHU_HOOK", "/open-apis/bot/v2/hook/gone", "19001"),
])  # fmt: skip
def test_an_unknown_hook_fails_at_once(notify_engine, robots, ping, monkeypatch, channel, env,
                                       value, code):  # fmt: skip
    monkeypatch.setenv(env, robots.base + value)
    engine = notify_engine(notify=ROBOT_CONFIG)
    ping(engine, "mia", channels=[channel])
    [row] = _robot_rows(engine, channel)
    assert row["status"] == "failed" and code in row["error"]


@pytest.mark.parametrize("channel", ["wecom", "dingtalk", "feishu"])
def test_rate_limits_and_5xx_are_retried_with_backoff_and_then_sent(
    notify_engine, robots, ping, clock, channel
):
    robots.script(channel, "rate", "503", "rate")
    engine = notify_engine(notify=ROBOT_CONFIG)
    ping(engine, "mia", channels=[channel])
    for wait in (5, 10, 20):
        [row] = _robot_rows(engine, channel)
        assert row["status"] == "pending"
        clock.advance(timedelta(seconds=wait))
        send_due(engine)
    [row] = _robot_rows(engine, channel)
    assert (row["status"], row["attempts"]) == ("sent", 4)
    assert len(robots.accepted(channel)) == 1


def test_a_rate_limit_that_lasts_fails_after_five_attempts(notify_engine, robots, ping, clock):
    robots.script("dingtalk", *["rate"] * 6)
    engine = notify_engine(notify=ROBOT_CONFIG)
    ping(engine, "mia", channels=["dingtalk"])
    for _ in range(6):
        clock.advance(minutes=2)
        send_due(engine)
    [row] = _robot_rows(engine, "dingtalk")
    assert row["status"] == "failed"
    assert "gave up after 5 attempts: dingtalk: 130101" in row["error"]
    assert len([p for p in robots.posts if p.kind == "dingtalk"]) == 5


def test_a_failing_channel_never_resends_the_others(notify_engine, robots, smtp, ping, clock):
    box, port = smtp
    robots.script("feishu", "503")
    engine = notify_engine(notify={**ROBOT_CONFIG, "mail": {"host": "127.0.0.1", "port": port,
                                                            "sender": "c@plant.example"}})
    ping(engine, "mia", channels=["wecom", "feishu"])
    clock.advance(seconds=5)
    send_due(engine)
    assert len(box.received) == 1 and len(robots.accepted("wecom")) == 1
    assert len(robots.accepted("feishu")) == 1
    assert {d["channel"]: d["status"] for d in delivery_log(engine)} == {
        "inapp": "sent", "mail": "sent", "wecom": "sent", "feishu": "sent",
    }  # fmt: skip


def test_a_robot_the_factory_does_not_configure_is_a_visible_failure(notify_engine, ping):
    engine = notify_engine(notify={})
    ping(engine, "mia", channels=["dingtalk"])
    [row] = _robot_rows(engine, "dingtalk")
    assert row["status"] == "failed" and "not configured" in row["error"]


def test_a_missing_environment_variable_names_it(notify_engine, robots, ping, monkeypatch):
    monkeypatch.delenv("WECOM_HOOK")
    engine = notify_engine(notify=ROBOT_CONFIG)
    ping(engine, "mia", channels=["wecom"])
    [row] = _robot_rows(engine, "wecom")
    assert row["status"] == "failed" and "WECOM_HOOK" in row["error"]


def test_workflow_text_cannot_inject_markdown_or_tags_into_a_robot_post(
    notify_engine, robots, ping
):
    engine = notify_engine(notify=ROBOT_CONFIG)
    ping(engine, "mia", channels=["wecom"], number='B_1 [x](http://evil) <font color="red">')
    [post] = robots.accepted("wecom")
    text = post.body["markdown"]["content"]
    assert r"**Ticket B_1 \[x\](http://evil) &lt;font color=" in text and "<font" not in text
