"""The MES plugin: MQTT and OPC UA from the machines into domain events (`crmflow listen`)."""

from __future__ import annotations

import threading
import weakref
from datetime import datetime
from typing import Any

from crmflow import hookimpl

from .commands import add_commands

__all__ = [
    "register_actions",
    "register_commands",
    "register_functions",
    "register_settings",
    "run_scheduled",
    "stop_listener",
]

_listeners: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


@hookimpl
def register_commands(cli: Any) -> None:
    add_commands(cli)


@hookimpl
def register_connectors(register: Any) -> None:
    from .listen import retry_message
    from .store import connector_status, register_retry, retry

    register_retry("mqtt", retry_message)
    register_retry("opcua", retry_message)

    # MES subscriptions and the EDI connector keep their health in this store;
    # `crmflow connectors` lists it and `connectors retry` re-delivers its messages.
    register(
        "mes", dict, status=connector_status, retry_messages=retry, covers=("mes", "scm"),
        description="MQTT and OPC UA subscriptions, EDI files: state, messages, quarantine",
    )  # fmt: skip


@hookimpl
def register_actions(register: Any) -> None:
    from .machine_down import ACTIONS

    for name, (func, description) in ACTIONS.items():
        # a task is a notification, written after the step's commit like `notify`
        register(name, func, description=description, outbox=name == "mes.task_reps")


@hookimpl
def register_functions(register: Any) -> None:
    from .machine_down import FUNCTIONS

    for name, (func, description) in FUNCTIONS.items():
        register(name, func, description=description)


@hookimpl
def register_settings(register: Any) -> None:
    register(
        "machine_down_minutes",
        15,
        description="How long a line must stay down before `machine_down` tells the planner.",
    )
    register(
        "machine_down_states",
        ["down", "fault", "stopped", "error"],
        description="The `state` values of `machine.state_changed` that mean a line is down.",
    )
    register(
        "machine_down_expected_hours",
        8,
        description="Hours of today's capacity a line loses when `machine_down` confirms it down.",
    )
    register(
        "machine_down_horizon_days",
        14,
        description="How many days ahead `machine_down` looks for orders planned on the line.",
    )


@hookimpl
def run_scheduled(engine: Any, now: datetime) -> None:
    """`crmflow run` and `crmflow worker` include the listener: start it once per engine."""
    if not engine.factory.connectors.get("mes"):
        return
    with _lock:
        if engine in _listeners:
            return
        from .listen import Listener, connectors_of

        _listeners[engine] = Listener(engine, connectors_of(engine)).start()


def stop_listener(engine: Any) -> bool:
    """Stop the listener a worker started for ``engine``; True when there was one."""
    with _lock:
        listener = _listeners.pop(engine, None)
    if listener is None:
        return False
    listener.stop()
    return True
