"""Due times of deadlines and timers: wall clock, working calendar, cron."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from crmflow.core.factory import Calendar

__all__ = ["add_working_time", "next_cron"]


def _spans(day: datetime, calendar: Calendar, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    if day.weekday() not in calendar.working_days or day.date() in calendar.holidays:
        return []
    return [
        (
            datetime.combine(day.date(), start, tzinfo=tz),
            datetime.combine(day.date(), end, tzinfo=tz),
        )
        for start, end in calendar.hours
    ]


def add_working_time(
    start: datetime, duration: timedelta, calendar: Calendar, tz: ZoneInfo
) -> datetime:
    """The moment ``duration`` of working time after ``start`` has passed (aware UTC)."""
    if not calendar.working_days or not calendar.hours:
        raise ValueError("the factory calendar has no working time; check calendar.hours/days")
    remaining = duration
    current = start.astimezone(tz)
    for _ in range(366 * 10):  # ten years of days bounds a misconfigured calendar
        for span_start, span_end in _spans(current, calendar, tz):
            begin = max(span_start, current)
            if begin >= span_end:
                continue
            available = span_end - begin
            if remaining <= available:
                return (begin + remaining).astimezone(UTC)
            remaining -= available
        next_day = (current + timedelta(days=1)).date()
        current = datetime.combine(next_day, datetime.min.time(), tzinfo=tz)
    raise ValueError("no working time found within ten years; check the factory calendar")


def next_cron(expr: str, after: datetime, tz: ZoneInfo) -> datetime:
    """The first occurrence of ``expr`` strictly after ``after``, in the factory zone.

    Cron times are wall-clock times, matched once per day they name: a time
    that happens twice (fall back) fires at its first occurrence only, and a
    time skipped by a spring-forward gap fires once, shifted by the gap
    (02:30 becomes 03:30 in Europe/Berlin).
    """
    wall = after.astimezone(tz).replace(tzinfo=None)
    times = croniter(expr, wall - timedelta(microseconds=1) if wall.microsecond else wall)
    for _ in range(1000):
        candidate: datetime = times.get_next(datetime)
        # fold=0: the first of two equal wall times; for a skipped time, the pre-gap offset.
        moment = candidate.replace(tzinfo=tz, fold=0).astimezone(UTC)
        if moment > after:
            return moment
    raise ValueError(f"cron {expr!r} has no occurrence after {after.isoformat()}")
