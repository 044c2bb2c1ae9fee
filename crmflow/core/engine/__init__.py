"""YAML workflows: validation, compilation to `transitions`, the runtime."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .context import ActionContext
    from .results import EmitResult, FireResult, Instance, TransitionRecord
    from .runtime import Engine

__all__ = ["ActionContext", "EmitResult", "Engine", "FireResult", "Instance", "TransitionRecord"]

#: name -> module; imported on first use, so a submodule (e.g. yamlmarks, which the
#: factory config reads) loads without the runtime and its imports.
_WHERE = {
    "ActionContext": ".context", "EmitResult": ".results", "FireResult": ".results",
    "Instance": ".results", "TransitionRecord": ".results", "Engine": ".runtime",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
