"""Who a notification reaches: roles, departments and people, each person once."""

from __future__ import annotations

from typing import Any

import pytest

from crmflow.notifications import delivery_log, inbox, notify, unread_count


def _inapp(engine: Any) -> list[tuple[str, str]]:
    return [(d["to"], d["text"]) for d in delivery_log(engine) if d["channel"] == "inapp"]


def test_a_role_reaches_each_person_once_even_holding_two_named_roles(notify_engine, ping):
    engine = notify_engine()
    ping(engine, ["manager", "supervisor"])
    # max is manager and supervisor: one notification; sam is supervisor only
    assert _inapp(engine) == [
        ("mia", "Ticket T-1 needs you"), ("max", "Ticket T-1 needs you"),
        ("sam", "Ticket T-1 needs you"),
    ]  # fmt: skip


def test_a_department_reaches_its_members_and_a_person_named_too_is_not_doubled(
    notify_engine, ping
):
    engine = notify_engine()
    ping(engine, ["planning", "paul", "mia"])
    assert [to for to, _ in _inapp(engine)] == ["paul", "petra", "mia"]


def test_a_template_from_the_workflow_renders_in_each_persons_language(notify_engine, clock):
    engine = notify_engine()
    iid = engine.start("ticket", data={"to": ["paul", "mia"], "number": "T-7"})
    engine.fire(iid, "late", actor="system")
    assert _inapp(engine) == [
        ("paul", "Ticket T-7 在「open」环节已超时"), ("mia", "Ticket T-7 is late in open"),
    ]  # fmt: skip
    item = inbox(engine, "mia")[0]
    assert item["link"] == "/tickets/T-7" and item["instance_id"] == iid


def test_a_factory_overrides_a_shipped_template(notify_engine, clock, tmp_path):
    folder = tmp_path / "notify_templates"
    folder.mkdir()
    (folder / "late_in_state.yaml").write_text(
        "en:\n  title: 'LATE: {{ what }}'\n  body: ''\nzh-CN:\n  title: '超时：{{ what }}'\n"
    )
    engine = notify_engine()
    iid = engine.start("ticket", data={"to": "paul", "number": "T-8"})
    engine.fire(iid, "late", actor="system")
    assert _inapp(engine) == [("paul", "超时：Ticket T-8")]


def test_a_name_that_is_nobody_keeps_the_message_in_that_names_inbox(notify_engine, ping):
    engine = notify_engine()
    ping(engine, "auditor")
    assert unread_count(engine, "auditor") == 1


def test_the_same_key_twice_writes_and_sends_nothing_more(notify_engine):
    engine = notify_engine()
    first = notify(engine, "manager", "Stock low", key="alert:B1")
    again = notify(engine, "manager", "Stock low", key="alert:B1")
    assert first == again
    assert len(delivery_log(engine)) == 2  # mia and max, once


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"to": []}, "notify needs 'to'"),
        ({"to": "mia"}, "either 'text' or 'template'"),
        ({"to": "mia", "text": "x", "channels": ["pager"]}, "unknown channel 'pager'"),
        ({"to": "mia", "text": "x", "link": "javascript:alert(1)"}, "must be a path"),
        ({"to": "mia", "template": "nope"}, "no notification template 'nope'"),
    ],
)
def test_bad_input_is_refused_with_what_to_fix_and_nothing_is_written(
    notify_engine, kwargs, message
):
    from crmflow.errors import InputError

    engine = notify_engine()
    with pytest.raises(InputError, match=message):
        notify(engine, **kwargs)
    assert delivery_log(engine) == []


@pytest.mark.parametrize(("urgent", "expected"), [
    (True, True), ("true", True), ("yes", True), (False, False), ("false", False), ("", False),
    ("0", False), (None, False),
])  # fmt: skip
def test_urgent_written_as_text_means_what_it_says(notify_engine, urgent, expected):
    engine = notify_engine()
    notify(engine, "mia", "x", urgent=urgent)
    assert inbox(engine, "mia")[0]["urgent"] is expected


def test_logins_given_roles_or_a_department_by_the_user_command_are_reached_once(
    notify_engine, ping
):
    from crmflow.core.people.accounts import add_user, disable_user

    engine = notify_engine()
    add_user(engine, "nora", "long enough", roles=["supervisor", "manager"])  # not in users:
    add_user(engine, "otto", "long enough", department="planning")  # planning's planner role
    add_user(engine, "gone", "long enough", roles=["supervisor"])
    disable_user(engine, "gone")  # left the plant: no more messages
    ping(engine, ["supervisor", "manager", "planner"])
    assert [to for to, _ in _inapp(engine)] == [
        "max", "sam", "nora", "mia", "paul", "petra", "otto"]  # fmt: skip
    ping(engine, "planning", number="T-2")
    assert [to for to, text in _inapp(engine) if "T-2" in text] == ["paul", "petra", "otto"]
