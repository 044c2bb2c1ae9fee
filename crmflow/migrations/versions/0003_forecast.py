"""Forecast tables: snapshots, per-SKU choices, values, accuracy, champions."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_forecast"
down_revision = "0001_engine"
branch_labels = ("forecast",)
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "forecast_snapshots",
        sa.Column("id", ID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("season", sa.Integer(), nullable=False),
        sa.Column("first_period", sa.Date(), nullable=False),
        sa.Column("models", sa.Text(), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_forecast_snapshots_created_at", "forecast_snapshots", ["created_at"], unique=False
    )
    op.create_table(
        "forecast_series",
        sa.Column("snapshot_id", ID, nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("model", sa.String(length=300), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("backtest_mase", sa.Float(), nullable=True),
        sa.Column("scale", sa.Float(), nullable=True),
        sa.Column("history_months", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["snapshot_id"], ["forecast_snapshots.id"]),
        sa.PrimaryKeyConstraint("snapshot_id", "sku"),
    )
    op.create_table(
        "forecast_values",
        sa.Column("snapshot_id", ID, nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("lag", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("model", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(["snapshot_id"], ["forecast_snapshots.id"]),
        sa.PrimaryKeyConstraint("snapshot_id", "sku", "period_start"),
    )
    op.create_index(
        "ix_forecast_values_sku_period", "forecast_values", ["sku", "period_start"], unique=False
    )
    op.create_table(
        "forecast_accuracy",
        sa.Column("snapshot_id", ID, nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("segment", sa.String(length=100), nullable=False),
        sa.Column("family", sa.String(length=100), nullable=True),
        sa.Column("lag", sa.Integer(), nullable=False),
        sa.Column("forecast", sa.Float(), nullable=False),
        sa.Column("actual", sa.Float(), nullable=False),
        sa.Column("scale", sa.Float(), nullable=True),
        sa.Column("computed_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["snapshot_id"], ["forecast_snapshots.id"]),
        sa.PrimaryKeyConstraint("snapshot_id", "sku", "period_start", "segment"),
    )
    op.create_index(
        "ix_forecast_accuracy_period", "forecast_accuracy", ["period_start", "lag"], unique=False
    )
    op.create_table(
        "forecast_champions",
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=300), nullable=False),
        sa.Column("backtest_mase", sa.Float(), nullable=True),
        sa.Column("challenger", sa.String(length=300), nullable=True),
        sa.Column("challenger_mase", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("snapshot_id", ID, nullable=False),
        sa.Column("accuracy", sa.Float(), nullable=True),
        sa.Column("below_threshold", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["snapshot_id"], ["forecast_snapshots.id"]),
        sa.PrimaryKeyConstraint("sku"),
    )


def downgrade() -> None:
    op.drop_table("forecast_champions")
    op.drop_index("ix_forecast_accuracy_period", table_name="forecast_accuracy")
    op.drop_table("forecast_accuracy")
    op.drop_index("ix_forecast_values_sku_period", table_name="forecast_values")
    op.drop_table("forecast_values")
    op.drop_table("forecast_series")
    op.drop_index("ix_forecast_snapshots_created_at", table_name="forecast_snapshots")
    op.drop_table("forecast_snapshots")
