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
    from .web import bp

    register(bp, url_prefix="/connectors", menu="Connectors")
