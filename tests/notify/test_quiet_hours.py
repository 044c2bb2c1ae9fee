"""Quiet hours and daily digests in the person's time zone, across DST; urgent goes through."""

from __future__ import annotations

from datetime import UTC, datetime

from crmflow.notifications import delivery_log, send_due, set_preferences, unread_count


def _mail(port: int) -> dict[str, object]:
    return {"mail": {"host": "127.0.0.1", "port": port, "sender": "crmflow@plant.example"}}


def _users(**mia: object) -> dict[str, object]:
    return {"mia": {"roles": ["manager"], "email": "mia@example.com", **mia},
            "max": {"roles": ["manager"], "email": "max@example.com"}}  # fmt: skip


def test_quiet_hours_hold_mail_until_they_end_on_the_night_clocks_go_forward(
    notify_engine, smtp, ping, clock
):
    box, port = smtp
    engine = notify_engine(notify=_mail(port), users=_users(quiet_hours="22:00-07:00"))
    clock.set(datetime(2026, 3, 28, 21, 30, tzinfo=UTC))  # 22:30 in Berlin (CET): quiet
    ping(engine, "mia", number="T-1")
    clock.set(datetime(2026, 3, 29, 0, 30, tzinfo=UTC))  # 01:30 CET: still quiet
    ping(engine, "mia", number="T-2")

    assert unread_count(engine, "mia") == 2  # the inbox has them at once
    assert box.received == []
    # 07:00 on 29 March is 05:00 UTC (summer time began at 02:00), not 06:00
    assert {d["due_at"] for d in delivery_log(engine, user="mia") if d["channel"] == "mail"} == {
        "2026-03-29T05:00:00+00:00"
    }
    clock.set(datetime(2026, 3, 29, 4, 59, tzinfo=UTC))
    assert send_due(engine)["sent"] == 0
    clock.set(datetime(2026, 3, 29, 5, 0, tzinfo=UTC))
    assert send_due(engine) == {"sent": 2, "retrying": 0, "failed": 0}
    [(rcpts, msg)] = box.received  # one mail for both
    assert rcpts == ["mia@example.com"] and msg["Subject"] == "2 notifications"
    text = msg.get_body(("plain",)).get_content()
    assert "Ticket T-1 needs you" in text and "Ticket T-2 needs you" in text


def test_urgent_goes_through_quiet_hours(notify_engine, smtp, ping, clock):
    box, port = smtp
    engine = notify_engine(notify=_mail(port), users=_users(quiet_hours="22:00-07:00"))
    clock.set(datetime(2026, 3, 28, 23, 0, tzinfo=UTC))
    ping(engine, "manager", urgent=True)
    assert sorted(r[0] for r, _ in box.received) == ["max@example.com", "mia@example.com"]
    assert {m["Subject"] for _, m in box.received} == {"[Urgent] Ticket T-1 needs you"}


def test_outside_quiet_hours_mail_goes_at_once(notify_engine, smtp, ping, clock):
    box, port = smtp
    engine = notify_engine(notify=_mail(port), users=_users(quiet_hours="22:00-07:00"))
    clock.set(datetime(2026, 3, 29, 5, 0, tzinfo=UTC))  # 07:00 CEST: quiet hours are over
    ping(engine, "mia")
    assert len(box.received) == 1


def test_a_daily_digest_comes_at_eight_local_time_when_the_clocks_go_back(
    notify_engine, smtp, ping, clock
):
    box, port = smtp
    engine = notify_engine(notify=_mail(port), users=_users(digest="08:00"))
    clock.set(datetime(2026, 10, 24, 9, 0, tzinfo=UTC))
    ping(engine, "manager", number="T-1")  # max has no digest: his mail goes now
    assert [r[0] for r, _ in box.received] == ["max@example.com"]
    clock.set(datetime(2026, 10, 24, 16, 0, tzinfo=UTC))
    ping(engine, "mia", number="T-2")
    # 08:00 on 25 October is 07:00 UTC (winter time from 03:00), not 06:00
    clock.set(datetime(2026, 10, 25, 6, 59, tzinfo=UTC))
    assert send_due(engine)["sent"] == 0
    clock.set(datetime(2026, 10, 25, 7, 0, tzinfo=UTC))
    assert send_due(engine)["sent"] == 2
    rcpts, digest = box.received[-1]
    assert rcpts == ["mia@example.com"] and digest["Subject"] == "2 notifications"


def test_a_digest_in_the_persons_own_time_zone_and_language(notify_engine, smtp, ping, clock):
    box, port = smtp
    engine = notify_engine(notify=_mail(port), users=_users())
    set_preferences(engine, "mia", digest="08:00", timezone="America/New_York",
                    language="zh-CN")  # fmt: skip
    clock.set(datetime(2026, 10, 31, 20, 0, tzinfo=UTC))
    ping(engine, "mia", number="T-1")
    ping(engine, "mia", number="T-2")
    # New York leaves summer time on 1 November: 08:00 EST is 13:00 UTC
    clock.set(datetime(2026, 11, 1, 12, 59, tzinfo=UTC))
    assert send_due(engine)["sent"] == 0
    clock.set(datetime(2026, 11, 1, 13, 0, tzinfo=UTC))
    assert send_due(engine)["sent"] == 2
    [(_, msg)] = box.received
    assert msg["Subject"] == "2 条通知" and msg["Content-Language"] == "zh-CN"


def test_a_digest_time_inside_quiet_hours_waits_for_their_end(notify_engine, smtp, ping, clock):
    box, port = smtp
    engine = notify_engine(notify=_mail(port),
                           users=_users(digest="06:00", quiet_hours="22:00-07:00"))
    clock.set(datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    ping(engine, "mia")
    [mail] = [d for d in delivery_log(engine, user="mia") if d["channel"] == "mail"]
    assert mail["status"] == "held" and mail["due_at"] == "2026-01-06T06:00:00+00:00"


def test_a_person_who_chose_no_mail_gets_none(notify_engine, smtp, ping):
    box, port = smtp
    engine = notify_engine(notify=_mail(port), users=_users(channels=["inapp"]))
    ping(engine, "manager")
    assert [r[0] for r, _ in box.received] == ["max@example.com"]
    assert unread_count(engine, "mia") == 1
