"""Registered items that import their module on first use (fast CLI start-up)."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["lazy"]


class _Lazy:
    """Stands for ``module:attr``; calling it or reading an attribute imports the module."""

    def __init__(self, target: str, key: Any = None, **known: Any) -> None:
        module, _, attr = target.partition(":")
        self.__dict__.update(known)
        self.__dict__["_target"] = (module, attr)
        self.__dict__["_key"] = key
        self.__dict__.setdefault("__name__", attr)
        self.__dict__.setdefault("__doc__", None)

    def _resolve(self) -> Any:
        found = self.__dict__.get("_found")
        if found is None:
            module, attr = self.__dict__["_target"]
            found = getattr(importlib.import_module(module), attr)
            key = self.__dict__["_key"]
            if key is not None:  # an entry of a table: (object, ...) tuples or objects
                found = found[key]
                found = found[0] if isinstance(found, tuple) else found
            self.__dict__["_found"] = found
        return found

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._resolve()(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._resolve(), name)

    def __repr__(self) -> str:
        module, attr = self.__dict__["_target"]
        return f"<lazy {module}:{attr}>"


def lazy(target: str, key: Any = None, **known: Any) -> Any:
    """A stand-in for the object at ``"package.module:name"``, imported when first used.

    With ``key`` it stands for ``name[key]`` (the first item when that is a tuple).
    ``known`` attributes (e.g. ``name``, ``__doc__``) answer without the import.
    A plugin registers its actions, functions, models and calculators this
    way so that opening an engine does not import what a command never runs.
    """
    return _Lazy(target, key, **known)
