"""`crmflow import KIND FILE.csv`: validate rows, upsert by key, emit what changed."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.errors import InputError

from ._events import Event, emit_all
from ._kinds import KINDS, Kind
from ._parse import chunked, iso
from ._writers import WRITERS as _WRITERS
from .records import Customer, OrderLine, Product

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = ["IMPORT_KINDS", "ImportReport", "import_csv", "import_rows"]

IMPORT_KINDS = tuple(KINDS)

Rows = list[tuple[int, dict[str, Any]]]


@dataclass
class ImportReport:
    """What one import did: counts, and each rejected row with its line and reason."""

    kind: str
    file: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    events: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [{"line": line, "reason": reason} for line, reason in self.rejected],
            "events": self.events,
        }


def import_csv(
    engine: Engine, kind: str, path: str | Path, *, actor: str, emit: bool = True
) -> ImportReport:
    """Load ``path`` as import ``kind``; bad rows are rejected, good rows upserted.

    A missing required column raises :class:`InputError` before anything is
    written. All good rows are written in one transaction; the domain events
    for what changed are emitted after it commits (``emit=False`` skips them,
    e.g. for loading history that must not start workflows).
    """
    spec = KINDS.get(kind)
    if spec is None:
        raise InputError(
            f"unknown import kind {kind!r}; use one of {', '.join(KINDS)}", field="kind"
        )
    report = ImportReport(kind=kind, file=str(path))
    rows = _read(spec, Path(path), report)
    now = engine.now()
    stamp = {"updated_at": now, "updated_by": actor}
    with engine.db.begin() as conn:
        rows = _CHECKS[kind](conn, rows, report)
        events = _WRITERS[kind](conn, spec, rows, report, stamp, actor)
    report.rejected.sort()
    if emit:
        emit_all(engine, events, actor=actor)
        report.events = len(events)
    return report


def import_rows(
    engine: Engine,
    kind: str,
    records: list[dict[str, Any]],
    *,
    actor: str,
    source: str = "records",
    conn: sa.Connection | None = None,
) -> tuple[ImportReport, list[Event]]:
    """Check and upsert records given as mappings (connectors), as :func:`import_csv` would.

    Values are parsed like CSV cells (strings from templates are fine), each
    record is line ``i + 1`` of ``source`` in the report. With ``conn`` the
    rows are written in the caller's transaction; the domain events are
    returned, not emitted: the caller emits them after its commit.
    """
    spec = KINDS.get(kind)
    if spec is None:
        raise InputError(f"unknown record kind {kind!r}", field="kind")
    report = ImportReport(kind=kind, file=source)
    rows: Rows = []
    for line, raw in enumerate(records, start=1):
        try:
            values: dict[str, Any] = {}
            for col in spec.columns:
                cell = raw.get(col.name)
                if cell is None or not str(cell).strip():
                    if col.required:
                        raise InputError("is required and missing", field=col.name)
                    continue
                values[col.name] = col.parse(col.name, cell)
        except InputError as exc:
            report.rejected.append((line, str(exc)))
            continue
        rows.append((line, values))
    stamp = {"updated_at": engine.now(), "updated_by": actor}
    if conn is None:
        with engine.db.begin() as own:
            events = _WRITERS[kind](own, spec, _CHECKS[kind](own, rows, report), report, stamp,
                                    actor)  # fmt: skip
    else:
        events = _WRITERS[kind](conn, spec, _CHECKS[kind](conn, rows, report), report, stamp, actor)
    report.rejected.sort()
    return report, events


def _read(spec: Kind, path: Path, report: ImportReport) -> Rows:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", file=str(path)) from None
    with handle:
        reader = csv.DictReader(handle)
        header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
        if not header:
            raise InputError("the file is empty; it needs a header row", file=str(path), line=1)
        missing = [c for c in spec.required if c not in header]
        if missing:
            raise InputError(
                f"missing required column(s) {', '.join(missing)} for {spec.name} "
                f"(required: {', '.join(spec.required)}); nothing was imported",
                file=str(path),
                line=1,
            )
        reader.fieldnames = header
        present = [c for c in spec.columns if c.name in header]
        rows: Rows = []
        seen: dict[tuple[Any, ...], int] = {}
        for raw in reader:
            line = reader.line_num
            try:
                values: dict[str, Any] = {}
                for col in present:
                    cell = raw.get(col.name)
                    if not col.required and (cell is None or not str(cell).strip()):
                        continue
                    values[col.name] = col.parse(col.name, cell)
            except InputError as exc:
                report.rejected.append((line, str(exc)))
                continue
            key = tuple(values[k] for k in spec.key)
            if key in seen:
                report.rejected.append(
                    (line, f"duplicate key {_fmt(key)} (first on line {seen[key]})")
                )
                continue
            seen[key] = line
            rows.append((line, values))
    return rows


def _fmt(key: tuple[Any, ...]) -> str:
    return " + ".join(str(iso(k)) for k in key)


# -- reference checks: reject rows naming unknown records --------------------------------


def _known(conn: sa.Connection, column: sa.Column[Any], values: set[Any]) -> set[Any]:
    found: set[Any] = set()
    for batch in chunked(sorted(values)):
        found.update(conn.execute(sa.select(column).where(column.in_(batch))).scalars())
    return found


def _require(rows: Rows, report: ImportReport, field_name: str, known: set[Any], what: str) -> Rows:
    kept = []
    for line, row in rows:
        if row[field_name] in known:
            kept.append((line, row))
        else:
            report.rejected.append((line, f"{field_name}: unknown {what} {row[field_name]!r}"))
    return kept


def _skus(conn: sa.Connection, rows: Rows) -> set[Any]:
    return _known(conn, Product.__table__.c.sku, {r["sku"] for _, r in rows})  # type: ignore[attr-defined]


def _check_none(conn: sa.Connection, rows: Rows, report: ImportReport) -> Rows:
    return rows


def _check_sku(conn: sa.Connection, rows: Rows, report: ImportReport) -> Rows:
    return _require(rows, report, "sku", _skus(conn, rows), "sku")


def _check_orders(conn: sa.Connection, rows: Rows, report: ImportReport) -> Rows:
    customers = _known(conn, Customer.__table__.c.customer_id, {r["customer_id"] for _, r in rows})  # type: ignore[attr-defined]
    rows = _require(rows, report, "customer_id", customers, "customer")
    rows = _require(rows, report, "sku", _skus(conn, rows), "sku")
    # The header fields repeat on every line of an order; they must agree.
    first: dict[str, tuple[int, dict[str, Any]]] = {}
    kept = []
    for line, row in rows:
        seen = first.setdefault(row["order_id"], (line, row))
        clash = [
            f
            for f in ("customer_id", "order_date", "priority", "sales_rep")
            if f in row and f in seen[1] and row[f] != seen[1][f]
        ]
        if clash:
            report.rejected.append(
                (
                    line,
                    f"{clash[0]}: order {row['order_id']} has {iso(seen[1][clash[0]])!r} "
                    f"on line {seen[0]} but {iso(row[clash[0]])!r} here",
                )
            )
        else:
            kept.append((line, row))
    return kept


def _check_deliveries(conn: sa.Connection, rows: Rows, report: ImportReport) -> Rows:
    lines_t = OrderLine.__table__  # type: ignore[attr-defined]
    known: set[tuple[str, str]] = set()
    for batch in chunked(sorted({r["order_id"] for _, r in rows})):
        q = sa.select(lines_t.c.order_id, lines_t.c.sku).where(lines_t.c.order_id.in_(batch))
        known.update((o, s) for o, s in conn.execute(q))
    orders = {o for o, _ in known}
    kept = []
    for line, row in rows:
        if row["order_id"] not in orders:
            report.rejected.append((line, f"order_id: unknown order {row['order_id']!r}"))
        elif (row["order_id"], row["sku"]) not in known:
            report.rejected.append(
                (line, f"sku: order {row['order_id']} has no line for sku {row['sku']!r}")
            )
        else:
            kept.append((line, row))
    return kept


def _check_dates(first: str, second: str) -> Callable[[sa.Connection, Rows, ImportReport], Rows]:
    def check(conn: sa.Connection, rows: Rows, report: ImportReport) -> Rows:
        kept = []
        for line, row in _check_sku(conn, rows, report):
            if row[second] < row[first]:
                report.rejected.append((line, f"{second}: is before {first}"))
            else:
                kept.append((line, row))
        return kept

    return check


_CHECKS: dict[str, Callable[[sa.Connection, Rows, ImportReport], Rows]] = {
    "customers": _check_none,
    "products": _check_none,  # products define SKUs
    "orders": _check_orders,
    "deliveries": _check_deliveries,
    "inventory": _check_sku,
    "capacity": _check_none,
    "production": _check_dates("start_date", "due_date"),
    "purchases": _check_dates("order_date", "due_date"),
}
