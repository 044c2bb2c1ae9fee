"""Approval states: votes, four eyes, N of M, `required` by expression, delegation."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from crmflow.cli import cli
from crmflow.core.engine.delegation import delegations
from crmflow.errors import InputError

from .conftest import factory

BIG = {"request": {"title": "New press", "amount": 5000}}
SMALL = {"request": {"title": "Spare part", "amount": 200}}


def _open(make_engine, language_dir, data=BIG, by="erin"):
    engine = make_engine(workflows=language_dir, factory=factory())
    iid = engine.start("board", data=data, actor=by)
    assert engine.fire(iid, "submit", actor=by).state == "board_approval"
    return engine, iid


def test_two_distinct_approvers_approve_and_votes_are_listed(make_engine, language_dir):
    engine, iid = _open(make_engine, language_dir)
    first = engine.fire(iid, "approve", {"comment": "fine"}, actor="alice")
    assert first.taken and first.state == "board_approval"
    assert engine.fire(iid, "approve", actor="bob").state == "approved"
    shown = engine.get(iid).as_json()
    votes = [(v["by"], v["for"], v["decision"], v["comment"]) for v in shown["approvals"]]
    assert votes == [("alice", "alice", "approve", "fine"), ("bob", "bob", "approve", None)]
    history = [(h["trigger"], h["from"], h["to"]) for h in shown["history"]]
    assert history[-2:] == [
        ("approve", "board_approval", "board_approval"),
        ("approve", "board_approval", "approved"),
    ]
    # the votes stay after the state is left
    engine.fire(iid, "close", actor="alice")
    assert len(engine.get(iid).as_json()["approvals"]) == 2


def test_one_person_counts_once_whatever_roles_they_hold(make_engine, language_dir):
    engine, iid = _open(make_engine, language_dir)
    assert engine.fire(iid, "approve", actor="carol").taken  # finance and manager
    again = engine.fire(iid, "approve", actor="carol")
    assert not again.taken and again.code == "approval"
    assert "carol" in again.reason and "already voted" in again.reason
    assert engine.get(iid).state == "board_approval"
    assert len(engine.get(iid).approvals) == 1


def test_four_eyes_refuses_the_starter_and_outsiders(make_engine, language_dir):
    engine, iid = _open(make_engine, language_dir, by="alice")
    own = engine.fire(iid, "approve", actor="alice")
    assert not own.taken and "four eyes" in own.reason
    outsider = engine.fire(iid, "approve", actor="dave")
    assert not outsider.taken and "not an approver" in outsider.reason
    nobody = engine.fire(iid, "approve")
    assert not nobody.taken and nobody.code == "approval"
    assert engine.get(iid).approvals == []


def test_required_comes_from_the_expression_and_reject_decides_at_once(make_engine, language_dir):
    engine, iid = _open(make_engine, language_dir, data=SMALL)
    assert engine.fire(iid, "approve", actor="bob").state == "approved"  # 200: one approval
    engine2, iid2 = _open(make_engine, language_dir)
    engine2.fire(iid2, "approve", actor="bob")
    rejected = engine2.fire(iid2, "reject", {"comment": "too dear"}, actor="carol")
    assert rejected.state == "rejected"
    assert engine2.get(iid2).approvals[-1]["decision"] == "reject"


def test_guard_sees_actor_and_started_by(make_engine, language_dir):
    engine, iid = _open(make_engine, language_dir, by="erin")
    refused = engine.fire(iid, "withdraw", actor="bob")
    assert not refused.taken and "actor == started_by" in refused.reason
    assert engine.fire(iid, "withdraw", actor="erin").state == "rejected"


def test_delegation_counts_for_the_delegator_both_days_in_factory_time(
    make_engine, language_dir, clock
):
    # 23:30 in Berlin on the last day (22:30 UTC): still delegated
    clock.set(datetime(2026, 3, 3, 22, 30, tzinfo=UTC))
    engine, iid = _open(make_engine, language_dir)
    engine.delegate("alice", "dave", "2026-03-02", "2026-03-03", reason="holiday")
    refused = engine.fire(iid, "approve", actor="alice")
    assert not refused.taken and "delegated" in refused.reason
    assert engine.fire(iid, "approve", actor="dave").taken
    vote = engine.get(iid).approvals[0]
    assert (vote["by"], vote["for"]) == ("dave", "alice")
    # 00:30 in Berlin the next day (still the 3rd in UTC): over
    clock.set(datetime(2026, 3, 3, 23, 30, tzinfo=UTC))
    engine2, iid2 = _open(make_engine, language_dir)
    late = engine2.fire(iid2, "approve", actor="dave")
    assert not late.taken and "not an approver" in late.reason
    # the first day from 00:00 Berlin (23:00 UTC the day before)
    clock.set(datetime(2026, 3, 1, 23, 0, tzinfo=UTC))
    engine3, iid3 = _open(make_engine, language_dir)
    assert engine3.fire(iid3, "approve", actor="dave").taken


def test_a_delegate_gains_no_vote_four_eyes_took_away(make_engine, language_dir, clock):
    clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    engine, iid = _open(make_engine, language_dir, by="alice")
    engine.delegate("alice", "dave", "2026-03-01", "2026-03-05")
    refused = engine.fire(iid, "approve", actor="dave")
    assert not refused.taken and "four eyes" in refused.reason


def test_cli_delegate_and_show_approvals(runner: CliRunner, language_dir, tmp_path):
    (tmp_path / "factory.yaml").write_text(
        "factory: test\ntimezone: Europe/Berlin\nusers:\n"
        "  alice: {roles: [manager]}\n  bob: {roles: [manager]}\n  dave: {roles: [planner]}\n"
        f"workflows: {language_dir}\n"
    )
    base = ["--factory", str(tmp_path / "factory.yaml")]
    started = runner.invoke(cli, ["start", "board", "--data", json.dumps(SMALL), "--as",
                                  "bob", *base])  # fmt: skip
    assert started.exit_code == 0, started.output
    iid = started.output.strip().splitlines()[-1]
    assert runner.invoke(cli, ["fire", iid, "submit", "--as", "bob", *base]).exit_code == 0
    done = runner.invoke(cli, ["delegate", "alice", "dave", "--from", "2020-01-01",
                               "--until", "2099-12-31", "--reason", "away", *base])  # fmt: skip
    assert done.exit_code == 0, done.output
    own = runner.invoke(cli, ["fire", iid, "approve", "--as", "alice", *base])
    assert own.exit_code == 3 and "delegated" in own.output
    assert runner.invoke(cli, ["fire", iid, "approve", "--as", "dave", *base]).exit_code == 0
    shown = json.loads(runner.invoke(cli, ["show", iid, "--json", *base]).output)
    assert shown["state"] == "approved"
    assert [(v["by"], v["for"]) for v in shown["approvals"]] == [("dave", "alice")]
    bad = runner.invoke(cli, ["delegate", "alice", "dave", "--from", "2026-03-05",
                              "--until", "2026-03-01", *base])  # fmt: skip
    assert bad.exit_code == 2 and "before" in bad.output


def test_a_delegate_must_be_a_person_of_the_factory(make_engine, language_dir):
    engine = make_engine(workflows=language_dir, factory=factory())
    with pytest.raises(InputError) as unknown:
        engine.delegate("alice", "nobody", "2026-03-01", "2026-03-05")
    assert unknown.value.field == "TO" and "'nobody' is not a person of this factory" in str(
        unknown.value
    )
    with pytest.raises(InputError) as own:
        engine.delegate("alice", "alice", "2026-03-01", "2026-03-05")
    assert own.value.field == "TO" and "themselves" in str(own.value)
    assert delegations(engine) == []


def test_overlapping_delegations_from_one_person_are_refused(make_engine, language_dir):
    engine = make_engine(workflows=language_dir, factory=factory())
    engine.delegate("alice", "dave", "2026-03-02", "2026-03-05")
    for start, until in (("2026-03-05", "2026-03-09"), ("2026-02-20", "2026-03-02"),
                         ("2026-03-03", "2026-03-04")):  # fmt: skip
        with pytest.raises(InputError) as overlap:
            engine.delegate("alice", "bob", start, until)
        assert overlap.value.field == "--from"
        assert "alice already hands their approvals to dave from 2026-03-02 to 2026-03-05" in (
            str(overlap.value)
        )
    # the day after, or another person's delegation, is fine
    engine.delegate("alice", "bob", "2026-03-06", "2026-03-09")
    engine.delegate("bob", "dave", "2026-03-02", "2026-03-05")
    assert len(delegations(engine)) == 3


def test_cli_delegate_refuses_an_unknown_delegate_and_an_overlap(
    runner: CliRunner, language_dir, tmp_path
):
    (tmp_path / "factory.yaml").write_text(
        "factory: test\ntimezone: Europe/Berlin\nusers:\n  alice: {roles: [manager]}\n"
        "departments:\n  - {id: plan, members: [dave, bob]}\n"
        f"workflows: {language_dir}\n"
    )
    base = ["--factory", str(tmp_path / "factory.yaml")]
    days = ["--from", "2026-03-02", "--until", "2026-03-05"]
    unknown = runner.invoke(cli, ["delegate", "alice", "nobdy", *days, *base])
    assert unknown.exit_code == 2 and "TO: 'nobdy' is not a person" in unknown.output
    # a department member is a person of the factory
    assert runner.invoke(cli, ["delegate", "alice", "dave", *days, *base]).exit_code == 0
    again = runner.invoke(cli, ["delegate", "alice", "bob", *days, *base])
    assert again.exit_code == 2 and "--from: alice already hands" in again.output


def test_the_starter_may_not_vote_as_someone_elses_delegate_under_four_eyes(
    make_engine, language_dir, clock
):
    clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    engine, iid = _open(make_engine, language_dir, by="erin")
    engine.delegate("alice", "erin", "2026-03-01", "2026-03-05")
    refused = engine.fire(iid, "approve", actor="erin")
    assert not refused.taken and refused.code == "approval" and "four eyes" in refused.reason
    assert engine.get(iid).approvals == []


TEAM = """\
workflow: team
version: 1
initial: asking
states:
  asking:
    approval:
      approvers: [alice, bob, finance]
      required: all
      on_approved: approved
      on_rejected: rejected
  approved: {final: true}
  rejected: {final: true}
transitions: []
"""


def test_required_all_waits_for_every_person_listed_by_name(make_engine, language_dir):
    (language_dir / "team.yaml").write_text(TEAM)
    engine = make_engine(workflows=language_dir, factory=factory())
    iid = engine.start("team", actor="erin")
    assert engine.fire(iid, "approve", actor="carol").state == "asking"  # finance: counted
    assert engine.fire(iid, "approve", actor="alice").state == "asking"  # bob is still out
    assert engine.fire(iid, "approve", actor="bob").state == "approved"
    assert [v["for"] for v in engine.get(iid).approvals] == ["carol", "alice", "bob"]


def test_a_required_expression_that_cannot_be_worked_out_refuses_the_vote(
    make_engine, language_dir
):
    engine, iid = _open(make_engine, language_dir, data={"request": {"title": "No amount"}})
    refused = engine.fire(iid, "approve", actor="alice")
    assert not refused.taken and refused.code == "approval"
    assert "request.amount" in refused.reason
    engine2, iid2 = _open(make_engine, language_dir,
                          data={"request": {"title": "Odd", "amount": "lots"}})  # fmt: skip
    odd = engine2.fire(iid2, "approve", actor="alice")
    assert not odd.taken and odd.code == "approval"
    assert engine2.get(iid2).approvals == []


def test_cli_now_drives_a_delegation_to_its_last_day_in_factory_time(
    runner: CliRunner, language_dir, tmp_path
):
    (tmp_path / "factory.yaml").write_text(
        "factory: test\ntimezone: Europe/Berlin\nusers:\n"
        "  alice: {roles: [manager]}\n  bob: {roles: [manager]}\n  dave: {roles: [planner]}\n"
        f"workflows: {language_dir}\n"
    )
    base = ["--factory", str(tmp_path / "factory.yaml")]

    def opened(at: str) -> str:
        started = runner.invoke(cli, ["start", "board", "--data", json.dumps(SMALL), "--as",
                                      "bob", "--now", at, *base])  # fmt: skip
        assert started.exit_code == 0, started.output
        iid = started.output.strip().splitlines()[-1]
        submitted = runner.invoke(cli, ["fire", iid, "submit", "--as", "bob", "--now", at, *base])
        assert submitted.exit_code == 0, submitted.output
        return iid

    done = runner.invoke(cli, ["delegate", "alice", "dave", "--from", "2026-03-02",
                               "--until", "2026-03-03", *base])  # fmt: skip
    assert done.exit_code == 0, done.output
    # 23:59 on the last day, factory time (no offset given): still delegated
    last = opened("2026-03-03T23:00")
    voted = runner.invoke(cli, ["fire", last, "approve", "--as", "dave",
                                "--now", "2026-03-03T23:59", *base])  # fmt: skip
    assert voted.exit_code == 0, voted.output
    shown = json.loads(runner.invoke(cli, ["show", last, "--json", *base]).output)
    assert [(v["by"], v["for"]) for v in shown["approvals"]] == [("dave", "alice")]
    assert shown["approvals"][0]["at"] == "2026-03-03T22:59:00+00:00"  # kept in UTC
    # one minute past midnight in Berlin (still the 3rd in UTC): over
    late = opened("2026-03-04T00:00")
    refused = runner.invoke(cli, ["fire", late, "approve", "--as", "dave",
                                  "--now", "2026-03-04T00:01+01:00", *base])  # fmt: skip
    assert refused.exit_code == 3 and "not an approver" in refused.output
    bad = runner.invoke(cli, ["fire", late, "approve", "--as", "alice", "--now", "yesterday",
                              *base])  # fmt: skip
    assert bad.exit_code == 2 and "--now" in bad.output
