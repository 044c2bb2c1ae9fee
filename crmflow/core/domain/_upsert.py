"""Set-based upsert: fetch existing rows by key in chunks, insert and update in batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from ._parse import chunked

__all__ = ["UpsertResult", "fetch_existing", "model_defaults", "upsert_rows"]

Key = tuple[Any, ...]


@dataclass
class UpsertResult:
    """What an upsert did, with the old values of every changed row."""

    added: list[dict[str, Any]] = field(default_factory=list)
    updated: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)  # old, new
    unchanged: int = 0


def fetch_existing(
    conn: sa.Connection, table: sa.Table, key_cols: list[str], keys: list[Key]
) -> dict[Key, dict[str, Any]]:
    """Existing rows by key, fetched with ``IN`` lists on the first key column."""
    first = table.c[key_cols[0]]
    wanted = set(keys)
    found: dict[Key, dict[str, Any]] = {}
    for batch in chunked(sorted({k[0] for k in keys}), 500):
        for row in conn.execute(sa.select(table).where(first.in_(batch))).mappings():
            key = tuple(row[c] for c in key_cols)
            if key in wanted:
                found[key] = dict(row)
    return found


def model_defaults(model: type[SQLModel]) -> dict[str, Any]:
    """Python-side defaults of a model's fields, for Core inserts (which skip them)."""
    defaults = {}
    for name, info in model.model_fields.items():
        # An autoincrement id must stay out of the INSERT (PostgreSQL refuses an explicit NULL).
        if name != "id" and not info.is_required() and info.default_factory is None:
            defaults[name] = info.default
    return defaults


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, float | int) and isinstance(new, float | int):
        return abs(float(old) - float(new)) <= 1e-9 * max(1.0, abs(float(old)))
    return bool(old == new)


def upsert_rows(
    conn: sa.Connection,
    table: sa.Table,
    key_cols: list[str],
    rows: list[dict[str, Any]],
    *,
    compare: list[str],
    stamp: dict[str, Any] | None = None,
    on_insert: dict[str, Any] | None = None,
) -> UpsertResult:
    """Insert new keys, update rows whose ``compare`` columns differ, count the rest.

    ``stamp`` (e.g. updated_at/updated_by) is written with every insert and
    update but never compared, so a second identical import changes nothing.
    ``on_insert`` holds defaults only new rows get (e.g. a status).
    """
    stamp = stamp or {}
    result = UpsertResult()
    existing = fetch_existing(conn, table, key_cols, [tuple(r[c] for c in key_cols) for r in rows])
    inserts: list[dict[str, Any]] = []
    new_rows: list[dict[str, Any]] = []
    updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}

    def compare_with(old: dict[str, Any], row: dict[str, Any]) -> None:
        changed = [c for c in compare if c in row and not _same(old.get(c), row[c])]
        if not changed:
            result.unchanged += 1
            return
        result.updated.append((old, row))
        cols = tuple(c for c in compare if c in row)
        params = {f"k_{c}": row[c] for c in key_cols}
        params.update({c: row[c] for c in cols})
        params.update(stamp)
        updates.setdefault(cols, []).append(params)

    for row in rows:
        old = existing.get(tuple(row[c] for c in key_cols))
        if old is None:
            inserts.append({**(on_insert or {}), **row, **stamp})
            new_rows.append(row)
        else:
            compare_with(old, row)
    if inserts:
        # Rows that leave an optional column empty insert without it (its default): one
        # batch per set of columns, as a batch needs the same columns in every row.
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for values in inserts:
            by_columns.setdefault(tuple(sorted(values)), []).append(values)
        taken: set[tuple[Any, ...]] = set()
        for batch in by_columns.values():
            taken |= set(_insert_new(conn, table, key_cols, batch))
        lost = [r for r in new_rows if tuple(r[c] for c in key_cols) not in taken]
        result.added.extend(r for r in new_rows if tuple(r[c] for c in key_cols) in taken)
        if lost:  # inserted meanwhile by a concurrent import: compare with what it wrote
            found = fetch_existing(
                conn, table, key_cols, [tuple(r[c] for c in key_cols) for r in lost]
            )
            for row in lost:
                compare_with(found.get(tuple(row[c] for c in key_cols)) or {}, row)
    for cols, params in updates.items():
        stmt = (
            table.update()
            .where(*(table.c[c] == sa.bindparam(f"k_{c}") for c in key_cols))
            .values({c: sa.bindparam(c) for c in (*cols, *stamp)})
        )
        conn.execute(stmt, params)
    return result


def _insert_new(
    conn: sa.Connection, table: sa.Table, key_cols: list[str], rows: list[dict[str, Any]]
) -> set[Key]:
    """Insert ``rows``; keys another transaction inserted first are skipped, not an error.

    Returns the keys this call inserted (``INSERT ... ON CONFLICT DO NOTHING RETURNING``
    on PostgreSQL and SQLite).
    """
    name = conn.dialect.name
    if name not in ("postgresql", "sqlite"):
        conn.execute(table.insert(), rows)
        return {tuple(r[c] for c in key_cols) for r in rows}
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if name == "postgresql" else sqlite.insert
    stmt = insert(table).on_conflict_do_nothing().returning(*(table.c[c] for c in key_cols))
    taken: set[Key] = set()
    for batch in chunked(rows, 500):
        taken.update(tuple(r) for r in conn.execute(stmt, batch).all())
    return taken
