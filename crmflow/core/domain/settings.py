"""Factory thresholds the domain uses, with the defaults a factory config may override."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = ["DEFAULTS", "setting", "settings"]

#: Every threshold lives in the factory config's `settings:`; these are the fallbacks.
DEFAULTS: dict[str, Any] = {
    # demand changes
    "demand_tolerance": 0.10,  # relative quantity change accepted without review
    "date_tolerance_days": 2,  # date shift accepted without review
    # projections
    "planning_horizon_days": 56,
    "trailing_days": 56,  # window of the trailing-average demand
    # orders
    "large_order_amount": 50000.0,  # orders above need approval (order_lifecycle)
    "credit_limit": 100000.0,  # open order value per customer above needs approval
    # approval chain by amount
    "approval_single_limit": 10000.0,  # below: one approver
    "approval_dual_limit": 50000.0,  # below: two approvers; at or above: quorum of the board
    "approval_quorum": 2,
    "approval_board": [],  # the M approvers of the largest amounts
    "approvers": [],  # people who may approve (empty: anyone but the requester)
    # where demand and supply of a SKU are projected: a location, a mapping of SKU or
    # product kind (made/bought) to location with a `default`, or "" for the SKU's
    # location holding the most stock (see inventory.shipping_location)
    "shipping_location": "",
    # capacity: a line is overloaded in a week when its planned load exceeds the available
    # hours (worker hours x efficiency) by more than this share; weeks ahead to watch
    "capacity_overload_threshold": 0.0,
    "capacity_horizon_weeks": 4,
    # customers: months of a customer's usual demand band, recent months compared with it
    "swing_history_months": 24,
    "swing_recent_months": 3,
}


def settings(engine: Engine) -> dict[str, Any]:
    """The factory's settings over the defaults (the sop plugin registers DEFAULTS)."""
    merged = getattr(engine, "settings", None)
    if merged is None:  # an engine-like object without the registry (unit tests)
        factory = getattr(engine, "factory", None)
        merged = getattr(factory, "settings", None) or {}
    return {**DEFAULTS, **merged}


def setting(engine: Engine, name: str) -> Any:
    return settings(engine)[name]
