"""The SCM plugin: EDI with suppliers (EDIFACT D.96A ORDERS/DESADV, X12 850/856)."""

from __future__ import annotations

import re
import threading
import weakref
from datetime import datetime, timedelta
from typing import Any

from crmflow import hookimpl
from crmflow.errors import ConfigError

from .commands import add_commands

__all__ = ["poll_every", "register_commands", "run_scheduled"]

_last: weakref.WeakKeyDictionary[Any, datetime] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
_UNITS = {"s": 1, "m": 60, "h": 3600}


@hookimpl
def register_commands(cli: Any) -> None:
    add_commands(cli)


def poll_every(section: dict[str, Any]) -> timedelta:
    """`connectors.scm.every` (`30s`, `5m`, `1h`; default 1m): how often the worker polls."""
    raw = str(section.get("every", "1m")).strip()
    match = re.fullmatch(r"(\d+)\s*([smh])", raw)
    if match is None:
        raise ConfigError(f"connectors.scm.every: {raw!r} must look like 30s, 5m or 1h")
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])


@hookimpl
def run_scheduled(engine: Any, now: datetime) -> None:
    """The worker polls the EDI folders every `connectors.scm.every` (EDI factories only)."""
    section = engine.factory.connectors.get("scm")
    if not isinstance(section, dict):
        return
    with _lock:
        last = _last.get(engine)
        if last is not None and now - last < poll_every(section):
            return
        _last[engine] = now
    from .service import poll

    poll(engine)
