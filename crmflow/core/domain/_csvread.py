"""Read an import CSV safely: its encoding named, every cell checked before anything is written."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from crmflow.errors import InputError

__all__ = [
    "ENCODINGS",
    "MAX_CELL",
    "CsvRow",
    "check_text",
    "column_limits",
    "open_csv",
    "read_csv_rows",
]

MAX_CELL = 10_000  # characters of one cell (a longer one is a broken export)
MAX_FIELD_BYTES = 1_000_000  # the csv module's limit, so a runaway quote cannot eat the file
ENCODINGS = ("utf-8", "gb18030", "gbk", "cp1252", "latin-1", "utf-16")

csv.field_size_limit(MAX_FIELD_BYTES)

_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook?); save it as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls); save it as CSV"),
    (b"%PDF", "a PDF document"),
)


@dataclass
class CsvRow:
    """One data row: its first line, the cells by header name, and what is wrong with it."""

    line: int
    cells: dict[str, str]
    problem: str | None = None
    lines: tuple[int, int] = (0, 0)
    extra: list[str] = field(default_factory=list)


def _encoding_of(raw: bytes, encoding: str | None, path: Path) -> str:
    for magic, what in _MAGIC:
        if raw.startswith(magic):
            raise InputError(f"this is {what}, not a CSV file; nothing was imported",
                             file=str(path), line=1)  # fmt: skip
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if encoding:
        name = encoding.lower().replace("_", "-")
        try:
            codecs.lookup(name)
        except LookupError:
            raise InputError(
                f"unknown encoding {encoding!r}; use one of {', '.join(ENCODINGS)}",
                field="--encoding",
            ) from None
        return "utf-8-sig" if name in ("utf-8", "utf8") else name
    return "utf-8-sig"


def open_csv(path: Path, encoding: str | None = None) -> str:
    """The text of ``path``; a wrong encoding is an error naming where and what to do."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", file=str(path)) from None
    name = _encoding_of(raw, encoding, path)
    try:
        text = raw.decode(name)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        advice = (
            "; a Chinese Excel export is usually GBK: add --encoding gb18030"
            if not encoding
            else f"; it is not {encoding} either"
        )
        raise InputError(
            f"is not {encoding or 'UTF-8'} text (byte 0x{raw[exc.start]:02x} at byte "
            f"{exc.start}){advice}; nothing was imported",
            file=str(path),
            line=line,
        ) from None
    head = text[:4096]
    if head.count("\x00") > len(head) // 10 and name != "utf-16":  # one NUL: that row only
        raise InputError(
            "contains NUL bytes: it is a binary file or UTF-16 without a byte-order mark; "
            "save it as CSV UTF-8; nothing was imported",
            file=str(path),
            line=text.count("\n", 0, text.index("\x00")) + 1,
        )
    return text


def read_csv_rows(path: Path, text: str) -> tuple[list[str], Iterator[CsvRow]]:
    """The header (lower-cased) and the rows; cell-level problems are kept per row."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        raw_header = next(reader)
    except StopIteration:
        raw_header = []
    except csv.Error as exc:
        raise InputError(f"the header row cannot be read: {exc}", file=str(path), line=1) from None
    header = [(h or "").strip().lower() for h in raw_header]
    while header and not header[-1]:
        header.pop()  # trailing separators of spreadsheet exports
    if not header:
        raise InputError("the file is empty; it needs a header row", file=str(path), line=1)
    twice = sorted({h for h in header if header.count(h) > 1 and h})
    if twice:
        raise InputError(
            f"column(s) {', '.join(twice)} appear twice in the header; nothing was imported",
            file=str(path),
            line=1,
        )
    return header, _rows(reader, header)


def _rows(reader: Any, header: list[str]) -> Iterator[CsvRow]:
    width = len(header)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield CsvRow(start, {}, f"cannot be read as CSV: {exc}", (start, reader.line_num))
            continue
        end = reader.line_num
        if not any(c.strip() for c in cells):
            continue  # blank line
        row = CsvRow(start, dict(zip(header, cells, strict=False)), lines=(start, end))
        extra = [c for c in cells[width:] if c.strip()]
        if extra:
            row.problem = (
                f"{len(cells)} cells but the header has {width} columns "
                f"(extra: {', '.join(repr(c[:20]) for c in extra[:3])}); a separator or "
                "quote in a cell?"
            )
        elif end > start and any(_swallowed(c, width) for c in cells):
            row.problem = (
                f"a quoted cell runs over lines {start}-{end} and holds what looks like "
                "another row (an unterminated quote?)"
            )
        else:
            row.problem = _cell_problem(row.cells)
        yield row


def _swallowed(cell: str, width: int) -> bool:
    lines = cell.splitlines()[1:]
    return any(line.count(",") >= max(1, width - 1) for line in lines)


def _cell_problem(cells: dict[str, str]) -> str | None:
    for name, value in cells.items():
        problem = check_text(value)
        if problem:
            return f"{name}: {problem}"
    return None


def check_text(value: str, limit: int = MAX_CELL) -> str | None:
    """Why ``value`` cannot be stored as text (NUL, control characters, length), or None."""
    if len(value) > limit:
        return f"is {len(value):,} characters long; at most {limit:,}"
    if "\x00" in value:
        return "contains a NUL character"
    bad = next((ch for ch in value if ord(ch) < 32 and ch not in "\t"), None)
    if bad is not None:
        return f"contains the control character U+{ord(bad):04X}"
    return None


def column_limits(*tables: sa.Table) -> dict[str, int]:
    """Maximum lengths of the string columns of ``tables``, by column name (smallest wins)."""
    limits: dict[str, int] = {}
    for table in tables:
        for column in table.c:
            length = getattr(column.type, "length", None)
            if isinstance(length, int):
                limits[column.name] = min(length, limits.get(column.name, length))
    return limits
