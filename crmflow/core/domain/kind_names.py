"""The import kinds' names, for command-line choices that need not load the records."""

from __future__ import annotations

__all__ = ["IMPORT_KIND_NAMES"]

#: The keys of ``_kinds.KINDS`` in their order (tests/sop/test_cli_speed.py keeps them equal).
IMPORT_KIND_NAMES: tuple[str, ...] = (
    "customers", "products", "orders", "deliveries", "inventory", "capacity", "production",
    "purchases", "opportunities", "market_indicators", "feedback",
)  # fmt: skip
