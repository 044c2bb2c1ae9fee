"""SQLModel tables of the CRM and S&OP records (see docs/domain.md)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

__all__ = [
    "Alert",
    "Approval",
    "CapacityDay",
    "Contact",
    "Customer",
    "Delegation",
    "Delivery",
    "DemandChange",
    "InventoryPosition",
    "InventorySnapshot",
    "KpiSnapshot",
    "Order",
    "OrderLine",
    "PlanAdjustment",
    "Product",
    "ProductionLine",
    "ProductionPlan",
    "Purchase",
    "PurchaseRequest",
    "DOMAIN_TABLES",
]

# SQLite only auto-numbers an INTEGER PRIMARY KEY, PostgreSQL wants BIGINT.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def _ts(nullable: bool = True) -> dt.datetime | None:
    """A timestamp column (aware UTC in, naive UTC back from SQLite)."""
    column: dt.datetime | None = Field(default=None, sa_type=TS, nullable=nullable)
    return column  # a Field stands in for the value, as in any SQLModel class body


class Customer(SQLModel, table=True):
    """A customer account with its segmentation."""

    __tablename__ = "customers"

    customer_id: str = Field(primary_key=True, max_length=100)
    name: str = Field(max_length=200)
    industry: str = Field(max_length=100)
    size: str = Field(max_length=50)
    region: str = Field(max_length=100)
    segment: str | None = Field(default=None, max_length=100)
    value_tier: str | None = Field(default=None, max_length=20)
    created_at: dt.datetime | None = _ts()
    updated_at: dt.datetime | None = _ts()
    updated_by: str | None = Field(default=None, max_length=200)


class Contact(SQLModel, table=True):
    """A person at a customer."""

    __tablename__ = "contacts"
    __table_args__ = (sa.Index("ix_contacts_customer", "customer_id"),)

    id: int | None = Field(default=None, sa_type=ID, primary_key=True)
    customer_id: str = Field(foreign_key="customers.customer_id", max_length=100)
    name: str = Field(max_length=200)
    role: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)
    updated_at: dt.datetime | None = _ts()
    updated_by: str | None = Field(default=None, max_length=200)


class Product(SQLModel, table=True):
    """A SKU: made on a production line or bought from a supplier."""

    __tablename__ = "products"

    sku: str = Field(primary_key=True, max_length=100)
    name: str = Field(max_length=200)
    family: str = Field(max_length=100)
    kind: str = Field(max_length=10)  # made | bought
    unit_cost: float
    lead_time_days: int = 14
    lot_size: float = 1.0
    safety_stock: float = 0.0
    reorder_qty: float = 0.0
    reorder_point: float | None = None
    line: str | None = Field(default=None, max_length=100)  # default line for made parts
    units_per_hour: float | None = None
    supplier: str | None = Field(default=None, max_length=200)  # default for purchase requests
    updated_at: dt.datetime | None = _ts()
    updated_by: str | None = Field(default=None, max_length=200)


class Order(SQLModel, table=True):
    """A sales order header; its lines are in ``order_lines``."""

    __tablename__ = "orders"
    __table_args__ = (
        sa.Index("ix_orders_customer", "customer_id", "order_date"),
        sa.Index("ix_orders_date", "order_date"),
    )

    order_id: str = Field(primary_key=True, max_length=100)
    customer_id: str = Field(foreign_key="customers.customer_id", max_length=100)
    order_date: dt.date
    priority: str = Field(default="normal", max_length=10)  # normal | rush
    sales_rep: str | None = Field(default=None, max_length=200)
    # draft confirmed scheduled in_production shipped delivered cancelled
    status: str = Field(default="confirmed", max_length=20)
    created_at: dt.datetime | None = _ts()
    updated_at: dt.datetime | None = _ts()
    updated_by: str | None = Field(default=None, max_length=200)


class OrderLine(SQLModel, table=True):
    """One SKU of a sales order, keyed by (order_id, sku); quantities are accepted values."""

    __tablename__ = "order_lines"
    __table_args__ = (sa.Index("ix_order_lines_sku", "sku", "requested_date"),)

    order_id: str = Field(
        primary_key=True, max_length=100, foreign_key="orders.order_id", ondelete="CASCADE"
    )
    sku: str = Field(primary_key=True, max_length=100, foreign_key="products.sku")
    quantity: float
    unit_price: float
    requested_date: dt.date
    promised_date: dt.date | None = None
    status: str = Field(default="open", max_length=20)  # open shipped delivered cancelled
    updated_at: dt.datetime | None = _ts()
    updated_by: str | None = Field(default=None, max_length=200)


class DemandChange(SQLModel, table=True):
    """One change of an order line's quantity or date: never edited, only decided."""

    __tablename__ = "demand_changes"
    __table_args__ = (
        sa.Index("ix_demand_changes_line", "order_id", "sku", "id"),
        sa.Index("ix_demand_changes_state", "approval_state"),
    )

    id: int | None = Field(default=None, sa_type=ID, primary_key=True)
    order_id: str = Field(max_length=100)
    sku: str = Field(max_length=100)
    field: str = Field(max_length=30)  # quantity | requested_date | promised_date
    old_value: str | None = Field(default=None, max_length=50)
    new_value: str = Field(max_length=50)
    reason: str = Field(max_length=100)
    changed_by: str = Field(max_length=200)
    changed_at: dt.datetime = Field(sa_type=TS)
    # auto_accepted | pending | approved | rejected | imported
    approval_state: str = Field(max_length=20)
    decided_by: str | None = Field(default=None, max_length=200)
    decided_at: dt.datetime | None = _ts()
    source: str = Field(default="user", max_length=50)  # user | import | connector


class Delivery(SQLModel, table=True):
    """A shipment of an order line and its delivery to the customer."""

    __tablename__ = "deliveries"
    __table_args__ = (
        sa.Index("ix_deliveries_line", "order_id", "sku"),
        sa.Index("ix_deliveries_date", "delivered_date"),
    )

    delivery_id: str = Field(primary_key=True, max_length=100)
    order_id: str = Field(max_length=100, foreign_key="orders.order_id")
    sku: str = Field(max_length=100)
    shipped_date: dt.date | None = None
    delivered_date: dt.date
    quantity: float
    updated_at: dt.datetime | None = _ts()
    updated_by: str | None = Field(default=None, max_length=200)


class InventorySnapshot(SQLModel, table=True):
    """Stock counted on a date at a location (import key: date + sku + location)."""

    __tablename__ = "inventory_snapshots"
    __table_args__ = (sa.Index("ix_inventory_snapshots_sku", "sku", "location", "date"),)

    date: dt.date = Field(primary_key=True)
    sku: str = Field(primary_key=True, max_length=100)
    location: str = Field(primary_key=True, max_length=100)
    kind: str = Field(default="finished", max_length=10)  # raw | wip | finished
    on_hand: float
    updated_at: dt.datetime | None = _ts()
    updated_by: str | None = Field(default=None, max_length=200)


class InventoryPosition(SQLModel, table=True):
    """The current position of a SKU at a location (the latest snapshot or event)."""

    __tablename__ = "inventory_positions"

    sku: str = Field(primary_key=True, max_length=100)
    location: str = Field(primary_key=True, max_length=100)
    kind: str = Field(default="finished", max_length=10)
    on_hand: float = 0.0
    allocated: float = 0.0
    safety_stock: float | None = None  # None: the product's safety stock
    reorder_point: float | None = None
    as_of: dt.date | None = None
    updated_at: dt.datetime | None = _ts()
    updated_by: str | None = Field(default=None, max_length=200)


class ProductionLine(SQLModel, table=True):
    """A production line (capacity is per line and day in ``capacity_days``)."""

    __tablename__ = "production_lines"

    line: str = Field(primary_key=True, max_length=100)
    name: str | None = Field(default=None, max_length=200)
    units_per_hour: float = 10.0


class CapacityDay(SQLModel, table=True):
    """Capacity and output of one line on one day."""

    __tablename__ = "capacity_days"

    date: dt.date = Field(primary_key=True)
    line: str = Field(primary_key=True, max_length=100)
    planned_hours: float
    worker_hours: float | None = None
    efficiency: float | None = None  # 0..1 (OEE-style)
    output: float | None = None
    updated_at: dt.datetime | None = _ts()
    updated_by: str | None = Field(default=None, max_length=200)


class ProductionPlan(SQLModel, table=True):
    """A planned production order of a SKU on a line."""

    __tablename__ = "production_plans"
    __table_args__ = (
        sa.Index("ix_production_plans_sku", "sku", "due_date"),
        sa.Index("ix_production_plans_line", "line", "start_date"),
    )

    plan_id: str = Field(primary_key=True, max_length=100)
    sku: str = Field(max_length=100)
    line: str = Field(max_length=100)
    start_date: dt.date
    due_date: dt.date
    quantity: float
    status: str = Field(default="planned", max_length=20)  # planned released done cancelled
    order_id: str | None = Field(default=None, max_length=100)
    updated_at: dt.datetime | None = _ts()
    updated_by: str | None = Field(default=None, max_length=200)


class PlanAdjustment(SQLModel, table=True):
    """A proposed or applied change of the production plan."""

    __tablename__ = "plan_adjustments"
    __table_args__ = (sa.Index("ix_plan_adjustments_status", "status"),)

    id: int | None = Field(default=None, sa_type=ID, primary_key=True)
    plan_id: str | None = Field(default=None, max_length=100)
    sku: str = Field(max_length=100)
    line: str | None = Field(default=None, max_length=100)
    quantity_delta: float = 0.0
    new_due_date: dt.date | None = None
    amount: float = 0.0  # value of the change at unit cost, for the approval chain
    reason: str = Field(max_length=200)
    source: str | None = Field(default=None, max_length=100)  # e.g. demand_change:12, alert:3
    status: str = Field(default="proposed", max_length=20)  # proposed approved applied rejected
    requested_by: str = Field(max_length=200)
    created_at: dt.datetime = Field(sa_type=TS)
    decided_by: str | None = Field(default=None, max_length=200)
    decided_at: dt.datetime | None = _ts()
    applied_at: dt.datetime | None = _ts()


class Purchase(SQLModel, table=True):
    """A supplier order line (import key: po_id + sku)."""

    __tablename__ = "purchases"
    __table_args__ = (sa.Index("ix_purchases_sku", "sku", "due_date"),)

    po_id: str = Field(primary_key=True, max_length=100)
    sku: str = Field(primary_key=True, max_length=100)
    supplier: str = Field(max_length=200)
    quantity: float
    order_date: dt.date
    due_date: dt.date
    received_date: dt.date | None = None
    received_quantity: float | None = None
    advised_quantity: float | None = None  # from the supplier's despatch advice (EDI)
    advised_date: dt.date | None = None
    updated_at: dt.datetime | None = _ts()
    updated_by: str | None = Field(default=None, max_length=200)


class PurchaseRequest(SQLModel, table=True):
    """A request to buy a part, proposed by an alert or a person, before it is a PO."""

    __tablename__ = "purchase_requests"
    __table_args__ = (sa.Index("ix_purchase_requests_sku", "sku", "status"),)

    id: int | None = Field(default=None, sa_type=ID, primary_key=True)
    sku: str = Field(max_length=100)
    location: str | None = Field(default=None, max_length=100)
    quantity: float
    need_date: dt.date | None = None
    amount: float = 0.0
    reason: str = Field(max_length=200)
    alert_id: int | None = Field(default=None, sa_type=ID)
    status: str = Field(default="proposed", max_length=20)  # proposed approved rejected ordered
    requested_by: str = Field(max_length=200)
    created_at: dt.datetime = Field(sa_type=TS)
    decided_by: str | None = Field(default=None, max_length=200)
    decided_at: dt.datetime | None = _ts()
    po_id: str | None = Field(default=None, max_length=100)


class Alert(SQLModel, table=True):
    """A raised condition (e.g. projected shortage); one open alert per key."""

    __tablename__ = "alerts"
    __table_args__ = (
        # open_key is set while open and cleared on close: at most one open alert per key.
        sa.UniqueConstraint("open_key", name="uq_alerts_open_key"),
        sa.Index("ix_alerts_sku", "sku", "location", "status"),
    )

    id: int | None = Field(default=None, sa_type=ID, primary_key=True)
    kind: str = Field(max_length=50)  # inventory_shortage
    sku: str | None = Field(default=None, max_length=100)
    location: str | None = Field(default=None, max_length=100)
    status: str = Field(default="open", max_length=20)  # open closed
    open_key: str | None = Field(default=None, max_length=300)
    message: str = Field(sa_type=sa.Text)
    shortage_date: dt.date | None = None
    on_hand: float | None = None
    safety_stock: float | None = None
    instance_id: int | None = Field(default=None, sa_type=ID)
    opened_at: dt.datetime = Field(sa_type=TS)
    closed_at: dt.datetime | None = _ts()
    closed_by: str | None = Field(default=None, max_length=200)


class Approval(SQLModel, table=True):
    """One approver's decision on a subject (purchase request, plan adjustment, …)."""

    __tablename__ = "approvals"
    __table_args__ = (
        sa.UniqueConstraint("subject", "approver", name="uq_approvals_subject_approver"),
        sa.Index("ix_approvals_subject", "subject"),
    )

    id: int | None = Field(default=None, sa_type=ID, primary_key=True)
    subject: str = Field(max_length=200)  # e.g. plan_adjustment:3, purchase_request:7
    approver: str = Field(max_length=200)  # who decided
    on_behalf_of: str | None = Field(default=None, max_length=200)  # delegation
    decision: str = Field(max_length=20)  # approved | rejected
    comment: str | None = Field(default=None, sa_type=sa.Text)
    decided_at: dt.datetime = Field(sa_type=TS)


class Delegation(SQLModel, table=True):
    """An approver away from ``start`` to ``end`` hands approvals to a delegate."""

    __tablename__ = "delegations"
    __table_args__ = (sa.Index("ix_delegations_approver", "approver", "start_date"),)

    id: int | None = Field(default=None, sa_type=ID, primary_key=True)
    approver: str = Field(max_length=200)
    delegate: str = Field(max_length=200)
    start_date: dt.date
    end_date: dt.date
    created_by: str = Field(max_length=200)
    created_at: dt.datetime = Field(sa_type=TS)
    reason: str | None = Field(default=None, sa_type=sa.Text)  # migration 0110_language


class KpiSnapshot(SQLModel, table=True):
    """A KPI value computed for a period and an optional breakdown."""

    __tablename__ = "kpi_snapshots"
    __table_args__ = (sa.Index("ix_kpi_snapshots_key", "kpi", "period_start"),)

    id: int | None = Field(default=None, sa_type=ID, primary_key=True)
    kpi: str = Field(max_length=100)
    period_start: dt.date
    period_end: dt.date
    dimension: str | None = Field(default=None, max_length=50)
    dimension_value: str | None = Field(default=None, max_length=200)
    value: float | None = None
    computed_at: dt.datetime = Field(sa_type=TS)


DOMAIN_TABLES = [
    cls.__table__  # type: ignore[union-attr]  # sqlmodel: table models get it at class creation
    for cls in (
        Customer,
        Contact,
        Product,
        Order,
        OrderLine,
        DemandChange,
        Delivery,
        InventorySnapshot,
        InventoryPosition,
        ProductionLine,
        CapacityDay,
        ProductionPlan,
        PlanAdjustment,
        Purchase,
        PurchaseRequest,
        Alert,
        Approval,
        Delegation,
        KpiSnapshot,
    )
]
