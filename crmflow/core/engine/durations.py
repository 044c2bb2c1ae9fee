"""Parse durations (`45s`, `1h30m`, `PT30M`) and check cron expressions."""

from __future__ import annotations

import re
from datetime import timedelta

from croniter import croniter

__all__ = ["DurationError", "MAX_DURATION", "is_valid_cron", "parse_duration"]

#: The longest timer or deadline a workflow may set (ten years): longer is a typo, and
#: far beyond it the date arithmetic of a running instance would overflow.
MAX_DURATION = timedelta(days=3653)

_SHORT = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_ISO = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


class DurationError(ValueError):
    """A duration that is not in one of the accepted forms."""


def parse_duration(value: object) -> timedelta:
    """Return the duration of ``value``; raise :class:`DurationError` with advice."""
    try:
        duration = _parse(value)
    except DurationError:
        raise
    except (OverflowError, ValueError):  # ValueError: more digits than int() reads
        duration = None
    if duration is None or duration > MAX_DURATION:
        raise DurationError(
            f"duration {str(value).strip()[:40]!r} is longer than the maximum of "
            f"{MAX_DURATION.days} days (about ten years)"
        )
    return duration


def _parse(value: object) -> timedelta:
    if isinstance(value, bool) or isinstance(value, int | float):
        raise DurationError(
            f"duration {value!r} is a bare number; give a unit: 45s, 30m, 2h, 3d, 1w "
            "or ISO 8601 such as PT30M"
        )
    if not isinstance(value, str) or not value.strip():
        raise DurationError(f"duration {value!r} is not a string such as 30m or PT30M")
    text = value.strip()
    match = _SHORT.match(text.replace(" ", ""))
    if match and any(match.groups()):
        w, d, h, m, s = (int(g or 0) for g in match.groups())
        return timedelta(weeks=w, days=d, hours=h, minutes=m, seconds=s)
    match = _ISO.match(text.upper())
    if match and any(match.groups()) and not text.upper().endswith("T"):
        w, d, h, m = (int(g or 0) for g in match.groups()[:4])
        secs = float(match.group(5) or 0)
        return timedelta(weeks=w, days=d, hours=h, minutes=m, seconds=secs)
    if text.upper().startswith("P") and re.search(r"\d+[YM](?!.*T)", text.upper().split("T")[0]):
        raise DurationError(
            f"duration {text!r} uses years or months, whose length varies; use days or weeks"
        )
    raise DurationError(
        f"duration {text!r} is malformed; use 45s, 30m, 2h, 3d, 1w, combinations like 1h30m, "
        "or ISO 8601 such as PT30M or P2D"
    )


def is_valid_cron(expr: object) -> bool:
    return isinstance(expr, str) and bool(expr.strip()) and croniter.is_valid(expr)
