"""Cells written to CSV files that a spreadsheet opens: formulas are escaped, never run."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["FORMULA_START", "safe_cell", "safe_row"]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def safe_cell(value: Any) -> Any:
    """``value``, with a leading ``'`` when it is text a spreadsheet would run as a formula.

    Numbers (``-3``, ``+1.5``) stay as they are; ``=HYPERLINK(...)``, ``@SUM(...)``,
    ``-2+3`` become text. The stored value is never changed, only its export.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


def safe_row(row: list[Any]) -> list[Any]:
    return [safe_cell(v) for v in row]
