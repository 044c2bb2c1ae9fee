"""The SCM plugin: EDI with suppliers (EDIFACT D.96A ORDERS/DESADV, X12 850/856)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crmflow import hookimpl

from .commands import add_commands
from .service import poll

__all__ = ["register_commands", "run_scheduled"]


@hookimpl
def register_commands(cli: Any) -> None:
    add_commands(cli)


@hookimpl
def run_scheduled(engine: Any, now: datetime) -> None:
    """The worker polls the EDI folders every round when the factory trades by EDI."""
    if isinstance(engine.factory.connectors.get("scm"), dict):
        poll(engine)
