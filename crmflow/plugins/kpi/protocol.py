"""The KPI calculator protocol: what a calculator is given and what it returns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from .breakdown import NONE_GROUP, Breakdown
from .periods import Period

__all__ = ["Calculator", "KpiContext", "KpiValue", "NONE_GROUP", "ratio"]


@dataclass(frozen=True)
class KpiValue:
    """One KPI value for one group, with what it was computed from.

    ``value`` is ``None`` when there is no qualifying data. ``numerator`` and
    ``denominator`` (for ratios) or ``count`` (for means) let an auditor check
    the number and let the parts of a breakdown be added up. ``extra`` holds
    additional keys the KPI reports: ``{"p90": 7.0}`` on ``delivery_lead_time_days``
    becomes ``delivery_lead_time_days_p90``. ``info`` holds further figures
    shown with the details (e.g. how many rush orders are still unanswered).
    """

    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    count: int | None = None
    extra: Mapping[str, float | None] = field(default_factory=dict)
    info: Mapping[str, Any] = field(default_factory=dict)

    def details(self) -> dict[str, Any]:
        """The non-value figures, for the JSON ``details`` and the snapshot rows."""
        out: dict[str, Any] = {}
        for name in ("numerator", "denominator", "count"):
            got = getattr(self, name)
            if got is not None:
                out[name] = got
        out.update(self.info)
        return out


def ratio(numerator: float | None, denominator: float | None, **kwargs: Any) -> KpiValue:
    """A :class:`KpiValue` for ``numerator / denominator``; ``None`` when the denominator is 0."""
    num = float(numerator or 0)
    den = float(denominator or 0)
    value = num / den if den else None
    return KpiValue(value, numerator=num, denominator=den, **kwargs)


@dataclass(frozen=True)
class KpiContext:
    """What a calculator gets: a connection, the period, the breakdown, the factory.

    ``period`` is ``[start, end)`` in the factory's calendar. ``breakdown`` is
    ``None`` for the factory total; otherwise the calculator returns one value
    per group and uses :meth:`Breakdown.line_group` / :meth:`Breakdown.product_group`
    to label its records. ``settings`` are the ``kpi`` plugin's factory
    settings (``plugins: {kpi: {...}}``), so a calculator can read its own options.
    """

    conn: sa.Connection
    period: Period
    breakdown: Breakdown | None
    timezone: ZoneInfo
    factory: Any = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: Results calculators share within one computation (same period and
    #: breakdown), e.g. the per-line delivery figures of the fill rates.
    cache: dict[str, Any] = field(default_factory=dict, compare=False)

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per context: calculators that need the same query share it."""
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]

    @property
    def start(self) -> dt.date:
        return self.period.start

    @property
    def end(self) -> dt.date:
        return self.period.end

    def utc_bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """The period as aware UTC datetimes (midnight in the factory's time zone)."""
        return self.period.utc_bounds(self.timezone)

    def group_of(self, key: object) -> str | None:
        """The group key a calculator should use: ``None`` for the total."""
        if self.breakdown is None:
            return None
        return NONE_GROUP if key is None else str(key)


@runtime_checkable
class Calculator(Protocol):
    """A KPI calculator is any callable ``calculator(ctx) -> {group: KpiValue}``.

    Without a breakdown it returns ``{None: KpiValue(...)}``; with one, a
    value per group that has data (groups without data may be left out).
    """

    def __call__(self, ctx: KpiContext) -> Mapping[str | None, KpiValue]: ...


CalculatorFn = Callable[[KpiContext], Mapping[str | None, KpiValue]]
