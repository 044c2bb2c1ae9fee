"""Automatic transitions: routing on a value, on entering and on new data; loops refused."""

from __future__ import annotations

from .conftest import factory


def _engine(make_engine, language_dir):
    return make_engine(workflows=language_dir, factory=factory())


def _history(engine, iid):
    return [(h["trigger"], h["from"], h["to"]) for h in engine.get(iid).as_json()["history"]]


def test_entering_a_state_takes_the_first_automatic_transition_whose_guard_holds(
    make_engine, language_dir
):
    engine = _engine(make_engine, language_dir)
    iid = engine.start("routing", data={"order": {"amount": 5000, "qty": 2}})
    result = engine.fire(iid, "check")
    assert result.taken and result.state == "big"
    assert _history(engine, iid)[-2:] == [
        ("check", "received", "checking"),
        ("auto", "checking", "big"),
    ]
    # the deadline of `checking` was never left armed
    assert engine.get(iid).timers == []


def test_new_data_while_in_the_state_is_routed_again(make_engine, language_dir):
    engine = _engine(make_engine, language_dir)
    iid = engine.start("routing", data={"order": {"amount": 10, "qty": 2}})
    assert engine.fire(iid, "check").state == "checking"  # no stock known: it waits
    assert [t.trigger for t in engine.get(iid).timers] == ["late"]
    assert engine.fire(iid, "note", {"stock": 1}).state == "checking"
    moved = engine.fire(iid, "note", {"stock": 7})
    assert moved.state == "small"
    assert _history(engine, iid)[-1] == ("auto", "checking", "small")
    assert engine.get(iid).timers == []


def test_a_loop_of_automatic_transitions_is_refused_and_changes_nothing(make_engine, language_dir):
    engine = _engine(make_engine, language_dir)
    iid = engine.start("loop", data={"spin": True})
    before = engine.get(iid)
    refused = engine.fire(iid, "go")
    assert not refused.taken and refused.code == "auto"
    assert "more than 20" in refused.reason and "b -> c -> b" in refused.reason
    after = engine.get(iid)
    assert (after.state, after.rev, len(after.history)) == ("a", before.rev, 1)
    # without the spin, the same trigger moves
    iid2 = engine.start("loop", data={"spin": False})
    assert engine.fire(iid2, "go").state == "b"


def test_fire_many_takes_automatic_transitions_too(make_engine, language_dir):
    engine = _engine(make_engine, language_dir)
    ids = [engine.start("routing", data={"order": {"amount": a, "qty": 1}}) for a in (5, 5000)]
    results = engine.fire_many([(ids[0], "check", None, None), (ids[1], "check", None, None)])
    assert [r.state for r in results] == ["checking", "big"]


def test_start_routes_automatically_from_the_initial_state(make_engine, workflows_dir):
    (workflows_dir / "triage.yaml").write_text(
        "workflow: triage\nversion: 1\nentity: ticket\ninitial: new\n"
        "states:\n  new: {}\n  urgent: {}\n  normal: {}\n  done: {final: true}\n"
        "transitions:\n"
        "  - {from: new, to: urgent, when: \"ticket.priority == 'high'\"}\n"
        "  - {from: new, to: normal}\n"
        "  - {trigger: close, from: [urgent, normal], to: done}\n"
    )
    engine = make_engine(workflows=workflows_dir)
    high = engine.start("triage", data={"ticket": {"priority": "high"}})
    low = engine.start("triage", data={"ticket": {"priority": "low"}})
    assert engine.get(high).state == "urgent"
    assert engine.get(low).state == "normal"
    assert _history(engine, high) == [("start", None, "new"), ("auto", "new", "urgent")]


def test_a_loop_set_off_by_new_data_names_the_states_of_the_loop(make_engine, language_dir):
    (language_dir / "spin.yaml").write_text(
        "workflow: spin\nversion: 1\ninitial: b\n"
        "states:\n  b: {}\n  c: {}\n  d: {}\n  end: {final: true}\n"
        "transitions:\n"
        "  - {from: b, to: c, when: \"data.spin\"}\n"
        "  - {from: c, to: d, when: \"data.spin\"}\n"
        "  - {from: d, to: b, when: \"data.spin\"}\n"
        "  - {trigger: note, from: [b, c, d]}\n"
        "  - {trigger: stop, from: [b, c, d], to: end}\n"
    )
    engine = _engine(make_engine, language_dir)
    iid = engine.start("spin")
    refused = engine.fire(iid, "note", {"spin": True})  # internal: the loop starts in b
    assert not refused.taken and refused.code == "auto"
    assert "b -> c -> d -> b" in refused.reason
    assert engine.get(iid).state == "b" and engine.get(iid).data == {}
