"""First steps: each role's checklist ticks off as the person does each step."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crmflow.cli import cli
from crmflow.core import onboarding
from crmflow.core.domain.approvals import add_delegation
from crmflow.core.domain.orders import change_order_line, create_order
from crmflow.core.factory import load_factory
from crmflow.errors import InputError

FACTORY = """\
factory: steps
departments:
  - {id: sales, members: [rita], roles: [sales]}
  - {id: production, members: [sam], roles: [supervisor]}
users:
  paul: {roles: [planner]}
"""


@pytest.fixture
def engine(make_engine: Any, tmp_path: Path, clock: Any, workflows_dir: Path) -> Any:
    path = tmp_path / "factory.yaml"
    path.write_text(FACTORY)
    clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    return make_engine(factory=load_factory(path))


def _seed_order(engine: Any, tmp_path: Path) -> None:
    from crmflow.core.domain.imports import import_csv

    (tmp_path / "c.csv").write_text("customer_id,name,industry,size,region\nC1,Acme,pumps,S,EU\n")
    (tmp_path / "p.csv").write_text("sku,name,family,kind,unit_cost\nP1,Pump,pumps,made,10\n")
    import_csv(engine, "customers", tmp_path / "c.csv", actor="test", emit=False)
    import_csv(engine, "products", tmp_path / "p.csv", actor="test", emit=False)
    create_order(
        engine, order_id="O1", customer_id="C1", by="rita", sales_rep="rita",
        lines=[{"sku": "P1", "quantity": 10, "requested_date": "2026-12-20"}],
    )  # fmt: skip


def test_a_reps_steps_tick_as_she_works(engine: Any, tmp_path: Path, clock: Any) -> None:
    _seed_order(engine, tmp_path)
    before = {s.step.id: s.done for s in onboarding.progress(engine.db, "rita", ["sales"])}
    assert before == {"find_order": False, "customer_360": False, "demand_change": False}
    onboarding.note(engine.db, "rita", "order_viewed", subject="O1", now=clock())
    clock.advance(minutes=5)
    change_order_line(engine, "O1", "P1", "quantity", 11, "customer asked", "rita")
    after = {s.step.id: s for s in onboarding.progress(engine.db, "rita", ["sales"])}
    assert after["find_order"].done and after["demand_change"].done
    assert not after["customer_360"].done
    assert after["find_order"].done_at == datetime(2026, 12, 2, 9, 0)
    # someone else's work ticks nothing for rita
    onboarding.note(engine.db, "omar", "customer_viewed", now=clock())
    assert not {s.step.id: s for s in onboarding.progress(engine.db, "rita", ["sales"])}[
        "customer_360"
    ].done


def test_a_supervisor_approves_on_the_phone_and_delegates(engine: Any, clock: Any) -> None:
    statuses = {s.step.id: s for s in onboarding.progress(engine.db, "sam", ["supervisor"])}
    assert not statuses["approve_on_phone"].done and not statuses["delegate"].done
    onboarding.note(engine.db, "sam", "approval_decided", device="desk", now=clock())
    assert not {s.step.id: s for s in onboarding.progress(engine.db, "sam", ["supervisor"])}[
        "approve_on_phone"
    ].done
    onboarding.note(engine.db, "sam", "approval_decided", device="phone", now=clock())
    with engine.db.begin() as conn:
        add_delegation(conn, "sam", "leo", "2026-12-20", "2026-12-31", by="sam", now=clock())
    statuses = {s.step.id: s for s in onboarding.progress(engine.db, "sam", ["supervisor"])}
    assert statuses["approve_on_phone"].done and statuses["delegate"].done


def test_unknown_activities_are_refused() -> None:
    with pytest.raises(InputError, match="unknown activity 'peeked'"):
        onboarding.note(None, "rita", "peeked")  # type: ignore[arg-type]


def test_people_holding_two_roles_see_each_step_once() -> None:
    steps = onboarding.checklist_for(["sales", "planner", "sales"])
    assert [s.id for s in steps] == [
        "find_order", "customer_360", "demand_change", "projection", "ctp", "answer_alert",
    ]  # fmt: skip


def test_checklist_command_shows_the_team(runner: Any, tmp_path: Path) -> None:
    path = tmp_path / "factory.yaml"
    path.write_text(FACTORY)
    done = runner.invoke(cli, ["--factory", str(path), "checklist", "--json"])
    assert done.exit_code == 0, done.output
    rows = {r["username"]: r for r in json.loads(done.output)}
    assert set(rows) == {"rita", "sam", "paul"}
    assert rows["paul"]["total"] == 3 and rows["paul"]["done"] == 0
    missing = runner.invoke(cli, ["--factory", str(path), "checklist", "nobody"])
    assert missing.exit_code == 2 and "no person 'nobody'" in missing.output
