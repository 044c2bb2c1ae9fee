"""Sub-workflows: `call:` with `for_each`, children followed by the parent, early exits."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from crmflow import ActionContext, hookimpl
from crmflow.cli import cli
from crmflow.core.validation import validate_workflows
from crmflow.errors import RefusedError

PARENT = """\
workflow: change
version: 1
entity: change
initial: draft
states:
  draft: {}
  adjusting:
    deadline: 2d
    on_timeout: give_up
    call:
      workflow: plan_approval
      for_each: "{{ change.plans }}"
      data: {plan: "{{ item.id }}", amount: "{{ item.amount }}"}
    on_done: decided
  decided: {}
  approved: {final: true}
  rejected: {final: true}
  cancelled: {final: true}
  expired: {final: true}
transitions:
  - {trigger: submit, from: draft, to: adjusting}
  - {trigger: cancel, from: [draft, adjusting, decided], to: cancelled}
  - {trigger: give_up, from: adjusting, to: expired}
  - trigger: note
    from: adjusting
  - from: decided
    to: rejected
    when: "data.children | selectattr('state', 'equalto', 'rejected') | list"
  - {from: decided, to: approved}
"""

CHILD = """\
workflow: plan_approval
version: 1
initial: pending
states:
  pending:
    deadline: 1d
    on_timeout: remind
  approved: {final: true}
  rejected: {final: true}
transitions:
  - {trigger: approve, from: pending, to: approved}
  - {trigger: reject, from: pending, to: rejected}
  - {trigger: remind, from: pending}
"""

PLANS = {"change": {"plans": [{"id": 11, "amount": 500}, {"id": 12, "amount": 900},
                              {"id": 13, "amount": 50}]}}  # fmt: skip


@pytest.fixture
def calls_dir(workflows_dir: Path) -> Path:
    (workflows_dir / "change.yaml").write_text(PARENT)
    (workflows_dir / "plan_approval.yaml").write_text(CHILD)
    return workflows_dir


def _submitted(engine, data=PLANS):
    iid = engine.start("change", data=data, actor="erin")
    assert engine.fire(iid, "submit", actor="erin").state == "adjusting"
    return iid, [c["id"] for c in engine.get(iid).children]


def test_for_each_starts_one_child_per_item_with_parent_set(make_engine, calls_dir):
    engine = make_engine(workflows=calls_dir)
    iid, ids = _submitted(engine)
    assert len(ids) == 3
    parent = engine.get(iid)
    assert parent.data["children"] == [
        {"id": cid, "workflow": "plan_approval", "state": "pending"} for cid in ids
    ]
    children = [engine.get(cid) for cid in ids]
    assert [c.data for c in children] == [
        {"plan": 11, "amount": 500}, {"plan": 12, "amount": 900}, {"plan": 13, "amount": 50},
    ]  # fmt: skip
    assert {c.parent for c in children} == {iid} and parent.parent is None
    assert all(c.started_by == "erin" for c in children)
    assert [t.trigger for t in children[0].timers] == ["remind"]  # a child runs like any start


def test_each_child_move_updates_the_parent_and_the_last_one_routes_it(make_engine, calls_dir):
    engine = make_engine(workflows=calls_dir)
    iid, ids = _submitted(engine)
    assert engine.fire(ids[0], "approve").state == "approved"
    assert [c["state"] for c in engine.get(iid).data["children"]] == [
        "approved", "pending", "pending",
    ]  # fmt: skip
    assert engine.get(iid).state == "adjusting"
    engine.fire(ids[1], "approve")
    assert engine.get(iid).state == "adjusting"
    engine.fire(ids[2], "approve", actor="bob")
    parent = engine.get(iid)
    assert parent.state == "approved" and parent.finished
    assert {h.actor for h in parent.history[-2:]} == {"bob"}  # the last child's mover
    assert [(h.trigger, h.from_state, h.to_state) for h in parent.history][-2:] == [
        ("done", "adjusting", "decided"), ("auto", "decided", "approved"),
    ]  # fmt: skip
    assert parent.timers == []  # the call state's deadline went with it


def test_automatic_routing_on_the_childrens_outcome(make_engine, calls_dir):
    engine = make_engine(workflows=calls_dir)
    iid, ids = _submitted(engine)
    engine.fire(ids[0], "approve")
    engine.fire(ids[1], "reject")
    engine.fire(ids[2], "approve")
    assert engine.get(iid).state == "rejected"


def test_an_empty_for_each_goes_straight_to_on_done(make_engine, calls_dir):
    engine = make_engine(workflows=calls_dir)
    iid = engine.start("change", data={"change": {"plans": []}})
    assert engine.fire(iid, "submit").state == "approved"
    parent = engine.get(iid)
    assert parent.data["children"] == [] and parent.children == []
    assert [h.trigger for h in parent.history] == ["start", "submit", "done", "auto"]


def test_for_each_that_is_no_list_refuses_and_changes_nothing(make_engine, calls_dir):
    engine = make_engine(workflows=calls_dir)
    iid = engine.start("change", data={"change": {"plans": "all"}})
    refused = engine.fire(iid, "submit")
    assert not refused.taken and refused.code == "call" and refused.state == "draft"
    assert refused.reason.startswith("call: for_each '{{ change.plans }}' in state 'adjusting' "
                                     "gave str 'all', not a list")  # fmt: skip
    assert engine.get(iid).state == "draft" and engine.get(iid).children == []
    assert [h.trigger for h in engine.get(iid).history] == ["start"]


@pytest.mark.parametrize("how", ["cancel", "timeout"])
def test_leaving_the_call_state_early_cancels_the_open_children(
    make_engine, calls_dir, crmflow_clock, how
):
    engine = make_engine(workflows=calls_dir)
    iid, ids = _submitted(engine)
    engine.fire(ids[0], "approve")
    engine.fire(iid, "note")  # an internal transition does not leave the state
    assert not engine.get(ids[1]).finished
    if how == "cancel":
        assert engine.fire(iid, "cancel", actor="erin").state == "cancelled"
    else:
        crmflow_clock.advance(timedelta(days=2, minutes=1))
        engine.tick()
        assert engine.get(iid).state == "expired"
    first = engine.get(ids[0])
    assert first.state == "approved" and [h.trigger for h in first.history] == ["start", "approve"]
    for cid in ids[1:]:
        child = engine.get(cid)
        assert child.finished and child.state == "pending" and child.timers == []
        last = child.history[-1]
        assert (last.trigger, last.from_state, last.to_state) == ("cancel", "pending", "pending")
        assert f"parent {iid}" in last.payload["reason"]
        refused = engine.fire(cid, "approve")
        assert not refused.taken and refused.code == "finished"
    assert engine.tick(crmflow_clock() + timedelta(days=5)) == 0  # no child timer left


def test_fire_many_and_the_worker_path_follow_children(make_engine, calls_dir):
    engine = make_engine(workflows=calls_dir)
    iid, ids = _submitted(engine)
    results = engine.fire_many([(cid, "approve", None, None) for cid in ids])
    assert [r.state for r in results] == ["approved"] * 3
    assert engine.get(iid).state == "approved"
    other, more = _submitted(engine)
    engine.enqueue(more[0], "reject")
    engine.enqueue(more[1], "approve")
    engine.enqueue(more[2], "approve")
    from crmflow.core.engine.inbox import drain

    drain(engine)
    assert [c["state"] for c in engine.get(other).data["children"]] == [
        "rejected", "approved", "approved",
    ]  # fmt: skip
    assert engine.get(other).state == "rejected"


def test_fire_many_with_parent_and_child_in_one_batch(make_engine, calls_dir):
    engine = make_engine(workflows=calls_dir)
    iid, ids = _submitted(engine)
    results = engine.fire_many([(ids[0], "approve", None, None), (iid, "cancel", None, None),
                                (ids[1], "approve", None, None)])  # fmt: skip
    assert [r.taken for r in results] == [True, True, False]
    assert results[2].code == "finished"
    assert engine.get(iid).state == "cancelled"
    assert [engine.get(c).finished for c in ids] == [True, True, True]
    assert engine.get(iid).data["children"][0]["state"] == "approved"


def test_show_json_has_children_and_parent(runner: CliRunner, calls_dir):
    args = ["--workflows", str(calls_dir)]
    started = runner.invoke(cli, ["start", "change", "--data", json.dumps(PLANS), *args])
    assert started.exit_code == 0, started.output
    iid = started.output.strip().splitlines()[-1]
    assert runner.invoke(cli, ["fire", iid, "submit", *args]).exit_code == 0
    shown = json.loads(runner.invoke(cli, ["show", iid, "--json", *args]).output)
    assert shown["parent"] is None
    assert [c["workflow"] for c in shown["children"]] == ["plan_approval"] * 3
    child = json.loads(
        runner.invoke(cli, ["show", str(shown["children"][0]["id"]), "--json", *args]).output
    )
    assert child["parent"] == int(iid) and child["children"] == []
    text = runner.invoke(cli, ["show", iid, *args]).output
    assert f"child #{shown['children'][0]['id']} plan_approval: pending" in text


def test_simulate_drives_children_by_position_or_workflow(runner: CliRunner, calls_dir, tmp_path):
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "start:\n"
        "  data: {change: {plans: [{id: 1, amount: 5}, {id: 2, amount: 6}]}}\n"
        "steps:\n"
        "  - fire: submit\n"
        "    expect: adjusting\n"
        "  - fire: reject\n"
        "    child: 2\n"
        "    expect: adjusting\n"
        "  - fire: approve\n"
        "    child: plan_approval\n"
        "    expect: rejected\n"
        "  - fire: approve\n"
        "    child: 1\n"
        "expect: {state: rejected}\n"
    )
    out = runner.invoke(
        cli, ["simulate", "change", str(scenario), "--workflows", str(calls_dir), "--json"]
    )
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["ok"] and report["final_state"] == "rejected"
    assert [(c["workflow"], c["state"]) for c in report["children"]] == [
        ("plan_approval", "approved"), ("plan_approval", "rejected"),
    ]  # fmt: skip
    assert [p["trigger"] for p in report["children"][1]["path"]] == ["start", "reject"]
    assert [r["reason"].split(":")[0] for r in report["refused"]] == ["finished"]
    text = runner.invoke(cli, ["simulate", "change", str(scenario), "--workflows",
                               str(calls_dir)]).output  # fmt: skip
    assert "child #2 plan_approval: pending -> approved" in text


def test_simulate_text_lists_the_votes_cast_in_children(runner: CliRunner, calls_dir, tmp_path):
    (calls_dir / "plan_approval.yaml").write_text(CHILD.replace(
        "    deadline: 1d\n    on_timeout: remind\n",
        "    approval:\n      approvers: [alice, bob]\n"
        "      on_approved: approved\n      on_rejected: rejected\n",
    ).replace("  - {trigger: approve, from: pending, to: approved}\n"
              "  - {trigger: reject, from: pending, to: rejected}\n", ""))  # fmt: skip
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "start:\n"
        "  data: {change: {plans: [{id: 1, amount: 5}, {id: 2, amount: 6}]}}\n"
        "  as: erin\n"
        "steps:\n"
        "  - {fire: submit, as: erin}\n"
        "  - {fire: approve, child: 1, as: alice}\n"
        "  - {fire: reject, child: 2, as: bob, data: {comment: too dear}}\n"
        "expect: {state: rejected}\n"
    )
    args = ["simulate", "change", str(scenario), "--workflows", str(calls_dir)]
    report = json.loads(runner.invoke(cli, [*args, "--json"]).output)
    assert [[(v["by"], v["decision"]) for v in c["approvals"]] for c in report["children"]] == [
        [("alice", "approve")], [("bob", "reject")],
    ]  # fmt: skip
    out = runner.invoke(cli, args)
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    first = lines.index("  child #2 plan_approval: pending -> approved")
    assert lines[first + 1] == "    vote: approve by alice for alice in pending"
    second = lines.index("  child #3 plan_approval: pending -> rejected")
    assert lines[second + 1] == "    vote: reject by bob for bob in pending: too dear"


def test_simulate_lists_a_child_step_that_finds_no_child_and_goes_on(
    runner: CliRunner, calls_dir, tmp_path
):
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "start:\n"
        "  data: {change: {plans: [{id: 1, amount: 5}]}}\n"
        "steps:\n"
        "  - {fire: approve, child: 1}\n"  # not submitted yet: no child
        "  - {fire: submit, expect: adjusting}\n"
        "  - {fire: approve, child: 3}\n"  # one child only
        "  - {fire: approve, child: plan_aproval}\n"  # no child runs that workflow
        "  - {fire: approve, child: plan_approval, expect: approved}\n"
        "expect: {state: approved}\n"
    )
    out = runner.invoke(
        cli, ["simulate", "change", str(scenario), "--workflows", str(calls_dir), "--json"]
    )
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["ok"] and report["final_state"] == "approved"
    assert [(r["step"], r["trigger"]) for r in report["refused"]] == [
        (1, "approve"), (3, "approve"), (4, "approve"),
    ]  # fmt: skip
    reasons = [r["reason"] for r in report["refused"]]
    assert "0 child(ren)" in reasons[0] and "1 child(ren)" in reasons[1]
    assert "plan_aproval" in reasons[2]


def _write(folder: Path, text: str, name: str = "change.yaml") -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def _at(text: str, needle: str, offset: int = 0) -> str:
    """LINE:COL of ``needle`` (plus ``offset`` columns) in ``text``, as validate prints it."""
    before = text[: text.index(needle)]
    line = before.count("\n") + 1
    return f"{line}:{len(before) - (before.rfind(chr(10)) + 1) + 1 + offset}"


def _problems(paths):
    problems, _files = validate_workflows(paths)
    return [str(p) for p in problems if p.severity == "error"]


def test_validate_calling_an_unknown_workflow_says_did_you_mean(tmp_path: Path):
    folder = tmp_path / "wf"
    folder.mkdir()
    _write(folder, CHILD, "plan_approval.yaml")
    text = PARENT.replace("workflow: plan_approval", "workflow: plan_aproval")
    path = _write(folder, text)
    where = _at(text, "plan_aproval")
    assert _problems([path]) == [
        f"{path}:{where}: error: call names workflow 'plan_aproval', which this folder or "
        "factory does not define; did you mean 'plan_approval'?"
    ]
    assert _problems([str(folder)])[0].startswith(
        f"{folder}/change.yaml:{where}: error: call names"
    )


def test_validate_reports_an_unknown_called_workflow_beside_the_files_other_errors(
    tmp_path: Path,
):
    folder = tmp_path / "wf"
    folder.mkdir()
    _write(folder, CHILD, "plan_approval.yaml")
    text = PARENT.replace("workflow: plan_approval", "workflow: plan_aproval").replace(
        "deadline: 2d", "deadline: 2 days"
    )
    path = _write(folder, text)
    found = _problems([path])
    assert (
        f"{path}:{_at(text, 'plan_aproval')}: error: call names workflow 'plan_aproval', which "
        "this folder or factory does not define; did you mean 'plan_approval'?"
    ) in found
    assert any("duration '2 days' is malformed" in p for p in found)


def test_validate_call_block_errors_point_at_their_line(tmp_path: Path):
    folder = tmp_path / "wf"
    folder.mkdir()
    _write(folder, CHILD, "plan_approval.yaml")
    no_done = _write(folder, PARENT.replace("    on_done: decided\n", ""))
    assert (
        f"{no_done}:{_at(PARENT, 'adjusting:')}: error: a 'call:' state needs 'on_done:' "
        "(the state entered when every child has finished)"
    ) in _problems([no_done])
    bad = (
        PARENT.replace("on_done: decided", "on_done: decide")
        .replace('"{{ change.plans }}"', '"{{ change.plans"')
        .replace("{{ item.amount }}", "{{ itme.amount }}")
        .replace("  decided: {}\n", "  decided: {}\n  loose: {on_done: decided}\n")
    )
    path = _write(folder, bad)
    found = _problems([path])
    where = _at(bad, "on_done: decide\n", 9)
    assert (
        f"{path}:{where}: error: on_done names undefined state 'decide'; did you mean "
        "'decided'?" in found
    ), found
    assert any(p.startswith(f"{path}:{_at(bad, 'for_each:', 10)}: error: template")
               for p in found), found  # fmt: skip
    assert any(p.startswith(f"{path}:{_at(bad, 'amount: ', 8)}: error: unknown name 'itme'")
               and "'item'" in p for p in found), found  # fmt: skip
    assert any(p.startswith(f"{path}:{_at(bad, 'on_done: decided}')}: error: 'on_done:' belongs")
               for p in found), found  # fmt: skip


def test_validate_reports_a_loop_of_calls(tmp_path: Path):
    folder = tmp_path / "wf"
    folder.mkdir()
    _write(folder, CHILD.replace(
        "  pending:\n", "  pending:\n    call: {workflow: change}\n    on_done: approved\n"
    ).replace("    deadline: 1d\n    on_timeout: remind\n", ""), "plan_approval.yaml")  # fmt: skip
    _write(folder, PARENT)
    found = _problems([str(folder)])
    assert (
        len(found) == 1
        and "call each other in a loop: change -> plan_approval -> change" in (found[0])
    ), found


@pytest.mark.parametrize("broken", ["parent", "child", "both"])
def test_validate_reports_a_loop_of_calls_beside_other_errors(tmp_path: Path, broken: str):
    folder = tmp_path / "wf"
    folder.mkdir()
    child = CHILD.replace(
        "  pending:\n", "  pending:\n    call: {workflow: change}\n    on_done: approved\n"
    ).replace("    deadline: 1d\n    on_timeout: remind\n", "")
    parent = PARENT
    if broken in ("child", "both"):
        child = child.replace("initial: pending", "initial: pendng")
    if broken in ("parent", "both"):
        parent = parent.replace("deadline: 2d", "deadline: 2 days")
    _write(folder, child, "plan_approval.yaml")
    path = _write(folder, parent)
    found = _problems([str(folder)])
    assert (
        f"{path}:{_at(parent, 'plan_approval')}: error: workflows call each other in a loop: "
        "change -> plan_approval -> change; a child would start its own parent's workflow "
        "again without end"
    ) in found, found
    assert len(found) == 1 + (broken != "child") + (broken != "parent"), found


def _race_parts(engine):
    """A parent with one open child left: the child's last move finishes the call."""
    iid, ids = _submitted(engine, {"change": {"plans": [{"id": 1}, {"id": 2}]}})
    engine.fire(ids[0], "approve")
    return iid, ids[1]


def _consistent(engine, iid, child):
    parent, last = engine.get(iid), engine.get(child)
    assert last.finished
    assert parent.finished
    if parent.state == "cancelled":
        # cancelled first: the child was cancelled with it, its own approve refused
        assert last.history[-1].trigger == "cancel" and last.state == "pending"
    else:
        # the child finished first: the parent moved on, and cancel came too late
        assert last.state == "approved" and parent.state == "approved"
    open_children = [c for c in parent.children if not c["finished"]]
    assert open_children == []


@pytest.mark.parametrize("first", ["parent", "child"])
def test_a_child_finishing_while_its_parent_is_cancelled(make_engine, calls_dir, first, db_url):
    """Two connections: one holds its transaction open while the other fires."""
    engine = make_engine(workflows=calls_dir)
    other = make_engine(workflows=calls_dir)
    iid, child = _race_parts(engine)
    holder, target, trigger, late = (
        (iid, child, "cancel", "approve")
        if first == "parent"
        else (child, iid, "approve", "cancel")
    )
    if not db_url.startswith("postgresql"):
        # SQLite serialises writers: the same two orders, one after the other.
        engine.fire(holder, trigger)
        refused = other.fire(target, late)
        assert not refused.taken
        _consistent(engine, iid, child)
        return
    outcome: dict[str, object] = {}
    with engine.db.connect() as conn:
        tx = conn.begin()
        result, _records, _queued = engine.fire_in(conn, holder, trigger, None, None, None,
                                                   engine.now())  # fmt: skip
        assert result.taken

        def fire_late() -> None:
            try:
                outcome["result"] = other.fire(target, late)
            except Exception as exc:  # reported below: there must be none
                outcome["error"] = exc

        worker = threading.Thread(target=fire_late)
        worker.start()
        _wait_for_lock(engine, worker)
        tx.commit()
    worker.join(30)
    assert "error" not in outcome, outcome
    assert not outcome["result"].taken and outcome["result"].code == "finished"
    _consistent(engine, iid, child)


def _wait_for_lock(engine, worker: threading.Thread) -> None:
    """Until the other connection waits for a row lock (PostgreSQL's own view of it)."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'"
    )
    probe = sa.create_engine(engine.db.url)
    try:
        for _ in range(2000):
            with probe.connect() as conn:
                if conn.execute(query).scalar():
                    return
            worker.join(0.01)  # the thread has not blocked yet: give it a moment
        raise AssertionError("the second connection never waited for the lock")
    finally:
        probe.dispose()


FAN = """\
workflow: fan
version: 1
initial: fan_out
states:
  fan_out:
    call: {workflow: middle, for_each: "{{ data.parts }}", data: {n: "{{ item }}"}}
    on_done: end
  end: {final: true}
  stopped: {final: true}
transitions:
  - {trigger: stop, from: fan_out, to: stopped}
"""

MIDDLE = """\
workflow: middle
version: 1
initial: inner
states:
  inner:
    call: {workflow: plan_approval}
    on_done: end
  end: {final: true}
transitions: []
"""


def test_an_initial_call_state_and_grandchildren(make_engine, calls_dir):
    (calls_dir / "fan.yaml").write_text(FAN)
    (calls_dir / "middle.yaml").write_text(MIDDLE)
    engine = make_engine(workflows=calls_dir)
    empty = engine.start("fan", data={"parts": []})
    assert engine.get(empty).state == "end"  # nothing to wait for
    iid = engine.start("fan", data={"parts": [1, 2]}, actor="erin")
    middles = [c["id"] for c in engine.get(iid).children]
    assert [engine.get(m).data["n"] for m in middles] == [1, 2]
    grand = [engine.get(m).children[0]["id"] for m in middles]
    assert [engine.get(g).parent for g in grand] == middles
    assert engine.get(grand[0]).started_by == "erin"
    engine.fire(grand[0], "approve")  # the grandchild ends its middle, which tells fan
    assert engine.get(middles[0]).state == "end"
    assert [c["state"] for c in engine.get(iid).data["children"]] == ["end", "inner"]
    listed = next(i for i in engine.list(workflow="fan") if i.id == iid)
    assert [c["id"] for c in listed.children] == middles  # `list` carries them too
    assert engine.fire(iid, "stop").state == "stopped"
    assert engine.get(middles[1]).finished and engine.get(grand[1]).finished
    assert engine.get(grand[1]).history[-1].trigger == "cancel"
    assert engine.get(middles[0]).history[-1].trigger == "done"  # finished before: untouched


def test_the_diagram_draws_a_call_state_with_what_it_calls():
    from crmflow.core.diagram import WorkflowDiagram

    text = WorkflowDiagram.from_source(PARENT).mermaid()
    assert "    s_adjusting : sub-workflow" in text
    assert (
        "    note left of s_adjusting : calls plan_approval for each #123;#123; change.plans "
        "#125;#125;, waits for every child"
    ) in text
    assert "    s_adjusting --> s_decided : done" in text


class _Picky:
    """A plugin whose in-transaction action refuses some data (a child's on_enter)."""

    @hookimpl
    def register_actions(self, register: Any) -> None:
        def check(ctx: ActionContext, plan: Any) -> str:
            if plan == 13:
                raise RefusedError("plan 13 is frozen", reason="frozen")
            return "ok"

        register("picky.check", check)


def test_a_child_that_fails_to_start_leaves_its_parent_as_it_was(make_engine, calls_dir):
    (calls_dir / "plan_approval.yaml").write_text(
        CHILD.replace(
            "    on_timeout: remind\n",
            "    on_timeout: remind\n    on_enter:\n"
            "      - {action: picky.check, with: {plan: '{{ data.plan }}'}, save_as: checked}\n",
        )
    )
    engine = make_engine(workflows=calls_dir, plugins=[_Picky()])
    good = engine.start("change", data={"change": {"plans": [{"id": 11}, {"id": 12}]}})
    bad = engine.start("change", data=PLANS)  # its third plan's child refuses to start
    results = engine.fire_many([(bad, "submit", None, None), (good, "submit", None, None)])
    assert [r.taken for r in results] == [False, True]
    assert "plan 13 is frozen" in results[0].reason
    assert engine.get(bad).state == "draft" and engine.get(bad).children == []
    assert [h.trigger for h in engine.get(bad).history] == ["start"]
    assert len(engine.get(good).children) == 2 and engine.get(good).state == "adjusting"
    assert {i.workflow for i in engine.list() if i.parent is None} == {"change"}


def test_migrating_a_parent_out_of_its_call_state_cancels_the_children(make_engine, calls_dir):
    engine = make_engine(workflows=calls_dir)
    iid, ids = _submitted(engine)
    second, second_ids = _submitted(engine)
    engine.fire(ids[0], "approve")
    (calls_dir / "change_v2.yaml").write_text(
        PARENT.replace("version: 1", "version: 2")
        .replace("  draft: {}\n", "  draft: {}\n  hold: {}\n")
        .replace("  - {trigger: submit, from: draft, to: adjusting}\n",
                 "  - {trigger: submit, from: draft, to: adjusting}\n"
                 "  - {trigger: resume, from: hold, to: adjusting}\n"
                 "  - {trigger: pause, from: draft, to: hold}\n")
    )  # fmt: skip
    (calls_dir / "plan_approval_v2.yaml").write_text(CHILD.replace("version: 1", "version: 2"))
    later = make_engine(workflows=calls_dir)
    report = later.migrate_instances("change", 2, {"adjusting": "hold"})
    assert {m["id"] for m in report.moved} == {iid, second}
    assert later.get(iid).state == "hold"
    for cid in ids[1:] + second_ids:
        assert later.get(cid).finished and later.get(cid).history[-1].trigger == "cancel"
    assert later.get(ids[0]).state == "approved"
    # a child migrated to a renamed state: its entry in the parent's data follows
    other, more = _submitted(later)
    (calls_dir / "plan_approval_v3.yaml").write_text(
        CHILD.replace("version: 1", "version: 3").replace("pending", "waiting")
    )
    newest = make_engine(workflows=calls_dir)
    newest.migrate_instances("plan_approval", 3, {"pending": "waiting"})
    assert [c["state"] for c in newest.get(other).data["children"]] == ["waiting"] * 3
    assert not newest.get(more[0]).finished
