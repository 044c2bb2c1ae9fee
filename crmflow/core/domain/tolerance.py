"""Whether a demand change is small enough to need no review (the factory's tolerances)."""

from __future__ import annotations

from typing import Any

from ._parse import as_date
from .settings import settings

__all__ = ["within_tolerance"]


def within_tolerance(field: str, old: Any, new: Any, factory: dict[str, Any] | None = None) -> bool:
    """True when a change of ``field`` from ``old`` to ``new`` needs no review.

    Quantities compare relatively to ``demand_tolerance``; dates by days to
    ``date_tolerance_days``. A first promise (no old promised date) is within.
    """
    limits = {**settings(None), **(factory or {})}  # type: ignore[arg-type]
    if field == "quantity":
        old_q, new_q = float(old or 0), float(new)
        if old_q <= 0:
            return False
        return abs(new_q - old_q) / old_q <= float(limits["demand_tolerance"]) + 1e-12
    if old in (None, ""):
        return field == "promised_date"
    shift = (as_date(field, new) - as_date(field, old)).days
    return abs(shift) <= int(limits["date_tolerance_days"])
