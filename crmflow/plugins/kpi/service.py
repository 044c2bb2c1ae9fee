"""Run the registered KPI calculators for a period and breakdown; shape the report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from crmflow.core.store import reading
from crmflow.errors import ConfigError, CrmflowError, PluginError

from .breakdown import Breakdown, make_breakdown
from .periods import Period, last_full, shift_months
from .protocol import KpiContext, KpiValue

__all__ = [
    "KpiSpec",
    "KpiTable",
    "compute",
    "engine_kpis",
    "factory_timezone",
    "kpi_report",
    "report_json",
    "resolve_period",
]

#: Decimals kept in reported and stored values: the same figure on every database.
DECIMALS = 6


@dataclass(frozen=True)
class KpiSpec:
    """A registered KPI: key, calculator, unit, the extra keys it reports, its plugin."""

    key: str
    calculator: Any
    plugin: str = "kpi"
    unit: str | None = None
    description: str | None = None
    extras: tuple[str, ...] = ()

    @property
    def keys(self) -> list[str]:
        """The JSON keys this KPI fills: its own and ``key_<extra>`` for each extra."""
        return [self.key, *(f"{self.key}_{e}" for e in self.extras)]

    @classmethod
    def from_registered(cls, item: Any) -> KpiSpec:
        options = dict(getattr(item, "options", {}) or {})
        return cls(
            key=item.name,
            calculator=item.obj,
            plugin=item.plugin,
            unit=options.get("unit"),
            description=options.get("description") or (item.obj.__doc__ or "").split("\n")[0],
            extras=tuple(options.get("extras") or ()),
        )


@dataclass
class KpiTable:
    """The values of every KPI: the total, and per group when a breakdown was asked."""

    period: Period
    specs: list[KpiSpec]
    total: dict[str, KpiValue] = field(default_factory=dict)
    breakdown: Breakdown | None = None
    groups: dict[str, dict[str, KpiValue]] = field(default_factory=dict)

    def flat(self, values: Mapping[str, KpiValue]) -> dict[str, float | None]:
        """``{key: value}`` for every key of every KPI, ``None`` where there is no data."""
        out: dict[str, float | None] = {}
        for spec in self.specs:
            got = values.get(spec.key)
            out[spec.key] = _round(got.value if got else None)
            for extra in spec.extras:
                out[f"{spec.key}_{extra}"] = _round(got.extra.get(extra) if got else None)
        return out


def _round(value: float | None) -> float | None:
    if value is None:
        return None
    return round(float(value), DECIMALS)


def factory_timezone(factory: Any) -> ZoneInfo:
    tz = getattr(factory, "timezone", None)
    if isinstance(tz, ZoneInfo):
        return tz
    return ZoneInfo(str(tz)) if tz else ZoneInfo("UTC")


def _run(spec: KpiSpec, ctx: KpiContext) -> Mapping[str | None, KpiValue]:
    try:
        got = spec.calculator(ctx)
    except CrmflowError:
        raise
    except Exception as exc:  # a broken calculator must say which KPI and plugin it is
        raise PluginError(
            f"KPI {spec.key!r} of plugin {spec.plugin!r} failed for {ctx.period}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(got, Mapping):
        raise PluginError(
            f"KPI {spec.key!r} of plugin {spec.plugin!r} returned {type(got).__name__}; "
            "a calculator returns {group: KpiValue} (see docs/kpis.md)"
        )
    return got


#: SQLite page cache while computing (KiB): the per-line index probes reread pages.
SQLITE_CACHE_KIB = 65536


@contextmanager
def _page_cache(conn: sa.Connection) -> Iterator[None]:
    """A larger SQLite page cache for the computation, the connection's own one after."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(before)}")


def compute(
    conn: sa.Connection,
    specs: Iterable[KpiSpec],
    period: Period,
    *,
    breakdown: Breakdown | None = None,
    timezone: ZoneInfo | None = None,
    factory: Any = None,
    settings: Mapping[str, Any] | None = None,
    with_total: bool = True,
) -> KpiTable:
    """Compute every KPI for the period: the total, and the groups of ``breakdown``.

    ``with_total=False`` computes the groups only (a snapshot stores the total once).
    """
    specs = list(specs)
    tz = timezone or factory_timezone(factory)
    base = dict(conn=conn, period=period, timezone=tz, factory=factory, settings=settings or {})
    table = KpiTable(period=period, specs=specs, breakdown=breakdown)
    with _page_cache(conn):
        total_ctx = KpiContext(breakdown=None, **base)  # type: ignore[arg-type]
        for spec in specs if with_total or breakdown is None else ():
            got = _run(spec, total_ctx)
            # Without a breakdown there is one entry; its key is not significant.
            value = next(iter(got.values()), None)
            if value is not None:
                table.total[spec.key] = value
        if breakdown is not None:
            group_ctx = KpiContext(breakdown=breakdown, **base)  # type: ignore[arg-type]
            for spec in specs:
                for group, value in _run(spec, group_ctx).items():
                    table.groups.setdefault(str(group), {})[spec.key] = value
    return table


def _details(values: Mapping[str, KpiValue]) -> dict[str, dict[str, Any]]:
    out = {}
    for key, value in values.items():
        details = value.details()
        if details:
            out[key] = details
    return out


def report_json(table: KpiTable, *, factory: str | None = None) -> dict[str, Any]:
    """The ``crmflow kpi --json`` object: every key at the top, then period, details, groups."""
    out: dict[str, Any] = table.flat(table.total)
    out["period"] = table.period.as_json()
    if factory:
        out["factory"] = factory
    out["units"] = {spec.key: spec.unit for spec in table.specs}
    out["details"] = _details(table.total)
    if table.breakdown is not None:
        groups = {}
        for group in sorted(table.groups):
            values = table.groups[group]
            groups[group] = {
                **table.flat(values),
                "details": _details(values),
            }
        out["by"] = {**table.breakdown.as_json(), "groups": groups}
    return out


# --------------------------------------------------------------------------
# The same, from a crmflow Engine
# --------------------------------------------------------------------------


def _registry_kpis(engine: Any) -> Mapping[str, Any]:
    registry = getattr(engine, "registry", None)
    if registry is not None:
        return registry.kpis
    # An engine without a built registry: build it as the engine would.
    from crmflow.core.registry import build_registry, enabled_plugins, get_plugin_manager

    pm = get_plugin_manager()
    plugins = getattr(getattr(engine, "factory", None), "plugins", None)
    return build_registry(pm, enabled_plugins(pm, plugins)).kpis


def settings_of(engine: Any) -> dict[str, Any]:
    getter = getattr(engine, "plugin_settings", None)
    got = getter("kpi") if getter else None
    return dict(got or {})


def engine_kpis(engine: Any) -> list[KpiSpec]:
    """The KPIs registered by the factory's enabled plugins, less the disabled ones.

    ``plugins: {kpi: {disable: [key, …]}}`` in the factory config turns a KPI off.
    """
    specs = [KpiSpec.from_registered(item) for item in _registry_kpis(engine).values()]
    disabled = settings_of(engine).get("disable") or []
    known = {spec.key for spec in specs}
    unknown = sorted(set(disabled) - known)
    if unknown:
        raise ConfigError(
            f"plugins.kpi.disable names unknown KPI(s) {', '.join(unknown)}; "
            f"registered: {', '.join(sorted(known))}"
        )
    return [spec for spec in specs if spec.key not in disabled]


def today(engine: Any) -> dt.date:
    """Today's date in the factory's time zone, by the engine's clock."""
    now = engine.now() if hasattr(engine, "now") else dt.datetime.now(dt.UTC)
    return now.astimezone(factory_timezone(getattr(engine, "factory", None))).date()


def resolve_period(engine: Any, start: dt.date | None = None, end: dt.date | None = None) -> Period:
    """``[start, end)``: no dates mean the last full month; one date alone spans a month."""
    if start is None and end is None:
        return last_full("month", today(engine))
    if start is None:
        assert end is not None
        return Period(shift_months(end, -1), end)
    if end is None:
        return Period(start, shift_months(start, 1))
    return Period(start, end)


def kpi_report(
    engine: Any,
    start: dt.date | None = None,
    end: dt.date | None = None,
    by: str | None = None,
) -> dict[str, Any]:
    """What ``crmflow kpi --json`` prints, for an engine and a period."""
    period = resolve_period(engine, start, end)
    factory = getattr(engine, "factory", None)
    breakdown = make_breakdown(by, factory)
    with reading(engine.db) as conn:
        table = compute(
            conn,
            engine_kpis(engine),
            period,
            breakdown=breakdown,
            factory=factory,
            settings=settings_of(engine),
        )
    return report_json(table, factory=getattr(factory, "name", None))
