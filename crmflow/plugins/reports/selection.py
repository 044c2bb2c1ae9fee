"""What a dashboard or review shows: factory filters, period, buckets and horizon, from a URL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import sqlalchemy as sa

from crmflow.core.domain.records import Product
from crmflow.core.store import reading
from crmflow.errors import InputError

__all__ = [
    "BUCKETS", "FILTERS", "Selection", "bucket_start", "buckets", "default_args",
    "parse_selection", "skus_of",
]  # fmt: skip

BUCKETS = ("week", "month")
_products = Product.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Selection:
    """Filters of one S&OP picture; every field is also a URL query parameter."""

    today: dt.date
    family: str | None = None
    sku: str | None = None
    segment: str | None = None
    department: str | None = None
    bucket: str = "week"
    horizon: int = 13  # buckets ahead of today
    history: int = 26  # buckets before today
    start: dt.date | None = None  # KPI period [start, end); None: the last full month
    end: dt.date | None = None

    def query(self) -> dict[str, str]:
        """The URL parameters that rebuild this selection (defaults left out)."""
        out: dict[str, str] = {}
        default = parse_selection({"bucket": self.bucket}, self.today)
        for name, value in asdict(self).items():
            if name == "bucket" and value != "week":
                pass
            elif name == "today" or value is None or value == getattr(default, name):
                continue
            out[{"start": "from", "end": "to"}.get(name, name)] = (
                value.isoformat() if isinstance(value, dt.date) else str(value)
            )
        return out

    def with_(self, **changes: Any) -> Selection:
        return replace(self, **changes)


def _date(args: Mapping[str, Any], name: str) -> dt.date | None:
    raw = args.get(name)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        raise InputError(f"{raw!r} is not a date such as 2026-11-02", field=name) from None


def _int(args: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise InputError(f"{raw!r} is not a whole number", field=name) from None
    if not low <= value <= high:
        raise InputError(f"must be between {low} and {high}", field=name)
    return value


def _text(args: Mapping[str, Any], name: str) -> str | None:
    raw = args.get(name)
    if raw in (None, ""):
        return None
    text = str(raw).strip()
    if len(text) > 100:
        raise InputError("is longer than 100 characters", field=name)
    return text or None


def parse_selection(args: Mapping[str, Any], today: dt.date) -> Selection:
    """A Selection from URL parameters; InputError naming the parameter at fault."""
    bucket = str(args.get("bucket") or "week")
    if bucket not in BUCKETS:
        raise InputError(f"{bucket!r} is not one of {', '.join(BUCKETS)}", field="bucket")
    start, end = _date(args, "from"), _date(args, "to")
    if start and end and end <= start:
        raise InputError("must be after 'from'", field="to")
    limit = 104 if bucket == "week" else 24
    return Selection(
        today=today,
        family=_text(args, "family"),
        sku=_text(args, "sku"),
        segment=_text(args, "segment"),
        department=_text(args, "department"),
        bucket=bucket,
        horizon=_int(args, "horizon", 13 if bucket == "week" else 6, 1, limit),
        history=_int(args, "history", 26 if bucket == "week" else 12, 0, limit),
        start=start,
        end=end,
    )


#: The URL parameters of a selection.
FILTERS = ("family", "sku", "segment", "department", "bucket", "horizon", "history", "from", "to")


def default_args(engine: Any, person: str | None, args: Mapping[str, Any]) -> dict[str, Any]:
    """``args``, or when they hold no filter, the person's role default from the factory.

    ``settings.dashboard_defaults`` maps a role to URL parameters, e.g.
    ``{manager: {bucket: month, horizon: 6}, planner: {bucket: week}}``; the
    first role of the mapping that the person has wins.
    """
    if any(args.get(name) for name in FILTERS) or not person:
        return dict(args)
    defaults = (getattr(engine, "settings", None) or {}).get("dashboard_defaults") or {}
    if not isinstance(defaults, Mapping):
        raise InputError("settings.dashboard_defaults must map roles to URL parameters",
                         field="dashboard_defaults")  # fmt: skip
    roles = engine.roles_of(person)
    for role, chosen in defaults.items():
        if role in roles and isinstance(chosen, Mapping):
            return {**{k: str(v) for k, v in chosen.items()}, **args}
    return dict(args)


def bucket_start(day: dt.date, bucket: str) -> dt.date:
    """The Monday of ``day``'s ISO week, or the first of its month."""
    if bucket == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def _next(day: dt.date, bucket: str) -> dt.date:
    if bucket == "week":
        return day + dt.timedelta(days=7)
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def buckets(sel: Selection) -> list[tuple[dt.date, dt.date]]:
    """``[start, end)`` of each bucket: ``history`` before today's, then ``horizon`` from it."""
    first = bucket_start(sel.today, sel.bucket)
    for _ in range(sel.history):
        first = bucket_start(first - dt.timedelta(days=1), sel.bucket)
    out = []
    day = first
    for _ in range(sel.history + sel.horizon):
        nxt = _next(day, sel.bucket)
        out.append((day, nxt))
        day = nxt
    return out


def skus_of(engine: Any, sel: Selection) -> list[str]:
    """The SKUs the selection covers: the SKU, the family's SKUs, or every SKU."""
    query = sa.select(_products.c.sku).order_by(_products.c.sku)
    if sel.sku:
        query = query.where(_products.c.sku == sel.sku)
    elif sel.family:
        query = query.where(_products.c.family == sel.family)
    with reading(engine.db) as conn:
        found = list(conn.execute(query).scalars())
    if sel.sku and not found:
        raise InputError(f"unknown sku {sel.sku!r}", field="sku")
    if sel.family and not found:
        raise InputError(f"no product in family {sel.family!r}", field="family")
    return found
