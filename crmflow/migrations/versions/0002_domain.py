"""Domain tables: customers, products, orders, changes, stock, capacity, plans, approvals."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_domain"
down_revision = "0001_engine"
branch_labels = ("domain",)
depends_on = None

# SQLite only auto-numbers an INTEGER PRIMARY KEY, PostgreSQL wants BIGINT.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=True),
        sa.Column("location", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("open_key", sa.String(length=300), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("shortage_date", sa.Date(), nullable=True),
        sa.Column("on_hand", sa.Float(), nullable=True),
        sa.Column("safety_stock", sa.Float(), nullable=True),
        sa.Column("instance_id", ID, nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("open_key", name="uq_alerts_open_key"),
    )
    op.create_index("ix_alerts_sku", "alerts", ["sku", "location", "status"], unique=False)
    op.create_table(
        "approvals",
        sa.Column("id", ID, nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("approver", sa.String(length=200), nullable=False),
        sa.Column("on_behalf_of", sa.String(length=200), nullable=True),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subject", "approver", name="uq_approvals_subject_approver"),
    )
    op.create_index("ix_approvals_subject", "approvals", ["subject"], unique=False)
    op.create_table(
        "capacity_days",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("line", sa.String(length=100), nullable=False),
        sa.Column("planned_hours", sa.Float(), nullable=False),
        sa.Column("worker_hours", sa.Float(), nullable=True),
        sa.Column("efficiency", sa.Float(), nullable=True),
        sa.Column("output", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("date", "line"),
    )
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("industry", sa.String(length=100), nullable=False),
        sa.Column("size", sa.String(length=50), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("segment", sa.String(length=100), nullable=True),
        sa.Column("value_tier", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_table(
        "delegations",
        sa.Column("id", ID, nullable=False),
        sa.Column("approver", sa.String(length=200), nullable=False),
        sa.Column("delegate", sa.String(length=200), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_delegations_approver", "delegations", ["approver", "start_date"], unique=False
    )
    op.create_table(
        "demand_changes",
        sa.Column("id", ID, nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("field", sa.String(length=30), nullable=False),
        sa.Column("old_value", sa.String(length=50), nullable=True),
        sa.Column("new_value", sa.String(length=50), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approval_state", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_demand_changes_line", "demand_changes", ["order_id", "sku", "id"], unique=False
    )
    op.create_index("ix_demand_changes_state", "demand_changes", ["approval_state"], unique=False)
    op.create_table(
        "inventory_positions",
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("location", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("on_hand", sa.Float(), nullable=False),
        sa.Column("allocated", sa.Float(), nullable=False),
        sa.Column("safety_stock", sa.Float(), nullable=True),
        sa.Column("reorder_point", sa.Float(), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("sku", "location"),
    )
    op.create_table(
        "inventory_snapshots",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("location", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("on_hand", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("date", "sku", "location"),
    )
    op.create_index(
        "ix_inventory_snapshots_sku",
        "inventory_snapshots",
        ["sku", "location", "date"],
        unique=False,
    )
    op.create_table(
        "kpi_snapshots",
        sa.Column("id", ID, nullable=False),
        sa.Column("kpi", sa.String(length=100), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(length=50), nullable=True),
        sa.Column("dimension_value", sa.String(length=200), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_kpi_snapshots_key", "kpi_snapshots", ["kpi", "period_start"], unique=False)
    op.create_table(
        "plan_adjustments",
        sa.Column("id", ID, nullable=False),
        sa.Column("plan_id", sa.String(length=100), nullable=True),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("line", sa.String(length=100), nullable=True),
        sa.Column("quantity_delta", sa.Float(), nullable=False),
        sa.Column("new_due_date", sa.Date(), nullable=True),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_plan_adjustments_status", "plan_adjustments", ["status"], unique=False)
    op.create_table(
        "production_lines",
        sa.Column("line", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("units_per_hour", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("line"),
    )
    op.create_table(
        "production_plans",
        sa.Column("plan_id", sa.String(length=100), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("line", sa.String(length=100), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("plan_id"),
    )
    op.create_index(
        "ix_production_plans_line", "production_plans", ["line", "start_date"], unique=False
    )
    op.create_index(
        "ix_production_plans_sku", "production_plans", ["sku", "due_date"], unique=False
    )
    op.create_table(
        "products",
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("family", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("unit_cost", sa.Float(), nullable=False),
        sa.Column("lead_time_days", sa.Integer(), nullable=False),
        sa.Column("lot_size", sa.Float(), nullable=False),
        sa.Column("safety_stock", sa.Float(), nullable=False),
        sa.Column("reorder_qty", sa.Float(), nullable=False),
        sa.Column("reorder_point", sa.Float(), nullable=True),
        sa.Column("line", sa.String(length=100), nullable=True),
        sa.Column("units_per_hour", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("sku"),
    )
    op.create_table(
        "purchase_requests",
        sa.Column("id", ID, nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("location", sa.String(length=100), nullable=True),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("need_date", sa.Date(), nullable=True),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("alert_id", ID, nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("po_id", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_purchase_requests_sku", "purchase_requests", ["sku", "status"], unique=False
    )
    op.create_table(
        "purchases",
        sa.Column("po_id", sa.String(length=100), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("supplier", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("order_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("received_date", sa.Date(), nullable=True),
        sa.Column("received_quantity", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("po_id", "sku"),
    )
    op.create_index("ix_purchases_sku", "purchases", ["sku", "due_date"], unique=False)
    op.create_table(
        "contacts",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.customer_id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_contacts_customer", "contacts", ["customer_id"], unique=False)
    op.create_table(
        "orders",
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("customer_id", sa.String(length=100), nullable=False),
        sa.Column("order_date", sa.Date(), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("sales_rep", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.customer_id"]),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_index("ix_orders_customer", "orders", ["customer_id", "order_date"], unique=False)
    op.create_index("ix_orders_date", "orders", ["order_date"], unique=False)
    op.create_table(
        "deliveries",
        sa.Column("delivery_id", sa.String(length=100), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("shipped_date", sa.Date(), nullable=True),
        sa.Column("delivered_date", sa.Date(), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.order_id"]),
        sa.PrimaryKeyConstraint("delivery_id"),
    )
    op.create_index("ix_deliveries_date", "deliveries", ["delivered_date"], unique=False)
    op.create_index("ix_deliveries_line", "deliveries", ["order_id", "sku"], unique=False)
    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit_price", sa.Float(), nullable=False),
        sa.Column("requested_date", sa.Date(), nullable=False),
        sa.Column("promised_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.order_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sku"], ["products.sku"]),
        sa.PrimaryKeyConstraint("order_id", "sku"),
    )
    op.create_index("ix_order_lines_sku", "order_lines", ["sku", "requested_date"], unique=False)


def downgrade() -> None:
    op.drop_table("order_lines")
    op.drop_table("deliveries")
    op.drop_table("orders")
    op.drop_table("contacts")
    op.drop_table("purchases")
    op.drop_table("purchase_requests")
    op.drop_table("products")
    op.drop_table("production_plans")
    op.drop_table("production_lines")
    op.drop_table("plan_adjustments")
    op.drop_table("kpi_snapshots")
    op.drop_table("inventory_snapshots")
    op.drop_table("inventory_positions")
    op.drop_table("demand_changes")
    op.drop_table("delegations")
    op.drop_table("customers")
    op.drop_table("capacity_days")
    op.drop_table("approvals")
    op.drop_table("alerts")
