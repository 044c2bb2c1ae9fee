"""The shipped workflows notify each person in their own language (issue 17)."""

from __future__ import annotations

from crmflow.notifications import inbox, set_preferences


def test_an_inventory_escalation_reaches_each_manager_in_their_language(factory_data) -> None:
    eng = factory_data
    set_preferences(eng, "mia", language="zh-CN")  # max keeps the default, English
    iid = eng.emit("inventory.changed", {"sku": "B1", "location": "WH", "on_hand": 5}).started[0]
    assert eng.fire(iid, "escalate_manager", actor="system").taken  # 8 working hours open
    [zh] = inbox(eng, "mia")
    [en] = inbox(eng, "max")
    assert zh["text"] == "B1（WH）缺货预警已持续 8 个工作小时未处理（awaiting_approval）"
    assert en["text"] == "B1 at WH: shortage alert open for 8 working hours (awaiting_approval)"
    assert zh["link"] == en["link"] == f"/instances/{iid}"


def test_a_rush_order_decision_follows_the_reps_language(factory_data) -> None:
    eng = factory_data
    set_preferences(eng, "rita", language="zh-CN")
    iid = eng.emit("order.created", {"order_id": "SO-9", "customer_id": "C1", "priority": "rush",
                                     "sales_rep": "rita"}).started  # fmt: skip
    assert iid, "a rush order starts rush_order"
    assert eng.fire(iid[0], "reject", actor="paul").taken
    assert [n["text"] for n in inbox(eng, "rita")] == ["加急订单 SO-9 已驳回"]
