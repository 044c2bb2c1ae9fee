"""Starting and firing: history, guards, roles, idempotency, payloads (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crmflow.errors import NotFoundError

ORDER = {"order": {"number": "SO-1", "quantity": 5, "sales_rep": "alice"}}


def test_start_writes_one_history_row_and_arms_the_initial_deadline(make_engine, clock):
    engine = make_engine()
    iid = engine.start("rush_order", data=ORDER, actor="planner")

    inst = engine.get(iid)
    assert inst.state == "received"
    assert [(h.trigger, h.from_state, h.to_state, h.actor) for h in inst.history] == [
        ("start", None, "received", "planner")
    ]
    deadline = [t for t in inst.timers if t.name == "deadline"]
    assert deadline[0].trigger == "escalate"
    assert deadline[0].due == clock.now + timedelta(minutes=30)


def test_taken_transition_moves_state_and_records_history(make_engine):
    engine = make_engine()
    iid = engine.start("order", data=ORDER)

    result = engine.fire(iid, "confirm", actor="sales_rep")

    assert (result.taken, result.state, result.reason) == (True, "confirmed", None)
    inst = engine.get(iid)
    assert inst.state == "confirmed"
    assert [(h.trigger, h.from_state, h.to_state) for h in inst.history][-1] == (
        "confirm",
        "draft",
        "confirmed",
    )
    assert inst.rev == 2


@pytest.mark.parametrize(
    ("trigger", "actor", "code", "words"),
    [
        ("ship", None, "trigger", ["'ship'", "draft", "confirm"]),
        ("schedule", None, "trigger", ["schedule"]),
    ],
)
def test_a_trigger_not_accepted_in_the_state_is_refused(make_engine, trigger, actor, code, words):
    engine = make_engine()
    iid = engine.start("order", data=ORDER)
    before = engine.get(iid)

    result = engine.fire(iid, trigger, actor=actor)

    assert not result.taken
    assert result.code == code and result.reason.startswith(code)
    assert all(word in result.reason for word in words)
    after = engine.get(iid)
    assert (after.state, after.rev, len(after.history)) == (
        before.state,
        before.rev,
        len(before.history),
    )


def test_false_guard_refuses_and_changes_nothing(make_engine):
    engine = make_engine()
    iid = engine.start("order", data={"order": {"number": "SO-2", "quantity": 0}})

    result = engine.fire(iid, "confirm")

    assert not result.taken and result.code == "guard"
    assert "order.quantity > 0" in result.reason
    assert engine.get(iid).state == "draft"
    assert len(engine.get(iid).history) == 1


def test_guard_reading_a_missing_field_is_false_and_names_the_field(make_engine):
    engine = make_engine()
    iid = engine.start("rush_order", data=ORDER)
    engine.fire(iid, "accept", actor="planner")

    result = engine.fire(iid, "capacity_ok", actor="planner")

    assert not result.taken and result.code == "guard"
    assert "capacity" in result.reason and "missing" in result.reason


def test_guard_sees_instance_data_as_it_was_not_the_payload(make_engine):
    engine = make_engine()
    iid = engine.start("rush_order", data=ORDER)
    engine.fire(iid, "accept", actor="planner")

    result = engine.fire(iid, "capacity_ok", data={"capacity": {"free": 10}}, actor="planner")

    assert not result.taken and "capacity" in result.reason
    assert "capacity" not in engine.get(iid).data


def test_on_enter_action_result_is_saved_as_instance_data(make_engine):
    engine = make_engine()
    iid = engine.start("rush_order", data=ORDER)

    engine.fire(iid, "accept", actor="planner")

    assert engine.get(iid).data["capacity_note"]["notified"] == ["planner"]


def test_roles_are_checked_and_system_passes(make_engine):
    engine = make_engine()
    iid = engine.start("order", data=ORDER)
    engine.fire(iid, "confirm")

    no_role = engine.fire(iid, "schedule")
    wrong = engine.fire(iid, "schedule", actor="sales_rep")
    right = engine.fire(iid, "schedule", actor="planner")

    assert (no_role.taken, no_role.code) == (False, "role")
    assert "no role" in no_role.reason
    assert (wrong.taken, wrong.code) == (False, "role")
    assert "sales_rep" in wrong.reason and "planner" in wrong.reason
    assert right.taken and right.state == "scheduled"
    assert engine.fire(iid, "start_production", actor="system").taken


def test_finished_instance_refuses_everything(make_engine):
    engine = make_engine()
    iid = engine.start("order", data=ORDER)
    assert engine.fire(iid, "cancel", actor="manager").state == "cancelled"

    result = engine.fire(iid, "confirm")

    assert not result.taken and result.code == "finished"
    inst = engine.get(iid)
    assert inst.finished and inst.timers == []


def test_idempotency_key_returns_the_earlier_result_and_changes_nothing(make_engine):
    engine = make_engine()
    iid = engine.start("order", data=ORDER)

    first = engine.fire(iid, "confirm", key="evt-1")
    again = engine.fire(iid, "confirm", key="evt-1")

    assert first.taken and again.taken and again.duplicate
    assert again.state == first.state == "confirmed"
    assert len(engine.get(iid).history) == 2


def test_a_refused_fire_does_not_use_up_its_key(make_engine):
    engine = make_engine()
    iid = engine.start("order", data=ORDER)
    other = engine.start("order", data=ORDER)

    assert not engine.fire(iid, "schedule", key="k").taken
    taken = engine.fire(iid, "confirm", key="k")

    assert taken.taken and not taken.duplicate
    assert engine.fire(other, "confirm", key="k").taken  # keys are scoped to the instance


def test_payload_is_deep_merged_and_kept_in_history(make_engine):
    engine = make_engine()
    iid = engine.start("order", data=ORDER)

    engine.fire(iid, "confirm", data={"order": {"promised": "2026-02-01"}, "note": "ok"})

    inst = engine.get(iid)
    assert inst.data["order"] == {**ORDER["order"], "promised": "2026-02-01"}
    assert inst.data["note"] == "ok"
    assert inst.history[-1].payload == {"order": {"promised": "2026-02-01"}, "note": "ok"}


def test_internal_transition_keeps_state_and_does_not_rearm_deadline(make_engine, clock):
    engine = make_engine()
    iid = engine.start("order", data=ORDER)
    engine.fire(iid, "confirm")
    deadline = engine.get(iid).timers[0].due

    clock.advance(minutes=10)
    result = engine.fire(iid, "remind")

    inst = engine.get(iid)
    assert result.taken and inst.state == "confirmed"
    assert (inst.history[-1].from_state, inst.history[-1].to_state) == ("confirmed", "confirmed")
    assert [t.due for t in inst.timers] == [deadline]


def test_leaving_a_state_cancels_its_timers_in_the_same_transaction(make_engine):
    engine = make_engine()
    iid = engine.start("order", data=ORDER)
    engine.fire(iid, "confirm")
    assert engine.get(iid).timers

    engine.fire(iid, "schedule", actor="planner")

    assert engine.get(iid).timers == []


def test_deadline_fires_on_timeout_trigger_once_as_system(make_engine, clock):
    engine = make_engine()
    iid = engine.start("order", data=ORDER)
    engine.fire(iid, "confirm")

    assert engine.tick(now=clock.now + timedelta(hours=1)) == 0
    assert engine.tick(now=clock.now + timedelta(hours=3)) == 1
    assert engine.tick(now=clock.now + timedelta(hours=4)) == 0

    inst = engine.get(iid)
    assert [(h.trigger, h.actor) for h in inst.history][-1] == ("remind", "system")
    assert all(t.name != "deadline" for t in inst.timers)


def test_notify_action_puts_a_notification_in_the_inbox(make_engine, clock):
    from crmflow.notifications import inbox

    engine = make_engine()
    iid = engine.start("order", data=ORDER)
    engine.fire(iid, "confirm")
    engine.fire(iid, "remind")

    # "planner" is nobody in the default factory: the role's own inbox keeps it
    assert [(n["text"], n["instance_id"]) for n in inbox(engine, "planner")] == [
        ("order SO-1 waits in confirmed", iid)
    ]


def test_unknown_instance_is_a_clear_error(make_engine):
    engine = make_engine()
    with pytest.raises(NotFoundError, match="no instance 999"):
        engine.fire(999, "confirm")


def test_list_is_newest_first_and_filters(make_engine):
    engine = make_engine()
    a = engine.start("order", data=ORDER)
    b = engine.start("order", data=ORDER)
    c = engine.start("rush_order", data=ORDER)
    engine.fire(b, "confirm")

    assert [i.id for i in engine.list()] == [c, b, a]
    assert [i.id for i in engine.list(workflow="order", state="confirmed")] == [b]
