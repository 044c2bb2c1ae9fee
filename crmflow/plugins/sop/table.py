"""What the S&OP plugin registers, by name, without importing the modules that do it."""

from __future__ import annotations

__all__ = ["ACTION_TABLE", "FUNCTION_TABLE", "target"]

_ACTIONS = "crmflow.plugins.sop.actions"
_FUNCTIONS = "crmflow.plugins.sop.functions"

#: action name -> (function in .actions, description, runs from the outbox after the commit)
ACTION_TABLE: dict[str, tuple[str, str, bool]] = {
    "sop.compute_impact": ("compute_impact", "Impact of a demand change (CTP, capacity)", False),
    "sop.decide_change": ("decide_change", "Apply or reject a pending demand change", True),
    "sop.adjust_plan": ("adjust_plan", "Move the production plan for a demand change", True),
    "sop.open_alert": ("open_alert", "Open one alert per SKU and location", False),
    "sop.close_alert": ("close_alert", "Close the open alert of a SKU and location", False),
    "sop.create_proposal": ("create_proposal", "Write a sized purchase request/adjustment", False),
    "sop.propose_replenishment": ("propose_replenishment", "Size and write a proposal", False),
    "sop.record_approval": ("record_approval", "Record an approval (no self-approval)", False),
    "sop.decide_proposal": ("decide_proposal", "Approve/apply or reject a proposal", True),
    "sop.set_order_status": ("set_order_status", "Move an order to a status", True),
    "sop.deliver_order": ("deliver_order", "Record an order's undelivered rest as delivered",
                          True),  # fmt: skip
    "sop.order_check": ("order_check", "Order value and credit exposure", False),
    "sop.ctp": ("ctp", "Capable-to-promise date for a quantity of a SKU", False),
    "sop.response_time": ("response_time", "Hours since the instance started", False),
}

#: expression function name -> (function in .functions, description)
FUNCTION_TABLE: dict[str, tuple[str, str]] = {
    "change_within_tolerance": ("change_within_tolerance", "Demand change within tolerance"),
    "approvals_required": ("approvals_required", "Approvals needed for an amount"),
    "reorder_quantity": ("reorder_quantity", "ERP reorder rule with lot sizing"),
}


def target(kind: str, attr: str) -> str:
    """``module:attr`` of a registered function."""
    return f"{_ACTIONS if kind == 'action' else _FUNCTIONS}:{attr}"
