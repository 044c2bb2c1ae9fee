"""crmflow: a low-code CRM workflow engine for sales-production coordination."""

from crmflow.core.engine import ActionContext, EmitResult, Engine, FireResult, Instance
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
