"""Connector health for every connector plugin: the `crmflow connectors` commands and tables.

Connector plugins (``erp``, ``mes``, ``scm``, …) report into
:mod:`crmflow.plugins.connectors.status` (``report_success``,
``report_error``, ``record_failure``, cursors) and give a ``retry=`` handler
to ``register_connectors``; this plugin lists and retries them.
"""

from __future__ import annotations

from typing import Any

from crmflow import hookimpl

from .commands import add_commands

__all__ = ["register_admin_blueprints", "register_commands"]


@hookimpl
def register_commands(cli: Any) -> None:
    add_commands(cli)


@hookimpl
def register_admin_blueprints(register: Any) -> None:
    from crmflow.lazy import lazy

    # the blueprint (Flask) loads when the web app mounts it, not for a command
    register(lazy(f"{__name__}.web:bp", name="connectors"), url_prefix="/connectors",
             menu="Connectors")  # fmt: skip
