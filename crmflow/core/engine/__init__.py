"""YAML workflows: validation, compilation to `transitions`, the runtime."""

from .context import ActionContext
from .results import EmitResult, FireResult, Instance, TransitionRecord
from .runtime import Engine

__all__ = ["ActionContext", "EmitResult", "Engine", "FireResult", "Instance", "TransitionRecord"]
