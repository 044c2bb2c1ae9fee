"""A broken plugin: it registers an action name that the built-in notify plugin owns."""

from __future__ import annotations

from typing import Any

from crmflow import hookimpl


def notify(ctx: Any, **params: Any) -> None:
    return None


@hookimpl
def register_actions(register: Any) -> None:
    register("notify", notify)
