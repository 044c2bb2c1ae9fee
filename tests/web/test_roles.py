"""The role matrix: each demo role x each action, through the page, the API and the CLI alike."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from crmflow.cli import cli

from .conftest import DEMO
from .pages import sign_in, token_for
from .test_api import open_line

#: demo person -> roles (examples/demo/factory.yaml: users' roles plus their departments')
PEOPLE = {"rita": {"sales"}, "paul": {"planner"}, "sam": {"supervisor", "logistics"},
          "leo": {"logistics", "supervisor"}, "bea": {"purchasing"},
          "mia": {"manager"}}  # fmt: skip
#: action -> roles the workflows and the factory allow
ALLOWED = {
    "accept_change": {"planner", "manager"},  # demand_change planner_review (approval)
    "approve_change": {"supervisor", "manager"},  # demand_change supervisor_approval: approve
    "record_change": {"sales", "planner", "manager"},  # web_permissions change_order
    "start_order": {"sales", "manager", "planner", "supervisor", "logistics"},  # roles it names
}
#: people who approve (settings approvers / approval_board) may hand their approvals on
APPROVERS = {"sam", "mia", "max", "paul", "petra", "bea"}


def _waiting(engine, state):
    return next(i for i in engine.list(workflow="demand_change") if i.state == state)


def _cli(engine, *args):
    url = engine.db.url.render_as_string(hide_password=False)
    return CliRunner().invoke(cli, ["--db", url, "--factory", str(DEMO), *args])


@pytest.mark.parametrize("person", sorted(PEOPLE))
def test_role_matrix(demo_app, demo_engine, person):
    roles = PEOPLE[person]
    assert demo_engine.roles_of(person) == roles
    page = demo_app.test_client()
    csrf = sign_in(page, demo_engine, person)
    bearer = token_for(demo_engine, person)
    review, approval = _waiting(demo_engine, "planner_review"), _waiting(
        demo_engine, "supervisor_approval")

    # every page and read route answers
    line = open_line(demo_engine)
    for path in ("/", "/instances", f"/instances/{review.id}", f"/orders/{line.order_id}",
                 f"/inventory/{line.sku}", "/kpi/", "/delegation"):  # fmt: skip
        assert page.get(path).status_code == 200, path
    for path in ("/api/me", "/api/inbox", f"/api/instances/{review.id}",
                 f"/api/orders/{line.order_id}", f"/api/inventory/{line.sku}/projection"):
        assert page.get(path, headers=bearer).status_code == 200, path

    # firing: the buttons and "triggers" say it; refused fires change nothing on every path
    for action, inst, trigger in (("accept_change", review, "approve"),
                                  ("approve_change", approval, "approve")):  # fmt: skip
        allowed = bool(roles & ALLOWED[action])
        html = page.get(f"/instances/{inst.id}").get_data(as_text=True)
        assert (f'value="{trigger}"' in html) is allowed, (action, "page")
        api = page.get(f"/api/instances/{inst.id}", headers=bearer).get_json()
        assert (trigger in api["triggers"]) is allowed, (action, "api")
        if not allowed:
            form = page.post(f"/instances/{inst.id}", data={"trigger": trigger,
                                                            "csrf_token": csrf})  # fmt: skip
            assert form.status_code == 409
            fired = page.post(f"/api/instances/{inst.id}/fire", json={"trigger": trigger},
                              headers=bearer)  # fmt: skip
            assert fired.status_code == 403
            assert _cli(demo_engine, "fire", str(inst.id), trigger, "--as", person).exit_code == 3
            assert demo_engine.get(inst.id).state == inst.state
    if roles & ALLOWED["accept_change"]:
        result = _cli(demo_engine, "fire", str(review.id), "approve", "--as", person)
        assert result.exit_code == 0, result.output
        assert demo_engine.get(review.id).history[-1].actor == person

    # recording a change: page, API and CLI agree
    allowed = bool(roles & ALLOWED["record_change"])
    change = {"sku": line.sku, "field": "quantity", "new": str(int(line.quantity) * 3),
              "reason": "customer_request"}  # fmt: skip
    preview = page.post(f"/api/orders/{line.order_id}/impact", json=change, headers=bearer)
    assert preview.status_code == (200 if allowed else 403)
    cli_preview = _cli(demo_engine, "change", line.order_id, line.sku, "quantity",
                       change["new"], "--reason", "r", "--as", person, "--preview")
    assert (cli_preview.exit_code == 0) is allowed, cli_preview.output
    form = page.post(f"/orders/{line.order_id}/changes", data={**change, "csrf_token": csrf})
    assert (form.status_code == 200) is allowed
    if allowed:
        assert "Change recorded" in form.get_data(as_text=True)

    # starting a workflow
    started = page.post("/api/instances", json={"workflow": "order_lifecycle"}, headers=bearer)
    assert started.status_code == (201 if roles & ALLOWED["start_order"] else 403)

    # delegating one's own approvals
    delegated = page.post("/delegation", data={"delegate": "max", "start": "2030-01-01",
                                               "end": "2030-01-05", "csrf_token": csrf})
    assert (delegated.status_code == 200) is (person in APPROVERS), re.sub(
        r"\s+", " ", delegated.get_data(as_text=True))[-400:]
