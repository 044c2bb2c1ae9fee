"""Aligned plain-text tables for the commands' human-readable output."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["cell", "format_table"]


def cell(value: Any, digits: int = 3) -> str:
    """How one value reads in a table: numbers rounded, None as ``-``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}".rstrip("0").rstrip(".") if value != int(value) or abs(
            value) >= 1e15 else f"{value:.0f}"  # fmt: skip
    return str(value)


def _numeric(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return text == "-"
    return True


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], digits: int = 3) -> str:
    """Columns padded to their widest cell; numeric columns right-aligned."""
    body = [[cell(v, digits) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], len(text))
    numeric = [bool(body) and all(_numeric(r[i]) for r in body) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w)
                 for v, w, num in zip(values, widths, numeric, strict=True)]  # fmt: skip
        return "  ".join(parts).rstrip()

    return "\n".join([line(list(headers)), line(["-" * w for w in widths]),
                      *(line(r) for r in body)])  # fmt: skip
