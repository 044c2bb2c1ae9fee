"""When a delivery may go out: quiet hours and the daily digest, in a person's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from crmflow.errors import InputError

__all__ = ["hold_until", "in_span", "local_at", "next_clock", "parse_clock", "parse_span"]


def parse_clock(text: str, field: str = "time") -> time:
    """``"08:00"`` -> 08:00; a clear error naming ``field`` otherwise."""
    try:
        value = time.fromisoformat(str(text).strip())
    except ValueError as exc:
        raise InputError(f"{text!r} is not a time of day like 08:00", field=field) from exc
    return value.replace(tzinfo=None)


def parse_span(text: str, field: str = "quiet_hours") -> tuple[time, time]:
    """``"22:00-07:00"`` -> (22:00, 07:00); the span may run over midnight."""
    parts = str(text).split("-")
    if len(parts) != 2:
        raise InputError(f"{text!r} must look like 22:00-07:00", field=field)
    start, end = parse_clock(parts[0], field), parse_clock(parts[1], field)
    if start == end:
        raise InputError(f"{text!r} is empty: start and end are the same", field=field)
    return start, end


def local_at(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of ``clock`` on local ``day``.

    A clock time skipped by a DST change (02:30 on a spring-forward night) is
    moved later by the length of the gap (03:30), as java.time does; one that
    happens twice (autumn) means the first of the two.
    """
    return datetime.combine(day, clock).replace(tzinfo=tz, fold=0).astimezone(UTC)


def in_span(now: datetime, tz: ZoneInfo, span: tuple[time, time]) -> bool:
    """Whether ``now`` (aware) falls between the span's local start and end."""
    clock = now.astimezone(tz).time().replace(tzinfo=None)
    start, end = span
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end


def next_clock(now: datetime, tz: ZoneInfo, clock: time) -> datetime:
    """The first instant at or after ``now`` when the local clock shows ``clock`` (UTC)."""
    today = now.astimezone(tz).date()
    for offset in range(3):
        moment = local_at(today + timedelta(days=offset), clock, tz)
        if moment >= now:
            return moment
    raise AssertionError("unreachable: a clock time comes once a day")  # pragma: no cover


def hold_until(
    now: datetime, tz: ZoneInfo, *, quiet: str | None, digest: str | None, urgent: bool
) -> tuple[bool, datetime]:
    """``(batched, due)`` of an outside delivery made at ``now``.

    Urgent goes now. A digest person gets it at their digest time (moved to the
    end of quiet hours when it falls inside them). Otherwise, inside quiet hours
    it waits for their end and goes out with the others that waited; else now.
    """
    if urgent:
        return False, now
    span = parse_span(quiet) if quiet else None
    if digest:
        due = next_clock(now, tz, parse_clock(digest, "digest"))
        if span is not None and in_span(due, tz, span):
            due = next_clock(due, tz, span[1])
        return True, due
    if span is not None and in_span(now, tz, span):
        return True, next_clock(now, tz, span[1])
    return False, now
