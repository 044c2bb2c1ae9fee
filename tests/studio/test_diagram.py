"""Workflow diagrams: Mermaid text that Mermaid itself parses, an SVG, counts per state."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from crmflow.cli import cli
from crmflow.core.diagram import WorkflowDiagram, state_counts

SHIPPED = Path(__file__).resolve().parents[2] / "crmflow" / "workflows"
MERMAID_JS = (
    Path(__file__).resolve().parents[2]
    / "crmflow" / "admin" / "static" / "vendor" / "mermaid" / "mermaid.min.js"
)  # fmt: skip
CHROMIUM = Path("/usr/bin/chromium")

RICH = """\
workflow: rich
version: 3
title: "Board: approve <large> orders"
initial: intake
states:
  intake: {owner: planner, deadline: 30m, on_timeout: late}
  checks:
    parallel:
      capacity:
        initial: pending
        states:
          pending: {owner: planner}
          ok: {final: true}
      credit:
        initial: pending
        states:
          pending: {owner: finance}
          ok: {final: true}
    join: all
    on_done: board
  board:
    approval: {approvers: [manager, finance], required: 2, on_approved: plans, on_rejected: "no"}
  plans:
    call: {workflow: production_adjustment_approval, for_each: "{{ data.plans }}"}
    on_done: "yes"
  "yes": {final: true}
  "no": {final: true}
transitions:
  - {trigger: start_checks, from: intake, to: checks, when: "order.amount > 1000 and x < 3"}
  - {from: intake, to: board, when: "order.amount <= 1000"}
  - {trigger: late, from: "*"}
timers:
  - {after: 4h, since: start, calendar: working, trigger: late, in: [intake, board]}
  - {every: 2h, max: 5, trigger: late, in: [board]}
"""


def _shipped() -> list[Path]:
    return sorted(SHIPPED.glob("*.yaml"))


def test_rich_workflow_is_drawn_as_what_each_state_is() -> None:
    picture = WorkflowDiagram.from_source(RICH)
    kinds = {s.name: s.kind for s in picture.all_states()}
    assert kinds["checks"] == "parallel" and kinds["board"] == "approval"
    assert kinds["plans"] == "call" and kinds["yes"] == "final"
    assert kinds["checks.capacity.pending"] == "state"
    edges = {(t.trigger, t.source, t.dest) for t in picture.transitions}
    assert ("approved", "board", "plans") in edges and ("rejected", "board", "no") in edges
    assert ("auto", "intake", "board") in edges and ("done", "checks", "board") in edges
    assert ("late", "board", "board") in edges  # "*" = every non-final state
    assert not any(t.source in ("yes", "no") for t in picture.transitions)
    text = picture.mermaid()
    assert "approval#58; 2 of manager, finance" in text
    assert "--" in text and "order.amount #gt; 1000" in text
    svg = ET.fromstring(picture.svg())
    drawn = {g.get("data-state") for g in svg.iter("{http://www.w3.org/2000/svg}g")}
    assert {"intake", "checks", "board", "plans", "yes", "no"} <= drawn


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")
def test_mermaid_parses_every_shipped_workflow_and_the_rich_one() -> None:
    from playwright.sync_api import sync_playwright

    texts = {p.stem: WorkflowDiagram.from_source(p.read_text()).mermaid() for p in _shipped()}
    texts["rich"] = WorkflowDiagram.from_source(RICH).mermaid()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_page()
        page.set_content("<html><body><div id='out'></div></body></html>")
        page.add_script_tag(path=str(MERMAID_JS))
        for name, text in texts.items():
            outcome = page.evaluate(
                """async (text) => {
                    mermaid.initialize({startOnLoad: false, securityLevel: 'strict'});
                    try {
                        await mermaid.parse(text);
                        const id = 'd' + Math.floor(Math.random() * 1e9);
                        const {svg} = await mermaid.render(id, text);
                        return svg.includes('<svg') ? 'ok' : 'no svg';
                    } catch (e) { return String(e && e.message || e); }
                }""",
                text,
            )
            assert outcome == "ok", f"{name}: {outcome}\n{text}"
        browser.close()


def test_counts_per_state_equal_the_instance_list(make_engine: Any, workflows_dir: Path,
                                                   clock: Any) -> None:  # fmt: skip
    (workflows_dir / "rush_order.yaml").write_text((SHIPPED / "rush_order.yaml").read_text())
    engine = make_engine()
    ids = [engine.start("rush_order", {"order": {"order_id": f"R{i}"}}) for i in range(5)]
    engine.fire(ids[0], "accept", actor="planner")
    engine.fire(ids[1], "accept", actor="planner")
    clock.advance(hours=2)  # past received's 30m deadline and the capacity check's 1h
    counts = state_counts(engine, "rush_order")
    # the parallel state's regions are counted too (the diagram draws them); the list is
    # per top-level state
    assert counts["checks.capacity.pending"].running == 2
    counts = {name: c for name, c in counts.items() if "." not in name}
    listed: dict[str, int] = {}
    for inst in engine.list(workflow="rush_order"):
        listed[inst.state] = listed.get(inst.state, 0) + 1
    assert {name: c.running for name, c in counts.items()} == listed
    assert all(c.overdue == c.running for c in counts.values())


def test_diagram_command(runner: Any, tmp_path: Path) -> None:
    out = tmp_path / "rush.svg"
    done = runner.invoke(cli, ["diagram", "rush_order", "--format", "svg", "-o", str(out)])
    assert done.exit_code == 0, done.output
    root = ET.fromstring(out.read_text())
    assert root.tag.endswith("svg")
    text = runner.invoke(cli, ["diagram", "rush_order", "--counts"])
    assert text.exit_code == 0 and text.output.startswith("---\ntitle:")
    assert "stateDiagram-v2" in text.output
    missing = runner.invoke(cli, ["diagram", "nope"])
    assert missing.exit_code != 0 and "nope" in missing.output
