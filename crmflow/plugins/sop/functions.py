"""Functions the S&OP workflows use in guards and templates (pure, fast, no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crmflow.core.domain.approvals import required_approvals
from crmflow.core.domain.planning import replenishment_quantity
from crmflow.core.domain.settings import DEFAULTS
from crmflow.core.domain.tolerance import within_tolerance

__all__ = ["FUNCTIONS"]


def change_within_tolerance(field: Any, old: Any, new: Any, factory: Any = None) -> bool:
    """A demand change needing no review under the factory's tolerances."""
    return within_tolerance(str(field), old, new, dict(factory or {}))


def approvals_required(amount: Any, factory: Any = None) -> int:
    """How many approvals the factory's chain asks for ``amount``."""
    return required_approvals(float(amount or 0), {**DEFAULTS, **dict(factory or {})})[0]


def reorder_quantity(reorder_qty: Any, target: Any, projected: Any, lot_size: Any) -> float:
    """``max(reorder qty, target − projected)`` rounded up to the lot size."""
    return replenishment_quantity(
        float(reorder_qty or 0), float(target), float(projected), float(lot_size or 1)
    )


FUNCTIONS: dict[str, tuple[Callable[..., Any], str]] = {
    "change_within_tolerance": (change_within_tolerance, "Demand change within tolerance"),
    "approvals_required": (approvals_required, "Approvals needed for an amount"),
    "reorder_quantity": (reorder_quantity, "ERP reorder rule with lot sizing"),
}
