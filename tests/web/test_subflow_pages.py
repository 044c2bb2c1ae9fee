"""Sub-workflows in the web app: a parent lists its children (links), a child links its parent."""

from __future__ import annotations

import copy
import re

from .pages import sign_in, token_for

PLANS = [{"plan_id": "PP-101", "amount": 800}, {"plan_id": "PP-102", "amount": 1200}]


def _adjusting(engine):
    """A demand change beyond tolerance, approved by planner and supervisor: two children."""
    template = next(i for i in engine.list(workflow="demand_change") if i.state == "planner_review")
    data = copy.deepcopy(template.data)
    data["change"]["change_id"] = 990001
    data["change"]["impact"] = {"within_tolerance": False, "moves_plan": True, "plans": PLANS}
    iid = engine.start("demand_change", data=data, actor="rita")
    assert engine.get(iid).state == "planner_review"
    assert engine.fire(iid, "approve", actor="paul").state == "supervisor_approval"
    assert engine.fire(iid, "approve", actor="sam").state == "adjusting"
    return iid, [c["id"] for c in engine.get(iid).children]


def test_the_parent_page_links_its_children_and_each_child_its_parent(web, demo_engine):
    iid, children = _adjusting(demo_engine)
    sign_in(web, demo_engine, "sam")
    page = web.get(f"/instances/{iid}").get_data(as_text=True)
    assert "Sub-workflows" in page
    links = re.findall(r'<a href="/instances/(\d+)">#\d+</a> production_adjustment_approval', page)
    assert [int(x) for x in links] == children
    child = web.get(f"/instances/{children[0]}").get_data(as_text=True)
    assert re.search(rf'Parent case: <a href="/instances/{iid}">#{iid}</a>', child)
    assert "Sub-workflows" not in child


def test_the_api_instance_has_children_and_parent(web, demo_engine):
    iid, children = _adjusting(demo_engine)
    sam = token_for(demo_engine, "sam")
    parent = web.get(f"/api/instances/{iid}", headers=sam).get_json()
    assert parent["parent"] is None
    assert [(c["id"], c["state"], c["finished"]) for c in parent["children"]] == [
        (cid, "pending", False) for cid in children
    ]
    child = web.get(f"/api/instances/{children[1]}", headers=sam).get_json()
    assert child["parent"] == iid and child["children"] == []
