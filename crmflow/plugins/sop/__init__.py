"""The S&OP plugin: domain actions, guard functions, event enrichment and planner commands."""

from __future__ import annotations

from typing import Any

from crmflow import hookimpl
from crmflow.core.domain.settings import DEFAULTS

from .actions import ACTIONS
from .commands import add_commands
from .events import on_inventory_changed
from .functions import FUNCTIONS

__all__ = [
    "on_event",
    "register_actions",
    "register_commands",
    "register_functions",
    "register_settings",
]


@hookimpl
def register_actions(register: Any) -> None:
    for name, (func, description, outbox) in ACTIONS.items():
        register(name, func, outbox=outbox, description=description)


@hookimpl
def register_settings(register: Any) -> None:
    for name, default in DEFAULTS.items():
        register(name, default)


@hookimpl
def register_functions(register: Any) -> None:
    for name, (func, description) in FUNCTIONS.items():
        register(name, func, description=description)


@hookimpl
def on_event(engine: Any, event: str, payload: dict[str, Any]) -> None:
    if event == "inventory.changed":
        on_inventory_changed(engine, payload)


@hookimpl
def register_commands(cli: Any, helpers: Any) -> None:
    add_commands(cli, helpers)
