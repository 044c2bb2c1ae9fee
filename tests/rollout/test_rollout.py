"""Staged rollout: a workflow off, in pilot for named departments, or on for all."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crmflow.cli import cli
from crmflow.core.factory import load_factory
from crmflow.errors import RefusedError, ValidationError
from crmflow.hookspecs import hookimpl

CASE = """\
workflow: follow_up
version: 1
entity: order
initial: open
states:
  open: {owner: sales}
  done: {final: true}
transitions:
  - {trigger: close, from: open, to: done}
start_on:
  - event: order.created
    unique: "{{ event.order_id }}"
"""

FACTORY = """\
factory: rollout_test
timezone: Europe/Berlin
departments:
  - {id: sales_north, members: [rita], roles: [sales]}
  - {id: sales_south, members: [omar], roles: [sales]}
  - {id: planning, members: [paul], roles: [planner]}
users:
  mia: {roles: [manager]}
rollout:
  follow_up: {pilot: [sales_north], since: 2026-12-01}
"""


@pytest.fixture
def factory_file(tmp_path: Path) -> Path:
    path = tmp_path / "factory.yaml"
    path.write_text(FACTORY)
    return path


@pytest.fixture
def engine(make_engine: Any, workflows_dir: Path, factory_file: Path, clock: Any) -> Any:
    (workflows_dir / "follow_up.yaml").write_text(CASE)
    clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    return make_engine(factory=load_factory(factory_file))


def test_pilot_workflow_starts_only_for_orders_of_pilot_departments(engine: Any) -> None:
    north = engine.emit("order.created", {"order_id": "N-1", "sales_rep": "rita"}, key="n1")
    south = engine.emit("order.created", {"order_id": "S-1", "sales_rep": "omar"}, key="s1")
    assert len(north.started) == 1
    assert south.started == [] and south.moved == []
    assert [i.data["order"]["order_id"] for i in engine.list(workflow="follow_up")] == ["N-1"]


def test_switching_to_all_takes_effect_at_once_and_is_recorded(engine: Any) -> None:
    assert engine.emit("order.created", {"order_id": "S-1", "sales_rep": "omar"}).started == []
    change = engine.rollout.set("follow_up", "all", by="mia", reason="pilot met its targets")
    assert engine.emit("order.created", {"order_id": "S-2", "sales_rep": "omar"}).started
    assert engine.rollout.state("follow_up").mode == "all"
    history = engine.rollout.history("follow_up")
    assert [(c.mode, c.changed_by, c.reason) for c in history] == [
        ("all", "mia", "pilot met its targets")
    ]
    assert history[0].id == change.id


def test_pilot_decides_by_the_acting_person_then_by_the_record_owner(engine: Any) -> None:
    iid = engine.start("follow_up", {"order": {"order_id": "N-7", "sales_rep": "rita"}},
                       actor="rita")  # fmt: skip
    refused = engine.fire(iid, "close", actor="omar")
    assert not refused.taken and refused.code == "rollout"
    assert "sales_north" in (refused.reason or "") and "omar" in (refused.reason or "")
    assert engine.get(iid).state == "open" and len(engine.get(iid).history) == 1
    # the system acts for the record's owner (rita, in the pilot)
    assert engine.fire(iid, "close", actor="system").taken


def test_a_start_outside_the_pilot_is_refused_and_writes_nothing(engine: Any) -> None:
    with pytest.raises(RefusedError, match="pilot for sales_north"):
        engine.start("follow_up", {"order": {"order_id": "S-9"}}, actor="omar")
    assert engine.list(workflow="follow_up") == []


def test_off_does_nothing_and_a_pilot_waits_for_its_start_date(engine: Any, clock: Any) -> None:
    engine.rollout.set("follow_up", "off", by="mia")
    assert engine.emit("order.created", {"order_id": "N-2", "sales_rep": "rita"}).started == []
    engine.rollout.set("follow_up", "pilot", ["sales_north"], since=datetime(2027, 1, 1).date(),
                       by="mia")  # fmt: skip
    assert engine.emit("order.created", {"order_id": "N-3", "sales_rep": "rita"}).started == []
    clock.set(datetime(2027, 1, 1, 8, 0, tzinfo=UTC))  # 09:00 in Berlin: the pilot has begun
    assert engine.emit("order.created", {"order_id": "N-4", "sales_rep": "rita"}).started


def test_the_owner_of_an_order_is_found_from_its_id(engine: Any, tmp_path: Path) -> None:
    from crmflow.core.domain.imports import import_csv

    (tmp_path / "c.csv").write_text("customer_id,name,industry,size,region\nC1,Acme,pumps,S,EU\n")
    (tmp_path / "p.csv").write_text("sku,name,family,kind,unit_cost\nP1,Pump,pumps,made,10\n")
    (tmp_path / "o.csv").write_text(
        "order_id,customer_id,order_date,sku,quantity,unit_price,requested_date,sales_rep\n"
        "N-5,C1,2026-12-01,P1,3,20,2026-12-20,rita\n"
        "S-5,C1,2026-12-01,P1,3,20,2026-12-20,omar\n"
    )
    import_csv(engine, "customers", tmp_path / "c.csv", actor="test", emit=False)
    import_csv(engine, "products", tmp_path / "p.csv", actor="test", emit=False)
    import_csv(engine, "orders", tmp_path / "o.csv", actor="test", emit=False)
    assert engine.emit("order.created", {"order_id": "N-5"}).started
    assert engine.emit("order.created", {"order_id": "S-5"}).started == []


def test_unknown_departments_and_modes_are_refused(engine: Any) -> None:
    from crmflow.errors import InputError

    with pytest.raises(InputError, match="unknown department 'east'"):
        engine.rollout.set("follow_up", "pilot", ["east"], by="mia")
    with pytest.raises(InputError, match="needs one or more departments"):
        engine.rollout.set("follow_up", "pilot", [], by="mia")
    assert engine.rollout.history() == []


def test_factory_rollout_mistakes_are_located(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(
        "factory: x\ndepartments:\n  - {id: sales}\nrollout:\n  a: {pilot: [sale]}\n"
        "  b: sometimes\n  c: {pilot: [sales], since: soon}\n"
    )
    with pytest.raises(ValidationError) as caught:
        load_factory(path)
    lines = [str(p) for p in caught.value.problems]
    assert any(":5:" in line and "unknown department 'sale'" in line for line in lines), lines
    assert any(":6:" in line and "must be off, all or" in line for line in lines), lines
    assert any(":7:" in line and "since must be a date" in line for line in lines), lines


def test_rollout_commands(runner: Any, tmp_path: Path, factory_file: Path) -> None:
    folder = tmp_path / "wf"
    folder.mkdir()
    (folder / "follow_up.yaml").write_text(CASE)
    base = ["--factory", str(factory_file), "--workflows", str(folder)]
    shown = runner.invoke(cli, [*base, "rollout", "--json"])
    assert shown.exit_code == 0, shown.output
    states = {s["name"]: s for s in json.loads(shown.output)}
    assert states["follow_up"]["mode"] == "pilot"
    assert states["follow_up"]["departments"] == ["sales_north"]
    assert states["kpi"]["mode"] == "all"
    changed = runner.invoke(
        cli, [*base, "rollout", "set", "follow_up", "pilot", "sales_north", "sales_south",
              "--as", "mia", "--reason", "second wave"],
    )  # fmt: skip
    assert changed.exit_code == 0, changed.output
    listed = runner.invoke(cli, [*base, "rollout", "--json"]).output
    after = {s["name"]: s for s in json.loads(listed)}
    assert after["follow_up"]["departments"] == ["sales_north", "sales_south"]
    history = json.loads(runner.invoke(cli, [*base, "rollout", "history", "--json"]).output)
    assert history[-1]["changed_by"] == "mia" and history[-1]["reason"] == "second wave"
    bad = runner.invoke(cli, [*base, "rollout", "set", "nope", "all"])
    assert bad.exit_code == 2 and "no workflow or plugin 'nope'" in bad.output
    started = runner.invoke(cli, [*base, "start", "follow_up", "--as", "paul"])
    assert started.exit_code == 3 and "rollout" in started.output
    # without --as, the shell's login name is recorded: a change always says who made it
    runner.invoke(cli, [*base, "rollout", "set", "follow_up", "all", "--reason", "go"])
    history = json.loads(runner.invoke(cli, [*base, "rollout", "history", "--json"]).output)
    assert history[-1]["changed_by"] == f"cli:{getpass.getuser()}"


def test_kpi_pilot_compares_the_rollout_pilot_from_its_since(engine: Any) -> None:
    from crmflow.plugins.kpi.pilot import pilot_comparison

    result = pilot_comparison(engine, workflow="follow_up")
    assert result["pilot_departments"] == ["sales_north"]
    assert result["rest_departments"] == ["sales_south", "planning"]
    assert result["pilot_start"] == "2026-12-01"
    engine.rollout.set("follow_up", "all", by="mia")
    from crmflow.errors import ConfigError

    with pytest.raises(ConfigError, match="follow_up is not in pilot"):
        pilot_comparison(engine, workflow="follow_up")


class _Probe:
    """A plugin whose action marks the instance; rolled out like any plugin."""

    __name__ = "probe"

    def __init__(self) -> None:
        self.events: list[str] = []

    @hookimpl
    def register_actions(self, register: Any) -> None:
        def mark(ctx: Any) -> str:
            return "marked"

        register("probe.mark", mark, description="marks the instance")

    @hookimpl
    def on_event(self, engine: Any, event: str, payload: dict[str, Any]) -> None:
        self.events.append(event)


MARKED = """\
workflow: marked
version: 1
entity: order
initial: open
states:
  open: {}
  done: {final: true}
transitions:
  - trigger: close
    from: open
    to: done
    do:
      - {action: probe.mark, save_as: mark}
"""


def test_a_plugin_in_pilot_acts_only_for_its_departments_and_off_hears_nothing(
    make_engine: Any, workflows_dir: Path, factory_file: Path, clock: Any
) -> None:
    (workflows_dir / "marked.yaml").write_text(MARKED)
    clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    probe = _Probe()
    engine = make_engine(factory=load_factory(factory_file), plugins=[probe])
    engine.rollout.set("probe", "pilot", ["sales_north"], by="mia")
    north = engine.start("marked", {"order": {"order_id": "N", "sales_rep": "rita"}})
    south = engine.start("marked", {"order": {"order_id": "S", "sales_rep": "omar"}})
    assert engine.fire(north, "close", actor="system").taken
    assert engine.fire(south, "close", actor="system").taken  # the workflow itself is on
    assert engine.get(north).data.get("mark") == "marked"
    assert "mark" not in engine.get(south).data  # the plugin's action was held back
    engine.emit("something.happened", {"x": 1})
    assert probe.events == ["something.happened"]
    engine.rollout.set("probe", "off", by="mia")
    engine.emit("something.happened", {"x": 2})
    assert probe.events == ["something.happened"]  # an `off` plugin hears no event
