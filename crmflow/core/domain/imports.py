"""`crmflow import KIND FILE.csv`: validate rows, upsert by key, emit what changed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.errors import InputError

from ._csvread import column_limits, open_csv, read_csv_rows
from ._events import Event
from ._kinds import KINDS, Kind
from ._parse import chunked, iso
from ._signal_checks import check_signal_rows
from ._writers import WRITERS as _WRITERS
from .import_report import ImportReport
from .records import Customer, Delivery, Order, OrderLine, Product
from .writer import deliver_pending, domain_write

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = ["IMPORT_KINDS", "ImportReport", "import_csv", "import_records", "import_rows"]

IMPORT_KINDS = tuple(KINDS)

Rows = list[tuple[int, dict[str, Any]]]


def import_csv(
    engine: Engine, kind: str, path: str | Path, *, actor: str, emit: bool = True,
    encoding: str | None = None,
) -> ImportReport:  # fmt: skip
    """Load ``path`` as import ``kind``; bad rows are rejected, good rows upserted.

    A missing required column raises :class:`InputError` before anything is
    written. All good rows and the domain events for what changed are written
    in one transaction (see :mod:`crmflow.core.domain.writer`); the events are
    delivered after it commits, together with any an earlier, interrupted
    writer left pending. ``emit=False`` writes no events, e.g. for loading
    history that must not start workflows.
    """
    spec = KINDS.get(kind)
    if spec is None:
        raise InputError(
            f"unknown import kind {kind!r}; use one of {', '.join(KINDS)}", field="kind"
        )
    report = ImportReport(kind=kind, file=str(path))
    rows = _read(spec, Path(path), report, encoding)
    now = engine.now()
    stamp = {"updated_at": now, "updated_by": actor}
    with domain_write(engine, actor=actor, deliver=False) as unit:
        rows = _CHECKS[kind](unit.conn, rows, report)
        events = _WRITERS[kind](unit.conn, spec, rows, report, stamp, actor)
        if emit:
            unit.extend(events)
    report.rejected.sort()
    if emit:
        # In inbox order: what an interrupted earlier import left first, then ours.
        report.events = len(unit.keys)
        report.events_failed = deliver_pending(engine).failed
    return report



def import_records(
    engine: Engine,
    kind: str,
    records: Iterable[dict[str, Any]],
    *,
    actor: str,
    source: str = "records",
    reason: str = "import",
    emit: bool = True,
    in_transaction: Callable[[sa.Connection, list[Event]], None] | None = None,
    blank: Iterable[str] = (),
) -> ImportReport:
    """Load already-read records (a connector's page) exactly as :func:`import_csv` loads rows.

    Each record is a mapping of the kind's columns; it is parsed and checked
    like a CSV row (position ``n`` in ``records`` stands for the line number),
    upserted by key and its domain events built by the same writers; demand
    changes are kept with ``reason``. Required columns named in ``blank`` may
    be missing (the source system lacks them) and are stored empty.
    ``in_transaction(conn, events)`` runs in the writing transaction, e.g. to
    queue the events under the connector's own keys or to advance its cursor
    with the rows it produced. With ``emit`` the events are written to the
    inbox in that transaction too (:func:`~crmflow.core.domain.writer.domain_write`)
    and delivered after the commit.
    """
    spec = KINDS.get(kind)
    if spec is None:
        raise InputError(
            f"unknown import kind {kind!r}; use one of {', '.join(KINDS)}", field="kind"
        )
    report = ImportReport(kind=kind, file=source, reason=reason)
    limits = _limits(spec)
    rows: Rows = []
    seen: set[tuple[Any, ...]] = set()
    empty = {c: "" for c in blank if c in spec.required and c not in spec.key}
    for line, raw in enumerate(records, start=1):
        try:
            missing = [c for c in spec.required if raw.get(c) in (None, "") and c not in empty]
            if missing:
                raise InputError(f"missing required field(s) {', '.join(missing)}")
            values = {
                col.name: col.parse(col.name, raw[col.name])
                for col in spec.columns
                if raw.get(col.name) not in (None, "")
            }
            for name, value in values.items():
                if isinstance(value, str) and name in limits and len(value) > limits[name]:
                    raise InputError(
                        f"is {len(value)} characters long; at most {limits[name]}", field=name
                    )
            values.update({c: v for c, v in empty.items() if c not in values})
        except InputError as exc:
            report.rejected.append((line, str(exc)))
            continue
        key = tuple(values[k] for k in spec.key)
        if key in seen:
            report.rejected.append((line, f"duplicate key {_fmt(key)}"))
            continue
        seen.add(key)
        rows.append((line, values))
    now = engine.now()
    stamp = {"updated_at": now, "updated_by": actor}
    with domain_write(engine, actor=actor, deliver=False) as unit:
        rows = _CHECKS[kind](unit.conn, rows, report)
        events = _WRITERS[kind](unit.conn, spec, rows, report, stamp, actor)
        if in_transaction is not None:
            in_transaction(unit.conn, events)
        if emit:
            unit.extend(events)
    report.rejected.sort()
    report.events = len(events)
    if emit:
        report.events_failed = deliver_pending(engine).failed
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


def _read(spec: Kind, path: Path, report: ImportReport, encoding: str | None) -> Rows:
    header, reader = read_csv_rows(path, open_csv(path, encoding))
    missing = [c for c in spec.required if c not in header]
    if missing:
        raise InputError(
            f"missing required column(s) {', '.join(missing)} for {spec.name} "
            f"(required: {', '.join(spec.required)}); nothing was imported",
            file=str(path),
            line=1,
        )
    unknown = [h for h in header if h and h not in {c.name for c in spec.columns}]
    if unknown:
        report.warnings.append((1, f"column(s) {', '.join(unknown)} are not read by "
                                   f"{spec.name} imports and were ignored"))  # fmt: skip
    limits = _limits(spec)
    present = [c for c in spec.columns if c.name in header]
    rows: Rows = []
    seen: dict[tuple[Any, ...], int] = {}
    for raw in reader:
        line = raw.line
        if raw.problem:
            report.rejected.append((line, raw.problem))
            continue
        try:
            values: dict[str, Any] = {}
            for col in present:
                cell = raw.cells.get(col.name)
                if not col.required and (cell is None or not str(cell).strip()):
                    continue
                value = col.parse(col.name, cell)
                if isinstance(value, str) and col.name in limits and len(value) > limits[col.name]:
                    raise InputError(
                        f"is {len(value)} characters long; at most {limits[col.name]}",
                        field=col.name,
                    )
                values[col.name] = value
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


def _limits(spec: Kind) -> dict[str, int]:
    tables = [spec.table]
    if spec.name == "orders":
        tables.append(Order.__table__)  # type: ignore[attr-defined]
    return column_limits(*tables)


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
        early = [
            f for f in ("requested_date", "promised_date")
            if row.get(f) is not None and row[f] < row["order_date"]
        ]  # fmt: skip
        if early and not clash:
            report.rejected.append(
                (line, f"{early[0]}: {iso(row[early[0]])} is before the order date "
                       f"{iso(row['order_date'])}")
            )  # fmt: skip
        elif clash:
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


#: Delivered (or received) beyond the ordered quantity is a warning (lot overruns happen, and
#: every delivered unit counts in the KPIs); beyond this many times the order it is a typo
#: (5,000 delivered against 5 ordered) and the row is rejected.
OVER_DELIVERY_FACTOR = 10


def _check_deliveries(conn: sa.Connection, rows: Rows, report: ImportReport) -> Rows:
    lines_t = OrderLine.__table__  # type: ignore[attr-defined]
    orders_t = Order.__table__  # type: ignore[attr-defined]
    deliveries_t = Delivery.__table__  # type: ignore[attr-defined]
    known: dict[tuple[str, str], float] = {}
    order_dates: dict[str, Any] = {}
    delivered: dict[tuple[str, str], float] = {}
    in_file = {r["delivery_id"] for _, r in rows}
    for batch in chunked(sorted({r["order_id"] for _, r in rows})):
        q = sa.select(lines_t.c.order_id, lines_t.c.sku, lines_t.c.quantity).where(
            lines_t.c.order_id.in_(batch)
        )
        known.update({(o, s): float(qty) for o, s, qty in conn.execute(q)})
        q = sa.select(orders_t.c.order_id, orders_t.c.order_date).where(
            orders_t.c.order_id.in_(batch)
        )
        order_dates.update({k: v for k, v in conn.execute(q)})
        q = sa.select(
            deliveries_t.c.order_id, deliveries_t.c.sku, deliveries_t.c.delivery_id,
            deliveries_t.c.quantity,
        ).where(deliveries_t.c.order_id.in_(batch))  # fmt: skip
        for o, sku, delivery_id, qty in conn.execute(q):
            if delivery_id not in in_file:  # a re-import replaces, it does not add
                delivered[(o, sku)] = delivered.get((o, sku), 0.0) + float(qty)
    kept = []
    for line, row in rows:
        pair = (row["order_id"], row["sku"])
        ordered_on = order_dates.get(row["order_id"])
        if pair[0] not in order_dates:
            report.rejected.append((line, f"order_id: unknown order {row['order_id']!r}"))
        elif pair not in known:
            report.rejected.append(
                (line, f"sku: order {row['order_id']} has no line for sku {row['sku']!r}")
            )
        elif ordered_on is not None and row["delivered_date"] < ordered_on:
            report.rejected.append(
                (line, f"delivered_date: {iso(row['delivered_date'])} is before the order "
                       f"date {iso(ordered_on)}")
            )  # fmt: skip
        elif (total := delivered.get(pair, 0.0) + row["quantity"]) > known[pair] * (
            OVER_DELIVERY_FACTOR
        ):
            report.rejected.append(
                (line, f"quantity: {total:g} delivered in all against {known[pair]:g} ordered "
                       f"for {pair[0]}/{pair[1]} (more than {OVER_DELIVERY_FACTOR}× the order)")
            )  # fmt: skip
        else:
            if total > known[pair] + 1e-9:
                report.warnings.append(
                    (line, f"quantity: {total:g} delivered in all against {known[pair]:g} "
                           f"ordered for {pair[0]}/{pair[1]} (over-delivery)")
                )  # fmt: skip
            delivered[pair] = total
            kept.append((line, row))
    return kept


def _check_production(conn: sa.Connection, rows: Rows, report: ImportReport) -> Rows:
    products = Product.__table__  # type: ignore[attr-defined]
    kinds: dict[str, str] = {}
    for batch in chunked(sorted({r["sku"] for _, r in rows})):
        q = sa.select(products.c.sku, products.c.kind).where(products.c.sku.in_(batch))
        kinds.update({k: v for k, v in conn.execute(q)})
    kept = []
    for line, row in _check_dates("start_date", "due_date")(conn, rows, report):
        if kinds.get(row["sku"]) == "bought":
            report.rejected.append(
                (line, f"sku: {row['sku']} is a bought part; plan its purchase, not production")
            )
        else:
            kept.append((line, row))
    return kept


def _check_purchases(conn: sa.Connection, rows: Rows, report: ImportReport) -> Rows:
    kept = []
    for line, row in _check_dates("order_date", "due_date")(conn, rows, report):
        received = row.get("received_date")
        if received is not None and received < row["order_date"]:
            report.rejected.append((line, "received_date: is before order_date"))
        elif row.get("received_quantity", 0) > row["quantity"] * OVER_DELIVERY_FACTOR:
            report.rejected.append(
                (line, f"received_quantity: {row['received_quantity']:g} is more than "
                       f"{OVER_DELIVERY_FACTOR}× the {row['quantity']:g} ordered")
            )  # fmt: skip
        else:
            if row.get("received_quantity", 0) > row["quantity"]:
                report.warnings.append(
                    (line, f"received_quantity: {row['received_quantity']:g} is more than the "
                           f"{row['quantity']:g} ordered")
                )  # fmt: skip
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
    "production": _check_production,
    "purchases": _check_purchases,
    "opportunities": check_signal_rows,
    "market_indicators": check_signal_rows,
    "feedback": check_signal_rows,
}
