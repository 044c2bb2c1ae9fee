"""The S&OP plugin: domain actions, guard functions, event enrichment and planner commands.

Its modules load when a hook needs them: actions and functions are
registered as lazy stand-ins (:func:`crmflow.lazy.lazy`), so opening an
engine for a command that runs none of them imports none of them.
"""

from __future__ import annotations

from typing import Any

from crmflow.core.domain.settings import DEFAULTS
from crmflow.hookspecs import hookimpl
from crmflow.lazy import lazy

from .table import ACTION_TABLE, FUNCTION_TABLE, target

__all__ = [
    "on_event",
    "register_actions",
    "register_commands",
    "register_functions",
    "register_settings",
    "run_scheduled",
]


@hookimpl
def register_actions(register: Any) -> None:
    for name, (attr, description, outbox) in ACTION_TABLE.items():
        register(name, lazy(target("action", attr), __doc__=description), outbox=outbox,
                 description=description)  # fmt: skip


@hookimpl
def register_settings(register: Any) -> None:
    for name, default in DEFAULTS.items():
        register(name, default)


@hookimpl
def register_functions(register: Any) -> None:
    for name, (attr, description) in FUNCTION_TABLE.items():
        register(name, lazy(target("function", attr), __doc__=description),
                 description=description)  # fmt: skip


@hookimpl
def on_event(engine: Any, event: str, payload: dict[str, Any]) -> None:
    if event == "inventory.changed":
        from .events import on_inventory_changed

        on_inventory_changed(engine, payload)


@hookimpl
def run_scheduled(engine: Any, now: Any) -> None:
    """Once a day: capacity overloads (alerts, ``capacity.overloaded``) and demand swings."""
    from crmflow.core.domain.scans import run_due_scans

    run_due_scans(engine, now)


@hookimpl
def register_commands(cli: Any, helpers: Any) -> None:
    from .commands import add_commands

    add_commands(cli, helpers)
