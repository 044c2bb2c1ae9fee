"""Instance data as events change it: the deep merge of a payload."""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["deep_merge"]


def deep_merge(base: dict[str, Any], update: dict[str, Any] | None) -> dict[str, Any]:
    """Merge ``update`` into ``base`` in place, recursing into dicts."""
    for key, value in (update or {}).items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base
