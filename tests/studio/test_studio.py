"""The studio's drafts: checked as typed, simulated, saved as version N+1 only when clean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crmflow.core import studio
from crmflow.core.factory import FactoryConfig
from crmflow.errors import InputError, RefusedError, ValidationError

CASE_V1 = """\
workflow: follow_up
version: 1
initial: open
states:
  open: {owner: sales, deadline: 2h, on_timeout: remind}
  done: {final: true}
transitions:
  - {trigger: close, from: open, to: done}
  - {trigger: remind, from: open}
"""

SCENARIO = """\
start:
  at: 2026-03-02T09:00:00
steps:
  - wait: 3h
  - fire: close
    expect: done
"""


@pytest.fixture
def folder(workflows_dir: Path) -> Path:
    (workflows_dir / "follow_up.yaml").write_text(CASE_V1)
    return workflows_dir


def test_a_draft_problem_is_reported_at_its_line() -> None:
    draft = CASE_V1.replace("to: done}", "to: dnoe}")
    problems = studio.check_draft(draft, factory=FactoryConfig(), name="follow_up.yaml")
    errors = [p for p in problems if p.severity == "error"]
    assert errors and errors[0].file == "follow_up.yaml" and errors[0].line == 8
    assert "dnoe" in errors[0].message
    assert studio.check_draft(CASE_V1, factory=FactoryConfig()) == []


def test_saving_makes_version_n_plus_1_and_running_instances_stay_on_n(
    folder: Path, make_engine: Any
) -> None:
    engine = make_engine()
    running = engine.start("follow_up")
    draft = CASE_V1.replace("deadline: 2h", "deadline: 1h")  # still says version 1
    saved = studio.save_draft(draft, folder=folder, factory=FactoryConfig(),
                              roles=["consultant"], who="carla")  # fmt: skip
    assert saved.version == 2 and saved.path.name == "follow_up.v2.yaml"
    assert "version: 2" in saved.path.read_text()
    assert "-  open: {owner: sales, deadline: 2h" in saved.diff
    assert "+  open: {owner: sales, deadline: 1h" in saved.diff
    assert (folder / "follow_up.yaml").read_text() == CASE_V1  # never edited in place
    fresh = make_engine()
    assert fresh.get(running).version == 1
    assert fresh.get(fresh.start("follow_up")).version == 2


def test_a_draft_with_an_error_cannot_be_saved(folder: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        studio.save_draft(CASE_V1.replace("to: done}", "to: dnoe}"), folder=folder,
                          factory=FactoryConfig(), roles=["consultant"], who="carla")  # fmt: skip
    assert caught.value.problems[0].line == 8
    assert sorted(p.name for p in folder.iterdir()) == ["follow_up.yaml"]


def test_only_consultants_and_admins_may_save(folder: Path) -> None:
    with pytest.raises(RefusedError, match="may not edit workflows"):
        studio.save_draft(CASE_V1, folder=folder, factory=FactoryConfig(), roles=["planner"],
                          who="paul")  # fmt: skip
    with pytest.raises(InputError, match="shipped workflows are read-only"):
        studio.save_draft(CASE_V1, folder=studio.SHIPPED_WORKFLOWS, factory=FactoryConfig(),
                          roles=["admin"], who="root")  # fmt: skip


def test_a_scenario_runs_against_the_draft(folder: Path) -> None:
    report = studio.simulate_draft(CASE_V1, SCENARIO, folder=folder, factory=FactoryConfig())
    assert report.final_state == "done"
    assert [s["trigger"] for s in report.path][-1] == "close"
    assert report.breaches  # the 2h deadline passed before close
    quicker = CASE_V1.replace("deadline: 2h", "deadline: 4h")
    assert not studio.simulate_draft(quicker, SCENARIO, folder=folder,
                                     factory=FactoryConfig()).breaches  # fmt: skip


def test_a_running_process_starts_a_version_saved_elsewhere_without_restart(
    folder: Path, make_engine: Any, crmflow_clock: Any
) -> None:
    from crmflow.core.engine.catalog import RECHECK_EVERY

    web, worker = make_engine(), make_engine()  # two processes on one database and folder
    before = worker.start("follow_up")
    studio.save_draft(CASE_V1.replace("deadline: 2h", "deadline: 1h"), folder=folder,
                      factory=FactoryConfig(), roles=["consultant"], who="carla")  # fmt: skip
    # the folder is looked at no more than once per RECHECK_EVERY of the clock
    assert worker.get(worker.start("follow_up")).version == 1
    crmflow_clock.advance(RECHECK_EVERY)
    new = worker.start("follow_up")
    assert worker.get(new).version == 2 and worker.get(before).version == 1
    assert web.catalog.ids() == ["follow_up"] and web.get(web.start("follow_up")).version == 2
    # running instances stay on their version and still move on it
    assert worker.fire(before, "close").taken and worker.get(before).state == "done"
    assert worker.get(new).history[-1].to_state == "open"


def test_a_broken_file_in_the_folder_does_not_stop_a_running_process(
    folder: Path, make_engine: Any, crmflow_clock: Any
) -> None:
    from crmflow.core.engine.catalog import RECHECK_EVERY

    engine = make_engine()
    engine.start("follow_up")
    (folder / "follow_up.v2.yaml").write_text(CASE_V1.replace("version: 1", "version: 2")
                                              .replace("to: done}", "to: dnoe}"))  # fmt: skip
    crmflow_clock.advance(RECHECK_EVERY)
    assert engine.get(engine.start("follow_up")).version == 1  # the valid versions stay
    assert any("dnoe" in p.message for p in engine.catalog.warnings)
    (folder / "follow_up.v2.yaml").write_text(CASE_V1.replace("version: 1", "version: 2"))
    crmflow_clock.advance(RECHECK_EVERY)
    assert engine.get(engine.start("follow_up")).version == 2
