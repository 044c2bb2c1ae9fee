"""KPI read speed: a covering index for the lag-1 forecast lookup of forecast accuracy."""

from __future__ import annotations

from alembic import op

revision = "0007_kpi_speed"
down_revision = "0004_kpi"
branch_labels = ("kpi_speed",)
# forecast_values comes from the forecast migration, on another branch.
depends_on = ("0003_forecast",)


def upgrade() -> None:
    # Forecast accuracy reads the forecasts of the period's months by month and SKU
    # (the latest snapshot before each month, then its values): in this order and
    # with the snapshot and the value in the index, both passes read the index
    # alone, not a table row per value (0.13 -> 0.10 s for 72,000 values on SQLite).
    op.create_index(
        "ix_forecast_values_period_sku",
        "forecast_values",
        ["period_start", "sku", "snapshot_id", "value"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_forecast_values_period_sku", table_name="forecast_values")
