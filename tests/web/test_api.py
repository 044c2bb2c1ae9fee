"""The JSON API of web.md: every route, its answers and error codes, idempotency keys."""

from __future__ import annotations

import pytest

from .pages import token_for


@pytest.fixture
def paul(demo_engine):
    return token_for(demo_engine, "paul")  # planner


@pytest.fixture
def rita(demo_engine):
    return token_for(demo_engine, "rita")  # sales


def _state(engine, workflow, state):
    return next(i for i in engine.list(workflow=workflow) if i.state == state)


def test_me_and_inbox(web, paul):
    me = web.get("/api/me", headers=paul).get_json()
    assert me == {"username": "paul", "roles": ["planner"], "departments": ["planning"],
                  "language": None}  # fmt: skip
    items = web.get("/api/inbox", headers=paul).get_json()
    assert items and {"instance_id", "workflow", "state", "title", "owner", "due", "overdue",
                      "triggers"} <= set(items[0])  # fmt: skip
    dues = [i["due"] for i in items if i["due"]]
    assert dues == sorted(dues)


def test_instances_list_validates_every_parameter(web, paul):
    assert len(web.get("/api/instances?limit=3", headers=paul).get_json()) == 3
    for bad in ("limit=0", "limit=-1", "limit=abc", "limit=99999999999999999999", "offset=-1",
                "offset=10001", "limit=1.5"):
        answer = web.get(f"/api/instances?{bad}", headers=paul)
        assert answer.status_code == 422, bad
        assert set(answer.get_json()["error"]) >= {"code", "message", "field"}
    nul = web.get("/api/instances?workflow=%00x", headers=paul)
    assert nul.status_code == 400 and nul.get_json()["error"]["code"] == "malformed"


def test_instance_shows_triggers_the_caller_may_fire(web, paul, rita, demo_engine):
    inst = _state(demo_engine, "demand_change", "planner_review")
    as_planner = web.get(f"/api/instances/{inst.id}", headers=paul).get_json()
    assert as_planner["triggers"] == ["approve", "reject", "escalate"]
    assert as_planner["history"] and as_planner["state"] == "planner_review"
    assert web.get(f"/api/instances/{inst.id}", headers=rita).get_json()["triggers"] == [
        "escalate"]
    for missing in (999999, 2**63, 2**70):
        assert web.get(f"/api/instances/{missing}", headers=paul).status_code == 404


def test_fire_answers_taken_role_and_refusals(web, paul, rita, demo_engine):
    inst = _state(demo_engine, "demand_change", "planner_review")
    url = f"/api/instances/{inst.id}/fire"
    refused = web.post(url, json={"trigger": "reject"}, headers=rita)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "role"
    wrong = web.post(url, json={"trigger": "ship"}, headers=paul)
    assert wrong.status_code == 409 and wrong.get_json()["error"]["code"] == "trigger"
    assert demo_engine.get(inst.id).state == "planner_review"
    taken = web.post(url, json={"trigger": "reject"}, headers=paul)
    assert taken.get_json() == {"taken": True, "state": "rejected"}
    done = web.post(url, json={"trigger": "reject"}, headers=paul)
    assert done.status_code == 409 and done.get_json()["error"]["code"] == "finished"
    assert web.post(url, json={}, headers=paul).get_json()["error"]["field"] == "trigger"
    malformed = web.post(url, data="{not json", headers={**paul,
                                                          "Content-Type": "application/json"})
    assert malformed.status_code == 400


def test_start_and_events(web, demo_engine):
    mia = token_for(demo_engine, "mia")
    started = web.post("/api/instances", json={"workflow": "order_lifecycle",
                                               "data": {"order": {"order_id": "X1"}}},
                       headers=mia)  # fmt: skip
    assert started.status_code == 201 and started.get_json()["state"] == "draft"
    bea = token_for(demo_engine, "bea")  # purchasing: not named by order_lifecycle
    assert web.post("/api/instances", json={"workflow": "order_lifecycle"},
                    headers=bea).status_code == 403  # fmt: skip
    assert web.post("/api/instances", json={"workflow": "nope"}, headers=mia).status_code == 404
    emitted = web.post("/api/events", json={"event": "nothing.listens", "data": {}}, headers=mia)
    assert emitted.get_json() == {"started": [], "moved": []}


def test_idempotency_key_makes_a_retried_post_safe(web, demo_engine):
    mia = token_for(demo_engine, "mia")
    headers = {**mia, "Idempotency-Key": "retry-1"}
    body = {"workflow": "order_lifecycle", "data": {"order": {"order_id": "X2"}}}
    first = web.post("/api/instances", json=body, headers=headers)
    again = web.post("/api/instances", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert len(demo_engine.list(workflow="order_lifecycle", limit=1000)) == len(
        {i.id for i in demo_engine.list(workflow="order_lifecycle", limit=1000)})
    other = web.post("/api/instances", json={**body, "data": {}}, headers=headers)
    assert other.status_code == 422


def open_line(demo_engine):
    import sqlalchemy as sa

    with demo_engine.db.connect() as conn:
        return conn.execute(sa.text(
            "SELECT l.order_id, l.sku, l.quantity FROM order_lines l WHERE l.status = 'open' "
            "AND NOT EXISTS (SELECT 1 FROM demand_changes c WHERE c.order_id = l.order_id "
            "AND c.sku = l.sku AND c.approval_state = 'pending') ORDER BY l.order_id LIMIT 1"
        )).one()  # fmt: skip


def test_order_change_customer_projection_kpi(web, rita, demo_engine):
    line = open_line(demo_engine)
    order = web.get(f"/api/orders/{line.order_id}", headers=rita).get_json()
    assert order["order_id"] == line.order_id and order["timeline"]
    change = {"sku": line.sku, "field": "quantity", "new": line.quantity * 2,
              "reason": "customer_request"}  # fmt: skip
    preview = web.post(f"/api/orders/{line.order_id}/impact", json=change, headers=rita)
    assert preview.status_code == 200 and preview.get_json()["impact"]["within_tolerance"] is False
    made = web.post(f"/api/orders/{line.order_id}/changes", json=change, headers=rita)
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["status"] == "pending" and "ctp" in made.get_json()["impact"]
    again = web.post(f"/api/orders/{line.order_id}/changes", json=change, headers=rita)
    assert again.status_code == 409  # one pending change per line and field
    assert web.post(f"/api/orders/{line.order_id}/changes", json={**change, "new": -1},
                    headers=rita).status_code == 422  # fmt: skip
    assert web.post("/api/orders/NOPE/changes", json=change, headers=rita).status_code == 404
    sam = token_for(demo_engine, "sam")  # supervisor: records no demand changes
    assert web.post(f"/api/orders/{line.order_id}/changes", json=change,
                    headers=sam).status_code == 403  # fmt: skip
    assert web.get(f"/api/customers/{order['customer_id']}", headers=rita).get_json()[
        "customer"]["customer_id"] == order["customer_id"]
    assert web.get("/api/customers/NOPE", headers=rita).status_code == 404
    proj = web.get(f"/api/inventory/{line.sku}/projection", headers=rita).get_json()
    assert proj["sku"] == line.sku and proj["daily"]
    assert web.get("/api/inventory/NOPE/projection", headers=rita).status_code == 404
    kpi = web.get("/api/kpi?from=2026-01-01&to=2026-02-01", headers=rita)
    assert kpi.status_code == 200 and "period" in kpi.get_json()
    for bad in ("from=0001-01-01", "from=2026-13-01", "to=2026-01-01&from=2026-02-01"):
        assert web.get(f"/api/kpi?{bad}", headers=rita).status_code == 422, bad
