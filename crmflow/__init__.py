"""crmflow: a low-code CRM workflow engine for sales-production coordination."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crmflow.errors import (
    ConfigError,
    CrmflowError,
    InputError,
    NotFoundError,
    PluginError,
    RefusedError,
    ValidationError,
)
from crmflow.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine import ActionContext, EmitResult, Engine, FireResult, Instance

__all__ = [
    "ActionContext",
    "ConfigError",
    "CrmflowError",
    "EmitResult",
    "Engine",
    "FireResult",
    "InputError",
    "Instance",
    "NotFoundError",
    "PluginError",
    "RefusedError",
    "ValidationError",
    "hookimpl",
]

__version__ = "0.1.0"

#: Imported on first use, so `crmflow --help` and plugins load without the engine.
_ENGINE_NAMES = frozenset({"ActionContext", "EmitResult", "Engine", "FireResult", "Instance"})


def __getattr__(name: str) -> Any:
    if name in _ENGINE_NAMES:
        from crmflow.core import engine

        value = getattr(engine, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'crmflow' has no attribute {name!r}")
