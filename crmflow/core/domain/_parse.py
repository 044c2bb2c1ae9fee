"""Field parsers for imported and typed-in values; each raises InputError naming the field."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from crmflow.errors import InputError

__all__ = [
    "Parser",
    "as_date",
    "as_enum",
    "as_int",
    "as_number",
    "as_text",
    "chunked",
    "iso",
]

Parser = Callable[[str, Any], Any]

_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?$")
MIN_YEAR, MAX_YEAR = 1900, 2199


def as_text(field: str, raw: Any) -> str:
    """A non-empty string, stripped, without NUL or control characters."""
    value = "" if raw is None else str(raw).strip()
    if not value:
        raise InputError("is required and empty", field=field)
    if any(ord(ch) < 32 for ch in value):
        raise InputError("contains a NUL or control character", field=field)
    return value


def as_number(
    *, minimum: float | None = None, positive: bool = False, maximum: float | None = None
) -> Parser:
    """A parser of finite numbers within bounds."""

    def parse(field: str, raw: Any) -> float:
        if isinstance(raw, bool):
            raise InputError(f"must be a number (got {raw!r})", field=field)
        if isinstance(raw, int | float):
            value = float(raw)
        else:
            text = str(raw).strip()
            # float() also reads '1_000', '١٢' (Arabic-Indic digits) and 'nan': a planner's
            # file means none of them.
            if not _NUMBER.match(text):
                raise InputError(f"must be a number like 12 or 12.5 (got {raw!r})", field=field)
            value = float(text)
        if not math.isfinite(value):
            raise InputError(f"must be a finite number (got {raw!r})", field=field)
        if positive and value <= 0:
            qualifier = "negative" if value < 0 else "zero"
            raise InputError(f"must be positive (got {qualifier} {value:g})", field=field)
        if minimum is not None and value < minimum:
            raise InputError(f"must be at least {minimum:g} (got {value:g})", field=field)
        if maximum is not None and value > maximum:
            raise InputError(f"must be at most {maximum:g} (got {value:g})", field=field)
        return value

    return parse


def as_int(*, minimum: int = 0) -> Parser:
    """A parser of whole numbers (``14`` or ``14.0``) at or above ``minimum``."""
    number = as_number(minimum=minimum)

    def parse(field: str, raw: Any) -> int:
        value = number(field, raw)
        if value != int(value):
            raise InputError(f"must be a whole number (got {raw!r})", field=field)
        return int(value)

    return parse


def as_date(field: str, raw: Any) -> dt.date:
    """An ISO 8601 date (``2024-03-01``; a date-time keeps its date)."""
    if isinstance(raw, dt.datetime):
        return _in_range(field, raw.date())
    if isinstance(raw, dt.date):
        return _in_range(field, raw)
    text = "" if raw is None else str(raw).strip()
    try:
        if len(text) > 10:
            day = dt.datetime.fromisoformat(text[:40]).date()
        else:
            day = dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"is not an ISO date like 2024-03-01 (got {text[:40]!r})", field=field
        ) from None
    return _in_range(field, day)


def _in_range(field: str, day: dt.date) -> dt.date:
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise InputError(
            f"year {day.year} is out of range ({MIN_YEAR}-{MAX_YEAR}); a placeholder date?",
            field=field,
        )
    return day


def as_enum(*choices: str) -> Parser:
    """A parser of one of ``choices`` (case-insensitive)."""

    def parse(field: str, raw: Any) -> str:
        value = "" if raw is None else str(raw).strip().lower()
        if value not in choices:
            raise InputError(f"must be one of {', '.join(choices)} (got {raw!r})", field=field)
        return value

    return parse


def iso(value: Any) -> Any:
    """JSON-friendly form of a value (dates as ISO strings)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def chunked(items: Iterable[Any], size: int = 500) -> Iterator[list[Any]]:
    """Successive lists of at most ``size`` items (bounded ``IN (...)`` lists)."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
