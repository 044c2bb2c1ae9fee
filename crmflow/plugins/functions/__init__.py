"""Built-in expression functions for guards and templates: dates, tolerances."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from crmflow import hookimpl

__all__ = ["days_between", "pct_change", "register_functions", "to_date", "within_tolerance"]


def to_date(value: Any) -> date:
    """A date from a date, a datetime or an ISO string."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def days_between(start: Any, end: Any) -> int:
    """Whole days from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    return (to_date(end) - to_date(start)).days


def pct_change(old: Any, new: Any) -> float:
    """Relative change from ``old`` to ``new`` (0.1 = +10 %); 1.0 when old is 0."""
    old_f, new_f = float(old), float(new)
    if old_f == 0:
        return 0.0 if new_f == 0 else 1.0
    return (new_f - old_f) / abs(old_f)


def within_tolerance(old: Any, new: Any, tolerance: Any) -> bool:
    """True when ``new`` differs from ``old`` by at most ``tolerance`` (a fraction)."""
    return abs(pct_change(old, new)) <= float(tolerance)


@hookimpl
def register_functions(register: Any) -> None:
    register("days_between", days_between)
    register("pct_change", pct_change)
    register("within_tolerance", within_tolerance)
    register("to_date", to_date)
