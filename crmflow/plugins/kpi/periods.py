"""KPI periods: ``[start, end)`` date ranges, the last full month, week or quarter."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from crmflow.errors import InputError

__all__ = [
    "KINDS",
    "Period",
    "last_full",
    "parse_date",
    "period_of",
    "previous",
    "shift_months",
]

#: Period kinds a snapshot schedule can name.
KINDS = ("day", "week", "month", "quarter", "year")


@dataclass(frozen=True, order=True)
class Period:
    """A half-open range of dates ``[start, end)`` in the factory's calendar."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise InputError(
                f"the period ends ({self.end}) on or before it starts ({self.start}); "
                "--to is exclusive and must be after --from"
            )

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def utc_bounds(self, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
        """Midnight at both ends in ``tz``, as aware UTC datetimes."""
        return (_midnight_utc(self.start, tz), _midnight_utc(self.end, tz))

    def months(self) -> list[dt.date]:
        """First days of the calendar months lying entirely inside the period."""
        first = self.start if self.start.day == 1 else _add_months(self.start.replace(day=1), 1)
        out = []
        while _add_months(first, 1) <= self.end:
            out.append(first)
            first = _add_months(first, 1)
        return out

    def shifted(self, days: int) -> Period:
        delta = dt.timedelta(days=days)
        return Period(self.start + delta, self.end + delta)

    def as_json(self) -> dict[str, object]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "days": self.days}

    def __str__(self) -> str:
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


def _midnight_utc(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def shift_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole months, clamped to the month's last day (Jan 31 + 1 → Feb 28)."""
    first = _add_months(day.replace(day=1), months)
    last = (_add_months(first, 1) - dt.timedelta(days=1)).day
    return first.replace(day=min(day.day, last))


def parse_date(text: str, option: str = "date") -> dt.date:
    """An ISO date (``2026-10-01``); a bad one names the option to fix."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{text!r} is not an ISO date (YYYY-MM-DD)", field=option) from None


def period_of(kind: str, day: dt.date) -> Period:
    """The period of ``kind`` that contains ``day``."""
    if kind == "day":
        return Period(day, day + dt.timedelta(days=1))
    if kind == "week":  # ISO weeks start on Monday
        start = day - dt.timedelta(days=day.weekday())
        return Period(start, start + dt.timedelta(days=7))
    if kind == "month":
        start = day.replace(day=1)
        return Period(start, _add_months(start, 1))
    if kind == "quarter":
        start = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        return Period(start, _add_months(start, 3))
    if kind == "year":
        return Period(dt.date(day.year, 1, 1), dt.date(day.year + 1, 1, 1))
    raise InputError(f"unknown period kind {kind!r}; use one of {', '.join(KINDS)}")


def previous(kind: str, period: Period) -> Period:
    """The period of ``kind`` just before ``period``."""
    return period_of(kind, period.start - dt.timedelta(days=1))


def last_full(kind: str, today: dt.date) -> Period:
    """The last period of ``kind`` that ended on or before ``today``."""
    return previous(kind, period_of(kind, today))
