"""Field parsers for imported and typed-in values; each raises InputError naming the field."""

from __future__ import annotations

import datetime as dt
import math
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


def as_text(field: str, raw: Any) -> str:
    """A non-empty string, stripped."""
    value = "" if raw is None else str(raw).strip()
    if not value:
        raise InputError("is required and empty", field=field)
    return value


def as_number(
    *, minimum: float | None = None, positive: bool = False, maximum: float | None = None
) -> Parser:
    """A parser of finite numbers within bounds."""

    def parse(field: str, raw: Any) -> float:
        if isinstance(raw, bool):
            raise InputError(f"must be a number (got {raw!r})", field=field)
        try:
            value = float(str(raw).strip()) if not isinstance(raw, int | float) else float(raw)
        except ValueError:
            raise InputError(f"must be a number (got {raw!r})", field=field) from None
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
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    text = "" if raw is None else str(raw).strip()
    try:
        if len(text) > 10:
            return dt.datetime.fromisoformat(text).date()
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"is not an ISO date like 2024-03-01 (got {text!r})", field=field
        ) from None


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
