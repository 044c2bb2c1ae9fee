"""Read and check the long-format CSV ``series_id,period,value`` of the forecast command."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from crmflow.errors import InputError

from .periods import PeriodFormat, detect_format, parse_period

__all__ = ["MIN_LENGTH", "LongInput", "SeriesInput", "read_long_csv"]

REQUIRED = ("series_id", "period", "value")
#: A series needs this many periods to be forecast at all.
MIN_LENGTH = 3


@dataclass
class SeriesInput:
    """One series: its id, family (optional column), grid positions and values."""

    series_id: str
    family: str | None
    start: int  # grid position of the first value
    values: np.ndarray
    filled: int = 0  # missing periods inside the history, filled with 0


@dataclass
class LongInput:
    """The series that can be forecast and one line per series that cannot."""

    series: list[SeriesInput]
    fmt: PeriodFormat
    problems: list[str] = field(default_factory=list)


@dataclass
class _Raw:
    family: str | None = None
    rows: list[tuple[int, str, int, float]] = field(default_factory=list)  # line, kind, ord, value
    problem: str | None = None


def read_long_csv(
    source: str | Path | TextIO, *, name: str | None = None, min_length: int = MIN_LENGTH
) -> LongInput:
    """Parse the file; a bad row rejects its series (one line) and the others go on.

    Raises :class:`~crmflow.errors.InputError` for a missing column or a
    file without a single usable series.
    """
    if isinstance(source, str | Path):
        label = name or str(source)
        try:
            text = Path(source).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise InputError(f"cannot read the input: {exc.strerror or exc}", file=label) from exc
        handle: TextIO = io.StringIO(text)
    else:
        label, handle = name or getattr(source, "name", "<stdin>"), source
    reader = csv.DictReader(handle)
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(
            f"missing column {', '.join(repr(c) for c in missing)}; the header must name "
            "series_id,period,value",
            file=label,
            line=1,
        )
    raws: dict[str, _Raw] = {}
    loose: list[str] = []
    for line, row in enumerate(reader, start=2):
        sid = (row.get("series_id") or "").strip()
        if not sid:
            loose.append(f"{label}:{line}: empty series_id; row skipped")
            continue
        raw = raws.setdefault(sid, _Raw())
        if raw.problem:
            continue
        raw.family = raw.family or (row.get("family") or "").strip() or None
        period, value = (row.get("period") or "").strip(), (row.get("value") or "").strip()
        try:
            kind, ordinal = parse_period(period)
        except ValueError as exc:
            raw.problem = f"{label}:{line}: series {sid!r}: period {period!r}: {exc}"
            continue
        try:
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
        except ValueError:
            raw.problem = f"{label}:{line}: series {sid!r}: value {value!r} is not a number"
            continue
        raw.rows.append((line, kind, ordinal, number))
    return _assemble(raws, label, min_length, loose)


def _assemble(raws: dict[str, _Raw], label: str, min_length: int, loose: list[str]) -> LongInput:
    problems = list(loose)
    kinds = Counter(kind for r in raws.values() if not r.problem for _, kind, _, _ in r.rows)
    if not kinds:
        lines = loose + [r.problem for r in raws.values() if r.problem]
        raise InputError("no series to forecast" + ("".join("\n" + p for p in lines)), file=label)
    main_kind = kinds.most_common(1)[0][0]
    for sid, raw in raws.items():
        if raw.problem:
            continue
        for line, kind, _, _ in raw.rows:
            if kind != main_kind:
                raw.problem = (
                    f"{label}:{line}: series {sid!r}: period format differs from "
                    f"the rest of the file ({kind} instead of {main_kind})"
                )
                break
    good = {sid: r for sid, r in raws.items() if not r.problem}
    fmt = detect_format(main_kind, [[o for _, _, o, _ in r.rows] for r in good.values()])
    series: list[SeriesInput] = []
    for sid, raw in raws.items():
        if raw.problem:
            problems.append(raw.problem + "; series skipped")
            continue
        seen: dict[int, int] = {}
        positions: list[tuple[int, float]] = []
        for line, kind, ordinal, number in raw.rows:
            pos = fmt.ordinal(kind, ordinal)
            if pos in seen:
                raw.problem = (
                    f"{label}:{line}: series {sid!r}: duplicate period "
                    f"{fmt.label(pos)} (first on line {seen[pos]})"
                )
                break
            seen[pos] = line
            positions.append((pos, number))
        if not raw.problem:
            positions.sort()
            first = positions[0][0]
            offsets = [(p - first) for p, _ in positions]
            bad = next((o for o in offsets if o % fmt.step), None)
            if bad is not None:
                line = seen[first + bad]
                raw.problem = (
                    f"{label}:{line}: series {sid!r}: period {fmt.label(first + bad)} "
                    f"is off the series' step of {fmt.step}"
                )
            elif offsets[-1] // fmt.step + 1 < min_length:
                raw.problem = (
                    f"{label}:{raw.rows[-1][0]}: series {sid!r}: only "
                    f"{len(positions)} periods; at least {min_length} are needed"
                )
        if raw.problem:
            problems.append(raw.problem + "; series skipped")
            continue
        values = np.zeros(offsets[-1] // fmt.step + 1)
        for offset, (_, number) in zip(offsets, positions, strict=True):
            values[offset // fmt.step] = number
        series.append(SeriesInput(sid, raw.family, first, values, len(values) - len(positions)))
    return LongInput(series, fmt, problems)
