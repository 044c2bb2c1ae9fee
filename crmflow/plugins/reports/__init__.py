"""The S&OP reports plugin: the dashboard's figures, its page and the weekly review pack."""

from __future__ import annotations

from typing import Any

from crmflow.hookspecs import hookimpl

from .cache import invalidate

__all__ = [
    "DEFAULT_SETTINGS",
    "on_event",
    "on_transition",
    "register_admin_blueprints",
    "register_commands",
    "register_settings",
    "run_scheduled",
]

#: Factory settings of this plugin (`settings:` in the factory config overrides them).
DEFAULT_SETTINGS: dict[str, Any] = {
    "report_cron": "0 7 * * 1",  # the weekly review pack: Monday 07:00 factory time
    "kpi_targets": {},  # {order_fill_rate: 0.95, …}: the targets shown on tiles and in the pack
    "dashboard_defaults": {},  # {role: {bucket: month, …}}: each role's default dashboard view
}

#: Workflows whose transitions change plans or stock (their actions write them).
_PLAN_WORKFLOWS = frozenset({"demand_change", "production_adjustment_approval",
                             "inventory_alert"})  # fmt: skip


@hookimpl
def register_settings(register: Any) -> None:
    for name, default in DEFAULT_SETTINGS.items():
        register(name, default)


@hookimpl
def on_event(engine: Any, event: str, payload: dict[str, Any]) -> None:
    """Drop the cached figures the event may change."""
    invalidate(engine, event, payload)


@hookimpl
def on_transition(engine: Any, record: Any) -> None:
    """Transitions of plan-changing workflows change plans, capacity and stock."""
    if record.workflow in _PLAN_WORKFLOWS:
        invalidate(engine, "plan.changed", record.payload or {})
        invalidate(engine, "inventory.changed", record.payload or {})


@hookimpl
def run_scheduled(engine: Any, now: Any) -> None:
    """Render and store the weekly review pack when `report_cron` says it is due."""
    from .schedule import run_due_reviews

    run_due_reviews(engine, now)


@hookimpl
def register_admin_blueprints(register: Any) -> None:
    from crmflow.lazy import lazy

    # the blueprint (Flask) loads when the web app mounts it, not for a command
    register(lazy(f"{__name__}.web:bp", name="sop_dashboard"), url_prefix="/dashboard",
             menu="Dashboard")  # fmt: skip


@hookimpl
def register_commands(cli: Any) -> None:
    from .cli import report

    cli.add_command(report)
