"""Period labels of the long-format CSV: ``YYYY-MM``, ``YYYY-MM-DD`` or an integer index."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["PeriodFormat", "detect_format", "month_start", "parse_period"]

_MONTH = re.compile(r"^\d{4}-\d{2}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT = re.compile(r"^[+-]?\d+$")


def month_start(day: dt.date, add: int = 0) -> dt.date:
    """The first day of ``day``'s month, moved by ``add`` months."""
    index = day.year * 12 + day.month - 1 + add
    return dt.date(index // 12, index % 12 + 1, 1)


def parse_period(text: str) -> tuple[str, int]:
    """Return (kind, ordinal): kind is ``month``, ``day`` or ``index``.

    The ordinal counts months since year 0 for months, days since 0001-01-01
    for dates, and is the integer itself for an index. Raises ValueError.
    """
    text = text.strip()
    if _MONTH.match(text):
        year, month = int(text[:4]), int(text[5:])
        if not 1 <= month <= 12:
            raise ValueError(f"month {month} is out of range")
        return "month", year * 12 + month - 1
    if _DAY.match(text):
        return "day", dt.date.fromisoformat(text).toordinal()
    if _INT.match(text):
        return "index", int(text)
    raise ValueError("expected YYYY-MM, YYYY-MM-DD or an integer")


@dataclass(frozen=True)
class PeriodFormat:
    """How one file's periods step and how to write the continued ones."""

    kind: str  # month, day or index
    step: int  # in the kind's unit; for dates on the 1st of months, months
    monthly_dates: bool = False

    @property
    def season(self) -> int:
        """The default seasonal cycle: 12 months, 52 weeks, 7 days, none for an index."""
        if self.kind == "month" or self.monthly_dates:
            return 12 // self.step if 12 % self.step == 0 else 1
        if self.kind == "day":
            return {1: 7, 7: 52}.get(self.step, 1)
        return 1

    def ordinal(self, kind: str, value: int) -> int:
        """Position on this format's grid (ordinal of a month for monthly dates)."""
        if self.monthly_dates:
            day = dt.date.fromordinal(value)
            return day.year * 12 + day.month - 1
        return value

    def label(self, position: int) -> str:
        """The label of a grid position, written as the input wrote it."""
        if self.kind == "month":
            return f"{position // 12:04d}-{position % 12 + 1:02d}"
        if self.monthly_dates:
            return dt.date(position // 12, position % 12 + 1, 1).isoformat()
        if self.kind == "day":
            return dt.date.fromordinal(position).isoformat()
        return str(position)


def detect_format(kind: str, ordinals: Sequence[Sequence[int]]) -> PeriodFormat:
    """Infer the step from the smallest gap within series (dates on the 1st step by months)."""
    if kind == "day" and all(dt.date.fromordinal(o).day == 1 for s in ordinals for o in s):
        months = [
            [dt.date.fromordinal(o).year * 12 + dt.date.fromordinal(o).month for o in s]
            for s in ordinals
        ]
        return PeriodFormat("day", _smallest_gap(months), monthly_dates=True)
    return PeriodFormat(kind, _smallest_gap(ordinals))


def _smallest_gap(ordinals: Sequence[Sequence[int]]) -> int:
    gaps = [b - a for s in ordinals for a, b in zip(sorted(s), sorted(s)[1:], strict=False)]
    positive = [g for g in gaps if g > 0]
    return min(positive) if positive else 1
