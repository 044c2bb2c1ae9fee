"""The import kinds of architecture.md: columns, parsers, keys and target tables."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import SQLModel

from ._parse import Parser, as_date, as_enum, as_int, as_number, as_text
from .records import (
    CapacityDay,
    Customer,
    Delivery,
    InventorySnapshot,
    OrderLine,
    Product,
    ProductionPlan,
    Purchase,
)
from .signal_records import CustomerFeedback, MarketIndicator, Opportunity

__all__ = ["KINDS", "Column", "Kind"]


@dataclass(frozen=True)
class Column:
    """One CSV column: its parser and whether the file must have it."""

    name: str
    parse: Parser
    required: bool = True


@dataclass(frozen=True)
class Kind:
    """An import kind: its columns, the key that upserts, and the table written."""

    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    model: type[SQLModel]

    @property
    def table(self) -> sa.Table:
        return self.model.__table__  # type: ignore[attr-defined,no-any-return]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


def _opt(name: str, parse: Parser) -> Column:
    return Column(name, parse, required=False)


_qty = as_number(positive=True)
_nonneg = as_number(minimum=0)


def _blank_or_text(field: str, raw: object) -> str:
    """A stripped string; an empty cell is ``''`` (a key column that may be left blank)."""
    return "" if raw is None else str(raw).strip()

KINDS: dict[str, Kind] = {
    "customers": Kind(
        "customers",
        ("customer_id",),
        (
            Column("customer_id", as_text),
            Column("name", as_text),
            Column("industry", as_text),
            Column("size", as_text),
            Column("region", as_text),
            _opt("segment", as_text),
            _opt("value_tier", as_text),
        ),
        Customer,
    ),
    "products": Kind(
        "products",
        ("sku",),
        (
            Column("sku", as_text),
            Column("name", as_text),
            Column("family", as_text),
            Column("kind", as_enum("made", "bought")),
            Column("unit_cost", _nonneg),
            _opt("lead_time_days", as_int(minimum=0)),
            _opt("lot_size", as_number(positive=True)),
            _opt("safety_stock", _nonneg),
            _opt("reorder_qty", _nonneg),
            _opt("reorder_point", _nonneg),
            _opt("line", as_text),
            _opt("units_per_hour", as_number(positive=True)),
            _opt("supplier", as_text),
        ),
        Product,
    ),
    "orders": Kind(
        "orders",
        ("order_id", "sku"),
        (
            Column("order_id", as_text),
            Column("customer_id", as_text),
            Column("order_date", as_date),
            Column("sku", as_text),
            Column("quantity", _qty),
            Column("unit_price", _nonneg),
            Column("requested_date", as_date),
            _opt("promised_date", as_date),
            _opt("priority", as_enum("normal", "rush")),
            _opt("sales_rep", as_text),
            _opt("status", as_enum("open", "shipped", "delivered", "cancelled")),
        ),
        OrderLine,
    ),
    "deliveries": Kind(
        "deliveries",
        ("delivery_id",),
        (
            Column("delivery_id", as_text),
            Column("order_id", as_text),
            Column("sku", as_text),
            Column("delivered_date", as_date),
            Column("quantity", _qty),
            _opt("shipped_date", as_date),
        ),
        Delivery,
    ),
    "inventory": Kind(
        "inventory",
        ("date", "sku", "location"),
        (
            Column("date", as_date),
            Column("sku", as_text),
            Column("location", as_text),
            Column("on_hand", _nonneg),
            _opt("kind", as_enum("raw", "wip", "finished")),
        ),
        InventorySnapshot,
    ),
    "capacity": Kind(
        "capacity",
        ("date", "line"),
        (
            Column("date", as_date),
            Column("line", as_text),
            Column("planned_hours", as_number(minimum=0, maximum=24)),
            _opt("worker_hours", _nonneg),
            _opt("efficiency", as_number(minimum=0, maximum=1)),
            _opt("output", _nonneg),
        ),
        CapacityDay,
    ),
    "production": Kind(
        "production",
        ("plan_id",),
        (
            Column("plan_id", as_text),
            Column("sku", as_text),
            Column("line", as_text),
            Column("start_date", as_date),
            Column("due_date", as_date),
            Column("quantity", _qty),
            _opt("status", as_enum("planned", "released", "done", "cancelled")),
        ),
        ProductionPlan,
    ),
    "purchases": Kind(
        "purchases",
        ("po_id", "sku"),
        (
            Column("po_id", as_text),
            Column("supplier", as_text),
            Column("sku", as_text),
            Column("quantity", _qty),
            Column("order_date", as_date),
            Column("due_date", as_date),
            _opt("received_date", as_date),
            _opt("received_quantity", _nonneg),
        ),
        Purchase,
    ),
    # demand signals beside the order history (forecast-run uses them as regressors)
    "opportunities": Kind(
        "opportunities",
        ("opportunity_id",),
        (
            Column("opportunity_id", as_text),
            Column("customer_id", as_text),
            _opt("sku", as_text),
            _opt("family", as_text),
            Column("quantity", _qty),
            Column("expected_date", as_date),
            Column("probability", as_number(minimum=0, maximum=1)),
            Column("stage", as_text),
        ),
        Opportunity,
    ),
    "market_indicators": Kind(
        "market_indicators",
        ("date", "name"),
        (Column("date", as_date), Column("name", as_text), Column("value", as_number())),
        MarketIndicator,
    ),
    "feedback": Kind(
        "feedback",
        ("date", "customer_id", "sku", "family"),
        (
            Column("date", as_date),
            Column("customer_id", as_text),
            Column("sku", _blank_or_text),  # one of sku and family names the subject
            Column("family", _blank_or_text),
            Column("signal", as_enum("up", "down", "new", "lost")),
            _opt("quantity", _nonneg),
            _opt("note", as_text),
        ),
        CustomerFeedback,
    ),
}
