"""Reference checks of the demand-signal imports: known customer, known SKU or family."""

from __future__ import annotations

from typing import Any, Protocol

import sqlalchemy as sa

from ._parse import chunked
from .records import Customer, Product

__all__ = ["check_signal_rows"]

Rows = list[tuple[int, dict[str, Any]]]


class _Report(Protocol):
    rejected: list[tuple[int, str]]


def _known(conn: sa.Connection, column: sa.Column[Any], values: set[Any]) -> set[Any]:
    found: set[Any] = set()
    for batch in chunked(sorted(v for v in values if v)):
        found.update(conn.execute(sa.select(column).where(column.in_(batch))).scalars())
    return found


def check_signal_rows(conn: sa.Connection, rows: Rows, report: _Report) -> Rows:
    """Keep rows whose customer, SKU and family are known; a subject needs a SKU or family.

    Rows without ``customer_id`` (market indicators) pass through.
    """
    products = Product.__table__  # type: ignore[attr-defined]
    customers = _known(conn, Customer.__table__.c.customer_id,  # type: ignore[attr-defined]
                       {r.get("customer_id") for _, r in rows})  # fmt: skip
    skus = _known(conn, products.c.sku, {r.get("sku") for _, r in rows})
    families = _known(conn, products.c.family, {r.get("family") for _, r in rows})
    kept = []
    for line, row in rows:
        if "customer_id" not in row:
            kept.append((line, row))
            continue
        if row["customer_id"] not in customers:
            reason = f"customer_id: unknown customer {row['customer_id']!r}"
        elif not row.get("sku") and not row.get("family"):
            reason = "sku: give a sku or a family"
        elif row.get("sku") and row["sku"] not in skus:
            reason = f"sku: unknown sku {row['sku']!r}"
        elif row.get("family") and row["family"] not in families:
            reason = f"family: no product of family {row['family']!r}"
        else:
            kept.append((line, row))
            continue
        report.rejected.append((line, reason))
    return kept
